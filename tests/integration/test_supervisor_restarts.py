"""The supervisor keeps parts alive in a real runtime: backoff, `failed`, and the edge
or the store failing makes the runtime fatal (issue 13)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pykka
import pytest
from structlog.testing import capture_logs
from support.net import free_port_base
from support.runtimes import runtimes
from support.wait import wait_until

from raspy import config as config_mod
from raspy.actors import supervisor
from raspy.cores.supervision import PartState

FAST = (
    "[supervisor]\nrestart_initial_s = 0.05\nrestart_max_s = 0.4\nstable_s = 2.0\n"
    "max_restarts = 3\nrestart_window_s = 60.0\n"
)


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[supervisor.Runtime]:
    cfg = config_mod.load(
        FAST + "[clone]\nenabled = false\n",
        "test.toml",
        data_dir=str(tmp_path / "data"),
        hostname="testhost",
        network__port_base=free_port_base(),
    )
    rt = supervisor.start(cfg)
    try:
        yield rt
    finally:
        rt.stop()


class RefusesToStart(pykka.ThreadingActor):
    def on_start(self) -> None:
        raise OSError("no such bus")


class Crash:
    pass


class CrashesRightAfterStart(pykka.ThreadingActor):
    def on_start(self) -> None:
        self.actor_ref.tell(Crash())

    def on_receive(self, message: Any) -> Any:
        raise RuntimeError("lost the bus")


class CrashesWhenTold(pykka.ThreadingActor):
    def on_receive(self, message: Any) -> Any:
        raise RuntimeError("lost the bus")


def _state(rt: supervisor.Runtime, name: str) -> PartState | None:
    status = rt.status_of(name)
    return None if status is None else status.state


def test_a_part_that_crashes_at_start_is_retried_then_failed(
    runtime: supervisor.Runtime,
) -> None:
    with capture_logs() as logs:
        runtime.call(lambda: runtime.add_child("bus", RefusesToStart.start))
        wait_until(
            lambda: _state(runtime, "bus") is PartState.FAILED,
            what="the part to be failed",
        )
    died = [e for e in logs if e["event"] == "component_died"]
    assert [e["retry_in_s"] for e in died] == [0.05, 0.1, 0.2]
    failed = [e for e in logs if e["event"] == "component_failed"]
    assert len(failed) == 1
    assert "4 crashes within 60 s" in failed[0]["reason"]
    # its on_start never ran through: no restart (each was logged and counted as
    # one, `component_restarted count=1/2/3`, each followed by its traceback)
    assert not [e for e in logs if e["event"] == "component_restarted"]
    status = runtime.status_of("bus")
    assert status is not None
    assert status.restarts == 0
    assert "supervisor.restarts.bus" not in runtime.stats.snapshot()
    assert runtime.fatal is None  # an ordinary part does not stop the daemon
    assert _state(runtime, "echo") is PartState.RUNNING


def test_a_part_that_crashes_right_after_start_backs_off_then_fails(
    runtime: supervisor.Runtime,
) -> None:
    with capture_logs() as logs:
        runtime.call(lambda: runtime.add_child("bus", CrashesRightAfterStart.start))
        wait_until(
            lambda: _state(runtime, "bus") is PartState.FAILED,
            what="the part to be failed",
        )
    died = [e["retry_in_s"] for e in logs if e["event"] == "component_died"]
    assert died == [0.05, 0.1, 0.2]  # never back to 0.05: it never stayed up
    status = runtime.status_of("bus")
    assert status is not None
    # a restart counts once the part answered; this one may die before that, as
    # its crash and the supervisor's question race in its inbox
    restarted = [e for e in logs if e["event"] == "component_restarted"]
    assert status.restarts == len(restarted) <= 3
    assert "4 crashes within 60 s" in status.reason


def test_a_part_that_crashes_later_is_restarted(runtime: supervisor.Runtime) -> None:
    child = runtime.call(lambda: runtime.add_child("bus", CrashesWhenTold.start))
    assert isinstance(child, supervisor.Child)
    first = child.ref
    assert first is not None
    first.tell(Crash())

    def running_again() -> bool:
        status = runtime.status_of("bus")
        return (
            status is not None
            and (status.state, status.restarts) == (PartState.RUNNING, 1)
            and child.ref is not first
        )

    wait_until(running_again, what="the part restarted and shown running")
    assert child.ref is not None
    assert child.ref.is_alive()


@pytest.mark.parametrize("part", ["edge", "store"])
def test_the_edge_or_the_store_failing_is_fatal(
    runtime: supervisor.Runtime, part: str
) -> None:
    with capture_logs() as logs:
        runtime.call(lambda: runtime.inject_fault(part))
        wait_until(
            lambda: (
                runtime.fatal_event.is_set()
                and _state(runtime, part) is PartState.FAILED
            ),
            what=f"the {part} failure, fatal and shown",
        )
    assert runtime.fatal is not None
    assert runtime.fatal.startswith(f"{part} failed")
    assert _state(runtime, part) is PartState.FAILED
    failed = [e for e in logs if e["event"] == "component_failed"]
    assert [e["component"] for e in failed] == [part]


def test_the_supervisors_rounds_ask_the_edge_actor_only_for_its_pulse(
    runtime: supervisor.Runtime,
) -> None:
    """The edge's I/O thread is checked each round without a proxy call to the edge
    actor (the parts' own messages to it are not counted); the actor itself is asked
    only the hang watch's question, at most once per raspy.hang_watch.PING_EVERY_S
    (the first round asks it). Before, every round asked it (a wake-up of its thread,
    five times a second on an idle Pi), and an ask it could not answer within 2 s,
    while it waited up to 5 s on its I/O thread under load, read as the edge
    stopped: fatal."""

    def rounds_after(count: int) -> None:
        rounds = [runtime.statuses]  # held: a new tuple each round, never reused

        def seen() -> bool:
            if runtime.statuses is not rounds[-1]:
                rounds.append(runtime.statuses)
            return len(rounds) > count

        wait_until(seen, what=f"{count} supervisor rounds")

    rounds_after(2)  # the first round asks the pulse (the edge check: at the start)
    inbox = runtime.edge.actor_inbox
    received: list[object] = []
    put = inbox.put

    def counted(item: Any, *args: Any, **kwargs: Any) -> None:
        if type(item.message).__module__.startswith("pykka"):  # a proxy's ask
            received.append(item.message)
        put(item, *args, **kwargs)

    inbox.put = counted  # type: ignore[method-assign]  # counts; delivers unchanged
    try:
        rounds_after(4)
    finally:
        inbox.put = put  # type: ignore[method-assign]
    assert received == []
    assert runtime.fatal is None


def _stop_part(rt: supervisor.Runtime, name: str) -> None:
    """Stop a part's actor from outside, as a crash would; wait until it is back."""
    ref = rt.ref_of(name)
    assert ref is not None
    ref.stop()

    def back() -> bool:
        status = rt.status_of(name)
        again = rt.ref_of(name)
        return (
            status is not None
            and status.state is PartState.RUNNING
            and again is not None
            and again is not ref
        )

    wait_until(back, what=f"{name} running again")


def _status_restarts(endpoint: str) -> dict[str, str]:
    """The RESTARTS column of `raspy status`, by part."""
    result = subprocess.run(
        [sys.executable, "-m", "raspy.cli.raspy", "status", "--server", endpoint],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    rows = [line.split() for line in result.stdout.splitlines()[1:]]
    return {row[0].removeprefix("testhost."): row[4] for row in rows}


def test_raspy_status_counts_restarts_across_a_new_clone_server_and_a_reload(
    tmp_path: Path,
) -> None:
    """A device service that crashed once, then was started again for a new Clone
    server (and Titanic for a reload), showed RESTARTS 0 again."""
    with runtimes(tmp_path / "data", FAST) as start:
        rt = start("[devices]\nfake_enabled = true\n")
        cfg = rt.config
        _stop_part(rt, "devices.fake")
        _stop_part(rt, "titanic")
        _stop_part(rt, "clone")  # its followers and the devices start anew
        rt.reload(replace(cfg, titanic=replace(cfg.titanic, retention_s=60.0)))
        wanted = {"clone": "1", "devices.fake": "1", "titanic": "1", "echo": "0"}

        def shown() -> bool:
            restarts = _status_restarts(rt.mdp_endpoint)
            return {part: restarts.get(part) for part in wanted} == wanted

        wait_until(shown, what=f"raspy status to show {wanted}", timeout_s=20)


def test_a_part_added_just_after_the_statistics_actor_died_is_supervised(
    runtime: supervisor.Runtime,
) -> None:
    """A part added (a SIGHUP that enables Titanic or a device service) between the
    statistics actor's death and the round that sees it: telling it of the new part
    raised ActorDeadError out of the reload, which stopped half way."""
    statistics = runtime.ref_of("statistics")
    assert statistics is not None

    def dies_then_a_part_comes() -> object:
        statistics.stop()  # as a crash would; no round has seen it yet
        return runtime.add_child("bus", CrashesWhenTold.start)

    child = runtime.call(dies_then_a_part_comes)
    assert isinstance(child, supervisor.Child)
    assert child.ref is not None
    _stop_part(runtime, "bus")  # supervised: restarted as any part
    wait_until(
        lambda: runtime.ref_of("statistics") not in (None, statistics),
        what="the statistics actor started again",
    )


def test_titanic_turned_on_by_a_reload_is_supervised_when_its_start_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A reload that turns Titanic on, whose first start raises: the part was never
    added (the error came out of the reload), so nothing restarted it and raspyd
    ran on without Titanic. It is retried as any part a running raspyd restarts."""
    real = supervisor.start_titanic  # type: ignore[attr-defined]
    tries: list[int] = []

    def fails_once(*args: Any, **kwargs: Any) -> pykka.ActorRef[Any]:
        tries.append(1)
        if len(tries) == 1:
            raise OSError("the store is busy")
        return real(*args, **kwargs)

    with runtimes(tmp_path / "data", FAST) as start:
        rt = start("[titanic]\nenabled = false\n")
        monkeypatch.setattr(supervisor, "start_titanic", fails_once)
        on = replace(rt.config, titanic=replace(rt.config.titanic, enabled=True))
        rt.reload(on)
        wait_until(
            lambda: _state(rt, "titanic") is PartState.RUNNING,
            what="Titanic started again by the supervisor",
        )
    assert len(tries) == 2


def test_titanic_given_up_after_its_restarts_is_fatal(
    runtime: supervisor.Runtime,
) -> None:
    """README, "The daemon": a part raspyd is of no use without (Titanic) that is
    `failed` after max_restarts crashes ends raspyd, naming it (`titanic failed`)."""
    for _crash in range(4):  # more than max_restarts = 3
        assert runtime.fatal is None
        wait_until(
            lambda: _state(runtime, "titanic") is PartState.RUNNING,
            what="titanic running (again)",
        )
        ref = runtime.ref_of("titanic")
        assert ref is not None
        ref.stop()  # as a crash would: stopped unexpectedly
        wait_until(
            lambda: _state(runtime, "titanic") is not PartState.RUNNING,
            what="the crash noticed",
        )
    wait_until(lambda: runtime.fatal, what="titanic given up, fatal")
    assert str(runtime.fatal).startswith("titanic failed"), runtime.fatal
    assert _state(runtime, "titanic") is PartState.FAILED
