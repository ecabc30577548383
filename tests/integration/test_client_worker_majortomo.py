"""Interop (docs/protocols.md §3.4, §9.2): our Client and Worker against majortomo's Broker.

The broker runs in-process on tcp://127.0.0.1:*; both our peers speak the majortomo
dialect. Each Worker is made in the thread that serves with it (one owner per socket).
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager

import pytest
import zmq
from majortomo.broker import Broker
from majortomo.worker import Worker as MajortomoWorker
from support.wait import wait_until

from raspy.client import (
    Client,
    ClientReply,
    ClientTimeout,
    TitanicClient,
    Version,
    Worker,
)

pytestmark = pytest.mark.interop

Context = zmq.Context[zmq.Socket[bytes]]
VMJ = Version.MAJORTOMO
HEARTBEAT_S = 0.25  # both sides; majortomo's idle timeout is a multiple of it


class _Broker(Broker):
    """majortomo's Broker; reports where it bound, and closes its socket plainly."""

    def __init__(self, context: Context, bind: str) -> None:
        super().__init__(
            bind=bind,
            heartbeat_interval=HEARTBEAT_S,
            heartbeat_timeout=HEARTBEAT_S * 8,
            zmq_context=context,
        )
        self.bound = threading.Event()
        self.endpoint = ""

    def bind(self) -> None:
        # A restarted broker binds the port its predecessor just closed; libzmq
        # frees it asynchronously, so retry EADDRINUSE for a moment.
        wait_until(self._try_bind, what="the previous broker's port to be freed")
        self.endpoint = self._socket.getsockopt_string(zmq.LAST_ENDPOINT)
        self.bound.set()

    def _try_bind(self) -> bool:
        try:
            super().bind()  # type: ignore[no-untyped-call]  # majortomo: no annotation
        except zmq.ZMQError as exc:
            if exc.errno != zmq.EADDRINUSE:
                raise
            self.close()
            return False
        return True

    def close(self) -> None:
        # majortomo 0.2.0 calls disconnect() on its bound endpoint, which raises
        # ENOENT and leaves the socket open, so close it here instead.
        if self._socket is not None:
            self._socket.close(linger=0)
            self._socket = None  # type: ignore[assignment]  # majortomo's comment omits None


@contextmanager
def majortomo_broker(
    context: Context, bind: str = "tcp://127.0.0.1:*"
) -> Iterator[str]:
    """Run majortomo's Broker in a thread; yield its endpoint; stop and join it."""
    broker = _Broker(context, bind)
    thread = threading.Thread(target=broker.run, name="majortomo-broker")
    thread.start()
    try:
        assert broker.bound.wait(5), "majortomo broker did not bind"
        yield broker.endpoint
    finally:
        broker.stop()  # type: ignore[no-untyped-call]  # majortomo: no annotation
        thread.join(timeout=5)
        assert not thread.is_alive()


@contextmanager
def serving(
    context: Context,
    endpoint: str,
    run: Callable[[Worker, threading.Event], None],
    *,
    heartbeat_while_busy: bool = True,
    service: str = "upper",
) -> Iterator[None]:
    """A majortomo-dialect Worker of `service`, made and used in its own thread."""
    stop = threading.Event()

    def main() -> None:
        with Worker(
            endpoint,
            service,
            version=VMJ,
            heartbeat_interval_s=HEARTBEAT_S,
            heartbeat_liveness=4,
            reconnect_initial_s=HEARTBEAT_S,
            heartbeat_while_busy=heartbeat_while_busy,
            linger_ms=0,
            context=context,
        ) as worker:
            run(worker, stop)

    thread = threading.Thread(target=main, name="test-worker")
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=10)
        assert not thread.is_alive()


def upper(body: Sequence[bytes]) -> list[bytes]:
    return [frame.upper() for frame in body]


def serve_upper(worker: Worker, stop: threading.Event) -> None:
    worker.serve(upper, stop=stop)


def client(context: Context, endpoint: str) -> Client:
    return Client(endpoint, version=VMJ, timeout_s=1.0, retries=5, context=context)


@pytest.mark.parametrize("heartbeat_while_busy", [True, False], ids=["io", "direct"])
def test_our_client_and_worker_talk_through_majortomo_broker(
    zmq_context: Context, heartbeat_while_busy: bool
) -> None:
    """§3.4: REQUEST 0x02, worker FINAL 0x04, client FINAL 0x04 without service."""
    with (
        majortomo_broker(zmq_context) as endpoint,
        serving(
            zmq_context,
            endpoint,
            serve_upper,
            heartbeat_while_busy=heartbeat_while_busy,
        ),
        client(zmq_context, endpoint) as caller,
    ):
        assert caller.request("upper", "abc", b"d\xffe") == [b"ABC", b"D\xffE"]
        assert caller.request(b"upper", b"x") == [b"X"]


def test_partial_replies_cross_majortomo_broker_in_order(zmq_context: Context) -> None:
    """§3.4: PARTIAL 0x03 then FINAL 0x04, both sides, bodies in arrival order."""

    def stream(worker: Worker, stop: threading.Event) -> None:
        while not stop.is_set():
            request = worker.recv(timeout_s=0.05)
            if request is not None:
                sender, body = request
                worker.reply(sender, [b"one", *body], final=False)
                worker.reply(sender, [b"two"])

    with (
        majortomo_broker(zmq_context) as endpoint,
        serving(zmq_context, endpoint, stream),
        client(zmq_context, endpoint) as caller,
    ):
        assert list(caller.request_parts("upper", "q")) == [
            ClientReply(VMJ, b"", (b"one", b"q"), final=False),
            ClientReply(VMJ, b"", (b"two",), final=True),
        ]
        assert caller.request("upper", "r") == [b"one", b"r", b"two"]


@pytest.mark.slow
@pytest.mark.parametrize("heartbeat_while_busy", [True, False], ids=["io", "direct"])
def test_our_worker_registers_again_after_majortomo_broker_restarts(
    zmq_context: Context, heartbeat_while_busy: bool
) -> None:
    """§2.4/§2.6: the broker goes away and comes back; the worker sends a new READY.

    The new broker knows nothing of the worker: a request gets through only if
    the worker started over on a new socket (after DISCONNECT or broker silence).
    """
    with ExitStack() as workers:
        with majortomo_broker(zmq_context) as endpoint:
            workers.enter_context(
                serving(
                    zmq_context,
                    endpoint,
                    serve_upper,
                    heartbeat_while_busy=heartbeat_while_busy,
                )
            )
            with client(zmq_context, endpoint) as caller:
                assert caller.request("upper", "before") == [b"BEFORE"]
        with (
            majortomo_broker(zmq_context, endpoint),
            client(zmq_context, endpoint) as caller,
        ):
            assert caller.request("upper", "after") == [b"AFTER"]


def test_titanic_submit_is_sent_once_however_slow_the_commit(
    zmq_context: Context,
) -> None:
    """A submit whose answer is late is not resent: a second copy would be stored
    (and run) under a UUID the caller never learns. It times out saying so."""
    stored: list[list[bytes]] = []
    committed = threading.Event()  # the first commit is held until the test says

    def store(worker: Worker, stop: threading.Event) -> None:
        while not stop.is_set():
            request = worker.recv(timeout_s=0.05)
            if request is None:
                continue
            sender, body = request
            stored.append(body)
            if len(stored) == 1:
                committed.wait(10)  # a slow fsync
            worker.reply(sender, [b"200", uuid.uuid4().hex.encode()])

    with (
        majortomo_broker(zmq_context) as endpoint,
        serving(zmq_context, endpoint, store, service="titanic.request"),
        TitanicClient(
            endpoint, version=VMJ, timeout_s=0.5, retries=3, context=zmq_context
        ) as titanic,
    ):
        try:
            with pytest.raises(ClientTimeout, match="may have been stored"):
                titanic.submit("pi.toggle", "on")
        finally:
            committed.set()
        # one worker, one queue: the answer to this comes after any earlier copy's
        titanic.submit("pi.toggle", "off")
    assert stored == [[b"pi.toggle", b"on"], [b"pi.toggle", b"off"]]


@pytest.mark.parametrize("heartbeat_while_busy", [True, False], ids=["io", "direct"])
def test_a_handlers_str_frames_are_sent_as_utf8(
    zmq_context: Context, heartbeat_while_busy: bool
) -> None:
    """Frames of str, as Client.request takes them, go out as UTF-8; on the I/O
    thread they were lost and the client timed out."""

    def greet(worker: Worker, stop: threading.Event) -> None:
        worker.serve(lambda body: ["hello " + body[0].decode(), b"!"], stop=stop)

    with (
        majortomo_broker(zmq_context) as endpoint,
        serving(
            zmq_context, endpoint, greet, heartbeat_while_busy=heartbeat_while_busy
        ),
        Client(
            endpoint, version=VMJ, timeout_s=2.0, retries=1, context=zmq_context
        ) as caller,
    ):
        assert caller.request("upper", "bob") == [b"hello bob", b"!"]


@pytest.mark.parametrize("heartbeat_while_busy", [True, False], ids=["io", "direct"])
@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (b"x", "not one bytes: wrap it in a list"),
        ("x", "not one str: wrap it in a list"),
        ([b"x", 7], "reply frame 1 is a int"),
    ],
    ids=["bytes", "str", "int-frame"],
)
def test_a_reply_body_that_is_not_frames_ends_serve_with_a_type_error(
    zmq_context: Context, heartbeat_while_busy: bool, answer: object, error: str
) -> None:
    """The mistake is raised in the handler's thread, not lost on the I/O thread
    while serve() went on and the broker waited for the reply for ever."""
    raised: list[BaseException] = []

    def serve_wrongly(worker: Worker, stop: threading.Event) -> None:
        try:
            worker.serve(lambda body: answer, stop=stop)  # type: ignore[arg-type,return-value]
        except TypeError as exc:
            raised.append(exc)

    with (
        majortomo_broker(zmq_context) as endpoint,
        serving(
            zmq_context,
            endpoint,
            serve_wrongly,
            heartbeat_while_busy=heartbeat_while_busy,
        ),
        Client(
            endpoint, version=VMJ, timeout_s=0.3, retries=1, context=zmq_context
        ) as caller,
    ):
        with pytest.raises(ClientTimeout):
            caller.request("upper", "bob")
        wait_until(lambda: raised, what="serve() to raise")
    assert error in str(raised[0])


@pytest.mark.parametrize(
    ("parts", "expected"),
    [([[b"row1"], [b"row2"]], [b"row1", b"row2"]), ([], [])],
    ids=["after-partials", "alone"],
)
def test_our_client_takes_majortomos_empty_final(
    zmq_context: Context, parts: list[list[bytes]], expected: list[bytes]
) -> None:
    """§3.4: majortomo's worker ends a stream with a FINAL of no body frame, which
    its broker passes on as [b'', MDPC02, 0x04]. It was refused as short, and the
    request resent and run again until the client gave up."""
    runs: list[list[bytes]] = []

    with majortomo_broker(zmq_context) as endpoint:
        worker = MajortomoWorker(
            endpoint,
            b"stream",
            heartbeat_interval=HEARTBEAT_S,
            heartbeat_timeout=HEARTBEAT_S * 8,
            zmq_context=zmq_context,
        )

        def stream() -> None:
            worker.connect()
            try:
                request = worker.wait_for_request()
                sender, frames = request
                runs.append(frames)
                for part in parts:
                    worker.send_reply_partial(sender, part)
                worker.send_reply_final(sender, [])
            finally:
                worker.close()  # type: ignore[no-untyped-call]  # majortomo: no annotation

        thread = threading.Thread(target=stream, name="majortomo-worker")
        thread.start()
        try:
            with Client(
                endpoint, version=VMJ, timeout_s=2.0, retries=3, context=zmq_context
            ) as caller:
                assert caller.request("stream", "go") == expected
        finally:
            thread.join(timeout=10)
        assert not thread.is_alive()
    assert runs == [[b"go"]]
