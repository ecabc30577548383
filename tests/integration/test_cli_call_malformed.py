"""`raspy call` when the broker's answer cannot be decoded: one line naming it, with
no guess at why the hub was silent (it was not)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
import zmq
from support.sent_log import SentLogContext, log_own_contexts
from support.zmqctx import recv

from raspy.cli.raspy import main


def _sent(contexts: list[SentLogContext]) -> list[list[bytes]]:
    """Every message the command sent, logged as it sent it: its sockets close with
    LINGER 0, so one sent just before they close could be dropped unseen by the
    server, whose silence then proves nothing."""
    return [frames for context in contexts for _, frames in context.sent()]


@pytest.mark.timeout(20)
def test_a_malformed_reply_is_said_without_the_silent_hub_hint(
    router: tuple[zmq.Socket[bytes], str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sock, endpoint = router
    contexts = log_own_contexts(monkeypatch)
    with ThreadPoolExecutor(1) as pool:
        future = pool.submit(
            main, ["call", "--server", endpoint, "--timeout", "2", "pi.echo", "hi"]
        )
        peer, *asked = recv(sock)
        header = asked.index(b"MDPC02")  # after an empty delimiter, if any; RFC 8 asks
        assert asked[header:] == [
            b"MDPC02",
            b"\x01",
            b"mmi.service",
            b"pi.echo",
        ]  # RFC 8
        envelope = [peer, *asked[:header]]
        sock.send_multipart([*envelope, b"MDPC02", b"\x03", b"mmi.service", b"200"])
        peer, *request = recv(sock)
        assert request[-2:] == [b"pi.echo", b"hi"]
        sock.send_multipart(
            [*envelope, b"MDPC02", b"\x03"]
        )  # no service frame: malformed
        status = future.result(timeout=10)
    err = capsys.readouterr().err
    assert status == 1
    assert err.startswith("raspy call: ")
    assert "malformed reply" in err
    assert "has a worker" not in err
    assert "does not answer" not in err
    assert len(err.splitlines()) == 1
    # neither resent nor followed by an MMI probe
    assert [frames[-2:] for frames in _sent(contexts)] == [
        [b"mmi.service", b"pi.echo"],
        [b"pi.echo", b"hi"],
    ]


def _answer_mmi_then_garbage(sock: zmq.Socket[bytes], requests: int) -> list[bytes]:
    """Play a broker for `requests` requests: MMI's asks answered 200, any other
    answered with a reply of no service frame. The services asked, in order."""
    asked_for: list[bytes] = []
    for _ in range(requests):
        peer, *frames = recv(sock)
        header = frames.index(b"MDPC02")
        envelope, service = [peer, *frames[:header]], frames[header + 2]
        asked_for.append(service)
        if service == b"mmi.service":
            sock.send_multipart([*envelope, b"MDPC02", b"\x03", service, b"200"])
        else:
            sock.send_multipart([*envelope, b"MDPC02", b"\x03"])
    return asked_for


@pytest.mark.timeout(20)
@pytest.mark.parametrize(
    ("argv", "requests", "served"),
    [
        (["device", "pi.fake.lamp", "get"], 2, b"pi.fake.devices"),
        (["scenario", "list", "--host", "pi"], 1, b"pi.core.scenario"),
    ],
    ids=["device", "scenario list"],
)
def test_other_commands_say_a_malformed_reply_as_such(
    router: tuple[zmq.Socket[bytes], str],
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    requests: int,
    served: bytes,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`raspy device` (through hub_call) and `raspy scenario` (scenario_hub) said a
    malformed reply as "no reply … within", and scenario_hub asked MMI why."""
    sock, endpoint = router
    contexts = log_own_contexts(monkeypatch)
    with ThreadPoolExecutor(1) as pool:
        future = pool.submit(
            main, [*argv[:2], "--server", endpoint, "--timeout", "2", *argv[2:]]
        )
        asked_for = _answer_mmi_then_garbage(sock, requests)
        status = future.result(timeout=10)
    err = capsys.readouterr().err
    assert asked_for[-1] == served
    assert status == 1
    assert "malformed reply" in err
    assert "no reply" not in err
    assert len(err.splitlines()) == 1
    sent = _sent(contexts)  # no MMI probe after it, nothing resent
    assert [frames[frames.index(b"MDPC02") + 2] for frames in sent] == asked_for
