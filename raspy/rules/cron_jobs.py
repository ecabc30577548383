"""Plain cron jobs and the `<host>.core.cron` request handler: pure, JSON in, effects out.

No sockets, no clock, no store: handle() takes the jobs as they are, the request body,
`now` (epoch s) and the timezone, and returns the reply `[status, json]` plus what the
owning actor must do, in order (make a change durable, then schedule it, then reply).

`<host>.core.cron`
==================

A cron job publishes `/event/cron/<name>` in the Clone tree each time its schedule
fires; the value is JSON `{"job": name, "scheduled": ISO-8601 local time with offset,
"fired": the same for when it was published}`. Schedules are five-field cron (or
`@daily`, `@hourly`, ...) in the local time of the `[core]` timezone; the DST rule of
`raspy.rules.timing` applies. Jobs live in the store's `cron` table (`cron.<name>`)
and survive restarts, enabled or disabled as they were left; a fire missed while
raspyd was down is not made up.

Request: one body frame, a UTF-8 JSON object of at most 64 KiB:

    {"v": 1, "action": "<action>", "name": "<job>", "schedule": "<cron>",
     "description": "<text>", "enabled": true|false, "replace": true|false}

Reply: `[status, json]`; 200 `{"v": 1, "action", <result>}`, otherwise
`{"v": 1, "action", "error": <token>, "detail"}` with 400 (bad request), 404
(`unknown_job`), 500 (`store_error`, said by the actor: not stored; a `detail`
that starts `it is not known whether` when the store took the change and has not
ended it, which may land, so the change is taken as done) or 501 (`unknown_action`).

    list      -> {"jobs": [job, ...]} sorted by name
    get       name -> {"job": job}
    add       name, schedule [, description, enabled (default true), replace]
              -> {"job": job}; an existing name is refused unless replace is true
    delete    name -> {"deleted": name}; its /event/cron/<name> key is deleted too
    enable    name -> {"job": job}      (also when it already was)
    disable   name -> {"job": job}

A job: {"name", "schedule", "enabled", "description", "next"}; `next` is the next fire
the scheduler holds (ISO-8601 local), in every reply, or null when it holds none
(disabled). A job saved (`add`, `enable`, `disable`) is answered once the actor has
scheduled it (answer()): before, no next of it is known. Names match [a-z0-9_-]{1,64}.

Error tokens (400): bad_json, bad_request, unsupported_version, unknown_field,
missing_name, bad_name, missing_schedule, bad_schedule, bad_description, bad_flag,
job_exists.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Final
from zoneinfo import ZoneInfo

from raspy import json_text, packing
from raspy.devices import request_body
from raspy.devices.template import JsonValue, shown
from raspy.errors import PackingError, quote
from raspy.names import NAME_PATTERN
from raspy.records import frozen
from raspy.rules.timing_local import iso_local

VERSION: Final = request_body.VERSION
MAX_REQUEST_BYTES: Final = request_body.MAX_REQUEST_BYTES
MAX_DESCRIPTION_CHARS: Final = 256
OK: Final = b"200"
BAD_REQUEST: Final = b"400"
NOT_FOUND: Final = b"404"
STORE_ERROR: Final = b"500"
UNKNOWN_ACTION: Final = b"501"
EVENT_PREFIX: Final = "/event/cron/"
KEY_PREFIX: Final = b"cron."
_NAME: Final = re.compile(NAME_PATTERN)
_KEYS: Final = frozenset(
    {"v", "action", "name", "schedule", "description", "enabled", "replace"}
)
_ACTIONS: Final = ("list", "get", "add", "delete", "enable", "disable")


@frozen
class CronJob:
    """A named schedule that publishes `/event/cron/<name>`; schedule is normalised."""

    name: str
    schedule: str
    enabled: bool = True
    description: str = ""

    @property
    def event_key(self) -> str:
        return f"{EVENT_PREFIX}{self.name}"


@frozen
class Saved:
    """Store `job` (one durable commit), then schedule it if enabled, else unschedule."""

    job: CronJob


@frozen
class Deleted:
    """Delete job `name` from the store (one durable commit), then unschedule it."""

    name: str


Effect = Saved | Deleted


@frozen
class Handled:
    """The reply frames and the effects to carry out before sending it; no reply
    (None) for a job saved, which answer() makes from the scheduler's next fire."""

    action: str | None
    reply: tuple[bytes, bytes] | None
    effects: tuple[Effect, ...] = ()


# --- the store record ---------------------------------------------------------------
def job_key(name: str) -> bytes:
    """The job's key in the store's `cron` table."""
    return KEY_PREFIX + name.encode("utf-8")


def encode_job(job: CronJob) -> bytes:
    return packing.pack(
        {
            "v": VERSION,
            "schedule": job.schedule,
            "enabled": job.enabled,
            "description": job.description,
        }
    )


def decode_job(key: bytes, data: bytes) -> CronJob:
    """The job stored under `key`; ValueError naming what is wrong with the record."""
    what = f"cron record {quote(key)}"
    name = key.removeprefix(KEY_PREFIX).decode("utf-8", "replace")
    if not key.startswith(KEY_PREFIX) or not _NAME.fullmatch(name):
        raise ValueError(f"{what}: expected a key cron.<name>")
    try:
        value = packing.unpack(data)
    except PackingError as exc:
        raise ValueError(f"{what}: {exc}") from exc
    fields = ("description", "enabled", "schedule", "v")
    if not isinstance(value, dict) or sorted(value) != list(fields):
        raise ValueError(f"{what}: expected a map of {', '.join(fields)}")
    if value["v"] != VERSION:
        raise ValueError(f"{what}: v: expected {VERSION}, got {shown(value['v'])}")
    schedule, enabled, description = (
        value["schedule"],
        value["enabled"],
        value["description"],
    )
    if not isinstance(enabled, bool) or not isinstance(description, str):
        raise ValueError(f"{what}: enabled or description of the wrong type")
    if not isinstance(schedule, str):
        raise ValueError(f"{what}: schedule: expected a string")
    from raspy.rules.timing_cron import parse_cron  # with the first job (its regexes)

    try:
        parse_cron(schedule)
    except ValueError as exc:
        raise ValueError(f"{what}: {exc}") from exc
    return CronJob(name, schedule, enabled, description)


def event_body(
    job: CronJob, scheduled_wall_ts: float, fired_wall_ts: float, tz: ZoneInfo
) -> bytes:
    """The JSON value published at `/event/cron/<name>` for one fire."""
    document: dict[str, JsonValue] = {
        "job": job.name,
        "scheduled": iso_local(scheduled_wall_ts, tz),
        "fired": iso_local(fired_wall_ts, tz),
    }
    return _encode(document)


# --- requests -----------------------------------------------------------------------
def _encode(document: Mapping[str, JsonValue]) -> bytes:
    return json_text.encode(document, sort_keys=True)


def ok(action: str, effects: Sequence[Effect] = (), **fields: JsonValue) -> Handled:
    return Handled(action, _reply(action, **fields), tuple(effects))


def _reply(action: str, **fields: JsonValue) -> tuple[bytes, bytes]:
    return (OK, _encode({"v": VERSION, "action": action, **fields}))


def _saved(action: str, job: CronJob) -> Handled:
    """A job to save: answered by answer() once scheduled."""
    return Handled(action, None, (Saved(job),))


def error(status: bytes, action: str | None, token: str, detail: str) -> Handled:
    document: dict[str, JsonValue] = {
        "v": VERSION,
        "action": action,
        "error": token,
        "detail": detail,
    }
    return Handled(action, (status, _encode(document)))


def describe(job: CronJob, tz: ZoneInfo, scheduled: float | None) -> JsonValue:
    """A job as the service shows it, with `scheduled`, the next fire the scheduler
    holds: never one counted from now, which after a small step of the clock back
    was a time already fired, that the scheduler does not fire again. A disabled
    job's is None: the scheduler holds only the enabled jobs."""
    return {
        "name": job.name,
        "schedule": job.schedule,
        "enabled": job.enabled,
        "description": job.description,
        "next": None if scheduled is None else iso_local(scheduled, tz),
    }


def answer(
    handled: Handled, tz: ZoneInfo, scheduled: Callable[[str], float | None]
) -> tuple[bytes, bytes]:
    """The reply frames, once the actor has carried out the effects: a job saved
    says the next fire the scheduler now holds for it, as `list` and `get` do."""
    match handled.effects:
        case (Saved(job=job),) if handled.action is not None:
            return _reply(handled.action, job=describe(job, tz, scheduled(job.name)))
    assert handled.reply is not None  # only a save waits for the scheduler
    return handled.reply


def _parse(body: Sequence[bytes]) -> dict[str, JsonValue] | Handled:
    parsed = request_body.parse(body, _KEYS)
    if isinstance(parsed, request_body.Refusal):
        return error(BAD_REQUEST, parsed.action, parsed.token, parsed.detail)
    return parsed


def handle(
    jobs: Mapping[str, CronJob],
    body: Sequence[bytes],
    tz: ZoneInfo,
    scheduled: Callable[[str], float | None],
) -> Handled:
    """Answer one `<host>.core.cron` request (see the module docstring); never raises.
    `scheduled`: the next fire the scheduler holds for a job (None: none), which
    `list` and `get` say; a job saved is answered by answer()."""
    document = _parse(body)
    if isinstance(document, Handled):
        return document
    action = str(document["action"])
    if action not in _ACTIONS:
        return error(UNKNOWN_ACTION, action, "unknown_action", quote(action))
    allowed = {"v", "action"} | _FIELDS_OF[action]
    extra = sorted(set(document) - allowed)
    if extra:
        detail = f"{action} takes no {', '.join(extra)}"
        return error(BAD_REQUEST, action, "bad_request", detail)
    if action == "list":
        listed = [describe(jobs[name], tz, scheduled(name)) for name in sorted(jobs)]
        return ok(action, jobs=listed)
    name = document.get("name")
    if name is None:
        return error(BAD_REQUEST, action, "missing_name", "name: required")
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        detail = f"name: expected {NAME_PATTERN}, got {shown(name)}"
        return error(BAD_REQUEST, action, "bad_name", detail)
    if action == "add":
        return _add(jobs, document, name)
    job = jobs.get(name)
    if job is None:
        return error(NOT_FOUND, action, "unknown_job", quote(name))
    match action:
        case "get":
            return ok(action, job=describe(job, tz, scheduled(name)))
        case "delete":
            return ok(action, [Deleted(name)], deleted=name)
    changed = CronJob(job.name, job.schedule, action == "enable", job.description)
    return _saved(action, changed)


_FIELDS_OF: Final[dict[str, frozenset[str]]] = {
    "list": frozenset(),
    "get": frozenset({"name"}),
    "add": frozenset({"name", "schedule", "description", "enabled", "replace"}),
    "delete": frozenset({"name"}),
    "enable": frozenset({"name"}),
    "disable": frozenset({"name"}),
}


def _add(
    jobs: Mapping[str, CronJob],
    document: Mapping[str, JsonValue],
    name: str,
) -> Handled:
    action = "add"
    schedule = document.get("schedule")
    if schedule is None:
        return error(BAD_REQUEST, action, "missing_schedule", "schedule: required")
    if not isinstance(schedule, str):
        detail = f"schedule: expected a string, got {shown(schedule)}"
        return error(BAD_REQUEST, action, "bad_schedule", detail)
    from raspy.rules.timing_cron import parse_cron  # with the first job (its regexes)

    try:
        parsed = parse_cron(schedule)
    except ValueError as exc:
        return error(BAD_REQUEST, action, "bad_schedule", str(exc))
    description = document.get("description", "")
    if not isinstance(description, str) or len(description) > MAX_DESCRIPTION_CHARS:
        detail = f"description: expected a string of at most {MAX_DESCRIPTION_CHARS} characters"
        return error(BAD_REQUEST, action, "bad_description", detail)
    enabled = document.get("enabled", True)
    replace = document.get("replace", False)
    if not isinstance(enabled, bool) or not isinstance(replace, bool):
        detail = "enabled, replace: expected true or false"
        return error(BAD_REQUEST, action, "bad_flag", detail)
    if name in jobs and not replace:
        detail = f"{quote(name)} exists; delete it first or add with replace: true"
        return error(BAD_REQUEST, action, "job_exists", detail)
    job = CronJob(name, parsed.expression, enabled, description)
    return _saved(action, job)
