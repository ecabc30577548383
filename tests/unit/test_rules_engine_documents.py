"""Generated documents (tests/support/scenario_documents.py), loaded and run by one
ScenarioCore as raspyd's scenario actor drives it: key changes and events, time
triggers from a TimeScheduler, ticks of the clock with steps of the wall clock back
and forward (big ones too), replies (200, 500, or none at all), manual runs, stops,
disable and enable; and what the runs do goes back into the tree.

The engine never raises, never runs more than its mode allows, leaves no deadline
behind a tick, and every run that started ends once (done, stopped or failed): by
itself once the clock passes every timeout, unless the document may wait for ever
(then a stop ends it)."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support.scenario_documents import EVENTS, KEYS, NAME, Generated, documents
from support.scenario_engine import (
    HOST,
    SEED,
    START_MONO,
    START_WALL,
    UTC_ZONE,
    no_sun,
)

from raspy.devices.template import JsonValue
from raspy.rules import engine, model, run
from raspy.rules.document import load_scenario
from raspy.rules.sun import SunLocation
from raspy.rules.timing_scheduler import Fired, TimeScheduler

STEP_LIMIT = 300
MAX_FEEDBACK = 40  # effects of the runs fed back into the tree, per input
MAX_DRAIN_STEPS = 5000
LOCATION = SunLocation(52.52, 13.405, UTC_ZONE)
_TIME_TRIGGERS = (
    model.CronTrigger,
    model.AtTrigger,
    model.EveryTrigger,
    model.SunTrigger,
)

values = st.one_of(
    st.none(),  # deleted
    st.just("null"),  # set to JSON null: no value (an offline board)
    st.booleans(),
    st.integers(-30, 30),
    st.floats(-30, 30, allow_nan=False),
    st.sampled_from(["open", "closed", "", "living"]),
)
changes = st.tuples(st.just("set"), st.sampled_from(KEYS), values)
ticks = st.tuples(st.just("tick"), st.floats(0, 120))
inputs = st.one_of(
    changes,
    changes,  # drawn more often: what fires a kv trigger
    changes,
    st.tuples(st.just("event"), st.sampled_from(EVENTS), values),
    ticks,
    ticks,
    st.tuples(st.just("tick"), st.sampled_from([3600.0, 86_400.0])),
    st.tuples(
        st.just("step"),  # the wall clock stepped: NTP, a correction, a 1970 boot
        st.sampled_from([-7200.0, -600.0, -2.0, 5.0, 4 * 3600.0, 400 * 86_400.0])
        | st.floats(-30 * 86_400, 30 * 86_400),
    ),
    st.tuples(st.just("reply"), st.sampled_from([b"200", b"500", b""])),
    st.tuples(st.just("manual")),
    st.tuples(st.just("stop")),
    st.tuples(st.just("disable")),
    st.tuples(st.just("enable")),
)


@dataclass
class Drive:
    """The owner of one ScenarioCore: its tree, clocks, scheduler and requests."""

    scenario: model.Scenario
    tree: dict[str, JsonValue] = field(default_factory=dict)
    rng: random.Random = field(default_factory=lambda: random.Random(SEED))
    mono: float = START_MONO
    wall: float = START_WALL
    outputs: list[engine.Output] = field(default_factory=list)
    pending: list[run.SendRequest] = field(default_factory=list)
    core: engine.ScenarioCore | None = None  # None: disabled
    status: engine.Status | None = None
    ended: list[tuple[int, int]] = field(default_factory=list)  # (core, run id)
    cores: int = 0  # ScenarioCores made so far: run ids are a core's own
    feeding: bool = True  # the runs' effects fire triggers (not while draining)

    def __post_init__(self) -> None:
        self.scheduler = TimeScheduler(UTC_ZONE, LOCATION)
        self.settings = engine.EngineSettings(
            HOST, UTC_ZONE, max_runs_per_minute=60, step_limit=STEP_LIMIT
        )
        if self.scenario.enabled:
            self.enable(fire=True)

    # --- the owner's side ------------------------------------------------------------
    def enable(self, *, fire: bool = False) -> None:
        if self.core is not None:
            return
        self.cores += 1
        self.core = engine.ScenarioCore(
            self.scenario,
            self.settings,
            kv=self.tree.get,
            sun=no_sun,
            rng=self.rng,
            status=self.status,
        )
        for index, trigger in enumerate(self.scenario.triggers):
            if isinstance(trigger, _TIME_TRIGGERS):
                self.scheduler.add(str(index), trigger, self.wall, self.mono)
        self.take(
            self.core.on_startup(self.mono, self.wall, self.tree.items(), fire=fire)
        )

    def disable(self) -> None:
        if self.core is None:
            return
        self.take(self.core.stop(self.mono))
        self.status = self.core.status
        self.core = None
        for index in range(len(self.scenario.triggers)):
            self.scheduler.remove(str(index))
        self.pending.clear()

    def take(self, outputs: list[engine.Output]) -> None:
        """Outputs as the actor applies them; the runs' writes change the tree."""
        work = list(outputs)
        fed = 0
        while work:
            out = work.pop(0)
            self.outputs.append(out)
            core = self.core
            if isinstance(out, run.SendRequest):
                self.pending.append(out)
            elif isinstance(out, engine.RunEnded) and out.run_id:
                self.ended.append((self.cores, out.run_id))
            elif isinstance(out, engine.Disabled):
                self.disable()
            elif core is None or fed >= MAX_FEEDBACK:
                continue
            elif isinstance(out, run.SetKey | run.PublishEvent):
                fed += 1
                work += self.write(out.key, out.value, deleted=False)
            elif isinstance(out, run.DeleteKey):
                fed += 1
                work += self.write(out.key, None, deleted=True)
            elif not self.feeding:  # draining: a `run: gen` would start a new run
                continue
            elif isinstance(out, run.RunScenario) and out.name == NAME:
                fed += 1
                work += core.run_now(self.mono, self.wall)
            elif isinstance(out, run.StopScenario) and out.name == NAME:
                fed += 1
                work += core.stop(self.mono)

    def write(
        self, key: str, value: JsonValue, *, deleted: bool
    ) -> list[engine.Output]:
        old = self.tree.get(key)
        if deleted:
            self.tree.pop(key, None)
        else:
            self.tree[key] = value
        if self.core is None or not self.feeding:
            return []
        return self.core.on_kv(key, old, value, self.mono, self.wall, deleted=deleted)

    # --- inputs ----------------------------------------------------------------------
    def step(self, kind: str, *arguments: object) -> None:
        if kind in ("set", "event"):
            key, value = arguments
            assert isinstance(key, str)
            if value == "null":
                self.take(self.write(key, None, deleted=False))
            else:
                self.take(self.write(key, value, deleted=value is None))  # type: ignore[arg-type]  # a JSON value
        elif kind == "tick":
            seconds = arguments[0]
            assert isinstance(seconds, float)
            self.mono += seconds
            self.wall += seconds
            self.tick()
        elif kind == "step":
            delta = arguments[0]
            assert isinstance(delta, float)
            self.wall += delta
            self.tick()
        elif kind == "reply" and self.pending and self.core is not None:
            request = self.pending.pop(0)
            status = arguments[0]
            assert isinstance(status, bytes)
            if status:  # none: the request times out
                body = (status,) if status == b"200" else (status, b"failed")
                self.take(
                    self.core.on_reply(request.request_id, body, self.mono, self.wall)
                )
        elif kind == "manual" and self.core is not None:
            self.take(self.core.run_now(self.mono, self.wall))
        elif kind == "stop" and self.core is not None:
            self.take(self.core.stop(self.mono))
        elif kind == "disable":
            self.disable()
        elif kind == "enable":
            self.enable()

    def tick(self) -> None:
        for due in self.scheduler.due(self.wall, self.mono):
            if isinstance(due, Fired) and self.core is not None:
                index = int(due.key)
                self.take(
                    self.core.on_time(
                        index, due.scheduled_wall_ts, self.mono, self.wall
                    )
                )
        if self.core is not None:
            self.take(self.core.on_tick(self.mono, self.wall))

    # --- what must hold --------------------------------------------------------------
    def check(self) -> None:
        core = self.core
        if core is None:
            return
        scenario = self.scenario
        limit = scenario.max_runs if scenario.mode is model.Mode.PARALLEL else 1
        assert core.running <= limit
        for out in self.outputs:
            if isinstance(out, engine.Queued):
                assert out.waiting + 1 <= scenario.max_runs
        deadline = core.next_deadline()
        assert deadline is None or deadline >= self.mono, "a deadline left behind"
        if core.running:
            assert core.status.state is engine.State.RUNNING
        assert len(self.ended) == len(set(self.ended)), "a run ended twice"

    def drain(self, steps: int = MAX_DRAIN_STEPS) -> bool:
        """Time goes on to each deadline, each request answered, nothing new fed;
        whether every run ended within `steps` (a `repeat: while` may go on for
        ever, a request after each reply)."""
        self.feeding = False
        core = self.core
        for _ in range(steps):
            if core is None or not core.running:
                return True
            if self.pending:
                request = self.pending.pop(0)
                self.take(
                    core.on_reply(request.request_id, (b"200",), self.mono, self.wall)
                )
                continue
            deadline = core.next_deadline()
            if deadline is None:
                return False  # waits for a change: only an open-ended document may
            self.mono = max(self.mono, deadline)
            self.wall += 1.0
            self.take(core.on_tick(self.mono, self.wall))
        return core is None or not core.running


def _drive(generated: Generated, sequence: list[tuple[object, ...]]) -> Drive:
    scenario = load_scenario(generated.text, "g.yaml")
    drive = Drive(scenario)
    drive.check()
    for kind, *arguments in sequence:
        assert isinstance(kind, str)
        drive.step(kind, *arguments)
        drive.check()
    return drive


@pytest.mark.timeout(60)
@settings(max_examples=100)
@given(documents(finite=True), st.lists(inputs, min_size=5, max_size=40))
def test_every_run_of_a_generated_document_ends_once_its_timeouts_pass(
    generated: Generated, sequence: list[tuple[object, ...]]
) -> None:
    drive = _drive(generated, sequence)
    assert drive.drain(), "runs still going after every timeout passed"
    _all_ended(drive)


@pytest.mark.timeout(60)
@settings(max_examples=60)
@given(documents(), st.lists(inputs, min_size=5, max_size=40))
def test_a_generated_document_that_may_wait_for_ever_stops(
    generated: Generated, sequence: list[tuple[object, ...]]
) -> None:
    drive = _drive(generated, sequence)
    drive.drain(steps=200)
    if drive.core is not None:
        drive.take(drive.core.stop(drive.mono))
    _all_ended(drive)


def _all_ended(drive: Drive) -> None:
    """No run left, none waiting, and as many ends as starts."""
    core = drive.core
    status = drive.status if core is None else core.status
    if core is not None:
        assert core.running == 0
        deadline = core.next_deadline()
        assert deadline is None or deadline >= drive.mono
        assert core.status.state is not engine.State.RUNNING
    assert len(drive.ended) == (0 if status is None else status.runs)
