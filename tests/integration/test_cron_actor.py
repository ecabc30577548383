"""`<host>.core.cron` over a real edge, Clone server and Store, on a FakeClock (issue
11: cron jobs publish `/event/cron/<job>`, are stored in the `cron` table, and stay
enabled or disabled across restarts). Clock steps: test_cron_clock_steps.py."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

import pytest
import zmq
from structlog.testing import capture_logs
from support.cron_rig import (
    HOST,
    SLOT,
    UTC_ZONE,
    Cron,
    SteppingClock,
    clock_fixture,  # noqa: F401  # fixture `clock`
    cron_fixture,  # noqa: F401  # fixture `cron`
    event,
    fire,
    request,
    tree_fixture,  # noqa: F401  # fixture `tree`
    wait_event,
)
from support.edge_fixtures import EdgeHandle
from support.wait import wait_until

from raspy.actors.clone import server as server_mod
from raspy.actors.clone.server import read_tree
from raspy.actors.cron import start_cron
from raspy.client.clone import CloneClient
from raspy.config import StoreConfig
from raspy.rules import cron_jobs
from raspy.stats import Stats
from raspy.storage import store_writes
from raspy.storage.ops import Op, apply_ops
from raspy.storage.store import Put, Store
from raspy.storage.tables import Table


def test_a_job_added_over_mdp_publishes_its_event_when_the_clock_reaches_it(
    cron: Cron, tree: CloneClient, clock: SteppingClock
) -> None:
    cron.start()
    status, reply = cron.request(action="add", name="ping", schedule="*/5 * * * *")
    assert (status, reply["job"]["next"]) == (b"200", "2023-11-14T22:15:00+00:00")
    clock.advance(SLOT - clock.wall() - 1)
    assert event(tree, "ping") is None
    clock.advance(1.5)
    wait_event(tree, "ping", fire("ping", "2023-11-14T22:15:00+00:00"))
    clock.advance(300)
    wait_event(tree, "ping", fire("ping", "2023-11-14T22:20:00+00:00"))
    assert cron.stats.get("cron.fired") == 2


def test_jobs_survive_a_restart_enabled_or_disabled_as_left(
    cron: Cron, tree: CloneClient, clock: SteppingClock, store: Store
) -> None:
    cron.start()
    for name in ("on", "off", "gone"):
        assert cron.request(action="add", name=name, schedule="*/5 * * * *")[0] == (
            b"200"
        )
    status, reply = cron.request(action="disable", name="off")
    assert (status, reply["job"]["next"]) == (b"200", None)  # no longer scheduled
    assert cron.request(action="delete", name="gone")[0] == b"200"
    assert [key for key, _ in store.scan(Table.CRON)] == [b"cron.off", b"cron.on"]
    cron.stop()
    cron.start()
    status, reply = cron.request(action="list")
    assert status == b"200"
    assert [(j["name"], j["enabled"], j["next"]) for j in reply["jobs"]] == [
        ("off", False, None),
        ("on", True, "2023-11-14T22:15:00+00:00"),
    ]
    clock.advance(SLOT - clock.wall())
    wait_event(tree, "on", fire("on", "2023-11-14T22:15:00+00:00"))
    assert event(tree, "off") is None
    assert cron.request(action="enable", name="off")[0] == b"200"
    clock.advance(300)
    wait_event(tree, "off", fire("off", "2023-11-14T22:20:00+00:00"))


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
    assert request(edge, action="add", name="ping", schedule="*/5 * * * *")[0] == (
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
    assert request(edge, action="get", name="ping")[0] == b"200"


def _wait_fired(tree: CloneClient, name: str) -> None:
    wait_until(lambda: event(tree, name) is not None, what=f"{name} fired")


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


def test_a_job_deleted_goes_with_its_event_key_in_one_commit(
    cron: Cron, tree: CloneClient, clock: SteppingClock
) -> None:
    """A kill between two commits left the key of a deleted job's last fire in the
    tree for ever: nothing deletes it later."""
    cron.start()
    cron.request(action="add", name="once", schedule="* * * * *")
    clock.advance(60)
    _wait_fired(tree, "once")
    read_tree(cron.server.ref, cron.store, "/event/cron/")  # the fire is stored
    before = cron.store.stats()["commits"]

    assert cron.request(action="delete", name="once")[0] == b"200"

    assert read_tree(cron.server.ref, cron.store, "/event/cron/") == []
    assert cron.store.stats()["commits"] - before == 1


def test_a_delete_not_known_to_have_ended_is_taken_as_done_and_said_so(
    cron: Cron, tree: CloneClient, clock: SteppingClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The store took the delete and has not ended it (a card dying in its sync):
    it may land, so the job fires no more, and the reply says it is not known
    whether it was stored. It stayed scheduled, firing on if the delete landed."""
    cron.start()
    cron.request(action="add", name="once", schedule="* * * * *")
    released = threading.Event()

    def slow(txn: object, ops: Sequence[Op]) -> None:
        if any(op.key == cron_jobs.job_key("once") for op in ops):
            released.wait(10)
        apply_ops(txn, ops)  # type: ignore[arg-type]  # a WriteTxn, passed on

    monkeypatch.setattr(store_writes, "apply_ops", slow)
    monkeypatch.setattr(server_mod, "_TAKEN_WAIT_S", 0.3)
    try:
        status, reply = cron.request(action="delete", name="once")
    finally:
        released.set()

    assert (status, reply["error"]) == (b"500", "store_error")
    assert reply["detail"] == (
        "it is not known whether the change was stored: the store has not ended"
        " its write in 0.3 s (raspyd's next start reads what the store holds)"
    ), reply
    # counted as not known, not as failed: it may land
    counted = [cron.stats.get(f"cron.store_{how}") for how in ("unknown", "failed")]
    assert counted == [1, 0]
    assert cron.request(action="list")[1]["jobs"] == []
    wait_until(lambda: list(cron.store.scan(Table.CRON)) == [], what="the delete")
