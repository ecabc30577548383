"""A Clone client whose snapshot ask meets a refused CURVE handshake (raspy.client.
clone_agent): the agent asks on a fresh DEALER right after connect, and a loaded
thread may come to that send only once libzmq dropped the refused connection's pipe.
A hub restarted with another allowlist between its HUGZ and the ask refuses so."""

from __future__ import annotations

from pathlib import Path

import zmq
from support.late_send import handshake_first_context, refusing_hub
from support.wait import wait_until
from support.zmqctx import checked_context

from raspy.client.clone import CloneClient
from raspy.protocol import clone
from raspy.transport.sockets import make_socket


def test_an_ask_made_after_the_refusal_is_asked_again_not_waited_on(
    tmp_path: Path,
) -> None:
    """The blocking send waited for ever: the agent's runner never turned again and
    close() found it stuck. Now the ask goes unsent and the stalled snapshot starts
    over: the next HUGZ asks again, on a fresh DEALER."""
    with (
        handshake_first_context() as context,
        refusing_hub(context, tmp_path) as hub,
        checked_context() as open_context,  # no ZAP: its CURVE sockets take any key
    ):
        publisher = make_socket(open_context, zmq.PUB, linger_ms=0, curve=hub.server)
        client: CloneClient | None = None
        try:
            port = publisher.bind_to_random_port("tcp://127.0.0.1")
            endpoints = clone.Endpoints(
                hub.endpoint, f"tcp://127.0.0.1:{port}", hub.endpoint
            )
            client = CloneClient(
                endpoints, context=context, curve=hub.refused, server_ttl_s=0.3
            )

            def asked(times: int) -> bool:
                assert client is not None
                publisher.send_multipart(clone.hugz())  # live: now ask the snapshot
                return client.stats()["snapshots"] >= times

            wait_until(lambda: asked(3), what="the snapshot asked, and again twice")
            assert not client.live
        finally:
            if client is not None:
                client.close()
            publisher.close(linger=0)
