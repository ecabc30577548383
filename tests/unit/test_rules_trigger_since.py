"""`trigger.since`: when a `kv` trigger's `for:` hold began (epoch seconds), so that a
message can say "warm since 14:02" (docs/scenarios.md "Triggers"); null for any
other trigger."""

from __future__ import annotations

from support.scenario_engine import START_WALL, harness, scenario, sets

from raspy.devices.template import JsonValue
from raspy.rules import engine
from raspy.rules import model as m
from raspy.rules.expr import compile_expression

LIVING = "/device/hub.fake.living/value"
# the harness's zone is UTC: START_WALL is 2023-11-14 22:13:20
MARK = m.SetAction("/scenario/test/mark", "{trigger.since} {trigger.since:%H:%M:%S}")


def _kv(**fields: object) -> m.KvTrigger:
    return m.KvTrigger(pattern="/device/*.fake.living/value", **fields)  # type: ignore[arg-type]  # test shorthand


def _marks(outputs: list[engine.Output]) -> list[JsonValue]:
    return [out.value for out in sets(outputs)]


def test_a_for_trigger_tells_when_its_hold_began_and_a_later_reading_keeps_it() -> None:
    h = harness(scenario([MARK], [_kv(below=19.5, for_s=600)]))
    h.advance(60)
    h.change(LIVING, 19.0)  # the hold begins: 22:14:20
    h.advance(300)
    h.change(LIVING, 18.5)  # still holding: the same hold
    assert _marks(h.advance(300)) == [f"{START_WALL + 60} 22:14:20"]
    assert h.core.status.last_trigger == {
        "kind": "kv",
        "id": "",
        "key": LIVING,
        "value": 18.5,
        "from": None,
        "since": START_WALL + 60,
    }


def test_a_hold_broken_and_held_again_tells_when_it_held_again() -> None:
    h = harness(scenario([MARK], [_kv(below=19.5, for_s=600)]))
    h.change(LIVING, 19.0)
    h.advance(120)
    h.change(LIVING, 20.0)  # broken
    h.advance(30)
    h.change(LIVING, 19.0)  # held again: 22:15:50
    assert _marks(h.advance(600)) == [f"{START_WALL + 150} 22:15:50"]


def test_a_hold_a_null_broke_tells_when_the_value_came_back() -> None:
    """The gap breaks the hold, and a value back that keeps the test holds again
    from then, for the whole time: since is when it came back."""
    h = harness(scenario([MARK], [_kv(to="open", has_to=True, for_s=600)]))
    h.change(LIVING, "open")
    h.advance(300)
    h.no_value(LIVING)
    h.advance(60)
    h.change(LIVING, "open")  # back at 22:19:20
    assert _marks(h.advance(600)) == [f"{START_WALL + 360} 22:19:20"]


def test_a_hold_taken_up_at_startup_tells_the_start() -> None:
    """The tree's value already met the test when the daemon started: the change
    into it came before the stop and its time is lost, so the hold (and its
    since) begins at the start, the whole duration before it fires."""
    h = harness(scenario([MARK], [_kv(below=19.5, for_s=600)]))
    h.advance(45)
    h.feed(h.core.on_startup(h.mono, h.wall, [(LIVING, 18.0)]))
    assert _marks(h.advance(600)) == [f"{START_WALL + 45} 22:14:05"]


def test_since_is_null_for_any_trigger_but_a_for_hold() -> None:
    kinds = m.SetAction("/scenario/test/mark", "{trigger.kind} {trigger.since:%H}")
    h = harness(scenario([kinds], [_kv(below=19.5)]))
    assert _marks(h.change(LIVING, 19.0)) == ["kv null"]
    assert h.core.status.last_trigger is not None
    assert "since" not in h.core.status.last_trigger
    assert _marks(h.run_now()) == ["manual null"]


def test_an_expression_reads_since_and_writes_it_with_time_text() -> None:
    told = m.SetAction(
        "/scenario/test/mark",
        None,
        expr=compile_expression(
            "'warm since ' + time_text(trigger.since, '%H:%M')"
            " if trigger.since != null else 'warm'"
        ),
    )
    h = harness(scenario([told], [_kv(above=-12, for_s=600), _kv(above=30)]))
    h.change(LIVING, -11.0)
    assert _marks(h.advance(600)) == ["warm since 22:13"]
    assert _marks(h.change(LIVING, 31.0)) == ["warm"]


def test_since_follows_the_clock_set_right_while_the_hold_ran() -> None:
    """A Pi without a clock chip boots on the time it stopped; NTP sets it right
    (here 9 hours on) while the hold runs: `since` is the hold's start on the clock
    as it is now, not the wrong time the clock said then."""
    h = harness(scenario([MARK], [_kv(below=19.5, for_s=600)]))
    h.change(LIVING, 19.0)  # the hold begins, the clock 9 hours behind
    h.advance(100)
    h.wall += 9 * 3600.0  # NTP's step
    assert _marks(h.advance(500)) == [f"{START_WALL + 9 * 3600.0} 07:13:20"]
