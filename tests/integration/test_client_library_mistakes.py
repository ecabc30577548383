"""What a developer's own script meets when it gets something wrong (README, "Client
and worker libraries"): a typed error that names the mistake, a deadline that holds,
a log line rather than a silent loss. No daemon needed: nothing, or nothing that
answers, is at the address."""

from __future__ import annotations

import math
import os
import signal
import threading
import time
import uuid
from collections.abc import Callable

import pytest
import zmq
from structlog.testing import capture_logs
from support.net import free_port_base

from raspy.client import Client, ClientTimeout, CloneClient, Worker, fetch_snapshot
from raspy.client.titanic import TitanicClient
from raspy.errors import quote, shown
from raspy.protocol import mdp
from raspy.protocol.mdp import Version

# what a developer may well write: the tools' HOST:PORT, a forgotten port
BAD_ENDPOINTS = ["127.0.0.1:5514", "tcp://127.0.0.1", "udp://127.0.0.1:5514"]


def _raspy_threads() -> set[str]:
    return {t.name for t in threading.enumerate() if t.name.startswith("raspy-")}


def _use(kind: str, endpoint: str) -> None:
    if kind == "client":
        Client(endpoint).request("pi.echo", "hello")
    elif kind == "titanic":
        TitanicClient(endpoint).submit("pi.echo", "hello")
    else:
        Worker(endpoint, "pi.weather", heartbeat_while_busy=kind == "worker")


@pytest.mark.timeout(10)
@pytest.mark.parametrize("endpoint", BAD_ENDPOINTS)
@pytest.mark.parametrize("kind", ["client", "titanic", "worker", "direct_worker"])
def test_an_endpoint_zeromq_refuses_is_a_value_error_naming_it(
    endpoint: str, kind: str
) -> None:
    """Before: a ZMQError ("Invalid argument") at the first request, or, from a
    Worker, a traceback logged by its I/O thread and then the ZMQError."""
    before = _raspy_threads()
    with capture_logs() as logs, pytest.raises(ValueError, match="HOST:PORT") as raised:
        _use(kind, endpoint)
    assert repr(endpoint) in str(raised.value)
    assert not [entry for entry in logs if entry["log_level"] == "error"]
    assert _raspy_threads() <= before


@pytest.mark.timeout(15)
def test_titanic_wait_keeps_its_deadline_when_the_broker_is_silent() -> None:
    """wait(timeout_s=0.5) polls titanic.reply; with no broker answering, each poll
    used to take the MDP client's whole budget (3 tries of 2.5 s): 7.5 s."""
    context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    silent = context.socket(zmq.ROUTER)  # takes requests, never answers
    silent.setsockopt(zmq.LINGER, 0)
    port = silent.bind_to_random_port("tcp://127.0.0.1")
    try:
        with TitanicClient(f"tcp://127.0.0.1:{port}") as titanic:
            started = time.monotonic()
            with pytest.raises(ClientTimeout, match=r"titanic\.reply"):
                titanic.wait(uuid.uuid4().hex, timeout_s=0.5)
            took_s = time.monotonic() - started
        assert took_s < 3.0  # not 7.5 s; the margin is for a loaded machine
    finally:
        silent.close(linger=0)
        context.term()


@pytest.mark.timeout(15)
def test_closing_a_clone_client_with_unconfirmed_updates_says_so() -> None:
    """`with CloneClient(...) as cc: cc.set(key, value)` ends before the server has
    the update: it is given up at close. It used to vanish without a word."""
    base = free_port_base()  # nobody serves it: the update cannot be confirmed
    endpoint = f"tcp://127.0.0.1:{base}"
    with capture_logs() as logs, CloneClient(endpoint, b"/trial/") as clone_client:
        clone_client.set(b"/trial/door", b"open")
    warned = [
        entry
        for entry in logs
        if entry["event"] == "clone_updates_not_confirmed_at_close"
    ]
    assert len(warned) == 1
    assert warned[0]["count"] == 1
    assert "confirm_timeout_s" in warned[0]["hint"]


@pytest.mark.timeout(15)
def test_a_reply_from_another_service_is_logged_naming_that_service() -> None:
    """A reply that names another service than the request's is dropped and logged:
    `reply_rejected` said neither service, so the log did not tell which broker or
    worker mixed them up. The name is outside text: quoted and cut."""
    context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    broker = context.socket(zmq.ROUTER)  # a broker that answers wrong, then right
    broker.setsockopt(zmq.LINGER, 0)
    port = broker.bind_to_random_port("tcp://127.0.0.1")
    wrong = b"pi.other\x00" + b"x" * 100

    def answer() -> None:
        if not broker.poll(10_000):
            return
        client_id, *_ = broker.recv_multipart()
        for service in (wrong, b"pi.echo"):
            frames = mdp.client_reply_frames(Version.V02, service, [b"hello"])
            broker.send_multipart([client_id, *frames])

    replier = threading.Thread(target=answer)
    replier.start()
    try:
        with capture_logs() as logs, Client(f"tcp://127.0.0.1:{port}") as client:
            assert client.request("pi.echo", "hello") == [b"hello"]
    finally:
        replier.join(timeout=10)
        broker.close(linger=0)
        context.term()
    (rejected,) = [e for e in logs if e["event"] == "reply_rejected"]
    assert rejected == {
        "event": "reply_rejected",
        "component": "mdp_client",
        "log_level": "warning",
        "reason": "wrong_service",
        "service": quote(wrong),
        "expected": "pi.echo",
        "frames": 4,
    }
    assert rejected["service"] == "'pi.other\\x00" + "x" * 55 + "'…"


@pytest.mark.timeout(15)
@pytest.mark.parametrize("io_thread", [True, False], ids=["io_thread", "direct"])
def test_a_worker_recv_whose_time_is_up_returns_none(io_thread: bool) -> None:
    """recv(timeout_s) is None once timeout_s has passed without a request: a loop
    that passes what is left of its own deadline (`deadline - time.monotonic()`)
    may pass 0 or less. With the I/O thread (the default) that was a ValueError
    from the queue ("'timeout' must be a non-negative number"), without it None."""
    base = free_port_base()  # nobody serves it: no request comes
    with Worker(
        f"tcp://127.0.0.1:{base}", "pi.weather", heartbeat_while_busy=io_thread
    ) as worker:
        assert worker.recv(0) is None
        assert worker.recv(-0.5) is None


@pytest.mark.timeout(15)
@pytest.mark.parametrize("timeout_s", [math.nan, math.inf, -math.inf], ids=str)
def test_a_client_timeout_that_is_no_finite_number_is_a_value_error_at_once(
    timeout_s: float,
) -> None:
    """Client's timeout_s "must be > 0": a NaN passed the check (it is not <= 0),
    and the client failed at its first request with "cannot convert float NaN to
    integer", as it did with an infinite one (an OverflowError)."""
    with pytest.raises(ValueError, match="timeout_s"):
        Client(f"tcp://127.0.0.1:{free_port_base()}", timeout_s=timeout_s)


@pytest.mark.timeout(15)
@pytest.mark.parametrize(
    "times",
    [
        pytest.param({"timeout_s": math.nan}, id="timeout_nan"),
        pytest.param({"timeout_s": 1, "poll_initial_s": math.nan}, id="initial_nan"),
        pytest.param({"timeout_s": 1, "poll_max_s": math.nan}, id="max_nan"),
    ],
)
def test_a_titanic_wait_with_a_nan_time_is_a_value_error_at_once(
    times: dict[str, float],
) -> None:
    """wait() "need[s] timeout_s > 0 and 0 < poll_initial_s <= poll_max_s": a NaN
    passed the check (no comparison holds for it), and wait() then polled a
    pending request for ever (its deadline never came)."""
    endpoint = f"tcp://127.0.0.1:{free_port_base()}"
    with TitanicClient(endpoint) as titanic, pytest.raises(ValueError, match="poll"):
        titanic.wait(uuid.uuid4().hex, **times)


@pytest.mark.timeout(15)
@pytest.mark.parametrize(
    "call",
    ["wait_synced", "changes", "confirm", "server_ttl_s", "resend_s"],
)
def test_a_clone_client_wait_of_nan_seconds_is_a_value_error_at_once(
    call: str,
) -> None:
    """A NaN passed every `<= 0` check: wait_synced(nan) and changes(nan) never
    ended, set(confirm_timeout_s=nan) sent the update and raised ClientTimeout
    "not confirmed within nan s" at once, and a client made with server_ttl_s=nan
    never gave up a silent server."""
    endpoint = f"tcp://127.0.0.1:{free_port_base()}"
    nan = math.nan
    if call in ("server_ttl_s", "resend_s"):
        with pytest.raises(ValueError, match=call):
            CloneClient(endpoint, b"/trial/", **{call: nan})  # type: ignore[arg-type]  # a float, as the keyword is
        return
    calls: dict[str, Callable[[CloneClient], object]] = {
        "wait_synced": lambda tree: tree.wait_synced(nan),
        "changes": lambda tree: tree.changes(nan),
        "confirm": lambda tree: tree.set(b"/trial/a", b"1", confirm_timeout_s=nan),
    }
    with (
        CloneClient(endpoint, b"/trial/") as tree,
        pytest.raises(ValueError, match="timeout_s"),
    ):
        calls[call](tree)


@pytest.mark.timeout(15)
@pytest.mark.parametrize(
    "server",
    ["udp://127.0.0.1:5514", "ipc://hub:5514", "tcp://127.0.0.1:\u00b2"],
    ids=["udp", "ipc", "superscript-port"],
)
@pytest.mark.parametrize("kind", ["clone_client", "fetch_snapshot"])
def test_a_clone_server_address_of_another_form_is_a_value_error_naming_it(
    server: str, kind: str
) -> None:
    """CloneClient and fetch_snapshot take `tcp://HOST:N` or `HOST:N` (README). A
    `udp://HOST:N` was read as the host `udp://HOST`, and the ValueError named an
    address the caller never wrote ('tcp://[udp://127.0.0.1]:5515'); a port of
    digits that are not ASCII was a bare "invalid literal for int()"."""
    use: Callable[[str], object] = (
        CloneClient if kind == "clone_client" else fetch_snapshot
    )
    with pytest.raises(ValueError, match="HOST:PORT-BASE") as raised:
        use(server)  # refused before any socket or thread is made
    assert shown(server) in str(raised.value)


@pytest.mark.timeout(15)
@pytest.mark.parametrize("interval_s", [math.nan, math.inf], ids=str)
@pytest.mark.parametrize("io_thread", [True, False], ids=["io_thread", "direct"])
def test_a_worker_heartbeat_interval_that_is_no_finite_number_is_a_value_error(
    interval_s: float, io_thread: bool
) -> None:
    """heartbeat_interval_s "must be > 0": a NaN passed the check. Without the I/O
    thread the first recv() then failed with "cannot convert float NaN to
    integer"; with it, and with an infinite one, nothing was said at all."""
    before = _raspy_threads()
    with pytest.raises(ValueError, match="heartbeat interval"):
        Worker(
            f"tcp://127.0.0.1:{free_port_base()}",
            "pi.weather",
            heartbeat_interval_s=interval_s,
            heartbeat_while_busy=io_thread,
        )
    assert _raspy_threads() <= before


@pytest.mark.timeout(15)
@pytest.mark.parametrize("io_thread", [True, False], ids=["io_thread", "direct"])
def test_a_worker_recv_of_infinite_seconds_waits_and_of_nan_is_a_value_error(
    io_thread: bool,
) -> None:
    """recv(timeout_s): None after timeout_s, None waits. recv(math.inf) was an
    OverflowError ("timestamp out of range") with the I/O thread, and recv(nan)
    without it waited for ever. Now an infinite wait waits, as None does (here,
    until close() from a signal handler ends it), and a NaN is a ValueError."""
    base = free_port_base()  # nobody serves it: no request comes
    with Worker(
        f"tcp://127.0.0.1:{base}", "pi.weather", heartbeat_while_busy=io_thread
    ) as worker:
        with pytest.raises(ValueError, match="timeout_s"):
            worker.recv(math.nan)
        before = signal.signal(signal.SIGUSR1, lambda *_: worker.close())
        signaller = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGUSR1))
        signaller.start()
        try:
            with pytest.raises(ValueError, match="closed"):
                worker.recv(math.inf)
        finally:
            signaller.join()
            signal.signal(signal.SIGUSR1, before)


@pytest.mark.timeout(15)
@pytest.mark.parametrize("timeout_s", [math.nan, math.inf], ids=str)
def test_a_fetch_snapshot_timeout_that_is_no_finite_number_is_a_value_error(
    timeout_s: float,
) -> None:
    """fetch_snapshot's timeout_s "is still the most it waits": a NaN was a bare
    "cannot convert float NaN to integer", an infinite one an OverflowError."""
    with pytest.raises(ValueError, match="timeout_s"):
        fetch_snapshot(f"tcp://127.0.0.1:{free_port_base()}", timeout_s=timeout_s)
