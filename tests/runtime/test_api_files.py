"""Attachments over the API, on SQLite and PostgreSQL: upload, reference from a field,
attach to a ticket, download under the original name (safely encoded), and who may
download what.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from werkzeug.http import parse_options_header
from werkzeug.test import TestResponse

from runtime.models import Attachment
from tests.runtime.conftest import VALID_REPAIR
from tests.runtime.test_api_support import Api, error_of


def _png() -> bytes:
    """A real 1x1 PNG."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data)))
    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\x00\x00")
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels)
            + chunk(b"IEND", b""))


PNG = _png()


@pytest.fixture
def api(client: FlaskClient, token_for: Callable[[str], str]) -> Api:
    return Api(client, token_for)


def _upload(api: Api, user: str, content: bytes, name: str,
            path: str = "/attachments") -> TestResponse:
    """A multipart upload written out by hand: the test client's own encoding drops a
    file name's quotes, a real client escapes them."""
    quoted = name.replace("\\", "\\\\").replace('"', '\\"').encode()
    body = (b'--boundary\r\nContent-Disposition: form-data; name="file"; filename="'
            + quoted + b'"\r\nContent-Type: application/octet-stream\r\n\r\n'
            + content + b"\r\n--boundary--\r\n")
    return api.post(path, user, data=body,
                    content_type="multipart/form-data; boundary=boundary")


def test_upload_then_reference_from_a_field(api: Api) -> None:
    uploaded = _upload(api, "li", PNG, "jam.png")
    assert uploaded.status_code == 201, uploaded.get_json()
    file = uploaded.get_json()["file"]
    assert (file["name"], file["size"], file["content_type"]) == ("jam.png", len(PNG),
                                                                  "image/png")
    assert file["id"].startswith("att_")
    assert uploaded.headers["Location"] == f"/api/v1/attachments/{file['id']}"
    ticket = api.new_ticket("li", fault="hardware", photos=[{"id": file["id"]}])
    assert ticket["state"] == "hardware_check"
    assert ticket["values"]["photos"] == [file]


def test_a_file_someone_else_uploaded_cannot_be_referenced(api: Api) -> None:
    file = _upload(api, "zhou", PNG, "theirs.png").get_json()["file"]
    response = api.post("/tickets", "li", json={"ticket_type": "repair", "values": {
        **VALID_REPAIR, "fault": "hardware", "photos": [{"id": file["id"]}]}})
    assert response.status_code == 422
    assert "unknown-attachment" in [d["code"] for d in error_of(response)["details"]]


NAMES = [
    ("plain.png", "attachment; filename=plain.png"),
    ("报修 照片.png", None),
    ('a "quoted"; name.png', None),
    ("ü-umlaut.png", None),
]


@pytest.mark.parametrize(("name", "header"), NAMES,
                         ids=["ASCII", "Chinese with a space", "quotes and semicolon",
                              "Latin-1"])
def test_download_keeps_the_original_name_safely(api: Api, name: str,
                                                 header: str | None) -> None:
    file = _upload(api, "li", PNG, name).get_json()["file"]
    response = api.get(f"/attachments/{file['id']}", "li")
    assert response.status_code == 200
    assert response.data == PNG
    assert response.mimetype == "image/png"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    disposition = response.headers["Content-Disposition"]
    assert disposition.isascii()
    assert "\r" not in disposition
    assert "\n" not in disposition
    kind, options = parse_options_header(disposition)
    assert (kind, options["filename"]) == ("attachment", name)
    if header is not None:
        assert disposition == header
    else:
        assert "filename*=UTF-8''" in disposition or '\\"' in disposition


def test_attach_to_a_ticket_and_who_may_download_it(api: Api, seed: Any) -> None:
    number = api.new_ticket("li")["number"]
    attached = _upload(api, "li", b"printer log\n", "log.txt", f"/tickets/{number}/attachments")
    assert attached.status_code == 201, attached.get_json()
    file = attached.get_json()["file"]
    assert file["content_type"] == "text/plain"
    timeline = api.get(f"/tickets/{number}/timeline", "li").get_json()["items"]
    assert timeline[-1]["kind"] == "attached"
    assert timeline[-1]["data"]["file"] == file
    downloads = {user: api.get(f"/attachments/{file['id']}", user).status_code
                 for user in ("li", "wang", "admin", "zhou")}
    assert downloads == {"li": 200, "wang": 200, "admin": 200, "zhou": 404}


def test_a_file_over_the_upload_limit_is_refused_and_not_kept(api: Api, seed: Any) -> None:
    too_big = b"x" * (1024 * 1024 + 1)  # the test app allows 1 MB per file, 2 MB a request
    response = _upload(api, "li", too_big, "big.txt")
    assert response.status_code == 413
    assert error_of(response)["code"] == "file-too-large"
    with seed.db.read() as session:
        assert session.scalar(select(func.count()).select_from(Attachment)) == 0
