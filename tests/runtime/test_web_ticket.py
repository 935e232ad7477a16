"""The ticket page: live step forms decided by the engine, firing steps, a stale page's
conflict, uploads refused without losing what was typed, escaping of everything
user-written, and CSRF on htmx requests (SQLite and PostgreSQL)."""

from __future__ import annotations

import re

import pytest
from flask.testing import FlaskClient
from sqlalchemy import update

from runtime.models import User
from runtime.services import accounts, agents, definitions, tickets
from runtime.web.security import CSRF_HEADER
from tests.browser.test_repair_flow import png
from tests.conftest import DATA
from tests.runtime.conftest import PASSWORD, VALID_REPAIR, Seed
from tests.runtime.web_helpers import form_of, htmx_headers, log_in, page_token, text

HARDWARE = dict(VALID_REPAIR, fault="hardware", device="PRN-0100")


@pytest.fixture
def ticket(seed: Seed) -> str:
    """li's software fault, taken by wang: now repairing."""
    number = tickets.create(seed.db, seed.request("li"), "repair", VALID_REPAIR).number
    tickets.claim(seed.db, seed.request("wang"), number)
    return number


def _version(client: FlaskClient, number: str) -> str:
    return re.search(r'name="version" value="(\d+)"', text(client.get(f"/t/{number}"))).group(1)


def test_the_page_shows_values_timeline_and_only_the_steps_allowed(
        client: FlaskClient, ticket: str) -> None:
    log_in(client, "wang")
    page = text(client.get(f"/t/{ticket}"))
    assert "PRN-0042" in page
    assert "Repairing" in page
    assert "took the ticket" in page
    assert "opened the ticket" in page
    assert "fault == &#39;software&#39;" in page  # the branch that routed it
    assert ">Resolve</summary>" in page
    assert ">Ask the customer</summary>" in page
    assert ">Confirm</summary>" not in page  # a requester's step
    customer = client.application.test_client()
    log_in(customer, "li")
    own = text(customer.get(f"/t/{ticket}"))
    assert ">Resolve</summary>" not in own
    assert "Internal note" not in own
    assert "fault ==" not in own  # where the ticket went, not the definition's reasoning


def routed_to_chen(seed: Seed) -> str:
    """li's ticket of tests/data/routing.yaml, which skill matching gives to chen."""
    definitions.install(seed.db, seed.request("admin"),
                        (DATA / "routing.yaml").read_text(encoding="utf-8"))
    agents.set_profile(seed.db, seed.request("admin"), "chen", skills=["printer"])
    return tickets.create(seed.db, seed.request("li"), "routing",
                          {"title": "the printer", "topic": "printer"}).number


def test_staff_read_which_assignment_rule_routed_a_ticket_and_customers_do_not(
        client: FlaskClient, seed: Seed) -> None:
    number = routed_to_chen(seed)
    log_in(client, "wang")
    assert "Assignment rule 5: skill match" in text(client.get(f"/t/{number}"))
    customer = client.application.test_client()
    log_in(customer, "li")
    own = text(customer.get(f"/t/{number}"))
    assert "assigned the ticket" in own
    assert "Assignment rule" not in own
    assert "skill" not in own


def test_the_live_form_asks_the_engine(client: FlaskClient, seed: Seed) -> None:
    """Changing the fault shows the photo field and makes it required for submitting:
    the server decides and sends the re-rendered fields."""
    log_in(client, "li")
    headers = htmx_headers(client, "/portal/new/repair")
    software = text(client.post("/portal/new/repair/form", headers=headers,
                                data=form_of(fault="software", category="printer")))
    assert re.search(r'<fieldset class="field" id="w-intake-photos"[^>]*hidden disabled', software)
    hardware = text(client.post("/portal/new/repair/form", headers=headers,
                                data=form_of(fault="hardware", category="printer")))
    photos = re.search(r'<fieldset class="field" id="w-intake-photos"[^>]*>(.*?)</fieldset>',
                       hardware, re.S)
    assert photos
    assert "hidden" not in photos.group(0).split(">")[0]
    assert 'class="req"' in photos.group(1)  # required by the submit transition
    symptom = re.search(r'id="w-intake-symptom".*?</fieldset>', hardware, re.S).group(0)
    assert 'value="paper_jam"' in symptom
    assert 'value="no_boot"' not in symptom


def test_a_step_is_fired_from_its_form(client: FlaskClient, ticket: str, seed: Seed) -> None:
    log_in(client, "wang")
    response = client.post(f"/t/{ticket}/fire/resolve", data=form_of(
        csrf_token=page_token(client, f"/t/{ticket}"), version=_version(client, ticket),
        resolution="Cleared the spool folder."))
    assert response.status_code == 302
    assert tickets.get(seed.db, seed.request("wang"), ticket).state == "resolved"
    assert "Done: the ticket is now Resolved." in text(client.get(response.location))


def test_a_refused_step_keeps_what_was_typed(client: FlaskClient, ticket: str) -> None:
    log_in(client, "wang")
    response = client.post(f"/t/{ticket}/fire/resolve", data=form_of(
        csrf_token=page_token(client, f"/t/{ticket}"), version=_version(client, ticket),
        resolution="", repair_finished="2026-11-23T08:00"))
    assert response.status_code == 422
    body = text(response)
    assert 'value="2026-11-23T08:00"' in body
    resolution = re.search(r'id="w-resolve-resolution".*?</fieldset>', body, re.S).group(0)
    assert "<li>" in resolution  # the engine's "required" message, next to the field


def test_a_stale_page_shows_the_conflict_and_the_fresh_state(
        client: FlaskClient, ticket: str, seed: Seed) -> None:
    log_in(client, "wang")
    token = page_token(client, f"/t/{ticket}")
    stale = _version(client, ticket)
    tickets.fire(seed.db, seed.request("chen"), ticket, "ask_customer")  # meanwhile
    response = client.post(f"/t/{ticket}/fire/resolve", data=form_of(
        csrf_token=token, version=stale, resolution="Done twice?"))
    assert response.status_code == 409
    body = text(response)
    assert 'class="conflict"' in body
    assert "Someone else changed this ticket" in body
    assert "Waiting for customer" in body  # the fresh state
    assert tickets.get(seed.db, seed.request("wang"), ticket).state == "waiting_customer"


def test_claiming_a_ticket_someone_took_says_who(client: FlaskClient, seed: Seed) -> None:
    number = tickets.create(seed.db, seed.request("li"), "repair", VALID_REPAIR).number
    log_in(client, "wang")
    token = page_token(client, f"/t/{number}")
    tickets.claim(seed.db, seed.request("chen"), number)
    response = client.post(f"/t/{number}/claim", data={"csrf_token": token})
    assert "Someone else has already taken this ticket." in text(
        client.get(response.location))


PAYLOADS = ['<script>alert(1)</script>', '<img src=x onerror="alert(1)">',
            '<div hx-get="/logout" hx-trigger="load">x</div>']


@pytest.mark.parametrize("payload", PAYLOADS, ids=["script", "onerror", "hx-get"])
def test_user_written_text_is_inert_everywhere(client: FlaskClient, seed: Seed,
                                               payload: str) -> None:
    accounts.create_user(seed.db, None, username="eve", role="requester", password=PASSWORD,
                         display_name=payload, now=seed.clock())
    values = dict(VALID_REPAIR, description=f"{payload} is what I saw", device="PRN-0001")
    number = tickets.create(seed.db, seed.request("eve"), "repair", values).number
    tickets.comment(seed.db, seed.request("wang"), number, f"@eve {payload}")
    for who, paths in (("wang", [f"/t/{number}", "/work/all", "/work/board"]),
                       ("eve", ["/", f"/t/{number}"])):
        browser = client.application.test_client()
        log_in(browser, who)
        for path in paths:
            body = text(browser.get(path))
            assert payload not in body, path
            for raw in ("<script>alert", "<img src=x", 'hx-get="/logout"', "<div hx-get"):
                assert raw not in body, (path, raw)


def test_user_content_sits_in_hx_disable_containers(client: FlaskClient, ticket: str,
                                                   seed: Seed) -> None:
    tickets.comment(seed.db, seed.request("wang"), ticket, "hello")
    log_in(client, "wang")
    body = text(client.get(f"/t/{ticket}"))
    assert '<ol class="timeline" id="timeline" hx-disable>' in body
    assert '<dl class="values" hx-disable>' in body


def test_htmx_requests_need_the_csrf_header(client: FlaskClient, ticket: str) -> None:
    log_in(client, "wang")
    path = f"/t/{ticket}/form/resolve"
    refused = client.post(path, headers={"HX-Request": "true"}, data=form_of(resolution="x"))
    assert refused.status_code == 400
    headers = htmx_headers(client, f"/t/{ticket}")
    assert client.post(path, headers=headers, data=form_of(resolution="x")).status_code == 200
    wrong = dict(headers, **{CSRF_HEADER: "not-the-token"})
    assert client.post(path, headers=wrong, data=form_of(resolution="x")).status_code == 400


UPLOAD_REFUSALS = [
    ("page.html", b"<html><script>alert(1)</script></html>", "This type of file is not accepted"),
    ("big.png", png() + b"\0" * (1024 * 1024), "larger than the limit"),
]


@pytest.mark.parametrize(("name", "content", "message"), UPLOAD_REFUSALS,
                         ids=["forbidden-type", "too-large"])
def test_a_refused_upload_keeps_the_rest_of_the_form(client: FlaskClient, name: str,
                                                     content: bytes, message: str) -> None:
    import io

    log_in(client, "li")
    token = page_token(client, "/portal/new/repair")
    response = client.post("/portal/new/repair", content_type="multipart/form-data", data={
        **form_of(**{k: v for k, v in HARDWARE.items()}), "csrf_token": token,
        "photos": (io.BytesIO(content), name)})
    assert response.status_code == 422
    body = text(response)
    assert message in body
    assert 'value="PRN-0100"' in body
    assert "Jams on every second page." in body
    # The immediate upload the page's script uses answers with the same message, as JSON.
    quick = client.post("/uploads", content_type="multipart/form-data",
                        headers={CSRF_HEADER: token},
                        data={"file": (io.BytesIO(content), name)})
    assert quick.status_code in (413, 415)
    assert message in quick.get_json()["error"]["message"]


def test_an_upload_is_kept_and_its_type_read_from_the_content(client: FlaskClient,
                                                             seed: Seed) -> None:
    import io

    log_in(client, "li")
    token = page_token(client, "/portal/new/repair")
    stored = client.post("/uploads", content_type="multipart/form-data",
                         headers={CSRF_HEADER: token},
                         data={"file": (io.BytesIO(png()), "photo.txt")})
    assert stored.status_code == 201
    file = stored.get_json()["file"]
    assert file["content_type"] == "image/png"  # not text/plain, whatever the name says
    created = client.post("/portal/new/repair", data={
        **form_of(**HARDWARE), "photos": file["id"], "csrf_token": token})
    assert created.status_code == 302
    number = created.location.rsplit("/", 1)[-1]
    download = client.get(f"/files/{file['id']}")
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    assert download.headers["Content-Disposition"].startswith("attachment")
    preview = client.get(f"/files/{file['id']}/preview")
    assert preview.status_code == 200
    assert preview.mimetype == "image/png"
    assert 'src="/files/' in text(client.get(f"/t/{number}"))
    stranger = client.application.test_client()
    log_in(stranger, "zhou")
    assert stranger.get(f"/files/{file['id']}").status_code == 404


def test_comments_mention_colleagues(client: FlaskClient, ticket: str, seed: Seed) -> None:
    log_in(client, "wang")
    people = client.get("/people?q=ch").get_json()["items"]
    assert [p["username"] for p in people] == ["chen"]
    client.post(f"/t/{ticket}/comment", data={
        "csrf_token": page_token(client, f"/t/{ticket}"), "body": "@chen please look"})
    other = client.application.test_client()
    log_in(other, "chen")
    todos = text(other.get("/work/todos"))
    assert ticket in todos
    assert "You were mentioned" in todos
    customer = client.application.test_client()
    log_in(customer, "li")
    assert customer.get("/people?q=").get_json() == {"items": []}


def test_mention_completion_offers_only_those_who_may_see_the_ticket(
        client: FlaskClient, ticket: str) -> None:
    log_in(client, "wang")

    def offered(query: str) -> list[str]:
        found = client.get(f"/people?q={query}&ticket={ticket}").get_json()["items"]
        return [person["username"] for person in found]

    assert offered("") == ["admin", "chen", "li", "zhao"]  # not sun (network), not wang
    assert offered("Z") == ["zhao"]
    assert client.get("/people?q=&ticket=REP-999999").status_code == 404
    assert f'data-mentions="/people?ticket={ticket}"' in text(client.get(f"/t/{ticket}"))


def test_the_writer_learns_whom_a_mention_did_not_reach(client: FlaskClient, ticket: str,
                                                          seed: Seed) -> None:
    log_in(client, "wang")
    client.post(f"/t/{ticket}/comment", data={  # sun is in network: not his ticket
        "csrf_token": page_token(client, f"/t/{ticket}"),
        "body": "@chen @sun @nobody please look; @wang is me"})
    page = text(client.get(f"/t/{ticket}"))
    assert "Not told, as they cannot read this comment or have no account: @nobody, @sun" \
        in page
    assert tickets.timeline(seed.db, seed.request("wang"), ticket)[-1].data["mentions"] == [
        "chen"]


def test_a_supervisor_reassigns_with_a_reason(client: FlaskClient, ticket: str,
                                             seed: Seed) -> None:
    log_in(client, "zhao")
    response = client.post(f"/t/{ticket}/transfer", data={
        "csrf_token": page_token(client, f"/t/{ticket}"), "to_user": "chen",
        "reason": "wang is on leave"})
    assert response.status_code == 302
    assert tickets.get(seed.db, seed.request("zhao"), ticket).assignee == "chen"
    form = re.search(r'<form[^>]*/transfer".*?</form>', text(client.get(f"/t/{ticket}")), re.S)
    assert re.search(r'Reason<span class="req"[^>]*> \*', form.group(0))  # marked required
    assert "wang is on leave" in text(client.get(f"/t/{ticket}"))


def test_pages_name_a_team_rather_than_show_its_key(client: FlaskClient, seed: Seed) -> None:
    accounts.create_team(seed.db, None, "it-desk", "IT help desk", now=seed.clock())
    number = tickets.create(seed.db, seed.request("li"), "repair", VALID_REPAIR).number
    tickets.transfer(seed.db, seed.request("zhao"), number, reason="a network fault",
                     to_team="it-desk")
    log_in(client, "admin")
    page = text(client.get(f"/t/{number}"))
    assert "Team: IT help desk" in page
    assert "(team IT help desk)" in page  # the timeline's transfer
    assert "it-desk" not in page.replace('value="it-desk"', "")  # only the menu's value


def test_passing_a_ticket_to_another_team_leads_back_to_the_queue(
        client: FlaskClient, ticket: str, seed: Seed) -> None:
    log_in(client, "zhao")  # supervises repair, not network
    response = client.post(f"/t/{ticket}/transfer", data={
        "csrf_token": page_token(client, f"/t/{ticket}"), "to_team": "network",
        "reason": "a switch fault, not the printer"})
    assert response.location == "/work/mine"
    assert f"{ticket} was passed on to a team you are not in" in text(client.get("/work/mine"))
    assert tickets.get(seed.db, seed.request("sun"), ticket).team == "network"


def test_the_page_speaks_the_users_language_with_definition_labels(
        client: FlaskClient, ticket: str) -> None:
    log_in(client, "wang")
    client.post("/language", data={"csrf_token": page_token(client, f"/t/{ticket}"),
                                   "lang": "zh", "next": f"/t/{ticket}"})
    body = text(client.get(f"/t/{ticket}"))
    assert '<html lang="zh-CN">' in body
    assert "维修中" in body
    assert "设备编号" in body
    assert "处理记录" in body


@pytest.mark.parametrize(("language", "running", "met", "overdue"), [
    ("en", "Resolution", "met", 'data-over="overdue by %(time)s"'),
    ("zh", "解决时限", "已达成", 'data-over="已超时 %(time)s"')])
def test_the_sla_clocks_say_what_became_of_them(client: FlaskClient, seed: Seed, ticket: str,
                                                language: str, running: str, met: str,
                                                overdue: str) -> None:
    """A staff reply met the first response; the resolution clock still runs (with its
    due instant to count down). Customers see neither."""
    tickets.comment(seed.db, seed.request("wang"), ticket, "On it.")
    with seed.db.write() as session:
        accounts.find_user(session, "wang").language = language
    log_in(client, "wang")
    page = text(client.get(f"/t/{ticket}"))
    clocks = page[page.index('class="sla"'):page.index("</section>", page.index('class="sla"'))]
    assert met in clocks
    assert running in clocks
    assert "data-countdown" in clocks
    assert overdue in clocks  # the countdown's words, in the reader's language


def test_pages_name_people_by_their_display_names(client: FlaskClient, seed: Seed) -> None:
    with seed.db.write() as session:
        for username, shown in (("chen", "Chen Jing 陈静"), ("li", "Li Na 李娜")):
            session.execute(update(User).where(User.username == username)
                            .values(display_name=shown))
    number = routed_to_chen(seed)
    log_in(client, "chen")
    page = text(client.get(f"/t/{number}"))
    assert "Requester: <span hx-disable>Li Na 李娜</span>" in page
    assert "Assignee: <strong hx-disable>Chen Jing 陈静</strong>" in page
    assert '<strong class="who">Li Na 李娜</strong>' in page  # who opened it
    assert "assigned the ticket to <strong>Chen Jing 陈静</strong>" in page  # routing's pick
    assert "Chen Jing 陈静" in text(client.get("/work/mine"))
    customer = client.application.test_client()
    log_in(customer, "li")  # the customer reads whom it went to, by name
    assert "assigned the ticket to <strong>Chen Jing 陈静</strong>" in text(
        customer.get(f"/t/{number}"))


def test_a_radio_group_with_a_default_offers_no_empty_choice(client: FlaskClient) -> None:
    log_in(client, "li")
    form = text(client.get("/portal/new/repair"))
    assert 'name="priority" value="normal"' in form  # the priority's radios
    assert "(none)" not in form  # it has a default: there is always a priority
