"""Per-service statistics and status replies (raspy.service_stats): SNMP-like values,
Counter32 wrap, the `.statistics` and `.mmi` request formats, the /stats/ tree keys."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from raspy import service_stats as ss
from raspy.cores.supervision import PartState, PartStatus

RUNNING = PartStatus("titanic", PartState.RUNNING, restarts=2, since=10.0)
FAILED = PartStatus("bus", PartState.FAILED, 5, 20.0, reason="lost the bus")


def _snapshot(**counters: int) -> ss.Snapshot:
    return ss.Snapshot(
        statuses=(RUNNING, FAILED),
        counters={k.replace("__", "."): v for k, v in counters.items()},
        gauges={"titanic.pending": 3.5},
        now=12.5,
    )


def test_a_counter_wraps_at_2_to_the_32_as_snmp_counter32() -> None:
    assert ss.counter32(2**32 - 1).value == 4294967295
    assert ss.counter32(2**32).value == 0
    assert ss.counter32(2**32 + 7).value == 7


@given(st.integers(min_value=0, max_value=2**70))
def test_a_counter_is_always_a_32_bit_value_congruent_to_the_count(count: int) -> None:
    value = ss.counter32(count).value
    assert isinstance(value, int)
    assert 0 <= value < 2**32
    assert (count - value) % 2**32 == 0


def test_a_part_has_its_supervision_values_and_its_own_counters() -> None:
    values = ss.service_values(
        _snapshot(titanic__dispatched=2**32 + 1, clone__published=9), "titanic"
    )
    assert values == {
        "dispatched": ss.counter32(1),
        "pending": ss.gauge(3.5),
        "reason": ss.string(""),
        "restarts": ss.counter32(2),
        "state": ss.string("running"),
        "uptime_s": ss.gauge(2.5),
    }


def test_the_edge_has_the_broker_counters_with_its_gauges() -> None:
    snapshot = ss.Snapshot(
        (PartStatus("edge", PartState.RUNNING, 0, 0.0),),
        {"broker.requests": 4, "broker.workers": 2, "edge.send_dropped": 1},
        {},
        1.0,
    )
    values = ss.service_values(snapshot, "edge")
    assert values["requests"] == ss.counter32(4)
    assert values["workers"] == ss.gauge(2)
    assert values["send_dropped"] == ss.counter32(1)


def test_statistics_requests_list_get_and_all() -> None:
    values = ss.service_values(_snapshot(titanic__dispatched=7), "titanic")
    assert ss.statistics_reply(values, [b"list_keys"]) == [
        b"200",
        b"dispatched",
        b"pending",
        b"reason",
        b"restarts",
        b"state",
        b"uptime_s",
    ]
    assert ss.statistics_reply(values, [b"get", b"dispatched"]) == [
        b"200",
        b"counter",
        b"7",
    ]
    assert ss.statistics_reply(values, [b"get", b"pending"])[1:] == [b"gauge", b"3.5"]
    assert ss.statistics_reply(values, [b"get", b"nope"]) == [
        b"404",
        b"no statistic named nope",
    ]
    code, document = ss.statistics_reply(values, [b"all"])
    assert code == b"200"
    assert json.loads(document)["state"] == {"type": "string", "value": "running"}
    assert ss.statistics_reply(values, [])[0] == b"200"
    assert ss.statistics_reply(values, [b"get"])[0] == b"400"


def test_mmi_status_is_200_running_or_500_with_the_state_and_reason() -> None:
    assert ss.mmi_reply(RUNNING, [b"status"]) == [b"200", b"running"]
    assert ss.mmi_reply(FAILED, [b"status"]) == [b"500", b"failed", b"lost the bus"]
    assert ss.mmi_reply(RUNNING, [b"reboot"]) == [b"400", b"expected status"]


def test_tree_entries_are_stats_host_service_name() -> None:
    entries = ss.tree_entries(
        "pi", {"titanic": {"state": ss.string("running"), "n": ss.counter32(3)}}
    )
    assert entries == [
        (b"/stats/pi/titanic/state", b"running"),
        (b"/stats/pi/titanic/n", b"3"),
    ]


@given(st.lists(st.binary(max_size=20), max_size=4))
def test_any_request_body_gets_a_status_reply(body: list[bytes]) -> None:
    values = ss.service_values(_snapshot(), "titanic")
    assert ss.statistics_reply(values, body)[0] in (b"200", b"400", b"404")
    assert ss.mmi_reply(RUNNING, body)[0] in (b"200", b"400")


def test_the_part_of_a_stats_key() -> None:
    """Which part a /stats/ key belongs to: the statistics actor deletes the keys of
    parts gone, and must leave the clock health's and other hosts' alone."""
    assert ss.part_of_key("pi", b"/stats/pi/titanic/state") == "titanic"
    assert ss.part_of_key("pi", b"/stats/pi/devices.fake/polls") == "devices.fake"
    assert ss.part_of_key("pi", b"/stats/pi/clock/state") is None
    assert ss.part_of_key("pi", b"/stats/pi2/titanic/state") is None
    assert ss.part_of_key("pi", b"/stats/pi/titanic") is None
    assert ss.part_of_key("pi", b"/stats/pi//state") is None
    assert ss.part_of_key("pi", b"/device/pi/titanic/state") is None


@given(st.binary(max_size=40))
def test_any_key_has_a_part_or_none(key: bytes) -> None:
    """Any bytes a Clone client wrote: a part (never empty, never the clock's) or
    None, and no exception (a key that is not UTF-8 included)."""
    part = ss.part_of_key("pi", key)
    assert part is None or (key.startswith(b"/stats/pi/") and part not in ("", "clock"))


def test_a_part_s_keys_go_once_it_is_missing_at_two_publications_in_a_row() -> None:
    """A part gone (a section turned off) must not say `running` for good; a part
    missing at one publication only (device services started again with a new Clone
    server) keeps its keys; the clock's and unknown shapes are never deleted."""
    published = [
        b"/stats/pi/titanic/state",
        b"/stats/pi/devices.fake/state",
        b"/stats/pi/devices.fake/polls",
        b"/stats/pi/clock/state",
        b"/stats/pi2/mqtt/state",
    ]
    gone, missing = ss.keys_gone("pi", published, {"titanic"}, frozenset())
    assert (gone, missing) == ([], frozenset({"devices.fake"}))
    # back at the next one: nothing goes, and the count starts again
    gone, missing = ss.keys_gone("pi", published, {"titanic", "devices.fake"}, missing)
    assert (gone, missing) == ([], frozenset())
    gone, missing = ss.keys_gone("pi", published, {"titanic"}, missing)
    assert gone == []
    gone, missing = ss.keys_gone("pi", published, {"titanic"}, missing)
    assert gone == [b"/stats/pi/devices.fake/state", b"/stats/pi/devices.fake/polls"]


def test_a_whole_gauge_is_its_digits_not_six_significant_ones() -> None:
    """`get` and the /stats/ tree give the value as text: a part up for 14 days
    whose uptime_s rounded to a whole second read `1.23457e+06`, a map of 16 MiB as
    a float `1.67772e+07`: seconds and bytes lost in the text."""
    assert ss.gauge(1234567.0).text() == "1234567"
    assert ss.gauge(16777216.0).text() == "16777216"
    assert ss.gauge(1e6).text() == "1000000"
    assert ss.gauge(-5.0).text() == "-5"
    assert ss.gauge(0.0).text() == "0"
    assert ss.gauge(1234567.891).text() == "1234567.891"


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_a_gauge_s_text_reads_back_as_its_value(value: float) -> None:
    assert float(ss.gauge(value).text()) == value
