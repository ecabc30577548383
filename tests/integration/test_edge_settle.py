"""A start is complete when the edge answers Settle: the READYs in-process workers
wrote to the outbox before it have reached the broker (a client's first mmi.service
right after raspyd said it started got 404 while a READY was still in the outbox)."""

from __future__ import annotations

from collections.abc import Callable

import zmq
from structlog.testing import capture_logs
from support.clock import FakeClock
from support.edge_fixtures import EdgeHandle
from support.mdp_spec import mmi_service

from raspy.actors import messages as msgs
from raspy.actors.edge import EdgeLoop, EdgeSettings
from raspy.actors.worker import local_peer_id
from raspy.cores.broker import BrokerCore
from raspy.cores.broker_output import Send
from raspy.protocol import mdp
from raspy.stats import Stats


class _Registrations:
    """The runner's register() only: the test turns the loop by hand."""

    def __init__(self) -> None:
        self.handlers: list[Callable[[int], None]] = []

    def register(self, _source: object, handler: Callable[[int], None]) -> None:
        self.handlers.append(handler)


def _mmi_status(core: BrokerCore, service: bytes) -> bytes:
    out = core.on_frames(b"probe", [b"MDPC02", b"\x01", b"mmi.service", service], 0.0)
    sends = [o for o in out if isinstance(o, Send)]
    assert len(sends) == 1
    return sends[0].frames[-1]


def test_settle_answers_after_the_readys_in_the_outbox_reached_the_broker(
    zmq_context: zmq.Context[zmq.Socket[bytes]],
) -> None:
    core = BrokerCore()
    loop = EdgeLoop(
        zmq_context, EdgeSettings("tcp://127.0.0.1:*"), core, FakeClock(), Stats()
    )
    loop.open(_Registrations())  # type: ignore[arg-type]  # register() is all it uses
    try:
        ready = mdp.encode(mdp.Ready(mdp.Version.V02, b"svc"))
        loop.outbox.send_mdp(local_peer_id("svc"), ready)
        assert _mmi_status(core, b"svc") == b"404"  # still in the outbox
        assert loop.execute(msgs.Settle()) is None
        assert _mmi_status(core, b"svc") == b"200"
    finally:
        loop.close()


def test_the_edge_actor_carries_settle_to_its_loop(edge: EdgeHandle) -> None:
    """The supervisor asks the EdgeActor, not the loop: Settle must reach the loop
    (it was dropped as an unexpected message, so the start waited for nothing)."""
    with capture_logs() as logs:
        edge.outbox.send_mdp(
            local_peer_id("late"), mdp.encode(mdp.Ready(mdp.Version.V02, b"late"))
        )
        assert edge.ref.ask(msgs.Settle(), timeout=5) is None
    assert mmi_service(edge.context, edge.endpoint, b"late") == b"200"
    assert [log["event"] for log in logs if log["log_level"] == "warning"] == []


def test_settle_waits_for_more_readys_than_one_drain_takes(
    zmq_context: zmq.Context[zmq.Socket[bytes]],
) -> None:
    """One drain stops at 256 messages; titanic.service_workers = 64 alone writes 192
    READYs, and the other parts theirs: Settle was answered with some still queued,
    so a client's first mmi.service could get 404 after raspyd said it started."""
    core = BrokerCore()
    loop = EdgeLoop(
        zmq_context, EdgeSettings("tcp://127.0.0.1:*"), core, FakeClock(), Stats()
    )
    loop.open(_Registrations())  # type: ignore[arg-type]  # register() is all it uses
    try:
        services = [b"svc%d" % index for index in range(600)]
        for index, service in enumerate(services):
            ready = mdp.encode(mdp.Ready(mdp.Version.V02, service))
            loop.outbox.send_mdp(local_peer_id(f"part{index}"), ready)
        assert loop.execute(msgs.Settle()) is None
        assert core.services() == sorted(services)
        assert loop.outbox.pending == 0
    finally:
        loop.close()
