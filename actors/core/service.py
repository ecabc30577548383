"""`<host>.core.scenario`: the CoreActor's requests (runs on the core's thread).

Parsing and the reply shapes are in rules.scenario_api; here each action is carried
out on the core's scenario set and store. Every store change is one commit before the
reply; a refused document changes nothing. An import (and validate's check) is its
base classes ServiceBatch (`service_batch.py`: several documents, all or nothing)
over ServiceImports (`service_imports.py`: one); here the dispatch, the other actions,
the replies' entries, and the stored scenarios loaded at the core's start.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Final

import pykka
import structlog

from raspy.actors.core.service_batch import ServiceBatch
from raspy.actors.core.service_imports import to_store
from raspy.actors.core.store_failure import not_done
from raspy.errors import ScenarioError, StoreError, did_you_mean, quote
from raspy.rules import scenario_api as api
from raspy.storage.scenario_store import StoredScenario

# The scenario engine (its model, states, messages) is imported where a scenario
# is at hand: a core with none answers `list` without loading it.
if TYPE_CHECKING:
    from raspy.actors.core import CoreActor, Entry
    from raspy.devices.template import JsonValue
    from raspy.rules import model
    from raspy.rules.engine import Status

log = structlog.get_logger(component="core")

_ASK_S: Final = 5.0
_MAX_PRELOAD_BYTES: Final = 1024 * 1024
_MAX_ERROR_CHARS: Final = 700  # an unloadable scenario's last_error: reason and hint


class _DocumentRefused(Exception):
    """A document of a preload file refused: which (1 from the file's start), why."""

    def __init__(self, number: int, reason: str) -> None:
        super().__init__(reason)
        self.number = number
        self.reason = reason


# a sun trigger on a hub without a place: the config is what to correct, not the
# text (its problem says how)
_PLACE_HINT: Final = " (kept, not running: its text is fine)"


def unloadable_error(name: str, reason: str, *, needs_place: bool = False) -> str:
    """last_error of a stored scenario whose text no longer loads: why, and how to
    put it right (the text stays stored, the scenario does not run): its text, or,
    `needs_place`, the config."""
    hint = _PLACE_HINT
    if not needs_place:
        hint = (
            f" (kept, not running: correct it and import it again: raspy scenario "
            f"export {name} > {name}.yaml, then raspy scenario import --replace "
            f"{name}.yaml)"
        )
    return reason[: _MAX_ERROR_CHARS - len(hint)] + hint


class CoreService(ServiceBatch):
    """The actions of core.scenario over a CoreActor's state."""

    def __init__(self, core: CoreActor) -> None:
        self._core = core

    def handle(self, frames: list[bytes]) -> tuple[bytes, bytes]:
        """Reply frames for one request; never raises."""
        try:
            request: api.Request | None = None
            try:
                request = api.parse(frames)
                return self._dispatch(request)
            except api.Refused as refused:
                return refused.reply()
            except (StoreError, pykka.ActorDeadError, pykka.Timeout) as exc:
                assert request is not None  # parse raises only Refused
                names = [request.name] if request.name else []
                return not_done(request.action, names, exc).reply()
        except Exception as exc:  # answer 500, keep serving
            self._core.links.stats.incr("core.service.failed")
            log.exception("core_request_failed")
            return b"500", api.encode(
                {"error": f"internal error: {type(exc).__name__}"}
            )

    def _dispatch(self, request: api.Request) -> tuple[bytes, bytes]:
        core = self._core
        match request.action:
            case "list":
                return api.ok([self._entry(e) for _, e in sorted(core.entries.items())])
            case "validate":  # the import's warnings too, nothing stored
                scenario = self._checked(request.document, request.source)
                return api.ok(self._named(scenario, request))
            case "import" if request.documents:  # several: all or nothing
                return self._import_all(request)
            case "import":
                return self._import(request)
        entry = core.entries.get(request.name)
        if entry is None:
            close = did_you_mean(request.name, core.entries)  # a typo's next step
            raise api.Refused(
                b"404", {"error": f"no scenario named {quote(request.name)}{close}"}
            )
        # a stored scenario's actions: the engine was loaded with its entry
        from raspy.actors import scenario_messages as scn
        from raspy.rules.manual_run import RunAnswer

        match request.action:
            case "get":  # the trace here only: a list of every scenario stays small
                trace: list[JsonValue] = list(entry.status.last_trace)
                under_way: list[JsonValue] = list(entry.status.run_trace)
                return api.ok(
                    {
                        **self._entry(entry),
                        "last_trace": trace,
                        "run_trace": under_way,
                        "document": entry.stored.code,
                    }
                )
            case "delete":
                api.guard(
                    request.name,
                    request.if_fingerprint,
                    entry.stored.code,
                    enabled=entry.stored.enabled,
                )
                core.delete(request.name)
                return api.ok({"name": request.name, "state": "deleted"})
            case "enable" | "disable":
                entry = core.set_enabled(request.name, request.action == "enable")
                if request.action == "enable" and entry.scenario is None:
                    # its stored text no longer loads: enabled, it does not run
                    return api.ok(
                        {
                            "name": request.name,
                            "state": self._state(entry),
                            "not_running": entry.status.last_error,
                        }
                    )
            case "run":
                if entry.ref is None:
                    raise api.bad(
                        f"scenario {request.name} is {entry.status.state.value}"
                    )
                index = _trigger_index(entry, request.trigger)
                answer = entry.ref.ask(scn.RunNow(trigger=index), timeout=_ASK_S)
                assert isinstance(answer, RunAnswer)
                core.show(entry, answer.status)
                reply = {"name": request.name, "state": self._state(entry)}
                if answer.not_started is not None:
                    # the mode kept it from starting: done as asked, so 200, but
                    # saying so (the state alone reads as if this run started)
                    return api.ok({**reply, "not_started": answer.not_started})
                if answer.queued is not None:  # it waits its turn (mode queued)
                    return api.ok({**reply, "queued": answer.queued})
                if answer.failed is not None:  # this run, not one before it
                    return api.ok({**reply, "failed": answer.failed})
                if answer.done:  # over already: the state may be another run's
                    return api.ok({**reply, "done": True})
            case "stop":
                if entry.ref is not None:
                    core.show(
                        entry, _stopped(entry.ref.ask(scn.StopRuns(), timeout=_ASK_S))
                    )
        return api.ok({"name": request.name, "state": self._state(entry)})

    def load(self, record: StoredScenario) -> tuple[model.Scenario | None, str | None]:
        """A stored text as a Scenario, or None and why it no longer loads."""
        try:
            return self._checked(record.code, f"scenario {record.name}"), None
        except api.Refused as refused:
            reason = api.refusal_text(refused, problems_only=True)
            log.error("scenario_unloadable", scenario=record.name, reason=reason)
            # a text stored by an older raspy may fail a check added since: say what
            # to do, the text being kept as it was
            return None, unloadable_error(
                record.name,
                reason or str(refused.body.get("error")),
                needs_place=self._needs_place_only(record),
            )

    def _needs_place_only(self, record: StoredScenario) -> bool:
        """Whether a refused stored text would load on a hub with a place: a valid
        document, not named `main`, with a sun trigger, on a hub without one."""
        if self._core.config.has_location:
            return False
        from raspy.rules import model  # loaded with the scenario that failed
        from raspy.rules.document import DocumentError, load_scenario
        from raspy.storage.scenario_records import MAIN

        try:
            scenario = load_scenario(record.code, f"scenario {record.name}")
        except DocumentError:
            return False
        return scenario.name != MAIN and any(
            isinstance(t, model.SunTrigger) for t in scenario.triggers
        )

    def stored_at_start(self) -> list[StoredScenario]:
        """The stored scenarios as the core's start loads them: the main record
        (the zone and place they run in) written first, the preload folder's
        examples stored at the first start, unreadable records logged."""
        core = self._core
        config = core.config
        core.store.write_main_conf(
            {
                "timezone": str(core.tz.key),
                "latitude": config.latitude,
                "longitude": config.longitude,
                "max_runs_per_minute": config.max_runs_per_minute,
            }
        )
        stored, problems = core.store.load()
        names = {record.name for record in stored}
        if self.preload(config.preload_dir, names):
            stored, problems = core.store.load()  # the first start: with the examples
        for problem in problems:
            log.error("scenario_record_unreadable", reason=problem)
        return stored

    def preload(self, folder: str, stored: set[str]) -> int:
        """Import the scenarios of each `*.yaml` of `folder` (one document, or a
        YAML stream of several, as `raspy scenario import` reads it) whose names
        are not in `stored` yet, each file in one commit: one with a document
        refused stores none. Return how many were stored."""
        if not folder:
            return 0
        stored = set(stored)
        added = 0
        for path in sorted(Path(folder).glob("*.yaml")):
            try:
                new = [
                    to_store(s, code)
                    for code, s in self._preload_file(path)
                    if s.name not in stored
                ]
                if new:
                    self._core.store.put_many(new, self._core.links.clock.wall())
            except _DocumentRefused as refused:
                log.error(
                    "scenario_preload_refused",
                    path=path.name,
                    document=refused.number,
                    reason=refused.reason,
                )
                continue
            except (OSError, UnicodeError, ScenarioError, StoreError) as exc:
                log.error("scenario_preload_failed", path=path.name, reason=str(exc))
                continue
            for each in new:
                stored.add(each.name)
                added += 1
                log.info("scenario_preloaded", scenario=each.name, path=path.name)
        return added

    def _preload_file(self, path: Path) -> list[tuple[str, model.Scenario]]:
        """Every document of a preload file with its scenario, checked as an import
        checks one; _DocumentRefused for the first refused (its problems at the
        file's lines), or one that takes a name an earlier one has."""
        from raspy.rules.scenario_stream import name_place, shift_problem, split_stream

        data = path.read_bytes()
        if len(data) > _MAX_PRELOAD_BYTES:
            raise ScenarioError(f"{path.name}: over {_MAX_PRELOAD_BYTES} bytes")
        found: list[tuple[str, model.Scenario]] = []
        names: dict[str, str] = {}  # where each name is, as a place in the file
        for number, piece in enumerate(split_stream(data.decode("utf-8")), 1):
            try:
                scenario = self._checked(piece.text, path.name)
            except api.Refused as refused:
                problems = refused.body.get("problems")
                lines = problems if isinstance(problems, list) and problems else []
                reason = "; ".join(
                    shift_problem(str(p), path.name, piece.first_line) for p in lines
                )
                raise _DocumentRefused(
                    number, reason or api.refusal_text(refused)
                ) from None
            at = name_place(piece.text, path.name, piece.first_line)
            if scenario.name in names:
                raise _DocumentRefused(
                    number,
                    f"{at}: {quote(scenario.name)} is also used in "
                    f"{names[scenario.name]}",
                )
            names[scenario.name] = at
            found.append((piece.text, scenario))
        return found

    def _entry(self, entry: Entry) -> dict[str, JsonValue]:
        from raspy.rules.status_entries import shown_skip, shown_trigger  # an entry's

        status, scenario = entry.status, entry.scenario
        return {
            "name": entry.stored.name,
            "description": "" if scenario is None else scenario.description,
            "enabled": entry.stored.enabled,
            "state": self._state(entry),
            "mode": entry.stored.mode,
            "last_run": status.last_run,
            "last_trigger": shown_trigger(status.last_trigger),
            "runs": status.runs,
            "last_error": status.last_error,
            "last_error_at": status.last_error_at,
            "last_skip": shown_skip(status.last_skip),
            # the zone its times are the hub's local time in, for `raspy scenario
            # show` and `list` on another machine: in each entry, so that the
            # list stays the bare list older clients read (and a list with no
            # entry has no time to show)
            "timezone": str(self._core.tz.key),
            "next_fires": self._next_fires(entry),
        }

    def _next_fires(self, entry: Entry) -> list[JsonValue]:
        """When its cron, at, every and sun triggers fire next (a running
        scenario's): `{"trigger": index, "id", "kind", "label", "at": epoch s}`
        each (label: `sunset -15m` for a sun trigger, else its kind), for
        `show` and the web card (a time trigger cannot be watched as a key is)."""
        scenario = entry.scenario
        if scenario is None or entry.ref is None:
            return []
        from raspy.rules.trigger_match import kind_of, trigger_label  # a scenario's

        fires: list[JsonValue] = []
        for index, at in self._core.timers.next_fires(scenario):
            trigger = scenario.triggers[index]
            fires.append(
                {
                    "trigger": index,
                    "id": getattr(trigger, "id", "") or None,
                    "kind": kind_of(type(trigger)),
                    "label": trigger_label(trigger),  # a sun trigger's event too
                    "at": at,
                }
            )
        return fires

    @staticmethod
    def _state(entry: Entry) -> str:
        from raspy.rules.engine import State  # an entry's: loaded with it

        if not entry.stored.enabled:
            return State.DISABLED.value
        return entry.status.state.value


def _stopped(answer: object) -> Status:
    from raspy.actors import scenario_messages as scn  # a scenario's: loaded with it

    assert isinstance(answer, scn.RunsStopped)
    return answer.status


def _trigger_index(entry: Entry, trigger_id: str | None) -> int | None:
    """The index of the trigger a run is tried as (`run` with "trigger"; None: a
    manual run); an id the scenario has not is refused, naming those it has, and
    one several triggers share, naming them (which one was meant is not known)."""
    if trigger_id is None or entry.scenario is None:
        return None
    from raspy.rules.trigger_match import kind_of  # a scenario's: loaded with it

    name, triggers = entry.stored.name, entry.scenario.triggers
    ids = [getattr(t, "id", "") for t in triggers]
    found = [n for n, i in enumerate(ids) if i and i == trigger_id]
    if len(found) == 1:
        return found[0]
    if found:
        which = ", ".join(f"{n + 1} ({kind_of(type(triggers[n]))})" for n in found)
        raise api.bad(
            f"scenario {name} has {len(found)} triggers with id {quote(trigger_id)}"
            f" (triggers {which}): give each its own id to run it as one of them"
        )
    known = ", ".join(quote(i) for i in dict.fromkeys(ids) if i)
    has = f"its trigger ids: {known}" if known else "none of its triggers has an id"
    raise api.bad(f"scenario {name} has no trigger with id {quote(trigger_id)} ({has})")
