"""raspy-poller's looks at its hub (raspy.client.hub_probe, read by
raspy.cli.board_check): the one before it starts anything, and those while it
serves, which its main loop takes up between its other work, never waiting on one.

A hub that does not answer takes a probe's whole timeout to say so; a probe that
blocked the loop for it held up a SIGTERM and systemd's watchdog pings as long.
"""

from __future__ import annotations

import time
from typing import Final

import structlog
import zmq

from raspy.cli import EXIT_FAILURE, EXIT_USAGE
from raspy.cli.board_check import BoardCheck, BoardNames, Verdict
from raspy.cli.signals import SignalInbox
from raspy.client.hub_probe import HubAnswer, HubProbe
from raspy.config_link import LinkConfig
from raspy.devices.registry import Registry
from raspy.errors import RaspyError
from raspy.transport.sockets import CurveKeys

_LINK: Final = LinkConfig()  # [link]'s defaults; raspy.cli.poller_run gives the file's
PROBE_TIMEOUT_S: Final = _LINK.hub_check_timeout_s
# the broker gives a silent worker up after 3 x 2.5 s (its defaults): a worker of
# ours that lost its connection is counted until then, and a poller killed a moment
# ago is still served; a heartbeat of ours more on top
WORKER_EXPIRY_S: Final = _LINK.worker_expiry_s
CHECK_EVERY_S: Final = _LINK.hub_check_every_s
_REFUSED_AGAIN_S: Final = 1.0  # at start, before a refusal is probed again
_SIGNAL_SLICE_S: Final = 0.1  # at start, how often a probe under way lets a signal in


class HubSaysNo(RaspyError):
    """The hub will not have this board: its keys, or its name taken; `status` is
    the exit status."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class Probe:
    """This board's looks at the hub: its handshake and the workers of its service.
    At most one is under way; close() ends it (before the context's term())."""

    def __init__(
        self,
        context: zmq.Context[zmq.Socket[bytes]],
        hub: str,
        registry: Registry,
        curve: CurveKeys | None,
        *,
        timeout_s: float = PROBE_TIMEOUT_S,
        every_s: float = CHECK_EVERY_S,
        expiry_s: float = WORKER_EXPIRY_S,
    ) -> None:
        self._context = context
        self._hub = hub
        self._curve = curve
        self._timeout_s = timeout_s
        self._expiry_s = expiry_s  # how long the hub may count a worker gone
        self.names = BoardNames(registry.hostname, registry.service)
        self.check = BoardCheck(self.names, expiry_s, every_s)
        self._pending: HubProbe | None = None

    def look(self) -> HubAnswer | None:
        """The answer of the look under way once it came, without waiting for it;
        a new look starts when the last one's answer makes it due."""
        if self._pending is None:
            if self.check.due(time.monotonic()):
                self._pending = self._probe()
            return None
        return self._taken(0.0)

    def _probe(self) -> HubProbe:
        return HubProbe(
            self._context,
            self._hub,
            self.names.pattern,
            curve=self._curve,
            timeout_s=self._timeout_s,
        )

    def _taken(self, wait_s: float) -> HubAnswer | None:
        pending = self._pending
        assert pending is not None  # the callers start one first
        try:
            answer = pending.poll(wait_s)
        except BaseException:  # its runner failed: the next look starts afresh
            pending.close()
            self._pending = None
            raise
        if answer is not None:
            pending.close()
            self._pending = None
        return answer

    def close(self) -> None:
        if self._pending is not None:
            self._pending.close()
            self._pending = None

    def said_no(self, verdict: Verdict) -> HubSaysNo:
        """The line and status for a name that is not ours: the hub's when raspyd
        runs under this board's name (the board started on the hub's host, or named
        after it), whatever the service, else a twin board's."""
        hostname, service = self.names.hostname, self.names.devices
        if verdict is Verdict.HUB:
            return HubSaysNo(
                f"the hub itself runs under the host name {hostname!r}: the names "
                f"{hostname}.* of services and devices are its own, so this board "
                f"cannot serve {service}; give it a name of its own (--hostname "
                'NAME, or hostname = "NAME" in its config) and start it again',
                EXIT_USAGE,  # a config to change, not a clash that passes: no restart
            )
        return HubSaysNo(
            f"another board already serves {service} at the hub: two boards run "
            f"as {hostname!r} (one booted from a copy of the other's SD card?); "
            "give this one a hostname of its own (hostnamectl set-hostname NAME, or "
            "--hostname NAME) and start it again",
            EXIT_FAILURE,
        )

    def before_start(self, stop: SignalInbox) -> bool:
        """Refuse to start against a hub that refuses our keys, that runs under our
        hostname (said at its first answer), or that has a worker of our
        service for longer than a killed predecessor of ours would keep it. A hub
        that does not answer is not waited for: the checks go on later.
        False: a signal came meanwhile (taken from `stop`), so start nothing."""
        try:
            return self._before_start(stop)
        finally:
            self.close()

    def _before_start(self, stop: SignalInbox) -> bool:
        deadline = time.monotonic() + self._expiry_s
        waiting = False
        refused: str | None = None  # by the probe before
        while (answer := self._answer_unless(stop)) is not None:
            if answer.refused is not None:
                # believed when the next probe says it again: a handshake cut short
                # once (a hub that is starting) would end this board with status 2,
                # which systemd does not restart
                if answer.refused == refused:
                    raise HubSaysNo(answer.refused, EXIT_USAGE)
                refused = answer.refused
                if stop.wait(_REFUSED_AGAIN_S):
                    return False
                continue
            refused = None
            table = answer.workers
            if table is None:
                return True
            if self.names.is_hub(table):  # no stale worker: no need to wait
                raise self.said_no(Verdict.HUB)
            workers = table.get(self.names.devices, 0)
            if not workers:
                return True
            if time.monotonic() >= deadline:
                raise self.said_no(Verdict.TWIN)
            if not waiting:  # says why the start takes these seconds
                waiting = True
                structlog.get_logger(component="raspy-poller").info(
                    "hub_has_our_service",
                    service=self.names.devices,
                    workers=workers,
                    wait_s=self._expiry_s,
                    reason="a predecessor of this board that is gone, or a twin",
                )
            if stop.wait(1.0):  # taken here: the caller must not wait for it again
                return False
        return False

    def _answer_unless(self, stop: SignalInbox) -> HubAnswer | None:
        """One look's answer; None as soon as a signal comes while it is under way."""
        assert self._pending is None  # each look's answer is taken before the next
        self._pending = self._probe()
        while not stop.is_set():
            answer = self._taken(_SIGNAL_SLICE_S)
            if answer is not None:
                return answer
        return None
