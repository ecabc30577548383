"""`<host>.<svc>.statistics` and `<host>.<svc>.mmi` over real MDP, and the batched
publication under /stats/ (issue 13)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pykka
import pytest
from support.daemon import mmi_service
from support.net import free_port_base
from support.runtimes import runtimes
from support.wait import wait_until

from raspy import config as config_mod
from raspy.actors import supervisor
from raspy.child_set import Child
from raspy.client.clone import CloneClient
from raspy.client.mdp import Client, Worker

CONFIG = (
    "[supervisor]\nrestart_initial_s = 0.05\nrestart_max_s = 0.1\nmax_restarts = 1\n"
    "[stats]\npublish_interval_s = 0.5\n"
)


def _start(tmp_path: Path) -> supervisor.Runtime:
    cfg = config_mod.load(
        CONFIG,
        "test.toml",
        data_dir=str(tmp_path / "data"),
        hostname="testhost",
        network__port_base=free_port_base(),
    )
    return supervisor.start(cfg)


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[supervisor.Runtime]:
    rt = _start(tmp_path)
    try:
        yield rt
    finally:
        rt.stop()


@pytest.fixture
def client(runtime: supervisor.Runtime) -> Iterator[Client]:
    with Client(runtime.mdp_endpoint, timeout_s=5, retries=1) as mdp:
        yield mdp


def test_every_part_answers_its_mmi_status_as_soon_as_the_start_returns(
    runtime: supervisor.Runtime,
) -> None:
    """No wait: a start is complete when it returns (`raspy status` right after
    raspyd said it started listed only the parts registered in the first second)."""
    for part in sorted(status.name for status in runtime.statuses):
        service = f"testhost.{part}.mmi".encode()
        assert mmi_service(runtime.mdp_endpoint, service) == b"200", part


class Quiet(pykka.ThreadingActor):
    pass


def test_a_part_started_later_gets_its_services_when_told_not_by_a_timer(
    tmp_path: Path,
) -> None:
    """The statistics actor no longer looks at the parts every second (an idle
    wake-up); the supervisor tells it when its parts change. With publications an
    hour apart its own look comes only every minute, so within the wait below only
    the telling can register the new part's services."""
    with runtimes(tmp_path / "data", "[stats]\npublish_interval_s = 3600\n") as start:
        runtime = start("")
        runtime.call(lambda: runtime.add_child("later", Quiet.start))
        wait_until(
            lambda: mmi_service(runtime.mdp_endpoint, b"testhost.later.mmi") == b"200",
            what="the services of the part started later",
        )
        runtime.call(lambda: runtime.stop_children(lambda name: name == "later"))
        wait_until(
            lambda: mmi_service(runtime.mdp_endpoint, b"testhost.later.mmi") == b"404",
            what="the services of the part gone",
        )


class RefusesToStart(pykka.ThreadingActor):
    def on_start(self) -> None:
        raise OSError("no such bus")


def test_every_part_answers_its_mmi_status(client: Client) -> None:
    wait_until(
        lambda: client.request("mmi.service", "testhost.clone.mmi") == [b"200"],
        what="the statistics services of every part",
    )
    for part in ("edge", "store", "echo", "titanic", "clone", "statistics"):
        assert client.request(f"testhost.{part}.mmi", "status") == [b"200", b"running"]


def test_a_failed_part_answers_500_with_the_reason(
    runtime: supervisor.Runtime, client: Client
) -> None:
    runtime.call(lambda: runtime.add_child("bus", RefusesToStart.start))

    def status() -> list[bytes] | None:
        reply = client.request("testhost.bus.mmi", "status")
        return reply if reply[:2] == [b"500", b"failed"] else None

    reply = wait_until(status, what="the bus to be failed")
    assert reply is not None
    code, state, reason = reply
    assert (code, state) == (b"500", b"failed")
    assert b"2 crashes within" in reason
    assert client.request("testhost.bus.statistics", "get", "state") == [
        b"200",
        b"string",
        b"failed",
    ]
    with CloneClient(runtime.mdp_endpoint, b"/stats/testhost/bus/") as tree:
        wait_until(
            lambda: tree.get(b"/stats/testhost/bus/state") == b"failed",
            what="the failed state under /stats/",
        )
        reason = tree.get(b"/stats/testhost/bus/reason") or b""
        assert b"2 crashes within" in reason
        # what ended its on_start, not pykka's "stopped before handling the message"
        assert reason.startswith(b"stopped as it started: OSError: no such bus (")


def test_a_restarting_part_answers_500_restarting_with_the_reason(
    tmp_path: Path,
) -> None:
    """docs/protocols.md: `[b'500', state, reason]` with state `restarting` while a
    crashed part waits for its next start (here 60 s away), and so says its state."""
    with runtimes(
        tmp_path / "data", "[supervisor]\nrestart_initial_s = 60\nrestart_max_s = 60\n"
    ) as start:
        runtime = start("")
        runtime.call(lambda: runtime.add_child("bus", RefusesToStart.start))
        with Client(runtime.mdp_endpoint, timeout_s=5, retries=1) as mdp:

            def status() -> list[bytes] | None:
                if mmi_service(runtime.mdp_endpoint, b"testhost.bus.mmi") != b"200":
                    return None
                reply = mdp.request("testhost.bus.mmi", "status")
                return reply if reply[:2] == [b"500", b"restarting"] else None

            reply = wait_until(status, what="the bus to be restarting")
            assert reply is not None
            assert len(reply) == 3
            assert reply[2]  # why: the supervisor's words for the crash
            assert mdp.request("testhost.bus.statistics", "get", "state") == [
                b"200",
                b"string",
                b"restarting",
            ]


def test_statistics_list_get_and_all_over_mdp(
    runtime: supervisor.Runtime, client: Client
) -> None:
    runtime.stats.incr("titanic.dispatched", 2**32 + 3)
    keys = client.request("testhost.titanic.statistics", "list_keys")
    assert keys[0] == b"200"
    assert {b"dispatched", b"restarts", b"state", b"uptime_s"} <= set(keys[1:])
    assert client.request("testhost.titanic.statistics", "get", "dispatched") == [
        b"200",
        b"counter",
        b"3",
    ]
    code, document = client.request("testhost.edge.statistics", "all")
    assert code == b"200"
    assert b'"requests"' in document


def test_the_stores_own_counters_are_in_both_statistics_services(
    runtime: supervisor.Runtime, client: Client
) -> None:
    """The store keeps its counters itself, not in the runtime's Stats: the
    per-part statistics and `<host>.stats` both ask it for them."""
    map_size = int(runtime.store.stats()["map_size"])
    assert client.request("testhost.store.statistics", "get", "map_size") == [
        b"200",
        b"gauge",
        str(map_size).encode(),
    ]
    code, whole = client.request("testhost.stats", b"")
    assert code == b"200"
    assert {
        k: v for k, v in json.loads(whole).items() if k.startswith("store.map")
    } == {
        "store.map_size": map_size,
        "store.map_grows": 0,
    }


def test_statistics_are_published_in_one_batch_per_interval(
    runtime: supervisor.Runtime,
) -> None:
    """10 000 counter changes between two publications make one update of that key,
    not 10 000: the values that changed go out once per interval, as one batch (and
    the store writes /stats/ coalesced)."""
    endpoint = runtime.mdp_endpoint
    with CloneClient(endpoint, b"/stats/testhost/") as tree:
        wait_until(
            lambda: tree.get(b"/stats/testhost/edge/state") == b"running",
            what="the first publication",
        )
        seq_before = tree.seq
        commits_before = runtime.store.stats()["commits"]
        for _ in range(10_000):
            runtime.stats.incr("echo.hits")
        wait_until(
            lambda: tree.get(b"/stats/testhost/echo/hits") == b"10000",
            what="the counter in the tree",
        )
        updates = tree.seq - seq_before
        commits = runtime.store.stats()["commits"] - commits_before
    # each publication: the uptimes and a few counters of eight parts, not 10 000
    assert updates < 100
    assert commits <= 3


def test_raspy_status_prints_one_line_per_part(runtime: supervisor.Runtime) -> None:
    runtime.stats.incr("titanic.dispatched", 5)
    wait_until(
        lambda: mmi_service(runtime.mdp_endpoint, b"testhost.clone.mmi") == b"200",
        what="the statistics services of every part",
    )
    endpoint = runtime.mdp_endpoint
    result = _raspy_status(endpoint)
    assert (result.returncode, result.stderr) == (0, "")
    lines = result.stdout.splitlines()
    assert lines[0].split() == [
        "SERVICE",
        "STATE",
        "WORKERS",
        "UPTIME",
        "RESTARTS",
        "COUNTERS",
    ]
    rows = {line.split()[0]: line.split() for line in lines[1:]}
    assert set(rows) >= {
        "testhost.edge",
        "testhost.store",
        "testhost.echo",
        "testhost.titanic",
        "testhost.clone",
    }
    titanic = rows["testhost.titanic"]
    # one in-process worker for each of its 3 services (service_workers)
    assert titanic[1:3] == ["running", "3"]
    assert titanic[4] == "0"
    assert "dispatched=5" in titanic[5]
    assert rows["testhost.echo"][2] == "1"
    # the http_client part serves <host>.http: its workers, not 0
    assert rows["testhost.http_client"][2] == "4"


def test_raspy_status_counts_a_service_for_one_part_the_most_specific(
    runtime: supervisor.Runtime,
) -> None:
    """`<host>.core.cron` is the cron part's service, `<host>.core.scenario` the
    core's: the core's row counted the cron's worker too (2 workers, where one
    serves the scenarios)."""
    wait_until(
        lambda: all(
            mmi_service(runtime.mdp_endpoint, name) == b"200"
            for name in (
                b"testhost.core.scenario",
                b"testhost.core.cron",
                b"testhost.cron.mmi",
                b"testhost.core.mmi",
            )
        ),
        what="the core's and cron's services",
    )
    result = _raspy_status(runtime.mdp_endpoint)
    assert (result.returncode, result.stderr) == (0, "")
    rows = {line.split()[0]: line.split() for line in result.stdout.splitlines()[1:]}
    assert rows["testhost.core"][2] == "1"
    assert rows["testhost.cron"][2] == "1"


def test_raspy_status_counts_no_board_s_workers_for_the_hub_s_parts(
    runtime: supervisor.Runtime,
) -> None:
    """A board's worker (`cellar.fake.devices` beside the hub's own device service)
    is the board's: the hub's part of the same word counted it as its own."""
    endpoint = runtime.mdp_endpoint
    stop = threading.Event()
    thread = threading.Thread(
        target=_serve_until,
        args=(Worker(endpoint, "cellar.echo"), [b"200"], stop),
        daemon=True,
    )
    thread.start()
    try:
        wait_until(
            lambda: (
                mmi_service(endpoint, b"cellar.echo") == b"200"
                and mmi_service(endpoint, b"testhost.echo.mmi") == b"200"
            ),
            what="the board's worker and the hub's echo part",
        )
        result = _raspy_status(endpoint)
    finally:
        stop.set()
        thread.join(timeout=5)
    assert (result.returncode, result.stderr) == (0, "")
    rows = {line.split()[0]: line.split() for line in result.stdout.splitlines()[1:]}
    assert rows["testhost.echo"][2] == "1"
    assert rows["testhost.titanic"][2] == "3"  # titanic.request, .reply, .close


def test_raspy_status_all_shows_every_counter_of_each_part(
    runtime: supervisor.Runtime,
) -> None:
    """The table shows each part's three largest counters; one debugging a part
    wants them all: `--all` (the default stays short)."""
    counts = {"e_five": 50_005, "d_four": 50_004, "c_three": 50_003}
    counts |= {"b_two": 50_002, "a_one": 50_001}
    for name, count in counts.items():
        runtime.stats.incr(f"titanic.{name}", count)
    wait_until(
        lambda: mmi_service(runtime.mdp_endpoint, b"testhost.clone.mmi") == b"200",
        what="the statistics services of every part",
    )

    def titanic(*args: str) -> list[str]:
        result = _raspy_status(runtime.mdp_endpoint, *args)
        assert (result.returncode, result.stderr) == (0, "")
        rows = {line.split()[0]: line for line in result.stdout.splitlines()[1:]}
        cell = " ".join(rows["testhost.titanic"].split()[5:])
        return [each.partition("=")[0] for each in cell.split(", ")]

    assert titanic() == ["e_five", "d_four", "c_three"]
    assert titanic("--all")[:5] == list(counts)


def test_raspy_status_all_shows_the_counters_still_at_zero(
    runtime: supervisor.Runtime,
) -> None:
    """`--all` is every counter a part has: one debugging it asks whether anything
    was dropped, and `dropped=0` says no; it left out every counter at 0, as the
    short table does (which stays so)."""
    runtime.stats.incr("titanic.dropped", 0)
    runtime.stats.incr("titanic.dispatched", 2)
    wait_until(
        lambda: mmi_service(runtime.mdp_endpoint, b"testhost.titanic.mmi") == b"200",
        what="the titanic part's statistics service",
    )

    def titanic(*args: str) -> str:
        result = _raspy_status(runtime.mdp_endpoint, *args)
        assert (result.returncode, result.stderr) == (0, "")
        rows = {line.split()[0]: line for line in result.stdout.splitlines()[1:]}
        return " ".join(rows["testhost.titanic"].split()[5:])

    assert titanic() == "dispatched=2"
    every = titanic("--all").split(", ")
    assert every[0] == "dispatched=2"
    assert "dropped=0" in every


def test_a_stats_key_a_user_deleted_is_published_again(
    runtime: supervisor.Runtime,
) -> None:
    """`raspy-kv del /stats/<host>/<part>/state` stayed deleted until the value
    changed (for `state`, maybe never before a restart): the statistics actor took
    what it had published for what the tree held. It compares with the tree now."""
    key = b"/stats/testhost/titanic/state"
    with CloneClient(runtime.mdp_endpoint, b"/stats/testhost/") as tree:
        wait_until(lambda: tree.get(key) == b"running", what="the first publication")
        tree.delete(key, confirm_timeout_s=5)
        wait_until(lambda: tree.get(key) == b"running", what="the state put back")


class CrashesWhenTold(pykka.ThreadingActor):
    def on_receive(self, message: Any) -> Any:
        raise RuntimeError("lost the bus")


def test_the_same_reason_is_published_again_after_the_part_ran(
    tmp_path: Path,
) -> None:
    """A part's reason is deleted under /stats/ once it runs again (an empty value
    is a deletion). The same reason at its next crash was not published again: the
    statistics actor still took it for published."""
    config = (
        "[supervisor]\nrestart_initial_s = 2\nrestart_max_s = 2\nmax_restarts = 5\n"
        "[stats]\npublish_interval_s = 0.1\n"
    )
    with runtimes(tmp_path / "data", config) as start:
        runtime = start("")
        key = b"/stats/testhost/bus/reason"
        child = runtime.call(lambda: runtime.add_child("bus", CrashesWhenTold.start))
        assert isinstance(child, Child)
        with CloneClient(runtime.mdp_endpoint, b"/stats/testhost/") as tree:
            for _ in range(2):
                wait_until(
                    lambda: (
                        tree.get(b"/stats/testhost/bus/state") == b"running"
                        and tree.get(key) is None
                    ),
                    what="the part running, no reason under /stats/",
                )
                ref = child.ref
                assert ref is not None
                ref.tell("crash")
                wait_until(
                    lambda: tree.get(key) == b"stopped unexpectedly",
                    what="the reason under /stats/",
                )


def test_the_keys_of_a_part_gone_leave_the_tree(runtime: supervisor.Runtime) -> None:
    """A part stopped (a section turned off, then SIGHUP) said `running` under
    /stats/ for good: its keys are deleted at the next publication."""
    runtime.call(lambda: runtime.add_child("later", Quiet.start))
    with CloneClient(runtime.mdp_endpoint, b"/stats/testhost/") as tree:
        wait_until(
            lambda: tree.get(b"/stats/testhost/later/state") == b"running",
            what="the new part's state under /stats/",
        )
        runtime.call(lambda: runtime.stop_children(lambda name: name == "later"))
        wait_until(
            lambda: not tree.items(b"/stats/testhost/later/"),
            what="the gone part's keys deleted",
        )
        assert tree.get(b"/stats/testhost/titanic/state") == b"running"


def test_a_restart_forgets_every_stats_key_and_the_parts_publish_theirs_again(
    tmp_path: Path,
) -> None:
    """`/stats/` lives in the Clone server's memory only: after a restart the keys
    of parts the config no longer has are gone, as are a client's, the clock
    health's and another host's; the parts there publish theirs again."""
    written = {
        b"/stats/testhost/gone/state": b"running",
        b"/stats/testhost/gone/uptime_s": b"12",
        b"/stats/testhost/clock/kept": b"1",
        b"/stats/otherhost/gone/state": b"running",
    }
    runtime = _start(tmp_path)
    try:
        with CloneClient(runtime.mdp_endpoint, b"/stats/") as tree:
            for key, body in written.items():
                tree.set(key, body, confirm_timeout_s=5)
            assert {key: tree.get(key) for key in written} == written
    finally:
        runtime.stop()
    runtime = _start(tmp_path)
    try:
        with CloneClient(runtime.mdp_endpoint, b"/stats/") as tree:
            tree.wait_synced()
            wait_until(
                lambda: tree.get(b"/stats/testhost/titanic/state") == b"running",
                what="the parts' keys published again",
            )
            assert {key: tree.get(key) for key in written} == dict.fromkeys(written)
    finally:
        runtime.stop()


def test_raspy_status_shows_parts_that_answer_garbage_or_nothing(
    runtime: supervisor.Runtime,
) -> None:
    """Any MDP worker may register `<host>.<part>.mmi` and `.statistics`: a reply
    that is not the shape of `all` was an internal error (exit 70), and a part whose
    statistics never answered failed the whole table; each is now its own row."""
    endpoint = runtime.mdp_endpoint
    replies = {
        "rogue.a.statistics": [b"200", b"[1, 2]"],
        "rogue.b.statistics": [
            b"200",
            b'{"hits": {"type": "counter", "value": "many"},'
            b' "uptime_s": {"type": "gauge", "value": "long"}, "x": 3}',
        ],
        "rogue.c.statistics": [b"200"],
    }
    stop = threading.Event()
    services = [*replies, "rogue.a.mmi", "rogue.b.mmi", "rogue.c.mmi", "rogue.d.mmi"]
    threads = []
    for service in services:
        worker = Worker(endpoint, service)
        reply = replies.get(service, [b"200", b"running"])
        thread = threading.Thread(
            target=_serve_until, args=(worker, reply, stop), daemon=True
        )
        thread.start()
        threads.append(thread)
    try:
        wait_until(
            lambda: all(
                mmi_service(endpoint, service.encode()) == b"200"
                for service in services
            ),
            what="every rogue service registered",
        )
        result = _raspy_status(endpoint)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=5)
    assert (result.returncode, result.stderr) == (0, "")
    rows = {line.split()[0]: line for line in result.stdout.splitlines()[1:]}
    for part in "abc":
        assert rows[f"rogue.{part}"].split()[1:] == ["unknown", "0", "-", "0"]
    assert "no answer from rogue.d.statistics" in rows["rogue.d"]
    assert rows["testhost.titanic"].split()[1] == "running"


def _serve_until(worker: Worker, reply: list[bytes], stop: threading.Event) -> None:
    with worker:
        worker.serve(lambda _body: reply, stop=stop)


def _raspy_status(endpoint: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "raspy.cli.raspy",
            "status",
            "--server",
            endpoint,
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_a_statistics_actor_that_crashed_leaves_no_ticker_and_its_successor_publishes(
    runtime: supervisor.Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A publication that raised ended the actor (a crash, restarted by the
    supervisor): its successor publishes and puts a deleted key back, every part
    still answers its services, and the crashed one's ticker thread is gone (pykka
    calls on_failure, not on_stop: a `raspy-stats-tick` thread was left each time)."""
    key = b"/stats/testhost/titanic/state"
    real = supervisor._statistics_snapshot
    failures: list[int] = []

    def fails_once(rt: supervisor.Runtime) -> Any:
        if not failures:
            failures.append(1)
            raise RuntimeError("the store answered garbage")
        return real(rt)

    first = runtime.ref_of("statistics")
    with CloneClient(runtime.mdp_endpoint, b"/stats/testhost/") as tree:
        wait_until(lambda: tree.get(key) == b"running", what="the first publication")
        monkeypatch.setattr(supervisor, "_statistics_snapshot", fails_once)
        wait_until(
            lambda: (
                runtime.ref_of("statistics") not in (None, first)
                and runtime.status_of("statistics") is not None
                and runtime.status_of("statistics").restarts == 1  # type: ignore[union-attr]
            ),
            what="the statistics actor started again",
        )
        tree.delete(key, confirm_timeout_s=5)
        wait_until(lambda: tree.get(key) == b"running", what="the state put back")
    for part in sorted(status.name for status in runtime.statuses):
        service = f"testhost.{part}.mmi".encode()
        assert mmi_service(runtime.mdp_endpoint, service) == b"200", part

    def tickers() -> int:
        return sum(t.name == "raspy-stats-tick" for t in threading.enumerate())

    wait_until(lambda: tickers() == 1, what="the crashed actor's ticker ended")
