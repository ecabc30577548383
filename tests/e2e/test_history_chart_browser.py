"""The web face's history chart in a real Chromium (Debian's `chromium`), against the
real raspyd, over a history written into its store beforehand: two readings a day
apart are a gap in the data, drawn as two dots, not one line across the day."""

from __future__ import annotations

import http.client
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser
from structlog.testing import capture_logs
from support.chromium import chromium, new_web_token
from support.daemon import Daemon, hostname
from support.net import free_port_base
from support.wait import wait_until

from raspy.history.recorder import Recorder
from raspy.history.tiers import parse_tiers
from raspy.storage.store import Put, Store, Table
from raspy.storage.tables import (
    encode_history_row,
    history_row_key,
    recorded_key_record,
)

CONFIG = """
[history]
enabled = true
tiers = ["10s:48h", "5m:30d", "1h:5y"]

[http]
enabled = true
"""
# a sensor retired since: its history stays readable, and nothing records it now
DEVICE = f"{hostname()}.fake.shed"
KEY = f"/device/{DEVICE}/value"
pytestmark = pytest.mark.timeout(120)


def _write_history(data_dir: Path, samples: list[tuple[float, float]]) -> None:
    """The rows the recorder writes for `samples` (time, value), in the store."""
    recorder = Recorder(parse_tiers(("10s:48h", "5m:30d", "1h:5y")))
    for t, value in samples:
        recorder.record(KEY, t, value, lambda rows: [None] * len(rows))
    ops = [Put(Table.HISTORY, *recorded_key_record(KEY))]
    ops += [
        Put(
            Table.HISTORY,
            history_row_key(row.step_s, row.slot, row.key),
            encode_history_row(bucket),
        )
        for row, bucket in recorder.take_pending()
    ]
    with capture_logs(), Store.open(data_dir) as store:
        store.commit(ops)


@pytest.fixture(name="browser")
def browser_fixture() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


def _answers(base: str) -> bool:
    connection = http.client.HTTPConnection(base, timeout=10)
    try:
        connection.request("GET", "/login")
        connection.getresponse().read()
    except ConnectionRefusedError:
        return False
    finally:
        connection.close()
    return True


def test_two_readings_a_day_apart_are_two_dots_not_a_line(
    browser: Browser, tmp_path: Path
) -> None:
    """Gaps were judged by the points' median spacing alone: with two points that is
    their own spacing, so a day with no reading was drawn as a line across it. The
    reply's step is the spacing the data has without a gap."""
    data_dir = tmp_path / "data"
    now = time.time()
    _write_history(data_dir, [(now - 26 * 3600, 18.0), (now - 2 * 3600, 19.0)])
    token = new_web_token(data_dir)
    daemon = Daemon(data_dir, port_base=free_port_base(5), config_text=CONFIG)
    try:
        daemon.start(timeout_s=30)
        base = f"127.0.0.1:{daemon.port_base + 4}"
        wait_until(lambda: _answers(base), what="the web face to listen", timeout_s=15)
        page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
        page.set_default_timeout(15_000)
        page.goto(f"http://{base}/login")
        page.fill("#secret", token)
        page.click("button[type=submit]")
        page.wait_for_url(f"http://{base}/")
        page.goto(f"http://{base}/device/{DEVICE}/chart.svg?range=7d&width=800")
        drawn = page.evaluate(
            "() => [document.querySelectorAll('svg polyline').length,"
            " document.querySelectorAll('svg circle').length]"
        )
        page.context.close()
    finally:
        daemon.kill()
    assert drawn == [0, 2]
