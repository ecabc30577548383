"""The Services and Titanic pages from typed rows (pure: rows and `now` in, HTML
out): the workers of each service, each supervised part's statistics, the requests
Titanic holds."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, tzinfo

from raspy.elapsed_text import elapsed_text
from raspy.records import frozen
from raspy.web.html import esc, notice, show_time, table
from raspy.web.models import StatRow, TitanicEntry, WorkerCount


@frozen
class PartStats:
    """One supervised part: its statistics rows or why they are missing."""

    part: str
    rows: Sequence[StatRow]
    problem: str = ""


def services_body(
    workers: Sequence[WorkerCount], parts: Sequence[PartStats], problems: Sequence[str]
) -> str:
    out = [notice(problem, error=True) for problem in problems]
    out.append("<h2>Services and workers</h2>")
    out.append(
        table(
            ("Service", "Idle", "Busy"),
            [(esc(w.service), str(w.idle), str(w.busy)) for w in workers],
        )
    )
    out.append("<h2>Statistics</h2>")
    out += [_stats_details(part) for part in parts]
    return "".join(out)


def _stats_details(part: PartStats, *, opened: bool = False) -> str:
    body = (
        notice(part.problem, error=True)
        if part.problem
        else table(
            ("Name", "Type", "Value"),
            [(esc(r.name), esc(r.kind), _stat_value(r)) for r in part.rows],
            css="stats",
        )
    )
    flag = " open" if opened else ""
    state = next((r.value for r in part.rows if r.name == "state"), "")
    uptime = next((_seconds(r) for r in part.rows if r.name == "uptime_s"), None)
    up = f" up {elapsed_text(uptime)}" if state == "running" and uptime else ""
    shown = (
        f' <span class="state state-{esc(state)}">{esc(state)}</span>{esc(up)}'
        if state
        else ""
    )
    return f"<details{flag}><summary>{esc(part.part)}{shown}</summary>{body}</details>"


def _seconds(row: StatRow) -> float | None:
    """A statistic in seconds (its name ends in `_s`), None for any other."""
    if not row.name.endswith("_s"):
        return None
    try:
        value = float(row.value)
    except ValueError:
        return None
    return value if math.isfinite(value) and value >= 0 else None


def _stat_value(row: StatRow) -> str:
    """A value as a person reads it: seconds as a duration ("281.513" as "4 min
    41 s", the figure on hover), the rest as it is."""
    seconds = _seconds(row)
    if seconds is None:
        return esc(row.value)
    return f'<span title="{esc(row.value)} s">{esc(elapsed_text(seconds))}</span>'


def titanic_body(
    entries: Sequence[TitanicEntry],
    total: int,
    stats: PartStats | None,
    now: float,
    zone: tzinfo = UTC,
) -> str:
    out = [f'<p class="count">{total} request{"s" if total != 1 else ""} waiting.</p>']
    if entries:
        items = "".join(
            f'<li class="queued"><div class="head"><span class="name">#{e.position} '
            f"{esc(e.service)}</span><time>{esc(show_time(e.created, now, zone))}</time></div>"
            f'<code class="uuid">{esc(e.uuid)}</code> '
            f'<span class="sub">{e.frames} frame{"s" if e.frames != 1 else ""}</span></li>'
            for e in entries
        )
        out.append(f'<ul class="queue">{items}</ul>')
        if total > len(entries):
            out.append(notice(f"Showing the first {len(entries)}."))
    if stats is not None:
        out.append(_stats_details(stats, opened=True))
    return "".join(out)
