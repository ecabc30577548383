"""ScenarioActor: one enabled scenario, a thin shell over rules.engine.ScenarioCore.

It gets the Clone changes it cares about and its time triggers from the CoreActor,
writes Clone keys through the ClonePublisher (each recorded in the core's TreeView as
it is sent, so every scenario reads it at once), and sends MDP requests as an in-process
client through the outbox (peer `<owner>/r<id>`; the edge routes the replies back
here). It never asks the core (only tells), so the core may ask it. A failure inside
is logged with its cause and the actor carries on. Its messages, and those it tells
the core, are in scenario_messages.py.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Sequence
from typing import Any, Final

import pykka
import structlog

from raspy import json_text
from raspy.actors import messages as msgs
from raspy.actors.clone.publisher import ClonePublisher
from raspy.actors.scenario_messages import (
    ActionRefused,
    ClockStepped,
    KvChanged,
    NewText,
    RunawayDisabled,
    RunNow,
    RunRequested,
    RunsStopped,
    Startup,
    StatusReported,
    StopRuns,
    TextStored,
    TimeFired,
)
from raspy.actors.worker import (
    LocalClient,
    LocalReply,
    RejectedReply,
    UnroutableReply,
    local_peer_id,
)
from raspy.clock import Clock
from raspy.devices.template import JsonValue
from raspy.errors import StoreError, StoreOutcomeUnknown
from raspy.records import frozen
from raspy.rules import engine, resume_record
from raspy.rules import run as run_mod
from raspy.rules.manual_run import run_answer
from raspy.rules.model import RandomSource, Scenario, SunEvent, no_place
from raspy.rules.run_failures import RunFailures
from raspy.rules.tree_view import TreeView
from raspy.stats import Stats
from raspy.ticker import SharedTicker
from raspy.transport.outbox import Outbox

log = structlog.get_logger(component="scenario")

_ASK_TIMEOUT_S: Final = 5.0


@frozen
class ScenarioLinks:
    """What a scenario actor talks to."""

    core: pykka.ActorRef[Any]
    edge: pykka.ActorRef[Any]
    outbox: Outbox
    publisher: ClonePublisher
    ticker: SharedTicker
    clock: Clock
    stats: Stats


class ScenarioActor(pykka.ThreadingActor):
    """One enabled scenario; see the module docstring."""

    def __init__(
        self,
        scenario: Scenario,
        settings: engine.EngineSettings,
        links: ScenarioLinks,
        *,
        tree: TreeView,
        sun: Callable[[SunEvent, float], float | None],
        rng: RandomSource,
        status: engine.Status | None = None,
        version: str = "",
        sun_up: Callable[[float], bool | None] = no_place,
    ) -> None:
        super().__init__()
        self._name = scenario.name
        self._links = links
        self._version = version  # resume_record.fingerprint of the stored document
        # the runs in a long wait as last recorded, and the others a restart loses
        self._recorded: tuple[tuple[engine.Checkpoint, ...], int] = ((), 0)
        self._max_value_bytes = settings.max_value_bytes
        self._shutdown = False  # the core stops: the resume record stays
        self._keep_record = False  # the core deletes the resume record itself
        self._ended = False  # its last StopRuns came: every input is ignored
        self._tree = tree  # the core's view: kv() reads it, _publish sends through it
        self._failures = RunFailures(scenario.name)  # the same failure not said again
        self._core = engine.ScenarioCore(
            scenario,
            settings,
            kv=tree.kv,
            kv_size=tree.kv_size,
            sun=sun,
            rng=rng,
            status=status,
            sun_up=sun_up,
        )
        # the engine keeps its requests and their deadlines: ids are its own
        self._client: LocalClient[None] = LocalClient(
            links.outbox, local_peer_id(f"scenario.{uuid.uuid4().hex[:12]}")
        )

    def on_start(self) -> None:
        try:
            self._client.attach(self._links.edge, self.actor_ref, _ASK_TIMEOUT_S)
        except (pykka.ActorDeadError, pykka.Timeout):  # requests will time out: error
            log.exception("scenario_attach_failed", scenario=self._name)
        self._apply([engine.StatusChanged(self._core.status)])

    def on_stop(self) -> None:
        # what it would show is the core's to write (disabled, gone)
        self._core.stop(self._links.clock.monotonic())
        self._links.ticker.set(self.actor_ref, None)
        self._client.detach(self._links.edge)

    def on_receive(self, message: Any) -> Any:
        try:
            return self._receive(message)
        except Exception:  # one bad turn never ends the scenario (docs/style.md §4)
            self._links.stats.incr("core.scenario.errors")
            log.exception(
                "scenario_message_failed",
                scenario=self._name,
                kind=type(message).__name__,
            )
            return None

    def _receive(self, message: Any) -> Any:
        core, clock = self._core, self._links.clock
        mono, wall = clock.monotonic(), clock.wall()
        if self._ended:  # a Tick the ticker sent before, a late reply: on its way out
            log.debug("scenario_input_ignored", scenario=self._name)
            return None
        match message:
            case KvChanged(key=key, old=old, new=new, deleted=deleted):
                self._apply(core.on_kv(key, old, new, mono, wall, deleted=deleted))
            case TimeFired(index=index, scheduled_wall=scheduled):
                self._apply(core.on_time(index, scheduled, mono, wall))
            case msgs.Tick():
                self._apply(core.on_tick(mono, wall))
            case ClockStepped(delta_s=delta_s):
                self._apply(core.on_clock_step(delta_s, mono, wall))
            case msgs.MdpFrames(frames=frames, peer_id=peer_id):
                self._on_reply(peer_id, frames, mono, wall)
            case Startup(current=current, fire=fire, resume=resume, seen=seen):
                self._apply(
                    core.on_startup(
                        mono, wall, current, fire=fire, resume=resume, seen=seen
                    )
                )
            case RunNow(by=by, trigger=trigger):
                before = core.last_run_id
                outputs = core.run_now(mono, wall, by=by, trigger=trigger)
                self._apply(outputs)
                return run_answer(core.status, outputs, before)
            case StopRuns(shutdown=shutdown, last=last, keep_record=keep):
                self._shutdown = self._shutdown or shutdown
                self._keep_record = self._keep_record or keep
                outputs = core.stop(mono, wall, shutdown=self._shutdown)
                self._apply(outputs)
                if last:
                    self._ended = True
                    self._links.ticker.set(self.actor_ref, None)
                ended = sum(isinstance(o, engine.RunEnded) for o in outputs)
                return RunsStopped(core.status, ended)
            case ActionRefused(reason=reason):
                self._apply(core.action_refused(reason))
            case NewText(version=version, store=store):
                return self._new_text(version, store)
            case _:
                log.warning("unexpected_message", kind=type(message).__name__)
        return None

    def _on_reply(
        self, peer_id: bytes, frames: tuple[bytes, ...], mono: float, wall: float
    ) -> None:
        match self._client.reply(peer_id, frames):
            case LocalReply(request_id=request_id, body=body):
                self._apply(self._core.on_reply(request_id, body, mono, wall))
            case UnroutableReply():
                self._links.stats.incr("core.scenario.unroutable")
            case RejectedReply(error=error):
                log.warning("frame_rejected", scenario=self._name, reason=error.reason)

    # --- outputs ---------------------------------------------------------------------
    def _apply(self, outputs: list[engine.Output]) -> None:
        """Carry out a turn's outputs; one that fails is logged and the others go out
        all the same: a write that raised skipped the rest, the ticker among them,
        and the run's wait never ended."""
        for out in outputs:
            try:
                self._output(out)
            except Exception:
                self._links.stats.incr("core.scenario.errors")
                log.exception(
                    "scenario_output_failed",
                    scenario=self._name,
                    kind=type(out).__name__,
                )
        self._links.ticker.set(self.actor_ref, self._core.next_deadline())

    def _output(self, out: engine.Output) -> None:
        links = self._links
        match out:
            case run_mod.SetKey(key=key, value=value, ttl_s=ttl_s):
                self._publish(key, value, ttl_s)
            case run_mod.DeleteKey(key=key):
                self._publish(key, None, delete=True)
            case run_mod.PublishEvent(key=key, value=value):
                self._publish(key, value)
            case run_mod.SendRequest(
                request_id=request_id, service=service, body=body, deadline=at
            ):
                patience_s = max(0.0, at - links.clock.monotonic())
                name = service.encode("utf-8")
                self._client.send(request_id, name, body, patience_s)
            case run_mod.Log(level=level, message=text):
                # at the level the action names: a `level` field would be put
                # under the method's by the log's own processor
                emit = getattr(log, level)
                emit("scenario_logged", scenario=self._name, message=text)
            case run_mod.RunScenario(name=name):
                self._tell_core(RunRequested(name, self._name))
            case run_mod.StopScenario(name=name):
                self._tell_core(RunRequested(name, self._name, stop=True))
            case engine.StatusChanged(status=status):
                if status.state is engine.State.IDLE:  # a fault that ended, too
                    self._failures.succeeded()
                self._tell_core(StatusReported(self._name, status, self.actor_ref))
            case engine.Disabled(reason=reason):
                log.error("scenario_runaway", scenario=self._name, reason=reason)
                self._tell_core(RunawayDisabled(self._name, reason, self.actor_ref))
            case engine.RunEnded(taken_up_later=True):
                pass  # counted when it ends, after the next start takes it up
            case engine.RunEnded(error=error) if error is not None:
                links.stats.incr("core.scenario.failed_runs")
                self._failures.failed(error, links.clock.monotonic())
            case engine.RunEnded():
                links.stats.incr("core.scenario.runs")
                self._failures.succeeded()
            case engine.Skipped(reason=reason, dropped=dropped):
                if dropped:  # counted where a household looks (raspy status)
                    links.stats.incr("core.scenario.dropped")
                log.debug("scenario_skipped", scenario=self._name, reason=reason)
            case engine.Queued(waiting=waiting):
                log.debug("scenario_queued", scenario=self._name, waiting=waiting)
            case engine.Resumable(runs=runs, lost=lost) if not (
                self._shutdown or self._keep_record
            ):
                self._record(runs, lost)

    def _tell_core(self, message: object) -> None:
        """A report to the core; none once the core is stopping (it stops this actor
        from its on_stop and takes the state from StopRuns' answer): the rest of the
        turn's outputs still go out."""
        with contextlib.suppress(pykka.ActorDeadError):
            self._links.core.tell(message)

    def _new_text(
        self,
        version: str,
        store: Callable[[Sequence[tuple[bytes, bytes]]], None] | None,
    ) -> TextStored:
        """NewText: the record of the runs in a long wait names `version` from now
        on, written again with the text (`store`) or, without it, alone. A text
        not stored leaves it naming the stored one."""
        stored_version, self._version = self._version, version
        runs, lost = self._recorded
        if store is None:
            if runs:
                self._record(runs, lost)
            return TextStored()
        try:
            store([self._record_entry(runs, lost)] if runs else [])
        except StoreOutcomeUnknown as exc:  # it may land: the record names it
            return TextStored(str(exc), unknown=True)
        except (StoreError, pykka.ActorDeadError, pykka.Timeout) as exc:
            self._version = stored_version
            return TextStored(str(exc) or type(exc).__name__)
        return TextStored()

    def _record(self, runs: tuple[engine.Checkpoint, ...], lost: int = 0) -> None:
        """Keep the runs in a long wait where a start finds them (durable, as every
        key under /scenario/: two writes a wait), or forget them; `lost`: the other
        runs a restart would end, named lost by the start."""
        self._recorded = (runs, lost)
        key, body = self._record_entry(runs, lost)
        if body:
            self._links.publisher.set(key, body)
        else:
            self._links.publisher.delete(key)

    def _record_entry(
        self, runs: tuple[engine.Checkpoint, ...], lost: int
    ) -> tuple[bytes, bytes]:
        """The record's key and body under this version (an empty body: none to
        keep, the key is deleted)."""
        key = resume_record.resume_key(self._name).encode("utf-8")
        if not runs:
            return key, b""
        body, left_out = resume_record.encode(
            self._version, runs, self._max_value_bytes, lost
        )
        if left_out:
            log.warning(
                "scenario_resume_too_large",
                scenario=self._name,
                runs=len(runs),
                left_out=left_out,
            )
        return key, b"" if left_out == len(runs) else body

    def _publish(
        self, key: str, value: JsonValue, ttl_s: float = 0.0, *, delete: bool = False
    ) -> None:
        """A Clone write (`value` None is JSON null; only `delete` deletes), which
        every scenario's kv() reads from now on (TreeView.send); a key the tree
        refuses fails only this write (logged)."""
        body = b"" if delete else json_text.encode(value)
        raw, ttl = key.encode("utf-8"), ttl_s or None
        try:
            self._tree.send(
                key, body, lambda: self._links.publisher.update(raw, body, ttl_s=ttl)
            )
        except ValueError as exc:
            self._links.stats.incr("core.scenario.keys_refused")
            log.warning(
                "scenario_key_refused",
                scenario=self._name,
                key=key[:64],
                reason=str(exc),
            )
