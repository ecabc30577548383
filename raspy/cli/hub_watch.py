"""What raspy-poller's device service is told as the hub comes and goes, and the
looks at the hub while it serves (raspy.cli.board_probe), taken up between the
requests of its main loop."""

from __future__ import annotations

import json
import threading
import time
from typing import Any, Final

import pykka
import structlog

from raspy.actors import devices
from raspy.cli.board_check import Verdict
from raspy.cli.board_probe import Probe
from raspy.cli.board_publisher import ClientPublisher
from raspy.cli.board_service import ASK_TIMEOUT_S
from raspy.client.clone import Change, CloneClient
from raspy.client.mdp import Worker
from raspy.devices.reading import Status

_STATUS_SUFFIX: Final = b"/status"  # a reading's status key, /device/<fullname>/status
_OFFLINE_BODY: Final = json.dumps(Status.OFFLINE.value).encode()
# An offline mark of ours is looked at again this long after it was seen: one that
# the readings sent meanwhile (a start's first ones) have overwritten needs nothing
MARK_SETTLE_S: Final = 2.0


class HubWatch:
    """What the device service is told as the hub comes and goes, looked at between
    requests: the hub's copy of its subtree each time the Clone client has a new
    snapshot (readings of devices gone are deleted, as raspyd does at start; a hub
    restored from an older dump, or killed before its last coalesced commit, has
    them back; the Clone client takes a new snapshot by itself whenever its
    connection to the hub's publisher is made again; its simulated outputs take
    their value from the first copy, before any reading of it goes: only for a
    service that has such outputs, `resume_outputs`), and every new
    MDP session after the first (all readings sent again in full: while this board
    was away the hub may have marked them offline).

    And an offline mark of ours seen at any other time: the hub decides to mark
    when it has not heard of this board for its grace, and a mark it decided just
    before this board came back can land after the readings sent again. This board
    is alive, so it sends them all again (the device service writes only what
    changed, and a status `ok` that the mark overwrote would not change again).
    Only if the mark still stands MARK_SETTLE_S after it was seen: the one a board
    finds in its first snapshot after a stop is from before it started, and the
    readings it sends at start overwrite it."""

    def __init__(
        self,
        tree: CloneClient,
        publisher: ClientPublisher,
        worker: Worker,
        service: pykka.ActorRef[Any],
        probe: Probe,
        *,
        resume_outputs: bool,
    ) -> None:
        self._tree = tree
        self._publisher = publisher
        self._worker = worker
        self._service = service
        self._probe = probe
        self._syncs = 0
        self._sessions = 0
        self._session_since: float | None = None
        self._marked = threading.Event()  # set on the Clone client's thread
        self._mark_seen_at: float | None = None  # monotonic; looked at again later
        self._log = structlog.get_logger(component="raspy-poller")
        # the first copy is waited for only by a service whose outputs take their
        # value from it (`fake`); a 1-Wire board's readings go at once
        self._resume_outputs = resume_outputs
        if not resume_outputs:
            publisher.open()
        tree.on_change(self._on_change)

    def _on_change(self, change: Change) -> None:
        """An offline mark of one of our readings (only the hub writes `offline`)."""
        if change.key.endswith(_STATUS_SUFFIX) and change.body == _OFFLINE_BODY:
            self._marked.set()

    def check(self) -> None:
        tree, service = self._tree, self._service
        syncs = tree.syncs
        if syncs != self._syncs and tree.live:
            first = self._syncs == 0
            self._syncs = syncs
            copy = {key.decode("utf-8", "replace"): body for key, body in tree.items()}
            if first and self._resume_outputs:
                self._first_copy(devices.ForgetGone(copy))
            else:
                service.tell(devices.ForgetGone(copy))
        self._publisher.flush()  # the hub is back: what was held goes now
        sessions = self._worker.sessions
        now = time.monotonic()
        if self._marked.is_set():  # a mark set after this look stays for the next one
            self._marked.clear()
            if self._mark_seen_at is None:
                self._mark_seen_at = now
        if sessions != self._sessions:
            self._sessions = sessions
            self._session_since = now
            if sessions > 1:  # the first session: nothing was lost yet
                service.tell(devices.Republish())
                self._mark_seen_at = None  # sent again in full already
        seen = self._mark_seen_at
        if seen is not None and sessions > 0 and now - seen >= MARK_SETTLE_S:
            self._mark_seen_at = None
            if self._mark_stands():
                self._log.warning("readings_marked_offline_while_here")
                service.tell(devices.Republish())
        self._look_at_hub()

    def _first_copy(self, message: devices.ForgetGone) -> None:
        """The hub's first copy, taken by the device service before anything it
        read goes to the hub (the publisher holds it until then): its simulated
        outputs take their value from it, so the hub sees no `false` of a switch
        that was on, read at start before the copy came. A service busy past the
        bound (a rescan) takes the copy later; its readings go meanwhile."""
        try:
            self._service.ask(message, timeout=ASK_TIMEOUT_S)
        except pykka.Timeout:
            self._log.warning("first_copy_not_taken", timeout_s=ASK_TIMEOUT_S)
        except pykka.ActorDeadError:
            pass  # the serving loop ends at its next turn
        self._publisher.open()

    def _mark_stands(self) -> bool:
        """One of our readings is offline in the hub's tree as this board sees it."""
        return any(
            key.endswith(_STATUS_SUFFIX) and body == _OFFLINE_BODY
            for key, body in self._tree.items()
        )

    def _look_at_hub(self) -> None:
        """Now and then: is our name still ours, and does the hub take our keys?
        A look under way is only looked at: the loop never waits for the hub."""
        probe = self._probe
        answer = probe.look()
        if answer is None:
            return
        verdict = probe.check.answer(answer, time.monotonic(), self._session_since)
        if verdict in (Verdict.TWIN, Verdict.HUB):
            raise probe.said_no(verdict)
        if verdict is Verdict.REFUSED:
            self._log.error("hub_refused_board", reason=answer.refused)
