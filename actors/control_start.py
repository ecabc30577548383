"""The controls' initial values (raspy.controls), written when raspyd starts.

A control's `initial` is written only where its key is absent from the tree, and
the check and the write are one step on the Clone I/O thread (set_if_unchanged,
expecting no value): a value the household set, or one a client writes at that
moment, is never overwritten.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pykka
import structlog

from raspy.actors.clone.server import set_if_unchanged
from raspy.controls import Control, body_of
from raspy.cores.clone import Guarded

log = structlog.get_logger(component="controls")


def write_initials(clone_ref: pykka.ActorRef[Any], controls: Sequence[Control]) -> int:
    """Write each control's initial value where its key is absent; how many were
    written. A server that does not answer is logged: the start goes on."""
    with_initial = [c for c in controls if c.initial is not None]
    if not with_initial:
        return 0
    groups = [
        Guarded(((c.key.encode(), 0),), ((c.key.encode(), body_of(c.initial)),))
        for c in with_initial
    ]
    try:
        skipped = set(set_if_unchanged(clone_ref, groups))
    except (pykka.ActorDeadError, pykka.Timeout) as exc:
        log.warning("control_initials_not_written", reason=repr(exc))
        return 0
    written = [c.key for i, c in enumerate(with_initial) if i not in skipped]
    if written:
        log.info("control_initials_written", keys=written, count=len(written))
    return len(written)
