"""Why raspy-poller cannot reach its hub, said once and then rarely.

ZeroMQ connects in the background and retries without a word: a board whose
connections are refused (a firewall, a sandbox, a wrong port) logged only
`worker_connecting` and a Clone reconnect every 5 s, as for a hub merely down.
While the hub's broker has not spoken on the worker's connection for
FIRST_LOOK_S, a plain TCP connect to the hub's MDP port is tried (on a thread of
its own: a name to resolve or a firewall that drops may take seconds, and the main
loop waits on nothing), and what it met is logged: `hub_unreachable`, with the
hub's host:port and the reason (`Connection refused`, `No route to host`, a name
that does not resolve, no answer). Said again only after SAY_AGAIN_S (an SD card's
log), or when the reason changes; `hub_reached` once the broker speaks.
"""

from __future__ import annotations

import socket
import threading
import time
from typing import Final

import structlog

from raspy.names import joined_address
from raspy.ratelimit import LogRateLimiter

FIRST_LOOK_S: Final = 10.0  # a hub that is restarting is back in seconds
LOOK_EVERY_S: Final = 30.0  # while it is not reached
LOOK_TIMEOUT_S: Final = 5.0  # a TCP connect that takes longer: dropped on its way
SAY_AGAIN_S: Final = 600.0  # the same reason, at most this often


class HubReach:
    """Looks at the TCP reach of host:port while `heard` (the broker spoke on the
    worker's connection) is False; check() is the main loop's, once a turn."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        first_look_s: float = FIRST_LOOK_S,
        look_every_s: float = LOOK_EVERY_S,
        timeout_s: float = LOOK_TIMEOUT_S,
    ) -> None:
        self.hub = joined_address(host, port)
        self._address = (host, port)
        self._first_look_s = first_look_s
        self._look_every_s = look_every_s
        self._timeout_s = timeout_s
        self._unheard_since: float | None = None
        self._next_look_at = 0.0
        self._looking: threading.Thread | None = None
        self._found: str | None = None  # the last look's reason; "" if it connected
        self._said = False  # a reason said in this silence
        self._say = _say_limiter()
        self._log = structlog.get_logger(component="raspy-poller")

    def check(self, heard: bool, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        if heard:
            if self._said:
                self._log.info("hub_reached", hub=self.hub)
            self._unheard_since = None
            self._said, self._say = False, _say_limiter()  # the next silence afresh
            self._looking = None  # its reason is this silence's, not the next one's
            return
        if self._unheard_since is None:
            self._unheard_since = now
            self._next_look_at = now + self._first_look_s
        if self._looking is not None:
            if self._looking.is_alive():
                return
            self._looking = None
            self._said_what(self._found, now)
        if now >= self._next_look_at:
            self._next_look_at = now + self._look_every_s
            self._looking = threading.Thread(
                target=self._look, name="raspy-hub-reach", daemon=True
            )
            self._looking.start()

    def _look(self) -> None:
        """One TCP connect, closed at once (its own thread: it may wait seconds)."""
        try:
            with socket.create_connection(self._address, timeout=self._timeout_s):
                self._found = ""
        except TimeoutError:
            self._found = (
                f"no answer to a TCP connect within {self._timeout_s:g} s (a "
                "firewall that drops it, or a host that is off)"
            )
        except socket.gaierror as exc:
            self._found = f"cannot resolve the host name: {exc.strerror}"
        except UnicodeError:  # `a..b`, a label over 63 letters: the idna codec's
            self._found = (
                "cannot resolve the host name: not a DNS name (an empty label, or "
                "one longer than 63 characters)"
            )
        except OSError as exc:
            self._found = exc.strerror or type(exc).__name__

    def _said_what(self, reason: str | None, now: float) -> None:
        if not reason:  # it connected: its port is open, the broker slow or busy
            return
        if not self._say.should_log(reason, now):
            return
        assert self._unheard_since is not None
        self._said = True
        self._log.warning(
            "hub_unreachable",
            hub=self.hub,
            reason=reason,
            since_s=round(now - self._unheard_since),
        )


def _say_limiter() -> LogRateLimiter:
    """A reason said again only after SAY_AGAIN_S, or once another was said: the
    one key kept is the reason said last."""
    return LogRateLimiter(window_s=SAY_AGAIN_S, max_keys=1)
