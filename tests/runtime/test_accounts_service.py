"""Accounts through the service layer: passwords, throttling."""

from __future__ import annotations

import pytest

from runtime.services import accounts
from runtime.services.errors import Forbidden, TooManyRequests
from tests.runtime.conftest import PASSWORD, Seed


def test_guessing_the_current_password_is_throttled(seed: Seed):
    request = seed.request("wang")
    for _ in range(accounts.MAX_FAILURES):
        with pytest.raises(Forbidden):
            accounts.change_password(seed.db, request, "a wrong guess", "new-password-1")
    with pytest.raises(TooManyRequests):
        accounts.change_password(seed.db, request, PASSWORD, "new-password-1")
    seed.clock.advance(minutes=16)
    assert accounts.change_password(seed.db, seed.request("wang"), PASSWORD, "new-password-1")


@pytest.mark.parametrize("length", [150, 196, 300, 5000])
def test_a_long_name_at_the_login_is_refused_and_counted_like_any(seed: Seed, length: int):
    # The throttle's key column is 200 long: longer names are hashed into it (PostgreSQL
    # refused them outright, which made the login fail with a server error).
    name = "x" * length
    for _ in range(accounts.MAX_FAILURES):
        with pytest.raises(Forbidden):
            accounts.log_in(seed.db, name, "a wrong guess", now=seed.clock(), address="::1")
    with pytest.raises(TooManyRequests):
        accounts.log_in(seed.db, name, "a wrong guess", now=seed.clock(), address="::2")
