"""The Clone server's timing and its publisher's flow control (docs/protocols.md §6.5).

Pure: `now` (monotonic seconds) in, decisions out; no socket, no clock, no logging.
`ClonePacing` says when a HUGZ is due, when freed heap is handed back, how long the I/O
loop may sleep and when a subscriber cut off is worth a log line; `publisher_hwm`, which
SNDHWM keeps each subscriber's queue within its byte budget (issue 18).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Final

from raspy.ratelimit import LogRateLimiter
from raspy.records import frozen

MIN_HUGZ_GAP_S: Final = 0.01  # a subscription's early HUGZ: at most 100 a second
# heap handed back at most this often after subscribers left or snapshots ended
TRIM_GAP_S: Final = 10.0
# a snapshot peer or a subscriber that was full is tried again then (a subscriber's
# queue of 119 updates empties within milliseconds when it keeps up)
BLOCKED_RETRY_S: Final = 0.0005
# A full subscriber is waited for while it reads on (a healthy one empties its queue
# as soon as the I/O threads get a core, on a loaded Pi within some 100 ms): it is cut
# off after this long without taking a message ...
FULL_SUBSCRIBER_WAIT_S: Final = 0.5
# ... or once what waits for it is this old: one that reads, but slower than what is
# published, holds the others up no longer (a burst may outrun a healthy one a while).
# Half a client's dead-server limit (5 s, §6.5): a HUGZ waits in the same line, so a
# wait near that limit would make the others reconnect.
MAX_SUBSCRIBER_LAG_S: Final = 2.5
# For this long after a cut-off, the lag allowed is FULL_SUBSCRIBER_WAIT_S: libzmq
# takes a cut-off subscriber back once it reads again, and a slow one would hold the
# others up to MAX_SUBSCRIBER_LAG_S again and again
CUT_OFF_HOLDOFF_S: Final = 30.0
# libzmq's XPUB notices (XPUB_VERBOSER): b"\x01" + topic on subscribe, b"\x00" on leave
SUBSCRIBED: Final = 1
UNSUBSCRIBED: Final = 0


@frozen
class Due:
    """What a loop turn must do besides moving input: send a HUGZ, hand heap back."""

    hugz: bool
    trim: bool


class ClonePacing:
    """The Clone loop's own timers, all on the real monotonic clock: HUGZ feeds the
    peers' real timers and the heap is the process's, neither is about ttl."""

    def __init__(self, hugz_interval_s: float, queue_budget_bytes: int) -> None:
        self.queue_budget_bytes = queue_budget_bytes  # per subscriber (issue 18)
        self._cut_off_log = LogRateLimiter()
        self._short_lag_until = 0.0  # CUT_OFF_HOLDOFF_S after the last cut-off
        self._interval_s = hugz_interval_s
        self._next_hugz = 0.0  # the first turn sends one
        self._last_hugz: float | None = None
        self._trim_at: float | None = None
        self._busy = False  # a drain stopped at its batch size in this turn
        self._poll_now = False  # ... so the next poll does not wait

    def on_notices(self, notices: Iterable[bytes], now: float) -> None:
        """The XPUB's subscription notices.

        §6.3 raspy: a client waits for a HUGZ to know its subscription is live, so
        one goes out as soon as a subscription arrives instead of within the next
        interval (at most one per MIN_HUGZ_GAP_S, however many subscribe). After a
        leave, its freed queue is handed back to the system within TRIM_GAP_S.
        """
        subscribed = left = False
        for notice in notices:
            kind = notice[0] if notice else None
            subscribed = subscribed or kind == SUBSCRIBED
            left = left or kind == UNSUBSCRIBED
        if left:
            self.trim_later(now)
        if subscribed:
            last = self._last_hugz
            soonest = now if last is None else max(now, last + MIN_HUGZ_GAP_S)
            self._next_hugz = min(self._next_hugz, soonest)

    def trim_later(self, now: float) -> None:
        """A queue was freed (a subscriber left, a snapshot ended): the heap's
        free pages are handed back within TRIM_GAP_S, at most once in that time."""
        if self._trim_at is None:
            self._trim_at = now + TRIM_GAP_S

    def holds_a_queue(self, waiting_bytes: int) -> bool:
        """What waits for a full subscriber (message_cost) is a whole queue's worth:
        raspyd holds no more for it, however short the wait was."""
        return waiting_bytes >= self.queue_budget_bytes

    def stop_waiting(
        self, queued_at: float, progress_at: float, waiting_bytes: int, now: float
    ) -> bool:
        """A subscriber's queue is full: the oldest message waiting for it was
        published at `queued_at`, the last one went out at `progress_at`, and all
        that waits costs `waiting_bytes` (message_cost). True when that subscriber
        is to be cut off: it took nothing for FULL_SUBSCRIBER_WAIT_S, it lags
        MAX_SUBSCRIBER_LAG_S behind (FULL_SUBSCRIBER_WAIT_S within CUT_OFF_HOLDOFF_S
        of a cut-off), or a queue's worth waits for it."""
        short = now < self._short_lag_until
        lag_s = FULL_SUBSCRIBER_WAIT_S if short else MAX_SUBSCRIBER_LAG_S
        return (
            now - progress_at >= FULL_SUBSCRIBER_WAIT_S
            or now - queued_at >= lag_s
            or self.holds_a_queue(waiting_bytes)
        )

    def cut_off(self, now: float) -> bool:
        """A subscriber was cut off (counted every time): the lag allowed is short
        for CUT_OFF_HOLDOFF_S; True once a minute, when it is worth a log line."""
        self._short_lag_until = now + CUT_OFF_HOLDOFF_S
        return self._cut_off_log.should_log("cut_off", now)

    def drained_full(self) -> None:
        """A drain stopped at its batch size: more input may be waiting."""
        self._busy = True

    def on_turn(self, now: float) -> Due:
        """§6.5 raspy: a HUGZ every interval regardless of traffic."""
        hugz = now >= self._next_hugz
        if hugz:
            self._last_hugz = now
            self._next_hugz = now + self._interval_s
        trim = self._trim_at is not None and now >= self._trim_at
        if trim:
            self._trim_at = None
        self._poll_now, self._busy = self._busy, False
        return Due(hugz, trim)

    def next_deadline(
        self,
        now: float,
        real_now: float,
        *,
        ttl_deadline: float | None,
        sending: bool,
        retry_blocked: bool,
    ) -> float:
        """When the loop must turn next, on the loop's clock (`now`).

        `sending`: some snapshot can send at once; `retry_blocked`: snapshot peers or
        a subscriber are full and no POLLOUT is awaited, so they are tried again
        shortly.
        """
        if self._poll_now or sending:
            return now
        deadline = now + (self._next_hugz - real_now)
        if self._trim_at is not None:  # the loop sleeps until the next HUGZ or this
            deadline = min(deadline, now + (self._trim_at - real_now))
        if ttl_deadline is not None:
            deadline = min(deadline, ttl_deadline)
        if retry_blocked:
            deadline = min(deadline, now + BLOCKED_RETRY_S)
        return deadline


# --- the XPUB's queue per subscriber, bounded in bytes (issue 18) ---------------------
#
# ZeroMQ counts a subscriber's queue in messages (SNDHWM), never in bytes, and XPUB
# says nothing of whom it drops for. So:
# - SNDHWM = [limits] clone_subscriber_queue_bytes // the largest message the server
#   can publish (the key, value and properties limits): a queue holds at most the
#   budget, whatever the value sizes;
# - the SNDHWM is set once, before bind, and never again: libzmq 4.3 gives a changed
#   SNDHWM to the I/O side of every pipe the socket still lists, including one whose
#   subscriber has just left and whose I/O side is already freed, and its I/O thread
#   then crashes (a use after free, reproduced with subscribers coming and going);
#   tests/integration/test_clone_subscriber_churn.py keeps that case;
# - XPUB_NODROP turns the moment a subscriber's queue reaches its limit into EAGAIN.
#   A queue of ~100 often only looks full: the socket hears of a subscriber's reads
#   from the I/O thread about once a millisecond in a burst. So the socket is made to
#   catch up (ZMQ_EVENTS) and tried again; if still full, what is published waits in
#   the publisher, in order, and is tried again every BLOCKED_RETRY_S, until
#   ClonePacing.stop_waiting says the subscriber is cut off: counted
#   (clone.subscribers.cut_off) and logged (rate-limited), the message sent again
#   without NODROP, so the others get it and the full one misses it: its next update
#   shows a sequence gap, and a CHP client asks for a snapshot (RFC 12). A subscriber
#   therefore holds up to about twice its budget: its queue and what waits for it;
# - no ZMTP heartbeats on the XPUB: libzmq 4.3.x has open crashes with heartbeats on
#   PUB/XPUB sockets (a segfault in its I/O thread was seen here); a subscriber that
#   reads nothing keeps at most its byte budget until it leaves; after a subscriber
#   leaves, freed heap is handed back to the system.

# what a waiting message costs in memory besides its bytes (a tuple, a list, bytes
# objects: about 250 bytes for a five-frame message, measured)
MESSAGE_OVERHEAD_BYTES: Final = 256
MIN_HWM: Final = 16  # even a budget under 16 of the largest messages queues this many
MAX_HWM: Final = 100_000


def publisher_hwm(budget_bytes: int, largest_message_bytes: int) -> int:
    """The XPUB's SNDHWM: as many of the largest messages as fit the byte budget."""
    if budget_bytes <= 0:
        raise ValueError(f"budget_bytes must be > 0, got {budget_bytes}")
    if largest_message_bytes <= 0:
        raise ValueError(
            f"largest_message_bytes must be > 0, got {largest_message_bytes}"
        )
    return max(MIN_HWM, min(MAX_HWM, budget_bytes // largest_message_bytes))


def message_cost(frames: Sequence[bytes]) -> int:
    """What a message held in memory costs: its bytes and the objects around them."""
    return MESSAGE_OVERHEAD_BYTES + sum(map(len, frames))
