"""Which `Host` names the web face serves: against DNS rebinding.

A web page anywhere can make a browser at home send requests to the hub under the
page's own name (its DNS answer changed to the hub's address): the browser takes
them for the page's origin, so its same-origin checks pass. Such a request names
the attacker's host in its `Host` header; the hub serves only IP addresses, its own
names and those configured ([http] hosts). Pure: no sockets, no config.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable


def own_names(
    hostnames: Iterable[str], configured: Iterable[str] = ()
) -> frozenset[str]:
    """The names served besides IP addresses: `localhost`, each of `hostnames` (the
    machine's, raspy's), its first label and that with `.local` (mDNS), and the
    `configured` ones, all in lower case and without a trailing dot."""
    names = {"localhost"}
    for hostname in hostnames:
        name = hostname.lower().rstrip(".")
        if name:
            short = name.split(".")[0]
            names |= {name, short, f"{short}.local"}
    names |= {name.lower().rstrip(".") for name in configured}
    return frozenset(names)


def refused_name(host: str | None, names: frozenset[str]) -> str | None:
    """The name of a `Host` header that is not served, None when it is: an IP
    address (v4, or v6 in brackets, with or without a port) or one of `names`. A
    request without one (HTTP/1.0) names nothing, and no browser sends it."""
    if host is None:
        return None
    name, port = _split(host.strip())
    if port and not port.isdigit():
        return host
    name = name.lower()
    if name.startswith("[") and name.endswith("]"):
        return None if _is_ip(name[1:-1]) else host
    if _is_ip(name) or name.rstrip(".") in names:
        return None
    return name or host


def _split(host: str) -> tuple[str, str]:
    """(name, port) of a Host header: `[v6]:port`, `name:port` or either alone."""
    if host.startswith("["):
        name, _, rest = host.partition("]")
        return name + "]", rest.removeprefix(":") if rest.startswith(":") else rest
    if host.count(":") == 1:
        name, _, port = host.partition(":")
        return name, port
    return host, ""  # no port, or a v6 address without brackets


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True
