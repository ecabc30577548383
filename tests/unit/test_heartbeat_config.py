"""The [broker] heartbeats the config takes keep raspy's own workers connected: a
BrokerCore and a WorkerCore with its defaults (raspy-poller's) talk for a minute of
simulated time, each message arriving `lag_s` after it was sent."""

from __future__ import annotations

import pytest

from raspy import config
from raspy.cores import broker_output
from raspy.cores.broker import BrokerCore
from raspy.cores.broker_settings import BrokerSettings
from raspy.cores.worker import Connect, Reconnect, Send, WorkerCore, WorkerOutput
from raspy.errors import ConfigError

pytestmark = pytest.mark.timeout(30)

STEP_S = 0.01


def losses(interval_s: float, liveness: int, lag_s: float) -> int:
    """Connections lost by the worker or given up by the broker in 60 s."""
    broker = BrokerCore(
        BrokerSettings(heartbeat_interval_s=interval_s, heartbeat_liveness=liveness)
    )
    worker = WorkerCore(b"shed.fake.devices")
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
