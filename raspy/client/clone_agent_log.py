"""What the Clone client's agent (raspy.client.clone_agent) says in the log: the
notes of CloneClientCore and the updates it gives up.

Reconnects, rejected messages and dropped updates are logged at most once a minute
per reason: a board whose hub is off for a day starts over every `server_ttl_s`,
which must not write its SD card each time. An update still unconfirmed at close()
is said too: a script that ends right after set() without `confirm_timeout_s`
would lose it unawares.
"""

from __future__ import annotations

import time

from raspy.cores import clone_client as core_mod
from raspy.library_log import library_logger
from raspy.ratelimit import LogRateLimiter

log = library_logger(component="clone_client")


class AgentLog:
    """The agent's log lines, rate limited; `now` is the monotonic clock's."""

    def __init__(self) -> None:
        self._limiter = LogRateLimiter()

    def failed(self, reason: str, detail: str) -> None:
        """An update given up (its writer is told by its future)."""
        if reason == "dropped" and self._limiter.should_log(reason, time.monotonic()):
            log.warning("clone_update_dropped", reason=reason, detail=detail)

    def unconfirmed(self, outputs: list[core_mod.ClientOutput]) -> None:
        """The updates close() gives up, in one line."""
        lost = [
            out
            for out in outputs
            if isinstance(out, core_mod.Failed) and out.reason == "closed"
        ]
        if lost:
            log.warning(
                "clone_updates_not_confirmed_at_close",
                count=len(lost),
                hint="set(..., confirm_timeout_s=S) waits until the server has it",
            )

    def report(self, out: core_mod.ClientOutput) -> None:
        """A note of the core's that asks nothing of the sockets."""
        match out:
            case core_mod.Reconnecting(reason=reason, seq=seq):
                if self._limiter.should_log(("reconnected", reason), time.monotonic()):
                    log.info("clone_server_reconnected", reason=reason, seq=seq)
            case core_mod.GapDetected(seq=seq, last=last):
                log.info("clone_gap_detected", seq=seq, last=last)
            case core_mod.Rejected(where=where, reason=reason):
                if self._limiter.should_log((where, reason), time.monotonic()):
                    log.warning("clone_message_rejected", peer=where, reason=reason)
