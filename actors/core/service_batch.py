"""ServiceBatch: `<host>.core.scenario`'s import of several documents (the
"documents" of a `raspy scenario import` of a file, or of several, as one request),
all or nothing: every document is checked as an import of one checks it (its base
class ServiceImports, `service_imports.py`), a name two of them take or one stored
without "replace" refused, before anything is done; one refused refuses the whole
request, naming it ("index", its source and line), and nothing is stored. Then the
texts that change are stored in ONE commit, and only then are their actors started,
replaced or switched (a running one whose new text disables it is stopped before,
so that its record of runs goes in that commit, and one whose new text only
restates it hands that record, under the new text, from its own thread, waiting
there until the commit is done). On the core's thread.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import TYPE_CHECKING, Final

import pykka
import structlog

from raspy.actors.core.service_imports import Planned, ServiceImports, to_store
from raspy.actors.core.store_failure import not_done
from raspy.errors import StoreError, StoreNotTaken, StoreOutcomeUnknown, quote
from raspy.rules import scenario_api as api

# the scenario engine loads with the first document read, not at the core's start
if TYPE_CHECKING:
    from raspy.rules import model

log = structlog.get_logger(component="core")

_HAND_S: Final = 5.0  # a running scenario's actor hands its record of runs


class ServiceBatch(ServiceImports):
    """The all-or-nothing import of several documents; CoreService's base."""

    def _import_all(self, request: api.Request) -> tuple[bytes, bytes]:
        """Several documents, all or nothing: each checked as _import checks one
        (one refused refuses all, nothing stored), the texts that change stored
        in ONE commit, and only then their actors started, replaced, switched."""
        planned = self._planned(request)
        changed = [p for p in planned if p.kind != "unchanged"]
        wall = self._core.links.clock.wall()
        if changed:
            names = [p.scenario.name for p in changed]
            try:
                self._store_all(changed, wall)
            except (StoreError, pykka.ActorDeadError, pykka.Timeout) as exc:
                if isinstance(exc, StoreOutcomeUnknown):
                    # it may land, all of it or none: taken as stored, every
                    # document (as a restating actor takes its new text, and a
                    # disabled one's stopped actor stays stopped); the next
                    # start reads the store
                    for each in changed:
                        self._took_effect(each, wall)
                raise not_done("import", names, exc) from None
        for each in changed:
            self._took_effect(each, wall)
        return api.ok({"documents": [p.reply for p in planned]})

    def _store_all(self, changed: list[Planned], wall: float) -> None:
        """The texts of `changed` in ONE commit, with the records of runs in a
        long wait of the running scenarios they touch: deleted for those an
        `enabled: false` turns off (their actors stopped before), written again
        under the new text's fingerprint for those whose text only restates
        them (each actor hands its own and waits for the commit, NewText). As two
        commits, a kill between them left a record naming the text before, and
        the next start named its runs lost. Raises the commit's error."""
        core = self._core
        ops = core.store.put_ops([to_store(p.scenario, p.text) for p in changed], wall)
        disabling = [
            p.scenario.name
            for p in changed
            if p.kind == "switch" and not p.scenario.enabled and p.old and p.old.ref
        ]
        outcome: Future[None] = Future()  # the restating actors wait on it
        try:
            along = self._records_along(changed, outcome)
            if disabling:
                core.stop_storing(disabling, ops, "disable", along=along)
            elif along:  # with the Clone server: the tree's keys are in it
                core.commit_dropping([], along, ops)
            else:
                core.store.commit(ops)
            outcome.set_result(None)
        except (StoreError, pykka.ActorDeadError, pykka.Timeout) as exc:
            outcome.set_exception(exc)  # not stored: they name the stored text
            raise
        finally:
            if not outcome.done():  # a bug: none takes a text not known stored
                outcome.set_exception(StoreError("the import failed"))

    def _records_along(
        self, changed: list[Planned], outcome: Future[None]
    ) -> list[tuple[bytes, bytes]]:
        """The records of runs in a long wait of the running scenarios whose new
        texts only restate them, each handed by its actor (on its own thread,
        which then waits for `outcome`, so that no record of its own comes
        between). One whose actor is gone when told has none (the tell raises);
        one that does not hand it in time, busy or stopped after the tell, fails
        the import at the deadline: nothing of it stored (StoreNotTaken)."""
        from raspy.actors import scenario_messages as scn  # loaded with the engine
        from raspy.rules.resume_record import fingerprint

        handed: list[tuple[str, _HandedRecord]] = []
        for each in changed:
            if each.kind != "restate" or each.old is None or each.old.ref is None:
                continue
            hand = _HandedRecord(outcome)
            try:
                each.old.ref.tell(scn.NewText(fingerprint(each.text), store=hand))
            except pykka.ActorDeadError:  # stopped meanwhile: no runs, no record
                continue
            handed.append((each.scenario.name, hand))
        along: list[tuple[bytes, bytes]] = []
        deadline = time.monotonic() + _HAND_S  # one for all: not _HAND_S each
        for name, hand in handed:
            along += hand.entries(name, deadline)
        return along

    def _planned(self, request: api.Request) -> list[Planned]:
        """Every document checked, nothing done; the first refused raises Refused
        with its "index" (from 0) added."""
        checked: list[tuple[str, str, model.Scenario]] = []
        where: dict[str, str] = {}  # the source of each name, for a second one
        for index, (text, source) in enumerate(request.documents):
            try:
                scenario = self._checked(text, source)
                if scenario.name in where:
                    raise _named_twice(scenario.name, text, source, where)
            except api.Refused as refused:
                refused.body["index"] = index
                raise
            where[scenario.name] = source
            checked.append((text, source, scenario))
        planned = []
        for index, (text, source, scenario) in enumerate(checked):
            one = api.Request(
                "import",
                document=text,
                source=source,
                replace=request.replace,
                others=frozenset(where) - {scenario.name},
            )
            try:
                planned.append(self._plan(one, scenario))
            except api.Refused as refused:
                refused.body["index"] = index
                raise
        return planned

    def _took_effect(self, planned: Planned, wall: float) -> None:
        """After the one commit of an all-or-nothing import: a document's text
        stored, its actor started, replaced or switched."""
        old, scenario = planned.old, planned.scenario
        if old is None or planned.kind == "new":
            self._install(scenario, planned.text, wall)
            return
        self._took_text(old, planned.text, wall)
        if planned.kind == "switch":  # stored, a disabled one's actor stopped
            self._core.set_enabled(scenario.name, scenario.enabled, stored=True)
        # a restate: its runs go on, their record written with the text


class _HandedRecord:
    """NewText's `store` for a running scenario whose text an import of several
    only restates: called on its actor's thread, it hands the record of its runs
    to the import, whose one commit stores it with the texts, and waits for that
    commit (its error raised, as NewText's store raises a failed commit's)."""

    def __init__(self, outcome: Future[None]) -> None:
        self._handed: Future[tuple[tuple[bytes, bytes], ...]] = Future()
        self._outcome = outcome

    def __call__(self, entries: Sequence[tuple[bytes, bytes]]) -> None:
        self._handed.set_result(tuple(entries))
        # as long as the import takes (other hands, the stops of those it
        # disables, its commit): _store_all settles it on every way out. A wait
        # of its own ended first, the actor took the text as maybe stored while
        # the import could still answer "not stored"
        self._outcome.result()

    def entries(self, name: str, deadline: float) -> tuple[tuple[bytes, bytes], ...]:
        """The record's entries, on the core's thread; StoreNotTaken when the
        actor did not hand them by `deadline` (time.monotonic's: _HAND_S after
        the import asked them all; busy, or stopped meanwhile): the import's
        commit is not made."""
        try:
            return self._handed.result(timeout=max(0.0, deadline - time.monotonic()))
        except FutureTimeout:
            log.error("scenario_record_not_handed", scenario=name)
            raise StoreNotTaken(
                f"scenario {name} did not hand its record of runs in {_HAND_S:g} s"
            ) from None


def _named_twice(
    name: str, text: str, source: str, where: dict[str, str]
) -> api.Refused:
    """A document of an all-or-nothing import taking the name of one before it."""
    from raspy.rules.document import problem_at  # on first use only

    return api.bad(
        f"{source}: not a valid scenario",
        problems=[
            problem_at(source, text, "name", f"{quote(name)} is also in {where[name]}")
        ],
    )
