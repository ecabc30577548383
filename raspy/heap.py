"""The process heap under glibc: fewer malloc arenas, freed pages handed back.

glibc gives each new thread that allocates its own arena, up to eight per core, and an
arena keeps the pages it once used. raspyd runs some thirty threads (an actor each), so
its resident memory grows with the churn that touched the most threads, not with what
it holds: tools/soak.py, docs/PERFORMANCE.md "Heap arenas". Two arenas are plenty for
a process whose Python threads take turns under one interpreter lock. On another C
library both calls do nothing and say so.
"""

from __future__ import annotations

import ctypes
from typing import Any, Final

__all__ = ["ARENAS", "limit_arenas", "release_freed_memory"]

ARENAS: Final = 2
_M_ARENA_MAX: Final = -8  # glibc's malloc.h


def _libc_function(name: str) -> Any:
    try:
        return getattr(ctypes.CDLL(None), name)
    except (OSError, AttributeError):  # not glibc
        return None


_MALLOPT: Final = _libc_function("mallopt")
_MALLOC_TRIM: Final = _libc_function("malloc_trim")


def limit_arenas(count: int = ARENAS) -> bool:
    """At most `count` malloc arenas from now on; call it before threads start.
    False where the C library has no such setting."""
    if _MALLOPT is None:
        return False
    return bool(_MALLOPT(_M_ARENA_MAX, count))


def release_freed_memory() -> bool:
    """Give the heap's free pages back to the system; False where unknown."""
    if _MALLOC_TRIM is None:
        return False
    return bool(_MALLOC_TRIM(0))
