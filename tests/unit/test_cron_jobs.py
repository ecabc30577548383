"""The `<host>.core.cron` request handler and the cron job record (issue 11: "lists,
adds, deletes, enables and disables plain cron jobs ... stored in the cron table").
Pure: no sockets, no store."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from raspy import packing
from raspy.rules import cron_jobs
from raspy.rules.cron_jobs import CronJob, Deleted, Handled, Saved
from raspy.rules.model import CronTrigger
from raspy.rules.timing_scheduler import PastFire, TimeScheduler

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC).timestamp()  # 14:00 in Berlin
WAKE = CronJob("wake", "0 7 * * 1-5", True, "weekday mornings")
QUIET = CronJob("quiet", "@daily", False, "")
JOBS = {"wake": WAKE, "quiet": QUIET}


def _ask(
    jobs: dict[str, CronJob] | None = None, **request: Any
) -> tuple[bytes, dict[str, Any], Handled]:
    body = json.dumps({"v": 1, **request}).encode()
    handled = cron_jobs.handle(JOBS if jobs is None else jobs, [body], BERLIN, _HELD)
    scheduler = TimeScheduler(BERLIN)  # as the actor schedules a job saved
    for effect in handled.effects:
        if isinstance(effect, Saved) and effect.job.enabled:
            scheduler.add(effect.job.name, CronTrigger(effect.job.schedule), NOW, 0.0)
    status, reply = cron_jobs.answer(handled, BERLIN, scheduler.next_wall)
    return status, json.loads(reply), handled


# the next fire the scheduler holds for each job of JOBS
_HELD = {"wake": datetime(2026, 6, 2, 5, 0, tzinfo=UTC).timestamp()}.get


WAKE_SHOWN = {
    "name": "wake",
    "schedule": "0 7 * * 1-5",
    "enabled": True,
    "description": "weekday mornings",
    "next": "2026-06-02T07:00:00+02:00",  # 1 June 2026 is a Monday, past 07:00
}


def test_list_shows_every_job_sorted_with_its_next_fire() -> None:
    status, reply, handled = _ask(action="list")
    assert (status, handled.effects) == (b"200", ())
    assert reply == {
        "v": 1,
        "action": "list",
        "jobs": [
            {
                "name": "quiet",
                "schedule": "@daily",
                "enabled": False,
                "description": "",
                "next": None,
            },
            WAKE_SHOWN,
        ],
    }


def test_get_shows_one_job() -> None:
    assert _ask(action="get", name="wake")[:2] == (
        b"200",
        {"v": 1, "action": "get", "job": WAKE_SHOWN},
    )


def test_add_checks_the_schedule_and_saves_the_job_normalised() -> None:
    status, reply, handled = _ask(
        action="add", name="tv-off", schedule=" 0  23 * * *", description="TV off"
    )
    job = CronJob("tv-off", "0 23 * * *", True, "TV off")
    assert handled.effects == (Saved(job),)
    assert (status, reply["job"]["next"]) == (b"200", "2026-06-01T23:00:00+02:00")


def test_add_may_create_a_job_disabled() -> None:
    _, reply, handled = _ask(
        action="add", name="later", schedule="@hourly", enabled=False
    )
    assert handled.effects == (Saved(CronJob("later", "@hourly", False, "")),)
    assert reply["job"]["next"] is None


def test_add_refuses_an_existing_name_unless_replace() -> None:
    status, reply, handled = _ask(action="add", name="wake", schedule="0 8 * * *")
    assert (status, reply["error"], handled.effects) == (b"400", "job_exists", ())
    _, _, replaced = _ask(action="add", name="wake", schedule="0 8 * * *", replace=True)
    assert replaced.effects == (Saved(CronJob("wake", "0 8 * * *", True, "")),)


@pytest.mark.parametrize(
    ("action", "saved"),
    [("enable", CronJob("quiet", "@daily", True, "")), ("disable", QUIET)],
)
def test_enable_and_disable_save_the_flag(action: str, saved: CronJob) -> None:
    status, _, handled = _ask(action=action, name="quiet")
    assert (status, handled.effects) == (b"200", (Saved(saved),))


def test_delete_removes_the_job() -> None:
    assert _ask(action="delete", name="wake")[:2] == (
        b"200",
        {"v": 1, "action": "delete", "deleted": "wake"},
    )
    assert _ask(action="delete", name="wake")[2].effects == (Deleted("wake"),)


@pytest.mark.parametrize("action", ["get", "delete", "enable", "disable"])
def test_an_unknown_job_is_404(action: str) -> None:
    status, reply, handled = _ask(action=action, name="nope")
    assert (status, handled.effects) == (b"404", ())
    assert reply == {
        "v": 1,
        "action": action,
        "error": "unknown_job",
        "detail": "'nope'",
    }


@pytest.mark.parametrize(
    ("request_fields", "status", "token", "detail"),
    [
        ({"action": "fly"}, b"501", "unknown_action", "'fly'"),
        (
            {"action": "add", "schedule": "@daily"},
            b"400",
            "missing_name",
            "name: required",
        ),
        (
            {"action": "add", "name": "Bad Name", "schedule": "@daily"},
            b"400",
            "bad_name",
            'name: expected [a-z0-9_-]{1,64}, got "Bad Name"',
        ),
        (
            {"action": "add", "name": "x"},
            b"400",
            "missing_schedule",
            "schedule: required",
        ),
        (
            {"action": "add", "name": "x", "schedule": "0 7 * *"},
            b"400",
            "bad_schedule",
            "cron '0 7 * *': expected 5 fields (minute hour day month weekday), got 4",
        ),
        (
            {"action": "add", "name": "x", "schedule": 7},
            b"400",
            "bad_schedule",
            "schedule: expected a string, got 7",
        ),
        (
            {"action": "add", "name": "x", "schedule": "@daily", "enabled": "yes"},
            b"400",
            "bad_flag",
            "enabled, replace: expected true or false",
        ),
        (
            {"action": "add", "name": "x", "schedule": "@daily", "description": 5},
            b"400",
            "bad_description",
            "description: expected a string of at most 256 characters",
        ),
        ({"action": "list", "name": "x"}, b"400", "bad_request", "list takes no name"),
        (
            {"action": "get", "name": "wake", "schedule": "@daily"},
            b"400",
            "bad_request",
            "get takes no schedule",
        ),
        ({"action": "get", "colour": 1}, b"400", "unknown_field", "'colour'"),
    ],
    ids=[
        "action",
        "no_name",
        "bad_name",
        "no_schedule",
        "bad_cron",
        "schedule_type",
        "flag",
        "description",
        "list_name",
        "get_schedule",
        "unknown_field",
    ],
)
def test_bad_requests_are_refused_with_a_token_and_detail(
    request_fields: dict[str, Any], status: bytes, token: str, detail: str
) -> None:
    got_status, reply, handled = _ask(**request_fields)
    assert (got_status, handled.effects) == (status, ())
    assert reply == {
        "v": 1,
        "action": request_fields["action"],
        "error": token,
        "detail": detail,
    }


@pytest.mark.parametrize(
    ("body", "token", "detail"),
    [
        (
            [b"{"],
            "bad_json",
            "Expecting property name enclosed in double quotes: line 1 column 2 "
            "(char 1)",
        ),
        ([b"[]"], "bad_request", "expected a JSON object"),
        ([b'{"action": "list"}'], "unsupported_version", "v: expected 1, got null"),
        (
            [b'{"v": 1}'],
            "bad_request",
            "action: expected a string of at most 64 characters",
        ),
        ([b"{}", b"{}"], "bad_request", "expected 1 frame, got 2"),
        ([b'{"v": 1, "action": "list", "x": NaN}'], "bad_json", "NaN is not JSON"),
    ],
    ids=["json", "array", "version", "action", "frames", "nan"],
)
def test_malformed_bodies_are_refused(
    body: list[bytes], token: str, detail: str
) -> None:
    handled = cron_jobs.handle(JOBS, body, BERLIN, _HELD)
    status, reply = cron_jobs.answer(handled, BERLIN, _HELD)
    assert (status, handled.effects) == (b"400", ())
    assert json.loads(reply)["error"] == token
    assert json.loads(reply)["detail"] == detail


@given(st.lists(st.binary(max_size=200), max_size=3))
def test_any_body_gets_a_reply_and_never_raises(body: list[bytes]) -> None:
    handled = cron_jobs.handle(JOBS, body, BERLIN, _HELD)
    status, reply = cron_jobs.answer(handled, BERLIN, _HELD)
    assert status in (b"200", b"400", b"404", b"501")
    json.loads(reply)


@given(
    st.dictionaries(
        st.sampled_from(["v", "action", "name", "schedule", "description", "enabled"]),
        st.one_of(
            st.none(),
            st.booleans(),
            st.integers(),
            st.text(max_size=20),
            st.sampled_from(["add", "list", "get", "delete", "enable", "@daily", "1"]),
        ),
    )
)
def test_any_request_object_gets_a_reply_and_never_raises(
    request: dict[str, Any],
) -> None:
    handled = cron_jobs.handle(JOBS, [json.dumps(request).encode()], BERLIN, _HELD)
    assert cron_jobs.answer(handled, BERLIN, _HELD)[0] in (
        b"200",
        b"400",
        b"404",
        b"501",
    )


# --- the record -------------------------------------------------------------------------
def test_a_job_round_trips_through_its_store_record() -> None:
    key = cron_jobs.job_key("wake")
    assert key == b"cron.wake"
    assert cron_jobs.decode_job(key, cron_jobs.encode_job(WAKE)) == WAKE


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        (
            b"other.wake",
            {"v": 1, "schedule": "@daily", "enabled": True, "description": ""},
            "cron record 'other.wake': expected a key cron.<name>",
        ),
        (
            b"cron.wake",
            {"v": 2, "schedule": "@daily", "enabled": True, "description": ""},
            "cron record 'cron.wake': v: expected 1, got 2",
        ),
        (
            b"cron.wake",
            {"v": 1, "schedule": "@daily"},
            "cron record 'cron.wake': expected a map of description, enabled, schedule, v",
        ),
        (
            b"cron.wake",
            {"v": 1, "schedule": "* *", "enabled": True, "description": ""},
            "cron record 'cron.wake': cron '* *': expected 5 fields (minute hour day month weekday), got 2",
        ),
        (
            b"cron.wake",
            {"v": 1, "schedule": "@daily", "enabled": 1, "description": ""},
            "cron record 'cron.wake': enabled or description of the wrong type",
        ),
    ],
    ids=["key", "version", "fields", "schedule", "enabled"],
)
def test_a_bad_record_is_refused_with_what_is_wrong(
    key: bytes, value: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=r"^cron record") as caught:
        cron_jobs.decode_job(key, packing.pack(value))
    assert str(caught.value) == message


@given(
    st.one_of(st.binary(max_size=80), st.sampled_from([b"cron.a", b"cron.wake"])),
    st.one_of(
        st.binary(max_size=80),
        st.dictionaries(
            st.sampled_from(["v", "schedule", "enabled", "description", "x"]),
            st.one_of(
                st.integers(-9, 9),
                st.booleans(),
                st.text(max_size=12),
                st.just("@daily"),
            ),
        ).map(packing.pack),
    ),
)
def test_any_record_decodes_to_a_job_or_a_value_error(key: bytes, value: bytes) -> None:
    problem = ""
    try:
        job = cron_jobs.decode_job(key, value)
    except ValueError as exc:
        problem = str(exc)
    if problem:
        assert problem.startswith("cron record")
    else:
        assert cron_jobs.decode_job(cron_jobs.job_key(job.name), value) == job


def test_the_event_body_names_the_job_and_both_instants_in_local_time() -> None:
    scheduled = datetime(2026, 6, 1, 5, 0, tzinfo=UTC).timestamp()
    body = cron_jobs.event_body(WAKE, scheduled, scheduled + 0.4, BERLIN)
    assert json.loads(body) == {
        "job": "wake",
        "scheduled": "2026-06-01T07:00:00+02:00",
        "fired": "2026-06-01T07:00:00+02:00",
    }


@pytest.mark.timeout(10)
def test_a_lone_surrogate_in_a_request_is_answered_never_raised() -> None:
    """`handle` never raises: an action named with a lone surrogate (`\\ud800`, read
    from JSON) is answered, its name written back as the escape it came as."""
    handled = cron_jobs.handle({}, [b'{"v":1,"action":"x\\ud800"}'], BERLIN, _HELD)
    status, body = cron_jobs.answer(handled, BERLIN, _HELD)
    assert status != b"200"
    assert b"\\ud800" in body


def test_a_saved_job_says_the_schedulers_next_fire_not_one_counted_from_now() -> None:
    """docs: `next` is the next fire the scheduler holds. `wake` fired at 07:00,
    then the clock was set back 2 minutes: the scheduler does not fire 07:00
    again, so enabling it again says tomorrow, as a `get` after it does; counted
    from now, the handler's own answer said today's 07:00, already fired."""
    fired = datetime(2026, 6, 2, 5, 0, tzinfo=UTC).timestamp()  # 07:00 in Berlin
    now = fired - 120.0  # 06:58, after the step back
    scheduler = TimeScheduler(BERLIN)
    body = [json.dumps({"v": 1, "action": "enable", "name": "wake"}).encode()]
    jobs = {"wake": CronJob("wake", WAKE.schedule, False, WAKE.description)}
    handled = cron_jobs.handle(jobs, body, BERLIN, scheduler.next_wall)
    assert handled.reply is None  # no next said before the scheduler holds one
    (saved,) = handled.effects
    assert isinstance(saved, Saved)
    scheduler.add(
        "wake", CronTrigger(WAKE.schedule), now, 0.0, last_fire=PastFire(fired, now)
    )
    status, reply = cron_jobs.answer(handled, BERLIN, scheduler.next_wall)
    assert (status, json.loads(reply)["job"]["next"]) == (
        b"200",
        "2026-06-03T07:00:00+02:00",
    )
    jobs["wake"] = saved.job
    get = [body[0].replace(b"enable", b"get")]
    got = cron_jobs.handle(jobs, get, BERLIN, scheduler.next_wall)
    assert got.reply is not None
    assert json.loads(got.reply[1])["job"]["next"] == "2026-06-03T07:00:00+02:00"
