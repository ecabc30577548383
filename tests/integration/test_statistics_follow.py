"""The statistics actor follows `/stats/<host>/` with a seeded subscription: a
publication compares the values with its own view of the tree and asks the Clone
server nothing (it read the tree at each one: a blocking round trip to the Clone
I/O thread a period). Real edge, real Clone servers over a real store; each server
counts what it is asked."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pykka
import pytest
import zmq
from structlog.testing import capture_logs
from support.clonesrv import ANY_PORT, FAST
from support.edge_fixtures import EdgeHandle
from support.wait import wait_until

from raspy import service_stats
from raspy.actors import messages as msgs
from raspy.actors.clone.publisher import ClonePublisher
from raspy.actors.clone.server import CloneServerActor
from raspy.actors.statistics import StatisticsActor
from raspy.clock import SystemClock
from raspy.cores.supervision import PartState, PartStatus
from raspy.stats import Stats
from raspy.storage.store import Store
from raspy.transport.outbox import Outbox

pytestmark = pytest.mark.timeout(30)

INTERVAL_S = 0.05
STATS = b"/stats/h/"
STATE = b"/stats/h/titanic/state"


class _CountingServer(CloneServerActor):
    """A real Clone server that counts the messages it is asked, by kind."""

    def __init__(self, asked: Counter[str], *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._asked = asked

    def on_receive(self, message: Any) -> Any:
        self._asked[type(message).__name__] += 1
        return super().on_receive(message)


@dataclass
class _Server:
    ref: pykka.ActorRef[Any]
    outbox: Outbox
    asked: Counter[str] = field(default_factory=Counter)


@contextmanager
def _clone_server(
    context: zmq.Context[zmq.Socket[bytes]], store: Store
) -> Iterator[_Server]:
    asked: Counter[str] = Counter()
    ref = _CountingServer.start(
        asked,
        context,
        store,
        FAST,
        ANY_PORT,
        clock=SystemClock(),
        stats=Stats(),
        linger_ms=0,
    )
    try:
        outbox = ref.ask(msgs.GetPublishOutbox(), timeout=10)
        assert isinstance(outbox, Outbox)
        yield _Server(ref, outbox, asked)
    finally:
        ref.stop(block=True, timeout=15)


@dataclass
class _Seen:
    """The test's own copy of `/stats/` (its follower's thread writes it)."""

    keys: dict[bytes, bytes] = field(default_factory=dict)
    deleted: list[bytes] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def copy(self) -> dict[bytes, bytes]:
        with self.lock:
            return dict(self.keys)


class _Follower(pykka.ThreadingActor):
    """Keeps a _Seen by a plain subscription (not a seeded one: the servers count
    those of the statistics actor)."""

    def __init__(self, seen: _Seen) -> None:
        super().__init__()
        self._seen = seen

    def on_receive(self, message: Any) -> Any:
        if isinstance(message, msgs.KeyChanged):
            with self._seen.lock:
                if message.body:
                    self._seen.keys[message.key] = message.body
                else:
                    self._seen.keys.pop(message.key, None)
                    self._seen.deleted.append(message.key)
        return None


def _tree(server: _Server) -> _Seen:
    seen = _Seen()
    follower = _Follower.start(seen)
    server.ref.ask(msgs.CloneSubscribe(b"/stats/", follower), timeout=5)
    return seen


class _Parts:
    """What the supervisor would say: the parts and their statuses, counted reads."""

    def __init__(self, *names: str) -> None:
        self.statuses = tuple(
            PartStatus(name, PartState.RUNNING, 0, since=0.0) for name in names
        )
        self.snapshots = 0

    def snapshot(self) -> service_stats.Snapshot:
        self.snapshots += 1  # one a publication (no request is sent here)
        return service_stats.Snapshot(self.statuses, {}, {}, now=0.0)

    def drop(self, name: str) -> None:
        self.statuses = tuple(s for s in self.statuses if s.name != name)


@dataclass
class _Following:
    """Which server the statistics actor is given as running (None: down)."""

    server: _Server | None

    def ref(self) -> pykka.ActorRef[Any] | None:
        return None if self.server is None else self.server.ref

    def outbox(self) -> Outbox | None:
        return None if self.server is None else self.server.outbox


def _statistics(
    edge: EdgeHandle, parts: _Parts, following: _Following
) -> pykka.ActorRef[Any]:
    return StatisticsActor.start(
        edge.ref,
        edge.outbox,
        "h",
        parts.snapshot,
        lambda: parts.statuses,
        following.outbox,
        SystemClock(),
        INTERVAL_S,
        following.ref,
    )


def _publications_after(parts: _Parts, count: int) -> None:
    start = parts.snapshots
    wait_until(
        lambda: parts.snapshots >= start + count + 1,  # the last one's done
        what=f"{count} publications",
    )


def test_a_publication_asks_the_clone_server_nothing(
    zmq_context: zmq.Context[zmq.Socket[bytes]], store: Store, edge: EdgeHandle
) -> None:
    """One seeded subscription, then publications that read the tree asked for no
    GetUnstored each (nor any other read): the view is the actor's own."""
    parts = _Parts("titanic", "clone")
    with _clone_server(zmq_context, store) as server:
        tree = _tree(server)
        server.asked.clear()  # the test's own asks
        _statistics(edge, parts, _Following(server))
        wait_until(lambda: tree.copy().get(STATE) == b"running", what="published")
        _publications_after(parts, 5)
        assert dict(server.asked) == {"SubscribeSeeded": 1}


def test_a_stats_key_a_user_deleted_is_put_back(
    zmq_context: zmq.Context[zmq.Socket[bytes]], store: Store, edge: EdgeHandle
) -> None:
    """The deletion reaches the actor's view as a KeyChanged: the next publication
    writes the value again, though it did not change."""
    parts = _Parts("titanic")
    with _clone_server(zmq_context, store) as server:
        tree = _tree(server)
        _statistics(edge, parts, _Following(server))
        wait_until(lambda: tree.copy().get(STATE) == b"running", what="published")
        ClonePublisher(server.outbox).delete(STATE)  # as `raspy-kv del` would
        wait_until(lambda: STATE in tree.deleted, what="the deletion")
        wait_until(lambda: tree.copy().get(STATE) == b"running", what="put back")


def test_the_keys_of_a_part_gone_leave_the_tree(
    zmq_context: zmq.Context[zmq.Socket[bytes]], store: Store, edge: EdgeHandle
) -> None:
    """A part missing at two publications in a row loses its keys; the others'
    stay."""
    parts = _Parts("titanic", "later")
    with _clone_server(zmq_context, store) as server:
        tree = _tree(server)
        _statistics(edge, parts, _Following(server))
        later = b"/stats/h/later/state"
        wait_until(lambda: tree.copy().get(later) == b"running", what="published")
        parts.drop("later")
        wait_until(
            lambda: not any(k.startswith(b"/stats/h/later/") for k in tree.copy()),
            what="the gone part's keys deleted",
        )
        assert tree.copy() == {  # an empty reason is no key
            b"/stats/h/titanic/restarts": b"0",
            b"/stats/h/titanic/state": b"running",
            b"/stats/h/titanic/uptime_s": b"0",
        }


def test_a_new_clone_server_is_subscribed_to_again(
    zmq_context: zmq.Context[zmq.Socket[bytes]], store: Store, edge: EdgeHandle
) -> None:
    """The supervisor restarted the Clone server: the new one holds no `/stats/`
    and the old view is no guide to it. The actor subscribes to it, publishes every
    value there, and puts back a key deleted in it."""
    parts = _Parts("titanic")
    following = _Following(None)
    _statistics(edge, parts, following)
    with _clone_server(zmq_context, store) as first:
        tree = _tree(first)
        following.server = first
        wait_until(lambda: tree.copy().get(STATE) == b"running", what="published")
    following.server = None  # down until the supervisor's next round
    _publications_after(parts, 1)
    with _clone_server(zmq_context, store) as second:
        tree = _tree(second)
        following.server = second
        wait_until(lambda: tree.copy().get(STATE) == b"running", what="again")
        ClonePublisher(second.outbox).delete(STATE)
        wait_until(lambda: STATE in tree.deleted, what="the deletion")
        wait_until(lambda: tree.copy().get(STATE) == b"running", what="put back")
        assert second.asked["SubscribeSeeded"] == 1


def test_the_stop_unsubscribes(
    zmq_context: zmq.Context[zmq.Socket[bytes]], store: Store, edge: EdgeHandle
) -> None:
    parts = _Parts("titanic")
    with _clone_server(zmq_context, store) as server:
        tree = _tree(server)
        statistics = _statistics(edge, parts, _Following(server))
        wait_until(lambda: tree.copy().get(STATE) == b"running", what="published")
        statistics.stop(timeout=10)
        wait_until(
            lambda: server.asked["CloneUnsubscribe"] == 1, what="its unsubscription"
        )


def test_a_subscription_that_fails_is_said_once_and_tried_at_each_publication(
    zmq_context: zmq.Context[zmq.Socket[bytes]], store: Store, edge: EdgeHandle
) -> None:
    """A server that does not answer: no publication, one warning however many
    periods it lasts; the next server that answers is followed."""
    dead = pykka.ThreadingActor.start()
    dead.stop()
    parts = _Parts("titanic")
    with capture_logs() as logs, _clone_server(zmq_context, store) as server:
        tree = _tree(server)
        following = _Following(_Server(dead, server.outbox))
        _statistics(edge, parts, following)
        _publications_after(parts, 3)
        assert tree.copy() == {}
        following.server = server
        wait_until(lambda: tree.copy().get(STATE) == b"running", what="published")
    said = [e for e in logs if e.get("component") == "statistics"]
    assert [(e["event"], e["log_level"]) for e in said] == [
        ("stats_subscribe_failed", "warning")
    ]


class _FailingParts(_Parts):
    """A snapshot that raises after the first publication (which subscribed): a
    publication's failure ends the actor (a crash)."""

    def snapshot(self) -> service_stats.Snapshot:
        if self.snapshots:
            raise RuntimeError("the edge answered garbage")
        return super().snapshot()


def test_a_crash_leaves_no_thread_and_no_subscription_behind(
    zmq_context: zmq.Context[zmq.Socket[bytes]], store: Store, edge: EdgeHandle
) -> None:
    """A told message that raised: pykka calls on_failure, not on_stop, and the
    ticker thread, the workers and the subscription were left behind at each crash
    (the supervisor starts a new actor each time: a `raspy-stats-tick` thread more)."""
    parts = _FailingParts("titanic")
    with _clone_server(zmq_context, store) as server:
        statistics = _statistics(edge, parts, _Following(server))
        wait_until(lambda: not statistics.is_alive(), what="the crash")

        def tickers() -> list[str]:
            return [t.name for t in threading.enumerate() if t.is_alive()]

        wait_until(lambda: "raspy-stats-tick" not in tickers(), what="its ticker ended")
        wait_until(
            lambda: server.asked["CloneUnsubscribe"] == 1, what="its unsubscription"
        )
