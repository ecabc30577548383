"""raspy-poller's worker keeps the [link] timings of its config: a hub that
heartbeats every 3 s (the most a hub's [broker] allows is 3.75 s) is never lost by
a board with the defaults (3 x 2.5 s of silence), and is by a board told to notice
a lost hub within 2 s. What shows it is the hub's own view: the board's new
connections (a READY from a new socket each time), not a clock."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import zmq
from support.daemon import running_poller
from support.net import free_port_base
from support.wait import wait_until

from raspy.protocol import mdp, mdp_decode, mmi
from raspy.transport.sockets import Context

pytestmark = pytest.mark.timeout(60)

_HUB_HEARTBEAT_S = 3.0
# told of a hub that heartbeats every second, so the checks take its 2 s of silence
_QUICK_LINK = (
    "[link]\nheartbeat_interval_s = 0.5\nheartbeat_liveness = 4\n"
    "reconnect_initial_s = 0.5\nreconnect_max_s = 1.0\n"
    "hub_heartbeat_interval_s = 1.0\nhub_heartbeat_liveness = 5\n"
)


@contextmanager
def _slow_hub(context: Context, endpoint: str) -> Iterator[list[bytes]]:
    """A broker on `endpoint` that takes a worker's READY, heartbeats each worker at
    once and then every _HUB_HEARTBEAT_S, and answers mmi.workers with no worker
    (the board's looks). Yields the socket ids that sent READY, in order."""
    readies: list[bytes] = []
    stop = threading.Event()
    sock = context.socket(zmq.ROUTER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.bind(endpoint)
    beat = mdp.heartbeat_frames(mdp.Version.V02)

    def serve() -> None:
        next_beat: dict[bytes, float] = {}
        while not stop.is_set():
            if sock.poll(50):
                peer, *frames = sock.recv_multipart()
                message = mdp_decode.decode_at_broker(frames)
                if isinstance(message, mdp.Ready):
                    readies.append(peer)
                    next_beat[peer] = 0.0
                elif isinstance(message, mdp.ClientRequest):
                    assert message.service == mmi.WORKERS
                    reply = mdp.ClientReply(
                        mdp.Version.V02, message.service, (b"200", b"{}")
                    )
                    sock.send_multipart([peer, *mdp.encode(reply)])
            now = time.monotonic()
            for peer, due in next_beat.items():
                if now >= due:
                    sock.send_multipart([peer, *beat])
                    next_beat[peer] = now + _HUB_HEARTBEAT_S

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield readies
    finally:
        stop.set()
        thread.join(timeout=5)
        sock.close(linger=0)


def test_a_board_told_a_short_silence_gives_a_slow_hub_up_between_its_heartbeats(
    tmp_path: Path, zmq_context: Context
) -> None:
    config = tmp_path / "board.toml"
    config.write_text(_QUICK_LINK, encoding="utf-8")
    endpoint = f"tcp://127.0.0.1:{free_port_base()}"
    log_path = tmp_path / "poller.log"
    with (
        _slow_hub(zmq_context, endpoint) as readies,
        running_poller(
            endpoint,
            log_path,
            *("--service", "fake", "--hostname", "shed", "--config", str(config)),
        ) as process,
    ):
        # with the defaults the first connection would be the only one
        wait_until(
            lambda: len(set(readies)) >= 3,
            what="the board connecting again between the hub's heartbeats",
            timeout_s=30,
        )
        assert process.poll() is None
    said = log_path.read_text(encoding="utf-8")
    assert '"broker_silent"' in said, said
