"""`raspy call` as a real process against a raw ROUTER playing the broker (RFC 18, RFC 7)."""

from __future__ import annotations

import subprocess
import sys

import pytest
import zmq
from support.cli_process import answer_presence, connections, finish
from support.zmqctx import recv

Context = zmq.Context[zmq.Socket[bytes]]
Router = zmq.Socket[bytes]


def start_call(*args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "raspy.cli.raspy", "call", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def test_raspy_call_prints_each_reply_frame_on_its_own_line(
    router: tuple[Router, str],
) -> None:
    """§3.3: the PARTIAL and FINAL bodies, one line per frame, 0x-hex if not UTF-8."""
    sock, endpoint = router
    process = start_call("--server", endpoint, "echo", "héllo", "x")
    answer_presence(sock, b"echo")
    peer, *frames = recv(sock, timeout_ms=10_000)
    assert frames == [b"MDPC02", b"\x01", b"echo", "héllo".encode(), b"x"]
    sock.send_multipart([peer, b"MDPC02", b"\x02", b"echo", "héllo".encode()])
    sock.send_multipart([peer, b"MDPC02", b"\x03", b"echo", b"\xff\x00", b"x"])
    assert finish(process) == (0, "héllo\n0xff00\nx\n".encode(), b"")


def test_raspy_call_speaks_mdp01_and_sends_one_empty_frame_without_body(
    router: tuple[Router, str],
) -> None:
    """§2.3: a 0.1 REQUEST needs a body frame; none given sends one empty frame."""
    sock, endpoint = router
    process = start_call("--server", endpoint, "--version", "0.1", "echo")
    peer, *probe = recv(sock, timeout_ms=10_000)
    assert probe == [b"", b"MDPC01", b"mmi.service", b"echo"]
    sock.send_multipart([peer, b"", b"MDPC01", b"mmi.service", b"200"])
    peer, *frames = recv(sock, timeout_ms=10_000)
    assert frames == [b"", b"MDPC01", b"echo", b""]
    sock.send_multipart([peer, b"", b"MDPC01", b"echo", b"ok"])
    assert finish(process) == (0, b"ok\n", b"")


def test_raspy_call_exits_1_after_its_tries_time_out(
    router: tuple[Router, str],
) -> None:
    """§2.3: two tries of 0.2 s, then a one-line error and exit status 1."""
    sock, endpoint = router
    process = start_call(
        "--server", endpoint, "--timeout", "0.2", "--retries", "2", "nobody", "x"
    )
    status, out, err = finish(process)
    assert (status, out) == (1, b"")
    assert err.decode().splitlines()[-1] == (
        f"raspy call: {endpoint}: no reply from service 'mmi.service' in 2 tries of "
        "0.2 s each (asked whether a worker offers 'nobody': nothing was sent) (is raspyd "
        "running there? --server HOST:PORT names another hub or port base; a hub "
        "with CURVE answers only with --server-key and --client-cert)"
    )
    asked = [recv(sock), recv(sock)]
    assert len({frames[0] for frames in asked}) == 2
    assert {frames[-2] for frames in asked} == {b"mmi.service"}


def test_raspy_call_exits_1_after_its_request_times_out(
    router: tuple[Router, str],
) -> None:
    """§2.3: a worker was there when asked, then no reply: the tries, then exit 1."""
    sock, endpoint = router
    process = start_call(
        "--server", endpoint, "--timeout", "0.2", "--retries", "2", "slow", "x"
    )
    answer_presence(sock, b"slow")
    assert len({recv(sock)[0], recv(sock)[0]}) == 2
    status, out, err = finish(process)
    assert (status, out) == (1, b"")
    assert (
        err.decode()
        .splitlines()[-1]
        .startswith(
            f"raspy call: {endpoint}: no reply from service 'slow' in 2 tries of 0.2 s"
            " each"
        )
    )


def test_after_a_timeout_raspy_call_says_whether_any_worker_serves_it(
    router: tuple[Router, str],
) -> None:
    """RFC 8: one mmi.service question tells a mistyped or absent service (404) from
    a slow worker, so the one line says which."""
    sock, endpoint = router
    process = start_call(
        "--server", endpoint, "--timeout", "0.2", "--retries", "1", "lamp", "on"
    )
    answer_presence(sock, b"lamp")  # there when asked, gone by the request
    assert recv(sock, timeout_ms=10_000)[1:] == [b"MDPC02", b"\x01", b"lamp", b"on"]
    peer, *probe = recv(sock, timeout_ms=10_000)
    assert probe == [b"MDPC02", b"\x01", b"mmi.service", b"lamp"]
    sock.send_multipart([peer, b"MDPC02", b"\x03", b"mmi.service", b"404"])
    status, out, err = finish(process)
    assert (status, out) == (1, b"")
    assert err.decode().splitlines()[-1] == (
        f"raspy call: {endpoint}: no reply from service 'lamp' in 0.2 s"
        " (no worker serves 'lamp' now)"
    )


def test_raspy_call_refuses_a_service_no_worker_offers_and_sends_nothing(
    router: tuple[Router, str],
) -> None:
    """RFC 8: the broker is asked first; a request it would queue for a worker that
    is not there (a typo, a board that is off) is not sent, and the line says why."""
    sock, endpoint = router
    with connections(sock) as watched:
        process = start_call("--server", endpoint, "kitchen.relay", "on")
        answer_presence(sock, b"kitchen.relay", b"404")
        status, out, err = finish(process)
        # the request would go on the connection that asked: read to its end
        watched.wait_all_ended()
    assert (status, out) == (1, b"")
    assert err.decode().splitlines() == [
        "raspy call: no worker offers kitchen.relay (raspy call mmi.services lists "
        "those that do); --queue sends it all the same"
    ]
    assert sock.poll(0) == 0


def test_raspy_call_with_queue_sends_to_a_service_no_worker_offers(
    router: tuple[Router, str],
) -> None:
    """--queue: the user wants it queued for the worker to come, so the broker is not
    asked first (a broker without MMI would make the question time out): sent at
    once, its reply shown."""
    sock, endpoint = router
    process = start_call("--server", endpoint, "--queue", "kitchen.relay", "on")
    peer, *frames = recv(sock, timeout_ms=10_000)
    assert frames == [b"MDPC02", b"\x01", b"kitchen.relay", b"on"]
    sock.send_multipart([peer, b"MDPC02", b"\x03", b"kitchen.relay", b"done"])
    assert finish(process) == (0, b"done\n", b"")


def test_raspy_call_titanic_says_no_worker_is_there_and_submits_it_all_the_same(
    router: tuple[Router, str],
) -> None:
    """Titanic keeps a request until a worker comes, on purpose: only said on stderr."""
    sock, endpoint = router
    process = start_call("--server", endpoint, "--titanic", "kitchen.relay", "on")
    answer_presence(sock, b"kitchen.relay", b"404")
    peer, *frames = recv(sock, timeout_ms=10_000)
    assert frames[:3] == [b"MDPC02", b"\x01", b"titanic.request"]
    assert b"kitchen.relay" in frames[3:]
    sock.send_multipart([peer, b"MDPC02", b"\x03", b"titanic.request", b"500"])
    status, out, err = finish(process)
    assert (status, out) == (1, b"")
    assert err.decode().splitlines()[0] == (
        "raspy call: no worker offers kitchen.relay now; Titanic keeps the request "
        "until one does"
    )


def test_raspy_call_titanic_submits_when_the_broker_does_not_say_whether_a_worker_is_there(
    router: tuple[Router, str],
) -> None:
    """The question is only for a line on stderr: unanswered, the request is still
    submitted to Titanic, with no word about workers."""
    sock, endpoint = router
    process = start_call(
        "--server",
        endpoint,
        "--timeout",
        "0.2",
        "--retries",
        "1",
        "--titanic",
        "kitchen.relay",
        "on",
    )
    assert recv(sock, timeout_ms=10_000)[-2:] == [b"mmi.service", b"kitchen.relay"]
    peer, *frames = recv(sock, timeout_ms=10_000)  # not answered: Titanic next
    assert frames[:3] == [b"MDPC02", b"\x01", b"titanic.request"]
    sock.send_multipart([peer, b"MDPC02", b"\x03", b"titanic.request", b"500"])
    status, out, err = finish(process)
    assert (status, out) == (1, b"")
    assert "no worker offers" not in err.decode()


@pytest.mark.parametrize(
    "args",
    [
        pytest.param([], id="no-service"),
        pytest.param(["--timeout", "0", "svc"], id="zero-timeout"),
        pytest.param(["--retries", "0", "svc"], id="zero-retries"),
        pytest.param(["--version", "0.3", "svc"], id="unknown-version"),
        pytest.param(["--server", "nowhere", "svc"], id="bad-endpoint"),
    ],
)
def test_raspy_call_exits_2_on_bad_usage(args: list[str]) -> None:
    """docs/style.md §4: bad usage or input is exit status 2 with a message on stderr."""
    status, out, err = finish(start_call(*args))
    assert (status, out) == (2, b"")
    assert err.decode().strip().splitlines()[-1].startswith(("usage:", "raspy"))


def test_raspy_call_titanic_prints_the_reply_even_when_its_close_fails(
    router: tuple[Router, str],
) -> None:
    """RFC 9: the reply is fetched (titanic.reply), then the request closed
    (titanic.close). A close that failed lost the reply that had come: raspy call
    closed before it printed, and exited 1. It now prints the reply, says the close
    failed and how to close it, and exits 0."""
    sock, endpoint = router
    uuid = "0123456789abcdef0123456789abcdef"
    process = start_call("--server", endpoint, "--titanic", "kitchen.relay", "on")
    answer_presence(sock, b"kitchen.relay")
    for service, answer in (
        (b"titanic.request", [b"200", uuid.encode()]),
        (b"titanic.reply", [b"200", b"done"]),
        (b"titanic.close", [b"500"]),
    ):
        peer, *frames = recv(sock, timeout_ms=10_000)
        assert frames[:3] == [b"MDPC02", b"\x01", service]
        sock.send_multipart([peer, b"MDPC02", b"\x03", service, *answer])
    status, out, err = finish(process)
    assert (status, out) == (0, b"done\n")
    assert (
        err.decode()
        .splitlines()[-1]
        .startswith(f"raspy call: the reply came, but closing request {uuid} failed (")
    )
    assert err.decode().splitlines()[-1].endswith(f"(raspy call titanic.close {uuid})")


@pytest.mark.parametrize(
    ("service", "shown"),
    [
        pytest.param(".", "'.'", id="dot"),
        pytest.param("pi.", "'pi.'", id="ends-in-a-dot"),
        pytest.param(".echo.", "'.echo.'", id="short-ends-in-a-dot"),
        pytest.param("pi..echo", "'pi..echo'", id="empty-part"),
    ],
)
def test_raspy_call_refuses_a_name_with_an_empty_part_and_sends_nothing(
    router: tuple[Router, str], service: str, shown: str
) -> None:
    """`raspy call .` went to the service `<host>.`: no raspy service has an empty
    part (README, "raspy call": `<hostname>.<service>`, `.echo` for the --host's)."""
    sock, endpoint = router
    status, out, err = finish(start_call("--server", endpoint, service))
    assert (status, out) == (2, b"")
    assert err.decode().splitlines() == [
        f"raspy call: SERVICE {shown} has an empty part: a service is named"
        " <hostname>.<service>, e.g. pi.echo (.echo: the --host's, or this"
        " machine's)"
    ]
    assert sock.poll(0) == 0  # not even asked whether a worker offers it
