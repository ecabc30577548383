"""Markers by folder, the longest files first, bytecode shared by the run's processes
and compiled once (support.bytecode), and checked cleanup of actors, threads and
ZeroMQ sockets."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import pykka
import pytest
import zmq
from hypothesis import settings
from support import bytecode, hunt, net, own_threads
from support.file_seconds import FILE_SECONDS

from raspy import log

# No per-example deadline: a loaded CI machine must not turn a slow example into a
# failure. Every test still has its pytest-timeout. The suite draws the same examples
# on every run, so a result belongs to the code and not to the draw; `make hunt`
# (profile "hunt") draws new ones, many more of them, to look for what is left.
settings.register_profile("raspy", deadline=None, derandomize=True)
_HUNT_EXAMPLES: Final = int(os.environ.get("HUNT_EXAMPLES", "2000"))
_HUNT_TIMEOUT_S: Final = float(os.environ.get("HUNT_TIMEOUT_S", "1800"))
settings.register_profile("hunt", deadline=None, max_examples=_HUNT_EXAMPLES)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "raspy"))

pytest_plugins = ["support.edge_fixtures", "support.clone_fixtures"]

bytecode.share()

# A suite started in the background by a non-interactive shell (`make test &`)
# inherits SIGINT ignored, and so would every CLI it starts: the Ctrl-C tests would
# then wait in vain. A Python handler is reset to the default in a started program.
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

_FOLDER_MARKERS = {"integration": "integration", "e2e": "e2e"}
_TESTS: Final = Path(__file__).parent
_THREAD_GRACE_S: Final = 5.0


@pytest.hookimpl(tryfirst=True)
def pytest_collection(session: pytest.Session) -> None:
    bytecode.wait_for_first_workers()


def pytest_collection_finish(session: pytest.Session) -> None:
    bytecode.collected()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        folder = Path(str(item.fspath)).parent.name
        marker = _FOLDER_MARKERS.get(folder)
        if marker:
            item.add_marker(getattr(pytest.mark, marker))
    if hunt.hunting():
        hunt.raise_counts(items, _HUNT_EXAMPLES, _HUNT_TIMEOUT_S)
    _longest_files_first(items)


def _longest_files_first(items: list[pytest.Item]) -> None:
    """The files that take longest come first, each file's tests in their order:
    `make test` hands whole files to its parallel workers in this order, so the long
    files start at once, on different workers, instead of one of them last. A file
    takes the seconds support.file_seconds lists for it; one not listed there, its
    longest own timeout (an upper bound: a new slow file starts early, not last; a
    file of quick tests without one, last)."""
    bound: dict[str, float] = {}
    for item in items:
        path = str(item.fspath)
        bound[path] = max(bound.get(path, 0.0), _own_timeout(item))
    seconds = {
        path: FILE_SECONDS.get(_under_tests(path), most) for path, most in bound.items()
    }
    items.sort(key=lambda item: -seconds[str(item.fspath)])  # stable


def _under_tests(path: str) -> str:
    """`path` as support.file_seconds names it (e2e/test_raspyd.py)."""
    return Path(os.path.relpath(path, _TESTS)).as_posix()


def _own_timeout(item: pytest.Item) -> float:
    """The test's pytest-timeout mark in seconds (0 without one)."""
    marker = item.get_closest_marker("timeout")
    if marker is None:
        return 0.0
    value = marker.args[0] if marker.args else marker.kwargs.get("timeout", 0)
    return float(value or 0)


_CONFIGURE = log.configure


def _uncached_configure(*args: Any, **kwargs: Any) -> None:
    """A CLI's main() run in-process configures logging too: never cached here, or
    every module logger first used meanwhile keeps that setup for the rest of the
    session (capture_logs in a later test would see nothing)."""
    kwargs["cache"] = False
    _CONFIGURE(*args, **kwargs)


@pytest.fixture(autouse=True)
def _test_logging(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts with the test log setup, whatever an earlier test configured."""
    _CONFIGURE("info", "json", cache=False)
    monkeypatch.setattr(log, "configure", _uncached_configure)


_RECURSION_LIMIT: Final = sys.getrecursionlimit()


@pytest.fixture(autouse=True)
def _recursion_limit_kept() -> Iterator[None]:
    """No test leaves the recursion limit changed: tests of deep input (JSON, TOML,
    YAML) depend on it, and a change outlived the test that made it (mypy's main
    raises it for good)."""
    yield
    if (limit := sys.getrecursionlimit()) != _RECURSION_LIMIT:
        sys.setrecursionlimit(_RECURSION_LIMIT)
        pytest.fail(f"the recursion limit was left at {limit} ({_RECURSION_LIMIT})")


@pytest.fixture(autouse=True)
def _ports_released() -> Iterator[None]:
    """The port ranges a test drew are reserved (support.net) until it has ended;
    those a module fixture or an import drew stay reserved for the whole run."""
    before = net.reserved_ports()
    yield
    net.release_ports(net.reserved_ports() - before)


# Every socket made while the suite runs, weakly: the leak guard needs the open ones,
# and scanning gc.get_objects() after each test cost minutes over the suite.
_SOCKETS: weakref.WeakSet[zmq.Socket[Any]] = weakref.WeakSet()
_socket_init = zmq.Socket.__init__


def _registered_init(self: zmq.Socket[Any], *args: Any, **kwargs: Any) -> None:
    _socket_init(self, *args, **kwargs)
    _SOCKETS.add(self)


zmq.Socket.__init__ = _registered_init  # type: ignore[method-assign]  # observe only


def _open_sockets() -> dict[int, zmq.Socket[Any]]:
    return {id(sock): sock for sock in list(_SOCKETS) if not sock.closed}


@pytest.fixture(autouse=True)
def _actors_stopped() -> Iterator[None]:
    """Every actor a test started is stopped, no thread of ours outlives it, and
    no ZeroMQ socket it opened is left open."""
    threads_before = set(threading.enumerate())
    sockets_before = set(_open_sockets())
    yield
    pykka.ActorRegistry.stop_all(block=True, timeout=5)
    leftover = [
        t
        for t in threading.enumerate()
        if t not in threads_before and t.is_alive() and own_threads.is_ours(t)
    ]
    deadline = time.monotonic() + _THREAD_GRACE_S
    for thread in leftover:
        thread.join(timeout=max(0.0, deadline - time.monotonic()))
    still = sorted(t.name for t in leftover if t.is_alive())
    assert not still, f"threads outlived the test: {still}"
    leaked = [
        sock for key, sock in _open_sockets().items() if key not in sockets_before
    ]
    kinds = sorted(zmq.SocketType(int(sock.type)).name for sock in leaked)
    for sock in leaked:
        sock.close(linger=0)  # so that the next test's contexts can terminate
    assert not kinds, f"ZeroMQ sockets left open by the test: {kinds}"
