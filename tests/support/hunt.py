"""`make hunt`: every property test draws HUNT_EXAMPLES examples, its own count too.

A test's `@settings(max_examples=N)` wins over the loaded profile, so under the
"hunt" profile 76 tests drew their suite count (25 to 500), not the hunt's. Their
settings are raised here, at collection, and so is their own pytest-timeout mark
(closer to the test than the command line's `--timeout`), which is sized for the
suite's count. Nothing changes for `make test`."""

from __future__ import annotations

import os
from typing import Any, Final

import pytest
from hypothesis import is_hypothesis_test, settings

_SETTINGS: Final = "_hypothesis_internal_use_settings"  # where @settings puts them


def hunting() -> bool:
    return os.environ.get("HYPOTHESIS_PROFILE") == "hunt"


def raise_counts(items: list[pytest.Item], examples: int, timeout_s: float) -> None:
    """Each property test among `items` (a state machine's TestCase too) draws at
    least `examples` and may run for `timeout_s`. Fails the collection if hypothesis
    no longer keeps a test's settings where this looks: the hunt would silently draw
    the suite's counts again."""
    for item in items:
        machine: Any = getattr(item, "cls", None)  # a state machine's TestCase
        machine_settings = getattr(machine, "settings", None)
        if isinstance(machine_settings, settings):
            machine.settings = _raised(machine_settings, examples)
        else:
            test = getattr(item, "obj", None)
            test = getattr(test, "__func__", test)  # a method: its function
            if test is None or not is_hypothesis_test(test):
                continue
            own = getattr(test, _SETTINGS, None)
            if not isinstance(own, settings):
                raise pytest.UsageError(
                    f"make hunt: cannot raise the example count of {item.nodeid}: "
                    "this hypothesis keeps a test's settings elsewhere "
                    "(tests/support/hunt.py)"
                )
            setattr(test, _SETTINGS, _raised(own, examples))
        item.add_marker(pytest.mark.timeout(timeout_s), append=False)


def _raised(own: settings, examples: int) -> settings:
    """`own` drawing at least `examples`."""
    if own.max_examples >= examples:
        return own
    return settings(own, max_examples=examples)
