"""The secrets (`{secret.NAME}`) a scenario's `http:` actions fill in that the hub's
secrets file does not have: the warnings of an import, and of the core's start.

Such an action fails at every run, saying which secret it missed; the import says so
at once, with the line and column. A warning never refuses the import: the secret
may be added to the file before the first run (the file is read at each use). The
start says it too: the file is in no dump, and a hub restored to a new card without
it started without a word, each such action failing at its run.
"""

from __future__ import annotations

from collections.abc import Callable

from raspy.rules import model
from raspy.rules.document import Spots, lazy_spots
from raspy.rules.http_off import http_actions
from raspy.rules.run_http import secrets_used
from raspy.rules.template import keyed_strings, secret_names
from raspy.secrets_file import Loaded

WHY = "the action fails at every run until it is there"
# the start's words (a log line a scenario, or one for a file that cannot be used)
MISSING_AT_START = (
    "its http: actions that fill them in fail at every run until the secrets file "
    "has them"
)
UNUSABLE_AT_START = (
    "their http: actions that fill in a secret fail at every run until the secrets "
    "file is there and readable (no dump or backup holds it: copy it back)"
)


def _texts(action: model.HttpAction) -> list[tuple[str, str]]:
    """(the YAML key holding it, template) of each text the action sends."""
    return [("http", action.url), *action.headers, *keyed_strings("body", action.body)]


def uses_secrets(scenario: model.Scenario) -> bool:
    """Whether an `http:` action of `scenario` fills in a secret: only then is the
    file read for an import's warnings (a scenario without one never waits on it,
    nor fails over it)."""
    return any(secrets_used(action) for action in http_actions(scenario))


def secret_warnings(
    scenario: model.Scenario,
    text: str,
    loaded: Loaded,
    spot: Callable[[], Spots] | None = None,
) -> list[tuple[int, int, str]]:
    """(line, col, message) of each secret an `http:` action of `scenario` (its
    document `text`, its places in `spot`: lazy_spots) fills in that `loaded` (the
    file as it is now) lacks; once a place and name."""
    spot = spot or lazy_spots(text)
    found: set[tuple[int, int, str]] = set()
    for action in http_actions(scenario):
        for key, template in _texts(action):
            for name in secret_names(template):
                if name not in loaded.values:
                    where = spot()(key, template)
                    found.add((*where, f"{key}: {loaded.missing(name)}: {WHY}"))
    return sorted(found)


def secrets_named(scenario: model.Scenario) -> list[str]:
    """The names, sorted and once each, of the secrets the `http:` actions of
    `scenario` fill in (what the start compares with the file's)."""
    return sorted(
        {name for action in http_actions(scenario) for name in secrets_used(action)}
    )
