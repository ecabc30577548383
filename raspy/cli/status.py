"""`raspy status`: one line per supervised part of every hub the broker knows.

It finds the parts by their `<host>.<part>.mmi` services (mmi.services), asks each
`<host>.<part>.statistics` for all its values, and counts the broker's workers of the
services of that host whose names carry the part's name (mmi.workers), each service
for one part: the one named by the last word of it that names a part (`core.cron`:
cron's).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from raspy import json_text
from raspy.client.mdp import Client
from raspy.elapsed_text import elapsed_text
from raspy.errors import ClientTimeout, MalformedReply
from raspy.names import HTTP_SERVICE
from raspy.records import frozen

_SUPERVISION = frozenset({"state", "reason", "restarts", "uptime_s"})
_SHOWN_COUNTERS = 3
_OWN_SERVICES = (".mmi", ".statistics")
# parts whose service is named otherwise than the part (http_client serves <host>.http)
_SERVICE_WORD = {"http_client": HTTP_SERVICE}


@frozen
class Row:
    host: str
    part: str
    state: str
    workers: int
    uptime_s: float
    restarts: int
    counters: tuple[tuple[str, int | float], ...]  # every one, 0 too, largest first
    reason: str


class ServicesUnlisted(ClientTimeout):
    """The broker answered `mmi.services` with no list (501: it has no MMI): a hub
    whose parts cannot be found, said on one line (exit 1) as one that does not
    answer is, not shown as a hub without parts."""


class HubSilent(ClientTimeout):
    """Not a word from the broker to the first question: the hub's usual causes
    (not running there, another port base, CURVE) are worth a hint; a question
    after it that goes unanswered is no such sign."""


def collect(client: Client) -> list[Row]:
    """Ask the broker and every part; raises ClientTimeout if the hub does not answer
    (HubSilent if it answers nothing at all, ServicesUnlisted if its broker does not
    list its services)."""
    try:
        services = client.request("mmi.services", "*.mmi")
    except MalformedReply:
        raise
    except ClientTimeout as exc:
        raise HubSilent(str(exc)) from None
    if services[:1] != [b"200"]:
        code = services[0].decode("utf-8", "replace") if services else "nothing"
        raise ServicesUnlisted(
            f"{client.endpoint}: the broker does not list its services "
            f"(mmi.services answered {code})"
        )
    workers = _worker_counts(client.request("mmi.workers", "*"))
    parts = [_host_part(raw) for raw in services[1:]]
    words: dict[str, set[str]] = {}
    for host, part in parts:
        words.setdefault(host, set()).add(_word(part))
    rows: list[Row] = []
    for host, part in parts:
        service = f"{host}.{part}.statistics"
        try:
            values = _values(client.request(service, "all"))
        except MalformedReply:  # an answer came, but not MDP: not "no answer"
            values = {"reason": _text(f"a reply that is not statistics from {service}")}
        except ClientTimeout:  # one part's silence is that part's row, not a failure
            values = {"reason": _text(f"no answer from {service}")}
        count = _workers_of(host, part, words[host], workers)
        rows.append(_row(host, part, values, count))
    return rows


def _worker_counts(reply: Sequence[bytes]) -> dict[str, int]:
    """Live workers (idle plus busy) by service in an `mmi.workers` reply; what is
    not of raspy's shape counts none: another broker may answer it its own way."""
    return {
        service: _count(counts.get("idle")) + _count(counts.get("busy"))
        for service, counts in _json_object(reply).items()
        if isinstance(counts, dict)
    }


def _json_object(reply: Sequence[bytes]) -> dict[str, Any]:
    """The JSON object of a `200` reply; {} for any other reply (a status, frames or
    a body not of that shape): its sender need not be raspy."""
    if len(reply) != 2 or reply[0] != b"200":
        return {}
    try:
        document = json_text.loads(reply[1])
    except ValueError:
        return {}
    return document if isinstance(document, dict) else {}


def _count(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _text(value: str) -> dict[str, Any]:
    """A string value as an `all` reply holds it."""
    return {"type": "string", "value": value}


def _host_part(raw: bytes) -> tuple[str, str]:
    """`<host>.<part>.mmi` as (host, part)."""
    host, _, rest = raw.decode("utf-8", "replace").partition(".")
    return host, rest.removesuffix(".mmi")


def _word(part: str) -> str:
    """The word of a part's services (`devices.fake`: `fake`, http_client: http)."""
    word = part.rsplit(".", 1)[-1]
    return _SERVICE_WORD.get(word, word)


def _values(reply: Sequence[bytes]) -> dict[str, dict[str, Any]]:
    """An `all` reply as {name: {"type": ..., "value": ...}}, leaving out what is not
    of that shape: any MDP worker may register a `<host>.<part>.statistics` service,
    and what it answers must not break the table (it did: an internal error)."""
    return {
        name: entry
        for name, entry in _json_object(reply).items()
        if isinstance(entry, dict)
        and isinstance(entry.get("type"), str)
        and isinstance(entry.get("value"), int | float | str)
        and not isinstance(entry.get("value"), bool)
    }


def _workers_of(
    host: str, part: str, words: Collection[str], workers: Mapping[str, int]
) -> int:
    """Live workers of the services named after the part (not its own status ones),
    of those whose last word that is one of the host's parts' `words` is its own.
    A service is the host's if its name begins with the host or a part's word
    (`titanic.request`); another's (a board's `cellar.fake.devices`) is not."""
    word = _word(part)
    total = 0
    for service, count in workers.items():
        if service.endswith(_OWN_SERVICES):
            continue
        names = service.removeprefix(f"{host}.").split(".")
        if not service.startswith(f"{host}.") and names[0] not in words:
            continue
        owner = next((name for name in reversed(names) if name in words), None)
        if owner == word:
            total += count
    return total


def _row(host: str, part: str, values: Mapping[str, Any], workers: int) -> Row:
    def value(name: str, default: Any) -> Any:
        return values.get(name, {}).get("value", default)

    def number(name: str, default: int) -> int:
        found = value(name, default)
        if isinstance(found, str) or not math.isfinite(found):
            return default
        return int(found)

    if part == "edge":
        workers = number("workers", workers)
    counters = sorted(
        (
            (name, entry["value"])
            for name, entry in values.items()
            if entry["type"] == "counter"
            and name not in _SUPERVISION
            and not isinstance(entry["value"], str)
        ),
        key=lambda item: (-item[1], item[0]),
    )
    return Row(
        host=host,
        part=part,
        state=str(value("state", "unknown")),
        workers=workers,
        uptime_s=number("uptime_s", 0),
        restarts=number("restarts", 0),
        counters=tuple(counters),
        reason=str(value("reason", "")),
    )


def _printable(text: str) -> str:
    """A cell as it is shown: a letter that is not printable as `?`. Names and
    values come from any MDP worker (a `<host>.<part>.mmi` service, its statistics),
    and an escape sequence among them would act on the terminal (clear it, set its
    title) instead of being shown."""
    return "".join(ch if ch.isprintable() else "?" for ch in text)


def table(rows: Sequence[Row], *, every_counter: bool = False) -> list[str]:
    """Aligned text lines: a header, then one line per part, with its three
    largest counters above 0 (`every_counter`: all of them, those at 0 too, `raspy
    status --all`)."""
    header = ("SERVICE", "STATE", "WORKERS", "UPTIME", "RESTARTS", "COUNTERS")
    lines: list[tuple[str, ...]] = [header]
    for row in rows:
        counters = (
            row.counters
            if every_counter
            else tuple((n, c) for n, c in row.counters if c)[:_SHOWN_COUNTERS]
        )
        shown = ", ".join(f"{name}={count}" for name, count in counters)
        if row.reason:
            shown = f"{shown}; {row.reason}" if shown else row.reason
        line = (
            f"{row.host}.{row.part}",
            row.state,
            str(row.workers),
            elapsed_text(row.uptime_s, compact=True) if row.state == "running" else "-",
            str(row.restarts),
            shown,
        )
        lines.append(tuple(_printable(cell) for cell in line))
    widths = [max(len(line[i]) for line in lines) for i in range(len(header) - 1)]
    return [
        "  ".join(
            [
                *(cell.ljust(width) for cell, width in zip(line, widths, strict=False)),
                line[-1],
            ]
        ).rstrip()
        for line in lines
    ]
