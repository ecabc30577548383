"""The real raspyd under a storm of malformed input on every socket it binds.

README "bad input anywhere" and docs/protocols.md §2.8, §5.3, §6.4: frames that are not
what a protocol allows are dropped and counted, or answered with a status; nothing
crashes, nothing is logged as an unexpected exception, and every service still works
afterwards. The storm is random but seeded, bounded by count, and stays on 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import json
import random
from collections.abc import Callable
from pathlib import Path

import pytest
import zmq
from support.daemon import Daemon, hostname, running_daemon
from support.wait import wait_until

import raspy
from raspy.client.clone import CloneClient, fetch_snapshot
from raspy.client.mdp import Client
from raspy.client.titanic import TitanicClient
from raspy.protocol import clone

RUN_TOML = Path(raspy.__file__).parent / "defaults" / "run.toml"
MESSAGES = 5000
Context = zmq.Context[zmq.Socket[bytes]]


def _pieces() -> list[bytes]:
    """Frames that look almost right: headers, commands, services, ids, JSON bits."""
    host = hostname().encode()
    return [
        b"",
        b"MDPC01",
        b"MDPC02",
        b"MDPW01",
        b"MDPW02",
        *(bytes([n]) for n in range(8)),
        b"mmi.service",
        b"mmi.services",
        b"mmi.workers",
        b"mmi.nothing",
        b"titanic.request",
        b"titanic.reply",
        b"titanic.close",
        host + b".echo",
        host + b".stats",
        host + b".fake.devices",
        b"0123456789abcdef0123456789abcdef",
        b"not-a-uuid",
        b'{"v": 1, "action": "set", "device": "lamp", "value": "x"}',
        b'{"v": 1, "action": "config", "device": "living", "config": {"unit": 5}}',
        b'{"v": 99}',
        b"{",
        b"ICANHAZ?",
        b"KTHXBAI",
        b"HUGZ",
        b"/device/",
        b"/x",
        bytes(8),
        b"ttl=-1\n",
        b"ttl=3\n",
        b"a=b\nnoequals\n",
    ]


def _frame(rng: random.Random, pieces: list[bytes]) -> bytes:
    roll = rng.random()
    if roll < 0.6:
        return rng.choice(pieces)
    if roll < 0.97:
        return rng.randbytes(rng.randint(0, 40))
    return rng.randbytes(rng.randint(60_000, 300_000))  # over several limits


def _message(rng: random.Random, pieces: list[bytes]) -> list[bytes]:
    return [_frame(rng, pieces) for _ in range(rng.randint(1, 7))]


def _send(sock: zmq.Socket[bytes], frames: list[bytes]) -> None:
    with contextlib.suppress(zmq.Again):  # a full pipe: the storm does not wait
        sock.send_multipart(frames, zmq.NOBLOCK)


def _drain(sockets: list[zmq.Socket[bytes]]) -> None:
    for sock in sockets:
        while sock.poll(0):
            sock.recv_multipart()


def _storm(ctx: Context, daemon: Daemon, rng: random.Random) -> None:
    endpoints = clone.Endpoints.from_port_base("127.0.0.1", daemon.port_base)
    pieces = _pieces()
    made: list[zmq.Socket[bytes]] = []

    def socket(kind: int, endpoint: str) -> zmq.Socket[bytes]:
        sock = ctx.socket(kind)
        sock.setsockopt(zmq.LINGER, 0)
        sock.connect(endpoint)
        made.append(sock)
        return sock

    try:
        mdp = [socket(zmq.DEALER, daemon.endpoint) for _ in range(4)]
        snapshot = [socket(zmq.DEALER, endpoints.snapshot) for _ in range(2)]
        collector = socket(zmq.XPUB, endpoints.collector)
        assert collector.poll(10_000), "the collector's subscription"
        assert collector.recv() == b"\x01"  # §1.6: only now is a KVSET heard
        targets: list[Callable[[], None]] = [
            lambda: _send(rng.choice(mdp), _message(rng, pieces)),
            lambda: _send(
                rng.choice(mdp),  # a well-formed envelope around a bad body
                [b"MDPC02", b"\x01", rng.choice(pieces), *_message(rng, pieces)],
            ),
            lambda: _send(rng.choice(snapshot), _message(rng, pieces)),
            lambda: _send(collector, _message(rng, pieces)),
        ]
        for index in range(MESSAGES):
            rng.choice(targets)()
            if index % 100 == 0:
                _drain(mdp + snapshot)
    finally:
        for sock in made:
            sock.close(linger=0)


@pytest.mark.timeout(120)
def test_raspyd_survives_malformed_input_on_every_socket_and_keeps_serving(
    tmp_path: Path,
) -> None:
    extra = ("--config", str(RUN_TOML))
    with running_daemon(tmp_path / "data", extra_args=extra) as daemon:
        ctx: Context = zmq.Context()
        try:
            _storm(ctx, daemon, random.Random(20261126))
        finally:
            ctx.term()
        assert daemon.process is not None
        assert daemon.process.poll() is None, daemon.log_text()[-2000:]
        host = hostname()
        with Client(daemon.endpoint, timeout_s=5, retries=1) as client:
            assert client.request(f"{host}.echo", b"still here") == [b"still here"]
            status, counters = client.request(f"{host}.stats", b"")
        assert status == b"200"
        stats = json.loads(counters)
        rejected = {k: v for k, v in stats.items() if ".rejected." in k}
        assert any(k.startswith("broker.rejected.") for k in rejected), stats
        assert any(k.startswith("clone.rejected.") for k in rejected), stats
        with TitanicClient(daemon.endpoint, timeout_s=5, retries=1) as titanic:
            uuid = titanic.submit(f"{host}.echo", b"later")
            assert titanic.reply(uuid)[0] in (b"200", b"300")
        endpoints = clone.Endpoints.from_port_base("127.0.0.1", daemon.port_base)
        assert fetch_snapshot(endpoints, b"/device/", timeout_s=5).items
        with CloneClient(endpoints, b"/e2e/") as tree:
            tree.wait_synced()
            tree.set(b"/e2e/after", b"1", confirm_timeout_s=10)
            assert tree.get(b"/e2e/after") == b"1"
        assert '"exception"' not in daemon.log_text(), "an unexpected exception"


DEEP = b"[" * 5000 + b"]" * 5000  # valid JSON, nested deeper than Python's stack


@pytest.mark.timeout(120)
def test_json_nested_too_deep_in_the_tree_and_in_requests_fails_no_part(
    tmp_path: Path,
) -> None:
    """Any Clone client may write, and any MDP client send, JSON nested deeper than
    Python's stack. json raises RecursionError for it, not the ValueError the
    readers caught: the scenario service's request parser, the web face's live
    feed, the gpio service's start (which reads its inputs' values back) each let
    it out. Values are kept as text, requests refused, and nothing fails, also at
    the next start."""
    config = RUN_TOML.read_text(encoding="utf-8") + "\n[http]\nenabled = true\n"
    data = tmp_path / "data"
    host = hostname()
    with running_daemon(data, config_text=config) as daemon:
        endpoints = clone.Endpoints.from_port_base("127.0.0.1", daemon.port_base)

        def readings() -> list[bytes]:
            items = fetch_snapshot(endpoints, b"/device/", timeout_s=5).items
            found = [k for k in items if k.endswith((b"/value", b"/timestamp"))]
            return found if len(found) >= 2 * 11 else []  # every device of run.toml

        keys = wait_until(readings, what="every device's readings", timeout_s=15)
        keys += [key.rpartition(b"/")[0] + b"/status" for key in keys]
        with CloneClient(endpoints, b"/device/") as tree:
            tree.wait_synced()
            for key in keys:
                tree.set(key, DEEP, confirm_timeout_s=10)
        with Client(daemon.endpoint, timeout_s=5, retries=1) as client:
            refused = {
                service: client.request(f"{host}.{service}", DEEP)[0]
                for service in ("core.scenario", "logger.history", "fake.devices")
            }
            listed = client.request(
                f"{host}.core.scenario", b'{"v": 1, "action": "list"}'
            )[0]
        log = daemon.log_text()
        daemon.terminate()
    assert refused == {
        "core.scenario": b"400",
        "logger.history": b"400",
        "fake.devices": b"400",
    }
    assert listed == b"200"
    assert _failures(log) == [], log[-3000:]
    with running_daemon(data, config_text=config) as again:
        with Client(again.endpoint, timeout_s=5, retries=1) as client:
            gpio = client.request(
                f"{host}.gpio.devices", b'{"v": 1, "action": "list_keys"}'
            )
        log = again.log_text()
    assert gpio[0] == b"200"
    assert _failures(log) == [], log[-3000:]


def _failures(log: str) -> list[str]:
    """Log lines of a part that failed, or of an exception nobody expected."""
    return [
        line
        for line in log.splitlines()
        if '"exception"' in line or "component_failed" in line
    ]
