"""A part hung in a real runtime: its thread blocked in a handler on an Event the
test holds. It was `running` to the supervisor, to systemd's watchdog (healthy())
and to `raspy status`; now it is `hung` past supervisor.hung_after_s, and the
runtime is fatal (raspyd ends on it: tests/e2e/test_raspyd_supervision.py). So is
the edge or the Clone server whose I/O thread is blocked in a command: their actor
answered its ping while their real work had stopped."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pykka
import pytest
from pykka.messages import ProxyCall
from support.busy_actor import Hold, hold_busy
from support.hung_runtime import hung_after, rounds_after, started
from support.wait import wait_until

from raspy.actors import messages as msgs
from raspy.actors import supervisor
from raspy.actors.runtime import CLONE
from raspy.actors.runtime_watch import EDGE
from raspy.actors.scenario import ScenarioActor
from raspy.client.mdp import Client
from raspy.cores.supervision import PartState

RELEASE = threading.Event()  # set at the end: nothing stays blocked


class Block:
    pass


class Blocks(pykka.ThreadingActor):
    def on_receive(self, message: Any) -> Any:
        if isinstance(message, Block):
            RELEASE.wait(30)


class BlocksTells:
    """Stands in for an actor's ref in a command to an I/O thread: what that thread
    tells it blocks the thread on the test's Event (a read that never returns)."""

    actor_urn = "urn:test:blocks-tells"  # a watcher's name (UnwatchServices)

    def tell(self, message: object) -> None:
        RELEASE.wait(30)


def _runtime(tmp_path: Path, text: str) -> Iterator[supervisor.Runtime]:
    RELEASE.clear()
    rt = started(tmp_path, text)
    try:
        yield rt
    finally:
        RELEASE.set()
        rt.stop()


@pytest.fixture
def runtime(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[supervisor.Runtime]:
    hung_after(monkeypatch, 1.0)
    yield from _runtime(tmp_path, "[clone]\nenabled = false\n")


@pytest.fixture
def with_clone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[supervisor.Runtime]:
    # a bound of 2 s: the Clone server's followers start too, on a shared machine
    hung_after(monkeypatch, 2.0)
    yield from _runtime(tmp_path, "")


def _status_rows(endpoint: str) -> dict[str, list[str]]:
    """`raspy status`, its rows by part."""
    result = subprocess.run(
        [sys.executable, "-m", "raspy.cli.raspy", "status", "--server", endpoint],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    rows = [line.split() for line in result.stdout.splitlines()[1:]]
    return {row[0].removeprefix("testhost."): row for row in rows}


@pytest.mark.timeout(60)
def test_a_part_blocked_in_a_handler_is_hung_shown_and_fatal(
    runtime: supervisor.Runtime,
) -> None:
    ref = runtime.call(lambda: runtime.add_child("bus", Blocks.start).ref)
    assert isinstance(ref, pykka.ActorRef)
    ref.tell(Block())
    wait_until(runtime.fatal_event.is_set, what="the hung part fatal", timeout_s=20)
    status = runtime.status_of("bus")
    assert status is not None
    assert status.state is PartState.HUNG
    assert status.reason.startswith("no answer to a ping for ")
    assert runtime.fatal is not None
    assert runtime.fatal.startswith("bus hung: no answer to a ping for ")
    assert not runtime.healthy()  # the watchdog is no longer pinged
    assert runtime.summary() == "bus hung"
    assert runtime.status_of("echo").state is PartState.RUNNING  # type: ignore[union-attr]

    def shown() -> bool:
        row = _status_rows(runtime.mdp_endpoint).get("bus")
        return row is not None and row[1] == "hung"

    wait_until(shown, what="raspy status to show bus hung", timeout_s=20)


@pytest.mark.timeout(60)
def test_an_edge_whose_io_thread_is_blocked_is_hung_and_fatal(
    runtime: supervisor.Runtime,
) -> None:
    # the command runs on the edge's I/O thread: it tells the watcher every
    # available service at once (echo's, among others), and blocks there
    runtime.edge.tell(msgs.WatchServices(BlocksTells()))  # type: ignore[arg-type]
    wait_until(runtime.fatal_event.is_set, what="the hung edge fatal", timeout_s=20)
    assert runtime.edge.is_alive()  # its actor still answers
    status = runtime.status_of(EDGE)
    assert status is not None
    assert status.state is PartState.HUNG
    assert status.reason.startswith("no answer from its I/O thread for ")
    assert runtime.fatal is not None
    assert runtime.fatal.startswith("edge hung: no answer from its I/O thread for ")
    assert not runtime.healthy()
    assert runtime.summary() == "edge hung"


@pytest.mark.timeout(60)
def test_a_clone_server_whose_io_thread_is_blocked_is_hung_and_fatal(
    with_clone: supervisor.Runtime,
) -> None:
    runtime = with_clone
    clone = runtime.ref_of(CLONE)
    assert clone is not None
    blocks = msgs.CloneSubscribe(b"/test/", BlocksTells())  # type: ignore[arg-type]
    clone.ask(blocks, timeout=10)
    publisher = runtime.publisher
    assert publisher is not None
    publisher.set(b"/test/key", b"1")  # its KeyChanged, told on the I/O thread, blocks
    wait_until(runtime.fatal_event.is_set, what="the hung Clone server", timeout_s=30)
    assert clone.is_alive()  # its actor still answers
    status = runtime.status_of(CLONE)
    assert status is not None
    assert status.state is PartState.HUNG
    assert status.reason.startswith("no answer from its I/O thread for ")
    assert runtime.fatal is not None
    assert runtime.fatal.startswith("clone hung: no answer from its I/O thread for ")
    assert runtime.summary() == "clone hung"


EDGE_BUSY_S = 4.0  # longer than the 2 s the supervisor waited for the edge's answers
ROUNDS_WHILE_BUSY = 3  # 1.5 s of rounds


@pytest.mark.timeout(60)
def test_an_edge_busy_at_the_first_round_is_not_taken_for_stopped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first round asked the edge, waiting 2 s each, how its I/O thread is
    checked and asked: an edge actor busy longer then (its start's work, a slow
    Pi) read as the edge stopped, and raspyd ended. Now it is asked without
    waiting, and the answer is taken when it comes. The edge is made busy before
    it is asked (its answer then comes after the busy time), and the rounds are
    started right after the ask, while the start waits: they go on while the edge
    is busy, and take its answer once it has come."""
    real_track = supervisor.Runtime.track_core_parts
    real_watch = supervisor.Runtime.watch
    seen: dict[str, object] = {}

    def busy_first(rt: supervisor.Runtime) -> None:
        wait = ProxyCall(
            attr_path=("actor_stopped", "wait"), args=(EDGE_BUSY_S,), kwargs={}
        )
        told_at = time.monotonic()
        rt.edge.tell(wait)  # its thread waits on an Event never set
        real_track(rt)  # asks the edge how its I/O thread is watched
        real_watch(rt)  # the rounds, now: the start waits here meanwhile
        try:
            rounds_after(rt, ROUNDS_WHILE_BUSY)
        except AssertionError as exc:  # said by the test, after the start
            seen["rounds"] = str(exc)
        seen["busy_left_s"] = EDGE_BUSY_S - (time.monotonic() - told_at)
        seen["watch_while_busy"] = rt._edge_io
        seen["fatal_while_busy"] = rt.fatal

    monkeypatch.setattr(supervisor.Runtime, "track_core_parts", busy_first)
    monkeypatch.setattr(supervisor.Runtime, "watch", lambda rt: None)  # started
    for runtime in _runtime(tmp_path, "[clone]\nenabled = false\n"):
        assert "rounds" not in seen, seen["rounds"]
        busy_left_s = seen["busy_left_s"]
        assert isinstance(busy_left_s, float)
        assert busy_left_s > 0, "the rounds came only once the edge was free"
        assert seen["watch_while_busy"] is None  # no answer yet: not waited for
        assert seen["fatal_while_busy"] is None
        rounds_after(runtime, 3)  # the edge answered before the start's Settle
        assert runtime._edge_io is not None  # taken at a round
        assert runtime.fatal is None
        status = runtime.status_of(EDGE)
        assert status is not None
        assert status.state is PartState.RUNNING


LAMP = """\
name: lamp
triggers:
  - event: /event/lamp
actions:
  - set: /house/lamp
    value: true
"""


@pytest.fixture
def scenario_hold(monkeypatch: pytest.MonkeyPatch) -> Iterator[Hold]:
    """A scenario actor told Busy is blocked in that handler until the test lets it
    go, at the latest before the runtime stops (a handler that waited a fixed 10 s
    held each test, and its stop, that long)."""
    held = hold_busy(monkeypatch, ScenarioActor)
    yield held
    held.release.set()


@pytest.mark.timeout(90)
def test_a_scenario_actor_blocked_in_a_handler_is_the_core_hung_and_fatal(
    with_clone: supervisor.Runtime, scenario_hold: Hold
) -> None:
    """The core answered its ping while one of its scenario actors was stuck in a
    handler: that scenario had stopped acting and all read healthy. Now each
    scenario actor is pinged as the core is, and one silent past the bound makes the
    core hung (raspyd ends, as for any part hung), the log and a counter naming it."""
    runtime = with_clone
    document = json.dumps({"v": 1, "action": "import", "document": LAMP})
    with Client(runtime.mdp_endpoint, timeout_s=10, retries=1) as client:
        assert client.request("testhost.core.scenario", document)[0] == b"200"
    core = runtime.ref_of("core")
    assert core is not None
    entries = core.proxy().entries.get(timeout=10)
    lamp = entries["lamp"].ref
    assert isinstance(lamp, pykka.ActorRef)
    rounds_after(runtime, 4)  # watched: running, not taken for hung
    assert runtime.healthy()
    scenario_hold.keep_busy(lamp)  # its thread blocked in a handler; the core's free
    after = lamp.proxy().actor_urn  # answered once that handler has returned
    wait_until(runtime.fatal_event.is_set, what="the hung scenario", timeout_s=30)
    _still_blocked(after)
    assert core.is_alive()  # the core itself still answers
    status = runtime.status_of("core")
    assert status is not None
    assert status.state is PartState.HUNG
    assert status.reason.startswith("no answer from its scenario lamp for ")
    assert runtime.fatal is not None
    assert runtime.fatal.startswith("core hung: no answer from its scenario lamp ")
    assert runtime.summary() == "core hung"
    assert runtime.stats.get("core.scenarios_hung") == 1
    assert runtime.stats.get("supervisor.hung.core") == 1


def _still_blocked(after: pykka.Future[Any]) -> None:
    """The hang was seen while the handler still blocked: the message told after
    it has no answer yet."""
    with pytest.raises(pykka.Timeout):
        after.get(timeout=0)


def _scenario(name: str) -> str:
    return LAMP.replace("name: lamp", f"name: {name}")


def _ask_core(runtime: supervisor.Runtime, request: dict[str, str]) -> bytes:
    with Client(runtime.mdp_endpoint, timeout_s=10, retries=1) as client:
        reply = client.request(
            "testhost.core.scenario", json.dumps({"v": 1, **request})
        )
    return reply[0]


def _watched(core: pykka.ActorRef[Any]) -> list[str]:
    """The scenario actors the core lists for the hang watch, by name."""
    listed = core.proxy().watched.get(timeout=10)
    return [name for name, _ in listed]


@pytest.mark.timeout(90)
def test_a_disabled_or_deleted_scenario_leaves_the_watch_unless_it_is_still_stuck(
    with_clone: supervisor.Runtime,
    scenario_hold: Hold,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """ScenarioSet._rewatch with the real core: a healthy scenario disabled or
    deleted drops out of the list the supervisor pings (else its dead actor would
    read as silent, the core hung); one blocked in a handler stays listed after its
    stop timed out, and the core is reported hung for it. The core's waits on a
    stopping scenario are cut short here, so that the core's own thread is free well
    within the bound and only the scenario's silence can make the core hung."""
    from raspy.actors.core import scenario_set

    monkeypatch.setattr(scenario_set, "ASK_TIMEOUT_S", 0.2)
    monkeypatch.setattr(scenario_set, "_STOP_TIMEOUT_S", 0.2)
    runtime = with_clone
    for name in ("kept", "gone", "stuck"):
        request = {"action": "import", "document": _scenario(name)}
        assert _ask_core(runtime, request) == b"200"
    core = runtime.ref_of("core")
    assert core is not None
    assert sorted(_watched(core)) == ["gone", "kept", "stuck"]
    assert _ask_core(runtime, {"action": "disable", "name": "kept"}) == b"200"
    assert _ask_core(runtime, {"action": "delete", "name": "gone"}) == b"200"
    assert _watched(core) == ["stuck"]
    rounds_after(runtime, 4)  # their actors ended: nothing silent is pinged
    assert not runtime.fatal_event.is_set()
    stuck = core.proxy().entries.get(timeout=10)["stuck"].ref
    assert isinstance(stuck, pykka.ActorRef)
    scenario_hold.keep_busy(stuck)  # its thread blocked in a handler
    after = stuck.proxy().actor_urn  # answered once that handler has returned
    assert _ask_core(runtime, {"action": "disable", "name": "stuck"}) == b"200"
    assert _watched(core) == ["stuck"]  # its stop timed out: still watched
    assert stuck.is_alive()
    wait_until(runtime.fatal_event.is_set, what="the hung scenario", timeout_s=30)
    _still_blocked(after)
    assert runtime.fatal is not None
    assert runtime.fatal.startswith("core hung: no answer from its scenario stuck ")
    # its handler returns, it takes the stop the disable sent: it ends, drops out
    scenario_hold.release.set()
    wait_until(
        lambda: not stuck.is_alive(), what="the stuck scenario ended", timeout_s=30
    )
