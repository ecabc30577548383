"""A scenario's `log:` action writes its line at the `level:` it names
(docs/scenarios.md, Actions), over a real edge, Clone server and store."""

from __future__ import annotations

from structlog.testing import capture_logs
from support.core_actors import (
    Core,
    core_fixture,  # noqa: F401  # fixture `core`
)
from support.wait import wait_until

LOUD = """\
name: loud
actions:
  - log: "said at debug"
    level: debug
  - log: "said at info"
  - log: "said at warning"
    level: warning
  - log: "said at error"
    level: error
"""


def test_a_log_line_is_written_at_the_level_its_action_names(core: Core) -> None:
    """`level: debug` was written at info, shown where raspyd logs at info (as
    here), which leaves debug lines out; `level: error` at warning: the log's own
    processor put the method's level over the `level` field the line carried."""
    core.start()
    core.request("import", document=LOUD)
    with capture_logs() as logs:
        assert core.request("run", name="loud")[0] == b"200"
        # one turn writes the four: the debug line, first, is out by then
        wait_until(
            lambda: len([e for e in logs if e["event"] == "scenario_logged"]) >= 3,
            what="the log lines above debug",
        )
    lines = [e for e in logs if e["event"] == "scenario_logged"]
    assert [(e["message"], e["log_level"]) for e in lines] == [
        ("said at info", "info"),
        ("said at warning", "warning"),
        ("said at error", "error"),
    ]
