"""ServiceImports: `<host>.core.scenario`'s import, the base class of CoreService
(`service.py`).

A document is checked (loaded, its name not the reserved one, a sun trigger only where
the config gives a place: `validate` and the core's start check with it too), its
warnings found (what it names that is not there), and stored in one commit unless it
is the same text again: a changed `enabled:` line alone switches the scenario or leaves
its runs going, any other change is a new version, whose runs end. Several documents
(an import's "documents") are all checked first and stored in one commit, all or
nothing (service_batch.py). On the core's thread.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING, Final

import pykka

from raspy.actors.clone.server import COMMIT_ALONG_MAX_S
from raspy.actors.core.store_failure import not_done
from raspy.devices.reading import DEVICE_TREE
from raspy.devices.template import JsonValue
from raspy.errors import StoreError, StoreOutcomeUnknown, quote
from raspy.rules import scenario_api as api
from raspy.storage.scenario_records import MAIN
from raspy.storage.scenario_store import NewScenario, StoredScenario

# the scenario engine loads with the first document read, not at the core's start
if TYPE_CHECKING:
    from raspy.actors.core import CoreActor, Entry
    from raspy.rules import model

# the actor stores the text (NewText) with commit_along, which waits for the store
# to end its transaction (a slow card's sync): as long, and a little more, so that
# the answer says what the store holds (the hang watch ends a hub whose store is on
# one transaction for hung_after_s, 60 s by default, before); a restate among an
# import's documents waits on its actor's thread until the import's commit is
# settled, however long that takes (service_batch.py)
TEXT_STORED_S: Final = COMMIT_ALONG_MAX_S + 5.0
REPLACED_RUN_ERROR: Final = (
    "a run was cut short by an import of a new version; it was not resumed"
)


@dataclasses.dataclass(frozen=True)
class Planned:
    """One document of an import, checked: what becomes of it."""

    text: str
    scenario: model.Scenario
    old: Entry | None
    kind: str  # "new" (or a new version), "unchanged", "restate" or "switch"
    reply: dict[str, JsonValue]


class ServiceImports:
    """The import (and the check that validate and the start share) over a
    CoreActor's scenarios and store; CoreService sets `_core`."""

    _core: CoreActor

    def _import(self, request: api.Request) -> tuple[bytes, bytes]:
        core = self._core
        scenario = self._checked(request.document, request.source)
        old = core.entries.get(scenario.name)
        # compared here, on the core's one thread, before the write: no other
        # writer can come between (the web editor's Save over a text it showed,
        # and over the enabled state it showed: an enable changes no text)
        stored = None if old is None else old.stored.code
        api.guard(
            scenario.name,
            request.if_fingerprint,
            stored,
            enabled=None if old is None else old.stored.enabled,
            if_enabled=request.if_enabled,
        )
        planned = self._plan(request, scenario)
        try:
            self._import_one(planned)
        except (StoreError, pykka.ActorDeadError, pykka.Timeout) as exc:
            # named: the request of an import of one names no scenario
            raise not_done("import", [scenario.name], exc) from None
        return api.ok(planned.reply)

    def _import_one(self, planned: Planned) -> None:
        """What a checked document of an import of one does, at once."""
        text, scenario, old = planned.text, planned.scenario, planned.old
        match planned.kind:
            case "unchanged":
                # the same again (a restore of a backup, a Save of an unchanged
                # page): nothing stored, and its runs go on (a new version would
                # end them); "replaced" stays true, as the scenario exists: a
                # client from before "unchanged" printed "imported" for it
                pass
            case "restate":
                # an `enabled:` line added, dropped or reworded that says what the
                # scenario is already: the same scenario, its text stored (export
                # shows what was saved), its runs go on
                assert old is not None
                self._restate(old, scenario, text)
            case "switch":
                # a Save that only turned `enabled:` over is an enable or a
                # disable, not a new version: its runs end as a disable ends them
                assert old is not None
                self._switch(old, scenario, text)
            case _:
                self._store(scenario, text)

    def _plan(self, request: api.Request, scenario: model.Scenario) -> Planned:
        """What an import of one checked document does, not done yet (an import
        of one does it at once, of several after their one commit); Refused for a
        name stored already without replace. A document without `enabled:`
        replaces the text, not the user's choice."""
        from raspy.rules.document import problem_at, states_key  # on first use only

        old = self._core.entries.get(scenario.name)
        if old is not None and not request.replace:
            raise api.bad(
                f"a scenario named {scenario.name} exists (replace it with replace: true)",
                problems=[
                    problem_at(
                        request.source,
                        request.document,
                        "name",
                        f"{quote(scenario.name)} is already stored",
                    )
                ],
            )
        if old is not None and not states_key(request.document, "enabled"):
            scenario = dataclasses.replace(scenario, enabled=old.stored.enabled)
        reply = {**self._named(scenario, request), "replaced": old is not None}
        text = request.document
        kind = "new"
        if old is not None and old.scenario is not None:
            same_flag = scenario.enabled == old.stored.enabled
            if same_flag and api.same_document(text, old.stored.code):
                kind, reply["unchanged"] = "unchanged", True
            elif _only_enabled_differs(text, old.stored.code):
                kind = "restate" if same_flag else "switch"
                if same_flag:
                    reply["same_scenario"] = True
        return Planned(text, scenario, old, kind, reply)

    def _switch(self, old: Entry, scenario: model.Scenario, text: str) -> None:
        """Store `text`, which differs from the stored one only in its `enabled:`,
        and enable or disable the scenario as `enable`/`disable` do: a disable's
        text goes in the transaction that deletes the record of its runs in a
        long wait (set_enabled)."""
        if scenario.enabled:
            self._put_text(old, scenario, text)
            self._core.set_enabled(scenario.name, True, stored=True)
            return
        core = self._core
        wall = core.links.clock.wall()
        ops = core.store.put_ops([to_store(scenario, text)], wall)  # it says false
        try:
            core.set_enabled(scenario.name, False, text_ops=ops)
        except StoreOutcomeUnknown:
            # it may land: taken as stored, text and flag, as an import of
            # several takes it (its actor stays stopped); the reply says so
            self._took_text(old, text, wall)
            raise
        self._took_text(old, text, wall)  # stored (set_enabled raises if not)

    def _restate(self, old: Entry, scenario: model.Scenario, text: str) -> None:
        """Store `text`, which differs from the stored one only in an `enabled:`
        line that leaves the scenario as it is: its actor goes on, its record of
        runs in a long wait (which must name the stored text's fingerprint for a
        restart to take them up: rules.resume_start) written again in the text's
        own transaction, by the actor (scn.NewText), so that none of its own
        comes between. As two writes, a kill between them lost those runs."""
        from raspy.actors import scenario_messages as scn  # loaded with the engine
        from raspy.actors.clone.server import commit_along
        from raspy.rules.resume_record import fingerprint

        if old.ref is None:  # not running: no runs, no record
            self._put_text(old, scenario, text)
            return
        core = self._core
        wall = core.links.clock.wall()
        ops = core.store.put_ops([to_store(scenario, text)], wall)

        def store(entries: Sequence[tuple[bytes, bytes]]) -> None:
            commit_along(core.links.clone, entries, ops)  # StoreError's only

        asked = scn.NewText(fingerprint(text), store=store)
        answer = old.ref.ask(asked, timeout=TEXT_STORED_S)
        if not isinstance(answer, scn.TextStored):  # it stopped meanwhile
            self._put_text(old, scenario, text)
            return
        if answer.unknown:  # it may land: taken as stored, as the actor takes it
            self._took_text(old, text, wall)
            raise StoreOutcomeUnknown(answer.error or "")
        if answer.error is not None:
            # not stored (a write never taken among them): the actor's record
            # names the stored text again (it put its version back itself)
            raise StoreError(answer.error)
        self._took_text(old, text, wall)

    def _put_text(self, old: Entry, scenario: model.Scenario, text: str) -> None:
        """Store `text` as the scenario's, with its enabled state, in one commit;
        the entry's record takes the text (its flag is set_enabled's to change)."""
        wall = self._core.links.clock.wall()
        self._core.store.put(
            text, scenario.enabled, scenario.mode.value, wall, scenario.name
        )
        self._took_text(old, text, wall)

    @staticmethod
    def _took_text(old: Entry, text: str, wall: float) -> None:
        """The entry's record takes the text stored at `wall`."""
        record = old.stored
        old.stored = StoredScenario(
            record.name, text, record.enabled, record.mode, record.imported_at, wall
        )

    def _named(
        self, scenario: model.Scenario, request: api.Request
    ) -> dict[str, JsonValue]:
        """{"name"}, and "warnings" when there are any (validate and import)."""
        reply: dict[str, JsonValue] = {"name": scenario.name}
        warnings = self._warnings(
            scenario, request.document, request.source, request.others
        )
        if warnings:
            reply["warnings"] = warnings
        return reply

    def _warnings(
        self,
        scenario: model.Scenario,
        text: str,
        source: str,
        others: frozenset[str] = frozenset(),
    ) -> list[JsonValue]:
        """`source:line:col: warning: ...` of each device key the scenario names that
        the tree has nothing of now (rules.unmatched), of each `run:` or `stop:`
        naming a scenario neither stored nor among `others` (those imported along
        with it: rules.scenario_refs), and of each `http:` action
        when raspyd's `<host>.http` is off (rules.http_off), and of each secret an
        `http:` action names that the secrets file lacks (rules.secret_uses), and of
        each variable whose text holds a field never filled in
        (rules.variable_fields), and of each Jinja `{{ name }}` that writes the
        name in braces (rules.jinja_fields): a typo or a service turned off shows at the
        import, not months later as a scenario that never ran or a message that
        never came."""
        # loaded on first use only
        from raspy.rules.document import lazy_spots
        from raspy.rules.http_off import http_off_warnings
        from raspy.rules.jinja_fields import jinja_warnings
        from raspy.rules.scenario_refs import scenario_warnings
        from raspy.rules.secret_uses import secret_warnings, uses_secrets
        from raspy.rules.unmatched import device_warnings
        from raspy.rules.variable_fields import variable_warnings

        core = self._core
        spot = lazy_spots(text)  # the document composed once, for all of them
        found = device_warnings(
            scenario, text, core.host, core.tree.keys_under(DEVICE_TREE), spot
        )
        found += scenario_warnings(scenario, text, others | set(core.entries), spot)
        found += variable_warnings(scenario, text, spot)
        found += jinja_warnings(scenario, text, spot)
        if not core.http_service:
            found += http_off_warnings(scenario, text, spot)
        elif core.secrets is not None and uses_secrets(scenario):
            found += secret_warnings(scenario, text, core.secrets.load(), spot)
        return [
            f"{source}:{line}:{col}: warning: {message}"
            for line, col, message in sorted(found)
        ]

    def _store(self, scenario: model.Scenario, text: str) -> Entry:
        core = self._core
        wall = core.links.clock.wall()
        core.store.put(text, scenario.enabled, scenario.mode.value, wall, scenario.name)
        return self._install(scenario, text, wall)

    def _install(self, scenario: model.Scenario, text: str, wall: float) -> Entry:
        """A scenario whose text was stored at `wall`: its old version's actor
        stopped (its runs lost), the new one installed."""
        core = self._core
        old = core.entries.get(scenario.name)
        status = None
        if old is not None:
            cut = core.stop_actor(scenario.name)
            status = old.status  # as the stop left it: the run it cut is the trace
            if cut:
                status = core.run_lost(scenario.name, status, REPLACED_RUN_ERROR)
        imported = wall if old is None else old.stored.imported_at
        record = StoredScenario(
            scenario.name, text, scenario.enabled, scenario.mode.value, imported, wall
        )
        # a `for:` hold under way holds again from now, as after a restart (it was
        # lost: a window left open while its scenario was edited was never told)
        return core.install(record, status=status)

    def _checked(self, text: str, source: str) -> model.Scenario:
        """The loaded document, or Refused 400 with every problem."""
        from raspy.rules import model  # with the parser: the first document loads them
        from raspy.rules.document import DocumentError, load_scenario, problem_at

        try:
            scenario = load_scenario(text, source)
        except DocumentError as exc:
            raise api.bad(
                f"{source}: not a valid scenario", problems=list(exc.lines())
            ) from None
        problems: list[JsonValue] = []
        if scenario.name == MAIN:
            problems.append(
                problem_at(
                    source,
                    text,
                    "name",
                    f"{quote(MAIN)} is reserved for the core's records",
                )
            )
        if not self._core.config.has_location and any(
            isinstance(t, model.SunTrigger) for t in scenario.triggers
        ):
            problems.append(
                problem_at(
                    source,
                    text,
                    "triggers",
                    "a sun trigger needs [core] latitude and longitude in raspyd's"
                    " config: set them, then restart raspyd",
                    inner="sun",
                )
            )
        if problems:
            raise api.bad(f"{source}: not a valid scenario", problems=problems)
        return scenario


def to_store(scenario: model.Scenario, text: str) -> NewScenario:
    """What storing `text`, loaded as `scenario`, writes: its text and its conf."""
    return NewScenario(scenario.name, text, scenario.enabled, scenario.mode.value)


def _only_enabled_differs(new: str, stored: str) -> bool:
    """Whether two valid documents' texts differ in their top-level `enabled:`
    lines only (line breaks aside, as for the text stored already: one at the end
    or none, a `---` line that starts it)."""
    from raspy.rules.document_yaml import without_entry  # loaded on first use only

    left = without_entry(new, "enabled")
    right = without_entry(stored, "enabled")
    return left is not None and right is not None and api.same_document(left, right)
