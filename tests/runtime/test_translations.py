"""The whole UI exists in Chinese: every message the pages use has a translation in the
catalogue, with the same placeholders, and the catalogue compiles."""

from __future__ import annotations

import re
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from runtime.web.i18n import CATALOGUES, compile_catalogues
from tests.conftest import ROOT

PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")


def _used_messages() -> set[str]:
    method_map = [("runtime/web/**.py", "python"), ("runtime/templates/**.html", "jinja2"),
                  ("designer/**.py", "python"), ("designer/templates/**.html", "jinja2")]
    keywords = {"_": None, "gettext": None, "lazy_gettext": None, "ngettext": (1, 2)}
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
            str(ROOT), method_map, keywords=keywords):
        found.add(message if isinstance(message, str) else message[0])
    return found


def _catalogue() -> dict[str, str]:
    with (CATALOGUES / "zh" / "LC_MESSAGES" / "messages.po").open("rb") as source:
        return {m.id: m.string for m in read_po(source) if m.id}


def test_every_ui_message_has_a_chinese_translation() -> None:
    catalogue = _catalogue()
    missing = sorted(m for m in _used_messages() if not catalogue.get(m))
    assert missing == []


def test_translations_keep_their_placeholders() -> None:
    for source, translated in _catalogue().items():
        assert set(PLACEHOLDER.findall(source)) == set(PLACEHOLDER.findall(translated)), source


def test_the_catalogue_compiles(tmp_path: Path) -> None:
    compile_catalogues(tmp_path)
    assert (tmp_path / "zh_Hans_CN" / "LC_MESSAGES" / "messages.mo").stat().st_size > 1000
