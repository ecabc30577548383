"""The core told that raspyd does not serve `<host>.http` ([http_client] enabled =
false): an import of a scenario with an `http:` action warns that it will fail at
every run, and so does the core's start for such a stored scenario; with the service
on, neither says anything (docs/scenarios.md "Telling a phone")."""

from __future__ import annotations

from structlog.testing import capture_logs
from support.core_actors import (
    Core,
    core_fixture,  # noqa: F401  # fixture `core`
)
from support.device_services import (
    server_fixture,  # noqa: F401  # fixture `server`
)

from raspy.rules.http_off import WHY

TELL = """\
name: tell
triggers:
  - event: /event/door
actions:
  - http: "https://ntfy.sh/my-house-7fq2k"
    body: door
"""


def test_an_import_with_the_http_service_off_warns_and_imports(core: Core) -> None:
    core.http_service = False
    core.start()
    assert core.request("import", document=TELL, source="tell.yaml") == (
        b"200",
        {
            "name": "tell",
            "replaced": False,
            "warnings": [f"tell.yaml:5:11: warning: http: https://ntfy.sh/… {WHY}"],
        },
    )
    status, got = core.request("get", name="tell")
    assert (status, got["state"]) == (b"200", "idle")


def test_a_validate_gives_the_same_warning_and_stores_nothing(core: Core) -> None:
    """Check on the web's edit page asks `validate`: it said nothing of what the
    import then warned of."""
    core.http_service = False
    core.start()
    assert core.request("validate", document=TELL, source="tell.yaml") == (
        b"200",
        {
            "name": "tell",
            "warnings": [f"tell.yaml:5:11: warning: http: https://ntfy.sh/… {WHY}"],
        },
    )
    assert core.request("get", name="tell")[0] == b"404"


def test_the_start_says_it_of_each_stored_scenario_with_http(core: Core) -> None:
    core.start()
    assert core.request("import", document=TELL, source="tell.yaml") == (
        b"200",
        {"name": "tell", "replaced": False},  # the service is on: nothing to say
    )
    core.stop()
    core.http_service = False
    with capture_logs() as logs:
        core.start()
    said = [entry for entry in logs if entry["event"] == "scenario_http_off"]
    assert said == [
        {
            "component": "core",
            "event": "scenario_http_off",
            "log_level": "warning",
            "scenario": "tell",
            "actions": 1,
            "reason": WHY,
        }
    ]
