"""A request for `<host>.http` stored by an older raspy, which took such requests,
and Titanic started over it by one that does not relay them (TitanicSettings
.not_relayed): the request is answered 403 as its reply and never sent. A real edge,
a real store in tmp_path, Titanic started twice over it, the service's worker a real
one on a DEALER."""

from __future__ import annotations

import json
from collections.abc import Iterator, MutableMapping
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs
from support.edge_fixtures import EdgeHandle
from support.titanic import RawWorker, TitanicHarness, open_store

from raspy.protocol import mdp, mdp_decode
from raspy.stats import Stats

HTTP = b"hub.http"  # the hub's own `<host>.http`, which refuses network clients

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def titanic(edge: EdgeHandle, tmp_path: Path) -> Iterator[TitanicHarness]:
    """Titanic as an older raspyd ran it: no service held back."""
    with open_store(tmp_path / "store") as store:
        handle = TitanicHarness(
            edge.ref, edge.outbox, edge.endpoint, edge.context, store, Stats()
        )
        handle.start()
        yield handle
        handle.stop()


def _not_relayed(logs: list[MutableMapping[str, Any]]) -> list[dict[str, Any]]:
    return [dict(e) for e in logs if e["event"] == "titanic_request_not_relayed"]


def test_a_stored_request_for_a_service_not_relayed_is_answered_403_never_sent(
    titanic: TitanicHarness,
) -> None:
    """Checked when a request was taken only: one stored before that check was
    dispatched after the upgrade, from Titanic, an in-process client, so past the
    service's refusal of network clients."""
    with titanic.client() as client:
        uuid = client.submit(HTTP, b'{"v": 1, "method": "GET"}')  # as the old took it
    titanic.stop()
    http = RawWorker(titanic.context, titanic.endpoint, HTTP)  # the service is up
    try:
        with capture_logs() as logs:
            titanic.start(not_relayed=frozenset({HTTP}))  # the upgrade
            with titanic.client() as client:
                reply = client.wait(uuid, timeout_s=5, poll_initial_s=0.01)
        assert reply[0] == b"403"
        assert json.loads(reply[1]) == {
            "error": "forbidden",
            "detail": "Titanic does not relay requests for this service: only "
            "raspyd's own parts may use it",
        }
        assert len(reply) == 2
        assert titanic.inspect() == {"known": 1, "pending": 0, "in_flight": 0}
        assert titanic.stats.get("titanic.dispatched") == 0
        assert titanic.stats.get("titanic.not_relayed") == 1
        assert [
            {k: e[k] for k in ("uuid", "service", "log_level")}
            for e in _not_relayed(logs)
        ] == [{"uuid": uuid, "service": "hub.http", "log_level": "warning"}]
        # stored as its reply: a later start keeps it, and says nothing again
        titanic.stop()
        with capture_logs() as logs:
            titanic.start(not_relayed=frozenset({HTTP}))
            with titanic.client() as client:
                assert client.wait(uuid, timeout_s=5, poll_initial_s=0.01) == reply
                client.close(uuid)
        assert _not_relayed(logs) == []
        assert titanic.inspect() == {"known": 0, "pending": 0, "in_flight": 0}
        assert titanic.stats.get("titanic.dispatched") == 0
        assert _only_heartbeats(http)
    finally:
        http.close()


def _only_heartbeats(worker: RawWorker) -> bool:
    """Nothing but the broker's HEARTBEATs queued at the worker: no request."""
    while worker.sock.poll(0):
        frames = worker.sock.recv_multipart()
        decoded = mdp_decode.decode_at_worker(frames, worker.version)
        if not isinstance(decoded, mdp.Heartbeat):
            return False
    return True
