"""`raspy-kv del --subtree` against a real Clone server: it says how many keys it
would delete and asks on a terminal; a script (no terminal) needs --yes, and the
whole tree (/) needs --yes always. A trial's `raspy-kv del / --subtree` took the
hub's whole tree (171 keys) without a word."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import pytest
import zmq
from support.clock import FakeClock
from support.clonesrv import CloneServer, clone_server
from support.net import free_port_base
from support.wait import wait_until

from raspy.cli import kv
from raspy.client.clone import fetch_snapshot
from raspy.config import CloneConfig
from raspy.protocol import clone
from raspy.storage.store import Store

pytestmark = pytest.mark.timeout(60)

Context = zmq.Context[zmq.Socket[bytes]]
KEYS = (b"/t9/a", b"/t9/b", b"/t9/c", b"/keep/me")


@pytest.fixture
def kv_server(
    zmq_context: Context, store: Store, clock: FakeClock
) -> Iterator[CloneServer]:
    """A Clone server on a free port base (HUGZ every 0.1 s), holding KEYS."""
    endpoints = clone.Endpoints.from_port_base("127.0.0.1", free_port_base())
    config = CloneConfig(hugz_interval_s=0.1)
    with clone_server(
        zmq_context, store, clock, config=config, endpoints=endpoints
    ) as srv:
        for key in KEYS:
            srv.publisher.set(key, b"1")
        wait_until(lambda: srv.counter("clone.published") == len(KEYS), what="keys")
        yield srv


@pytest.fixture
def filled(kv_server: CloneServer) -> list[str]:
    """The --server arguments raspy-kv reaches kv_server with."""
    port = int(kv_server.endpoints.snapshot.rsplit(":", 1)[1])
    return ["--server", f"127.0.0.1:{port - 1}"]


def _keys(server_args: list[str]) -> list[bytes]:
    endpoints = clone.Endpoints.parse(server_args[1])
    return sorted(fetch_snapshot(endpoints, b"", timeout_s=5).items)


@pytest.mark.parametrize(
    ("prefix", "says"),
    [
        ("/t9/", "/t9/ --subtree would delete 3 keys: add --yes"),
        ("/", "/ --subtree would delete the whole tree (4 keys): add --yes"),
    ],
    ids=["subtree", "root"],
)
def test_without_a_terminal_a_subtree_delete_needs_yes(
    kv_server: CloneServer,
    filled: list[str],
    capsys: pytest.CaptureFixture[str],
    prefix: str,
    says: str,
) -> None:
    capsys.readouterr()
    assert kv.run(["del", prefix, "--subtree", *filled]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith(f"raspy-kv del: {says}"), err
    assert _keys(filled) == sorted(KEYS)  # nothing deleted


def test_with_yes_a_subtree_is_deleted_and_the_rest_kept(
    kv_server: CloneServer, filled: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert kv.run(["del", "/t9/", "--subtree", "--yes", *filled]) == 0
    assert "3 keys under /t9/ deleted" in capsys.readouterr().out
    assert _keys(filled) == [b"/keep/me"]


def _on_a_terminal(args: list[str], answer: bytes) -> tuple[int, str]:
    """raspy-kv with a terminal (a pseudo-terminal) as stdin; `answer` typed."""
    leader, follower = os.openpty()
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "raspy.cli.kv", *args],
            stdin=follower,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        os.write(leader, answer)
        out, err = process.communicate(timeout=30)
    finally:
        os.close(follower)
        os.close(leader)
    return process.returncode, (out + err).decode()


@pytest.mark.parametrize(
    ("answer", "status", "left"),
    [(b"y\n", 0, [b"/keep/me"]), (b"n\n", 1, sorted(KEYS)), (b"\n", 1, sorted(KEYS))],
    ids=["yes", "no", "just-enter"],
)
def test_on_a_terminal_it_asks_naming_the_count(
    kv_server: CloneServer,
    filled: list[str],
    answer: bytes,
    status: int,
    left: list[bytes],
) -> None:
    code, said = _on_a_terminal(["del", "/t9/", "--subtree", *filled], answer)
    assert "delete 3 keys under /t9/? [y/N]" in said
    assert code == status, said
    assert "Traceback" not in said
    assert _keys(filled) == left


def test_on_a_terminal_the_root_is_not_asked_for_it_needs_yes(
    kv_server: CloneServer, filled: list[str]
) -> None:
    code, said = _on_a_terminal(["del", "/", "--subtree", *filled], b"y\n")
    assert code == 2, said
    assert "the whole tree (4 keys): add --yes" in said
    assert _keys(filled) == sorted(KEYS)
