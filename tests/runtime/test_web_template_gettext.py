"""Templates translate through the response's catalogue (runtime.web.i18n): the same text
flask-babel's own callables give, in both languages, placeholders filled."""

from __future__ import annotations

import flask_babel
import pytest
from flask import Flask, render_template_string

from runtime.web.i18n import COOKIE


@pytest.mark.parametrize("language", ["en", "zh"])
def test_templates_translate_as_flask_babel_does(app: Flask, language: str) -> None:
    with app.test_request_context("/", headers={"Cookie": f"{COOKIE}={language}"}):
        assert render_template_string('{{ _("Reason:") }}') == flask_babel.gettext("Reason:")
        assert (render_template_string('{{ _("%(n)s files", n=3) }}')
                == flask_babel.gettext("%(n)s files", n=3))
        for count in (1, 2):
            assert render_template_string(
                '{{ ngettext("%(num)d ticket", "%(num)d tickets", count) }}', count=count,
            ) == flask_babel.ngettext("%(num)d ticket", "%(num)d tickets", count)


def test_the_chinese_catalogue_is_used(app: Flask) -> None:
    with app.test_request_context("/", headers={"Cookie": f"{COOKIE}=zh"}):
        assert render_template_string('{{ _("Reason:") }}') != "Reason:"
