"""Clone client (RFC 12/CHP, docs/protocols.md §6): a live local copy of a key subtree.

`CloneClient` keeps a cache in step with the server from a background agent thread
(raspy.client.clone_agent); `fetch_snapshot` is a one-shot read
(raspy.client.clone_fetch). Both take the server as "tcp://HOST:N" or "HOST:N", N the
port base (snapshot at N+1, as raspyd binds).
"""

from __future__ import annotations

import contextlib
import math
import queue
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, InvalidStateError
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Final

import zmq

from raspy.client.clone_agent import Agent, Change, ResyncCommand, SetCommand
from raspy.client.clone_fetch import (
    Snapshot,
    check_subtree,
    fetch_snapshot,
    server_endpoints,
)
from raspy.closing import Closing
from raspy.cores.clone_client import CloneClientCore
from raspy.cores.clone_client_state import ClientSettings
from raspy.errors import ClientTimeout, MalformedMessage, shown
from raspy.library_log import library_logger
from raspy.protocol import clone
from raspy.transport.sockets import Context, CurveKeys

__all__ = ["Change", "CloneClient", "Snapshot", "fetch_snapshot", "server_endpoints"]

log = library_logger(component="clone_client")

_CLOSED: Final = object()


class CloneClient(Closing):
    """A live copy of one subtree (b"": the whole map) kept by an agent thread.

    Reads (`get`, `items`) come from the local cache; writes go to the server and
    show in the cache once the server publishes them. Callbacks and change iterators
    see every change in sequence order, snapshot differences included.
    """

    def __init__(
        self,
        server: str | clone.Endpoints,
        subtree: bytes = b"",
        *,
        context: Context | None = None,
        server_ttl_s: float = 5.0,
        resend_s: float = 2.0,
        max_set_attempts: int = 5,
        max_unconfirmed: int = 10_000,
        curve: CurveKeys | None = None,
    ) -> None:
        check_subtree(subtree)
        if not (server_ttl_s > 0 and resend_s > 0) or max_set_attempts < 1:  # NaN too
            raise ValueError("server_ttl_s and resend_s must be > 0, attempts >= 1")
        if max_unconfirmed < 1:
            raise ValueError(f"max_unconfirmed must be >= 1, got {max_unconfirmed}")
        self.endpoints = server_endpoints(server)
        self.subtree = subtree
        self._own_context = context is None
        self._context: Context = zmq.Context() if context is None else context
        self._callbacks: list[Callable[[Change], None]] = []
        self._queues: list[queue.SimpleQueue[object]] = []
        self._listeners_lock = threading.Lock()
        self._closed = False
        settings = ClientSettings(
            server_ttl_s=server_ttl_s,
            resend_s=resend_s,
            max_set_attempts=max_set_attempts,
            max_unconfirmed=max_unconfirmed,
        )
        self._agent = Agent(
            self._context,
            self.endpoints,
            CloneClientCore(subtree, settings),
            emit=self._emit,
            curve=curve,
        )
        try:
            self._agent.runner.start()
        except RuntimeError:
            if self._agent.runner.stop() and self._own_context:
                self._context.term()
            raise

    # --- reads ------------------------------------------------------------------------
    def get(self, key: bytes) -> bytes | None:
        """The cached value, or None."""
        with self._agent.lock:
            entry = self._agent.core.cache.get(key)
        return None if entry is None else entry.body

    def items(self, prefix: bytes = b"") -> list[tuple[bytes, bytes]]:
        """(key, value) of every cached key starting with prefix, in key order."""
        with self._agent.lock:
            found = [
                (key, entry.body)
                for key, entry in self._agent.core.cache.items()
                if key.startswith(prefix)
            ]
        return sorted(found)

    @property
    def seq(self) -> int:
        """The sequence number the cache reflects."""
        with self._agent.lock:
            return self._agent.core.last_seq

    @property
    def live(self) -> bool:
        """True while in step with the server (False during a (re-)snapshot)."""
        with self._agent.lock:
            return self._agent.core.live

    @property
    def syncs(self) -> int:
        """How many snapshots have completed: one more each time the cache became
        the server's copy again (at start, after a loss of the server, after a gap),
        so a caller can compare what it wrote with what the server now holds."""
        return self._agent.syncs

    def wait_synced(self, timeout_s: float = 5.0) -> None:
        """Block until the cache is in step with the server (`live`): the first
        snapshot, or after a start-over (a server lost or restarted, a gap) the new
        one, is complete; ClientTimeout otherwise. ValueError once the client is
        closed (then too when close() comes while it waits): no snapshot can come."""
        _check_wait("timeout_s", timeout_s)
        deadline = time.monotonic() + timeout_s
        self._check_open()
        while not self._agent.synced.wait(min(0.5, deadline - time.monotonic())):
            self._check_open()
            if time.monotonic() >= deadline:
                break  # in slices: Ctrl-C is seen within half a second
        self._check_open()
        if not self._agent.synced.is_set():
            raise ClientTimeout(
                f"no snapshot from {self.endpoints.snapshot} in {timeout_s:g} s"
            )

    def stats(self) -> dict[str, int]:
        """Counters: snapshots, gaps, reconnects, rejected, resends, set_failed,
        set_dropped (the oldest unconfirmed updates past `max_unconfirmed`)."""
        with self._agent.lock:  # as the agent's steps change them, synced with them
            return dict(self._agent.core.counts)

    # --- writes (§6.4) ----------------------------------------------------------------
    def set(
        self,
        key: bytes,
        body: bytes,
        *,
        ttl_s: float | None = None,
        props: Mapping[str, str] | None = None,
        confirm_timeout_s: float | None = None,
    ) -> None:
        """Send a KVSET with a fresh UUID4; resent with the same UUID until the server
        publishes it. With `confirm_timeout_s`, wait for that (ClientTimeout).
        ValueError for what §6.2-§6.6 forbid (the key, a property, the ttl), for
        a value larger than any server takes (clone.MAX_FRAME_BYTES, 4 MiB), for
        `confirm_timeout_s` with a key outside `subtree`: the server's echo of it
        never reaches this client, so nothing could confirm it, and once the client
        is closed."""
        if not body:
            raise ValueError("an empty body means delete: use delete()")
        self._send(key, body, ttl_s, props, confirm_timeout_s)

    def delete(self, key: bytes, *, confirm_timeout_s: float | None = None) -> None:
        """Delete a key (§6.4: a KVSET with an empty body); ValueError as `set`."""
        self._send(key, b"", None, None, confirm_timeout_s)

    def _send(
        self,
        key: bytes,
        body: bytes,
        ttl_s: float | None,
        props: Mapping[str, str] | None,
        confirm_timeout_s: float | None,
    ) -> None:
        self._check_open()
        if len(body) > clone.MAX_FRAME_BYTES:  # its socket drops the connection at it
            raise ValueError(f"value_too_large: {len(body)} > {clone.MAX_FRAME_BYTES}")
        if confirm_timeout_s is not None:
            _check_wait("confirm_timeout_s", confirm_timeout_s)
        if confirm_timeout_s is not None and not key.startswith(self.subtree):
            # sent once and taken as done (clone_client_writes): no echo comes back
            raise ValueError(
                f"update of {shown(key)} cannot be confirmed: it is outside this "
                f"client's subtree {shown(self.subtree)}, whose echo alone it "
                "receives; send it without confirm_timeout_s, or from a client of "
                "a subtree that holds it"
            )
        update_id = uuid.uuid4().bytes
        frames = clone.kvset(key, body, update_id, tuple((props or {}).items()), ttl_s)
        try:
            clone.check_path_key(key)
            # what every server drops (§6.4): a `ttl` in `props` that is no number,
            # properties over 4 KB; said here, not as "never confirmed" 10 s later
            clone.decode_kvset(frames)
        except MalformedMessage as exc:
            raise ValueError(str(exc)) from exc
        result: Future[None] = Future()
        taken = self._agent.runner.call(SetCommand(key, update_id, frames, result))
        taken.add_done_callback(lambda done: _fail_if_not_taken(done, result))
        if confirm_timeout_s is not None:
            try:
                result.result(timeout=confirm_timeout_s)
            except ClientTimeout:
                raise  # the agent gave up (a TimeoutError too, so caught first)
            except FutureTimeout:
                raise ClientTimeout(
                    f"update of {shown(key)} not confirmed within {confirm_timeout_s} s"
                ) from None

    def resync(self) -> None:
        """Take the server's copy again (new sockets, a new snapshot) without waiting
        for it to go quiet: for a caller that learnt some other way that the server
        was replaced, e.g. on a store restored from a dump, whose sequence numbers
        are below this cache's (CloneClientCore.resync). Returns at once; `syncs`
        counts the snapshot when it is complete. ValueError once closed."""
        self._check_open()
        self._agent.runner.call(ResyncCommand())

    def _check_open(self) -> None:
        """Use after close() is a caller's mistake: a ValueError, as for Client and
        Worker (reads still answer from the last cache)."""
        if self._closed:
            raise ValueError("clone client is closed")

    # --- changes ----------------------------------------------------------------------
    def on_change(self, callback: Callable[[Change], None]) -> None:
        """Call `callback(change)` on the agent thread for every later change.

        Keep it short; an exception is logged and the next change still comes.
        """
        with self._listeners_lock:
            self._callbacks.append(callback)

    def changes(self, timeout_s: float | None = None) -> Iterator[Change]:
        """Changes from this call on (not from the first next()); the iterator ends
        after `timeout_s` without a change (None: at close)."""
        if timeout_s is not None:
            _check_wait("timeout_s", timeout_s)
        inbox: queue.SimpleQueue[object] = queue.SimpleQueue()
        with self._listeners_lock:
            self._queues.append(inbox)
        return self._drain(inbox, timeout_s)

    def _drain(
        self, inbox: queue.SimpleQueue[object], timeout_s: float | None
    ) -> Iterator[Change]:
        try:
            while not self._closed:
                deadline = None if timeout_s is None else time.monotonic() + timeout_s
                item = _next_item(inbox, deadline)
                if item is None or item is _CLOSED:
                    return
                assert isinstance(item, Change)
                yield item
        finally:
            with self._listeners_lock:
                self._queues.remove(inbox)

    def _emit(self, changes: list[Change]) -> None:
        if not changes:
            return
        with self._listeners_lock:
            callbacks, inboxes = list(self._callbacks), list(self._queues)
        for change in changes:
            for inbox in inboxes:
                inbox.put(change)
            for callback in callbacks:
                try:
                    callback(change)
                except Exception:  # the application's bug must not stop the agent
                    log.exception("clone_callback_failed", key=change.key.hex())

    # --- lifetime ---------------------------------------------------------------------
    def close(self) -> None:
        """Stop the agent and close its sockets; unconfirmed sets fail."""
        if self._closed:
            return
        self._closed = True
        stopped = self._agent.runner.stop(timeout_s=10)
        with self._listeners_lock:
            for inbox in self._queues:
                inbox.put(_CLOSED)
        if self._own_context and stopped:  # a stuck agent's sockets keep it open
            self._context.term()


def _check_wait(name: str, seconds: float) -> None:
    """A wait of NaN seconds is a mistake: no deadline compares with it, so the
    wait would never end (or end at once), and the caller is told so instead."""
    if math.isnan(seconds):
        raise ValueError(f"{name} must be a number of seconds, got {seconds!r}")


def _fail_if_not_taken(taken: Future[object], result: Future[None]) -> None:
    """The agent ended before it took the update: its waiter is told at once. A
    done callback that raises is logged by concurrent.futures, a traceback on a
    tool's stderr: this one raises nothing."""
    if not taken.cancelled() and taken.exception() is None:
        return  # taken: the agent answers it
    with contextlib.suppress(InvalidStateError):  # answered meanwhile: that stands
        result.set_exception(
            ClientTimeout("clone client closed before the update was confirmed")
        )


def _next_item(inbox: queue.SimpleQueue[object], deadline: float | None) -> object:
    """The next item, or None at the deadline; wakes twice a second for Ctrl-C."""
    while True:
        wait_s = 0.5 if deadline is None else min(0.5, deadline - time.monotonic())
        if wait_s <= 0:
            return None
        try:
            return inbox.get(timeout=wait_s)
        except queue.Empty:
            continue
