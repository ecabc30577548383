"""raspy-poller's first look at its hub (raspy.cli.poller `_Probe.before_start`): a
refusal is believed when the next probe says it again. A handshake cut short once (a
hub that is starting) ended a board with status 2, which systemd does not restart,
so a board that booted before its hub could stay down for good."""

from __future__ import annotations

import errno
import signal
import threading
from collections.abc import Iterator

import pytest
import zmq
from support.net import free_port_base
from support.wait import wait_until

from raspy.cli import EXIT_USAGE, poller
from raspy.cli.signals import SignalInbox
from raspy.config import DevicesConfig
from raspy.devices import registries
from raspy.protocol import mdp, mdp_decode
from raspy.transport.sockets import Context

pytestmark = pytest.mark.timeout(60)

_HANDSHAKE_FAILED = (
    zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL
    | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL
    | zmq.EVENT_HANDSHAKE_FAILED_AUTH
)


@pytest.fixture
def inbox() -> Iterator[SignalInbox]:
    """A stop inbox no test sends to (SIGUSR2: nothing else here uses it)."""
    made = SignalInbox((signal.SIGUSR2,))
    try:
        yield made
    finally:
        made.close()


def _probe(context: Context, endpoint: str) -> poller._Probe:
    registry = registries.fake_registry("early-board", DevicesConfig())
    return poller._Probe(context, endpoint, registry, None)


def _curve_hub(context: Context, endpoint: str) -> zmq.Socket[bytes]:
    """A CURVE server on `endpoint`: a plain client's handshake with it fails."""
    public, secret = zmq.curve_keypair()
    sock = context.socket(zmq.ROUTER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.CURVE_SERVER, 1)
    sock.setsockopt(zmq.CURVE_SECRETKEY, secret)
    sock.setsockopt(zmq.CURVE_PUBLICKEY, public)
    sock.bind(endpoint)
    return sock


def _bound(sock: zmq.Socket[bytes], endpoint: str) -> bool:
    try:
        sock.bind(endpoint)
    except zmq.ZMQError as exc:
        if exc.errno != errno.EADDRINUSE:
            raise
        return False
    return True


def _plain_hub(
    context: Context, endpoint: str, stop: threading.Event
) -> threading.Thread:
    """A plain broker on `endpoint` that answers mmi.workers: no worker anywhere."""

    def serve() -> None:
        sock = context.socket(zmq.ROUTER)
        sock.setsockopt(zmq.LINGER, 0)
        try:
            # the CURVE hub's close is done by libzmq's I/O thread, a little later:
            # its port may still be taken for a moment
            wait_until(lambda: _bound(sock, endpoint), what=f"{endpoint} free again")
            while not stop.is_set():
                if not sock.poll(50):
                    continue
                peer, *frames = sock.recv_multipart()
                request = mdp_decode.decode_at_broker(frames)
                assert isinstance(request, mdp.ClientRequest)
                reply = mdp.ClientReply(
                    mdp.Version.V02, request.service, (b"200", b"{}")
                )
                sock.send_multipart([peer, *mdp.encode(reply)])
        finally:
            sock.close(linger=0)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return thread


def test_a_refusal_said_once_is_probed_again_and_the_board_starts(
    zmq_context: Context, inbox: SignalInbox
) -> None:
    endpoint = f"tcp://127.0.0.1:{free_port_base()}"
    curve_hub = _curve_hub(zmq_context, endpoint)
    monitor = curve_hub.get_monitor_socket(_HANDSHAKE_FAILED)
    outcome: list[object] = []

    def start() -> None:
        try:
            outcome.append(_probe(zmq_context, endpoint).before_start(inbox))
        except poller._HubSaysNo as exc:
            outcome.append(exc)

    board = threading.Thread(target=start, daemon=True)
    board.start()
    try:
        tried = monitor.poll(10_000)
    finally:
        curve_hub.disable_monitor()
        monitor.close(linger=0)
        curve_hub.close(linger=0)  # the hub that refused is gone: a plain one comes
    assert tried, "the board never tried the hub"
    stop = threading.Event()
    plain = _plain_hub(zmq_context, endpoint, stop)
    try:
        wait_until(lambda: not board.is_alive(), what="the board's start", timeout_s=20)
    finally:
        stop.set()
        plain.join(timeout=5)
    assert outcome == [True]


def test_a_refusal_said_twice_ends_the_start_with_status_2(
    zmq_context: Context, inbox: SignalInbox
) -> None:
    endpoint = f"tcp://127.0.0.1:{free_port_base()}"
    curve_hub = _curve_hub(zmq_context, endpoint)
    try:
        with pytest.raises(poller._HubSaysNo) as caught:
            _probe(zmq_context, endpoint).before_start(inbox)
    finally:
        curve_hub.close(linger=0)
    assert caught.value.status == EXIT_USAGE
    assert "requires CURVE" in str(caught.value)
