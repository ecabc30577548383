"""Markers by folder, and checked cleanup of actors and threads."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pykka
import pytest
from hypothesis import settings

from raspy import log

# No per-example deadline: a loaded CI machine must not turn a slow example into a
# failure. Every test still has its pytest-timeout.
settings.register_profile("raspy", deadline=None)
settings.load_profile("raspy")

pytest_plugins = ["support.edge_fixtures", "support.clone_fixtures"]

_FOLDER_MARKERS = {"integration": "integration", "e2e": "e2e"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        folder = Path(str(item.fspath)).parent.name
        marker = _FOLDER_MARKERS.get(folder)
        if marker:
            item.add_marker(getattr(pytest.mark, marker))


@pytest.fixture(autouse=True)
def _test_logging() -> None:
    """Each test starts with the test log setup, whatever an earlier test configured."""
    log.configure("info", "json", cache=False)


@pytest.fixture(autouse=True)
def _actors_stopped() -> Iterator[None]:
    """Every actor a test started is stopped, and no thread of ours outlives it."""
    before = set(threading.enumerate())
    yield
    pykka.ActorRegistry.stop_all(block=True, timeout=5)
    leftover = [
        t
        for t in threading.enumerate()
        if t not in before and t.is_alive() and not t.daemon
    ]
    for thread in leftover:
        thread.join(timeout=5)
    still = [t.name for t in leftover if t.is_alive()]
    assert not still, f"threads outlived the test: {still}"
