"""The host lookup of one `<host>.http` request, bounded by what is left of its
timeout (raspy.http_fetch connects to the addresses it gives).

socket.getaddrinfo takes no timeout, and http.client calls it inside connect(): a
resolver that hangs (a DNS server gone, a network half up after a power cut) would
hold the request's thread, and with it a worker of the service, for as long as the
resolver pleases, past the timeout the scenario gave. So each lookup runs on a thread
of its own and its request waits for it only until its deadline; a lookup that
outlives its request ends whenever the resolver returns, and answers nobody.

At most `threads` lookups are under way at once, lingering ones included: a slot is
given back by the lookup's own thread when the resolver returns, not when its request
gives up. However long the resolver hangs, the service never has more threads than
that stuck in it; a request that finds every slot taken waits for one until its
deadline, then fails as a timeout, as its own lookup would have. An address written
out (`http://192.168.1.20/`) is no lookup: it never waits.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeAlias

# getaddrinfo's: (family, type, proto, canonname, sockaddr)
AddrInfo: TypeAlias = tuple[
    socket.AddressFamily, socket.SocketKind, int, str, tuple[Any, ...]
]
Resolve = Callable[[str, int], Sequence[AddrInfo]]


class LookupTimeout(TimeoutError):
    """The host's addresses were not known within the request's time."""


def system_resolve(host: str, port: int) -> Sequence[AddrInfo]:
    """The system's resolver (/etc/hosts, DNS, mDNS as nsswitch says), TCP only."""
    return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)


class HostLookup:
    """Lookups on at most `threads` threads of their own; see the module docstring."""

    def __init__(self, threads: int, resolve: Resolve = system_resolve) -> None:
        if threads < 1:
            raise ValueError(f"a host lookup needs at least one thread, not {threads}")
        self._slots = threading.BoundedSemaphore(threads)
        self._resolve = resolve

    def addresses(self, host: str, port: int, timeout_s: float) -> Sequence[AddrInfo]:
        """`host`'s addresses; LookupTimeout when they are not known within
        `timeout_s`, or what the resolver raised (socket.gaierror: no such host)."""
        if _is_address(host):
            return socket.getaddrinfo(
                host, port, type=socket.SOCK_STREAM, flags=socket.AI_NUMERICHOST
            )
        if timeout_s <= 0:
            raise LookupTimeout(f"no time left to look up {host}")
        deadline = time.monotonic() + timeout_s  # the waits below count real time
        if not self._slots.acquire(timeout=timeout_s):
            raise LookupTimeout(f"every lookup slot is taken: {host}")
        lookup = _Lookup(self._resolve, host, port, self._slots)
        try:
            threading.Thread(
                target=lookup.run, name="raspy-http-lookup", daemon=True
            ).start()
        except BaseException:
            self._slots.release()  # its thread never ran: nobody else gives it back
            raise
        if not lookup.done.wait(max(deadline - time.monotonic(), 0.0)):
            raise LookupTimeout(f"no addresses in time: {host}")
        if lookup.error is not None:
            raise lookup.error
        return lookup.found


class _Lookup:
    """One lookup: its thread fills in found or error, gives the slot back, sets
    done. Written before done is set, read only after it."""

    def __init__(
        self, resolve: Resolve, host: str, port: int, slots: threading.BoundedSemaphore
    ) -> None:
        self._resolve = resolve
        self._host = host
        self._port = port
        self._slots = slots
        self.done = threading.Event()
        self.found: Sequence[AddrInfo] = ()
        self.error: OSError | ValueError | None = None

    def run(self) -> None:
        try:
            self.found = self._resolve(self._host, self._port)
        except (OSError, ValueError) as exc:  # gaierror; an IDNA label too long
            self.error = exc  # raised on the request's thread
        finally:
            self._slots.release()
            self.done.set()


def _is_address(host: str) -> bool:
    """An IPv4 or IPv6 address written out (urlsplit's hostname has no brackets)."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
