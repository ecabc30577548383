"""Per-service statistics and status, as the original RasPy design has them: every part
of raspyd answers `<host>.<svc>.statistics` and `<host>.<svc>.mmi`, and its values are
published under `/stats/<host>/<svc>/<name>`. Pure: the actor passes everything in.

Values are SNMP-like: a Counter only grows and wraps at 2^32 (Counter32), a Gauge is a
number that goes up and down, a String is text.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Collection, Iterable, Mapping, Sequence

from raspy.cores.supervision import PartState, PartStatus
from raspy.records import frozen

COUNTER32_MODULUS = 2**32
_EXACT_FLOAT_INTS = 2**53  # beyond, a whole float is not one integer: repr


class Kind(enum.StrEnum):
    COUNTER = "counter"
    GAUGE = "gauge"
    STRING = "string"


@frozen
class StatValue:
    kind: Kind
    value: int | float | str

    def text(self) -> str:
        """The value as `get` and the /stats/ tree give it: a whole float as its
        digits, else repr."""
        if isinstance(self.value, float):
            return whole_digits(self.value) or repr(self.value)
        return str(self.value)


def whole_digits(value: float) -> str | None:
    """A whole float as its digits (`104857600`, not `104857600.0`, nor rounded to
    six as `:g` does: `1.04858e+08`); None for any other."""
    if value.is_integer() and abs(value) < _EXACT_FLOAT_INTS:
        return str(int(value))
    return None


def counter32(count: int) -> StatValue:
    """A counter as SNMP shows it: the count modulo 2^32."""
    return StatValue(Kind.COUNTER, count % COUNTER32_MODULUS)


def gauge(value: float) -> StatValue:
    return StatValue(Kind.GAUGE, value)


def string(value: str) -> StatValue:
    return StatValue(Kind.STRING, value)


# Daemon-wide counter names → the part they belong to (by prefix). The edge's counters
# are named after the broker core it runs.
_PREFIXES: dict[str, tuple[str, ...]] = {"edge": ("broker.", "edge.")}
# Values of the broker core and the store that go up and down.
_GAUGE_NAMES = frozenset({"workers", "services", "queued", "queued_bytes", "map_size"})


@frozen
class Snapshot:
    """What the statistics actor reads once per request or publication."""

    statuses: tuple[PartStatus, ...]
    counters: Mapping[str, int]
    gauges: Mapping[str, float]
    now: float  # the same monotonic clock as the statuses


def service_values(snapshot: Snapshot, part: str) -> dict[str, StatValue]:
    """The named values of one part: its supervision values, then its own counters."""
    status = next((s for s in snapshot.statuses if s.name == part), None)
    values: dict[str, StatValue] = {}
    if status is not None:
        running = status.state is PartState.RUNNING
        values["state"] = string(status.state.value)
        values["reason"] = string(status.reason)
        values["restarts"] = counter32(status.restarts)
        values["uptime_s"] = gauge(
            round(snapshot.now - status.since, 3) if running else 0.0
        )
    for prefix in _PREFIXES.get(part, (f"{part}.",)):
        for name, count in snapshot.counters.items():
            if name.startswith(prefix):
                short = name[len(prefix) :]
                values[short] = (
                    gauge(count) if short in _GAUGE_NAMES else counter32(count)
                )
        for name, number in snapshot.gauges.items():
            if name.startswith(prefix):
                values[name[len(prefix) :]] = gauge(number)
    return dict(sorted(values.items()))


def statistics_reply(
    values: Mapping[str, StatValue], body: Sequence[bytes]
) -> list[bytes]:
    """Answer a `.statistics` request.

    `list_keys` → 200 and one frame per name; `get NAME` → 200, kind, value (404 for
    an unknown name); `all` or an empty body → 200 and one JSON object
    {name: {"type": kind, "value": value}}; anything else → 400 and why.
    """
    command = body[0] if body else b"all"
    if command in (b"all", b"") and len(body) <= 1:
        document = {
            name: {"type": v.kind.value, "value": v.value} for name, v in values.items()
        }
        return [b"200", json.dumps(document, sort_keys=True).encode()]
    if command == b"list_keys" and len(body) == 1:
        return [b"200", *(name.encode() for name in values)]
    if command == b"get" and len(body) == 2:
        name = body[1].decode("utf-8", "replace")
        value = values.get(name)
        if value is None:
            return [b"404", f"no statistic named {name}".encode()]
        return [b"200", value.kind.value.encode(), value.text().encode()]
    return [b"400", b"expected list_keys, get NAME or all"]


def mmi_reply(status: PartStatus | None, body: Sequence[bytes]) -> list[bytes]:
    """Answer a `.mmi` request: `status` → 200 running, or 500, the state and why."""
    if list(body) != [b"status"]:
        return [b"400", b"expected status"]
    if status is None:
        return [b"500", b"unknown", b"not supervised"]
    if status.state is PartState.RUNNING:
        return [b"200", b"running"]
    return [b"500", status.state.value.encode(), status.reason.encode()]


# `/stats/<host>/clock/` is the clock health's (actors/clock_health.py), not a part's
CLOCK_SUBTREE = "clock"


def part_of_key(host: str, key: bytes) -> str | None:
    """The part a `/stats/<host>/<part>/<name>` key is published for; None for a
    key of another host, of the clock health, or of no such shape."""
    prefix = f"/stats/{host}/".encode()
    if not key.startswith(prefix):
        return None
    part, slash, _name = key[len(prefix) :].partition(b"/")
    if not slash or not part or part == CLOCK_SUBTREE.encode():
        return None
    return part.decode("utf-8", "replace")


def keys_gone(
    host: str,
    published: Iterable[bytes],
    parts: Collection[str],
    missing_before: frozenset[str],
) -> tuple[list[bytes], frozenset[str]]:
    """The published keys of parts missing now and at the publication before (to
    delete), and the parts missing now (for the next one). Twice in a row: the
    device services are started again with a new Clone server, and one publication
    may fall in between; a key of no part's shape is never deleted."""
    owners = {key: part_of_key(host, key) for key in published}
    missing = frozenset(
        part for part in owners.values() if part is not None and part not in parts
    )
    gone = [key for key, part in owners.items() if part in missing & missing_before]
    return gone, missing


def tree_entries(
    host: str, values: Mapping[str, Mapping[str, StatValue]]
) -> list[tuple[bytes, bytes]]:
    """`/stats/<host>/<svc>/<name>` = the value as text, for every part and name."""
    return [
        (f"/stats/{host}/{part}/{name}".encode(), value.text().encode())
        for part, named in values.items()
        for name, value in named.items()
    ]
