"""Live values for the browsers: Server-Sent Events framing and the fan-out hub.

Pure: the hub is fed tree changes and tells each client's `wake` callback that it
has something to send; whoever owns the connection takes the batch and writes it.
A slow browser never grows memory: its pending changes are coalesced per key (the
latest value wins), so a client holds at most one entry per key it may see.

A batch is a `kv` event (key -> value) and, when a control's key (raspy.controls)
is in it, a `control` event after it: key -> why its value does not fit the control
(None: it fits), said by the server's `set_elsewhere()`, which app.js shows as it
is.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Final

from raspy import json_text
from raspy.controls import Control, set_elsewhere
from raspy.devices.reading import DEVICE_TREE
from raspy.devices.template import JsonValue

LIVE_PREFIXES: Final = (DEVICE_TREE, "/scenario/")
MAX_PENDING_KEYS: Final = 20_000
RETRY_MS: Final = 2000  # how soon a browser reconnects after the stream ends


def frame(event: str, data: str, *, event_id: str | None = None) -> bytes:
    """One SSE event (WHATWG HTML §9.2): each data line prefixed, a blank line after."""
    if "\n" in event or "\r" in event:
        raise ValueError("an event name is one line")
    lines = [f"event: {event}"]
    if event_id is not None:
        if "\n" in event_id or "\r" in event_id or "\0" in event_id:
            raise ValueError("an event id is one line without NUL")
        lines.append(f"id: {event_id}")
    lines += [f"data: {line}" for line in data.replace("\r\n", "\n").split("\n")]
    # a lone surrogate (JSON allows "\ud800") becomes "?": the stream never breaks
    return ("\n".join(lines) + "\n\n").encode("utf-8", "replace")


def comment(text: str = "") -> bytes:
    """A comment line: keeps the connection alive, the browser ignores it."""
    return f": {text}\n\n".encode()


def retry(ms: int = RETRY_MS) -> bytes:
    return f"retry: {ms}\n\n".encode()


def is_live(key: str) -> bool:
    return key.startswith(LIVE_PREFIXES)


def _fragment(key: str, body: bytes) -> tuple[str, JsonValue]:
    """`"key": value` as JSON, made once per change and shared by every client, and
    the value it says. A number that is not finite (NaN, Infinity, 1e400: Python
    reads them) has no JSON, and JSON.parse refuses Python's words for it (app.js
    lost the whole batch): an infinity is sent as `1e999`, which the page's script
    reads as its Infinity, and NaN as null, no number; the page's load says them
    the same (html.show_value), as the value given back holds them."""
    value = json_text.tree_value(body)
    try:
        text = json.dumps(value, ensure_ascii=False, allow_nan=False)
    except ValueError:
        value = _no_nan(value)
        text = _with_infinities(value)
    return json.dumps(key, ensure_ascii=False) + ":" + text, value


def _no_nan(value: JsonValue) -> JsonValue:
    """`value` with each NaN in it, at any depth, as None."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, list):
        return [_no_nan(item) for item in value]
    if isinstance(value, dict):
        return {name: _no_nan(item) for name, item in value.items()}
    return value


def _with_infinities(value: JsonValue) -> str:
    """`value` (without NaN) as JSON, an infinity in it as `1e999` or `-1e999`."""
    if isinstance(value, float) and math.isinf(value):
        return "1e999" if value > 0 else "-1e999"
    if isinstance(value, list):
        return "[" + ",".join(_with_infinities(item) for item in value) + "]"
    if isinstance(value, dict):
        return (
            "{"
            + ",".join(
                json.dumps(name, ensure_ascii=False) + ":" + _with_infinities(item)
                for name, item in value.items()
            )
            + "}"
        )
    return json.dumps(value, ensure_ascii=False)


@dataclass
class LiveClient:
    """One browser's stream: what it has not been sent yet (latest per key)."""

    wake: Callable[[], None]
    pending: dict[str, str] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)  # the controls' reasons
    overflowed: bool = False

    def take(self) -> bytes:
        """The pending changes as one `kv` event, then the controls' reasons as a
        `control` event (empty bytes: nothing to send)."""
        if not self.pending:
            return b""
        data = "{" + ",".join(self.pending.values()) + "}"
        notes = "{" + ",".join(self.notes.values()) + "}"
        self.pending, sent = {}, self.notes
        self.notes = {}
        return frame("kv", data) + (frame("control", notes) if sent else b"")


class LiveHub:
    """Fans tree changes out to the connected clients; one thread uses it."""

    def __init__(
        self,
        max_pending_keys: int = MAX_PENDING_KEYS,
        controls: Sequence[Control] = (),
    ) -> None:
        """`controls`: their keys are live beyond LIVE_PREFIXES, with the reason
        their value breaks them."""
        self._controls = {c.key: c for c in controls}
        self._notes: dict[str, str] = {}  # a control key's `control` fragment
        self._clients: list[LiveClient] = []
        # the latest fragment of every live key, and its value: kept, not read again
        # for a page (from a handler's deeper stack, a value nested deep that the
        # change's read took could fail with a RecursionError)
        self._current: dict[str, tuple[str, JsonValue]] = {}
        self._max_pending_keys = max_pending_keys
        self.closed = False

    def seed(self, items: Iterable[tuple[str, bytes]]) -> None:
        """Values read from the store at start; what the subscription brought wins."""
        for key, body in items:
            if self._live(key) and body and key not in self._current:
                self._current[key] = _fragment(key, body)
                self._note(key, self._current[key][1])

    def _live(self, key: str) -> bool:
        return is_live(key) or key in self._controls

    def _note(self, key: str, value: JsonValue) -> str | None:
        """The `control` fragment of a control's key (None: not a control's): why
        its value breaks it, null when it fits or there is none."""
        control = self._controls.get(key)
        if control is None:
            return None
        reason = None if value is None else set_elsewhere(control, value)
        text = json.dumps(key, ensure_ascii=False) + ":" + json.dumps(reason)
        self._notes[key] = text
        return text

    def values(self, prefix: str) -> dict[str, JsonValue]:
        """The current value of every live key under `prefix` (a page's first view)."""
        return {
            key: value
            for key, (_, value) in self._current.items()
            if key.startswith(prefix)
        }

    def join(self, wake: Callable[[], None]) -> LiveClient:
        """A new client; its first batch is the current value of every live key."""
        client = LiveClient(
            wake,
            {key: text for key, (text, _) in self._current.items()},
            {key: self._notes[key] for key in self._current if key in self._notes},
        )
        self._clients.append(client)
        if client.pending:
            wake()
        return client

    def leave(self, client: LiveClient) -> None:
        if client in self._clients:
            self._clients.remove(client)

    def publish(self, changes: Iterable[tuple[str, bytes]]) -> None:
        """Queue `changes` (key, body; empty body: deleted) for every client."""
        fragments: list[tuple[str, str, str | None]] = []
        for key, body in changes:
            if not self._live(key):
                continue
            made = _fragment(key, body)
            fragments.append((key, made[0], self._note(key, made[1] if body else None)))
            if body:
                self._current[key] = made
            else:
                self._current.pop(key, None)
        if not fragments:
            return
        for client in self._clients:
            was_idle = not client.pending
            for key, text, note in fragments:
                client.pending[key] = text
                if note is not None:
                    client.notes[key] = note
            if len(client.pending) > self._max_pending_keys:
                client.pending, client.notes = {}, {}
                client.overflowed = True  # it reloads the page: a fresh snapshot
            if was_idle or client.overflowed:
                client.wake()

    def close(self) -> None:
        """The server is stopping: every client ends its stream."""
        self.closed = True
        for client in self._clients:
            client.wake()

    def __len__(self) -> int:
        return len(self._clients)
