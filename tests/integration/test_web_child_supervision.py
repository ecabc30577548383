"""The web face as a supervised child of a real runtime: it runs with or without a
Clone server, follows a restarted Clone server, and is restarted when it stops
unexpectedly (raspy.actors.web.start_web over ChildSet.follow).

The children are the supervisor thread's own, and it replaces a follower in two
steps (the old one stopped and dropped, then the new one started and added), so the
test reads them in that thread, between two rounds (Runtime.call): never half-way.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pykka
import pytest
from support.runtimes import Start, login_page_status, runtimes
from support.wait import wait_until

from raspy.actors import supervisor
from raspy.actors.web import WEB_PORT_OFFSET
from raspy.child_set import Follower
from raspy.cores.supervision import PartState, PartStatus

FAST = (
    "[supervisor]\nrestart_initial_s = 0.05\nrestart_max_s = 0.4\nstable_s = 2.0\n"
    "max_restarts = 3\nrestart_window_s = 60.0\n"
)
WEB = "[http]\nenabled = true\n"


@pytest.fixture
def start_runtime(tmp_path: Path) -> Iterator[Start]:
    with runtimes(tmp_path / "data", FAST + WEB) as start:
        yield start


@dataclass(frozen=True)
class WebFace:
    """The web child as the supervisor thread sees it between two rounds."""

    leader: pykka.ActorRef[Any] | None  # the Clone server it was started with
    ref: pykka.ActorRef[Any] | None
    status: PartStatus | None  # published at the end of the last round
    clone: pykka.ActorRef[Any] | None  # the Clone server running now

    def running(self, restarts: int) -> bool:
        return self.status is not None and (
            self.status.state,
            self.status.restarts,
        ) == (PartState.RUNNING, restarts)


def _web_face(rt: supervisor.Runtime) -> WebFace:
    def read() -> WebFace:
        web = next(child for child in rt.children if child.name == "web")
        assert isinstance(web.start, Follower)
        return WebFace(
            web.start.leader, web.ref, rt.status_of("web"), rt.ref_of("clone")
        )

    face = rt.call(read, timeout_s=10.0)
    assert isinstance(face, WebFace)
    return face


def _login_page_status(rt: supervisor.Runtime) -> int:
    return login_page_status(rt.config.network.port_base + WEB_PORT_OFFSET)


def _running(rt: supervisor.Runtime, name: str, restarts: int) -> bool:
    status = rt.status_of(name)
    return status is not None and (status.state, status.restarts) == (
        PartState.RUNNING,
        restarts,
    )


def test_the_web_face_runs_without_a_clone_server(start_runtime: Start) -> None:
    rt = start_runtime("[clone]\nenabled = false\n")
    face = _web_face(rt)
    assert face.leader is None
    assert face.running(0)
    assert _login_page_status(rt) == 200


def test_the_web_face_follows_a_restarted_clone_server(start_runtime: Start) -> None:
    rt = start_runtime("")
    before = _web_face(rt)
    first = before.clone
    assert first is not None
    assert before.leader is first
    assert _login_page_status(rt) == 200  # started: subscribed to the first server
    first.stop(block=True, timeout=5)  # not through the supervisor: a crash to it
    wait_until(lambda: _running(rt, "clone", 1), what="the Clone server restarted")
    after = _web_face(rt)  # the round that restarted the Clone server has ended
    assert after.clone is not None
    assert after.clone is not first
    assert after.leader is after.clone  # bound to the new Clone server
    assert after.ref is not None
    assert after.ref is not before.ref
    assert after.running(0)  # started anew, not restarted after a crash
    assert _login_page_status(rt) == 200


def test_a_stopped_web_face_is_restarted_with_the_same_clone_server(
    start_runtime: Start,
) -> None:
    rt = start_runtime("")
    before = _web_face(rt)
    assert before.ref is not None
    before.ref.stop(block=True, timeout=5)
    wait_until(lambda: _running(rt, "web", 1), what="the web face restarted")
    after = _web_face(rt)
    assert after.ref is not None
    assert after.ref is not before.ref
    assert after.leader is before.clone
    assert after.clone is before.clone
    assert _login_page_status(rt) == 200
