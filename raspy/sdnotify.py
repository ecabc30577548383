"""systemd's notify protocol, in a few lines: `KEY=value` lines in one datagram to the
AF_UNIX socket named by $NOTIFY_SOCKET (a leading `@` names the abstract namespace).

Outside systemd (no $NOTIFY_SOCKET) every call does nothing, so raspyd needs no mode.
The watchdog interval comes from $WATCHDOG_USEC (for this pid, per $WATCHDOG_PID);
raspyd pings at half of it, and only while its supervisor is working.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping

import structlog

log = structlog.get_logger(component="sdnotify")


def socket_address(name: str) -> str | bytes:
    """`@name` → the abstract address b"\\0name"; a path stays as it is."""
    if name.startswith("@"):
        return b"\0" + name[1:].encode()
    return name


class Notifier:
    """Sends state changes to systemd; a no-op when not started by it."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        self._address = env.get("NOTIFY_SOCKET") or None
        self.watchdog_interval_s: float | None = None
        usec = env.get("WATCHDOG_USEC", "")
        pid = env.get("WATCHDOG_PID", "")
        if usec.isdigit() and int(usec) > 0 and pid in ("", str(os.getpid())):
            self.watchdog_interval_s = int(usec) / 1_000_000 / 2
        self._sock: socket.socket | None = None

    @property
    def enabled(self) -> bool:
        return self._address is not None

    def notify(self, **fields: str) -> bool:
        """Send `KEY=value` lines (keys upper-cased); False if not sent."""
        if self._address is None:
            return False
        text = "\n".join(f"{key.upper()}={value}" for key, value in fields.items())
        try:
            if self._sock is None:
                self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
                self._sock.setblocking(False)
            self._sock.sendto(text.encode(), socket_address(self._address))
        except OSError as exc:  # systemd gone or the socket unwritable: keep running
            log.warning("sd_notify_failed", socket=self._address, reason=exc.strerror)
            return False
        return True

    def ready(self, status: str) -> bool:
        return self.notify(ready="1", status=status, mainpid=str(os.getpid()))

    def reloading(self) -> bool:
        return self.notify(reloading="1")

    def watchdog(self) -> bool:
        return self.notify(watchdog="1")

    def stopping(self) -> bool:
        return self.notify(stopping="1")

    def status(self, text: str) -> bool:
        return self.notify(status=text)

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
