"""Clock health: whether the kernel says the system clock is synchronised, its error
bounds, and where the time comes from.

interpret() is pure (the numbers adjtimex(2) returns in, a ClockHealth out); only
read_kernel() calls the kernel, read-only (modes = 0 needs no privilege), through
ctypes on libc: no `timedatectl` output is parsed. A Pi without an RTC boots at the
last saved time (or 1970) until NTP synchronises it; cron jobs and scenarios that run
"at 07:00" need to know.
"""

from __future__ import annotations

import ctypes
import functools
from enum import StrEnum
from typing import Final

from raspy.errors import RaspyError
from raspy.records import frozen

STA_UNSYNC: Final = 0x0040  # <linux/timex.h>: the clock is not synchronised
TIME_ERROR: Final = 5  # adjtimex(2) return value: clock not synchronised
_CLOCK_STATES: Final = {
    0: "ok",
    1: "insert_leap",
    2: "delete_leap",
    3: "leap_in_progress",
    4: "leap_done",
    5: "error",
}
_PER_SECOND: Final = 1_000_000.0  # the kernel counts microseconds


class ClockSource(StrEnum):
    """Where the system time comes from, as far as the kernel lets us see."""

    NTP = "ntp"  # a time daemon disciplines the clock (chrony, timesyncd, ntpd)
    RTC = "rtc"  # not synchronised; a real-time clock set it at boot
    NONE = "none"  # not synchronised and no RTC: saved time, or 1970


class ClockHealthError(RaspyError):
    """adjtimex(2) could not be called (no libc, or the call failed)."""


@frozen
class ClockHealth:
    """What adjtimex(2) says; errors in seconds (the kernel keeps microseconds)."""

    synchronised: bool
    state: str  # the return value's name: ok, insert_leap, ..., error
    status: int  # the STA_* bits
    max_error_s: float
    estimated_error_s: float

    def source(self, rtc_present: bool) -> ClockSource:
        if self.synchronised:
            return ClockSource.NTP
        return ClockSource.RTC if rtc_present else ClockSource.NONE


def interpret(
    return_code: int, status: int, max_error_us: int, esterror_us: int
) -> ClockHealth:
    """The result of adjtimex(2) as a ClockHealth; ValueError for a return code
    that is neither a clock state nor an error (-1 is read_kernel()'s to raise)."""
    state = _CLOCK_STATES.get(return_code)
    if state is None:
        raise ValueError(f"adjtimex: unknown clock state {return_code}")
    synchronised = return_code != TIME_ERROR and not status & STA_UNSYNC
    return ClockHealth(
        synchronised=synchronised,
        state=state,
        status=status,
        max_error_s=max(0, max_error_us) / _PER_SECOND,
        estimated_error_s=max(0, esterror_us) / _PER_SECOND,
    )


class _Timeval(ctypes.Structure):
    _fields_ = (("tv_sec", ctypes.c_long), ("tv_usec", ctypes.c_long))


class _Timex(ctypes.Structure):
    """struct timex of <sys/timex.h> (glibc's adjtimex; long-sized fields)."""

    _fields_ = (
        ("modes", ctypes.c_uint),
        ("offset", ctypes.c_long),
        ("freq", ctypes.c_long),
        ("maxerror", ctypes.c_long),
        ("esterror", ctypes.c_long),
        ("status", ctypes.c_int),
        ("constant", ctypes.c_long),
        ("precision", ctypes.c_long),
        ("tolerance", ctypes.c_long),
        ("time", _Timeval),
        ("tick", ctypes.c_long),
        ("ppsfreq", ctypes.c_long),
        ("jitter", ctypes.c_long),
        ("shift", ctypes.c_int),
        ("stabil", ctypes.c_long),
        ("jitcnt", ctypes.c_long),
        ("calcnt", ctypes.c_long),
        ("errcnt", ctypes.c_long),
        ("stbcnt", ctypes.c_long),
        ("tai", ctypes.c_int),
        ("_reserved", ctypes.c_int * 11),
    )


@functools.cache
def _libc() -> ctypes.CDLL:
    # the process's own symbols, libc's among them (as raspy.heap): no search
    # (ctypes.util runs `ldconfig -p`, and its import is most of this module's)
    try:
        return ctypes.CDLL(None, use_errno=True)
    except OSError as exc:
        raise ClockHealthError(f"adjtimex: cannot load libc ({exc})") from exc


def read_kernel() -> ClockHealth:
    """Ask the kernel (adjtimex with modes 0: read only); ClockHealthError if the
    call fails."""
    libc = _libc()
    try:
        call = libc.adjtimex
    except AttributeError as exc:
        raise ClockHealthError("adjtimex: not in this libc") from exc
    timex = _Timex()
    code = int(call(ctypes.byref(timex)))
    if code == -1:
        errno = ctypes.get_errno()
        raise ClockHealthError(f"adjtimex: failed with errno {errno}")
    try:
        return interpret(code, timex.status, timex.maxerror, timex.esterror)
    except ValueError as exc:
        raise ClockHealthError(str(exc)) from exc
