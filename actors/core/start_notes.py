"""What the core's start says of scenarios that will fail at every run: `http:`
actions on a hub whose `<host>.http` is off, secrets the file lacks.

Log lines only (as an import's warnings say it at once): the scenario's state and
`last_error` tell its runs, and nothing has failed yet. Read-only: it never changes
a scenario nor waits on the secrets file (a FIFO there is refused by its stat).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import structlog

from raspy.actors.core.parts import Entry
from raspy.secrets_file import SecretsFile

if TYPE_CHECKING:  # a type: the model loads with the first scenario
    from raspy.rules import model

log = structlog.get_logger(component="core")


def say_http_off(name: str, scenario: model.Scenario, http_service: bool) -> None:
    """Log that a scenario's `http:` actions will fail, when raspyd does not serve
    `<host>.http` (its import said so too)."""
    if http_service:
        return
    from raspy.rules.http_off import WHY, http_actions  # with the parser: lazily

    found = http_actions(scenario)
    if found:
        log.warning("scenario_http_off", scenario=name, actions=len(found), reason=WHY)


def say_secrets_missing(
    entries: Mapping[str, Entry], secrets: SecretsFile | None, http_service: bool
) -> None:
    """Log once for each enabled scenario whose `http:` actions fill in secrets
    the file lacks, naming them (never a value); when the file cannot be used
    (missing, not TOML, no regular file), one line for all of them with its
    problem. The file is read only when a scenario names a secret."""
    if secrets is None or not http_service:  # off: scenario_http_off says it
        return
    if not any(e.scenario is not None and e.stored.enabled for e in entries.values()):
        return  # nothing to look at: the parser stays unloaded (a start's CPU)
    from raspy.rules import secret_uses  # with the parser: lazily

    using: dict[str, list[str]] = {}  # scenario -> the secrets it names
    for name, entry in sorted(entries.items()):
        if entry.scenario is None or not entry.stored.enabled:
            continue
        if named := secret_uses.secrets_named(entry.scenario):
            using[name] = named
    if not using:
        return
    loaded = secrets.load()
    if loaded.problem is not None:
        log.warning(
            "scenario_secrets_unusable",
            scenarios=list(using),
            problem=loaded.problem,
            reason=secret_uses.UNUSABLE_AT_START,
        )
        return
    for name, named in using.items():
        missing = [secret for secret in named if secret not in loaded.values]
        if missing:
            log.warning(
                "scenario_secrets_missing",
                scenario=name,
                secrets=missing,
                path=loaded.source,
                reason=secret_uses.MISSING_AT_START,
            )
