"""What the web pages show, parsed from the services' replies (pure).

Each parser takes the reply frames of one service and returns typed rows, or raises
ReplyError naming the service and what was wrong; a page shows that line instead of
the table. Nothing here trusts a reply's shape.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import field as dataclass_field
from typing import Any, Final

from raspy import json_text
from raspy.devices.reading import DEVICE_TREE, device_of_key
from raspy.devices.registry import devices_service_of
from raspy.errors import RaspyError, quote
from raspy.records import frozen
from raspy.service_stats import whole_digits
from raspy.web.html import epoch_seconds, show_value

_MAX_ROWS: Final = 10_000


class ReplyError(RaspyError):
    """A service's reply that the web face cannot use (status or shape)."""

    def __init__(self, service: str, detail: str) -> None:
        self.service = service
        self.detail = detail
        super().__init__(f"{service}: {detail}")


def _json(service: str, frames: Sequence[bytes]) -> Any:
    """The JSON body of a `[200, json]` reply; ReplyError for anything else."""
    if len(frames) < 2:
        raise ReplyError(service, f"expected [status, json], got {len(frames)} frames")
    try:
        body = json_text.loads(frames[1])
    except (ValueError, UnicodeDecodeError) as exc:
        raise ReplyError(service, f"not JSON: {quote(str(exc))}") from None
    if frames[0] != b"200":
        detail = (
            body.get("detail") or body.get("error") if isinstance(body, dict) else ""
        )
        raise ReplyError(
            service, f"answered {quote(frames[0])}: {quote(str(detail or body))}"
        )
    return body


def _text(value: object, default: str = "") -> str:
    return value if isinstance(value, str) else default


def _count(value: object) -> int:
    """A whole number (`3`, or `3.0` and `1e9` as the page's script reads them
    live), else 0."""
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


@frozen
class DeviceRow:
    """One device as the devices service lists it."""

    service: str  # `<host>.<svc>`: the group on the page
    name: str  # inside the service, e.g. `lamp` or `tv.volume`
    fullname: str
    oid: str
    value: object
    unit: str
    status: str
    wall_ts: float | None
    logged: bool
    friendly_name: str = ""  # its config's: what Home Assistant calls it too

    @property
    def key(self) -> str:
        return f"{DEVICE_TREE}{self.fullname}/"

    @property
    def label(self) -> str:
        """What the page calls it: a device renamed over MDP by its new name, as
        Home Assistant shows it (commands and keys still use `name`)."""
        return self.friendly_name or self.name


def devices(service: str, frames: Sequence[bytes]) -> list[DeviceRow]:
    """The `list` reply of `<service>.devices`, sorted by name."""
    body = _json(f"{service}.devices", frames)
    items = body.get("devices") if isinstance(body, dict) else None
    if not isinstance(items, list):
        raise ReplyError(f"{service}.devices", "expected {devices: [...]}")
    rows = []
    for item in items[:_MAX_ROWS]:
        if not isinstance(item, dict):
            raise ReplyError(f"{service}.devices", "expected device objects")
        name, fullname = _text(item.get("name")), _text(item.get("fullname"))
        if not name or not fullname:
            raise ReplyError(f"{service}.devices", "a device without a name")
        reading = item.get("reading")
        reading = reading if isinstance(reading, dict) else {}
        config = item.get("config")
        config = config if isinstance(config, dict) else {}
        rows.append(
            DeviceRow(
                service=service,
                name=name,
                fullname=fullname,
                oid=_text(item.get("oid")),
                value=reading.get("value"),
                unit=_text(reading.get("unit")),
                status=_text(reading.get("status"), "unknown"),
                wall_ts=epoch_seconds(reading.get("wall_ts")),
                logged=config.get("log") is True,
                friendly_name=_text(config.get("friendly_name")),
            )
        )
    return sorted(rows, key=lambda row: (row.label.casefold(), row.name))


def unserved_rows(
    tree: Mapping[str, object],
    served: Collection[str],
    labels: Mapping[str, str] | None = None,
) -> list[DeviceRow]:
    """Devices in the tree whose `<host>.<svc>.devices` is not among `served` (a
    remote board gone: its readings stay, marked offline once the hub's grace
    ends), from their keys and `labels` (their friendly names as their service
    last listed them: the tree has none); sorted by full name."""
    fields: dict[str, dict[str, object]] = {}
    for key, value in tree.items():
        found = device_of_key(key)
        if found is None:
            continue
        fullname, field = found
        if devices_service_of(fullname) not in served:
            fields.setdefault(fullname, {})[field] = value
    rows = []
    for fullname in sorted(fields)[:_MAX_ROWS]:
        host, service, name = fullname.split(".", 2)
        known = fields[fullname]
        rows.append(
            DeviceRow(
                service=f"{host}.{service}",
                name=name,
                fullname=fullname,
                oid="",  # unknown without its service: no switch to press
                value=known.get("value"),
                unit=_text(known.get("unit")),
                status=_text(known.get("status"), "unknown"),
                wall_ts=epoch_seconds(known.get("timestamp")),
                logged=False,
                friendly_name=(labels or {}).get(fullname, ""),
            )
        )
    return rows


@frozen
class ScenarioRow:
    name: str
    description: str
    enabled: bool
    state: str
    last_run: float | None
    runs: int
    last_error: str
    # the last trigger that started no run (not in the tree: shown at page load)
    last_skip_at: float | None = None
    last_skip_reason: str = ""
    last_error_at: float | None = None  # when the failure last_error tells came
    # when its time triggers fire next: (what fires, e.g. `cron (off)`, epoch s)
    next_fires: tuple[tuple[str, float], ...] = ()
    # what started its last run, as trigger_text says it ("" for none)
    last_trigger: str = ""


def scenarios(frames: Sequence[bytes]) -> list[ScenarioRow]:
    """The `list` reply of `<host>.core.scenario`."""
    body = _json("core.scenario", frames)
    if not isinstance(body, list):
        raise ReplyError("core.scenario", "expected a list of scenarios")
    return [_scenario_row(item) for item in body[:_MAX_ROWS]]


def _scenario_row(item: object) -> ScenarioRow:
    if not isinstance(item, dict) or not _text(item.get("name")):
        raise ReplyError("core.scenario", "expected scenario objects with a name")
    skip = item.get("last_skip")
    skip = skip if isinstance(skip, dict) else {}
    return ScenarioRow(
        name=_text(item.get("name")),
        description=_text(item.get("description")),
        enabled=item.get("enabled") is True,
        state=_text(item.get("state"), "unknown"),
        last_run=epoch_seconds(item.get("last_run")),
        runs=_count(item.get("runs")),
        last_error=_text(item.get("last_error")),
        last_skip_at=epoch_seconds(skip.get("at")),
        last_skip_reason=_text(skip.get("reason")),
        last_error_at=epoch_seconds(item.get("last_error_at")),
        next_fires=_next_fires(item.get("next_fires")),
        last_trigger=trigger_text(item.get("last_trigger")),
    )


def trigger_text(trigger: object) -> str:
    """`/scenario/<name>/last_trigger` in words: `kv (hall) /device/x/value = 18.5`,
    `sun (dusk), tried by hand` (a person's `run --trigger`), `manual, by other`;
    "" for none. app.js writes a live one the same way (triggerText)."""
    if not isinstance(trigger, dict):
        return ""
    kind, trigger_id = _text(trigger.get("kind"), "?") or "?", _text(trigger.get("id"))
    parts = [f"{kind} ({trigger_id})" if trigger_id else kind]
    key = _text(trigger.get("key"))
    if key:  # a time trigger's value is its time: the last run says it
        parts.append(f"{key} = {show_value(trigger.get('value'))}")
    if _text(trigger.get("by")):
        parts.append(f"by {trigger['by']}")
    if trigger.get("tried") is True:
        parts.append("tried by hand")
    return ", ".join(parts)


def _next_fires(fires: object) -> tuple[tuple[str, float], ...]:
    """The entry's `next_fires` (an older hub has none): `label (id)` (an older
    hub's kind) and when, the soonest first."""
    if not isinstance(fires, list):
        return ()
    shown: list[tuple[str, float]] = []
    for fire in fires[:_MAX_ROWS]:
        at = _number(fire.get("at")) if isinstance(fire, dict) else None
        if at is None or not isinstance(fire, dict):
            continue
        what = _text(fire.get("label")) or _text(fire.get("kind"), "?")
        trigger_id = _text(fire.get("id"))
        shown.append((f"{what} ({trigger_id})" if trigger_id else what, at))
    return tuple(sorted(shown, key=lambda fire: fire[1]))


@frozen
class ScenarioDetail:
    """One scenario as `get` tells it: its card, what its last run did, its text,
    and how far the run under way has come (empty: none)."""

    row: ScenarioRow
    mode: str
    trace: list[str]
    document: str
    run_trace: list[str] = dataclass_field(default_factory=list)


def scenario_detail(frames: Sequence[bytes]) -> ScenarioDetail:
    """The `get` reply of `<host>.core.scenario`."""
    body = _json("core.scenario", frames)
    return ScenarioDetail(
        row=_scenario_row(body),
        mode=_text(body.get("mode")),
        trace=_lines(body.get("last_trace") if isinstance(body, dict) else None),
        document=_text(body.get("document")),
        run_trace=_lines(body.get("run_trace") if isinstance(body, dict) else None),
    )


def _lines(trace: object) -> list[str]:
    """A trace's lines; anything but text left out."""
    if not isinstance(trace, list):
        return []
    return [line for line in trace if isinstance(line, str)]


@frozen
class WorkerCount:
    service: str
    idle: int
    busy: int


def workers(frames: Sequence[bytes]) -> list[WorkerCount]:
    """The `mmi.workers` reply: live workers per service, sorted by service."""
    body = _json("mmi.workers", frames)
    if not isinstance(body, dict):
        raise ReplyError("mmi.workers", "expected an object")
    rows = []
    for service, counts in sorted(body.items())[:_MAX_ROWS]:
        if not isinstance(counts, dict):
            raise ReplyError("mmi.workers", "expected counts per service")
        idle, busy = counts.get("idle"), counts.get("busy")
        rows.append(
            WorkerCount(
                service,
                idle if isinstance(idle, int) else 0,
                busy if isinstance(busy, int) else 0,
            )
        )
    return rows


def service_names(frames: Sequence[bytes]) -> list[str]:
    """The `mmi.services` reply: `200` then one frame per service."""
    if not frames or frames[0] != b"200":
        raise ReplyError(
            "mmi.services", f"answered {quote(frames[0] if frames else b'')}"
        )
    return [frame.decode("utf-8", "replace") for frame in frames[1 : _MAX_ROWS + 1]]


@frozen
class StatRow:
    name: str
    kind: str
    value: str


def statistics(part: str, frames: Sequence[bytes]) -> list[StatRow]:
    """A `<host>.<part>.statistics` reply to `all`: name -> {type, value}."""
    body = _json(f"{part}.statistics", frames)
    if not isinstance(body, dict):
        raise ReplyError(f"{part}.statistics", "expected an object")
    rows = []
    for name, entry in sorted(body.items())[:_MAX_ROWS]:
        if not isinstance(entry, dict):
            raise ReplyError(f"{part}.statistics", "expected {type, value} entries")
        value = entry.get("value")
        # a whole one as its digits, as `get` gives it; a fraction to six places
        shown = (
            whole_digits(value) or f"{value:g}"
            if isinstance(value, float)
            else str(value)
        )
        rows.append(StatRow(name, _text(entry.get("type")), shown))
    return rows


Point = tuple[float, float, float, float]  # t (epoch s), avg, min, max


@frozen
class History:
    key: str
    tier: str
    points: list[Point]
    since: float | None = None  # the range asked, as the reply says it
    until: float | None = None
    step_s: float | None = None  # the points' spacing where the data has no gap


def history(frames: Sequence[bytes]) -> History:
    """A `<host>.logger.history` reply to `history`."""
    body = _json("logger.history", frames)
    points = body.get("points") if isinstance(body, dict) else None
    if not isinstance(points, list):
        raise ReplyError("logger.history", "expected {points: [...]}")
    parsed: list[Point] = []
    for point in points[: _MAX_ROWS * 10]:
        numbers = [_number(x) for x in point] if isinstance(point, list) else [None]
        if len(numbers) != 4 or any(x is None for x in numbers):
            raise ReplyError("logger.history", "expected [t, avg, min, max] points")
        t, avg, low, high = (float(x or 0.0) for x in numbers)
        parsed.append((t, avg, low, high))
    return History(
        _text(body.get("key")),
        _text(body.get("tier")),
        parsed,
        _number(body.get("since")),
        _number(body.get("until")),
        _number(body.get("step_s")),
    )


@frozen
class TitanicEntry:
    """A request waiting in Titanic's queue (read from the store)."""

    position: int
    uuid: str
    service: str
    created: float
    frames: int
