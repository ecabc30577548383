"""The text of `raspy scenario`: requests, replies, the list table, `show`.

Pure: no sockets, no files, no clock (times are formatted in the zone passed in).
raspy.cli.scenario does the I/O around it; a file cut into documents is
raspy.rules.scenario_stream's.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from datetime import tzinfo
from typing import TYPE_CHECKING, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from raspy.cli.time_text import wall_text
from raspy.errors import RaspyError, quote, shown
from raspy.json_text import loads as json_loads
from raspy.records import frozen
from raspy.rules.scenario_stream import problem_place, shift_problem

if TYPE_CHECKING:
    from raspy.devices.template import JsonValue  # a type: the module costs a start

PROTOCOL_VERSION: Final = 1
_COLUMNS: Final = ("NAME", "STATE", "LAST RUN", "RUNS")


class ReplyError(RaspyError):
    """A reply of the scenario service that does not follow its protocol."""


@frozen
class Reply:
    """`[status, json]` of `<host>.core.scenario`."""

    status: int
    body: JsonValue

    @property
    def ok(self) -> bool:
        return self.status == 200

    def field(self, name: str) -> JsonValue:
        """A field of an object body; None when absent or the body is not an object."""
        return self.body.get(name) if isinstance(self.body, dict) else None


def request(action: str, **fields: JsonValue) -> str:
    """One request frame: `{"v": 1, "action": …, …}` as JSON text."""
    return json.dumps(
        {"v": PROTOCOL_VERSION, "action": action, **fields}, ensure_ascii=False
    )


def decode_reply(frames: Sequence[bytes], service: str) -> Reply:
    """The status and JSON body; ReplyError naming the service when they are not."""
    if len(frames) != 2:
        raise ReplyError(
            f"{service}: expected a reply [status, json], got {len(frames)} frames"
        )
    status_frame, body_frame = frames
    if len(status_frame) != 3 or not status_frame.isdigit():
        raise ReplyError(f"{service}: bad status {quote(status_frame)}")
    try:
        body: JsonValue = json_loads(body_frame.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise ReplyError(f"{service}: reply is not JSON: {quote(body_frame)}") from None
    return Reply(int(status_frame), body)


def refusal_lines(reply: Reply) -> list[str]:
    """What a non-200 reply says: its error, then each problem on its own line.
    A refusal of the request (4xx) is its error alone, which says what the status
    does (`not a valid scenario`, `no scenario named 'x'`); the hub's own failure (5xx)
    and a reply without an error keep the status, the one word for "not your
    request" or for what the hub sent."""
    error = reply.field("error")
    if isinstance(error, str) and 400 <= reply.status < 500:
        lines = [error]
    else:
        lines = [f"{reply.status}: {error if isinstance(error, str) else reply.body}"]
    problems = reply.field("problems")
    if isinstance(problems, list):
        lines += [str(problem) for problem in problems]
    return lines


def import_refusal(reply: Reply, name: str, source: str, first_line: int) -> list[str]:
    """The hub's refusal of one document, each line naming the file: the error at the
    document's first line (which document of a stream), then each problem as a line
    of the file (one without a place gets the document's)."""
    document = f"{source}:{first_line + 1}:1"
    error, *problems = refusal_lines(reply)
    # the file is named once, at the front: not again in the error (after a 5xx's
    # status, or at its start)
    error = error.removeprefix(f"{source}: ").replace(f": {source}: ", ": ", 1)
    lines = [f"{document}: {name}: {error}"]
    for problem in problems:
        if problem_place(problem, source) is not None:
            lines.append(shift_problem(problem, source, first_line))
        else:
            lines.append(f"{document}: {problem.removeprefix(f'{source}: ')}")
    return lines


# the kinds of the time triggers, whose trigger value is the time they were due (as
# raspy.rules.runaway.SCHEDULED_KINDS: not imported, to keep the command line light)
TIME_KINDS: Final = frozenset({"cron", "at", "every", "sun"})


# --- times and cells --------------------------------------------------------------------
def describe_time(value: JsonValue, tz: tzinfo | None = None) -> str:
    """An epoch time as `YYYY-MM-DD HH:MM:SS ±HH:MM` (in `tz`; None: this machine's
    zone; see raspy.cli.time_text); text as it is; nothing as `-`."""
    if value is None or value in ("", 0):
        return "-"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return cell(value)
    return wall_text(value, tz)


def describe_fires(fires: JsonValue, tz: tzinfo | None = None) -> list[str]:
    """A `get` reply's `next_fires`, one line a time trigger: `2026-12-06 23:30:00
    +01:00  cron (id off)`, in `tz` as describe_time, the soonest first; none for
    a reply without them (a scenario with no time trigger, not running, or an
    older hub). A sun trigger says its event (`sunset -15m`), an older hub `sun`."""
    if not isinstance(fires, list):
        return []
    found = [fire for fire in fires if isinstance(fire, dict)]
    found.sort(key=_fire_time)
    lines = []
    for fire in found:
        said = cell(fire.get("label") or fire.get("kind") or "?")
        if fire.get("id"):
            said += f" (id {cell(fire.get('id'))})"
        lines.append(f"{describe_time(fire.get('at'), tz)}  {said}")
    return lines


def _fire_time(fire: dict[str, JsonValue]) -> float:
    """A next fire's time, to sort by; one that is no number last."""
    at = fire.get("at")
    if isinstance(at, bool) or not isinstance(at, int | float):
        return math.inf
    return float(at)


def describe_trigger(trigger: JsonValue, tz: tzinfo | None = None) -> str:
    """`/scenario/<name>/last_trigger` in one line: kind (id) key = value, whether
    a person tried it (`run --trigger`), and since when a `for:` hold held (in `tz`,
    as describe_time)."""
    if not isinstance(trigger, dict):
        return cell(trigger or None)
    parts = [cell(trigger.get("kind") or "?")]
    if trigger.get("id"):
        parts.append(f"({cell(trigger['id'])})")
    if trigger.get("key"):
        parts.append(cell(trigger["key"]))
    if trigger.get("value") is not None:
        value = trigger["value"]
        # a time trigger's value is when it was due: a time, not an epoch
        timed = trigger.get("kind") in TIME_KINDS and not isinstance(value, bool)
        if timed and isinstance(value, int | float):
            parts += ["=", describe_time(value, tz)]
        else:
            parts += ["=", cell(_json(value))]
    if trigger.get("by"):
        parts.append(f"by {cell(trigger['by'])}")
    if trigger.get("tried") is True:  # `run --trigger`: no firing, a person's try
        parts.append("(tried by hand)")
    if trigger.get("since") is not None:
        parts.append(f"since {describe_time(trigger['since'], tz)}")
    return " ".join(parts)


def describe_skip(skip: JsonValue, tz: tzinfo | None = None) -> str:
    """The last trigger that started no run: when, why, and which trigger."""
    if not isinstance(skip, dict):
        return cell(skip or None)
    when = describe_time(skip.get("at"), tz)
    reason = cell(skip.get("reason") or None)
    return f"{when}: {reason} ({describe_trigger(skip.get('trigger'), tz)})"


def describe_error(entry: Mapping[str, JsonValue], tz: tzinfo | None = None) -> str:
    """The last error, after its time when the reply has one (as `last skipped`)."""
    reason = cell(entry.get("last_error") or None)
    at = entry.get("last_error_at")
    if reason == "-" or at is None:
        return reason
    return f"{describe_time(at, tz)}: {reason}"


def cell(value: JsonValue) -> str:
    """One line of printable text for a table cell or a `show` field."""
    text = "-" if value is None else value if isinstance(value, str) else _json(value)
    return "".join(ch if ch.isprintable() else "?" for ch in text) or "-"


def named(name: str) -> str:
    """NAME for the head of a line: as typed when short printable text (most are),
    else as quote() shows it, cut at 64 bytes (as the hub's own refusals): a 10,000
    character name made each of run/stop/enable/disable/delete's lines 10 KB."""
    if len(name.encode("utf-8", "replace")) <= 64 and name.isprintable():
        return name
    return quote(name)


def _json(value: JsonValue) -> str:
    return json.dumps(value, ensure_ascii=False)


def json_text(value: JsonValue) -> str:
    """A reply body for scripts: indented JSON and a final line break."""
    return json.dumps(value, ensure_ascii=False, indent=2) + "\n"


def _entries(listing: JsonValue) -> list[dict[str, JsonValue]]:
    if not isinstance(listing, list) or not all(isinstance(e, dict) for e in listing):
        raise ReplyError(f"list: expected a JSON list of objects, got {cell(listing)}")
    return [entry for entry in listing if isinstance(entry, dict)]


def list_table(listing: JsonValue, tz: tzinfo | None = None) -> str:
    """The `list` reply as a table: name, state, last run, runs (one line each)."""
    rows = [
        (
            cell(entry.get("name")),
            cell(entry.get("state")),
            describe_time(entry.get("last_run"), tz),
            cell(entry.get("runs", 0)),
        )
        for entry in _entries(listing)
    ]
    widths = [max(len(row[i]) for row in [_COLUMNS, *rows]) for i in range(4)]
    lines = [
        "  ".join(
            (
                name.ljust(widths[0]),
                state.ljust(widths[1]),
                last.ljust(widths[2]),
                runs.rjust(widths[3]),
            )
        ).rstrip()
        for name, state, last, runs in [_COLUMNS, *rows]
    ]
    return "\n".join(lines) + "\n"


def list_text(listing: JsonValue) -> str:
    """The `list` reply for people: the zone of its times, as `show` names it (the
    hub's `[core] timezone`, which each entry names, or this machine's when an
    older hub's entries do not or this machine does not know it), then the table.
    An empty list has no times, and no zone line."""
    entries = _entries(listing)
    if not entries:
        return list_table(listing)
    tz, zone = hub_zone(entries[0])
    return f"times in: {zone}\n" + list_table(listing, tz)


def list_names(listing: JsonValue) -> list[str]:
    """The names in a `list` reply, in its order."""
    return [str(entry.get("name")) for entry in _entries(listing)]


def _trace_text(trace: JsonValue, title: str = "last run did") -> str:
    """What the last run that ended did (or the run under way so far), a line an
    action, under `last run did:` (`run under way:`)."""
    if not isinstance(trace, list) or not trace:
        return ""
    return f"{title}:\n" + "".join(f"  {cell(line)}\n" for line in trace)


def hub_zone(entry: Mapping[str, JsonValue]) -> tuple[tzinfo | None, str]:
    """The zone the times of a `get` reply (or a `list` entry) are shown in, and
    the words that name it: the hub's `[core] timezone` (its `timezone`), or this
    machine's (None) when an older hub's reply has none or this machine does not
    know the zone."""
    name = entry.get("timezone")
    if not isinstance(name, str):
        return None, "this machine's (the hub's reply names no zone: an older raspyd)"
    try:
        return ZoneInfo(name), f"{name} (the hub's [core] timezone)"
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: "Europe", a folder
        return None, f"this machine's (the hub's zone {shown(name)} is unknown here)"


def show_text(entry: Mapping[str, JsonValue]) -> str:
    """A `get` reply for people: the zone of its times, its fields, a blank line,
    then the document as stored, its `enabled:` saying the state."""
    tz, zone = hub_zone(entry)
    enabled = entry.get("enabled")
    fields = [
        ("times in", zone),
        ("name", cell(entry.get("name"))),
        ("description", cell(entry.get("description") or None)),
        ("enabled", "yes" if enabled is True else "no" if enabled is False else "-"),
        ("state", cell(entry.get("state"))),
        ("mode", cell(entry.get("mode"))),
        ("last run", describe_time(entry.get("last_run"), tz)),
        ("last trigger", describe_trigger(entry.get("last_trigger"), tz)),
        ("runs", cell(entry.get("runs", 0))),
        ("last error", describe_error(entry, tz)),
        ("last skipped", describe_skip(entry.get("last_skip"), tz)),
    ]
    fires = describe_fires(entry.get("next_fires"), tz)
    fields += [("next fire" if n == 0 else "", line) for n, line in enumerate(fires)]
    head = "".join(
        f"{label + ':' if label else '':<14}{value}\n" for label, value in fields
    )
    head += _trace_text(entry.get("run_trace"), "run under way")
    head += _trace_text(entry.get("last_trace"))
    document = entry.get("document")
    if not isinstance(document, str):
        return head
    if isinstance(enabled, bool):  # as export writes it, and the web face shows it
        from raspy.rules.enabled_text import stating_enabled  # YAML: here only

        document = stating_enabled(document, enabled)
    return head + "\n" + document + ("" if document.endswith("\n") else "\n")
