"""SteadyActor on the installed pykka: a failed tell is counted, a failed ask raises."""

from __future__ import annotations

import queue
from typing import Any

import pykka
import pytest
from structlog.testing import capture_logs
from support.wait import wait_until

from raspy.actors.steady import AskNotingInbox, SteadyActor
from raspy.stats import Stats


class _Fragile(SteadyActor):
    """Raises ValueError for "bad", answers anything else with itself."""

    def receive(self, message: Any) -> Any:
        if message == "bad":
            raise ValueError("bad message")
        return message


def test_a_failed_tell_is_counted_and_the_actor_goes_on() -> None:
    stats = Stats()
    ref = _Fragile.start("fragile", stats)
    ref.tell("bad")
    ref.tell("bad")
    assert ref.ask("still there?", timeout=5) == "still there?"
    assert stats.counters() == {"fragile.told_failed": 2}


def test_a_failed_ask_raises_at_the_asker_and_is_no_failed_tell() -> None:
    stats = Stats()
    ref = _Fragile.start("fragile", stats)
    with pytest.raises(ValueError, match="bad message"):
        ref.ask("bad", timeout=5)
    with pytest.raises(ValueError, match="bad message"):
        ref.ask("bad", block=False).get(timeout=5)
    assert ref.ask("still there?", timeout=5) == "still there?"
    assert stats.counters() == {}


def test_a_failed_tell_is_logged_once_a_minute_per_kind_and_error() -> None:
    now = [100.0]
    ref = _Fragile.start("fragile", Stats(), lambda: now[0])
    with capture_logs() as logs:
        ref.tell("bad")
        ref.tell("bad")  # same kind, same error, same minute: counted only
        ref.ask("sync", timeout=5)
        now[0] += 60.0
        ref.tell("bad")
        ref.ask("sync", timeout=5)
    logged = [
        {k: v for k, v in entry.items() if k != "exc_info"}
        for entry in logs
        if entry["event"] == "told_message_failed"
    ]
    event = {
        "event": "told_message_failed",
        "log_level": "error",
        "component": "actor",
        "actor": "fragile",
        "kind": "str",
        "error": "ValueError: bad message",
    }
    assert logged == [event, event]


def test_an_actor_that_stops_itself_from_receive_stops() -> None:
    class _Quitter(SteadyActor):
        def receive(self, message: Any) -> Any:
            self.stop()

    ref = _Quitter.start("quitter", Stats())
    ref.tell("quit")
    wait_until(lambda: not ref.is_alive(), what="the actor stopped")


def test_an_envelope_without_pykkas_mark_is_taken_as_asked() -> None:
    """The feature check: a pykka whose envelopes lack `reply_to` makes the actor
    behave as plain pykka (exceptions go up) and says so once."""
    inbox = AskNotingInbox()
    with capture_logs() as logs:
        inbox.put("no envelope")
        inbox.put(("another",))
        inbox.get(timeout=1)
        inbox.get(timeout=1)
    assert (inbox.asked, inbox.understood) == (True, False)
    assert logs == [
        {
            "event": "pykka_envelope_unrecognised",
            "log_level": "error",
            "component": "actor",
            "kind": "str",
        }
    ]


def test_an_inbox_pykka_did_not_make_through_the_hook_means_plain_pykka() -> None:
    """The feature check: a pykka that stops calling `_create_actor_inbox` (played
    here by a subclass that undoes the hook) gives an actor that a failed tell
    stops, as plain pykka does, and says so at construction."""

    class _Unhooked(_Fragile):
        @staticmethod
        def _create_actor_inbox() -> Any:
            return queue.Queue()

    with capture_logs() as logs:
        ref = _Unhooked.start("unhooked", Stats())
    assert logs == [
        {
            "event": "pykka_inbox_unrecognised",
            "log_level": "error",
            "component": "actor",
            "kind": "Queue",
        }
    ]
    with pytest.raises(ValueError, match="bad message"):
        ref.ask("bad", timeout=5)
    ref.tell("bad")
    wait_until(lambda: not ref.is_alive(), what="the actor stopped, as pykka does")


def _understood(actor: SteadyActor) -> bool:
    inbox = actor.actor_inbox
    return isinstance(inbox, AskNotingInbox) and inbox.understood


def test_pykkas_envelopes_carry_the_mark() -> None:
    """The installed pykka puts envelopes with `reply_to` in the inbox."""

    class _Watching(SteadyActor):
        def receive(self, message: Any) -> Any:
            return (self.handling_ask, _understood(self))

    ref = _Watching.start("watching", Stats())
    assert ref.ask("asked?", timeout=5) == (True, True)
    seen: list[object] = []

    class _Recorder(pykka.ThreadingActor):
        def on_receive(self, message: Any) -> Any:
            seen.append(message)

    recorder = _Recorder.start()

    class _Relay(SteadyActor):
        def receive(self, message: Any) -> Any:
            recorder.tell((self.handling_ask, _understood(self)))

    relay = _Relay.start("relay", Stats())
    relay.tell("told?")
    wait_until(lambda: seen, what="the relay's answer")
    assert seen == [(False, True)]
