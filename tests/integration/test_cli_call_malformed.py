"""`raspy call` when the broker's answer cannot be decoded: one line naming it, with
no guess at why the hub was silent (it was not)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
import zmq
from support.zmqctx import recv

from raspy.cli.raspy import main


@pytest.mark.timeout(20)
def test_a_malformed_reply_is_said_without_the_silent_hub_hint(
    router: tuple[zmq.Socket[bytes], str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    sock, endpoint = router
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
    assert not sock.poll(100)  # neither resent nor followed by an MMI probe
