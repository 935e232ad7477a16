"""The engine is a pure interpreter: importing all of it pulls in no web or database code."""

import subprocess
import sys

ENGINE_MODULES = [
    "engine.compile", "engine.errors", "engine.expressions", "engine.flow", "engine.forms",
    "engine.lint", "engine.messages", "engine.model", "engine.schema", "engine.simulate",
    "engine.source", "engine.values", "engine.formschema", "engine.domains", "engine.calendar",
    "engine.calendar_compile", "engine.durations", "engine.compile_sla", "engine.assignment",
    "engine.sla", "engine.canonical", "engine.cases", "engine.diff", "engine.duplicates",
    "engine.case_hooks",
]


def test_engine_imports_no_flask_sqlalchemy_or_runtime() -> None:
    script = (
        "import sys\n"
        + "".join(f"import {name}\n" for name in ENGINE_MODULES)
        + "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'flask', 'sqlalchemy', 'runtime', 'designer', 'werkzeug', 'socket', 'http'})\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == ""
