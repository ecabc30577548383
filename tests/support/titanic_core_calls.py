"""Names, a TitanicCore with counted UUIDs, and the calls that TitanicCore tests make
(tests/unit/test_titanic_*.py). Pure: no sockets, no store."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from raspy.cores.titanic import (
    Answer,
    Caller,
    Output,
    Persist,
    TitanicCore,
    TitanicSettings,
)

WALL = 1_700_000_000.0
SVC = b"echo"
CALLER = Caller(b"\xfftitanic.request.0", b"\x00client")
CLOSER = Caller(b"\xfftitanic.close.0", b"\x00client")
REPLIER = Caller(b"\xfftitanic.reply.0", b"\x00client")


def uuid_of(n: int) -> str:
    return f"{n:032x}"


def make_core(**overrides: float) -> TitanicCore:
    counter = itertools.count(1)
    return TitanicCore(
        TitanicSettings(**overrides),  # type: ignore[arg-type]  # test overrides
        new_uuid=lambda: uuid_of(next(counter)),
    )


def only(outputs: Sequence[Output], kind: type[Output]) -> list[Output]:
    return [out for out in outputs if isinstance(out, kind)]


def persist_of(outputs: Sequence[Output]) -> Persist:
    (persist,) = only(outputs, Persist)
    assert isinstance(persist, Persist)
    return persist


def accept(core: TitanicCore, body: Sequence[bytes], now: float = 0.0) -> str:
    """Submit and commit one request; return its UUID."""
    persist = persist_of(core.on_request(CALLER, [SVC, *body], WALL + now))
    out = core.on_committed(persist.token, True, now)
    (answer,) = only(out, Answer)
    assert isinstance(answer, Answer)
    assert answer.body[0] == b"200"
    return answer.body[1].decode()
