"""Clone in the real raspyd through SIGKILL (issue 6; docs/protocols.md §6.4, docs/architecture.md).

Updates flow while raspyd is killed. After the restart the snapshot must hold every
update that had been published (durable before published), and the next update must
get a sequence number greater than any seen before the kill (never reused).
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
import zmq
from support.daemon import Daemon
from support.zmqctx import checked_context

from raspy.client.clone import CloneClient, fetch_snapshot
from raspy.protocol import clone

KILL_AFTER = 300  # published updates seen before the SIGKILL


def _publish_until_killed(
    daemon: Daemon, context: zmq.Context[zmq.Socket[bytes]]
) -> dict[bytes, tuple[int, bytes]]:
    """Write distinct keys as fast as the server takes them; SIGKILL raspyd after
    KILL_AFTER have come back. Returns every KVPUB seen: key -> (seq, body)."""
    endpoints = clone.Endpoints.from_port_base("127.0.0.1", daemon.port_base)
    sub = context.socket(zmq.SUB)
    writer = context.socket(zmq.XPUB)
    seen: dict[bytes, tuple[int, bytes]] = {}
    try:
        for sock in (sub, writer):
            sock.setsockopt(zmq.LINGER, 0)
        sub.setsockopt(zmq.SUBSCRIBE, b"/e2e/")
        sub.setsockopt(zmq.SUBSCRIBE, clone.HUGZ)
        sub.connect(endpoints.publisher)
        writer.connect(endpoints.collector)
        assert writer.poll(5000), "the collector never subscribed"
        writer.recv()
        assert sub.poll(5000), "no HUGZ"  # §6.3: our subscription is live
        for index in range(100_000):
            key = b"/e2e/%06d" % index
            writer.send_multipart(clone.kvset(key, key, uuid.uuid4().bytes))
            while sub.poll(0 if index % 50 else 100):
                frames = sub.recv_multipart()
                if frames[0] != clone.HUGZ:
                    seen[frames[0]] = (clone.decode_seq(frames[1]), frames[4])
            if len(seen) >= KILL_AFTER:
                daemon.kill()
                break
        while sub.poll(200):  # whatever was already on its way before the kill
            frames = sub.recv_multipart()
            if frames[0] != clone.HUGZ:
                seen[frames[0]] = (clone.decode_seq(frames[1]), frames[4])
    finally:
        sub.close()
        writer.close()
    return seen


@pytest.mark.timeout(90)
def test_published_updates_survive_sigkill_and_sequence_numbers_keep_growing(
    tmp_path: Path,
) -> None:
    """Issue 6: after SIGKILL and restart the snapshot holds every published update
    and the next sequence number is greater than any seen."""
    data_dir = tmp_path / "data"
    daemon = Daemon(data_dir).start()
    try:
        with checked_context() as context:
            seen = _publish_until_killed(daemon, context)
        assert len(seen) >= KILL_AFTER
        daemon = Daemon(data_dir, port_base=daemon.port_base).start()
        server = f"127.0.0.1:{daemon.port_base}"
        with checked_context() as context:
            snap = fetch_snapshot(server, b"/e2e/", context=context)
            for key, (_, body) in seen.items():
                assert snap.items.get(key) == body, f"{key!r} lost by the kill"
            highest = max(seq for seq, _ in seen.values())
            assert snap.seq >= highest
            with CloneClient(server, b"/after/", context=context) as client:
                client.set(b"/after/kill", b"1", confirm_timeout_s=10)
                assert client.seq > max(highest, snap.seq)
    finally:
        daemon.kill()
