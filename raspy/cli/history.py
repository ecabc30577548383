"""`raspy history KEY --since 24h`: a device's recorded values, as text, JSON, or a
chart (`--plot FILE.svg|FILE.png`), from the hub's `<host>.logger.history`.

KEY is a Clone key (`/device/<host>.<svc>.<dev>/value`) or a device's full name.
--since/--until take a duration back from now (`24h`, `7d`, or `-24h`), epoch
seconds, or an ISO date (`2026-05-29T06:00`, this machine's local time unless it
names a zone, as the times printed do: `2026-05-29 06:00:00 +02:00`). Points print in this machine's
zone with their UTC offset (raspy.cli.time_text): the hub's zone is not in its reply.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from datetime import UTC, datetime, tzinfo
from typing import Any, Final, Protocol

from raspy.cli import EXIT_OK, EXIT_USAGE, output_status
from raspy.cli.arguments import (
    add_hub_options,
    path_argument,
    require_utf8,
    under_host,
)
from raspy.cli.hub_call import Refused, call_json
from raspy.cli.time_text import wall_text
from raspy.errors import shown
from raspy.history.tiers import format_duration, parse_duration

_PROG: Final = "raspy history"
_PLOT_SUFFIXES: Final = (".svg", ".png")
_SINCE: Final = "24h"  # the defaults, kept apart from what was given (--forget)
_UNTIL: Final = "now"
_FIELDS: Final = ("key", "tier", "step_s")  # besides points: what the text prints


class Commands(Protocol):
    def add_parser(self, name: str, **kwargs: Any) -> argparse.ArgumentParser: ...


def when(text: str, now: float) -> float:
    """Epoch seconds of a --since/--until value; ValueError naming what it expected."""
    text = text.strip()
    if text == "now":
        return now
    try:  # `-1h` as journalctl writes it: back from now too
        return now - parse_duration(text.removeprefix("-"))
    except ValueError:
        pass
    try:
        moment = float(text) if text.replace(".", "", 1).isdigit() else _iso(text)
        if not math.isfinite(moment):  # 400 digits: no JSON carries an infinity
            raise ValueError(text)
        return moment
    except (ValueError, OverflowError, OSError):  # a date at the calendar's edge
        raise ValueError(
            f"expected a duration back from now (24h, 7d), epoch seconds or an ISO "
            f"date, got {shown(text)}"
        ) from None


def _when_of(option: str, text: str, now: float) -> float:
    """when() of one option's text, a refusal naming the option."""
    try:
        return when(text, now)
    except ValueError as exc:
        raise Refused(2, f"{option}: {exc}") from None


def _iso(text: str) -> float:
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.astimezone()  # a naive date is this machine's local time
    return moment.timestamp()


def add_parser(commands: Commands) -> None:
    """Register `history` on `raspy`'s sub-command parser."""
    history = commands.add_parser(
        "history",
        help="recorded values of a device: text, JSON or a chart",
        description="Ask the hub's <host>.logger.history for the values of KEY "
        "between --since and --until; the tier (raw, 5-minute, hourly, ...) is "
        "chosen by the range unless --resolution names one. Times are read and "
        "printed in this machine's zone (set TZ for another); a printed time names "
        "its UTC offset, and an ISO date may name one too.",
    )
    history.add_argument(
        "key",
        metavar="KEY",
        help="a Clone key (/device/<name>/value) or a device name (.fake.outdoor: "
        "under the hub's host name)",
    )
    history.add_argument(
        "--since",
        default=None,  # 24h; None tells --forget that none was given
        help="start: a duration back from now (24h, 7d), epoch s, or an ISO date in "
        "this machine's local time unless it names a zone (2026-05-29T06:00, "
        "'2026-05-29 06:00:00 +02:00'); default 24h",
    )
    history.add_argument("--until", help="end, same forms (default now)")
    history.add_argument(
        "--resolution",
        default="auto",
        help="auto (default) or a tier's step, e.g. 10s, 5m, 1h",
    )
    history.add_argument(
        "--plot",
        metavar="FILE",
        type=path_argument,
        help="write a chart to FILE.svg or FILE.png",
    )
    history.add_argument("--unit", default="", help="unit shown on the chart")
    history.add_argument(
        "--json", action="store_true", help="print the service's JSON reply"
    )
    history.add_argument(
        "--forget",
        action="store_true",
        help="delete every recorded value of KEY (a device retired for good), in "
        "every tier, configured or not, and say how many rows there were; a device "
        "that still records starts anew",
    )
    add_hub_options(history, timeout_help="seconds to wait for the reply")
    history.set_defaults(run=run)


def _request(args: argparse.Namespace) -> dict[str, Any]:
    now = time.time()
    since = _when_of("--since", _SINCE if args.since is None else args.since, now)
    until = _when_of("--until", _UNTIL if args.until is None else args.until, now)
    if args.plot and not args.plot.lower().endswith(_PLOT_SUFFIXES):
        raise Refused(
            2, f"--plot: expected a FILE ending in .svg or .png, got {shown(args.plot)}"
        )
    if since >= until:
        raise Refused(2, "--since: expected a time before --until")
    return {
        "v": 1,
        "action": "history",
        "key": args.key,
        "since": since,
        "until": until,
        "resolution": args.resolution,
    }


def _ask(args: argparse.Namespace, document: dict[str, Any]) -> dict[str, Any]:
    """The points of a `history` request, checked."""
    reply = _call(args, document)
    service = _service(args)
    if not isinstance(reply.get("points"), list):
        raise Refused(1, f"{service} sent a reply without points")
    missing = [name for name in _FIELDS if name not in reply]
    if missing:
        raise Refused(1, f"{service} sent a reply without {', '.join(missing)}")
    if not all(_is_point(point) for point in reply["points"]):
        raise Refused(1, f"{service} sent a point that is not [t, avg, min, max]")
    return reply


def _service(args: argparse.Namespace) -> str:
    from raspy.names import short_hostname

    return f"{args.host or short_hostname()}.logger.history"


def _call(args: argparse.Namespace, document: dict[str, Any]) -> dict[str, Any]:
    """One request to the hub's history service: its 200 reply as a JSON object."""
    return call_json(
        args,
        _service(args),
        document,
        absent_why=" (is [history] enabled at the hub, and --host its name?)",
    )


def _is_point(point: object) -> bool:
    return (
        isinstance(point, list)
        and len(point) == 4
        and all(isinstance(v, int | float) and not isinstance(v, bool) for v in point)
    )


def _plot(path: str, reply: dict[str, Any], unit: str) -> None:
    from raspy.atomic_file import write_named_output  # a chart's only: see _plot_zone
    from raspy.history.plot import svg_chart
    from raspy.history.png import png_chart

    title = f"{reply['key']} ({reply['tier']})"
    points = reply["points"]
    zone = _plot_zone()
    # the time axis spans the range asked, as the reply says it
    since, until = _number(reply.get("since")), _number(reply.get("until"))
    step_s = _number(reply.get("step_s"))  # a wider spacing is a gap in the data
    chart = png_chart if path.lower().endswith(".png") else svg_chart
    drawn = chart(
        points,
        title=title,
        unit=unit,
        zone=zone,
        since=since,
        until=until,
        step_s=step_s,
    )
    data = drawn if isinstance(drawn, bytes) else drawn.encode("utf-8")
    try:
        write_named_output(path, data)
    except OSError as exc:
        raise Refused(
            output_status(exc), f"--plot: cannot write {path}: {exc.strerror}"
        ) from None


def _number(value: object) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


def _plot_zone() -> tzinfo:
    """This machine's zone, as the text's: a ZoneInfo, so that a range across a
    summer-time change is drawn on the zone's clock on both sides; a TZ that names
    no zone (a POSIX rule such as XST+3:30) as its offset now."""
    # a chart's only, as atomic_file: each `raspy` command is a process of its own
    from raspy.machine_zone import machine_zone

    return machine_zone() or datetime.now().astimezone().tzinfo or UTC


def _count(points: list[Any]) -> str:
    return "1 point" if len(points) == 1 else f"{len(points)} points"


def _step(step_s: object) -> str:
    """A step as the tiers spell one (300 -> 5m, 158400 -> 44h); not whole: as it is."""
    if isinstance(step_s, int) and not isinstance(step_s, bool) and step_s > 0:
        return format_duration(step_s)
    return f"{step_s} s"


def _text(reply: dict[str, Any], zone: tzinfo | None = None) -> list[str]:
    """The points as lines, their times in `zone` (None: this machine's)."""
    lines = [
        f"# {reply['key']}: tier {reply['tier']}, a point every {_step(reply['step_s'])}, "
        f"{_count(reply['points'])} (time, avg, min, max)"
    ]
    rows = [
        (wall_text(t, zone), _value(avg), _value(low), _value(high))
        for t, avg, low, high in reply["points"]
    ]
    return lines + _aligned(rows)


def _aligned(rows: list[tuple[str, str, str, str]]) -> list[str]:
    """The rows in columns as wide as their widest text, two spaces apart: the time
    left-aligned (a number no calendar holds is shorter), the values right-aligned,
    so that their digits line up."""
    if not rows:
        return []
    widths = [max(len(row[column]) for row in rows) for column in range(4)]
    return [
        f"{when:<{widths[0]}}  {avg:>{widths[1]}}  {low:>{widths[2]}}  "
        f"{high:>{widths[3]}}"
        for when, avg, low, high in rows
    ]


def _value(value: float) -> str:
    """The shortest text that reads back as `value`, as `--json` and the tree print
    it, a whole number without `.0`: `.6g` printed a meter's 12345678 Wh as
    1.23457e+07. An exponent only beyond 1e16 or below 1e-4, as Python's repr."""
    text = repr(value)
    return text.removesuffix(".0")


def _forget(args: argparse.Namespace) -> int:
    if args.plot:
        raise Refused(2, "--forget: goes without --plot (nothing is left to draw)")
    if args.since is not None or args.until is not None:  # not a part: it is all
        raise Refused(
            2, "--forget: goes without --since and --until (it deletes every value)"
        )
    document = {"v": 1, "action": "forget", "key": args.key}
    reply = _call(args, document)
    rows = reply.get("rows")
    if isinstance(rows, bool) or not isinstance(rows, int):
        raise Refused(1, f"{_service(args)} sent a reply without the rows forgotten")
    if args.json:
        print(json.dumps(reply))
    else:
        print(f"forgot {reply.get('key', args.key)}: {rows} rows")
    return EXIT_OK


def run(args: argparse.Namespace) -> int:
    """`raspy history`: 0 points printed (or forgotten), 1 hub failure, 2 bad input."""
    import zmq  # the hub's client: not loaded to parse (`raspy --help`)

    require_utf8(args.key)
    args.key = under_host(args.key, args.host)  # `.fake.outdoor`, as raspy device's
    try:
        if args.forget:
            return _forget(args)
        reply = _ask(args, _request(args))
        if args.plot:
            _plot(args.plot, reply, args.unit)
        if args.json:
            print(json.dumps(reply))
        elif not args.plot:
            print("\n".join(_text(reply)))
        else:
            print(f"{args.plot}: {_count(reply['points'])}")
    except Refused as exc:
        print(f"{_PROG}: {exc}", file=sys.stderr)
        return exc.status
    except zmq.ZMQError as exc:
        print(f"{_PROG}: --server {args.server}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return EXIT_OK
