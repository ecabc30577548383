"""Bytecode shared by a test run's processes, and compiled once by its workers.

Where Python is told not to write bytecode (PYTHONDONTWRITEBYTECODE, as in many
containers), each of the hundreds of raspyd, raspy-poller and CLI processes the suite
starts compiled raspy and its libraries from source again: about a third of the CPU
of those tests. The run's processes (its workers, and the processes they start) share
their bytecode in a folder of this run instead, never in the source tree; the process
that made the folder removes it at its exit.

Python looks for every module's bytecode in that folder only, the standard library's
and the installed packages' too, whose own `__pycache__` files (written when they were
installed) it then ignores: so the folder starts with links to those (about 0.7 s for
some 15,000 files), and only raspy, the tests and what was installed without bytecode
are compiled (about 3 s of CPU less for each process that collects first). A link
is safe: Python checks a bytecode file against its source, and replaces one (a new
file renamed over it), never writes into it.

That folder starts without raspy's and the tests' bytecode, so each of `make test`'s
four workers compiled the same modules and rewrote the asserts of the same ~400 test
modules at once, on two cores: some 9 s of CPU each before the first test. Now as many workers as there are
cores collect first; the others wait until one of them is done, then find it all in
the folder (about 2.5 s each).
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import sysconfig
import tempfile
import threading
import time
from pathlib import Path
from typing import Final

SHARED_ENV: Final = "RASPY_TEST_BYTECODE"  # the folder this run made (not a user's)
WAIT_AT_MOST_S: Final = 90.0  # then collect anyway: a first worker that died
_PAUSE: Final = threading.Event()  # never set


def share() -> None:
    """In the run's first process: a bytecode folder for every process it starts."""
    if not os.environ.get("PYTHONDONTWRITEBYTECODE") or os.environ.get(
        "PYTHONPYCACHEPREFIX"
    ):
        return
    folder = tempfile.mkdtemp(prefix="raspy-test-bytecode-")
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    _link_installed(Path(folder))
    os.environ["PYTHONPYCACHEPREFIX"] = folder
    os.environ[SHARED_ENV] = folder
    del os.environ["PYTHONDONTWRITEBYTECODE"]


def _link_installed(folder: Path) -> None:
    """The installed bytecode of the standard library and the packages, where Python
    looks for it under a cache prefix (`folder` + the source's own folder)."""
    tag = f".{sys.implementation.cache_tag}.pyc"  # not the optimized .opt-N ones
    roots = {sysconfig.get_path(name) for name in ("stdlib", "purelib", "platlib")}
    for root in roots:
        for where, _, names in os.walk(root):
            if os.path.basename(where) != "__pycache__":
                continue
            mirror = folder / os.path.dirname(where).lstrip(os.sep)
            for name in names:
                if name.endswith(tag) and name.count(".") == 2:
                    mirror.mkdir(parents=True, exist_ok=True)
                    _link(Path(where, name), mirror / name)


def _link(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:  # another file system, or links not allowed: a copy
        shutil.copyfile(source, target)


def _worker() -> tuple[Path, int] | None:
    """(the shared folder, this pytest-xdist worker's number), if both."""
    folder = os.environ.get(SHARED_ENV)
    name = os.environ.get("PYTEST_XDIST_WORKER", "")  # gw0, gw1, ...
    if not folder or not name.startswith("gw") or not name[2:].isdigit():
        return None
    return Path(folder), int(name[2:])


def _first_workers() -> int:
    return max(1, len(os.sched_getaffinity(0)))


def wait_for_first_workers() -> None:
    """Before a worker collects: one beyond the first ones waits for their
    bytecode (bounded)."""
    worker = _worker()
    if worker is None or worker[1] < _first_workers():
        return
    folder = worker[0]
    deadline = time.monotonic() + WAIT_AT_MOST_S
    while not any(folder.glob(".collected-*")) and time.monotonic() < deadline:
        _PAUSE.wait(0.05)


def collected() -> None:
    """After a worker collected: its bytecode is in the folder."""
    worker = _worker()
    if worker is not None:
        (worker[0] / f".collected-{worker[1]}").touch()
