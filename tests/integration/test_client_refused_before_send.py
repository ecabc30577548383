"""The blocking clients (raspy.client.mdp.Client, fetch_snapshot) send their request
on a fresh DEALER right after connect; a thread slowed down between the two meets a
connection libzmq already dropped, its CURVE handshake refused. That send waited for
ever, past every timeout of theirs: a raspy-kv given a key the hub does not know
could hang. Now the request goes unsent and the timeout says so."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from support.late_send import handshake_first_context, refusing_hub

from raspy.client.clone import fetch_snapshot
from raspy.client.mdp import Client
from raspy.errors import ClientTimeout
from raspy.protocol import clone


def test_a_request_sent_after_the_refusal_times_out(tmp_path: Path) -> None:
    with handshake_first_context() as context, refusing_hub(context, tmp_path) as hub:
        started = time.monotonic()
        with (
            Client(
                hub.endpoint,
                context=context,
                curve=hub.refused,
                timeout_s=0.5,
                retries=2,
            ) as client,
            pytest.raises(ClientTimeout, match="no reply"),
        ):
            client.request(b"pi.gpio", b"list")
        assert time.monotonic() - started < 5.0


def test_a_snapshot_asked_after_the_refusal_times_out(tmp_path: Path) -> None:
    with handshake_first_context() as context, refusing_hub(context, tmp_path) as hub:
        endpoints = clone.Endpoints(hub.endpoint, hub.endpoint, hub.endpoint)
        started = time.monotonic()
        with pytest.raises(ClientTimeout, match="no snapshot"):
            fetch_snapshot(endpoints, context=context, curve=hub.refused, timeout_s=1.0)
        assert time.monotonic() - started < 5.0
