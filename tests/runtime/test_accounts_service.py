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
