"""HttpClientActor: the `<host>.http` service, the HTTP requests of scenarios' `http:`
actions (raspy.http_request says what a request and a reply are).

It owns `workers` in-process MDP workers of the service. The broker gives a worker
one request at a time, so at most `workers` requests are under way; more wait in the
broker's queue as for any service (and one whose scenario stopped waiting is dropped
there, never sent). Each request is made on a thread of its own (raspy.http_fetch:
it blocks up to its timeout), which answers through the outbox itself: this actor
never waits on the network, and its stop never waits for a request (the threads are
daemons; one that ends after the stop answers nobody).

A request whose sender gives the moment it stops waiting (`give_up_at`) and whose
turn comes too late to be answered by then is not made: it is answered as a timeout,
counted (`http_client.late`) and logged. One whose turn leaves it less than its timeout
is cut to what is left, so that nothing reaches a phone after its scenario reported
the request failed. A host's lookup is bounded by the request's time too, on at most
`workers` threads (raspy.http_lookup): a resolver that hangs holds no worker past
its request's timeout.

Only raspyd's own parts may use it: a request from a network client (its routing id
does not carry the in-process prefix, which the broker refuses to a network peer) is
answered 403. Anyone who can reach the broker could otherwise have the hub send
requests to any address it reaches, its own LAN included.
"""

from __future__ import annotations

import contextlib
import dataclasses
import ssl
import threading
import traceback
import uuid
from collections.abc import Callable
from typing import Any, Final

import pykka
import structlog

from raspy import http_lookup, http_reply, http_request
from raspy.actors import messages as msgs
from raspy.actors.worker import LocalWorker, local_peer_id
from raspy.clock import Clock, SystemClock
from raspy.cores.broker_state import LOCAL_PREFIX
from raspy.errors import MalformedMessage
from raspy.protocol import mdp
from raspy.stats import Stats
from raspy.transport.outbox import Outbox

log = structlog.get_logger(component="http_client")

_ASK_TIMEOUT_S: Final = 5.0
PART: Final = "http_client"  # its counters: http_client.<name>
# a request's answer travels back to its sender within this (outbox, edge, actor)
REPLY_MARGIN_S: Final = 0.2
Fetch = Callable[
    [http_request.HttpRequest, ssl.SSLContext, http_lookup.HostLookup],
    http_reply.Outcome,
]


def _fetch(
    wanted: http_request.HttpRequest,
    tls: ssl.SSLContext,
    lookup: http_lookup.HostLookup,
) -> http_reply.Outcome:
    """raspy.http_fetch.fetch, imported at the first request: it loads http.client
    and email (some 20 modules), which a hub whose scenarios call no URL never uses."""
    from raspy import http_fetch

    return http_fetch.fetch(wanted, tls, lookup)


class HttpClientActor(pykka.ThreadingActor):
    """The `<host>.http` service; see the module docstring."""

    def __init__(
        self,
        edge: pykka.ActorRef[Any],
        outbox: Outbox,
        service: bytes,
        stats: Stats,
        *,
        workers: int = 4,
        tls: ssl.SSLContext | None = None,
        fetch: Fetch | None = None,
        clock: Clock | None = None,
        lookup: http_lookup.HostLookup | None = None,
    ) -> None:
        super().__init__()
        if workers < 1:
            raise ValueError(f"an http client needs at least one worker, not {workers}")
        self._edge = edge
        self._stats = stats
        # the system's certificate store, host names checked (ssl's defaults): read
        # at the first request (some 50 ms), not in raspyd's start-up
        self._tls = tls
        self._fetch = fetch or _fetch
        # as many lookup threads as workers: one each while the resolver answers,
        # and no more stuck in it when it hangs (raspy.http_lookup). raspyd passes
        # one `lookup` for all the service's lives: a restart by the supervisor
        # must not add threads beside those still stuck in a hung resolver
        self._lookup = lookup or http_lookup.HostLookup(workers)
        # the senders' clock: give_up_at is read on it (raspyd's one clock)
        self._clock = clock or SystemClock()
        # set by the stop: a request still under way then answers nobody (its
        # worker has said DISCONNECT, and the broker would take the reply for
        # a stranger's)
        self._stopped = threading.Event()
        # new for every instance: a late reply of a stopped one is never ours
        owner = f"http.{uuid.uuid4().hex[:8]}"
        self._owner = local_peer_id(owner)
        self._workers = {
            worker.peer_id: worker
            for worker in (
                LocalWorker(outbox, local_peer_id(owner, f"w{index}"), service)
                for index in range(workers)
            )
        }

    def on_start(self) -> None:
        self._edge.ask(
            msgs.AttachLocal(self._owner, self.actor_ref), timeout=_ASK_TIMEOUT_S
        )
        for worker in self._workers.values():
            worker.ready()
        log.info("http_client_started", workers=len(self._workers))

    def on_stop(self) -> None:
        self._stopped.set()
        for worker in self._workers.values():
            worker.disconnect()
        with contextlib.suppress(pykka.ActorDeadError):
            self._edge.tell(msgs.DetachLocal(self._owner))

    def on_receive(self, message: Any) -> Any:
        try:
            self._receive(message)
        except Exception:  # one bad message never ends the service (style.md §4)
            self._stats.incr(f"{PART}.errors")
            log.exception("http_client_message_failed", kind=type(message).__name__)
        return None

    def _receive(self, message: Any) -> None:
        match message:
            case msgs.MdpFrames(frames=frames, peer_id=peer_id):
                worker = self._workers.get(peer_id)
                if worker is None:
                    self._stats.incr(f"{PART}.unroutable")
                    return
                try:
                    decoded = worker.decode(frames)
                except MalformedMessage as exc:
                    self._stats.incr(f"{PART}.frames_rejected")
                    log.warning("frame_rejected", reason=exc.reason, detail=exc.detail)
                    return
                if isinstance(decoded, mdp.WorkerRequest):
                    self._start(worker, decoded)
                elif isinstance(decoded, mdp.Disconnect):
                    worker.ready()  # the broker forgot us: register again
            case _:
                log.warning("unexpected_message", kind=type(message).__name__)

    def _start(self, worker: LocalWorker, request: mdp.WorkerRequest) -> None:
        """Check the request here; make it on a thread of its own."""
        if request.client[:1] != LOCAL_PREFIX:
            self._stats.incr(f"{PART}.forbidden")
            log.warning("http_client_refused", reason="not_local")
            detail = "only raspyd's own parts (scenarios) may use this service"
            worker.reply(
                request.client,
                http_reply.encode_outcome(http_reply.Failure("forbidden", detail)),
            )
            return
        try:
            wanted = http_request.decode_request(request.body)
        except MalformedMessage as exc:
            self._stats.incr(f"{PART}.bad_requests")
            failure = http_reply.Failure("bad_request", exc.detail or exc.reason)
            worker.reply(request.client, http_reply.encode_outcome(failure))
            return
        timed = self._in_time(worker, request.client, wanted)
        if timed is None:
            return
        self._stats.incr(f"{PART}.requests")
        if self._tls is None:
            self._tls = ssl.create_default_context()
        cut = timed.timeout_s < wanted.timeout_s
        thread = threading.Thread(
            target=self._make,
            args=(worker, request.client, timed, self._tls, cut),
            name="raspy-http-request",
            daemon=True,
        )
        thread.start()

    def _in_time(
        self, worker: LocalWorker, client: bytes, wanted: http_request.HttpRequest
    ) -> http_request.HttpRequest | None:
        """`wanted`, cut to the time its sender still waits; None when its turn came
        too late for any answer to reach the sender (answered as a timeout here)."""
        if wanted.give_up_at is None:
            return wanted
        left = wanted.give_up_at - self._clock.monotonic() - REPLY_MARGIN_S
        cut = round(left, 1)  # a reason reads "within 2.3s"; REPLY_MARGIN_S covers it
        if cut >= wanted.timeout_s:
            return wanted
        if cut <= 0:
            self._stats.incr(f"{PART}.late")
            log.warning(
                "http_request_dropped",
                reason="late",
                method=wanted.method,
                url=http_request.shown_secret_url(wanted.url, dict(wanted.secrets)),
                late_s=round(-left, 3),
            )
            failure = http_reply.Failure(
                "timeout", "not sent: its turn came after its sender stopped waiting"
            )
            worker.reply(client, http_reply.encode_outcome(failure))
            return None
        return dataclasses.replace(wanted, timeout_s=cut)

    def _make(
        self,
        worker: LocalWorker,
        client: bytes,
        wanted: http_request.HttpRequest,
        tls: ssl.SSLContext,
        cut: bool,
    ) -> None:
        """On the request's own thread: fetch, answer, log (never a header's value
        nor the URL's query or user). `cut`: its timeout is what its turn left."""
        url = http_request.shown_secret_url(wanted.url, dict(wanted.secrets))
        try:
            outcome = self._fetch(wanted, tls, self._lookup)
        except Exception as exc:  # noqa: BLE001  # logged by _log_crash
            # a bug in the fetch: logged with its secrets hidden; the client still
            # gets a reply
            self._stats.incr(f"{PART}.errors")
            _log_crash(exc, wanted, url)
            outcome = http_reply.Failure(
                "protocol", f"internal error: {type(exc).__name__}"
            )
        if (
            cut
            and isinstance(outcome, http_reply.Failure)
            and outcome.error == "timeout"
        ):  # not the timeout its scenario gave: say why
            detail = f"{outcome.detail} (the time left after it waited its turn)"
            outcome = http_reply.Failure("timeout", detail)
        if isinstance(outcome, http_reply.Answer) and 200 <= outcome.status <= 299:
            log.debug(
                "http_request_done",
                method=wanted.method,
                url=url,
                status=outcome.status,
            )
        else:
            self._stats.incr(f"{PART}.failed")
            # a request that carried a secret: the status line alone (a server
            # may echo the secret in its body, where hidden() may not find it)
            reason = http_reply.shown_outcome(outcome, bare=bool(wanted.secrets))
            log.debug(
                "http_request_failed",
                method=wanted.method,
                url=url,
                reason=http_request.hidden(reason, dict(wanted.secrets)),
            )
        if not self._stopped.is_set():
            worker.reply(client, http_reply.encode_outcome(outcome))


def _log_crash(exc: Exception, wanted: http_request.HttpRequest, url: str) -> None:
    """`http_request_crashed`: the exception's type, its message and traceback with
    each secret the request carried put back as its `{secret.NAME}` (hidden(), in
    every form it knows), as in every other line of the request. log.exception
    would write them as they are: a message may quote a URL, a header or what a
    server answered (a redirect's Location), secrets and all."""
    secrets = dict(wanted.secrets)
    log.error(
        "http_request_crashed",
        method=wanted.method,
        url=url,
        error=type(exc).__name__,
        detail=http_request.hidden(str(exc), secrets),
        exception=http_request.hidden(
            "".join(traceback.format_exception(exc)).rstrip("\n"), secrets
        ),
    )
