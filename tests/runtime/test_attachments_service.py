"""Attachments: checked by content before anything is kept, stored by hash, linked once."""

from __future__ import annotations

import hashlib
import struct
import zlib
from pathlib import Path

import pytest

from runtime.services import attachments, tickets
from runtime.services.errors import BadRequest, Invalid, NotFound, TooLarge, UnsupportedMedia
from tests.runtime.conftest import VALID_REPAIR, Seed

LIMIT = 64 * 1024


def png(width: int = 1, height: int = 1) -> bytes:
    """A real, minimal PNG image."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00" + b"\xff\x00\x00" * width)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels)
            + chunk(b"IEND", b""))


PDF = b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"


@pytest.fixture
def storage(tmp_path: Path) -> Path:
    return tmp_path / "attachments"


@pytest.mark.parametrize(("content", "name", "error"), [
    (b"<html><script>alert(1)</script></html>", "photo.png", UnsupportedMedia),
    (b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 100, "report.pdf", UnsupportedMedia),
    (b"<svg onload=alert(1)></svg>", "logo.svg", UnsupportedMedia),
    (b"plain words", "notes.txt\x00.png", BadRequest),
    (png(), "../../etc/passwd", BadRequest),
    (png(), "C:\\Windows\\evil.png", BadRequest),
    (png(), ".htaccess", BadRequest),
    (png(), "", BadRequest),
    (b"x" * (LIMIT + 1), "big.txt", TooLarge),
], ids=["html-as-png", "exe-as-pdf", "svg", "nul-in-name", "path", "windows-path",
        "dotfile", "no-name", "too-large"])
def test_uploads_refused_before_anything_is_kept(seed: Seed, storage: Path, content: bytes,
                                                 name: str, error: type[Exception]):
    with pytest.raises(error):
        attachments.upload(seed.db, seed.request("li"), storage, content, name, max_size=LIMIT)
    assert not storage.exists() or not any(p.is_file() for p in storage.rglob("*"))


@pytest.mark.parametrize(("content", "name", "content_type"), [
    (png(), "现场照片.png", "image/png"),
    (PDF, "report.PDF", "application/pdf"),
    ("逐行记录\n".encode(), "log.txt", "text/plain"),
], ids=["png-chinese-name", "pdf", "text"])
def test_uploads_are_typed_by_content_and_stored_by_hash(seed: Seed, storage: Path,
                                                         content: bytes, name: str,
                                                         content_type: str):
    info = attachments.upload(seed.db, seed.request("li"), storage, content, name,
                              max_size=LIMIT)
    assert (info.name, info.size, info.content_type) == (name, len(content), content_type)
    digest = hashlib.sha256(content).hexdigest()
    assert attachments.blob_path(storage, digest).read_bytes() == content
    again = attachments.upload(seed.db, seed.request("zhou"), storage, content, "copy.bin"
                               if content_type != "text/plain" else "copy.txt", max_size=LIMIT)
    assert again.id != info.id  # one blob, two attachments


def test_photos_field_takes_uploaded_files_once(seed: Seed, storage: Path):
    photo = attachments.upload(seed.db, seed.request("li"), storage, png(), "jam.png",
                               max_size=LIMIT)
    values = {**VALID_REPAIR, "fault": "hardware", "photos": [{"id": photo.id}]}
    with pytest.raises(Invalid) as raised:  # someone else's upload is not yours to use
        tickets.create(seed.db, seed.request("zhou"), "repair", values)
    assert raised.value.details[0]["code"] == "unknown-attachment"
    ticket = tickets.create(seed.db, seed.request("li"), "repair", values)
    assert ticket.state == "hardware_check"
    assert ticket.values["photos"] == [{"id": photo.id, "name": "jam.png",
                                        "size": len(png()), "content_type": "image/png"}]
    with pytest.raises(Invalid):  # a file belongs to one ticket
        tickets.create(seed.db, seed.request("li"), "repair", values)


def test_field_limits_apply_to_the_stored_descriptor(seed: Seed, storage: Path):
    document = attachments.upload(seed.db, seed.request("li"), storage, PDF, "scan.pdf",
                                  max_size=LIMIT)
    with pytest.raises(Invalid) as raised:
        tickets.create(seed.db, seed.request("li"), "repair",
                       {**VALID_REPAIR, "fault": "hardware", "photos": [{"id": document.id}]})
    assert [d["code"] for d in raised.value.details] == ["file-type-not-accepted"]


def test_download_follows_ticket_visibility(seed: Seed, storage: Path):
    number = tickets.create(seed.db, seed.request("li"), "repair", dict(VALID_REPAIR)).number
    info = attachments.attach(seed.db, seed.request("li"), storage, number, PDF, "invoice.pdf",
                              max_size=LIMIT)
    path, found = attachments.open_file(seed.db, seed.request("wang"), storage, info.id)
    assert path.read_bytes() == PDF
    assert found.name == "invoice.pdf"
    with pytest.raises(NotFound):
        attachments.open_file(seed.db, seed.request("zhou"), storage, info.id)
    with pytest.raises(NotFound):
        attachments.attach(seed.db, seed.request("zhou"), storage, number, PDF, "x.pdf",
                           max_size=LIMIT)
    kinds = [e.kind for e in tickets.timeline(seed.db, seed.request("li"), number)]
    assert kinds == ["created", "assigned", "attached"]
