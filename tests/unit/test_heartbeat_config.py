"""The [broker] heartbeats the config takes keep raspy's own workers connected: a
BrokerCore and a WorkerCore with its defaults (raspy-poller's) talk for a minute of
simulated time, each message arriving `lag_s` after it was sent. And a board's
[link] timings the config takes keep it connected to a hub whose [broker] is what
its hub_* keys say; those it refuses do not."""

from __future__ import annotations

import pytest

from raspy import config
from raspy.cores import broker_output
from raspy.cores.broker import BrokerCore
from raspy.cores.broker_settings import BrokerSettings
from raspy.cores.worker import (
    Connect,
    Reconnect,
    Send,
    WorkerCore,
    WorkerOutput,
    WorkerSettings,
)
from raspy.errors import ConfigError

pytestmark = pytest.mark.timeout(30)

STEP_S = 0.01


def losses(
    interval_s: float,
    liveness: int,
    lag_s: float,
    worker_settings: WorkerSettings | None = None,
) -> int:
    """Connections lost by the worker or given up by the broker in 60 s."""
    broker = BrokerCore(
        BrokerSettings(heartbeat_interval_s=interval_s, heartbeat_liveness=liveness)
    )
    worker = WorkerCore(b"shed.fake.devices", settings=worker_settings)
    socket = 0  # the worker's socket: a new routing id at each Connect
    in_flight: list[tuple[float, bool, int, list[bytes]]] = []  # at, to_broker
    lost = 0

    def from_worker(outputs: list[WorkerOutput], now: float) -> None:
        nonlocal socket, lost
        for out in outputs:
            if isinstance(out, Connect):
                socket += 1
            elif isinstance(out, Send):
                in_flight.append((now + lag_s, True, socket, out.frames))
            elif isinstance(out, Reconnect):
                lost += 1

    def from_broker(outputs: list[broker_output.BrokerOutput], now: float) -> None:
        nonlocal lost
        for out in outputs:
            if isinstance(out, broker_output.Send):
                peer = int(out.peer.decode())
                in_flight.append((now + lag_s, False, peer, out.frames))
            elif isinstance(out, broker_output.WorkerRemoved):
                lost += 1

    step = 0
    while (now := step * STEP_S) < 60:
        step += 1
        due = [m for m in in_flight if m[0] <= now]
        in_flight[:] = [m for m in in_flight if m[0] > now]
        for _, to_broker, peer, frames in due:
            if to_broker:
                from_broker(broker.on_frames(str(peer).encode(), frames, now), now)
            elif peer == socket:  # a closed socket's messages are gone
                from_worker(worker.on_frames(frames, now), now)
        from_worker(worker.on_tick(now), now)
        from_broker(broker.on_tick(now), now)
    return lost


@pytest.mark.parametrize(
    ("interval_s", "liveness"), [(2.5, 3), (3.75, 3), (0.1, 50), (2.5, 2), (1.0, 5)]
)
def test_the_edges_the_config_takes_keep_an_idle_worker(
    interval_s: float, liveness: int
) -> None:
    text = f"[broker]\nheartbeat_interval_s = {interval_s}\nheartbeat_liveness = {liveness}\n"
    config.load(text, "f")
    assert losses(interval_s, liveness, lag_s=0.4) == 0


@pytest.mark.parametrize(("interval_s", "liveness"), [(10.0, 3), (0.5, 3)])
def test_what_the_config_refuses_drops_an_idle_worker(
    interval_s: float, liveness: int
) -> None:
    text = f"[broker]\nheartbeat_interval_s = {interval_s}\nheartbeat_liveness = {liveness}\n"
    with pytest.raises(ConfigError):
        config.load(text, "f")
    assert losses(interval_s, liveness, lag_s=0.0) > 3


def _link_text(interval_s: float, liveness: int, hub_s: float, hub_live: int) -> str:
    return (
        f"[link]\nheartbeat_interval_s = {interval_s}\n"
        f"heartbeat_liveness = {liveness}\nhub_heartbeat_interval_s = {hub_s}\n"
        f"hub_heartbeat_liveness = {hub_live}\n"
    )


# (board interval, board liveness, hub interval, hub liveness): the defaults, the
# e2e tests' quick link, each check's edge, a patient board, a quick wired one
@pytest.mark.parametrize(
    ("interval_s", "liveness", "hub_s", "hub_live"),
    [
        (2.5, 3, 2.5, 3),
        (0.5, 6, 0.5, 10),
        (0.5, 4, 1.0, 5),
        (2.5, 3, 1.0, 5),
        (2.5, 20, 2.5, 3),
        (0.5, 3, 0.5, 10),
    ],
)
def test_the_link_timings_the_config_takes_keep_a_board_connected(
    interval_s: float, liveness: int, hub_s: float, hub_live: int
) -> None:
    link = config.load(_link_text(interval_s, liveness, hub_s, hub_live), "f").link
    settings = WorkerSettings(
        heartbeat_interval_s=link.heartbeat_interval_s,
        heartbeat_liveness=link.heartbeat_liveness,
    )
    assert losses(hub_s, hub_live, lag_s=0.2, worker_settings=settings) == 0


# the board takes the hub for lost between its heartbeats; the hub gives the board
# up between the board's
@pytest.mark.parametrize(
    ("interval_s", "liveness", "hub_s", "hub_live"),
    [(0.5, 3, 2.5, 3), (6.0, 3, 1.0, 5)],
)
def test_link_timings_the_config_refuses_lose_the_board(
    interval_s: float, liveness: int, hub_s: float, hub_live: int
) -> None:
    with pytest.raises(ConfigError):
        config.load(_link_text(interval_s, liveness, hub_s, hub_live), "f")
    settings = WorkerSettings(
        heartbeat_interval_s=interval_s, heartbeat_liveness=liveness
    )
    assert losses(hub_s, hub_live, lag_s=0.0, worker_settings=settings) > 3
