"""What the core keeps of the tree and who gets which key (core_tree), and the one
ticker thread every scenario shares (raspy.ticker), with real actors."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pykka
import pytest
from support.clock import CountingFakeClock, CountingSystemClock, FakeClock
from support.wait import wait_until

from raspy.actors import messages as msgs
from raspy.json_text import tree_value as decode
from raspy.rules import model as m
from raspy.rules.expr import compile_expression
from raspy.rules.tree_view import Routes, TreeView, interest
from raspy.ticker import DeadlineTicker, SharedTicker


class Recorder(pykka.ThreadingActor):
    """Counts the Ticks it is told."""

    def __init__(self) -> None:
        super().__init__()
        self.ticks = 0
        self.lock = threading.Lock()

    def on_receive(self, message: Any) -> Any:
        if isinstance(message, msgs.Tick):
            with self.lock:
                self.ticks += 1
        return self.ticks


def _ticks(ref: pykka.ActorRef[Any]) -> int:
    answer = ref.ask("count", timeout=5)
    assert isinstance(answer, int)
    return answer


def test_tree_bodies_decode_as_json_or_text_and_deletes_return_the_old_body() -> None:
    tree = TreeView()
    tree.seed([("/a", b"1"), ("/b", b"not json")])
    assert (tree.kv("/a"), tree.kv("/b"), tree.kv("/c")) == (1, "not json", None)
    assert tree.update("/a", b'{"x": true}') == b"1"
    assert tree.kv("/a") == {"x": True}
    assert tree.update("/a", b"") == b'{"x": true}'
    assert tree.kv("/a") is None
    assert decode(None) is None


def test_a_sent_write_shows_until_the_server_settles_it() -> None:
    """Read-your-writes: the last write sent shows until its update comes back (the
    server's values then) or is refused; another writer's update numbered before
    ours changes what a trigger compares with, not what kv() reads."""
    tree = TreeView()
    tree.seed([("/k", b"1")])

    def sent(uuid: bytes) -> Callable[[], bytes]:
        return lambda: uuid

    tree.send("/k", b"2", sent(b"a"))
    assert tree.kv("/k") == 2
    tree.send("/k", b"", sent(b"b"))  # a deletion
    assert tree.kv("/k") is None
    tree.send("/k", b"4", sent(b"c"))
    assert (tree.kv("/k"), tree.on_the_way()) == (4, 3)
    assert tree.update("/k", b"9", b"other") == b"1"  # numbered before ours
    assert tree.kv("/k") == 4
    assert tree.refused("/k", b"b")
    assert not tree.refused("/k", b"b")  # once
    assert tree.update("/k", b"2", b"a") == b"9"
    assert (tree.kv("/k"), tree.on_the_way()) == (4, 1)
    assert tree.update("/k", b"4", b"c") == b"2"
    assert (tree.kv("/k"), tree.on_the_way()) == (4, 0)
    tree.update("/k", b"5", b"later")  # numbered after ours: the server's again
    assert tree.kv("/k") == 5
    tree.send("/k", b"6", sent(b"d"))
    assert tree.refused("/k", b"d")  # the server never held 6
    assert tree.kv("/k") == 5

    def refused_here() -> bytes:
        raise ValueError("bad key")

    with pytest.raises(ValueError, match="bad key"):
        tree.send("/k", b"7", refused_here)
    assert (tree.kv("/k"), tree.on_the_way()) == (5, 0)


def test_writes_sent_from_many_threads_show_in_the_order_they_were_sent() -> None:
    """The lock orders each send with the view's record of it: the write the
    publisher took last is the one shown, and each one settles on its own echo."""
    tree = TreeView()
    taken: list[bytes] = []

    def publisher(uuid: bytes) -> Callable[[], bytes]:
        def publish() -> bytes:
            taken.append(uuid)
            return uuid

        return publish

    def writer(name: bytes) -> None:
        for index in range(200):
            uuid = name + str(index).encode()
            tree.send("/k", uuid, publisher(uuid))

    threads = [threading.Thread(target=writer, args=(n,)) for n in (b"a", b"b", b"c")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert len(taken) == 600
    assert tree.kv("/k") == taken[-1].decode()
    for uuid in taken[:-1]:  # the server's order is the publisher's
        tree.update("/k", uuid, uuid)
        assert tree.kv("/k") == taken[-1].decode()
    tree.update("/k", taken[-1], taken[-1])
    assert tree.on_the_way() == 0


def test_interest_covers_trigger_globs_and_every_literal_kv_key() -> None:
    scenario = m.Scenario(
        name="s",
        triggers=(
            m.KvTrigger("/device/{host}.fake.*/value"),
            m.EventTrigger("/event/*"),
        ),
        actions=(
            m.ChooseAction(
                (m.Branch(compile_expression("kv('/x/{room}') > 1"), ()),),
                otherwise=(m.WaitUntilAction(compile_expression("kv('/y') == 2")),),
            ),
        ),
        variables={"room": "hall"},
        conditions=(compile_expression("kv('/z/{trigger.key}') == 1"),),
    )
    assert interest(scenario, "hub") == [
        "/device/hub.fake.*/value",
        "/event/*",
        "/x/hall",
        "/y",
        "/z/*",  # a field known only as the run goes: any text there
    ]


def test_a_kv_key_with_a_field_of_the_run_is_routed_by_its_literal_parts() -> None:
    """A `wait_until` on `/room/{repeat.index}/window` is woken by each room's
    window (it was re-checked only at its timeout, or never without one); a key that
    is all fields of the run gets no route (it would match every key)."""
    waits = (
        m.WaitUntilAction(
            compile_expression("kv('/room/{repeat.index}/window') == 'shut'")
        ),
        m.WaitUntilAction(compile_expression("kv('{trigger.key}') == 1")),
        m.WaitUntilAction(compile_expression("kv('/[a]/{host}/{trigger.id}') == 1")),
    )
    scenario = m.Scenario(
        name="s",
        triggers=(m.EventTrigger("/event/go"),),
        actions=(m.RepeatAction(waits, count=2),),
    )
    assert interest(scenario, "hub") == [
        "/event/go",
        "/[[]a]/hub/*",
        "/room/*/window",
    ]
    routes: Routes[str] = Routes()
    routes.add("s", "s", interest(scenario, "hub"))
    assert routes.refs("/room/2/window") == ("s",)
    # a variable written as a time is in the zone of the run: any text here (it
    # raised, and the core failed to start at every try); a key of fields and
    # slashes alone would match every key: no route
    timed = m.Scenario(
        name="t",
        triggers=(m.EventTrigger("/event/go"),),
        actions=(
            m.WaitUntilAction(compile_expression("kv('/log/{day:%Y}/x') == 1")),
            m.WaitUntilAction(compile_expression("kv('/{trigger.id}/{x}') == 1")),
        ),
        variables={"day": 1_700_000_000},
    )
    assert interest(timed, "hub") == ["/event/go", "/log/*/x"]
    assert routes.refs("/room/2/door") == ()
    assert routes.refs("/[a]/hub/x") == ("s",)


def test_routes_answer_the_scenarios_whose_globs_match_a_key() -> None:
    one = Recorder.start()
    two = Recorder.start()
    routes: Routes[pykka.ActorRef[Any]] = Routes()
    routes.add("one", one, ["/device/*/value"])
    routes.add("two", two, ["/device/hub.fake.t1/value", "/event/*"])
    assert routes.refs("/device/hub.fake.t1/value") == (one, two)
    assert routes.refs("/event/bell") == (two,)
    assert routes.refs("/other") == ()
    routes.remove("two")
    assert routes.refs("/device/hub.fake.t1/value") == (one,)


def test_a_kv_key_with_glob_characters_is_read_and_routed_as_written() -> None:
    """Clone keys may hold `[`, `*` and `?`: kv('/x/[1]') reads and watches `/x/[1]`
    itself, not `/x/1`; trigger patterns stay globs."""
    scenario = m.Scenario(
        name="s",
        triggers=(m.KvTrigger("/t/[ab]"),),
        actions=(
            m.WaitUntilAction(
                compile_expression("kv('/x/[1]') == 1 or kv('/y/*?') == 2")
            ),
        ),
    )
    tree = TreeView()
    tree.seed([("/x/[1]", b"1"), ("/x/1", b"5")])
    assert tree.kv("/x/[1]") == 1
    ref = Recorder.start()
    try:
        routes: Routes[pykka.ActorRef[Any]] = Routes()
        routes.add("s", ref, interest(scenario, "hub"))
        assert routes.refs("/x/[1]") == (ref,)
        assert routes.refs("/y/*?") == (ref,)
        assert routes.refs("/t/a") == (ref,)
        for other in ("/x/1", "/y/ab", "/y/*x", "/t/[ab]"):
            assert routes.refs(other) == (), other
    finally:
        ref.stop()


def test_the_shared_ticker_tells_each_actor_once_at_its_latest_deadline() -> None:
    clock = FakeClock()
    ticker = SharedTicker(clock, name="test-ticker")
    ticker.start()
    first, second = Recorder.start(), Recorder.start()
    try:
        ticker.set(first, clock.monotonic() + 5)
        ticker.set(first, clock.monotonic() + 10)  # replaces the 5 s one
        ticker.set(second, clock.monotonic() + 5)
        clock.advance(5)
        wait_until(lambda: _ticks(second) == 1, what="second ticked")
        assert _ticks(first) == 0
        clock.advance(5)
        wait_until(lambda: _ticks(first) == 1, what="first ticked")
        ticker.set(second, clock.monotonic() + 1)
        ticker.set(second, None)  # forgotten
        clock.advance(2)
        ticker.set(first, clock.monotonic())
        wait_until(lambda: _ticks(first) == 2, what="first ticked again")
        assert _ticks(second) == 1
    finally:
        ticker.stop()


def test_an_idle_ticker_sleeps_until_its_deadline_or_its_test_clock_moves() -> None:
    """No wake-up every quarter second: on the system clock the thread sleeps until
    the deadline; on a test clock until the test moves it (1.5 s of polling were
    seven reads of each clock)."""
    real, fake = CountingSystemClock(), CountingFakeClock()
    first, second = Recorder.start(), Recorder.start()
    on_real = DeadlineTicker(first, real, name="test-real")
    on_fake = DeadlineTicker(second, fake, name="test-fake")
    on_real.start()
    on_fake.start()
    try:
        on_fake.set(fake.monotonic() + 10)
        on_real.set(time.monotonic() + 1.5)
        wait_until(lambda: _ticks(first) == 1, what="the real deadline")
        assert real.reads <= 4, real.reads  # the first look, then at the deadline
        assert fake.reads <= 3, fake.reads  # the set() above and the first look
        assert _ticks(second) == 0
        fake.advance(10)
        wait_until(lambda: _ticks(second) == 1, what="the test clock's deadline")
    finally:
        on_real.stop()
        on_fake.stop()
        first.stop()
        second.stop()
