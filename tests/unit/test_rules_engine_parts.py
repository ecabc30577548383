"""The engine's parts on their own: the mode's answer, the runaway guard, and the
names the owner's side still finds in rules.engine."""

from __future__ import annotations

from typing import get_args

from raspy import config_doc
from raspy.devices.template import JsonValue
from raspy.rules import engine, engine_env, engine_output, model, run_book, runaway
from raspy.rules import trigger_match as tm
from raspy.rules.model import Mode
from raspy.rules.run_book import Turn, turn


def test_the_engine_still_offers_every_name_its_parts_now_hold() -> None:
    assert engine.Status is engine_output.Status
    assert engine.Checkpoint is engine_output.Checkpoint
    assert engine.Output is engine_output.Output
    assert engine.EngineSettings is engine_env.EngineSettings
    assert engine.runaway_reason is runaway.runaway_reason
    assert engine.RUNAWAY_WINDOW_S == 60.0
    for name in engine.__all__:
        assert getattr(engine, name) is not None, name


def test_the_mode_answers_a_trigger_as_home_assistant_does() -> None:
    assert turn(Mode.SINGLE, 1, 0, 0) is Turn.START
    assert turn(Mode.SINGLE, 1, 1, 0) == "a run is under way (mode single)"
    assert turn(Mode.RESTART, 1, 1, 0) is Turn.RESTART
    assert turn(Mode.QUEUED, 3, 1, 1) is Turn.QUEUE
    assert turn(Mode.QUEUED, 3, 1, 2) == "queue full (max 3)"
    assert turn(Mode.QUEUED, 3, 0, 0) is Turn.START
    assert turn(Mode.PARALLEL, 2, 1, 0) is Turn.START
    assert turn(Mode.PARALLEL, 2, 2, 0) == "2 runs going (max 2)"


def test_the_guard_counts_a_minute_of_starts_and_never_a_schedules() -> None:
    guard = runaway.RunawayGuard(2)
    kv = {"kind": "kv", "key": "/device/hub.fake.door/value"}
    assert guard.refused(kv, 0.0) is None
    assert guard.refused(kv, 1.0) is None
    for second in range(100):  # a schedule's starts are not counted
        assert guard.refused({"kind": "every"}, float(second)) is None
    assert guard.refused(kv, 2.0) == runaway.runaway_reason(2, kv)
    assert guard.refused(kv, 60.5) is None  # the start at 0.0 left the window


def test_the_guard_counts_a_run_tried_as_a_scheduled_trigger() -> None:
    """`raspy scenario run NAME --trigger ID` of a time trigger has no schedule to
    bound it: a script looping it was never stopped."""
    guard = runaway.RunawayGuard(2)
    tried: dict[str, JsonValue] = {"kind": "cron", "id": "off", "tried": True}
    assert guard.refused(tried, 0.0) is None
    assert guard.refused(tried, 1.0) is None
    assert guard.refused(tried, 2.0) == (
        "runaway: more than 2 runs in a minute; disabled at a start by cron (tried"
        " by hand) (an action that sets what triggers it loops; a reading this"
        " frequent wants a test such as above:, to: or for:, or a higher [core]"
        " max_runs_per_minute)"
    )


def test_the_limits_help_names_every_start_the_guard_counts() -> None:
    """`[core] max_runs_per_minute`'s help (configuration.md, raspyd.toml) named
    manual starts but not a run tried as a trigger (`run --trigger`), which
    counts too, even as a cron or sun trigger."""
    (core,) = [s for s in config_doc.sections() if s.name == "core"]
    (key,) = [k for k in core.keys if k.name == "max_runs_per_minute"]
    counted = [
        tm.kind_of(trigger)
        for trigger in get_args(model.Trigger)
        if tm.kind_of(trigger) not in runaway.SCHEDULED_KINDS
    ]
    assert counted == ["kv", "event", "when", "startup"]
    assert [kind for kind in counted if kind not in key.help] == []
    assert "manual" in key.help
    assert "--trigger" in key.help


def test_a_run_book_forgets_a_late_reply() -> None:
    book = run_book.RunBook(step_limit=10)
    assert book.answered(7) is None
    assert book.record() is None  # nothing waits, as the owner last heard
