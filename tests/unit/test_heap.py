"""raspy.heap: the arena limit holds against a process's threads (glibc's own count)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from raspy import heap

# Eight threads each allocate from the C heap at once; glibc's malloc_info() then says
# how many arenas (<heap nr=...>) the process has. Run in a fresh interpreter: the
# test process already has arenas of its own.
_COUNT_ARENAS = """
import ctypes, sys, tempfile, threading
from raspy import heap
if sys.argv[1] == "limit":
    assert heap.limit_arenas()
held, ready = [], threading.Barrier(9)
def allocate():
    held.append(bytes(100_000))  # over pymalloc's limit: from malloc's arena
    ready.wait()
threads = [threading.Thread(target=allocate) for _ in range(8)]
for t in threads:
    t.start()
ready.wait()
libc = ctypes.CDLL(None)
libc.fopen.restype = ctypes.c_void_p
with tempfile.NamedTemporaryFile() as out:
    stream = libc.fopen(out.name.encode(), b"w")
    libc.malloc_info(0, ctypes.c_void_p(stream))
    libc.fclose(ctypes.c_void_p(stream))
    print(open(out.name).read().count("<heap nr="))
for t in threads:
    t.join()
"""


def _arenas(mode: str) -> int:
    done = subprocess.run(
        [sys.executable, "-c", _COUNT_ARENAS, mode],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return int(done.stdout)


@pytest.mark.timeout(60)
def test_threads_share_at_most_the_limit_of_arenas() -> None:
    assert _arenas("default") > heap.ARENAS  # glibc's own: an arena per thread
    assert _arenas("limit") <= heap.ARENAS
