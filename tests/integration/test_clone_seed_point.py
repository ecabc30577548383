"""An in-process subscriber's seed is the tree where its subscription begins: with
the KeyChanged that follow, each change is seen once, with its true old value.

An update that is not coalesced is stored before it is published. A part that
subscribed and then read the store while such an update was committed but not yet
published had it in its seed, then was told of it: old equal to new, so a `to:`
trigger took it as no change. Here the real server's store writer is held between
that commit and the report that lets the server publish it, and a part seeds itself
in that window.
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pykka
import pytest
import zmq
from support.clock import FakeClock
from support.clone_pipeline import reading, stored
from support.clonesrv import CloneServer
from support.wait import wait_until
from support.writer_gate import CommittedGate

from raspy.actors import messages as msgs
from raspy.actors.clone import server as server_mod
from raspy.actors.clone.parts import CloneParts
from raspy.actors.clone.seeds import Seed
from raspy.actors.clone.server import subscribe_seeded
from raspy.config import CloneConfig, LimitsConfig, StoreConfig
from raspy.errors import StoreError
from raspy.protocol import clone
from raspy.stats import Stats
from raspy.storage.scenario_store import live_tree
from raspy.storage.store import Store
from raspy.transport.wakeup import Wakeup

pytestmark = pytest.mark.timeout(30)

SUBTREE = "/k/"
LAMP = b"/k/lamp"
PUMP = b"/k/pump"

Change = tuple[str, bytes | None, bytes]


@dataclass
class _Seen:
    """What a follower saw (the test's thread reads it): its seed, then every
    change as (key, old, new)."""

    seed: dict[str, bytes] = field(default_factory=dict)
    changes: list[Change] = field(default_factory=list)
    seeded: threading.Event = field(default_factory=threading.Event)


class _Follower(pykka.ThreadingActor):
    """Seeds its copy of SUBTREE as it starts, then keeps it with each KeyChanged."""

    def __init__(self, clone_ref: pykka.ActorRef[Any], seen: _Seen) -> None:
        super().__init__()
        self._clone = clone_ref
        self._seen = seen
        self._tree: dict[str, bytes] = {}

    def on_start(self) -> None:
        seed = dict(subscribe_seeded(self._clone, SUBTREE, self.actor_ref))
        self._tree = dict(seed)
        self._seen.seed = seed
        self._seen.seeded.set()

    def on_receive(self, message: Any) -> Any:
        if isinstance(message, msgs.KeyChanged):
            key = message.key.decode()
            old = self._tree.get(key)
            if message.body:
                self._tree[key] = message.body
            else:
                self._tree.pop(key, None)
            self._seen.changes.append((key, old, message.body))
        return None


class _Recorder(pykka.ThreadingActor):
    """Notes the sequence number of every KeyChanged it is told."""

    def __init__(self, seqs: list[int]) -> None:
        super().__init__()
        self._seqs = seqs

    def on_receive(self, message: Any) -> Any:
        if isinstance(message, msgs.KeyChanged):
            self._seqs.append(message.seq)
        return None


def _seeds_waiting(server: CloneServer) -> int:
    answer = server.ref.ask(msgs.GetStats(), timeout=5)
    assert isinstance(answer, dict)
    waiting = answer.get("clone.seeds.waiting", 0)
    assert isinstance(waiting, int)
    return waiting


def _seeded_behind(
    server: CloneServer, gate: CommittedGate
) -> tuple[_Seen, pykka.ActorRef[Any]]:
    """A part that seeds itself while the gate holds what is committed unpublished;
    the gate opened once its seed is taken or waits."""
    state = _Seen()
    follower = _Follower.start(server.ref, state)
    wait_until(
        lambda: state.seeded.is_set() or _seeds_waiting(server) == 1,
        what="the seed taken or waiting",
    )
    gate.open()
    return state, follower


def _set_dim(server: CloneServer, state: _Seen) -> None:
    """Once the part has its seed, the lamp set dim and that change told to it."""
    assert state.seeded.wait(10), "the seed never came"
    server.publisher.set(LAMP, b"dim")
    wait_until(
        lambda: any(new == b"dim" for _, _, new in state.changes),
        what="the next set told",
    )


def test_a_seed_taken_while_a_set_is_stored_unpublished_leaves_its_change_to_come(
    server: CloneServer, store: Store
) -> None:
    """The lamp is off; it is set on, and the store has committed that, unpublished,
    when a part seeds itself. The seed waits for the set to be published and holds
    it; the part is then told on -> dim alone. It had the lamp on in its seed (the
    store read at once) and was told on -> on too: a change that was none."""
    server.publisher.set(LAMP, b"off")
    wait_until(lambda: server.counter("clone.published") >= 1, what="off published")
    with CommittedGate(store) as gate:
        submits = store.stats()["submits"]
        server.publisher.set(LAMP, b"on")
        wait_until(lambda: store.stats()["submits"] > submits, what="the set submitted")
        gate.commit()
        record = stored(store, LAMP)
        assert record is not None
        assert record.body == b"on"  # stored, not told
        state, follower = _seeded_behind(server, gate)
    try:
        _set_dim(server, state)
        assert state.seed == {LAMP.decode(): b"on"}
        assert state.changes == [(LAMP.decode(), b"on", b"dim")]
    finally:
        follower.stop(block=True, timeout=10)


def test_a_seed_taken_while_two_sets_of_a_key_are_stored_unpublished_holds_the_last(
    server: CloneServer, store: Store
) -> None:
    """The lamp is off; it is set on, then off again, and the store has committed
    both, unpublished, when a part seeds itself. The seed waits for both and holds
    off; the part is then told off -> dim alone. It had off in its seed (the newer
    value) and was told off -> on -> off again: a `to: on` fired for a change made
    before it began."""
    server.publisher.set(LAMP, b"off")
    wait_until(lambda: server.counter("clone.published") >= 1, what="off published")
    with CommittedGate(store) as gate:
        submits = store.stats()["submits"]
        server.publisher.set(LAMP, b"on")
        wait_until(lambda: store.stats()["submits"] > submits, what="on submitted")
        server.publisher.set(LAMP, b"off")
        wait_until(lambda: store.stats()["submits"] > submits + 1, what="off submitted")
        gate.commit()
        record = stored(store, LAMP)
        assert record is not None
        assert (record.seq, record.body) == (3, b"off")
        state, follower = _seeded_behind(server, gate)
    try:
        _set_dim(server, state)
        assert state.seed == {LAMP.decode(): b"off"}
        assert state.changes == [(LAMP.decode(), b"off", b"dim")]
    finally:
        follower.stop(block=True, timeout=10)


def test_writes_are_held_back_while_a_seed_waits_and_one_given_up_is_no_subscription(
    tmp_path: Path, clock: FakeClock
) -> None:
    """A write on its way to the store and two seeds asked: what is accepted next
    is held back (a steady stream of writes would keep them waiting for ever).
    Once the write is published the one still wanted is served: its view holds
    that write, it is subscribed from there (told the held-back write, not the
    first), and the loop turns at once to submit what it held. The asker that gave
    up meanwhile (its answer cancelled) has no view open and is told nothing."""
    store = Store.open(tmp_path / "data", StoreConfig(map_size_initial_mb=1))
    wakeup = Wakeup()
    kept_seqs: list[int] = []
    gone_seqs: list[int] = []
    kept = _Recorder.start(kept_seqs)
    gone = _Recorder.start(gone_seqs)
    try:
        parts = CloneParts.build(
            store,
            CloneConfig(),
            LimitsConfig(),
            clock=clock,
            stats=Stats(),
            wakeup=wakeup,
        )
        commits, seeds = parts.commits, parts.seeds
        commits.load(0.0)

        def released() -> bool:
            for update in commits.released():
                parts.subscribers.notify(update)
            return not commits.storing

        commits.accept(reading(1, b"on", PUMP))
        parts.submit_writes()
        given_up = seeds.request(msgs.SubscribeSeeded(SUBTREE.encode(), gone))
        wanted = seeds.request(msgs.SubscribeSeeded(SUBTREE.encode(), kept))
        assert not wanted.done()
        assert given_up.cancel()
        commits.accept(reading(2, b"off", LAMP))
        parts.submit_writes()
        assert (commits.storing, commits.held_back) == (True, True)
        parts.pacing.on_turn(100.0)  # the next HUGZ is a second away
        assert parts.next_deadline(10.0, 100.0, xpub_waiting=False) == 11.0
        wait_until(released, what="the first write stored")
        seeds.serve()
        assert seeds.stats() == {"clone.seeds.waiting": 0}
        seed = wanted.result(timeout=0)
        try:
            tree = live_tree(seed.view, SUBTREE, seed.unstored)
        finally:
            seed.view.close()
        assert (tree, seed.seq) == ([(PUMP.decode(), b"on")], 1)
        assert parts.next_deadline(10.0, 100.0, xpub_waiting=False) == 10.0
        parts.submit_writes()
        assert commits.held_back is False
        wait_until(released, what="the write held back stored")
        wait_until(lambda: kept_seqs == [2], what="the held-back write told")
        gone.ask(msgs.Tick(), timeout=5)  # what was told to it is in
        assert gone_seqs == []
    finally:
        kept.stop(block=True, timeout=10)
        gone.stop(block=True, timeout=10)
        wakeup.close()
        store.close()


def _hold_the_io_thread(
    server: CloneServer,
    context: zmq.Context[zmq.Socket[bytes]],
    holder: pykka.ActorRef[Any],
    release: threading.Event,
) -> None:
    """Keep the Clone I/O thread in `holder`'s backlog (asked once the collector
    brought input) until `release`: the actor's asks wait for it meanwhile."""
    entered = threading.Event()

    def backlog() -> int:
        if not release.is_set():
            entered.set()
            release.wait(10)
        return 0

    server.ref.ask(msgs.CloneSubscribe(b"/x/", holder, backlog=backlog), timeout=5)
    writer = context.socket(zmq.PUB)
    writer.setsockopt(zmq.LINGER, 0)
    try:
        writer.connect(server.endpoints.collector)
        for _ in range(100):  # the first may go before the connection is made
            writer.send_multipart(clone.kvset(b"/x/a", b"1", uuid.uuid4().bytes))
            if entered.wait(0.1):
                break
        assert entered.is_set(), "the collector's input never came"
    finally:
        writer.close(linger=0)


def test_a_seed_asked_in_vain_leaves_no_view_open_and_subscribes_nothing(
    server: CloneServer,
    store: Store,
    zmq_context: zmq.Context[zmq.Socket[bytes]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The I/O thread is busy past the asker's patience: its ask times out, and the
    server takes the ask later. It opened a view for it and subscribed it all the
    same: the view was never closed (an LMDB read txn for good: the map could not
    grow again), and a part whose start failed was told changes it never asked to
    follow from there."""
    release = threading.Event()
    seqs: list[int] = []
    kept_seqs: list[int] = []
    gone, holder, kept = (_Recorder.start(s) for s in (seqs, [], kept_seqs))
    try:
        _hold_the_io_thread(server, zmq_context, holder, release)
        monkeypatch.setattr(server_mod, "_ASK_TIMEOUT_S", 0.2)
        with pytest.raises(pykka.Timeout):
            subscribe_seeded(server.ref, SUBTREE, gone)
        release.set()
        server.turn()  # after the ask that timed out: the server has taken it
        assert store._env._readers == 0  # no view left open
        # subscribed after it: told after it
        server.ref.ask(msgs.CloneSubscribe(SUBTREE.encode(), kept), timeout=5)
        server.publisher.set(LAMP, b"on")
        wait_until(lambda: bool(kept_seqs), what="the set told")
        gone.ask(msgs.Tick(), timeout=5)  # what was told to it is in
        assert seqs == []
    finally:
        release.set()
        for actor in (gone, holder, kept):
            actor.stop(block=True, timeout=10)


def test_a_seed_whose_view_cannot_be_read_leaves_no_subscription(
    server: CloneServer,
    store: Store,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The asker reads its seed's view on its own thread: a view that failed there
    (here closed before it is read, as any thread may close one: the store's own
    StoreError) raised to the part, whose start failed, and it stayed subscribed,
    told every later change until one found it gone."""
    seed_of = server_mod._seed

    def closed_at_once(clone_ref: pykka.ActorRef[Any], asked: Any) -> Seed:
        seed = seed_of(clone_ref, asked)
        seed.view.close()
        return seed

    seqs: list[int] = []
    kept_seqs: list[int] = []
    failed, kept = _Recorder.start(seqs), _Recorder.start(kept_seqs)
    try:
        # its subscription to another prefix is not the failed one's: it stays
        server.ref.ask(msgs.CloneSubscribe(b"/other/", failed), timeout=5)
        monkeypatch.setattr(server_mod, "_seed", closed_at_once)
        with pytest.raises(StoreError, match="read view is closed"):
            subscribe_seeded(server.ref, SUBTREE, failed)
        monkeypatch.undo()
        assert subscribe_seeded(server.ref, SUBTREE, kept) == []
        server.publisher.set(LAMP, b"on")
        wait_until(lambda: bool(kept_seqs), what="the set told")
        server.publisher.set(b"/other/x", b"1")
        wait_until(lambda: bool(seqs), what="the other set told")
        assert seqs == [kept_seqs[0] + 1]  # that one alone
        assert store._env._readers == 0  # no view left open
    finally:
        for actor in (failed, kept):
            actor.stop(block=True, timeout=10)
