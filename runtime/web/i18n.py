"""The UI's languages (flask-babel): Simplified Chinese and English.

The language of a response: the logged-in user's own setting, else the `lang` cookie (the
switch in the page header sets it), else the browser's Accept-Language, else English.
Definition labels (ticket types, fields, states, options) are shown in the same language:
views pass `ui_language()` to the services, which pick the label's text.

Catalogues live in `runtime/translations/<lang>/LC_MESSAGES/messages.po` (text, in git);
the compiled `.mo` files are built from them when the app starts, into the instance
folder, and never committed. See docs/ui.md for adding a string or a language.
"""

from __future__ import annotations

import os
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Any

from babel import Locale
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import Flask, g, request, session
from flask_babel import Babel, get_locale, get_translations

LANGUAGES = ("en", "zh")
COOKIE = "lang"
COOKIE_AGE = 365 * 24 * 3600
CATALOGUES = Path(__file__).resolve().parent.parent / "translations"
# Babel's name for Simplified Chinese; our own code stays "zh" (as in definitions).
BABEL_LOCALES = {"en": "en", "zh": "zh_Hans_CN"}


def _known(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    language = value.replace("_", "-").split("-")[0].lower()
    return language if language in LANGUAGES else None


def ui_language() -> str:
    """The language of this response ("en" or "zh")."""
    cached = g.get("_ui_language")
    if cached is None:
        cached = g._ui_language = _choose()
    return str(cached)


def _choose() -> str:
    # A user this request already loaded wins. Loading one here is avoided only on error
    # pages (which must render when the database is down): they set `g.error_page`.
    user = g.get("_login_user")
    if user is None and not g.get("error_page") and session.get("_user_id"):
        from flask_login import current_user

        user = current_user._get_current_object()
    if user is not None and getattr(user, "is_authenticated", False):
        language = _known(getattr(user.actor, "language", None))
        if language:
            return language
    return (_known(request.cookies.get(COOKIE))
            or request.accept_languages.best_match(LANGUAGES) or "en")


def _select_locale() -> str:
    return BABEL_LOCALES[ui_language()]


def ui_locale() -> Locale:
    """The babel locale of this response (for formatting without flask-babel's per-call
    lookups: a ticket page formats an instant per timeline entry)."""
    return _parsed_locale(BABEL_LOCALES[ui_language()])


@lru_cache(maxsize=8)
def _parsed_locale(name: str) -> Locale:
    return Locale.parse(name)


def compile_catalogues(target: Path) -> Path:
    """Compile every `.po` into `target/<lang>/LC_MESSAGES/messages.mo` when the `.mo` is
    missing or older (atomically: several workers may start at once)."""
    for po_path in CATALOGUES.glob("*/LC_MESSAGES/messages.po"):
        language = po_path.parent.parent.name
        mo_path = target / BABEL_LOCALES.get(language, language) / "LC_MESSAGES" / "messages.mo"
        if mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
            continue
        mo_path.parent.mkdir(parents=True, exist_ok=True)
        with po_path.open("rb") as source:
            catalog = read_po(source, locale=BABEL_LOCALES.get(language, language))
        handle, temporary = tempfile.mkstemp(dir=mo_path.parent, prefix=".messages-")
        with os.fdopen(handle, "wb") as out:
            write_mo(out, catalog)
        os.replace(temporary, mo_path)
    return target


def init_app(app: Flask, instance_path: Path) -> None:
    """Compile the catalogues and install flask-babel with our language choice."""
    compiled = compile_catalogues(instance_path / "translations")
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(compiled)
    app.config.setdefault("BABEL_DEFAULT_LOCALE", "en")
    Babel(app, locale_selector=_select_locale)
    # Templates translate through the response's catalogue, looked up once per request:
    # flask-babel's callables looked it up again for each string (about 240 on a ticket
    # page with a long timeline; 9 → 2 µs each). Same catalogue, same `%` formatting.
    app.jinja_env.install_gettext_callables(  # type: ignore[attr-defined]
        _template_gettext, _template_ngettext, newstyle=True)

    @app.context_processor
    def _languages() -> dict[str, object]:
        return {"ui_language": ui_language(), "languages": LANGUAGES}


def _catalogue() -> Any:
    found = g.get("_catalogue")
    if found is None:
        found = g._catalogue = get_translations()
    return found


def _template_gettext(string: str, **variables: Any) -> str:
    text: str = _catalogue().ugettext(string)
    return text % variables if variables else text


def _template_ngettext(singular: str, plural: str, num: int, **variables: Any) -> str:
    variables.setdefault("num", num)
    text: str = _catalogue().ungettext(singular, plural, num)
    return text % variables


def current_locale() -> str:
    """Babel's locale of this response (for number and date formatting)."""
    return str(get_locale() or "en")
