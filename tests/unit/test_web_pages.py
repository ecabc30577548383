"""Page HTML (raspy.web.html, raspy.web.pages, raspy.web.scenario_pages,
raspy.web.service_pages): outside text is always escaped, controls carry what app.js
needs, values read as a person reads them."""

from __future__ import annotations

import math
import re
from dataclasses import replace
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from raspy.controls import Control
from raspy.elapsed_text import elapsed_text
from raspy.web import html, pages, scenario_pages, service_pages
from raspy.web.control_html import controls_section
from raspy.web.models import DeviceRow, ScenarioDetail, ScenarioRow

NOW = 1_800_000_000.0
EVIL = '<script>alert("x")</script>&\''


def row(name: str = "lamp", oid: str = "switch", value: object = True) -> DeviceRow:
    return DeviceRow("h.fake", name, f"h.fake.{name}", oid, value, "", "ok", NOW, False)


def test_a_post_button_is_a_form_with_the_csrf_token() -> None:
    assert html.post_button("/logout", "Log out", 'a"b') == (
        '<form method="post" action="/logout" class="inline">'
        '<input type="hidden" name="csrf" value="a&quot;b">'
        '<button type="submit">Log out</button></form>'
    )


def test_values_read_as_a_person_reads_them() -> None:
    assert [
        html.show_value(v) for v in (None, True, False, 21.456, 20.0, 7, "x", [1])
    ] == ["\u2013", "on", "off", "21.46", "20", "7", "x", "\u2026"]


def test_a_value_reads_at_load_as_the_live_update_shows_it() -> None:
    """The page's script writes a live value with toFixed(2), which takes a tie
    away from zero, and a number from 1e21 on with an exponent; the server wrote
    21.125 (a DS18B20 reads eighths of a degree) as 21.12 and the next update of
    the same value as 21.13, and 1e21 in 22 digits."""
    values = (21.125, -21.125, 0.375, 1.005, 99.995, 1e21, 1.5e21, 10**21, 10**400)
    assert [html.show_value(v) for v in values] == [
        "21.13",
        "-21.13",
        "0.38",
        "1",
        "100",
        "1e+21",
        "1.5e+21",
        "1e+21",
        "Infinity",
    ]


def test_a_value_just_below_zero_reads_0_not_minus_0() -> None:
    """A reading that rounds to 0 from below (a sensor near freezing, -0.001) and a
    negative zero (`-0.0`, as a tree client may write it) read "-0"."""
    values = (-0.0, -0.001, -0.004999, -1e-7, 0.0, -0.005)
    assert [html.show_value(v) for v in values] == ["0", "0", "0", "0", "0", "-0.01"]


def test_a_clocks_value_that_is_not_a_time_reads_as_app_js_writes_it() -> None:
    """A clock's NaN reaches app.js as null (JSON has no NaN), a dash, and read
    "out of range" at the page's load; an infinity is out of range on both ends,
    and true is on (no 1970 time)."""
    values = (math.inf, -math.inf, math.nan, 1e20, 10**400, True, None)
    rows = [
        DeviceRow("h.f", f"c{n}", f"h.f.c{n}", "clock.rtc", v, "", "ok", None, False)
        for n, v in enumerate(values)
    ]
    body = pages.devices_body(rows, [], NOW)
    shown = re.findall(r'<time class="value" data-key="[^"]*">([^<]*)</time>', body)
    out = "out of range"
    assert shown == [out, out, "\u2013", out, out, "on", "\u2013"]


def test_times_show_the_date_only_when_not_today() -> None:
    assert [
        html.show_time(NOW - 60, NOW),
        html.show_time(NOW - 3 * 86400, NOW),
        html.show_time(None, NOW),
    ] == ["07:59:00", "2027-01-12 08:00", "never"]


def test_times_are_in_the_hubs_zone_which_every_page_names() -> None:
    """They were UTC whatever [core] timezone said: a 06:30 wake-up in New York
    showed as 11:30 on the web face."""
    new_york = ZoneInfo("America/New_York")
    assert html.show_time(NOW - 60, NOW, new_york) == "02:59:00"
    document = html.page(
        "T", "", csrf="c", active="/", host="h", zone="America/New_York"
    )
    assert 'data-tz="America/New_York"' in document
    assert "Times in America/New_York" in document


def test_a_switch_is_a_button_with_its_state_service_device_and_key() -> None:
    assert pages._control(row()) == (
        '<button type="button" class="switch" role="switch" aria-checked="true" '
        'aria-label="lamp" data-service="h.fake.devices" data-device="lamp" '
        'data-key="/device/h.fake.lamp/value" '
        'data-pending-key="/device/h.fake.lamp/pending"><span></span></button>'
    )


def test_a_card_shows_the_friendly_name_and_its_switch_commands_by_name() -> None:
    renamed = replace(row(), friendly_name="Desk <lamp>")
    card = pages._device_item(renamed, NOW)
    assert '<a class="name" href="/device/h.fake.lamp">Desk &lt;lamp&gt;</a>' in card
    assert 'aria-label="Desk &lt;lamp&gt;" ' in card
    assert 'data-device="lamp"' in card


def test_a_clocks_value_is_the_time_it_says_and_none_is_a_dash() -> None:
    clock = row("rtc", "clock.rtc", NOW - 60)
    cards = [pages._device_item(replace(clock, value=v), NOW) for v in (NOW - 60, None)]
    value = '<time class="value" data-key="/device/h.fake.rtc/value">'
    assert f"{value}07:59:00</time>" in cards[0]
    assert f"{value}\u2013</time>" in cards[1]
    assert 'class="unit"' not in cards[0]


def test_a_dimmer_is_a_slider_at_its_level_and_a_sensor_has_no_control() -> None:
    assert (
        pages._control(row("hall", "dimmer", 40.4)),
        pages._control(row("t", "sensor.temperature", 2.0)),
    ) == (
        '<input type="range" class="dimmer" min="0" max="100" step="1" value="40" '
        'aria-label="hall level" data-service="h.fake.devices" data-device="hall" '
        'data-key="/device/h.fake.hall/value">',
        "",
    )


@given(st.text(max_size=40))
def test_no_device_name_or_value_reaches_the_page_unescaped(text: str) -> None:
    body = pages.devices_body([row(text or "x", "dimmer", text)], [text], NOW)
    assert "<script" not in body.replace("&lt;script", "")


def test_hostile_text_everywhere_is_escaped() -> None:
    scenario = ScenarioRow(EVIL, EVIL, True, EVIL, None, 1, EVIL, NOW, EVIL)
    bodies = [
        pages.devices_body([row(EVIL, "switch", EVIL)], [EVIL], NOW),
        scenario_pages.scenarios_body([scenario], EVIL, NOW),
        scenario_pages.scenario_body(
            ScenarioDetail(scenario, EVIL, [EVIL], EVIL), EVIL, NOW
        ),
        html.page(EVIL, "", csrf=EVIL, active="/", host=EVIL),
        html.login_page(EVIL, EVIL),
    ]
    assert [("<script>" in body, "&lt;script&gt;" in body) for body in bodies] == [
        (False, True)
    ] * 5


def test_the_login_page_says_how_to_make_a_token_for_any_data_dir() -> None:
    """`raspy web-token` alone writes var/raspy of the folder it runs in: right
    for make run in the clone, a token nobody reads for the service."""
    assert (
        "<code>raspy web-token --data-dir DIR</code>, DIR raspyd's data dir"
        in html.login_page("c")
    )


def test_a_scenario_card_says_when_and_why_its_last_trigger_started_no_run() -> None:
    plain = ScenarioRow("s", "", True, "idle", None, 0, "")
    skipped = replace(plain, last_skip_at=NOW - 60, last_skip_reason="condition 1")
    assert "Last skipped" not in scenario_pages.scenarios_body([plain], "c", NOW)
    assert (
        "<dt>Last skipped</dt><dd><time>07:59:00</time> condition 1</dd>"
        in scenario_pages.scenarios_body([skipped], "c", NOW)
    )


def test_the_device_page_links_the_ranges_and_marks_the_chosen_one() -> None:
    body = pages.device_body(row(), pages.Graph("7d"), NOW)
    ranges = body[body.index('<nav class="ranges"') : body.index("</nav>") + 6]
    assert ranges == (
        '<nav class="ranges" aria-label="range">'
        '<a href="/device/h.fake.lamp?range=1h">1h</a>'
        '<a href="/device/h.fake.lamp?range=24h">24h</a>'
        '<a href="/device/h.fake.lamp?range=7d" aria-current="page">7d</a>'
        '<a href="/device/h.fake.lamp?range=1y">1y</a></nav>'
    )


def test_a_device_without_history_says_why() -> None:
    body = pages.device_body(row(), pages.Graph("24h", problem="History is off."), NOW)
    figure = body[body.index("<figure") : body.index("</figure>") + 9]
    assert figure == (
        '<figure class="chart">'
        '<p class="notice" role="status">History is off.</p></figure>'
    )


def test_the_graph_is_a_picture_of_the_chart_no_wider_than_it_is_shown() -> None:
    """At 400 px on a 390 px phone (348 px shown) the chart's 11 px labels were
    9.6 px: each width is fetched only where the page shows it whole."""
    body = pages.device_body(row(), pages.Graph("7d", unit="°C"), NOW)
    figure = body[body.index("<figure") : body.index("</figure>") + 9]

    def href(width: int) -> str:
        return (
            f"/device/h.fake.lamp/chart.svg?range=7d&amp;width={width}&amp;"
            "unit=%C2%B0C&amp;kind=switch"
        )

    assert figure == (
        '<figure class="chart"><picture>'
        f'<source media="(min-width: 842px)" srcset="{href(800)}">'
        f'<source media="(min-width: 642px)" srcset="{href(600)}">'
        f'<source media="(min-width: 442px)" srcset="{href(400)}">'
        f'<img src="{href(340)}" alt="history of lamp" width="340" height="250">'
        "</picture></figure>"
    )


def test_a_time_beyond_the_calendar_says_so_rather_than_failing() -> None:
    """Any Clone client may write a device's timestamp: 1e20 raised OverflowError,
    a 500 for the whole devices page."""
    assert [html.show_time(t, NOW) for t in (1e20, -1e20, 1e12)] == ["out of range"] * 3


def test_a_dimmer_at_a_level_that_is_no_finite_number_sits_at_zero() -> None:
    levels = [float("inf"), float("nan"), 10**400, "50", None, 99.6]
    assert [pages._level(level) for level in levels] == [0, 0, 0, 0, 0, 100]


@given(st.text(max_size=60))
def test_any_status_is_one_css_class_of_safe_characters(status: str) -> None:
    """A status is any text a remote board writes: `ok login` gave the card two
    classes, one of them chosen by the board."""
    css_class = pages.status_class(status)
    assert css_class.startswith("status-")
    assert all(c in "abcdefghijklmnopqrstuvwxyz0123456789_-" for c in css_class)


def test_a_status_with_spaces_is_one_class_on_the_device_card() -> None:
    odd = DeviceRow(
        "h.fake", "lamp", "h.fake.lamp", "switch", True, "", "ok login", NOW, False
    )
    item = pages.devices_body([odd], [], NOW)
    assert 'class="device status-ok-login"' in item


def test_a_scenario_card_links_its_page_whose_buttons_come_back_to_it() -> None:
    row = ScenarioRow("hall light", "", True, "idle", None, 0, "")
    listed = scenario_pages.scenarios_body([row], "c", NOW)
    own = scenario_pages.scenario_body(
        ScenarioDetail(row, "single", [], "name: x\n"), "c", NOW
    )
    assert '<a href="/scenarios/hall%20light">hall light</a>' in listed
    assert 'action="/scenarios/hall%20light/run"' in listed
    assert "<a href" not in own
    assert 'action="/scenarios/hall%20light/run?back=page"' in own
    assert "No run has ended since raspyd started." in own


def test_a_disabled_scenario_s_run_cannot_be_pressed_and_says_why() -> None:
    """A disabled scenario offered Run, which the core refused as "failed: run
    hall-sunset: vm.core.scenario: scenario hall-sunset is disabled"."""
    off = ScenarioRow("hall-sunset", "", False, "disabled", None, 0, "")
    listed = scenario_pages.scenarios_body([off], "c", NOW)
    own = scenario_pages.scenario_body(
        ScenarioDetail(off, "single", [], "name: x\n"), "c", NOW
    )
    for body in (listed, own):
        assert '/run"' not in body
        assert "/run?" not in body
        assert (
            '<button type="button" disabled>Run</button> '
            '<span class="why">Enable it to run it.</span>'
        ) in body
        assert "/enable" in body


def test_a_scenario_button_s_outcome_is_a_sentence_without_the_service() -> None:
    from raspy.actors.web.scenarios import outcome, refusal

    name = "hall-sunset"
    assert outcome("run", name, {"name": name, "state": "running"}) == (
        "hall-sunset started",
        False,
    )
    assert outcome("run", name, {"done": True}) == ("hall-sunset done", False)
    assert outcome("run", name, {"failed": "'+' needs a number"}) == (
        "hall-sunset failed: '+' needs a number",
        True,
    )
    assert outcome("run", name, {"not_started": "a run is under way (mode single)"})[
        0
    ] == ("hall-sunset did not start: a run is under way (mode single)")
    assert outcome("run", name, {"queued": 2}) == (
        "hall-sunset queued (2 waiting)",
        False,
    )
    assert outcome("disable", name, {"state": "disabled"}) == (
        "hall-sunset disabled",
        False,
    )
    assert outcome("enable", name, {"state": "idle"}) == ("hall-sunset enabled", False)
    assert outcome("enable", name, {"not_running": "line 3: bad"}) == (
        "hall-sunset enabled, but it does not run: line 3: bad",
        True,
    )
    assert refusal("run", name, "scenario hall-sunset is disabled") == (
        "hall-sunset is disabled: enable it to run it"
    )
    assert refusal("run", name, "no scenario named 'hall-sunset'") == (
        "hall-sunset: run refused: no scenario named 'hall-sunset'"
    )


def test_a_scenario_s_page_shows_how_far_its_run_under_way_has_come() -> None:
    """A run in a wait of ten minutes showed `running` and "No run has ended":
    not what it waits for, which `raspy scenario show` prints."""
    row = ScenarioRow("hall", "", True, "running", None, 1, "")
    lines = ["+0.0s choose: choice 2", "+0.0s wait 600s <now>"]
    own = scenario_pages.scenario_body(
        ScenarioDetail(row, "single", [], "name: hall\n", lines), "c", NOW
    )
    idle = scenario_pages.scenario_body(
        ScenarioDetail(row, "single", [], "name: x\n"), "c", NOW
    )
    assert (
        "<h2>Run under way</h2>"
        '<pre class="trace">+0.0s choose: choice 2\n+0.0s wait 600s &lt;now&gt;</pre>'
    ) in own
    assert own.index("Run under way") < own.index("Last run did")
    assert "Run under way" not in idle


def test_a_scenario_state_with_spaces_is_one_class_on_its_card() -> None:
    """As a device's status: the state is any text a tree client writes."""
    row = ScenarioRow("hall", "", True, 'Odd "state"', None, 0, "")
    assert '<span class="state state-odd--state-" ' in scenario_pages.scenarios_body(
        [row], "c", NOW
    )


def test_a_number_control_holding_no_number_shows_no_unit_and_an_empty_field() -> None:
    """A setpoint written as "warm" read "warm °C", and "warm" went into its
    number field."""
    setpoint = Control("/s", "Setpoint", "number", 15, 25, 0.5, "°C")
    warm = controls_section([setpoint], {"/s": "warm"}, "c")
    fine = controls_section([setpoint], {"/s": 21.5}, "c")
    assert '<span class="unit" hidden>°C</span>' in warm
    assert 'name="value" value=""' in warm
    assert '<span class="unit">°C</span>' in fine
    assert 'name="value" value="21.5"' in fine


def test_seconds_in_the_statistics_read_as_a_duration() -> None:
    """The Titanic page showed "uptime_s gauge 281.513"."""
    from raspy.web.models import StatRow

    rows = [
        StatRow("state", "string", "running"),
        StatRow("uptime_s", "gauge", "281.513"),
        StatRow("requests", "counter32", "7"),
    ]
    body = service_pages.titanic_body(
        [], 0, service_pages.PartStats("vm.titanic", rows), NOW
    )
    assert (
        '<summary>vm.titanic <span class="state state-running">running</span>'
        " up 4 min 41 s</summary>"
    ) in body
    assert '<td><span title="281.513 s">4 min 41 s</span></td>' in body
    assert "<td>7</td>" in body
    assert [
        elapsed_text(s) for s in (0, 41.9, 3600 * 3 + 720, 86400 * 2 + 4 * 3600)
    ] == [
        "0 s",
        "41 s",
        "3 h 12 min",
        "2 d 4 h",
    ]


def test_a_time_in_the_repeated_hour_of_an_autumn_night_says_its_offset() -> None:
    """01:30 EDT, then 01:30 EST an hour later in New York: the two looked the
    same on the web face (the CLI showed their offsets). Every other time, the
    hours around them too, shows as before."""
    new_york = ZoneInfo("America/New_York")
    first = 1_793_511_000.0  # 2026-11-01 05:30 UTC, 01:30 EDT
    day = first  # the page shown that day: no date
    assert [
        html.show_time(first, day, new_york),
        html.show_time(first + 3600, day, new_york),
        html.show_time(first - 3600, day, new_york),
        html.show_time(first + 7200, day, new_york),
        html.show_time(first, day - 86_400, new_york),
    ] == [
        "01:30:00 UTC-4",
        "01:30:00 UTC-5",
        "00:30:00",
        "02:30:00",
        "2026-11-01 01:30 UTC-4",
    ]
    lord_howe = ZoneInfo("Australia/Lord_Howe")  # a half-hour change: 01:45 twice
    april = 1_775_313_900.0  # 2026-04-05 01:45 +11:00
    assert html.show_time(april, april, lord_howe) == "01:45:00 UTC+11"
    assert html.show_time(april + 1800, april, lord_howe) == "01:45:00 UTC+10:30"
    assert html.show_time(april, april) == "14:45:00"  # UTC repeats no hour
