"""raspy-poller's looks at its hub (raspy.cli.board_probe): at the first one
(`Probe.before_start`) a refusal is believed when the next probe says it again. A handshake cut short once (a
hub that is starting) ended a board with status 2, which systemd does not restart,
so a board that booted before its hub could stay down for good."""

from __future__ import annotations

import contextlib
import errno
import json
import signal
import socket
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
import zmq
from support.net import free_port_base
from support.wait import wait_until

from raspy.cli import EXIT_USAGE, poller_run
from raspy.cli.board_probe import HubSaysNo, Probe
from raspy.cli.signals import SignalInbox
from raspy.config import DevicesConfig, LinkConfig
from raspy.devices import registries
from raspy.protocol import mdp, mdp_decode, mmi
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


def _probe(context: Context, endpoint: str, timeout_s: float = 3.0) -> Probe:
    registry = registries.fake_registry("early-board", DevicesConfig())
    return Probe(context, endpoint, registry, None, timeout_s=timeout_s)


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
    context: Context,
    endpoint: str,
    stop: threading.Event,
    answers: Sequence[bytes] | None = None,
    asked: list[bytes] | None = None,
) -> threading.Thread:
    """A plain broker on `endpoint` that answers mmi.workers (each question's
    pattern appended to `asked`): with the tables in `answers`, one each, then no
    more at all (a hub gone silent); without, "no worker anywhere" for ever.
    Anything else (a worker's READY, its heartbeats) it takes and drops."""

    def serve() -> None:
        sock = context.socket(zmq.ROUTER)
        sock.setsockopt(zmq.LINGER, 0)
        left = None if answers is None else list(answers)
        try:
            # the CURVE hub's close is done by libzmq's I/O thread, a little later:
            # its port may still be taken for a moment
            wait_until(lambda: _bound(sock, endpoint), what=f"{endpoint} free again")
            while not stop.is_set():
                if not sock.poll(50):
                    continue
                peer, *frames = sock.recv_multipart()
                request = mdp_decode.decode_at_broker(frames)
                if not isinstance(request, mdp.ClientRequest):
                    continue
                assert request.service == mmi.WORKERS
                if asked is not None:
                    asked.append(request.body[0])
                if left == []:
                    continue  # silent from here on
                table = b"{}" if left is None else left.pop(0)
                reply = mdp.ClientReply(
                    mdp.Version.V02, request.service, (b"200", table)
                )
                sock.send_multipart([peer, *mdp.encode(reply)])
        finally:
            sock.close(linger=0)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return thread


@contextlib.contextmanager
def _hub_at(
    context: Context, answers: Sequence[bytes], asked: list[bytes]
) -> Iterator[str]:
    """_plain_hub on a port base of its own, stopped at the end."""
    endpoint = f"tcp://127.0.0.1:{free_port_base()}"
    stop = threading.Event()
    hub = _plain_hub(context, endpoint, stop, answers, asked)
    try:
        yield endpoint
    finally:
        stop.set()
        hub.join(timeout=5)


def _table(*names: str) -> bytes:
    """An mmi.workers table: one idle worker of each of `names`."""
    return json.dumps({name: {"idle": 1, "busy": 0} for name in names}).encode()


def test_a_hub_that_runs_our_device_service_itself_is_said_at_its_first_answer(
    zmq_context: Context, inbox: SignalInbox
) -> None:
    """A board named after the hub, whose own `fake` service the hub runs too: it
    was told after ~10 s of probes (the twin rule's wait for a stale worker to go);
    the hub's part is no stale worker, so its first answer says it."""
    asked: list[bytes] = []
    own = _table("early-board.fake.devices", "early-board.devices.fake.mmi")
    with (
        _hub_at(zmq_context, [own] * 20, asked) as endpoint,
        pytest.raises(HubSaysNo) as caught,
    ):
        _probe(zmq_context, endpoint).before_start(inbox)
    assert caught.value.status == EXIT_USAGE
    said = str(caught.value)
    assert "the hub itself runs under the host name 'early-board'" in said
    assert "cannot serve early-board.fake.devices" in said
    assert asked == [b"early-board.*"]


def test_a_signal_while_the_first_look_waits_for_a_silent_hub_is_taken_at_once(
    zmq_context: Context, inbox: SignalInbox
) -> None:
    """The look before the start took its whole timeout (3 s) before a SIGTERM was
    seen; here the timeout is far beyond the test's, so only a look that lets the
    signal in ends in time."""
    asked: list[bytes] = []
    outcome: list[bool] = []
    with _hub_at(zmq_context, [], asked) as endpoint:
        probe = _probe(zmq_context, endpoint, timeout_s=3600.0)
        board = threading.Thread(
            target=lambda: outcome.append(probe.before_start(inbox)), daemon=True
        )
        board.start()
        wait_until(lambda: asked, what="the board's look at the hub", timeout_s=10)
        signal.raise_signal(signal.SIGUSR2)
        wait_until(lambda: not board.is_alive(), what="the board's start", timeout_s=10)
    assert outcome == [False]


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
        except HubSaysNo as exc:
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
        with pytest.raises(HubSaysNo) as caught:
            _probe(zmq_context, endpoint).before_start(inbox)
    finally:
        curve_hub.close(linger=0)
    assert caught.value.status == EXIT_USAGE
    assert "requires CURVE" in str(caught.value)


def test_a_board_serving_pings_the_watchdog_and_stops_while_a_look_waits(
    zmq_context: Context,
    inbox: SignalInbox,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The hub answers the look before the start, then no more: the loop waited
    out each later look (3 s), and systemd's watchdog pings and a SIGTERM waited
    with it. Here a look's timeout is far beyond the test's: the pings keep
    coming while it is under way, and the signal ends the board."""
    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.settimeout(10)
    server.bind(str(tmp_path / "notify"))
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "notify"))
    monkeypatch.setenv("WATCHDOG_USEC", "400000")  # a ping every 0.2 s
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    registry = registries.fake_registry("quiet-board", DevicesConfig())
    asked: list[bytes] = []
    outcome: list[int] = []
    try:
        with _hub_at(zmq_context, [b"{}"], asked) as endpoint:
            board = threading.Thread(
                target=lambda: outcome.append(
                    poller_run._run(
                        endpoint,
                        registry,
                        None,
                        inbox,
                        link=LinkConfig(hub_check_timeout_s=3600.0),
                    )
                ),
                daemon=True,
            )
            board.start()
            wait_until(
                lambda: len(asked) == 2,
                what="the board's first look while it serves",
                timeout_s=20,
            )
            pings = 0
            while pings < 5:  # server.recv times out after 10 s
                pings += server.recv(4096).split(b"\n").count(b"WATCHDOG=1")
            signal.raise_signal(signal.SIGUSR2)
            wait_until(lambda: not board.is_alive(), what="the board's stop")
    finally:
        server.close()
    assert outcome == [0]
    assert asked == [b"quiet-board.*"] * 2


def test_a_look_whose_probe_failed_is_dropped_and_the_next_look_starts_anew() -> None:
    """A probe whose runner failed (here its context ended under it) raised its
    error at every later look, the same error object, until close(): it was kept
    as the look under way. The failed one is closed; the next look is a new probe
    (on this ended context, one whose socket is refused: an error of its own)."""
    context = zmq.Context()
    probe = _probe(context, f"tcp://127.0.0.1:{free_port_base()}", timeout_s=3600.0)
    try:
        assert probe.look() is None  # under way: nothing answers there
        ending = threading.Thread(target=context.term, daemon=True)
        ending.start()  # the runner's poll fails (ETERM), its sockets are closed
        ending.join(timeout=10)
        assert not ending.is_alive()
        with pytest.raises(zmq.ZMQError) as first:
            probe.look()
        with pytest.raises(zmq.ZMQError) as second:
            probe.look()
    finally:
        probe.close()
    assert first.value.errno == zmq.ETERM
    assert second.value is not first.value  # the socket of a new probe refused
