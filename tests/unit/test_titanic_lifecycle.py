"""The Titanic life cycle: its one transition table, and TitanicCore driven at random
against a model store (hypothesis state machine) with the invariants of RFC 9 and
docs/protocols.md §5.4-§5.6 checked after every step."""

from __future__ import annotations

from collections import deque

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)
from support.titanic_core_calls import CALLER, CLOSER, REPLIER, WALL, make_core

from raspy.cores.titanic import (
    Answer,
    AnswerStored,
    CloseSlot,
    DeleteQueue,
    DeleteReply,
    DeleteRequest,
    Dispatch,
    Event,
    Noted,
    OpenSlot,
    Output,
    Persist,
    PutQueue,
    PutReply,
    PutRequest,
)
from raspy.cores.titanic_lifecycle import TRANSITIONS, State, Trigger

SERVICES = (b"svc.a", b"svc.b")
WINDOW = 3
RETENTION_S = 50.0
QUOTA = 6
SLACK = 2  # stale heap items kept beside the live ones (TitanicSettings.heap_slack)


# ---------------------------------------------------------------- the table


def test_every_closing_state_returns_where_it_came_from_when_deletion_fails() -> None:
    for before in (State.PENDING, State.STORING, State.DONE):
        closing = TRANSITIONS[(before, Trigger.CLOSE)]
        assert TRANSITIONS[(closing, Trigger.DELETE_FAILED)] is before
        assert TRANSITIONS[(closing, Trigger.DELETE_COMMITTED)] is State.GONE


def test_gone_is_final_and_every_state_is_reachable_from_accepting() -> None:
    assert not [key for key in TRANSITIONS if key[0] is State.GONE]
    reached = {State.ACCEPTING}
    frontier = [State.ACCEPTING]
    while frontier:
        state = frontier.pop()
        for (source, _), target in TRANSITIONS.items():
            if source is state and target not in reached:
                reached.add(target)
                frontier.append(target)
    assert reached == set(State)


@pytest.mark.parametrize(
    "state", [State.PENDING, State.DONE, State.CLOSING_PENDING, State.GONE]
)
def test_a_reply_counts_only_for_a_pending_request(state: State) -> None:
    """§5.4: a reply that comes after close (or a second one) is thrown away."""
    allowed = (state, Trigger.REPLY_RECEIVED) in TRANSITIONS
    assert allowed is (state is State.PENDING)


def test_retention_never_purges_a_reply_being_stored() -> None:
    assert (State.STORING, Trigger.EXPIRE) not in TRANSITIONS
    assert (State.ACCEPTING, Trigger.EXPIRE) not in TRANSITIONS


# ---------------------------------------------------------------- the machine


class TitanicLifecycleMachine(RuleBasedStateMachine):
    """TitanicCore plus a model store that applies each Persist when it commits.

    Commits are reported in submit order (the store's writer is one FIFO queue), each
    ok or failed at random; time moves forward only.
    """

    @initialize(retention=st.booleans(), wall=st.sampled_from([120.0, WALL]))
    def start(self, retention: bool, wall: float) -> None:
        self.retention_s = RETENTION_S if retention else 0.0
        self.core = make_core(
            dispatch_window=WINDOW,
            dispatch_timeout_s=5.0,
            retry_initial_s=1.0,
            retry_max_s=4.0,
            retention_s=self.retention_s,
            pending_requests=QUOTA,
            heap_slack=SLACK,
        )
        self.now = 0.0
        self.wall_at_zero = wall  # the wall clock at now = 0; clock_steps moves it
        # the model store (what a committed transaction left)
        self.requests: dict[str, float] = {}  # uuid -> created (wall)
        self.service_of: dict[str, bytes] = {}  # every request ever stored
        self.replies: dict[str, tuple[bytes, ...]] = {}
        self.queue: set[tuple[int, str]] = set()
        self.submitted: deque[Persist] = deque()
        # what the clients were told
        self.accepted: set[str] = set()  # answered 200 + UUID
        self.accepted_at: dict[str, float] = {}  # uuid -> monotonic time of its 200
        self.close_asked: set[str] = set()
        self.closed: set[str] = set()  # titanic.close answered 200
        self.flights: dict[int, str] = {}  # slot -> uuid of the attempt out
        self.open_slots: set[int] = set()
        self.retired_slots: set[int] = set()
        self.available: set[bytes] = set()
        self.core.load([], [], 0.0, 0.0)

    # ------------------------------------------------------------ running outputs

    def run(self, outputs: list[Output]) -> list[Output]:
        for out in outputs:
            match out:
                case Persist():
                    self.submitted.append(out)
                case Answer(caller=caller, body=body) if caller == CALLER:
                    if body[0] == b"200":
                        uuid = body[1].decode()
                        assert uuid in self.requests, "acknowledged before stored"
                        self.accepted.add(uuid)
                        self.accepted_at[uuid] = self.now
                case Answer(caller=caller, body=body) if caller == CLOSER:
                    pass  # checked by the rule that closes
                case AnswerStored(uuid=uuid):
                    assert uuid in self.replies, "200 for a reply not stored"
                case OpenSlot(slot=slot):
                    assert slot not in self.open_slots
                    assert slot not in self.retired_slots, "a retired slot reused"
                    self.open_slots.add(slot)
                case CloseSlot(slot=slot):
                    self.open_slots.discard(slot)
                    self.retired_slots.add(slot)
                    self.flights.pop(slot, None)
                case Dispatch(slot=slot, uuid=uuid, service=service):
                    assert slot in self.open_slots
                    assert slot not in self.flights, "two attempts on one slot"
                    assert uuid not in self.flights.values(), "two attempts at once"
                    assert service in self.available
                    assert uuid in self.requests
                    assert uuid not in self.replies
                    self.flights[slot] = uuid
        return outputs

    def apply(self, persist: Persist) -> None:
        for write in persist.writes:
            match write:
                case PutRequest(uuid=uuid, service=service, created=created):
                    self.requests[uuid] = created
                    self.service_of[uuid] = service
                case PutQueue(order=order, uuid=uuid):
                    self.queue.add((order, uuid))
                case PutReply(uuid=uuid, body=body):
                    self.replies[uuid] = body
                case DeleteRequest(uuid=uuid):
                    self.requests.pop(uuid, None)
                case DeleteReply(uuid=uuid):
                    self.replies.pop(uuid, None)
                case DeleteQueue(order=order, uuid=uuid):
                    self.queue.discard((order, uuid))

    # ------------------------------------------------------------ rules

    @rule(service=st.sampled_from(SERVICES), size=st.integers(1, 3))
    def request(self, service: bytes, size: int) -> None:
        before = self.core.quota_usage()[0]
        out = self.run(self.core.on_request(CALLER, [service, b"x" * size], self.wall))
        if before >= QUOTA:
            assert out == [
                Noted(Event.OVER_QUOTA, "", "requests"),
                Answer(CALLER, (b"500",)),
            ]

    @precondition(lambda self: bool(self.submitted))
    @rule(ok=st.booleans())
    def commit(self, ok: bool) -> None:
        persist = self.submitted.popleft()
        if ok:
            self.apply(persist)
        self.run(self.core.on_committed(persist.token, ok, self.now))

    @precondition(lambda self: len(self.submitted) > 1)
    @rule(count=st.integers(2, 6), ok=st.booleans())
    def commit_together(self, count: int, ok: bool) -> None:
        """The store's group commit: several submits in one transaction."""
        batch = [
            self.submitted.popleft() for _ in range(min(count, len(self.submitted)))
        ]
        if ok:
            for persist in batch:
                self.apply(persist)
        tokens = [persist.token for persist in batch]
        self.run(self.core.on_batch_committed(tokens, ok, self.now))

    @rule(service=st.sampled_from(SERVICES), up=st.booleans())
    def service_changes(self, service: bytes, up: bool) -> None:
        if up:
            self.available.add(service)
        else:
            self.available.discard(service)
        self.run(self.core.on_service(service, up, self.now))

    @precondition(lambda self: bool(self.flights))
    @rule(data=st.data())
    def worker_replies(self, data: st.DataObject) -> None:
        slot = data.draw(st.sampled_from(sorted(self.flights)))
        uuid = self.flights.pop(slot)
        out = self.core.on_dispatch_reply(
            slot, [b"re:" + uuid.encode()], True, self.now, self.wall
        )
        self.run(out)

    @precondition(lambda self: bool(self.retired_slots))
    @rule(data=st.data())
    def late_reply_on_a_retired_slot(self, data: st.DataObject) -> None:
        slot = data.draw(st.sampled_from(sorted(self.retired_slots)))
        out = self.run(
            self.core.on_dispatch_reply(slot, [b"late"], True, self.now, self.wall)
        )
        assert not [o for o in out if isinstance(o, Persist)]

    @precondition(lambda self: bool(self.accepted))
    @rule(data=st.data())
    def close(self, data: st.DataObject) -> None:
        uuid = data.draw(st.sampled_from(sorted(self.accepted)))
        self.close_asked.add(uuid)
        out = self.run(self.core.on_close(CLOSER, [uuid.encode()]))
        if [o for o in out if isinstance(o, Answer) and o.body == (b"200",)]:
            assert uuid not in self.requests, "close answered before the deletion"
            self.closed.add(uuid)

    @precondition(lambda self: bool(self.accepted))
    @rule(data=st.data())
    def ask_for_the_reply(self, data: st.DataObject) -> None:
        uuid = data.draw(st.sampled_from(sorted(self.accepted)))
        (out,) = self.run(self.core.on_reply_query(REPLIER, [uuid.encode()], self.now))
        state = self.core.state_of(uuid)
        if isinstance(out, AnswerStored):
            assert state in (State.DONE, State.CLOSING_DONE)
            return
        assert isinstance(out, Answer)
        if out.body == (b"300",):
            assert uuid in self.requests
            assert uuid not in self.replies
        else:
            assert out.body == (b"400",)
            assert state is State.GONE or self.kept_long_enough(uuid)

    @rule(seconds=st.sampled_from([0.5, 2.0, 7.0, 30.0]))
    def time_passes(self, seconds: float) -> None:
        self.now += seconds
        self.run(self.core.on_tick(self.now, self.wall))

    @rule(step=st.sampled_from([-1.7e9, -86400.0, -60.0, 60.0, 86400.0, 1.7e9]))
    def clock_steps(self, step: float) -> None:
        """The wall clock set (NTP at boot) or set back; the monotonic one runs on."""
        self.wall_at_zero += step
        self.run(self.core.on_tick(self.now, self.wall))

    def kept_long_enough(self, uuid: str) -> bool:
        """Retention is on and `retention_s` of real time has passed since its 200."""
        return (
            self.retention_s > 0
            and self.now >= self.accepted_at[uuid] + self.retention_s
        )

    # ------------------------------------------------------------ invariants

    @property
    def wall(self) -> float:
        return self.wall_at_zero + self.now

    @invariant()
    def only_retention_ends_a_request_not_closed_and_never_early(self) -> None:
        """However the wall clock steps, a request is purged (its deletion begun)
        only `retention_s` of monotonic time after it was accepted."""
        for uuid in self.accepted - self.close_asked:
            state = self.core.state_of(uuid)
            if state is State.GONE or state.value.startswith("closing"):
                assert self.kept_long_enough(uuid), (uuid, state)

    @invariant()
    def a_stored_reply_is_never_lost(self) -> None:
        """Once stored, a reply stays until its request is deleted (close, retention)."""
        for uuid in self.accepted - self.closed:
            state = self.core.state_of(uuid)
            if state in (State.DONE, State.CLOSING_DONE):
                assert uuid in self.replies
            if uuid in self.replies:
                assert state in (State.DONE, State.CLOSING_DONE, State.CLOSING_STORING)

    @invariant()
    def the_store_holds_every_pending_request_queued(self) -> None:
        queued = {uuid for _, uuid in self.queue}
        assert queued <= set(self.requests), "a queue entry without its request"
        for uuid in self.accepted - self.closed:
            state = self.core.state_of(uuid)
            if state in (State.PENDING, State.STORING):
                assert uuid in self.requests
                assert uuid in queued
            if state is State.DONE:
                assert uuid not in queued

    @invariant()
    def closed_requests_stay_closed(self) -> None:
        for uuid in self.closed:
            assert self.core.state_of(uuid) is State.GONE
            assert uuid not in self.requests
            assert uuid not in self.replies

    @invariant()
    def windows_and_quota_hold(self) -> None:
        assert self.core.in_flight_count() <= WINDOW * len(SERVICES)
        assert self.core.quota_usage()[0] <= QUOTA
        assert self.core.known_count() == len(
            {u for u in self.accepted if self.core.state_of(u) is not State.GONE}
        )

    @invariant()
    def memory_follows_the_requests_known(self) -> None:
        """The heaps hold a bounded number of stale items beside the live ones,
        whatever the traffic: none grows with the requests seen."""
        known = self.core.quota_usage()[0]  # every request not yet forgotten
        heaps = self.core.heap_items()
        assert heaps["retention"] <= 2 * known + SLACK
        assert heaps["ready"] <= 2 * known + SLACK * len(SERVICES)

    @invariant()
    def no_pending_request_sits_idle(self) -> None:
        """A pending request for a live service is out, waits for a window, or has a
        timer (its backoff); an attempt out always has its timeout."""
        deadline = self.core.next_deadline()
        if self.flights:
            assert deadline is not None
        busy = {self.service_of[uuid] for uuid in self.flights.values()}
        for uuid in self.accepted:
            if self.core.state_of(uuid) is not State.PENDING:
                continue
            if uuid in self.flights.values():
                continue
            service = self.service_of[uuid]
            if service in self.available:
                assert service in busy or deadline is not None


TitanicLifecycleMachine.TestCase.settings = settings(
    max_examples=150, stateful_step_count=60
)
test_titanic_lifecycle_machine = TitanicLifecycleMachine.TestCase
