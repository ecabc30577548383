"""Service replies as the web pages' rows (raspy.web.models): parsed or ReplyError."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from raspy.web import models
from raspy.web.models import (
    DeviceRow,
    ReplyError,
    ScenarioDetail,
    ScenarioRow,
    StatRow,
    WorkerCount,
)

LAMP = {
    "name": "lamp",
    "fullname": "h.fake.lamp",
    "oid": "switch",
    "parent": None,
    "config": {"name": "lamp", "oid": "switch", "log": True},
    "reading": {
        "value": True,
        "unit": "",
        "status": "ok",
        "wall_ts": 5.0,
        "detail": "",
    },
    "errors": 0,
}


def reply(value: object, status: bytes = b"200") -> list[bytes]:
    return [status, json.dumps(value).encode()]


def test_a_device_list_becomes_rows_sorted_by_name() -> None:
    fresh = {
        **LAMP,
        "name": "attic",
        "fullname": "h.fake.attic",
        "reading": None,
        "config": {},
    }
    assert models.devices("h.fake", reply({"devices": [LAMP, fresh]})) == [
        DeviceRow(
            "h.fake",
            "attic",
            "h.fake.attic",
            "switch",
            None,
            "",
            "unknown",
            None,
            False,
        ),
        DeviceRow("h.fake", "lamp", "h.fake.lamp", "switch", True, "", "ok", 5.0, True),
    ]


def test_a_renamed_device_is_shown_and_sorted_by_its_friendly_name() -> None:
    """A rename over MDP (`config` friendly_name) reached Home Assistant while the
    web face went on calling the device by its config name."""
    config = {"name": "lamp", "oid": "switch", "friendly_name": "Attic lamp"}
    renamed = {**LAMP, "config": config}
    bath = {**LAMP, "name": "bath", "fullname": "h.fake.bath"}
    rows = models.devices("h.fake", reply({"devices": [bath, renamed]}))
    assert [(r.name, r.friendly_name, r.label) for r in rows] == [
        ("lamp", "Attic lamp", "Attic lamp"),  # `attic` sorts before `bath`
        ("bath", "", "bath"),
    ]


def test_a_refusal_names_the_service_and_its_detail() -> None:
    with pytest.raises(ReplyError, match=r".") as caught:
        models.devices("h.fake", reply({"error": "x", "detail": "boom"}, b"500"))
    assert str(caught.value) == "h.fake.devices: answered '500': 'boom'"


def test_scenarios_workers_services_and_statistics_parse() -> None:
    scenario = {
        "name": "s",
        "description": "d",
        "enabled": True,
        "state": "idle",
        "mode": "single",
        "last_run": None,
        "last_trigger": None,
        "runs": 2,
        "last_error": None,
        "last_skip": {"at": 5.0, "reason": "condition 1 is false: x", "trigger": {}},
    }
    assert (
        models.scenarios(reply([scenario])),
        models.workers(reply({"h.echo": {"busy": 1, "idle": 2, "versions": {}}})),
        models.service_names([b"200", b"h.fake.devices"]),
        models.statistics(
            "h.edge", reply({"requests": {"type": "counter", "value": 3}})
        ),
    ) == (
        [
            ScenarioRow(
                "s", "d", True, "idle", None, 2, "", 5.0, "condition 1 is false: x"
            )
        ],
        [WorkerCount("h.echo", 2, 1)],
        ["h.fake.devices"],
        [StatRow("requests", "counter", "3")],
    )


def test_a_scenario_s_get_reply_parses_and_a_bad_trace_line_is_left_out() -> None:
    got = {
        "name": "s",
        "description": "",
        "enabled": False,
        "state": "disabled",
        "mode": "queued",
        "runs": 1,
        "last_trace": ["+0.0s set /x = 1", 7, None, "+0.0s done"],
        "document": "name: s\n",
    }
    assert models.scenario_detail(reply(got)) == ScenarioDetail(
        ScenarioRow("s", "", False, "disabled", None, 1, ""),
        "queued",
        ["+0.0s set /x = 1", "+0.0s done"],
        "name: s\n",
    )
    with pytest.raises(ReplyError, match="expected scenario objects with a name"):
        models.scenario_detail(reply(["s"]))


def test_a_scenario_s_get_reply_carries_the_run_under_way() -> None:
    """`raspy scenario show` printed `run under way:`; the page did not read it."""
    got = {
        "name": "s",
        "state": "running",
        "mode": "single",
        "last_trace": [],
        "run_trace": ["+0.0s resumed after a restart: wait 554.2s left of 600s", 3],
        "document": "name: s\n",
    }
    detail = models.scenario_detail(reply(got))
    assert (detail.trace, detail.run_trace) == (
        [],
        ["+0.0s resumed after a restart: wait 554.2s left of 600s"],
    )


def test_history_points_parse_and_bad_points_are_refused() -> None:
    good = {
        "v": 1,
        "key": "/device/h.f.a/value",
        "tier": "raw",
        "points": [[1, 2, 2, 2]],
    }
    assert models.history(reply(good)) == models.History(
        "/device/h.f.a/value", "raw", [(1.0, 2.0, 2.0, 2.0)]
    )
    with pytest.raises(ReplyError, match="expected \\[t, avg, min, max\\] points"):
        models.history(reply({**good, "points": [[1, 2, "x", 2]]}))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=6),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=20,
)
frames = st.lists(st.binary(max_size=40), max_size=3) | st.tuples(
    st.sampled_from([b"200", b"404"]), json_values.map(lambda v: json.dumps(v).encode())
).map(list)


def _parse_every_way(reply_frames: list[bytes]) -> None:
    """Every model of a reply: each parses it or raises ReplyError."""
    for parse in (
        lambda f: models.devices("h.f", f),
        models.scenarios,
        models.scenario_detail,
        models.workers,
        models.service_names,
        lambda f: models.statistics("h.x", f),
        models.history,
    ):
        try:
            parse(reply_frames)
        except ReplyError:
            continue


@given(frames)
def test_any_reply_parses_or_raises_reply_error(reply_frames: list[bytes]) -> None:
    _parse_every_way(reply_frames)


def test_unserved_rows_come_from_the_tree_for_services_no_worker_serves() -> None:
    tree: dict[str, object] = {
        "/device/pi.fake.attic/value": 20.5,  # served: its service lists it
        "/device/board.fake.cellar/value": None,
        "/device/board.fake.cellar/unit": "%",
        "/device/board.fake.cellar/status": "offline",
        "/device/board.fake.cellar/timestamp": 1e9,
        "/device/board.fake.tv.volume/value": 3,
        "/device/board.fake.tv.volume/status": ["not", "text"],
        "/scenario/x/state": "idle",
        "/device/no-dots/value": 1,
    }
    rows = models.unserved_rows(tree, {"pi.fake.devices"})
    assert rows == [
        DeviceRow(
            "board.fake",
            "cellar",
            "board.fake.cellar",
            "",
            None,
            "%",
            "offline",
            1e9,
            False,
        ),
        DeviceRow(
            "board.fake",
            "tv.volume",
            "board.fake.tv.volume",
            "",
            3,
            "",
            "unknown",
            None,
            False,
        ),
    ]
    assert models.unserved_rows(tree, {"pi.fake.devices", "board.fake.devices"}) == []


@given(st.dictionaries(st.text(max_size=40), st.none() | st.floats() | st.text()))
def test_unserved_rows_take_any_tree(tree: dict[str, object]) -> None:
    for row in models.unserved_rows(tree, set()):
        assert row.key.startswith("/device/")
        assert row.oid == ""


# the names the models read, so that generated replies reach past the first check
_REPLY_NAMES = st.sampled_from(
    ["at", "busy", "config", "description", "detail", "devices", "document",
     "enabled", "error", "friendly_name", "fullname", "idle", "key", "last_error",
     "last_run", "last_skip", "last_trace", "log", "mode", "name", "oid", "points",
     "reading", "reason", "runs", "scenarios", "services", "state", "status", "tier",
     "timestamp", "type", "unit", "value", "wall_ts", "workers"]
)  # fmt: skip
_REPLY_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=6)
    | _REPLY_NAMES,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(_REPLY_NAMES, inner, max_size=6)
    ),
    max_leaves=30,
)


@given(_REPLY_VALUES.map(lambda value: [b"200", json.dumps(value).encode()]))
def test_any_reply_made_of_the_names_read_parses_or_raises_reply_error(
    reply_frames: list[bytes],
) -> None:
    """Replies shaped like the real ones, with any value in any place: a model for
    the page, or a ReplyError the page shows; never another exception."""
    _parse_every_way(reply_frames)


def test_a_whole_float_statistic_is_its_digits_and_a_fraction_six_places() -> None:
    """As `get` gives a whole gauge (`map_size` 104857600, not `1.04858e+08`)."""
    body = json.dumps(
        {
            "map_size": {"type": "gauge", "value": 104857600.0},
            "ratio": {"type": "gauge", "value": 0.123456789},
        }
    ).encode()
    rows = models.statistics("h.store", [b"200", body])
    assert [(row.name, row.value) for row in rows] == [
        ("map_size", "104857600"),
        ("ratio", "0.123457"),
    ]
