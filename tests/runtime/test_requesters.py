"""Fields filled from the requester (`from_requester`): a customer is not asked again for
their name and e-mail address, in the service, the API and the portal's forms; staff
fill them for a caller (SQLite and PostgreSQL). The service template uses them."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import update

from runtime.models import User
from runtime.services import templates, tickets
from runtime.services.errors import Invalid
from tests.runtime.conftest import Seed
from tests.runtime.web_helpers import form_of, log_in, page_token, text

QUESTION = {"category": "other", "subject": "Opening hours",
            "description": "When does the Pudong store open on Sundays?"}


@pytest.fixture
def service(seed: Seed) -> Seed:
    """The service template installed; li has a display name and an e-mail address."""
    templates.install(seed.db, seed.request("admin"), "service")
    with seed.db.write() as session:
        session.execute(update(User).where(User.username == "li").values(
            display_name="Li Na 李娜", email="li.na@example.cn"))
    return seed


def values_of(seed: Seed, number: str) -> dict[str, Any]:
    return tickets.get(seed.db, seed.request("admin"), number).values


@pytest.mark.parametrize(("who", "options", "given", "expected"), [
    ("li", {}, {}, {"customer_name": "Li Na 李娜", "customer_email": "li.na@example.cn"}),
    ("li", {}, {"customer_name": "Li Na (for my mother)"},
     {"customer_name": "Li Na (for my mother)", "customer_email": "li.na@example.cn"}),
    ("wang", {"requester": "li"}, {},  # staff opening it for a customer: the customer's
     {"customer_name": "Li Na 李娜", "customer_email": "li.na@example.cn"}),
    ("wang", {}, {"customer_name": "A caller"},  # staff's own details are never taken
     {"customer_name": "A caller", "customer_email": None}),
], ids=["customer", "customer-typed-their-own", "staff-for-a-customer", "staff-for-a-caller"])
def test_fields_are_filled_from_a_customer_requester(service: Seed, who: str,
                                                     options: dict, given: dict,
                                                     expected: dict) -> None:
    number = tickets.create(service.db, service.request(who), "service",
                            {**QUESTION, **given}, **options).number
    values = values_of(service, number)
    assert {key: values.get(key) for key in expected} == expected
    assert values["channel"] == "web"  # hidden from customers: the default


def test_staff_are_still_asked_for_the_customer_name(service: Seed) -> None:
    with pytest.raises(Invalid) as raised:
        tickets.create(service.db, service.request("wang"), "service", QUESTION)
    assert [(d["field"], d["code"]) for d in raised.value.details] == [
        ("customer_name", "required")]


def test_a_logged_in_customer_is_not_asked_what_their_account_says(
        client: FlaskClient, service: Seed) -> None:
    log_in(client, "li")
    page = text(client.get("/portal/new/service"))
    assert 'name="customer_name"' not in page
    assert 'name="customer_email"' not in page
    assert 'name="channel"' not in page  # staff say how a ticket reached them
    assert 'name="subject"' in page
    with service.db.write() as session:  # without an address on the account: asked
        session.execute(update(User).where(User.username == "li").values(email=None))
    assert 'name="customer_email"' in text(client.get("/portal/new/service"))
    staff = client.application.test_client()
    log_in(staff, "wang")
    form = text(staff.get("/portal/new/service"))
    assert 'name="customer_name"' in form
    assert 'name="channel"' in form


def test_a_guest_types_name_and_email_once(client: FlaskClient, service: Seed) -> None:
    page = text(client.get("/portal/new/service"))
    assert 'name="portal.name"' in page
    assert 'name="customer_name"' not in page
    assert 'name="customer_email"' not in page
    token = page_token(client, "/portal/new/service")
    response = client.post("/portal/new/service", data={
        **form_of(**QUESTION), "portal.name": "Zhou Xin", "portal.email": "zhou@example.cn",
        "csrf_token": token})
    assert response.status_code == 201, text(response)
    number = re.search(r'id="ticket-number">([^<]+)<', text(response)).group(1)
    values = values_of(service, number)
    assert (values["customer_name"], values["customer_email"]) == ("Zhou Xin",
                                                                     "zhou@example.cn")


def test_a_guests_missing_contact_is_reported_at_the_contact_fields(
        client: FlaskClient, service: Seed) -> None:
    token = page_token(client, "/portal/new/service")
    response = client.post("/portal/new/service", data={
        **form_of(**QUESTION), "portal.name": "", "portal.email": "", "csrf_token": token})
    assert response.status_code == 422
    body = text(response)
    assert "Enter your name." in body
    assert 'name="customer_name"' not in body
    assert "Customer name is required" not in body  # said once, at the contact field
