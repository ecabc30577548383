"""RuntimeWatch: what the running supervisor watches of its own, under Runtime
(`runtime.py`): the store and the edge, which every service holds and which cannot be
restarted in place. The store damaged or closed, or its writer thread stuck in one
commit past supervisor.hung_after_s (an fsync on a dying SD card: every durable
write waits), or the edge's actor stopped, is `failed` and fatal; so is either
thread of the edge (its actor's, its I/O thread's) hung (raspy.hang_watch). Fatal: raspyd ends with status 1, for systemd to restart it.
A base class of Runtime, which sets the state below, so that a round's calls go
through no other object.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Final

import pykka

from raspy.actors import edge as edge_mod
from raspy.child_watch import report_failed
from raspy.cores import supervision
from raspy.cores.supervision import Failed, PartTracker
from raspy.hang_watch import Asked, Pulse, actor_ask, hung_threads
from raspy.stats import Stats
from raspy.storage.store import Store

EDGE: Final = "edge"
STORE: Final = "store"


class RuntimeWatch:
    """_check_core and what it decides (`_failed`, `_make_fatal`); Runtime sets the
    parts and the edge's proofs of life it reads, and the fatal state it sets."""

    store: Store
    edge: pykka.ActorRef[edge_mod.EdgeActor]
    stats: Stats
    core_trackers: dict[str, PartTracker]
    # why raspyd must exit (the edge or the store failed); None while all is well
    fatal: str | None
    fatal_event: threading.Event
    on_fatal: Callable[[], None] | None  # raspyd's main loop, woken at once
    _edge_io_asked: Asked[edge_mod.IoWatch]
    _edge_pulse: Pulse
    _edge_io_pulse: Pulse

    def _check_core(self, now: float) -> None:
        # a damaged store fails every part that reads it: fatal, never a restart loop
        damage = self.store.damage()
        edge_up = self._edge_alive()
        stuck = self._writer_stuck()
        store_up = damage is None and stuck is None and self.store.is_alive()
        down = {  # why each is down; None: it is up
            EDGE: None if edge_up else f"the {EDGE} stopped",
            STORE: None if store_up else damage or stuck or f"the {STORE} stopped",
        }
        for name, reason in down.items():
            decision = supervision.supervise(self.core_trackers[name], reason, now)
            if isinstance(decision, Failed):
                self._failed(decision)
        if edge_up:  # its actor's thread and its I/O thread take their messages
            io = self._edge_io
            hang = hung_threads(
                self._edge_pulse,
                actor_ask(self.edge),
                self._edge_io_pulse,
                None if io is None else io.ask,
                self.core_trackers[EDGE],
                now,
                self.stats,
            )
            if hang is not None:
                self._make_fatal(hang)

    def _writer_stuck(self) -> str | None:
        """Why the store's writer is stuck: on one commit past the hang bound (read
        without asking it: an idle writer is never busy); None while it is not. A
        map growth waiting for this process's read views to close is not stuck: it
        has a bound of its own (30 s), past which the write fails by itself."""
        bound = self.core_trackers[STORE].policy.hung_after_s
        busy_s = self.store.writer_busy_for_s()
        if busy_s <= bound or self.store.growth_waiting():
            return None
        return (
            f"the {STORE}'s writer thread is stuck in one commit for "
            f"{round(busy_s, 1):g} s (supervisor.hung_after_s = {bound:g})"
        )

    @property
    def _edge_io(self) -> edge_mod.IoWatch | None:
        """How the edge's I/O thread is watched, once the edge has said (taken at a
        round: _edge_alive); None until then."""
        return self._edge_io_asked.answer

    def _edge_alive(self) -> bool:
        """The edge's actor runs, and its I/O thread too once the edge has said how
        that is checked; until then its actor's alone. The edge's answer is looked
        at each round until it has come: a first answer later than a round (an edge
        busy at the start) is not the edge stopped, and no round waits on it. One
        that never comes is the edge actor's pulse's to see (its ping is answered
        after it): hung. An error is asked again."""
        if not self.edge.is_alive():
            return False
        io = self._edge_io_asked.poll()
        return io is None or io.check()

    def _failed(self, decision: Failed) -> None:
        report_failed(decision, self.stats)
        self._make_fatal(decision)

    def _make_fatal(self, decision: Failed) -> None:
        """A part raspyd cannot do without is given up: raspyd ends (status 1)."""
        if decision.fatal and self.fatal is None:
            verb = "hung" if decision.hung else "failed"
            self.fatal = f"{decision.name} {verb}: {decision.reason}"
            self.fatal_event.set()
            if self.on_fatal is not None:
                self.on_fatal()
