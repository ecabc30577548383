"""ServiceBatch: `<host>.core.scenario`'s import of several documents (the
"documents" of a `raspy scenario import` of a file, or of several, as one request),
all or nothing: every document is checked as an import of one checks it (its base
class ServiceImports, `service_imports.py`), a name two of them take or one stored
without "replace" refused, before anything is done; one refused refuses the whole
request, naming it ("index", its source and line), and nothing is stored. Then the
texts that change are stored in ONE commit, and only then are their actors started,
replaced, switched or told their new text (a running one whose new text disables it
is stopped before, so that its record of runs goes in that commit). On the core's
thread.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pykka
import structlog

from raspy.actors.core.service_imports import Planned, ServiceImports, to_store
from raspy.errors import StoreError, StoreOutcomeUnknown, quote
from raspy.rules import scenario_api as api

# the scenario engine loads with the first document read, not at the core's start
if TYPE_CHECKING:
    from raspy.rules import model

log = structlog.get_logger(component="core")


class ServiceBatch(ServiceImports):
    """The all-or-nothing import of several documents; CoreService's base."""

    def _import_all(self, request: api.Request) -> tuple[bytes, bytes]:
        """Several documents, all or nothing: each checked as _import checks one
        (one refused refuses all, nothing stored), the texts that change stored
        in ONE commit, and only then their actors started, replaced, switched."""
        planned = self._planned(request)
        changed = [p for p in planned if p.kind != "unchanged"]
        wall = self._core.links.clock.wall()
        new = [to_store(p.scenario, p.text) for p in changed]
        # running scenarios an `enabled: false` turns off: their actors stopped
        # before the commit, which deletes their records of runs in a long wait
        disabling = [
            p.scenario.name
            for p in changed
            if p.kind == "switch" and not p.scenario.enabled and p.old and p.old.ref
        ]
        if new:
            try:
                ops = self._core.store.put_ops(new, wall)
                if disabling:
                    self._core.stop_storing(disabling, ops, "disable")
                else:
                    self._core.store.commit(ops)
            except StoreOutcomeUnknown as exc:  # taken: may still be stored
                raise api.Refused(
                    b"500",
                    {
                        "error": f"it is not known whether they were stored: {exc}"
                        " (raspyd's next start reads what the store holds)"
                    },
                ) from None
            except (StoreError, pykka.ActorDeadError, pykka.Timeout) as exc:
                error = str(exc) or type(exc).__name__
                raise api.Refused(
                    b"500", {"error": f"not stored: {error}", "nothing_stored": True}
                ) from None
        for each in changed:
            self._took_effect(each, wall)
        return api.ok({"documents": [p.reply for p in planned]})

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
        stored, its actor started, replaced, switched, or told its new text."""
        from raspy.actors import scenario_messages as scn  # loaded with the engine
        from raspy.rules.resume_record import fingerprint

        old, scenario = planned.old, planned.scenario
        if old is None or planned.kind == "new":
            self._install(scenario, planned.text, wall)
            return
        self._took_text(old, planned.text, wall)
        if planned.kind == "switch":  # stored, a disabled one's actor stopped
            self._core.set_enabled(scenario.name, scenario.enabled, stored=True)
        elif old.ref is not None:
            # restate: its runs go on, their record names the new text from now,
            # written after the commit (an import of one writes it with the text,
            # by the actor: a kill between the two here costs those runs, named
            # lost by the next start, never a text)
            old.ref.tell(scn.NewText(fingerprint(planned.text)))


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
