"""A reload of [titanic] whose old Titanic has not stopped within its bound (3 s;
1.5 s here, support.busy_actor.quick_stops) (a handler still busy): no new Titanic
may run beside it, both holding the same stored requests and the same titanic.*
services at the edge. Real raspyd runtime, edge and LMDB; the one fake is a message
that keeps the old actor's thread busy until the test lets go."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest
import zmq
from structlog.testing import capture_logs
from support.busy_actor import Hold, hold_busy, quick_stops
from support.net import free_port_base
from support.titanic import RawWorker
from support.wait import wait_until

from raspy import config as config_mod
from raspy.actors import supervisor
from raspy.actors.titanic import TitanicActor
from raspy.client.titanic import TitanicClient
from raspy.cores.supervision import PartState

SVC = b"test.slow"


@pytest.fixture
def hold(monkeypatch: pytest.MonkeyPatch) -> Iterator[Hold]:
    """A Titanic told Busy stays busy (its stop times out) until released."""
    quick_stops(monkeypatch)
    held = hold_busy(monkeypatch, TitanicActor)
    yield held
    held.release.set()


def _config(tmp_path: Path) -> config_mod.Config:
    return config_mod.load(
        "[clone]\nenabled = false\n",
        "test.toml",
        data_dir=str(tmp_path / "data"),
        hostname="testhost",
        network__port_base=free_port_base(),
    )


@pytest.mark.timeout(90)
def test_a_reload_starts_no_titanic_beside_one_that_has_not_stopped(
    tmp_path: Path, hold: Hold
) -> None:
    cfg = _config(tmp_path)
    rt = supervisor.start(cfg)
    context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    worker: RawWorker | None = None
    try:
        client = TitanicClient(rt.mdp_endpoint, context=context, timeout_s=5.0)
        uuid = client.submit(SVC, b"once")  # no worker yet: stored, pending
        old = rt.ref_of("titanic")
        assert old is not None
        hold.keep_busy(old)
        # the service appears while the old one is busy: it is told so, for later
        worker = RawWorker(context, rt.mdp_endpoint, SVC)
        with capture_logs() as logs:
            rt.reload(
                dataclasses.replace(
                    cfg, titanic=dataclasses.replace(cfg.titanic, retention_s=60.0)
                )
            )
            # the old Titanic has not stopped: none runs beside it, nor after
            # another reload while it still runs
            assert old.is_alive()
            assert rt.ref_of("titanic") is None
            rt.reload(
                dataclasses.replace(
                    cfg, titanic=dataclasses.replace(cfg.titanic, retention_s=70.0)
                )
            )
            assert old.is_alive()
            assert rt.ref_of("titanic") is None
            waiting = rt.status_of("titanic")  # what `raspy status` shows
            assert waiting is not None
            assert waiting.state is PartState.RESTARTING
            assert "previous TitanicActor has not stopped yet" in waiting.reason
            hold.release.set()
            wait_until(lambda: not old.is_alive(), what="the old Titanic stopped")
            wait_until(
                lambda: (
                    rt.ref_of("titanic") is not None
                    and getattr(rt.status_of("titanic"), "state", None)
                    is PartState.RUNNING
                ),
                what="a new Titanic running",
                timeout_s=20,
            )
            events = [e["event"] for e in logs if e["event"].startswith("titanic_")]
            assert events.index("titanic_stopped") < events.index("titanic_started")
            assert any(e["event"] == "component_previous_not_stopped" for e in logs), (
                "the refusal is said in the log"
            )
        # the new Titanic dispatches the stored request; its reply reaches the client
        request = worker.request(10_000)
        while request.client.startswith(hold.held[0]._owner + b"/"):
            # the old one's, sent before its stop: its answer finds no one
            worker.reply(request.client, (b"late",))
            request = worker.request(10_000)
        worker.reply(request.client, (b"done",))
        assert client.wait(uuid, timeout_s=10) == [b"done"]
        # the old one's stop took the titanic.* services at the edge from no one
        # else: the new one is still handed the requests, not only its one worker
        handed = rt.stats.get("titanic.handed")
        client.submit(SVC, b"next")
        assert rt.stats.get("titanic.handed") == handed + 1
        client.disconnect()
    finally:
        hold.release.set()
        if worker is not None:
            worker.close()
        rt.stop()
        context.destroy(linger=0)


@pytest.mark.timeout(90)
def test_titanic_turned_off_then_on_starts_none_beside_one_that_has_not_stopped(
    tmp_path: Path, hold: Hold
) -> None:
    """Two reloads, [titanic] enabled = false then true, while the old one is busy:
    the second one adds a Titanic anew (no part of that name was left to restart)."""
    cfg = _config(tmp_path)
    rt = supervisor.start(cfg)
    try:
        old = rt.ref_of("titanic")
        assert old is not None
        hold.keep_busy(old)
        off = dataclasses.replace(cfg.titanic, enabled=False)
        rt.reload(dataclasses.replace(cfg, titanic=off))
        assert old.is_alive()  # its stop timed out
        assert rt.status_of("titanic") is None  # turned off: no part
        with capture_logs() as logs:
            rt.reload(cfg)  # on again
            assert old.is_alive()
            assert rt.ref_of("titanic") is None  # none beside the old one
            waiting = rt.status_of("titanic")
            assert waiting is not None
            assert waiting.state is PartState.RESTARTING
            assert "previous TitanicActor has not stopped yet" in waiting.reason
            assert any(e["event"] == "component_previous_not_stopped" for e in logs)
        hold.release.set()
        wait_until(lambda: not old.is_alive(), what="the old Titanic stopped")
        wait_until(
            lambda: (
                getattr(rt.status_of("titanic"), "state", None) is PartState.RUNNING
            ),
            what="a new Titanic running",
            timeout_s=20,
        )
        assert rt.ref_of("titanic") is not old
    finally:
        hold.release.set()
        rt.stop()
