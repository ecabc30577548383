"""What the core knows of the Clone tree: the latest values, and who wants which key.

TreeView holds the server's values, written by the CoreActor's thread only, and the
writes the scenarios sent that have not come back yet: a scenario's actor records
each one as it sends it, from its own thread, so every kv() of every scenario reads
it at once (a doorbell counter run twice within a millisecond counts two). Readers
decode bodies on demand. Routes answers, per key, the scenario actors whose triggers
or expressions read it; the answer is cached per key, because the same device keys
change again and again.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Final, Generic, TypeVar

from raspy import json_text
from raspy.devices.template import JsonValue

# the core holds a TreeView from its start, scenarios or none: the engine's modules
# are imported where a scenario is at hand (most of a raspyd start's CPU otherwise)
if TYPE_CHECKING:
    from raspy.rules.engine import Status
    from raspy.rules.model import Scenario

_ROUTE_CACHE_LIMIT: Final = 50_000
Target = TypeVar("Target")


class TreeView:
    """The server's latest bodies by key, and on top of them the writes sent from
    this raspyd that are on their way (read-your-writes).

    A sent write is shown from the moment it is sent until the server's update with
    its uuid comes back (the server numbered it, and every update of the key before
    it has come too; the server's values are the view again, later ones included) or
    the server says it dropped it (KeyRefused: then it never held that value). Of
    several writes of a key on their way the last one sent is shown: the server
    numbers them in that order. One lock orders the sends of every thread with the
    view's record of them, and the updates of the core's thread.
    """

    def __init__(self) -> None:
        self._bodies: dict[str, bytes] = {}
        self._sent: dict[str, list[tuple[bytes, bytes]]] = {}  # key -> (uuid, body)
        self._lock = threading.Lock()

    def seed(self, items: Iterable[tuple[str, bytes]]) -> None:
        for key, body in items:
            self._bodies.setdefault(key, body)

    def update(self, key: str, body: bytes, uuid: bytes = b"") -> bytes | None:
        """The server's update (empty body: delete), `uuid` its writer's; return the
        server's previous body (what a trigger compares with: not a sent write)."""
        with self._lock:
            if uuid and key in self._sent:
                self._settle(key, uuid)
            if body:
                old = self._bodies.get(key)
                self._bodies[key] = body
                return old
            return self._bodies.pop(key, None)

    def send(self, key: str, body: bytes, publish: Callable[[], bytes]) -> None:
        """Carry out a write from any thread: `publish` sends it and returns its
        uuid; the view shows `body` (empty: deleted) from now on. An error from
        `publish` leaves the view as it was."""
        with self._lock:
            uuid = publish()
            self._sent.setdefault(key, []).append((uuid, body))

    def refused(self, key: str, uuid: bytes) -> bool:
        """The server dropped the write `uuid`: it shows no longer (the one sent
        before it, or the server's value, does); False if it was not on its way."""
        with self._lock:
            sent = self._sent.get(key)
            kept = [entry for entry in sent or () if entry[0] != uuid]
            if sent is None or len(kept) == len(sent):
                return False
            if kept:
                self._sent[key] = kept
            else:
                del self._sent[key]
            return True

    def _settle(self, key: str, uuid: bytes) -> None:
        """The update of write `uuid` came back: it and the writes sent before it
        are settled (each one came back or was refused before it)."""
        sent = self._sent[key]
        index = next((i for i, entry in enumerate(sent) if entry[0] == uuid), None)
        if index is None:
            return  # another writer's update, before ours in the server's order
        if index + 1 < len(sent):
            self._sent[key] = sent[index + 1 :]
        else:
            del self._sent[key]

    def kv(self, key: str) -> JsonValue:
        return json_text.tree_value(self._body(key))

    def kv_size(self, key: str) -> int:
        """The bytes of JSON kv(key) decodes (expr_functions charges a read by them)."""
        return len(self._body(key) or b"")

    def _body(self, key: str) -> bytes | None:
        """The body the view shows for `key`: the last write sent, else the server's."""
        with self._lock:
            sent = self._sent.get(key)
            return sent[-1][1] if sent else self._bodies.get(key)

    def on_the_way(self) -> int:
        """How many sent writes have not come back yet."""
        with self._lock:
            return sum(len(sent) for sent in self._sent.values())

    def keys_under(self, prefix: str) -> set[str]:
        """The keys that start with `prefix` (undecoded: only their names matter);
        the server's, as matching() (core thread only)."""
        return {key for key in self._bodies if key.startswith(prefix)}

    def matching(self, patterns: Iterable[str]) -> tuple[tuple[str, JsonValue], ...]:
        """(key, value) of every key one of the globs matches, in key order, as the
        server has them (the `for:` holds, which its updates drive; most scenarios
        have no `for:` trigger: no glob, nothing to go through)."""
        patterns = list(patterns)
        if not patterns:
            return ()
        from raspy.rules.trigger_match import matcher  # with the first scenario

        wanted = matcher(patterns)
        found = sorted(key for key in self._bodies if wanted(key))
        return tuple((key, json_text.tree_value(self._bodies[key])) for key in found)


def status_from_tree(tree: TreeView, name: str) -> Status:
    """What the tree kept of a scenario from before a restart: runs, last run,
    trigger, error and its time, and `error` if it was its state because of a run
    (`error_from` "run": kept until the next run starts). Any other state is the
    start's to say: an error of the text or of the actor's start is judged again
    (a text that loads now is idle), as is an `error` stored without `error_from`
    (by a raspy before it: where it came from is not known)."""
    from raspy.rules.engine import State, Status  # with the first scenario
    from raspy.rules.engine_output import ErrorFrom

    state = tree.kv(f"/scenario/{name}/state")
    error_from = tree.kv(f"/scenario/{name}/error_from")
    run_error = state == State.ERROR.value and error_from == ErrorFrom.RUN.value
    runs = tree.kv(f"/scenario/{name}/runs")
    last_run = tree.kv(f"/scenario/{name}/last_run")
    trigger = tree.kv(f"/scenario/{name}/last_trigger")
    error = tree.kv(f"/scenario/{name}/last_error")
    error_at = tree.kv(f"/scenario/{name}/last_error_at")
    return Status(
        State.ERROR if run_error else State.IDLE,
        runs if isinstance(runs, int) and not isinstance(runs, bool) else 0,
        float(last_run)
        if isinstance(last_run, int | float) and not isinstance(last_run, bool)
        else None,
        trigger if isinstance(trigger, dict) else None,
        error if isinstance(error, str) else None,
        last_error_at=float(error_at)
        if isinstance(error_at, int | float) and not isinstance(error_at, bool)
        else None,
    )


def interest(scenario: Scenario, host: str) -> list[str]:
    """Globs of the keys a scenario reads: its trigger patterns, and the literal kv()
    keys of its conditions and actions escaped so that each matches itself only (a
    Clone key may hold `[`, `*` or `?`); `{host}` and variables filled in."""
    from raspy.rules import model, walk  # with the first scenario
    from raspy.rules.expr_keys import filled, literal_globs

    patterns = [
        t.pattern
        for t in scenario.triggers
        if isinstance(t, model.KvTrigger | model.EventTrigger)
    ]
    names: dict[str, JsonValue] = {**scenario.variables, "host": host}
    globs = [g for g in (filled(p, names) for p in patterns) if g is not None]
    # a `when:` trigger's expressions among them
    return globs + literal_globs(walk.expressions(scenario), names)


def when_patterns(scenario: Scenario, host: str) -> list[str]:
    """Globs of the keys its `when:` tests read, each matching itself only, as
    rules.when_watch re-tests them (what a start reads as the core had them)."""
    from raspy.rules import model  # with the first scenario
    from raspy.rules.expr_keys import literal_globs

    names: dict[str, JsonValue] = {**scenario.variables, "host": host}
    whens = (t for t in scenario.triggers if isinstance(t, model.WhenTrigger))
    return literal_globs((t.expression for t in whens), names)


class Routes(Generic[Target]):
    """Which scenario actors (`Target`: their refs) want a key (one thread only;
    `targets`, every one routed to, may be read from any thread)."""

    def __init__(self) -> None:
        self._entries: dict[str, tuple[Target, Callable[[str], bool]]] = {}
        self._cache: dict[str, tuple[Target, ...]] = {}
        self.targets: tuple[Target, ...] = ()  # replaced whole, never changed

    def add(self, name: str, ref: Target, patterns: list[str]) -> None:
        from raspy.rules.trigger_match import matcher  # with the first scenario

        self._entries[name] = (ref, matcher(patterns))
        self._changed()

    def remove(self, name: str) -> None:
        if self._entries.pop(name, None) is not None:
            self._changed()

    def _changed(self) -> None:
        self._cache.clear()
        self.targets = tuple(ref for ref, _ in self._entries.values())

    def refs(self, key: str) -> tuple[Target, ...]:
        found = self._cache.get(key)
        if found is None:
            if len(self._cache) >= _ROUTE_CACHE_LIMIT:
                self._cache.clear()
            found = tuple(ref for ref, wants in self._entries.values() if wants(key))
            self._cache[key] = found
        return found
