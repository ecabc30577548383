"""`raspy status` against a broker played by hand on a ROUTER (MDP/0.2, RFC 18): what
it says of replies a raspyd broker would not give, a `.statistics` reply that is not
MDP, and an `mmi.services` the broker does not implement."""

from __future__ import annotations

import subprocess
import sys
import time

import zmq

# the frames after the client's routing id, by service; a body is sent as a reply
MALFORMED = [b"MDPC02", b"\x07", b"h.bus.statistics", b"no such command"]


def _status_against(
    sock: zmq.Socket[bytes],
    endpoint: str,
    replies: dict[bytes, list[bytes]],
    *options: str,
) -> subprocess.CompletedProcess[str]:
    """Run `raspy status` and answer each request it sends with `replies`
    (MALFORMED as it is, else a reply of that body), until it ends (bounded)."""
    process = subprocess.Popen(  # this interpreter, our own module
        [
            sys.executable,
            "-m",
            "raspy.cli.raspy",
            "status",
            "--server",
            endpoint,
            *options,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 20
    try:
        while process.poll() is None and time.monotonic() < deadline:
            if not sock.poll(100):
                continue
            peer, _header, _request, service, *_body = sock.recv_multipart()
            body = replies.get(service)
            if body is MALFORMED:
                sock.send_multipart([peer, *MALFORMED])
            elif body is not None:
                sock.send_multipart([peer, b"MDPC02", b"\x03", service, *body])
        stdout, stderr = process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode is not None
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def test_a_statistics_reply_that_is_not_mdp_is_said_so_not_as_no_answer(
    router: tuple[zmq.Socket[bytes], str],
) -> None:
    """A malformed reply is a ClientTimeout (MalformedReply, never resent): its row
    said `no answer from …`, though an answer came."""
    sock, endpoint = router
    result = _status_against(
        sock,
        endpoint,
        {
            b"mmi.services": [b"200", b"h.bus.mmi"],
            b"mmi.workers": [b"200", b"{}"],
            b"h.bus.statistics": MALFORMED,
        },
    )
    assert (result.returncode, result.stderr) == (0, "")
    row = result.stdout.splitlines()[1]
    assert row.split()[:2] == ["h.bus", "unknown"]
    assert row.endswith("a reply that is not statistics from h.bus.statistics")


def test_a_broker_that_does_not_list_its_services_is_said_so(
    router: tuple[zmq.Socket[bytes], str],
) -> None:
    """A broker that answers `mmi.services` 501 (MMI not implemented): the table was
    its header alone, exit 0, as if the hub had no parts."""
    sock, endpoint = router
    result = _status_against(
        sock, endpoint, {b"mmi.services": [b"501"], b"mmi.workers": [b"501"]}
    )
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == (
        f"raspy status: {endpoint}: the broker does not list its services "
        "(mmi.services answered 501)\n"
    )


def test_an_mmi_workers_reply_of_another_shape_counts_no_workers(
    router: tuple[zmq.Socket[bytes], str],
) -> None:
    """A broker other than raspy's may answer `mmi.workers` in its own way: a list,
    counts that are no numbers, a body that is no JSON. The table shows the part
    with no workers counted; it ended in exit 70 (an internal error)."""
    sock, endpoint = router
    for workers in (
        b"not json",
        b"[1, 2]",
        b'{"h.bus.x": 3}',
        b'{"h.bus.x": {"idle": "two", "busy": null}}',
        b'{"h.bus.x": {"idle": 1e999}}',
    ):
        result = _status_against(
            sock,
            endpoint,
            {
                b"mmi.services": [b"200", b"h.bus.mmi"],
                b"mmi.workers": [b"200", workers],
                b"h.bus.statistics": [b"200", b"{}"],
            },
        )
        assert (result.returncode, result.stderr) == (0, ""), workers
        assert result.stdout.splitlines()[1].split()[0] == "h.bus", workers


def test_a_hub_that_answered_then_fell_silent_is_not_told_to_check_it_runs(
    router: tuple[zmq.Socket[bytes], str],
) -> None:
    """`mmi.services` answered, `mmi.workers` not: the line said "is raspyd running
    there? … CURVE …" of a hub that had just answered."""
    sock, endpoint = router
    result = _status_against(
        sock, endpoint, {b"mmi.services": [b"200", b"h.bus.mmi"]}, "--timeout", "0.5"
    )
    assert result.returncode == 1
    assert "no reply" in result.stderr
    assert "is raspyd running" not in result.stderr
