"""StoredChanges: what a user's change of a scenario stores, and what becomes of
it when the store does not take it: an enable or a disable, a delete, each in ONE
transaction with the keys and records of runs it ends (stop_storing,
commit_dropping), a failure putting the scenario back as it ran (start_again), an
outcome the store has not ended taken as stored.

CoreActor's base class (actors/core/__init__.py) over ScenarioSet (scenario_set.py),
on the core's thread.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import pykka
import structlog

from raspy.actors.core.parts import Entry
from raspy.actors.core.scenario_set import FAILED_RUN_ERROR, ScenarioSet
from raspy.actors.core.status_keys import with_error
from raspy.errors import StoreError, StoreOutcomeUnknown
from raspy.storage.ops import Op
from raspy.storage.scenario_store import StoredScenario

log = structlog.get_logger(component="core")


class StoredChanges(ScenarioSet):
    """set_enabled, delete, stop_storing, commit_dropping, start_again: the
    scenarios' stored changes, as the core's service asks them."""

    def set_enabled(
        self,
        name: str,
        enabled: bool,
        *,
        reason: str | None = None,
        stored: bool = False,
        text_ops: Sequence[Op] = (),
    ) -> Entry:
        """Store the flag (unless `stored` already, with its text; `text_ops`: the
        text's records to store instead, the flag in them), start or stop the
        actor; `reason`: the runaway guard's. A disable of a running scenario
        stores its flag and deletes its record of runs in a long wait in ONE
        transaction, once its actor stopped keeping it: as two, a kill between
        them left a disabled scenario's record, and the next start named its run
        lost (`last_error`), where a disable ends it with none."""
        from raspy.rules.engine import State  # loaded with the entry

        entry = self.entries[name]
        wall = self.links.clock.wall()
        ops = list(text_ops) or self.store.set_enabled_ops(name, enabled, wall)
        running = entry.ref is not None
        if not enabled and running:
            try:
                self.stop_storing([name], ops, "disable", reason=reason)
            except StoreOutcomeUnknown:
                # it may land: taken as stored, as its actor stays stopped (the
                # flag kept on, the same text imported again stored nothing)
                self._took_flag(entry, enabled, wall)
                raise
        elif text_ops:
            self.store.commit(ops)
        elif not stored:
            self.store.set_enabled(name, enabled, wall)
        self._took_flag(entry, enabled, wall)
        if enabled and entry.ref is None and entry.scenario is not None:
            self._start_actor(entry, entry.scenario, startup=False)
        elif enabled and entry.scenario is None:
            # a text that no longer loads: enabled, it is in error again and says
            # why, as at a start (it stayed shown disabled, though stored enabled)
            _, error = self._service.load(entry.stored)
            self.show(entry, self._load_error(entry.status, error))
        elif not enabled and not running:  # else shown in the disable's commit
            status = with_error(entry.status, reason, self.links.clock, State.DISABLED)
            self.show(entry, status)
        return entry

    def _took_flag(self, entry: Entry, enabled: bool, wall: float) -> None:
        """The entry's record takes the flag stored (or maybe stored) at `wall`,
        the time the store was given."""
        record = entry.stored
        entry.stored = StoredScenario(
            record.name,
            record.code,
            enabled,
            record.mode,
            record.imported_at,
            wall,
        )

    def stop_storing(
        self,
        names: Sequence[str],
        ops: Sequence[Op],
        change: Literal["delete", "disable"],
        *,
        reason: str | None = None,
        along: Sequence[tuple[bytes, bytes]] = (),
    ) -> None:
        """Stop the actors of `names`, then store `ops` and delete their records of
        runs in a long wait (a delete: every key under /scenario/<name>/, asked
        once its actor stopped, so every write it sent is among them) in ONE
        transaction (with `along`, other tree keys to set); a disable with their
        state keys saying so (and why: `reason`, the runaway guard's): a state
        `running` left beside a disabled scenario, the next start named its run
        lost. A kill before it leaves each scenario
        as it was, its waiting runs taken up by the next start. On failure
        (StoreError, or pykka's: the Clone server gone) each actor starts again,
        shown as before, the runs it ended lost (FAILED_RUN_ERROR says so), and
        the error is raised."""
        from raspy.rules.engine import State
        from raspy.rules.resume_record import resume_key  # loaded with the entry

        cuts = {name: self.stop_actor(name, keep_record=True) for name in names}
        # as shown before: a failed disable leaves no guard's reason on a scenario
        # that runs on (changes() takes the new state as written)
        before = {
            name: (self.entries[name].status, dict(self.entries[name].written))
            for name in names
        }
        gone: list[str] = []
        sets = list(along)
        for name in names:
            entry = self.entries[name]
            if change == "delete":
                gone += self.keys.left_by(name)
                continue
            gone.append(resume_key(name))
            status = with_error(entry.status, reason, self.links.clock, State.DISABLED)
            sets += self.keys.changes(entry, status, lambda: None)
        try:
            self.commit_dropping(gone, sets, ops)
        except StoreOutcomeUnknown:
            # it may land: the scenarios stay stopped, as asked (started again, a
            # landed delete or disable would run on beside its stored state)
            log.error("scenario_change_unknown", scenarios=list(names), change=change)
            raise
        except (StoreError, pykka.ActorDeadError, pykka.Timeout):
            log.error("scenario_change_failed", scenarios=list(names), change=change)
            for name in names:
                entry = self.entries[name]
                entry.status, entry.written = before[name]
                self.start_again(
                    name, cuts[name], FAILED_RUN_ERROR.format(change=change)
                )
            raise

    def commit_dropping(
        self, gone: list[str], sets: list[tuple[bytes, bytes]], ops: Sequence[Op]
    ) -> None:
        """Delete the tree keys `gone`, set `sets` (an empty body deletes) and
        store `ops` in ONE transaction (commit_along's errors raised); the core's
        view then loses the keys deleted, and only then: one not stored stays
        in it, as in the tree. One the store has not ended (StoreOutcomeUnknown)
        is taken as stored, as the change it makes is: its keys leave the view
        (a scenario imported again under a deleted name took up the old one's
        counters and error from them)."""
        from raspy.actors.clone.server import commit_along

        deleted = [*gone, *(key.decode() for key, body in sets if not body)]
        try:
            commit_along(
                self.links.clone,
                [(key.encode("utf-8"), b"") for key in gone] + sets,
                ops,
            )
        except StoreOutcomeUnknown:
            self.keys.dropped(deleted)
            raise
        self.keys.dropped(deleted)

    def start_again(self, name: str, cut: bool, failed: str) -> None:
        """A change whose transaction failed: the scenario runs on from now, the
        runs its stop ended lost (their record deleted, no start takes them up)."""
        from raspy.rules.resume_record import resume_key  # loaded with the entry

        entry = self.entries[name]
        self.keys.delete([resume_key(name)])
        status = entry.status
        if cut:
            status = self.run_lost(name, status, failed)
        self.install(entry.stored, status=status)

    def delete(self, name: str) -> None:
        """Delete a stored scenario: its records and every key under
        /scenario/<name>/ (its record of runs in a long wait among them) in ONE
        transaction, once its actor has stopped, so that a kill leaves it whole
        (its waiting runs taken up at the next start) or gone, never a record of
        runs for a scenario no longer there (a scenario imported again under the
        name with the same text took them up). StoreError (or pykka's, the Clone
        server gone): not deleted, its actor started again, its runs lost.
        StoreOutcomeUnknown (it may land): taken as deleted, its actor stopped."""
        entry = self.entries[name]
        ops = self.store.delete_ops(name)
        try:
            if entry.ref is None:  # disabled, or not loadable: no runs, no record
                self.commit_dropping(self.keys.left_by(name), [], ops)
            else:
                self.stop_storing([name], ops, "delete")
        except StoreOutcomeUnknown:
            # kept, it was listed idle and enabled with no actor, while the
            # store would not hold it once the delete landed
            self.entries.pop(name, None)
            raise
        self.entries.pop(name, None)
