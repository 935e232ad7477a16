"""JSON responses encoded by orjson.

Every API answer goes through `jsonify`; Flask's provider encodes with the standard
library, which took about 90 µs for one ticket's answer on the benchmark machine
against 14 µs for orjson (the creation path's largest cost outside the service). The
text is what Flask's provider writes — keys sorted (`sort_keys`), compact, dates,
decimals, UUIDs and dataclasses through Flask's own `default` — except that non-ASCII
characters are written as UTF-8 rather than as `\\u` escapes (the same JSON). Anything
orjson refuses (an integer past 64 bits, say) and pretty-printed answers (debug mode)
take Flask's path.
"""

from __future__ import annotations

from typing import Any

import orjson
from flask import Flask, Response
from flask.json.provider import DefaultJSONProvider

# Dates and dataclasses are handed to Flask's `default` so that they read as they always
# have (an HTTP date for `datetime`); orjson's own forms differ.
_OPTIONS = (orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME
            | orjson.OPT_PASSTHROUGH_DATACLASS)


class FastJSONProvider(DefaultJSONProvider):
    """Flask's JSON provider with responses encoded by orjson (see the module)."""

    def response(self, *args: Any, **kwargs: Any) -> Response:
        if self.compact is False or (self.compact is None and self._app.debug):
            return super().response(*args, **kwargs)
        obj = self._prepare_response_obj(args, kwargs)
        options = _OPTIONS | orjson.OPT_SORT_KEYS if self.sort_keys else _OPTIONS
        try:
            body = orjson.dumps(obj, default=self.default, option=options)
        except orjson.JSONEncodeError:
            return super().response(*args, **kwargs)
        return self._app.response_class(body + b"\n", mimetype=self.mimetype)


def init_app(app: Flask) -> None:
    """Encode the app's JSON responses with orjson."""
    app.json = FastJSONProvider(app)
