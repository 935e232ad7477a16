"""Attachment endpoints: upload (multipart, field `file`) for attachments fields or
straight onto a ticket, and download.

A download is always `Content-Disposition: attachment` with the stored (sniffed) content
type and `nosniff`, so an uploaded file can never run as a page of this site.
"""

from __future__ import annotations

from flask import Response, jsonify, request, send_file, url_for

from runtime.api.blueprint import api, db, settings
from runtime.api.inputs import problem
from runtime.services import attachments
from runtime.services.attachments import FileInfo
from runtime.services.errors import Invalid, NotFound, UnsupportedMedia
from runtime.web.context import service_request


def _uploaded() -> tuple[bytes, str | None]:
    """The bytes and the original name of the multipart field `file`."""
    if request.mimetype != "multipart/form-data":
        raise UnsupportedMedia("upload the file as multipart/form-data in the field 'file'")
    upload = request.files.get("file")
    if upload is None:
        raise Invalid("the upload has no file", details=[
            problem("file", "required", "send the file in the multipart field 'file'")])
    # One byte more than allowed is enough for the service to say "too large".
    return upload.read(settings().max_upload_bytes + 1), upload.filename


def _created(info: FileInfo) -> tuple[Response, int, dict[str, str]]:
    location = url_for("api.download", public_id=info.id)
    return jsonify({"file": info.descriptor()}), 201, {"Location": location}


@api.post("/attachments")
def upload_file() -> tuple[Response, int, dict[str, str]]:
    """Upload a file to reference from an attachments field: `[{"id": "att_..."}]`."""
    service = service_request()
    content, name = _uploaded()
    info = attachments.upload(db(), service, settings().attachment_dir, content, name,
                              max_size=settings().max_upload_bytes)
    return _created(info)


@api.post("/tickets/<number>/attachments")
def attach_file(number: str) -> tuple[Response, int, dict[str, str]]:
    """Attach a file to a ticket directly (it shows in the timeline)."""
    service = service_request()
    content, name = _uploaded()
    info = attachments.attach(db(), service, settings().attachment_dir, number, content, name,
                              max_size=settings().max_upload_bytes)
    return _created(info)


@api.get("/attachments/<public_id>")
def download(public_id: str) -> Response:
    """A file the caller may see, as a download under its original name."""
    path, info = attachments.open_file(db(), service_request(), settings().attachment_dir,
                                       public_id)
    if not path.is_file():
        raise NotFound("the file's content is no longer stored")
    # send_file writes the name per RFC 6266: a plain `filename` (ASCII, quoted) and,
    # for any other name, `filename*=UTF-8''...` percent-encoded per RFC 5987.
    response = send_file(path, mimetype=info.content_type, as_attachment=True,
                         download_name=info.name, conditional=False, etag=False,
                         max_age=None)
    # The browser must take the stored (sniffed) type, never guess one from the bytes.
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
