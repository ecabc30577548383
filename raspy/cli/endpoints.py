"""Endpoint arguments, checked before any socket sees them: a bad one is a usage error
naming what was expected, not a ZMQError (or a worker thread dying) later."""

from __future__ import annotations

import argparse
import re

from raspy.errors import shown

_TCP = re.compile(r"tcp://(?P<host>\[[0-9A-Fa-f:.]+\]|[^\s:/\[\]]+):(?P<port>\d{1,5})")


def tcp_endpoint(text: str, *, max_port: int = 65535, port: str = "PORT") -> str:
    """`tcp://HOST:PORT` as it is, `HOST:PORT` as `tcp://HOST:PORT` (raspy-kv's live
    commands take both, so every tool does); ValueError naming what is wrong
    otherwise."""
    endpoint = text if "://" in text else f"tcp://{text}"
    match = _TCP.fullmatch(endpoint)
    if match is None:
        raise ValueError(f"expected tcp://HOST:{port}, got {shown(text)}")
    if not match["host"].isascii():  # ZeroMQ's resolver takes no IDN; bytes that
        # are not UTF-8 would reach its connect() as a UnicodeEncodeError
        raise ValueError(
            f"expected tcp://HOST:{port} with an ASCII host (an IDN in its "
            f"xn-- form), got {shown(text)}"
        )
    number = int(match["port"])
    if not 1 <= number <= max_port:
        raise ValueError(f"expected a {port} 1..{max_port}, got {shown(text)}")
    return endpoint


def host_port(
    text: str, *, max_port: int = 65535, port: str = "PORT"
) -> tuple[str, int]:
    """The host (an IPv6 one without its brackets) and port of what tcp_endpoint
    takes, for a plain socket's connect; its ValueError otherwise."""
    match = _TCP.fullmatch(tcp_endpoint(text, max_port=max_port, port=port))
    assert match is not None  # tcp_endpoint matched it
    host = match["host"]
    return host[1:-1] if host.startswith("[") else host, int(match["port"])


def endpoint_argument(text: str) -> str:
    """argparse type of --server: tcp://HOST:PORT."""
    try:
        return tcp_endpoint(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def port_base_argument(text: str) -> str:
    """argparse type of a hub's address: tcp://HOST:PORT-BASE (MDP N, Clone N+1..N+3)."""
    try:
        return tcp_endpoint(text, max_port=65532, port="PORT-BASE")
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
