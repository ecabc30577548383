"""The core's start says which stored scenarios name secrets the secrets file
lacks (a hub restored to a new card without the file, which no dump holds, started
without a word, each such `http:` action failing at its run): a log line a
scenario with the missing names, never a value; one line for a file that cannot be
used, not one a scenario and secret (docs/scenarios.md "Secrets")."""

from __future__ import annotations

import os
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs
from support.core_actors import (
    Core,
    core_fixture,  # noqa: F401  # fixture `core`
)
from support.device_services import (
    server_fixture,  # noqa: F401  # fixture `server`
)

from raspy.rules.secret_uses import MISSING_AT_START, UNUSABLE_AT_START
from raspy.secrets_file import SecretsFile

pytestmark = pytest.mark.timeout(30)

TOPIC = "my-house-7fq2k"


def _tell(name: str, *secrets: str, enabled: bool = True) -> str:
    """A scenario whose `http:` action fills in `secrets` (URL, header, body)."""
    url, header, body = (
        f"{{secret.{s}}}" if s else "" for s in (*secrets, "", "", "")[:3]
    )
    return (
        f"name: {name}\nenabled: {str(enabled).lower()}\n"
        "triggers: [{event: /event/door}]\nactions:\n"
        f'  - http: "https://ntfy.sh/x{url}"\n'
        f'    headers: {{Authorization: "Bearer {header}"}}\n'
        f'    body: {{text: "door {body}"}}\n'
    )


def _restart(core: Core, documents: list[str]) -> list[MutableMapping[str, Any]]:
    """Import `documents`, restart the core; the start's secrets lines."""
    core.start()
    for document in documents:
        assert core.request("import", document=document)[0] == b"200"
    core.stop()
    with capture_logs() as logs:
        core.start()
    return [e for e in logs if e["event"].startswith("scenario_secrets")]


def test_the_start_names_each_scenarios_missing_secrets_once(
    core: Core, tmp_path: Path
) -> None:
    path = tmp_path / "secrets.toml"
    path.write_text(f'topic = "{TOPIC}"\n', encoding="utf-8")
    os.chmod(path, 0o600)
    core.secrets = SecretsFile(path)
    said = _restart(
        core,
        [
            _tell("a-door", "topic", "key", "chat"),
            _tell("b-bell", "topic"),  # all there: nothing said
            _tell("c-plain"),  # no secret: nothing said
            _tell("d-off", "gone", enabled=False),  # disabled: it does not run
            _tell("e-twice", "key", "key", "key"),
        ],
    )
    assert said == [
        {
            "component": "core",
            "event": "scenario_secrets_missing",
            "log_level": "warning",
            "scenario": name,
            "secrets": missing,
            "path": str(path),
            "reason": MISSING_AT_START,
        }
        for name, missing in (("a-door", ["chat", "key"]), ("e-twice", ["key"]))
    ]
    assert TOPIC not in repr(said)


def _missing(path: Path) -> str:
    return f"{path}: no such file"


def _broken(path: Path) -> str:
    path.write_text('topic = "x"\nkey = sk_7f\n', encoding="utf-8")
    os.chmod(path, 0o600)
    return f"{path}: not TOML: Invalid value (at line 2, column 7)"


def _long_integer(path: Path) -> str:
    path.write_text('topic = "x"\nkey = ' + "1" * 4301 + "\n", encoding="utf-8")
    os.chmod(path, 0o600)
    return f"{path}: not TOML: an integer of over 4300 digits (at line 2)"


@pytest.mark.parametrize("make", [_missing, _broken, _long_integer])
def test_a_file_that_cannot_be_used_is_one_line_for_every_scenario(
    core: Core, tmp_path: Path, make: Any
) -> None:
    """A restore without the file (or a typo in it): one line naming the file's
    problem and the scenarios it fails, not one a scenario and secret."""
    path = tmp_path / "secrets.toml"
    problem = make(path)
    core.secrets = SecretsFile(path)
    said = _restart(
        core, [_tell("a-door", "topic", "key"), _tell("b-bell", "topic"), _tell("c")]
    )
    assert said == [
        {
            "component": "core",
            "event": "scenario_secrets_unusable",
            "log_level": "warning",
            "scenarios": ["a-door", "b-bell"],
            "problem": problem,
            "reason": UNUSABLE_AT_START,
        }
    ]


def test_nothing_is_said_of_secrets_when_no_scenario_names_one_or_http_is_off(
    core: Core, tmp_path: Path
) -> None:
    """The file is not even looked at without a scenario that names a secret, and
    with `<host>.http` off the start's scenario_http_off says what fails."""
    core.secrets = SecretsFile(tmp_path / "secrets.toml")  # not there
    assert _restart(core, [_tell("c-plain")]) == []
    core.http_service = False
    with capture_logs() as logs:
        core.stop()
        core.start()
    assert [e["event"] for e in logs if e["event"].startswith("scenario_")] == [
        "scenario_http_off"
    ]
