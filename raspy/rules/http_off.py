"""The `http:` actions of a scenario on a hub whose `<host>.http` service is off
(`[http_client] enabled = false`): the warnings of an import, and of the core's start.

Such an action is valid text, and fails at every run (nothing answers its request),
which the household learns only when a message it waited for never came. The core
knows whether raspyd serves the service (raspyd's config, passed in), so an import
says so at once. A warning never refuses the import: the config may be changed
before the scenario's first run.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from raspy.http_request import shown_url
from raspy.rules import model, walk
from raspy.rules.document import Spots, lazy_spots

WHY: Final = (
    "fails at every run: raspyd's [http_client] enabled = false "
    "(its <host>.http service is off; nothing is sent)"
)


def http_actions(scenario: model.Scenario) -> list[model.HttpAction]:
    """Each `http:` action, nested ones too, in document order."""
    actions = walk.every_action(scenario.actions)
    return [a for a in actions if isinstance(a, model.HttpAction)]


def http_off_warnings(
    scenario: model.Scenario, text: str, spot: Callable[[], Spots] | None = None
) -> list[tuple[int, int, str]]:
    """(line, col, message) of each `http:` URL of `scenario` (its document
    `text`, its places in `spot`: lazy_spots), once each: the service that would
    make its request is off. The URL is shown as logs show it (scheme and host: a
    token may be in its path)."""
    spot = spot or lazy_spots(text)
    urls = dict.fromkeys(action.url for action in http_actions(scenario))
    found = [(*spot()("http", url), f"http: {shown_url(url)} {WHY}") for url in urls]
    return sorted(found)
