"""An actor kept busy on purpose, so that its stop times out (a handler still
running: a slow GPIO read, a hung request), until the test lets it go. The one fake
of the tests of parts stopped and started again beside their old actor."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import pykka
import pytest

from raspy.records import frozen


@frozen
class Busy:
    """Keeps the actor that receives it busy until its Hold's `release` is set."""


@dataclass
class Hold:
    busy: threading.Event = field(default_factory=threading.Event)  # one took Busy
    release: threading.Event = field(default_factory=threading.Event)  # lets go
    held: list[Any] = field(default_factory=list)  # the actors that took one

    def keep_busy(self, ref: pykka.ActorRef[Any]) -> None:
        """`ref`'s actor busy from now until released."""
        ref.tell(Busy())
        assert self.busy.wait(5), "the actor took no Busy"


def hold_busy(
    monkeypatch: pytest.MonkeyPatch, actor: type[pykka.ThreadingActor]
) -> Hold:
    """`actor`'s instances take Busy (Hold.keep_busy); released at the test's end by
    the caller (set `release` in a finally)."""
    hold = Hold()
    receive = actor.on_receive

    def on_receive(self: pykka.ThreadingActor, message: Any) -> Any:
        if isinstance(message, Busy):
            hold.held.append(self)
            hold.busy.set()
            hold.release.wait(60)
            return None
        return receive(self, message)

    monkeypatch.setattr(actor, "on_receive", on_receive)
    return hold
