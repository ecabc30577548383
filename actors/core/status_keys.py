"""The CoreActor's `/scenario/<name>/…` keys: a scenario's state written as it
changes, and deleted with the scenario (not an actor: the core's own part, on its
thread, the only writer of those keys so that their order is kept).

The core's view of the tree (TreeView) loses a deleted key at once, as the tree
does once the publisher's write is in (one the publisher refuses to send stays).
Which keys a deleted scenario leaves is asked of the Clone server, not of that
view: the view learns of a write once the server tells it, which may be after a
client saw it over TCP (the Clone I/O thread publishes, then tells the in-process
subscribers).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Collection, Iterable
from typing import TYPE_CHECKING

import structlog

from raspy import json_text
from raspy.actors.clone.publisher import ClonePublisher
from raspy.actors.core.parts import Entry
from raspy.clock import Clock
from raspy.errors import StoreError
from raspy.rules.raspy_keys import NEXT_FIRE, SCENARIO_TREE, STATE_KEYS
from raspy.rules.tree_view import TreeView

# the scenario engine loads with the first scenario, not at the core's start
if TYPE_CHECKING:
    from raspy.rules.engine import State, Status
    from raspy.rules.engine_output import ErrorFrom

log = structlog.get_logger(component="core")


ServedKeys = Callable[[str], Iterable[str]]
"""The keys the Clone server holds under a prefix, every in-process write sent
before the call included (raspy.actors.clone.server.read_tree's)."""


class StatusKeys:
    """See the module docstring."""

    def __init__(
        self, tree: TreeView, publisher: ClonePublisher, served: ServedKeys
    ) -> None:
        self._tree = tree
        self._publisher = publisher
        self._served = served

    def show(
        self, entry: Entry, status: Status, next_fire: Callable[[], float | None]
    ) -> None:
        """Remember a scenario's state and write what changed under /scenario/<name>/,
        and its `next_fire` (when its soonest time trigger fires, None for none)
        with them: a firing changes it, and its run's state in the same turn, so it
        goes in that one store commit."""
        changed = self.changes(entry, status, next_fire)
        # one message, so one store commit: a write a key at a time was cut into
        # several, and a power cut between them kept a state half written (a run's
        # `runs` without its `last_run`, a `last_error` without its time)
        refused = self._publisher.set_many(changed)
        for key, reason in refused:  # a [clone] max_key_bytes below a long name's
            log.warning("scenario_status_refused", key=key.decode(), reason=reason)
        # a deletion refused is not sent: the key stays in the tree, so in the view
        not_sent = {key for key, _ in refused}
        self.dropped(
            key.decode() for key, body in changed if not body and key not in not_sent
        )

    def changes(
        self, entry: Entry, status: Status, next_fire: Callable[[], float | None]
    ) -> list[tuple[bytes, bytes]]:
        """show()'s writes, for a caller that stores them in its own transaction
        (an empty body deletes): remembered as written (the caller puts back
        `entry.written` when they are not stored), a deletion kept in the core's
        view until the caller has it written (dropped()). A run's trace, which
        moves at every step, is in no key: when only it moved, nothing is built
        or compared."""
        from raspy.rules.status_entries import status_entries  # with the engine

        before = entry.status
        moved_trace_only = (
            status.run_trace != before.run_trace
            and dataclasses.replace(before, run_trace=status.run_trace) == status
        )
        entry.status = status
        if moved_trace_only:
            return []
        entries = status_entries(entry.stored.name, status)
        fire_key = f"{SCENARIO_TREE}{entry.stored.name}/{NEXT_FIRE}"
        at = next_fire()
        deleted: list[tuple[str, bytes]] = []
        if at is not None or _timed(entry):  # null while it is disabled
            # before `state`, which goes last (raspy_keys.STATE_KEYS)
            entries = {fire_key: json_text.encode(at), **entries}
        elif fire_key in entry.written or self._tree.kv_size(fire_key):
            # no time trigger (any more: a new version): no key, deleted first
            entry.written.pop(fire_key, None)
            deleted = [(fire_key, b"")]
        changed = [
            (key, body)
            for key, body in entries.items()
            if body and entry.written.get(key) != body
        ]
        entry.written.update(changed)
        return [(key.encode("utf-8"), body) for key, body in [*deleted, *changed]]

    def forget_orphans(self, names: Collection[str]) -> None:
        """Delete the tree keys of scenarios no longer stored (deleted from the store
        while raspyd was stopped): the web face and MQTT would show them for ever."""
        gone = sorted(
            key
            for key in self._tree.keys_under(SCENARIO_TREE)
            if key[len(SCENARIO_TREE) :].partition("/")[0] not in names
        )
        self.delete(gone)
        if gone:
            log.info("scenario_keys_forgotten", count=len(gone))

    def left_by(self, name: str) -> list[str]:
        """Every key under /scenario/<name>/ of a scenario being deleted: its state
        and the keys it wrote itself (those stayed until the next start's
        forget_orphans, so a hub that deletes scenarios and never restarts kept them
        for ever), its record of runs in a long wait among them. Its actor has
        stopped: every write it sent is in the server's answer."""
        prefix = f"{SCENARIO_TREE}{name}/"
        keys = {f"{prefix}{entry}" for entry in (*STATE_KEYS, NEXT_FIRE)}
        keys |= self._tree.keys_under(prefix)
        try:
            keys.update(self._served(prefix))
        except StoreError as exc:  # a store that cannot be read: the view's keys
            log.warning("scenario_keys_unread", name=name, reason=repr(exc))
        return sorted(keys)

    def dropped(self, keys: Iterable[str]) -> None:
        """Out of the core's view of the tree at once: deleted from the tree by the
        caller (with the scenario's records, in one transaction)."""
        for key in keys:
            self._tree.update(key, b"")

    def delete(self, keys: list[str]) -> None:
        """Out of the core's view of the tree at once, and out of the tree."""
        for key in keys:
            self._tree.update(key, b"")
            self._publisher.delete(key.encode("utf-8"))


def _timed(entry: Entry) -> bool:
    """Whether a scenario has a cron, at, every or sun trigger (one whose text no
    longer loads has none it runs)."""
    from raspy.rules.model import TimeTrigger  # with the engine

    scenario = entry.scenario
    return scenario is not None and any(
        isinstance(trigger, TimeTrigger) for trigger in scenario.triggers
    )


def with_state(status: Status, state: State) -> Status:
    """The same counters in another state."""
    return dataclasses.replace(status, state=state)


def with_error(
    status: Status,
    error: str | None,
    clock: Clock,
    state: State | None = None,
    source: ErrorFrom | None = None,
) -> Status:
    """`status` in `state` (None: State.ERROR); `error` (if any) replaces the last
    one, at the time now; `source` (if any) says where the state `error` came from."""
    if state is None:
        from raspy.rules.engine import State  # with the first scenario

        state = State.ERROR
    if source is not None:
        status = dataclasses.replace(status, error_from=source)
    if not error:
        return with_state(status, state)
    return dataclasses.replace(
        status, state=state, last_error=error, last_error_at=clock.wall()
    )
