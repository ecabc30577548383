"""The Clone server actor: starts and stops the Clone runner (raspy.actors.clone.loop)
and answers control asks; publishing in-process goes through ClonePublisher.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from concurrent.futures import CancelledError, Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, Final

import pykka
import structlog
import zmq

from raspy.actors import messages as msgs
from raspy.actors.clone.loop import STOP_FLUSH_S, CloneLoop
from raspy.actors.clone.publisher import Backlog, ClonePublisher
from raspy.actors.clone.seeds import Seed
from raspy.clock import Clock
from raspy.config import CloneConfig, LimitsConfig, NetworkConfig
from raspy.cores.clone import Guarded, Update
from raspy.errors import StoreError, StoreNotTaken, StoreOutcomeUnknown
from raspy.hang_watch import Ask
from raspy.protocol import clone
from raspy.records import frozen
from raspy.stats import Stats
from raspy.storage.scenario_store import live_records, live_tree
from raspy.storage.store import Op, Store
from raspy.transport.runner import RunnerStopped
from raspy.transport.sockets import CurveKeys

log = structlog.get_logger(component="clone")

__all__ = [
    "COMMIT_ALONG_MAX_S",
    "PART_STOPPED",
    "CloneLoop",
    "ClonePublisher",
    "CloneServerActor",
    "clone_io_ask",
    "commit_along",
    "read_records",
    "read_tree",
    "set_if_unchanged",
    "start_clone_server",
    "subscribe_seeded",
]

_ASK_TIMEOUT_S: Final = 5.0
_IO_ANSWER_S: Final = 5.0  # the I/O thread's answer to a command handed on to it
# a CommitAlong's ask: longer than the server's own wait on its I/O thread, so a
# late I/O thread is told by the server (pykka.Timeout), and the cancel decides
_ALONG_ASK_S: Final = _IO_ANSWER_S + _ASK_TIMEOUT_S
# a CommitAlong taken ends (stored, failed, or the server's stop); a writer on one
# transaction this long is hung, and raspyd's hang watch (hung_after_s, 60 s by
# default) ends the hub before: past it, the outcome is said unknown
_TAKEN_WAIT_S: Final = 600.0
# the longest a commit_along waits: its ask, then the store's transaction
COMMIT_ALONG_MAX_S: Final = _ALONG_ASK_S + _TAKEN_WAIT_S
# why a write was not done when a part it needs (this server, an actor) stopped,
# as an answer to a user says it (the core's 500s say it too)
PART_STOPPED: Final = "a part of the hub stopped (see the log)"


@frozen
class _IoFailed:
    error: BaseException


class CloneServerActor(pykka.ThreadingActor):
    """Starts and stops the Clone I/O thread; answers control asks (never hot path)."""

    def __init__(
        self,
        context: zmq.Context[zmq.Socket[bytes]],
        store: Store,
        config: CloneConfig,
        endpoints: clone.Endpoints,
        *,
        clock: Clock,
        stats: Stats,
        linger_ms: int = 500,
        curve: CurveKeys | None = None,
        limits: LimitsConfig | None = None,
    ) -> None:
        super().__init__()
        self._loop = CloneLoop(
            context,
            store,
            config,
            endpoints,
            clock=clock,
            stats=stats,
            linger_ms=linger_ms,
            on_failure=self._io_failed,
            curve=curve,
            limits=limits,
        )

    def _io_failed(self, error: BaseException) -> None:
        try:
            self.actor_ref.tell(_IoFailed(error))
        except pykka.ActorDeadError:
            return

    def on_start(self) -> None:
        self._loop.runner.start()

    def io_ask(self) -> Ask:
        """The I/O thread's proof of life (raspy.hang_watch), asked by any thread
        without this actor: a no-op command (Tick) through the runner, answered once
        the thread takes commands."""
        runner = self._loop.runner
        return lambda: runner.call(msgs.Tick())

    def on_stop(self) -> None:
        self._loop.runner.stop(timeout_s=STOP_FLUSH_S + 5)

    def _handed_on(self, message: object) -> object:
        """The I/O thread's answer, its end told as the callers of any actor take
        it: an I/O thread that has just failed (its _IoFailed still on its way
        here) as this server gone, one that does not answer as a timeout (they
        catch neither RuntimeError nor TimeoutError: a statistics actor's turn
        ended in a traceback, a scenario delete in a 500 after it was done)."""
        try:
            return self._loop.runner.call(message).result(timeout=_IO_ANSWER_S)
        except RunnerStopped as exc:
            raise pykka.ActorDeadError(f"the Clone server stopped: {exc}") from exc
        except FutureTimeout as exc:
            raise pykka.Timeout(
                f"the Clone I/O thread did not answer in {_IO_ANSWER_S:g} s"
            ) from exc

    def on_receive(self, message: Any) -> Any:
        match message:
            case msgs.GetPublishOutbox():
                return self._loop.outbox  # what a ClonePublisher appends to
            case msgs.GetCloneEndpoints():
                return self._loop.bound_endpoints
            case (
                msgs.CloneSubscribe()
                | msgs.CloneUnsubscribe()
                | msgs.GetStats()
                | msgs.GetUnstored()
                | msgs.SetIfUnchanged()
                | msgs.CommitAlong()
                | msgs.SubscribeSeeded()
            ):
                return self._handed_on(message)
            case msgs.Tick():
                self._loop.runner.call(message)
                return None
            case _IoFailed(error=error):
                # its close() still stores the pending readings: the server the
                # supervisor starts in this one's place reads the store after that
                self._loop.runner.stop(timeout_s=STOP_FLUSH_S + 5)
                raise RuntimeError("clone I/O thread failed") from error
            case _:
                log.warning("unexpected_message", kind=type(message).__name__)
                return None


def subscribe_seeded(
    clone_ref: pykka.ActorRef[Any],
    prefix: str,
    ref: pykka.ActorRef[Any],
    *,
    refusals: bool = False,
    backlog: Backlog | None = None,
) -> list[tuple[str, bytes]]:
    """Subscribe `ref` to `prefix` (msgs.SubscribeSeeded) and return the live tree
    under it (key order) as it stood when the subscription began: the KeyChanged
    that follow are each change after it, once, with the seed's value as the old
    one (read_tree, read after subscribing, could already hold a change still to
    be told). Like read_tree's, it holds every in-process publish sent before the
    call. The view is read here, not on the Clone I/O thread. Raises
    pykka.Timeout or pykka.ActorDeadError when the server did not answer, or the
    StoreError of a view that could not be read: `ref` is then not subscribed,
    and no view is left open."""
    asked = msgs.SubscribeSeeded(prefix.encode("utf-8"), ref, refusals, backlog)
    seed = _seed(clone_ref, asked)
    try:
        try:
            return live_tree(seed.view, prefix, seed.unstored)
        finally:
            seed.view.close()
    except BaseException:  # its caller fails: no change is told to it from here on
        with contextlib.suppress(pykka.ActorDeadError, pykka.Timeout):
            unsubscribe = msgs.CloneUnsubscribe(ref, asked.prefix)
            clone_ref.ask(unsubscribe, timeout=_ASK_TIMEOUT_S)
        raise


def _seed(clone_ref: pykka.ActorRef[Any], asked: msgs.SubscribeSeeded) -> Seed:
    seed = _served(clone_ref, asked)
    assert isinstance(seed, Seed)
    return seed


def _served(
    clone_ref: pykka.ActorRef[Any], asked: msgs.SubscribeSeeded | msgs.GetUnstored
) -> object:
    """The answer `asked` waits for, resolved later on the I/O thread, or an error
    once it never will be served (its answer cancelled): an ask that failed may
    still reach the I/O thread later."""
    answer: Future[object] = asked.answer
    try:
        try:
            clone_ref.ask(asked, timeout=_ASK_TIMEOUT_S)
            return answer.result(timeout=_ASK_TIMEOUT_S)
        except CancelledError:  # the server stopped first
            raise pykka.ActorDeadError("the Clone server stopped") from None
        except FutureTimeout:
            raise pykka.Timeout(
                f"no answer for {asked.prefix.decode()!r} in time"
            ) from None
    except BaseException:
        if answer.cancel():  # not served: never will be (a seed: nor subscribed)
            raise
    # served this very moment: a seed's view must be closed, so taken
    return answer.result(timeout=_ASK_TIMEOUT_S)


def read_tree(
    clone_ref: pykka.ActorRef[Any] | None, store: Store, prefix: str
) -> list[tuple[str, bytes]]:
    """The live tree under `prefix` (key order), for a part that reads it once at
    start: the store alone lacks the coalesced values of the last interval (a device
    that came and went within it). Without the server, the store as it is. A part
    that follows the tree from there takes subscribe_seeded's instead: this may hold
    an update its subscription has yet to tell. It holds every in-process publish
    sent before the call (msgs.GetUnstored waits until they are published)."""
    return live_tree(store, prefix, _unstored(clone_ref, prefix))


def read_records(
    clone_ref: pykka.ActorRef[Any] | None, store: Store, prefix: str
) -> list[tuple[str, int, bytes]]:
    """read_tree with each key's sequence number, (key, seq, body): what a
    set_if_unchanged expects."""
    return live_records(store, prefix, _unstored(clone_ref, prefix))


def _unstored(clone_ref: pykka.ActorRef[Any] | None, prefix: str) -> list[Update]:
    if clone_ref is None:
        return []
    try:
        answer = _served(clone_ref, msgs.GetUnstored(prefix.encode("utf-8")))
    except (pykka.ActorDeadError, pykka.Timeout) as exc:
        log.warning("clone_unstored_unknown", prefix=prefix, reason=repr(exc))
        return []
    assert isinstance(answer, list)  # CommitPipeline.overlay's
    return answer


def commit_along(
    clone_ref: pykka.ActorRef[Any],
    entries: Sequence[tuple[bytes, bytes]],
    ops: Sequence[Op],
) -> None:
    """Set `entries` in the tree (an empty body deletes) and store `ops` in ONE
    transaction (msgs.CommitAlong), durable on return. StoreNotTaken when the
    server stopped or did not take it within _ALONG_ASK_S: it is cancelled,
    nothing of it is stored, then or later (its caller says "not stored", which
    a plain pykka.Timeout could not tell from an ask that may have been done).
    Once taken, it is waited for until it is stored (returns) or failed
    (StoreError, whatever the writer's error): the caller's answer then says what
    the store holds. A writer on it longer than _TAKEN_WAIT_S, or the server
    stopped while the store had it, gives StoreOutcomeUnknown: it may land."""
    asked = msgs.CommitAlong(tuple(entries), tuple(ops))
    try:
        clone_ref.ask(asked, timeout=_ALONG_ASK_S)
    except (pykka.Timeout, pykka.ActorDeadError) as exc:
        if asked.done.cancel():  # not taken, and never will be
            log.warning("clone_along_not_taken", reason=repr(exc))
            raise StoreNotTaken(_not_taken(exc)) from exc
        log.info("clone_along_taken_late", reason=repr(exc))
    try:
        asked.done.result(timeout=_TAKEN_WAIT_S)
    except FutureTimeout:
        raise StoreOutcomeUnknown(
            f"the store has not ended its write in {_TAKEN_WAIT_S:g} s"
        ) from None
    except StoreError:
        raise
    except Exception as exc:  # a bug in the writer: still a failed store
        raise StoreError(f"the store failed: {exc}") from exc


def _not_taken(exc: pykka.Timeout | pykka.ActorDeadError) -> str:
    """Why a CommitAlong was never taken, as an answer to a user says it."""
    if isinstance(exc, pykka.ActorDeadError):
        return PART_STOPPED
    return "a part of the hub did not take the write in time (see the log)"


def set_if_unchanged(
    clone_ref: pykka.ActorRef[Any], groups: Sequence[Guarded]
) -> list[int]:
    """Apply each group's sets only while the keys it expects are still at the
    sequence numbers given (read_records'); decided on the Clone I/O thread, so no
    update comes between the check and the write. The indexes of the groups
    skipped; pykka.ActorDeadError or pykka.Timeout when the server did not answer."""
    answer = clone_ref.ask(msgs.SetIfUnchanged(tuple(groups)), timeout=_ASK_TIMEOUT_S)
    assert isinstance(answer, list)  # CloneIntake.guarded's
    return answer


def clone_io_ask(ref: pykka.ActorRef[Any]) -> pykka.Future[Ask]:
    """The server's I/O thread's proof of life (ChildSet.add's io_ask), asked without
    waiting: answered once its on_start has run."""
    answer: pykka.Future[Ask] = ref.proxy().io_ask()
    return answer


def start_clone_server(
    context: zmq.Context[zmq.Socket[bytes]],
    store: Store,
    config: CloneConfig,
    network: NetworkConfig,
    *,
    clock: Clock,
    stats: Stats,
    curve: CurveKeys | None = None,
    limits: LimitsConfig | None = None,
) -> pykka.ActorRef[CloneServerActor]:
    """Start the server on the port base (snapshot N+1, PUB N+2, collector N+3);
    with `curve` (server keys) the three TCP sockets are CURVE servers."""
    endpoints = clone.Endpoints.from_port_base(network.bind, network.port_base)
    ref = CloneServerActor.start(
        context,
        store,
        config,
        endpoints,
        clock=clock,
        stats=stats,
        linger_ms=network.linger_ms,
        curve=curve,
        limits=limits,
    )
    ref.ask(msgs.GetCloneEndpoints(), timeout=10)  # raises if it failed to start
    return ref
