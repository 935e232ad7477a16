"""Exporting tickets (`GET /api/v1/tickets/export`), on SQLite and PostgreSQL: who may,
what the file holds (what the exporter's list shows them, no more: other teams' tickets
and fields hidden from their roles never appear, not even as a column), CSV for
spreadsheets and JSON Lines for programs, the list's filters, and the audit log.
"""

from __future__ import annotations

import csv
import html
import io
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from runtime.cli import cli
from runtime.services import definitions, exports, tickets
from tests.conftest import ROOT
from tests.runtime.conftest import Clock, Seed
from tests.runtime.test_api_support import Api, error_of
from tests.runtime.test_auth import log_in
from tests.runtime.test_closed_tickets import closed_ticket

ID_CARD = "11010519491231002X"
ID_CARD_LABEL = "ID card number"


@pytest.fixture
def api(client: FlaskClient, token_for: Callable[[str], str]) -> Api:
    return Api(client, token_for)


def rows_of(response: TestResponse) -> list[dict[str, str]]:
    """A CSV export's rows by heading (asserting the byte-order mark spreadsheets need)."""
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.content_type == "text/csv; charset=utf-8"
    body = response.get_data()
    assert body.startswith("\ufeff".encode())
    return list(csv.DictReader(io.StringIO(body.decode()[1:])))


def lines_of(response: TestResponse) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.content_type == "application/x-ndjson"
    return [json.loads(line) for line in response.get_data(as_text=True).splitlines()]


def test_a_supervisor_exports_their_teams_tickets_as_csv(api: Api, clock: Clock) -> None:
    first = api.new_ticket("wang", id_card=ID_CARD)
    clock.advance(minutes=5)
    second = api.new_ticket("li", description="=HYPERLINK(\"http://x\")")
    response = api.get("/tickets/export", "zhao")
    assert response.headers["Content-Disposition"] == (
        'attachment; filename="tickets-20261123-090500.csv"')  # the installation's clock
    rows = rows_of(response)
    assert [row["Number"] for row in rows] == [first["number"], second["number"]]
    row = rows[0]
    assert row["Type"] == "Repair order"
    assert row["State"] == first["state_label"]
    assert row["Category"] == "Printer"  # a choice by its label
    assert row[ID_CARD_LABEL] == ID_CARD  # supervisors may see it
    assert row["Created (Asia/Shanghai)"] == "2026-11-23 09:00:00"  # the installation's clock
    assert row["Closed (Asia/Shanghai)"] == ""
    assert row["Requester"] == "wang"
    # A spreadsheet would run this as a formula: it is kept as text.
    assert rows[1]["What happened"] == "'=HYPERLINK(\"http://x\")"


def test_jsonl_lines_are_the_apis_tickets(api: Api) -> None:
    opened = [api.new_ticket("li"), api.new_ticket("wang", id_card=ID_CARD)]
    lines = lines_of(api.get("/tickets/export?format=jsonl", "admin"))
    assert lines == [api.get(f"/tickets/{ticket['number']}", "admin").get_json()["ticket"]
                     for ticket in opened]


@pytest.mark.parametrize(("user", "status"), [
    ("admin", 200), ("zhao", 200), ("wang", 403), ("li", 403), (None, 401)])
def test_who_may_export(api: Api, user: str | None, status: int) -> None:
    api.new_ticket("li")
    response = api.get("/tickets/export", user)
    assert response.status_code == status
    if status != 200:
        assert response.get_json()["error"]["code"] in ("forbidden", "unauthorized")


def test_other_teams_tickets_are_not_in_a_supervisors_export(api: Api) -> None:
    kept, moved = api.new_ticket("li"), api.new_ticket("li")
    response = api.post(f"/tickets/{moved['number']}/transfer", "admin",
                        json={"to_team": "network", "reason": "a switch, not a printer"})
    assert response.status_code == 200, response.get_json()
    assert [row["Number"] for row in rows_of(api.get("/tickets/export", "zhao"))] == [
        kept["number"]]
    assert [row["Number"] for row in rows_of(api.get("/tickets/export", "admin"))] == [
        kept["number"], moved["number"]]


def test_a_field_hidden_from_the_exporter_has_no_column_and_no_value(
        api: Api, seed: Seed, clock: Clock) -> None:
    # Version 2 of the repair type shows the ID card number to administrators only.
    source = (ROOT / "templates_library" / "repair.yaml").read_text(encoding="utf-8")
    stricter = source.replace("visible_to: [agent, supervisor, admin]", "visible_to: [admin]"
                              ).replace("\nversion: 1\n", "\nversion: 2\n")
    assert stricter != source
    definitions.install(seed.db, seed.request("admin"), stricter)
    clock.advance(hours=1)
    since = clock().isoformat()
    number = api.new_ticket("admin", id_card=ID_CARD)["number"]
    query = f"/tickets/export?created_from={since.replace('+', '%2B')}"

    [row] = rows_of(api.get(query, "zhao"))
    assert row["Number"] == number
    assert ID_CARD_LABEL not in row
    assert ID_CARD not in api.get(query, "zhao").get_data(as_text=True)
    [line] = lines_of(api.get(query + "&format=jsonl", "zhao"))
    assert "id_card" not in line["values"]
    [row] = rows_of(api.get(query, "admin"))
    assert row[ID_CARD_LABEL] == ID_CARD


FILTERED = [
    # (query, which of the three tickets: 0 closed, 1 a minute later, 2 a day later)
    ("", [0, 1, 2]),
    ("open=true", [1, 2]),
    ("open=false", [0]),
    ("created_from=2026-11-24", [2]),  # midnight in Shanghai, 2026-11-23T16:00Z
    ("created_before=2026-11-24", [0, 1]),
    ("created_from=2026-11-23T01:00:00Z&created_before=2026-11-23T01:00:01Z", [0]),
    ("q=REP-000002", [1]),
]


@pytest.mark.parametrize(("query", "expected"), FILTERED,
                         ids=[query or "no filter" for query, _ in FILTERED])
def test_the_lists_filters_choose_the_rows(api: Api, seed: Seed, clock: Clock, query: str,
                                           expected: list[int]) -> None:
    numbers = [closed_ticket(seed)]
    clock.advance(minutes=1)
    numbers.append(api.new_ticket("li")["number"])
    clock.advance(days=1)
    numbers.append(api.new_ticket("li")["number"])
    rows = rows_of(api.get(f"/tickets/export?{query}", "admin"))
    assert [row["Number"] for row in rows] == [numbers[i] for i in expected]


def test_bad_parameters_are_each_named(api: Api) -> None:
    response = api.get("/tickets/export?format=xlsx&created_from=yesterday&colour=red",
                       "admin")
    assert response.status_code == 400
    problems = {detail["parameter"] for detail in error_of(response)["details"]}
    assert problems == {"format", "created_from", "colour"}


def test_an_export_is_in_the_audit_log(api: Api) -> None:
    api.new_ticket("li")
    assert api.get("/tickets/export?format=jsonl&open=true&type=repair", "zhao"
                   ).status_code == 200
    [entry] = [item for item in api.get("/audit?kind=data_exported", "admin"
                                        ).get_json()["items"]]
    assert entry["actor"] == "zhao"
    assert entry["data"] == {"what": "tickets", "format": "jsonl",
                             "filters": {"ticket_type": "repair", "open": True}}


def test_an_export_walks_every_page(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tickets, "MAX_PAGE", 2)
    numbers = [api.new_ticket("li")["number"] for _ in range(5)]
    assert [row["Number"] for row in rows_of(api.get("/tickets/export", "admin"))] == numbers
    assert [line["number"] for line in lines_of(
        api.get("/tickets/export?format=jsonl", "admin"))] == numbers


def test_tickets_opened_during_an_export_are_left_out(api: Api, seed: Seed,
                                                      clock: Clock) -> None:
    before = api.new_ticket("li")["number"]
    exported = exports.export_tickets(seed.db, seed.request("admin"), tickets.Filters(),
                                      exports.ExportFormat.JSONL)
    clock.advance(seconds=1)
    api.new_ticket("li")
    assert [json.loads(line)["number"] for line in b"".join(exported.chunks).splitlines()
            ] == [before]


# --- in the browser ------------------------------------------------------------------


def _export_link(page: str) -> str | None:
    found = re.search(r'<a class="button secondary" href="([^"]+)" download>', page)
    return html.unescape(found.group(1)) if found else None


def test_a_supervisors_list_offers_its_own_filters_as_a_file(
        api: Api, client: FlaskClient, clock: Clock) -> None:
    early = api.new_ticket("li")["number"]
    clock.advance(days=2)  # 2026-11-25 in Shanghai
    late = api.new_ticket("li")["number"]
    log_in(client, "zhao")
    page = client.get("/work/all?from=2026-11-25&to=2026-11-25&sort=oldest")
    link = _export_link(page.get_data(as_text=True))
    assert link == "/work/all/export.csv?from=2026-11-25&to=2026-11-25"  # not its order
    assert [row["Number"] for row in rows_of(client.get(link))] == [late]
    everything = _export_link(client.get("/work/all").get_data(as_text=True))
    assert [row["Number"] for row in rows_of(client.get(everything))] == [early, late]


def test_an_agents_list_offers_no_file(api: Api, client: FlaskClient) -> None:
    api.new_ticket("li")
    log_in(client, "wang")
    assert _export_link(client.get("/work/all").get_data(as_text=True)) is None
    assert client.get("/work/all/export.csv").status_code == 404


# --- on the command line ----------------------------------------------------------------


def test_the_command_line_exports_to_a_file_or_standard_output(
        api: Api, seed: Seed, tmp_path: Path) -> None:
    kept = api.new_ticket("li")["number"]
    env = {"DATABASE_URL": seed.db.url, "TICKETFLOW_INSTANCE": str(tmp_path / "instance")}
    target = tmp_path / "repairs.csv"
    result = CliRunner().invoke(cli, ["tickets", "export", "--user", "zhao", "--type",
                                      "repair", "--open", "--from", "2026-11-23",
                                      "--output", str(target)], env=env)
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(target.read_text(encoding="utf-8-sig"))))
    assert [row["Number"] for row in rows] == [kept]
    result = CliRunner().invoke(cli, ["tickets", "export", "--format", "jsonl"], env=env)
    assert result.exit_code == 0, result.output
    assert [json.loads(line)["number"] for line in result.stdout.splitlines()] == [kept]


@pytest.mark.parametrize(("arguments", "message"), [
    (["--user", "wang"], "only supervisors and administrators may export tickets"),
    (["--from", "yesterday"], "'yesterday' must be a date (YYYY-MM-DD)"),
    (["--user", "nobody"], "there is no user 'nobody'"),
], ids=["an agent", "an unreadable date", "an unknown user"])
def test_the_command_line_refuses_in_one_line(seed: Seed, tmp_path: Path,
                                               arguments: list[str], message: str) -> None:
    env = {"DATABASE_URL": seed.db.url, "TICKETFLOW_INSTANCE": str(tmp_path / "instance")}
    result = CliRunner().invoke(cli, ["tickets", "export", *arguments], env=env)
    assert result.exit_code != 0
    assert message in result.stderr
    assert "Traceback" not in result.output
