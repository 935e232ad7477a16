"""`Idempotency-Key` on POST /tickets, on SQLite and PostgreSQL: a retry replays the
first answer and creates nothing; a key reused for another request is a 422; a key whose
first request is still running is a 409 until it is old enough to be taken over; answers
that depend on the moment (409, 5xx) free the key. With real threads racing one key,
exactly one ticket is created.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError
from werkzeug.test import TestResponse

from runtime.models import IdempotencyKey, Ticket
from runtime.services import idempotency, tickets
from tests.runtime.conftest import VALID_REPAIR
from tests.runtime.test_api_support import Api, error_of

NEW = {"ticket_type": "repair", "values": VALID_REPAIR}


@pytest.fixture
def api(client: FlaskClient, token_for: Callable[[str], str]) -> Api:
    return Api(client, token_for)


def _count(seed: Any, model: type) -> int:
    with seed.db.read() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def _create(api: Api, key: str, body: dict[str, Any] = NEW, user: str = "li") -> TestResponse:
    return api.post("/tickets", user, json=body, headers={"Idempotency-Key": key})


def test_a_retry_replays_the_first_answer(api: Api, seed: Any) -> None:
    first = _create(api, "order-1")
    again = _create(api, "order-1")
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.get_json() == first.get_json()
    assert again.headers["Location"] == first.headers["Location"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert _count(seed, Ticket) == 1


def test_keys_belong_to_their_user(api: Api, seed: Any) -> None:
    numbers = {_create(api, "same", user=user).get_json()["ticket"]["number"]
               for user in ("li", "zhou")}
    assert len(numbers) == 2


def test_a_key_reused_for_another_request_is_refused(api: Api, seed: Any) -> None:
    assert _create(api, "k").status_code == 201
    other = _create(api, "k", {**NEW, "values": {**VALID_REPAIR, "device": "PRN-0043"}})
    assert other.status_code == 422
    assert error_of(other)["code"] == "idempotency-key-reused"
    assert _count(seed, Ticket) == 1


def test_a_validation_failure_is_stored_and_replayed(api: Api, seed: Any) -> None:
    bad = {**NEW, "values": {**VALID_REPAIR, "device": "bad device"}}
    first = _create(api, "k", bad)
    again = _create(api, "k", bad)
    assert (first.status_code, again.status_code) == (422, 422)
    assert again.get_json() == first.get_json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert _count(seed, Ticket) == 0


@pytest.mark.parametrize(
    ("body", "status"),
    [({**NEW, "transition": "checked"}, 409)],
    ids=["a state conflict"])
def test_a_conflict_frees_the_key(api: Api, seed: Any, body: dict[str, Any],
                                  status: int) -> None:
    assert _create(api, "k", body).status_code == status
    assert _count(seed, IdempotencyKey) == 0
    retried = _create(api, "k", body)
    assert retried.status_code == status
    assert "Idempotent-Replayed" not in retried.headers


def test_a_server_error_frees_the_key(api: Api, seed: Any,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    def unavailable(*_args: Any, **_kwargs: Any) -> Any:
        raise OperationalError("INSERT INTO tickets", {}, Exception("server closed"))

    with monkeypatch.context() as patch:
        patch.setattr(tickets, "create", unavailable)
        assert _create(api, "k").status_code == 503
    assert _count(seed, IdempotencyKey) == 0
    assert _create(api, "k").status_code == 201
    assert _count(seed, Ticket) == 1


def test_the_answer_commits_with_the_ticket(api: Api, seed: Any,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """No second transaction stores a success: a process that dies right after the
    ticket's commit has already stored the answer a retry replays."""
    def crash(*_args: Any, **_kwargs: Any) -> None:
        raise SystemExit("the process died after the ticket's transaction")

    monkeypatch.setattr(idempotency, "_complete", crash)
    first = _create(api, "k")
    assert first.status_code == 201
    again = _create(api, "k")
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json() == first.get_json()
    assert _count(seed, Ticket) == 1


def _reserve_by_hand(seed: Any, key: str, body: dict[str, Any] = NEW) -> None:
    """A reservation left by a request that is running (or crashed)."""
    with seed.db.write() as session:
        user_id = seed.request("li").actor.user_id
        session.add(IdempotencyKey(
            user_id=user_id, key=key, created_at=seed.clock(),
            request_hash=idempotency.fingerprint("POST", "/api/v1/tickets", body)))


def test_a_key_in_flight_is_a_409_until_it_is_taken_over(api: Api, seed: Any) -> None:
    _reserve_by_hand(seed, "k")
    busy = _create(api, "k")
    assert busy.status_code == 409
    assert error_of(busy)["code"] == "idempotency-key-in-flight"
    seed.clock.advance(seconds=59)
    assert _create(api, "k").status_code == 409
    seed.clock.advance(seconds=2)  # the first request must have crashed: take over
    taken = _create(api, "k")
    assert taken.status_code == 201
    assert _create(api, "k").get_json() == taken.get_json()
    assert _count(seed, Ticket) == 1


def test_a_key_in_flight_for_another_request_is_still_a_reuse(api: Api, seed: Any) -> None:
    _reserve_by_hand(seed, "k", {**NEW, "transition": None})
    assert error_of(_create(api, "k"))["code"] == "idempotency-key-reused"


def test_the_same_key_at_the_same_moment_creates_one_ticket(
        api: Api, app: Flask, seed: Any) -> None:
    token = api.token("li")
    threads = 6
    barrier = threading.Barrier(threads)

    def send(_index: int) -> TestResponse:
        client = app.test_client()
        barrier.wait()
        return client.post("/api/v1/tickets", json=NEW, headers={
            "Authorization": f"Bearer {token}", "Idempotency-Key": "race"})

    with ThreadPoolExecutor(threads) as pool:
        responses = list(pool.map(send, range(threads)))
    created = [r.get_json() for r in responses if r.status_code == 201]
    others = [r for r in responses if r.status_code != 201]
    assert created
    assert all(body == created[0] for body in created)
    for response in others:
        assert response.status_code == 409
        assert error_of(response)["code"] == "idempotency-key-in-flight"
    assert _count(seed, Ticket) == 1
    replay = _create(api, "race")
    assert replay.get_json() == created[0]


def test_old_keys_can_be_purged(api: Api, seed: Any) -> None:
    _create(api, "old")
    seed.clock.advance(hours=25)
    _create(api, "new")
    assert idempotency.purge(seed.db, seed.clock() - timedelta(hours=24)) == 1
    assert _count(seed, IdempotencyKey) == 1
