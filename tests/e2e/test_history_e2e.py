"""The value recorder in the real raspyd: a kill -9 loses at most one flush interval;
`raspy history` prints the points, draws SVG and PNG charts, and refuses bad input
in one line."""

from __future__ import annotations

import json
import re
import struct
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
import zlib
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from support.daemon import Daemon, hostname, running_daemon
from support.wait import wait_until

from raspy.client.mdp import Client

_FLUSH_S = 2.0
_CONFIG = f"""
[devices]
fake_enabled = true

[[devices.fake]]
name = "attic"
oid = "sensor.temperature"
period_s = 60.0
min = 10.0
max = 20.0
poll_interval_s = 0.5
log = true

[[devices.fake]]
name = "cellar"
oid = "sensor.temperature"
poll_interval_s = 0.5

[history]
flush_interval_s = {_FLUSH_S}
tiers = ["1s:1h", "1m:1d"]
"""
_ATTIC = f"{hostname()}.fake.attic"


def _history(
    daemon: Daemon, since: float, key: str = _ATTIC, **asked: str
) -> list[list[float]]:
    """The points of `key` (the attic's) since `since` ([] before its first one is
    recorded); `asked`: more fields of the request (its resolution)."""
    body = json.dumps(
        {"v": 1, "action": "history", "key": key, "since": since, **asked}
    )
    with Client(daemon.endpoint, timeout_s=3, retries=2) as client:
        status, reply = client.request(f"{hostname()}.logger.history", body)
    if status == b"404":
        return []
    assert status == b"200", reply
    points: list[list[float]] = json.loads(reply)["points"]
    return points


def _steps(points: list[list[float]]) -> set[int]:
    return {int(p[0]) for p in points}


@pytest.mark.timeout(90)
def test_a_kill_9_loses_at_most_one_flush_interval(tmp_path: Path) -> None:
    data = tmp_path / "data"
    started = time.time()
    with running_daemon(data, config_text=_CONFIG) as daemon:
        wait_until(
            lambda: len(_history(daemon, started)) >= 4 * _FLUSH_S,
            what="a few flush intervals of points",
            timeout_s=30,
        )
        before = _steps(_history(daemon, started))
        killed_at = time.time()
        daemon.kill()
    with running_daemon(data, config_text=_CONFIG) as daemon:
        after = _steps(_history(daemon, started))
    lost = sorted(before - after)
    kept = before & after
    assert len(kept) >= 2 * _FLUSH_S, (sorted(before), sorted(after))
    # a flush is due every interval; allow one second for the step's own length
    assert [t for t in lost if t < killed_at - _FLUSH_S - 1.0] == [], lost


def _steady_config(value: float, coalesce_s: float) -> str:
    """A sensor that reads `value` at every poll, its readings stored every
    `coalesce_s` (the Clone tree's coalesced `/device/` writes)."""
    return f"""
[store]
coalesce_interval_s = {coalesce_s}

[devices]
fake_enabled = true

[[devices.fake]]
name = "steady"
oid = "sensor.temperature"
min = {value}
max = {value}
poll_interval_s = 0.3
log = true

[history]
flush_interval_s = 1.0
tiers = ["1s:1h", "1m:1d"]
"""


def _steady(daemon: Daemon, since: float) -> list[list[float]]:
    return _history(daemon, since, f"{hostname()}.fake.steady", resolution="1s")


@pytest.mark.timeout(120)
def test_the_readings_after_a_kill_9_record_the_value_read_not_the_stored_one(
    tmp_path: Path,
) -> None:
    """A reading that repeats the value sets only `/timestamp`. After a restart the
    device's first reading (its `/value`) may come before the recorder follows the
    tree; the recorder then read the store for the value, which holds the readings
    of a coalesced interval ago (before a kill -9, the value of the run before):
    it recorded 10 where the sensor read 20, until the next coalesced write."""
    data = tmp_path / "data"
    first = time.time()
    with running_daemon(data, config_text=_steady_config(10.0, 0.2)) as daemon:
        wait_until(
            lambda: [p for p in _steady(daemon, first) if p[0] >= first + 2.0],
            what="a point 2 s in (the value 10 stored since)",
            timeout_s=30,
        )
        daemon.kill()
    # the same sensor now reads 20; its value is written to the store a minute on
    config = _steady_config(20.0, 60.0)
    with running_daemon(data, config_text=config) as daemon:
        second = time.time()

        def after() -> list[list[float]]:
            points = [p for p in _steady(daemon, second) if p[0] >= second]
            return points if len(points) >= 4 else []

        points = wait_until(after, what="four points after the restart", timeout_s=30)
    assert {p[1] for p in points} == {20.0}, points


@pytest.mark.timeout(60)
def test_a_slow_device_logged_from_the_config_has_a_point_at_the_start(
    tmp_path: Path,
) -> None:
    """docs/history.md: a device just set to record gets its value of that moment
    as its first point. At a start the sensor's first reading comes before the
    recorder follows the tree, and its next one an hour on: it had no point until
    then, the value read being in the recorder's seed only."""
    started = time.time()
    config = _steady_config(15.0, 60.0).replace(
        "poll_interval_s = 0.3", "poll_interval_s = 3600.0"
    )
    with running_daemon(tmp_path / "data", config_text=config) as daemon:
        points = wait_until(
            lambda: _steady(daemon, started - 60),
            what="the sensor's first point",
            timeout_s=20,
        )
    assert [p[1] for p in points] == [15.0], points


@pytest.fixture(scope="module", name="hub")
def hub_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    with running_daemon(
        tmp_path_factory.mktemp("history") / "data", config_text=_CONFIG
    ) as daemon:
        started = time.time()
        wait_until(
            lambda: len(_history(daemon, started - 60)) >= 3,
            what="three points",
            timeout_s=20,
        )
        yield daemon


def _raspy(hub: Daemon, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "raspy.cli.raspy", "history", *args]
    return subprocess.run(
        [*command, "--server", hub.endpoint],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_raspy_history_prints_the_points(hub: Daemon) -> None:
    done = _raspy(hub, _ATTIC, "--since", "30m")
    assert (done.returncode, done.stderr) == (0, "")
    header, *rows = done.stdout.splitlines()
    # one row when the hub is this young (its first 2-s step): then "1 point"
    count = "1 point" if len(rows) == 1 else f"{len(rows)} points"
    assert header == (
        f"# /device/{_ATTIC}/value: tier 1s, a point every 2s, {count} "
        "(time, avg, min, max)"
    )
    assert len(rows) >= 1
    for row in rows:
        day, clock, offset, *values = row.split()
        # the time names its offset, so it is one instant wherever it is read
        moment = datetime.strptime(f"{day} {clock} {offset}", "%Y-%m-%d %H:%M:%S %z")
        assert time.time() - 31 * 60 <= moment.timestamp() <= time.time()
        avg, low, high = (float(v) for v in values)
        assert 10.0 <= low <= avg <= high <= 20.0


def test_raspy_history_json_is_the_service_reply(hub: Daemon) -> None:
    done = _raspy(hub, _ATTIC, "--since", "10m", "--resolution", "1s", "--json")
    reply: dict[str, Any] = json.loads(done.stdout)
    assert (reply["tier"], reply["step_s"], reply["key"]) == (
        "1s",
        1,
        f"/device/{_ATTIC}/value",
    )


def test_raspy_history_plots_an_svg(hub: Daemon, tmp_path: Path) -> None:
    path = tmp_path / "attic.svg"
    done = _raspy(hub, _ATTIC, "--since", "10m", "--plot", str(path), "--unit", "°C")
    assert done.returncode == 0, done.stderr
    root = ET.fromstring(path.read_text("utf-8"))  # noqa: S314 -- our own output
    svg = "{http://www.w3.org/2000/svg}"
    lines = list(root.iter(f"{svg}polyline"))
    assert len(lines) >= 1
    assert "°C" in [t.text for t in root.iter(f"{svg}text")]


def test_raspy_history_plots_a_png(hub: Daemon, tmp_path: Path) -> None:
    path = tmp_path / "attic.png"
    done = _raspy(hub, _ATTIC, "--since", "10m", "--plot", str(path))
    assert done.returncode == 0, done.stderr
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    length, kind = struct.unpack(">I4s", data[8:16])
    width, height, depth, colour = struct.unpack(">IIBB", data[16:26])
    assert (length, kind, width, height, depth, colour) == (13, b"IHDR", 800, 300, 8, 2)
    idat_length = struct.unpack(">I", data[33:37])[0]
    assert data[37:41] == b"IDAT"
    pixels = zlib.decompress(data[41 : 41 + idat_length])
    assert len(pixels) == height * (1 + width * 3)
    assert data[-8:-4] == b"IEND"


@pytest.mark.parametrize(
    ("args", "status", "message"),
    [
        (("pi.fake.nowhere",), 2, 'raspy history: no history for "/device/pi.fake.nowhere/value": only a device with log = true is recorded, from its first reading (after a forget, its next one) (unknown_key)'),
        ((_ATTIC, "--since", "yesterday"), 2, 'raspy history: --since: expected a duration back from now (24h, 7d), epoch seconds or an ISO date, got "yesterday"'),
        ((_ATTIC, "--until", "today"), 2, 'raspy history: --until: expected a duration back from now (24h, 7d), epoch seconds or an ISO date, got "today"'),
        ((_ATTIC, "--resolution", "2m"), 2, 'raspy history: resolution: expected one of auto, 1s, 1m, got "2m" (bad_request)'),
        ((_ATTIC, "--plot", "chart.gif"), 2, 'raspy history: --plot: expected a FILE ending in .svg or .png, got "chart.gif"'),
        ((_ATTIC, "--plot", "/nonexistent-dir/chart.svg"), 2, "raspy history: --plot: cannot write /nonexistent-dir/chart.svg: No such file or directory"),
    ],
    ids=["unknown-key", "bad-since", "bad-until", "bad-resolution", "bad-suffix", "unwritable"],
)  # fmt: skip
def test_raspy_history_refuses_bad_input_in_one_line(
    hub: Daemon, args: tuple[str, ...], status: int, message: str
) -> None:
    done = _raspy(hub, *args)
    assert (done.returncode, done.stderr, done.stdout) == (status, message + "\n", "")


def test_raspy_history_without_a_hub_says_so(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "raspy.cli.raspy", "history", _ATTIC]
    done = subprocess.run(
        [*command, "--server", "tcp://127.0.0.1:9", "--timeout", "0.3"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == (
        "raspy history: no reply from the broker at tcp://127.0.0.1:9 in 0.3 s"
        " (is raspyd running there? --server HOST:PORT names another hub or port"
        " base; a hub with CURVE answers only with --server-key and --client-cert)\n"
    )


@pytest.mark.timeout(90)
def test_raspy_history_forget_deletes_a_devices_stored_points(tmp_path: Path) -> None:
    """A device retired for good kept its rows for ever. `--forget` deletes them and
    says how many there were; the attic still records here, so it starts anew:
    no point of before the forget is left."""
    with running_daemon(tmp_path / "data", config_text=_CONFIG) as daemon:
        started = time.time()
        wait_until(
            lambda: len(_history(daemon, started - 60)) >= 3 * _FLUSH_S,
            what="points over a few flush intervals",
            timeout_s=30,
        )
        forgot_at = time.time()
        done = _raspy(daemon, _ATTIC, "--forget")
        assert (done.returncode, done.stderr) == (0, "")
        said = re.fullmatch(
            rf"forgot /device/{_ATTIC}/value: (\d+) rows\n", done.stdout
        )
        assert said is not None, done.stdout
        assert int(said.group(1)) >= 3
        left = _history(daemon, started - 60)
        assert [p for p in left if p[0] < forgot_at - 1.0] == []
        bad = _raspy(daemon, _ATTIC, "--forget", "--plot", str(tmp_path / "x.svg"))
        assert (bad.returncode, bad.stderr) == (
            2,
            "raspy history: --forget: goes without --plot (nothing is left to draw)\n",
        )
