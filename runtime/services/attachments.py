"""Attachments: bytes stored outside the database by content hash, rows describing them.

An upload is checked before anything is kept: its size, a safe original name, and its
type as read from the content (never from the name or the declared type). Files are
uploaded first and then referenced by id from a ticket's attachments field (the engine
checks the field's `accept`, `max_files` and `max_size` on the stored descriptors), or
attached to a ticket directly.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import tempfile
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import filetype
from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from engine.model import FieldType, TicketType
from runtime import policy
from runtime.context import Request
from runtime.db import Database, Transaction
from runtime.models import Attachment, EventKind, Ticket
from runtime.prepared import Prepared
from runtime.services.errors import BadRequest, NotFound, TooLarge, UnsupportedMedia
from runtime.services.events import record

# What may be uploaded at all, by content. Anything a browser could run (HTML, SVG,
# scripts, executables) is refused whatever its name says.
SNIFFED_TYPES = frozenset({
    "image/png", "image/jpeg", "image/gif", "image/webp", "image/bmp", "application/pdf",
    "application/zip", "application/gzip", "audio/mpeg", "video/mp4",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
})
TEXT_TYPES = {".txt": "text/plain", ".csv": "text/csv", ".log": "text/plain"}
MAX_NAME = 255


@dataclass(frozen=True)
class FileInfo:
    id: str
    name: str
    size: int
    content_type: str

    def descriptor(self) -> dict[str, Any]:
        """The value an attachments field stores for this file."""
        return {"id": self.id, "name": self.name, "size": self.size,
                "content_type": self.content_type}


def safe_name(name: Any) -> str:
    """The original file name if it is a plain name; a path-like or odd name is refused."""
    if not isinstance(name, str) or not name.strip():
        raise BadRequest("the file needs a name", code="bad-file-name")
    cleaned = unicodedata.normalize("NFC", name.strip())
    if ("/" in cleaned or "\\" in cleaned or cleaned in (".", "..") or cleaned.startswith(".")
            or any(unicodedata.category(c).startswith("C") for c in cleaned)
            or len(cleaned) > MAX_NAME):
        raise BadRequest(f"the file name {name!r} is not allowed: use a plain name without "
                         "folders or control characters", code="bad-file-name")
    return cleaned


def sniff(content: bytes, name: str) -> str:
    """The content type read from the bytes; refused when it is not an allowed type."""
    kind = filetype.guess(content[:8192])
    if kind is not None:
        if kind.mime in SNIFFED_TYPES:
            return kind.mime
        raise UnsupportedMedia(f"files of type {kind.mime} are not accepted",
                               code="forbidden-file-type")
    suffix = Path(name).suffix.lower()
    if suffix in TEXT_TYPES and _is_plain_text(content):
        return TEXT_TYPES[suffix]
    raise UnsupportedMedia("this type of file is not accepted (allowed: images, PDF, office "
                           "documents, archives, plain text)", code="forbidden-file-type")


def _is_plain_text(content: bytes) -> bool:
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        return False
    lowered = text[:4096].lower()
    return "\x00" not in text and "<script" not in lowered and "<html" not in lowered


def blob_path(storage: Path, sha256: str) -> Path:
    return storage / sha256[:2] / sha256


def _store_bytes(storage: Path, content: bytes, sha256: str) -> None:
    target = blob_path(storage, sha256)
    if target.exists():
        return  # content-addressed: the same bytes are stored once
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".upload-")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(content)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def upload(db: Database, request: Request, storage: Path, content: bytes, name: Any,
           *, max_size: int) -> FileInfo:
    """Check and keep an uploaded file; it belongs to the uploader until a ticket uses it."""
    if len(content) > max_size:
        raise TooLarge(f"the file is larger than {max_size // (1024 * 1024)} MB",
                       code="file-too-large")
    original = safe_name(name)
    content_type = sniff(content, original)
    sha256 = hashlib.sha256(content).hexdigest()
    _store_bytes(storage, content, sha256)
    with db.write() as session:
        row = Attachment(public_id="att_" + secrets.token_hex(12), sha256=sha256,
                         size=len(content), content_type=content_type, original_name=original,
                         uploaded_by=request.actor.user_id, created_at=request.now)
        session.add(row)
        session.flush()
        return _info(row)


class _Stored(Protocol):
    public_id: str
    original_name: str
    size: int
    content_type: str


def _info(row: _Stored) -> FileInfo:
    return FileInfo(row.public_id, row.original_name, row.size, row.content_type)


@dataclass
class ResolvedFiles:
    """Attachment references in a submission, replaced by the stored descriptors."""

    values: dict[str, Any] = field(default_factory=dict)
    ids: list[int] = field(default_factory=list)
    problems: list[dict[str, Any]] = field(default_factory=list)


def resolve_field_files(session: Transaction, request: Request, ticket_type: TicketType,
                        values: Mapping[str, Any], ticket: Ticket | None = None
                        ) -> ResolvedFiles:
    """Turn `[{"id": "att_..."}]` in attachments fields into the files' descriptors.

    A file may be used if its uploader is the actor and no ticket uses it yet, or if it
    already belongs to this ticket. Anything else reads as an unknown attachment.
    """
    resolved = ResolvedFiles()
    for name, value in values.items():
        spec = ticket_type.field_by_id.get(name)
        if spec is None or spec.type is not FieldType.ATTACHMENTS or not isinstance(value, list):
            continue
        descriptors = []
        for index, item in enumerate(value):
            public_id = item.get("id") if isinstance(item, dict) else None
            row = (_FILE.first(session, {"public_id": public_id})
                   if isinstance(public_id, str) else None)
            if row is None or not policy.may_use_file(request.actor, row, ticket):
                resolved.problems.append({
                    "field": name, "path": f"/{name}/{index}", "code": "unknown-attachment",
                    "message": "this file was not uploaded by you, or is used elsewhere"})
                continue
            descriptors.append(_info(row).descriptor())
            resolved.ids.append(row.id)
        resolved.values[name] = descriptors
    return resolved


# A file named in a submission: what its descriptor and `policy.may_use_file` read.
_FILE = Prepared(select(Attachment.id, Attachment.public_id, Attachment.original_name,
                        Attachment.size, Attachment.content_type, Attachment.uploaded_by,
                        Attachment.ticket_id)
                 .where(Attachment.public_id == bindparam("public_id")))


def link(session: Transaction, ids: list[int], ticket: Ticket) -> None:
    """Hand uploaded files over to the ticket that now uses them."""
    if ids:
        session.execute(update(Attachment).where(Attachment.id.in_(ids),
                                                 Attachment.ticket_id.is_(None))
                        .values(ticket_id=ticket.id).execution_options(synchronize_session=False))


def attach(db: Database, request: Request, storage: Path, number: str, content: bytes,
           name: Any, *, max_size: int) -> FileInfo:
    """Upload a file straight onto a ticket (not into a field): it joins the timeline."""
    from runtime.services.tickets import (  # one loader decides visibility
        _load,
        _refuse_additions_when_closed,
        _tell,
    )

    with db.read() as session:  # refused before the file is stored
        _refuse_additions_when_closed(_load(session, request, number), internal=False)
    info = upload(db, request, storage, content, name, max_size=max_size)
    with db.write() as session:
        loaded = _load(session, request, number)
        _refuse_additions_when_closed(loaded, internal=False)  # closed meanwhile
        row = session.scalar(select(Attachment).where(Attachment.public_id == info.id))
        assert row is not None
        row.ticket_id = loaded.ticket.id
        loaded.ticket.updated_at = request.now
        event = record(session, request, EventKind.ATTACHED, {"file": info.descriptor()},
                       loaded.ticket)
        _tell(session, request, event, loaded)  # webhooks that follow attachments
    return info


def open_file(db: Database, request: Request, storage: Path, public_id: str
              ) -> tuple[Path, FileInfo]:
    """A file the actor may download: their own upload, or one of a ticket they may see."""
    with db.read() as session:
        row = session.scalar(select(Attachment).where(Attachment.public_id == public_id))
        if row is None or not _may_download(session, request, row):
            raise NotFound("there is no such file")
        assert row is not None
        return blob_path(storage, row.sha256), _info(row)


def _may_download(session: Session, request: Request, row: Attachment) -> bool:
    from runtime.catalog import compiled_version

    ticket = session.get(Ticket, row.ticket_id) if row.ticket_id is not None else None
    ticket_type = (compiled_version(session, ticket.definition_version_id).ticket_type
                   if ticket is not None else None)
    return policy.may_download(request.actor, row, ticket, ticket_type)
