"""raspyd's in-process Clone writers (the devices' ClonePublisher, a scenario's `set`)
check a key against the configured `[clone] max_key_bytes`, as the server does: a
key the server would refuse is refused at the writer with its own message, and one
the server would take (a limit above the default 255) is not refused."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.runtimes import Start, runtimes
from support.wait import wait_until

from raspy.actors import supervisor
from raspy.client.clone import fetch_snapshot
from raspy.client.mdp import Client

HOST = "testhost"
LONG_KEY = "/house/" + "k" * 273  # 280 bytes: over the default 255
SHORT_KEY = "/house/" + "s" * 143  # 150 bytes: under it


@pytest.fixture
def start_runtime(tmp_path: Path) -> Iterator[Start]:
    with runtimes(tmp_path / "data", "[core]\ntimezone = 'UTC'\n", HOST) as start:
        yield start


def _tree(rt: supervisor.Runtime) -> dict[bytes, bytes]:
    snapshot = fetch_snapshot(f"127.0.0.1:{rt.config.network.port_base}")
    return snapshot.items


def _scenario(rt: supervisor.Runtime, action: str, **fields: Any) -> dict[str, Any]:
    body = json.dumps({"v": 1, "action": action, **fields})
    endpoint = f"tcp://127.0.0.1:{rt.config.network.port_base}"
    with Client(endpoint, timeout_s=5, retries=1) as client:
        status, reply = client.request(f"{HOST}.core.scenario", body)
    assert status == b"200", reply
    answer: dict[str, Any] = json.loads(reply)
    return answer


def _run_set(rt: supervisor.Runtime, key: str) -> None:
    document = f"name: long\nactions:\n  - set: {key}\n    value: 1\n"
    _scenario(rt, "import", document=document)
    _scenario(rt, "run", name="long")


@pytest.mark.timeout(60)
def test_a_publisher_takes_a_key_over_255_bytes_the_server_is_set_to_take(
    start_runtime: Start,
) -> None:
    rt = start_runtime("[clone]\nmax_key_bytes = 300\n")
    assert rt.publisher is not None
    rt.publisher.set(LONG_KEY.encode(), b"1")
    assert rt.publisher.set_many([(LONG_KEY.encode() + b"/2", b"2")]) == []
    wait_until(
        lambda: {LONG_KEY.encode(), LONG_KEY.encode() + b"/2"} <= _tree(rt).keys(),
        what="both long keys in the tree",
    )


@pytest.mark.timeout(60)
def test_a_publisher_refuses_a_key_over_a_smaller_limit_with_its_own_message(
    start_runtime: Start,
) -> None:
    rt = start_runtime("[clone]\nmax_key_bytes = 100\n")
    assert rt.publisher is not None
    with pytest.raises(ValueError, match=r"key of 150 bytes \(at most 100\)"):
        rt.publisher.set(SHORT_KEY.encode(), b"1")
    refused = rt.publisher.set_many([(SHORT_KEY.encode(), b"1")])
    assert [(key, "(at most 100)" in why) for key, why in refused] == [
        (SHORT_KEY.encode(), True)
    ]


@pytest.mark.timeout(60)
def test_a_scenario_sets_a_key_over_255_bytes_the_server_is_set_to_take(
    start_runtime: Start,
) -> None:
    rt = start_runtime("[clone]\nmax_key_bytes = 300\n")
    _run_set(rt, LONG_KEY)
    wait_until(
        lambda: _tree(rt).get(LONG_KEY.encode()) == b"1", what="the long key set"
    )
    assert _scenario(rt, "get", name="long")["last_error"] is None


@pytest.mark.timeout(60)
def test_a_scenario_set_of_a_key_over_a_smaller_limit_fails_its_run_saying_so(
    start_runtime: Start,
) -> None:
    rt = start_runtime("[clone]\nmax_key_bytes = 100\n")
    _run_set(rt, SHORT_KEY)
    wait_until(
        lambda: _scenario(rt, "get", name="long")["last_error"] is not None,
        what="the run's failure",
    )
    error = _scenario(rt, "get", name="long")["last_error"]
    assert "key of 150 bytes (at most 100)" in error
    assert SHORT_KEY.encode() not in _tree(rt)


@pytest.mark.timeout(60)
def test_the_statistics_publisher_refuses_by_the_configured_limit_and_says_so(
    start_runtime: Start,
) -> None:
    """The statistics actor's own publisher checks the configured limit too: with
    a limit its keys pass, each is refused at the writer and logged
    (`stats_key_refused`), not sent for the server to drop unseen."""
    from structlog.testing import capture_logs

    with capture_logs() as logs:
        rt = start_runtime(
            "[clone]\nmax_key_bytes = 24\n\n[stats]\npublish_interval_s = 0.2\n"
        )
        assert rt.publisher is not None

        def refused() -> list[str]:
            return [e["key"] for e in logs if e["event"] == "stats_key_refused"]

        wait_until(refused, what="a statistics key refused at the writer")
    assert all(key.startswith(f"/stats/{HOST}/") for key in refused())
    assert all(len(key.encode()) > 24 for key in refused())
