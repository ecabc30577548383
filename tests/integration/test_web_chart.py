"""The web face's history chart in a real runtime, logged in over HTTP: with the
history service up the device page and its chart ask the broker nothing about it
(the WebActor watches the services), and with no history service the chart says
why at once (503), as the device page does."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from support.net import free_port_base
from support.wait import wait_until
from support.web_browser import Answer, Browser, allow_login

from raspy import config as config_mod
from raspy.actors import messages as msgs
from raspy.actors import supervisor
from raspy.actors.web import WEB_PORT_OFFSET

HOST = "testhost"
ATTIC = f"{HOST}.fake.attic"
CHART = f"/device/{ATTIC}/chart.svg?range=24h&width=800"
DEVICES = (
    "[devices]\nfake_enabled = true\n[[devices.fake]]\n"
    'name = "attic"\noid = "sensor.temperature"\nlog = true\npoll_interval_s = 0.2\n'
)
WEB = "[http]\nenabled = true\n"
_SVG = "{http://www.w3.org/2000/svg}"


Start = Callable[[str], tuple[supervisor.Runtime, Browser]]


@pytest.fixture
def start_runtime(tmp_path: Path) -> Iterator[Start]:
    started: list[supervisor.Runtime] = []

    def start(extra: str) -> tuple[supervisor.Runtime, Browser]:
        data_dir = tmp_path / "data"
        allow_login(data_dir)
        cfg = config_mod.load(
            DEVICES + WEB + extra,
            "test.toml",
            data_dir=str(data_dir),
            hostname=HOST,
            network__port_base=free_port_base(5),
        )
        rt = supervisor.start(cfg)
        started.append(rt)
        browser = Browser(cfg.network.port_base + WEB_PORT_OFFSET)
        browser.log_in()
        return rt, browser

    yield start
    for rt in started:
        rt.stop()


def _mmi_requests(rt: supervisor.Runtime) -> float:
    stats = rt.edge.ask(msgs.GetStats(), timeout=5)
    assert isinstance(stats, dict)
    return float(stats["broker.mmi"])


@pytest.mark.timeout(60)
def test_with_history_up_the_page_and_its_chart_ask_no_mmi(
    start_runtime: Start,
) -> None:
    rt, browser = start_runtime(
        '[history]\nenabled = true\n[core]\ntimezone = "America/Denver"\n'
    )

    def drawn() -> bool:
        answer = browser.exchange("GET", CHART)
        return answer.status == 200 and ">no data</text>" not in answer.body

    wait_until(drawn, what="the sensor's chart (its values recorded)")
    # the time axis in the hub's zone, as the pages' times are
    assert ">America/Denver</text>" in browser.exchange("GET", CHART).body
    before = _mmi_requests(rt)
    page = browser.exchange("GET", f"/device/{ATTIC}")
    chart = browser.exchange("GET", CHART)
    assert (page.status, chart.status, chart.content_type) == (
        200,
        200,
        "image/svg+xml",
    )
    assert _mmi_requests(rt) == before


@pytest.mark.timeout(60)
def test_without_history_the_chart_says_history_is_off(start_runtime: Start) -> None:
    rt, browser = start_runtime("[history]\nenabled = false\n")
    before = _mmi_requests(rt)
    chart = browser.exchange("GET", CHART)
    assert (chart.status, chart.content_type, chart.body) == (
        503,
        "text/plain; charset=utf-8",
        f"{HOST}.logger.history: history is off: enable [history] in the config",
    )
    assert _mmi_requests(rt) == before + 1  # not announced: the broker is asked
    page = browser.exchange("GET", f"/device/{ATTIC}")
    assert (page.status, "History is off: enable [history]." in page.body) == (
        200,
        True,
    )


@pytest.mark.timeout(60)
def test_a_device_that_records_nothing_gets_a_note_not_a_broken_chart(
    start_runtime: Start,
) -> None:
    """The page embedded chart.svg, which answered 503: a broken image."""
    _, browser = start_runtime(
        '[[devices.fake]]\nname = "cellar"\noid = "sensor.temperature"\n'
        "[history]\nenabled = true\n"
    )
    pages: list[Answer] = []

    def served() -> bool:
        pages.append(browser.exchange("GET", f"/device/{HOST}.fake.cellar"))
        return pages[-1].status == 200

    wait_until(served, what="the cellar's page")
    assert "Not recorded yet: turn on Record below." in pages[-1].body
    assert "chart.svg" not in pages[-1].body


@pytest.mark.timeout(60)
def test_a_device_with_nothing_recorded_yet_gets_a_chart_that_says_no_data(
    start_runtime: Start,
) -> None:
    """The history service knows a key from its first number on: a device just set
    to `log = true`, or one whose board has been offline since, answered 503 (a
    broken image on its page) until then. The cellar is not logged: the same 404."""
    _, browser = start_runtime(
        '[[devices.fake]]\nname = "cellar"\noid = "sensor.temperature"\n'
        "[history]\nenabled = true\n"
    )
    chart = f"/device/{HOST}.fake.cellar/chart.svg?range=7d&width=400"
    answers: list[Answer] = []

    def answered() -> bool:
        answers.append(browser.exchange("GET", chart))
        body = answers[-1].body  # the history service may still be starting
        return "no reply" not in body and "history is off" not in body

    wait_until(answered, what="the cellar's chart")
    assert (answers[-1].status, answers[-1].content_type) == (200, "image/svg+xml")
    assert ">no data</text>" in answers[-1].body
    assert f">{HOST}.fake.cellar, last 7 days</text>" in answers[-1].body


@pytest.mark.timeout(60)
def test_a_chart_is_titled_with_the_friendly_name_and_the_range_in_words(
    start_runtime: Start,
) -> None:
    """The title read "testhost.fake.cellar (24h, 10s)"; and a phone's chart
    is drawn at the 340 px the page shows it at (its labels were shrunk)."""
    _, browser = start_runtime(
        '[[devices.fake]]\nname = "cellar"\noid = "sensor.temperature"\n'
        'friendly_name = "Keller unten"\nlog = true\n'
        "[history]\nenabled = true\n"
    )
    page = browser.exchange("GET", f"/device/{HOST}.fake.cellar")
    assert "chart.svg?range=24h&amp;width=340" in page.body
    chart = f"/device/{HOST}.fake.cellar/chart.svg?range=24h&width=340"
    answers: list[Answer] = []

    def answered() -> bool:
        answers.append(browser.exchange("GET", chart))
        return answers[-1].status == 200

    wait_until(answered, what="the cellar's chart")
    root = ET.fromstring(answers[-1].body)  # noqa: S314 -- our own output
    assert root.attrib["width"] == "340"
    texts = [t.text for t in root.iter(f"{_SVG}text")]
    assert texts[0] == "Keller unten, last 24 hours"


@pytest.mark.timeout(60)
def test_a_days_chart_spans_the_day_whatever_the_data_holds(
    start_runtime: Start,
) -> None:
    """A sensor recorded for seconds had a "24h" chart whose time axis spanned those
    seconds: the axis is the last 24 hours (a tick every 3 hours), the points at
    its right end, where they fall."""
    _, browser = start_runtime("[history]\nenabled = true\n")
    answers: list[Answer] = []

    def drawn() -> bool:
        answers.append(browser.exchange("GET", CHART))
        return answers[-1].status == 200 and ">no data</text>" not in answers[-1].body

    wait_until(drawn, what="the sensor's chart (its values recorded)")
    root = ET.fromstring(answers[-1].body)  # noqa: S314 -- our own output
    axis = [
        t.text or ""
        for t in root.iter(f"{_SVG}text")
        if t.attrib.get("y") == "280"  # under the time axis (height 300)
    ]
    hours = [text for text in axis if ":" in text]
    assert len(axis) >= 7
    assert all(text.endswith(":00") and int(text[:2]) % 3 == 0 for text in hours)
    drawn_x = [float(c.attrib["cx"]) for c in root.iter(f"{_SVG}circle")] + [
        float(xy.split(",")[0])
        for line in root.iter(f"{_SVG}polyline")
        for xy in line.attrib["points"].split()
    ]
    assert drawn_x
    assert min(drawn_x) > 64 + 720 * 0.95  # the last 5% of the day, at the right


@pytest.mark.timeout(60)
def test_a_switchs_chart_has_an_axis_of_off_and_on(start_runtime: Start) -> None:
    """A lamp's value axis ran from 0 to 2 (a value that never changed got +- 1 of
    room): its values are 0 and 1, labelled off and on, as the page knows its kind."""
    _, browser = start_runtime(
        '[[devices.fake]]\nname = "lamp"\noid = "switch"\nlog = true\n'
        "poll_interval_s = 0.2\n[history]\nenabled = true\n"
    )
    page = browser.exchange("GET", f"/device/{HOST}.fake.lamp")
    assert page.status == 200
    srcset = page.body.split('srcset="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    assert "kind=switch" in srcset
    answers: list[Answer] = []

    def drawn() -> bool:
        answers.append(browser.exchange("GET", srcset))
        return answers[-1].status == 200 and ">no data</text>" not in answers[-1].body

    wait_until(drawn, what="the lamp's chart (its values recorded)")
    root = ET.fromstring(answers[-1].body)  # noqa: S314 -- our own output
    values = [
        t.text
        for t in root.iter(f"{_SVG}text")
        if t.attrib.get("text-anchor") == "end" and t.attrib.get("x") == "58"
    ]
    assert values == ["off", "on"]
