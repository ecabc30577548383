"""`<host>.core.cron` over a real edge, Clone server and Store, on a FakeClock (issue
11: cron jobs publish `/event/cron/<job>`, are stored in the `cron` table, and stay
enabled or disabled across restarts; a clock jump is logged and fires nothing twice)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pykka
import pytest
import zmq
from structlog.testing import capture_logs
from support.clock import FakeClock
from support.clonesrv import CloneServer
from support.edge_fixtures import EdgeHandle
from support.wait import wait_until

from raspy.actors.cron import start_cron
from raspy.client.clone import CloneClient
from raspy.client.mdp import Client
from raspy.config import StoreConfig
from raspy.rules import cron_jobs
from raspy.rules.last_fires import LastFires
from raspy.stats import Stats
from raspy.storage.store import Put, Store
from raspy.storage.tables import Table

HOST = "testhost"
SERVICE = f"{HOST}.core.cron"
UTC_ZONE = ZoneInfo("UTC")
# FakeClock's default wall: 2023-11-14 22:13:20 UTC; the next */5 slot is 22:15:00.
SLOT = 1_700_000_100.0


class SteppingClock(FakeClock):
    """A FakeClock whose wall clock can also step alone, as NTP steps it."""

    def step_wall(self, seconds: float) -> None:
        self._wall += seconds


@pytest.fixture
def clock() -> SteppingClock:
    return SteppingClock()


@pytest.fixture
def tree(zmq_context: Any, server: CloneServer) -> Iterator[CloneClient]:
    client = CloneClient(server.endpoints, b"/event/cron/", context=zmq_context)
    client.wait_synced()
    yield client
    client.close()


class Cron:
    """Starts (and restarts) the cron actor; sends it requests over MDP."""

    def __init__(
        self, edge: EdgeHandle, server: CloneServer, store: Store, clock: FakeClock
    ) -> None:
        self.edge, self.server, self.store, self.clock = edge, server, store, clock
        self.stats = Stats()
        self.fires = LastFires()  # the jobs' last fires, kept as raspyd keeps them
        self.ref: pykka.ActorRef[Any] | None = None

    def start(self, store: Store | None = None) -> None:
        self.ref = start_cron(
            edge=self.edge.ref,
            outbox=self.edge.outbox,
            store=self.store if store is None else store,
            publisher=self.server.publisher,
            hostname=HOST,
            tz=UTC_ZONE,
            clock=self.clock,
            stats=self.stats,
            fires=self.fires,
        )

    def stop(self) -> None:
        if self.ref is not None:
            self.ref.stop(block=True, timeout=10)
            self.ref = None

    def request(self, **document: Any) -> tuple[bytes, dict[str, Any]]:
        return _request(self.edge, **document)


def _request(edge: EdgeHandle, **document: Any) -> tuple[bytes, dict[str, Any]]:
    """One version-1 request to the cron service over MDP: status and decoded reply."""
    body = json.dumps({"v": 1, **document})
    with Client(edge.endpoint, context=edge.context, timeout_s=3, retries=1) as client:
        status, reply = client.request(SERVICE, body)
    return status, json.loads(reply)


@pytest.fixture
def cron(
    edge: EdgeHandle, server: CloneServer, store: Store, clock: SteppingClock
) -> Iterator[Cron]:
    running = Cron(edge, server, store, clock)
    yield running
    running.stop()


def _event(tree: CloneClient, name: str) -> Any:
    body = tree.get(f"/event/cron/{name}".encode())
    return None if body is None else json.loads(body)


def _wait_event(tree: CloneClient, name: str, expected: object) -> None:
    wait_until(lambda: _event(tree, name) == expected, what=f"{name} event {expected}")


def _late_fired_then_stepped_back(
    cron: Cron, tree: CloneClient, clock: SteppingClock
) -> None:
    """The job `late` (15 22 * * *) added and fired at 22:15, then the wall clock set
    back two minutes (NTP: it was ahead), as the step-back tests begin."""
    cron.start()
    assert cron.request(action="add", name="late", schedule="15 22 * * *")[0] == b"200"
    clock.advance(SLOT - clock.wall())
    _wait_event(tree, "late", _fire("late", "2023-11-14T22:15:00+00:00"))
    clock.step_wall(-120.0)


def _fire(name: str, scheduled: str, fired: str | None = None) -> dict[str, str]:
    return {"job": name, "scheduled": scheduled, "fired": fired or scheduled}


def test_a_job_added_over_mdp_publishes_its_event_when_the_clock_reaches_it(
    cron: Cron, tree: CloneClient, clock: SteppingClock
) -> None:
    cron.start()
    status, reply = cron.request(action="add", name="ping", schedule="*/5 * * * *")
    assert (status, reply["job"]["next"]) == (b"200", "2023-11-14T22:15:00+00:00")
    clock.advance(SLOT - clock.wall() - 1)
    assert _event(tree, "ping") is None
    clock.advance(1.5)
    _wait_event(tree, "ping", _fire("ping", "2023-11-14T22:15:00+00:00"))
    clock.advance(300)
    _wait_event(tree, "ping", _fire("ping", "2023-11-14T22:20:00+00:00"))
    assert cron.stats.get("cron.fired") == 2


def test_jobs_survive_a_restart_enabled_or_disabled_as_left(
    cron: Cron, tree: CloneClient, clock: SteppingClock, store: Store
) -> None:
    cron.start()
    for name in ("on", "off", "gone"):
        assert cron.request(action="add", name=name, schedule="*/5 * * * *")[0] == (
            b"200"
        )
    assert cron.request(action="disable", name="off")[0] == b"200"
    assert cron.request(action="delete", name="gone")[0] == b"200"
    assert [key for key, _ in store.scan(Table.CRON)] == [b"cron.off", b"cron.on"]
    cron.stop()
    cron.start()
    status, reply = cron.request(action="list")
    assert status == b"200"
    assert [(j["name"], j["enabled"]) for j in reply["jobs"]] == [
        ("off", False),
        ("on", True),
    ]
    clock.advance(SLOT - clock.wall())
    _wait_event(tree, "on", _fire("on", "2023-11-14T22:15:00+00:00"))
    assert _event(tree, "off") is None
    assert cron.request(action="enable", name="off")[0] == b"200"
    clock.advance(300)
    _wait_event(tree, "off", _fire("off", "2023-11-14T22:20:00+00:00"))


def test_a_clock_jump_is_logged_and_skipped_slots_are_not_fired_late(
    cron: Cron, tree: CloneClient, clock: SteppingClock
) -> None:
    cron.start()
    assert cron.request(action="add", name="ping", schedule="*/5 * * * *")[0] == b"200"
    with capture_logs() as logs:
        clock.step_wall(3600.0)  # NTP: an hour forward, twelve slots skipped
        clock.advance(60.0)  # the jump check (at most a minute of sleep) comes
        wait_until(
            lambda: cron.stats.get("cron.clock_jumps") == 1, what="the jump noticed"
        )
        # logged a moment after it is counted, on cron's thread
        wait_until(
            lambda: any(e["event"] == "clock_jumped" for e in logs),
            what="the jump logged",
        )
    jumps = [entry for entry in logs if entry["event"] == "clock_jumped"]
    assert jumps == [
        {
            "component": "cron",
            "event": "clock_jumped",
            "delta_s": 3600.0,
            "before": "2023-11-14T22:14:20+00:00",
            "after": "2023-11-14T23:14:20+00:00",
            "reason": "cron jobs and scenario time triggers go on from the new time",
            "log_level": "warning",
        }
    ]
    assert _event(tree, "ping") is None
    assert cron.stats.get("cron.fired") == 0
    clock.advance(SLOT + 3600 - clock.wall())  # the next slot on the new time
    _wait_event(tree, "ping", _fire("ping", "2023-11-14T23:15:00+00:00"))
    assert cron.stats.get("cron.fired") == 1


def test_the_next_fire_listed_after_a_small_step_back_is_the_one_that_comes(
    cron: Cron, tree: CloneClient, clock: SteppingClock
) -> None:
    """After a step back of minutes, a time already fired is not fired again
    (docs/scenarios.md, "A clock step"): `list` and `get` said it was next all the
    same, a fire that never came, until the day after."""
    _late_fired_then_stepped_back(cron, tree, clock)
    clock.advance(60.0)  # the step is seen: 22:14:00 by the right clock
    wait_until(lambda: cron.stats.get("cron.clock_jumps") == 1, what="the step seen")
    tomorrow = "2023-11-15T22:15:00+00:00"
    assert cron.request(action="list")[1]["jobs"][0]["next"] == tomorrow
    assert cron.request(action="get", name="late")[1]["job"]["next"] == tomorrow
    clock.advance(120.0)  # 22:16: the 22:15 of the right clock fired nothing
    assert cron.request(action="list")[1]["jobs"][0]["next"] == tomorrow
    assert cron.stats.get("cron.fired") == 1


def test_a_slow_store_write_is_no_step_of_the_clock(
    cron: Cron,
    tree: CloneClient,
    clock: SteppingClock,
    store: Store,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A change is scheduled once its durable write is done, which an SD card may
    take seconds to do: the wall clock read before the write, beside the monotonic
    clock read after it, put the job's first fire as late as the write took, and
    that fire, on coming, was taken for a step of the clock (`clock_jumped` in the
    log)."""
    commit = store.commit

    def slow_commit(ops: Any) -> None:
        commit(ops)
        clock.advance(2.0)  # the write took two seconds

    monkeypatch.setattr(store, "commit", slow_commit)
    cron.start()
    with capture_logs() as logs:
        assert cron.request(action="add", name="ping", schedule="*/5 * * * *")[0] == (
            b"200"
        )
        clock.advance(SLOT - clock.wall())  # on time, not two seconds late
        _wait_event(tree, "ping", _fire("ping", "2023-11-14T22:15:00+00:00"))
        clock.advance(300.0)
        _wait_event(tree, "ping", _fire("ping", "2023-11-14T22:20:00+00:00"))
    assert [e for e in logs if e["event"] == "clock_jumped"] == []
    assert cron.stats.get("cron.clock_jumps") == 0


def test_add_and_enable_after_a_small_step_back_say_the_next_fire_that_comes(
    cron: Cron, tree: CloneClient, clock: SteppingClock
) -> None:
    """The job replaced or enabled again after a step back of minutes keeps the
    time it fired (it is not fired again): its reply said that time all the same,
    as list and get did before they said the scheduler's next fire."""
    _late_fired_then_stepped_back(cron, tree, clock)
    clock.advance(60.0)  # the step is seen: 22:14:00 by the right clock
    wait_until(lambda: cron.stats.get("cron.clock_jumps") == 1, what="the step seen")
    tomorrow = "2023-11-15T22:15:00+00:00"
    status, reply = cron.request(
        action="add", name="late", schedule="15 22 * * *", replace=True
    )
    assert (status, reply["job"]["next"]) == (b"200", tomorrow)
    status, reply = cron.request(action="enable", name="late")  # enabled already
    assert (status, reply["job"]["next"]) == (b"200", tomorrow)
    assert cron.request(action="get", name="late")[1]["job"]["next"] == tomorrow


@pytest.mark.parametrize("again", ["enable", "add", "restart"])
def test_a_job_scheduled_again_after_a_small_step_back_does_not_fire_twice(
    cron: Cron, tree: CloneClient, clock: SteppingClock, again: str
) -> None:
    """Disabled then enabled, deleted then added, or a new cron actor, within the
    minutes of a step back: the 22:15 fired by the clock before it fired again."""
    job = {"name": "late", "schedule": "15 22 * * *"}
    _late_fired_then_stepped_back(cron, tree, clock)
    if again == "restart":
        cron.stop()
        cron.start()
    else:
        cron.request(action="disable" if again == "enable" else "delete", name="late")
        assert (
            cron.request(action=again, **(job if again == "add" else {"name": "late"}))[
                0
            ]
            == b"200"
        )
    tomorrow = "2023-11-15T22:15:00+00:00"
    assert cron.request(action="get", name="late")[1]["job"]["next"] == tomorrow


def test_a_change_the_store_cannot_take_is_refused_and_not_applied(
    cron: Cron, tmp_path: Path
) -> None:
    own = Store.open(tmp_path / "cron", StoreConfig(map_size_initial_mb=1))
    cron.start(own)
    own.close()
    status, reply = cron.request(action="add", name="ping", schedule="@daily")
    assert (status, reply["error"]) == (b"500", "store_error")
    assert cron.request(action="list")[1]["jobs"] == []


def test_a_bad_stored_record_is_skipped_with_a_warning(
    cron: Cron, store: Store
) -> None:
    good = cron_jobs.CronJob("good", "@hourly")
    store.commit(
        [
            _put(b"cron.good", cron_jobs.encode_job(good)),
            _put(b"cron.bad", b"\xc1not msgpack"),
        ]
    )
    with capture_logs() as logs:
        cron.start()
        listed = cron.request(action="list")[1]["jobs"]  # after on_start, in order
    assert [j["name"] for j in listed] == ["good"]
    skipped = [entry for entry in logs if entry["event"] == "cron_record_skipped"]
    assert skipped == [
        {
            "component": "cron",
            "event": "cron_record_skipped",
            "key": "cron.bad",
            "reason": "cron record 'cron.bad': cannot unpack 12 bytes: not msgpack data",
            "log_level": "warning",
        }
    ]


def _put(key: bytes, value: bytes) -> Put:
    return Put(Table.CRON, key, value)


class BrokenPublisher:
    """A publisher whose Clone server went away (zmq refuses every send)."""

    def set_many(
        self, entries: Sequence[tuple[bytes, bytes]]
    ) -> list[tuple[bytes, str]]:
        raise zmq.ZMQError(zmq.ENOTSOCK)


def test_a_publish_that_fails_is_logged_and_cron_carries_on(
    edge: EdgeHandle, store: Store, clock: SteppingClock
) -> None:
    stats = Stats()
    start_cron(
        edge=edge.ref,
        outbox=edge.outbox,
        store=store,
        publisher=BrokenPublisher(),
        hostname=HOST,
        tz=UTC_ZONE,
        clock=clock,
        stats=stats,
    )
    assert _request(edge, action="add", name="ping", schedule="*/5 * * * *")[0] == (
        b"200"
    )
    with capture_logs() as logs:
        clock.advance(SLOT - clock.wall())
        wait_until(
            lambda: stats.get("cron.publish_failed") == 1, what="a failed publish"
        )
    assert [e["event"] for e in logs if e["log_level"] == "error"] == [
        "cron_publish_failed"
    ]
    clock.advance(300)
    wait_until(lambda: stats.get("cron.publish_failed") == 2, what="the next fire")
    assert _request(edge, action="get", name="ping")[0] == b"200"


def _wait_fired(tree: CloneClient, name: str) -> None:
    wait_until(lambda: _event(tree, name) is not None, what=f"{name} fired")


def test_deleted_jobs_take_their_event_key_with_them(
    cron: Cron, tree: CloneClient, clock: SteppingClock
) -> None:
    """Jobs added, fired and deleted again and again leave no /event/cron/<job> keys
    behind (each stayed in the tree and the store for ever: tools/soak.py's finding
    for scenarios, the same for cron jobs)."""
    cron.start()
    rounds = 8
    for n in range(rounds):
        name = f"churn-{n}"
        assert cron.request(action="add", name=name, schedule="* * * * *")[0] == (
            b"200"
        )
        clock.advance(60)
        _wait_fired(tree, name)
        assert cron.request(action="delete", name=name)[0] == b"200"
    wait_until(
        lambda: tree.items(b"/event/cron/") == [],
        what="no /event/cron/ key left after every job was deleted",
    )
    assert cron.stats.get("cron.fired") == rounds
