"""The `run:` and `stop:` actions of a scenario that name no scenario the hub has:
warnings of an import (and of a validate), with the closest stored name.

`run: good-nite` is valid text: the run finds nothing to start at night, and says so
only then, as the calling scenario's error. At an import the hub knows its
scenarios, so a literal name it lacks is a warning (a name with a template in it is
known only when it runs). A warning never refuses the import: the other scenario may
come later. One check in the core, so that the command line, the web face's Check
and MQTT all say the same.
"""

from __future__ import annotations

from collections.abc import Callable, Collection

from raspy.rules import model
from raspy.rules.document import Spots, lazy_spots
from raspy.rules.document_shapes import did_you_mean
from raspy.rules.walk import scenarios_named


def scenario_warnings(
    scenario: model.Scenario,
    text: str,
    known: Collection[str],
    spot: Callable[[], Spots] | None = None,
) -> list[tuple[int, int, str]]:
    """(line, col, message) of each `run:` / `stop:` of `scenario` (its document
    `text`, its places in `spot`: lazy_spots) naming none of `known` (the stored
    names, and those imported with it) nor the scenario itself."""
    missing = [
        (verb, name)
        for verb, name in dict.fromkeys(scenarios_named(scenario))
        if name != scenario.name and name not in known
    ]
    if not missing:  # most documents: composing the text costs milliseconds
        return []
    at = (spot or lazy_spots(text))()
    choices = sorted(known)
    found: list[tuple[int, int, str]] = []
    for verb, name in missing:
        line, col = at(verb, name)
        found.append(
            (
                line,
                col,
                f"{verb}:{did_you_mean(name, choices)} is no scenario on the hub; "
                f"the {verb} does nothing until one of that name is imported",
            )
        )
    return found
