"""Every port raspyd will listen on (MDP, Clone's three, the web face's) tried
before anything starts: a port taken or an address this host cannot listen on is
said in one line, not after every part started and stopped again. The binds also
tell which addresses the bind really is (an interface's, 0.0.0.0 for `*`)."""

from __future__ import annotations

import errno
import ipaddress
from typing import Final

import zmq

from raspy import config as config_mod
from raspy.cli import EXIT_FAILURE, EXIT_USAGE
from raspy.protocol import clone
from raspy.records import frozen


def _listen_endpoints(cfg: config_mod.Config) -> list[str]:
    from raspy.actors import supervisor as supervisor_mod

    endpoints = [supervisor_mod.mdp_endpoint_for(cfg)]
    if cfg.clone.enabled:
        ports = clone.Endpoints.from_port_base(cfg.network.bind, cfg.network.port_base)
        endpoints += [ports.snapshot, ports.publisher, ports.collector]
    return endpoints


# ZeroMQ's words ("No such device") for an address that is not this machine's
_NOT_HERE: Final = {
    # a name ZeroMQ took for an interface (it resolves no host names in a bind)
    errno.ENODEV: "not an IP address or interface of this machine",
    errno.EADDRNOTAVAIL: "not one of this machine's addresses",
}


# after a taken port: the one way past it that needs no config edit (make run's
# PORT_BASE passes it on)
MOVE_PORTS: Final = " (--port-base N moves all of raspyd's ports)"

_IPV6: Final = (
    "an IPv6 address, which raspyd does not listen on (give an IPv4 one, or *)"
)


def _is_ipv6(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).version == 6
    except ValueError:
        return False


@frozen
class Checked:
    """What trying the ports found: a problem (its line and exit status), else the
    IP addresses ZeroMQ bound (`lo` is 127.0.0.1, `*` is 0.0.0.0)."""

    problem: tuple[str, int] | None
    addresses: frozenset[str] = frozenset()

    @property
    def loopback_only(self) -> bool:
        """Whether only this machine can reach the ports: every address bound is a
        loopback one, whatever name `bind` gave it (an interface such as `lo`)."""
        return bool(self.addresses) and all(
            ipaddress.ip_address(a).is_loopback for a in self.addresses
        )


def unbindable(cfg: config_mod.Config, where: str = "network.bind") -> Checked:
    """Try every port before anything starts: a taken port is a runtime failure (1),
    an address this host cannot listen on a usage error (2), naming where the
    address was given (`where`: --bind, or the config's setting); one line each."""
    context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    addresses: set[str] = set()
    try:
        for endpoint in _listen_endpoints(cfg):
            sock = context.socket(zmq.ROUTER)
            sock.setsockopt(zmq.LINGER, 0)
            try:
                sock.bind(endpoint)
                addresses.add(_bound_address(sock))
            except zmq.ZMQError as exc:
                return Checked(_bind_problem(cfg, where, endpoint, exc))
            finally:
                sock.close(linger=0)
    finally:
        context.term()
    return Checked(_web_unbindable(cfg), frozenset(addresses))


def _bound_address(sock: zmq.Socket[bytes]) -> str:
    """The IP address of a bound socket's endpoint (`tcp://127.0.0.1:5514`)."""
    endpoint = sock.getsockopt_string(zmq.LAST_ENDPOINT)
    host = endpoint.removeprefix("tcp://").rpartition(":")[0]
    return host.removeprefix("[").removesuffix("]")


def _bind_problem(
    cfg: config_mod.Config, where: str, endpoint: str, exc: zmq.ZMQError
) -> tuple[str, int]:
    not_here = _NOT_HERE.get(exc.errno or 0)
    if not_here is not None and _is_ipv6(cfg.network.bind):
        not_here = _IPV6
    if not_here is not None:
        return f"{where} {cfg.network.bind}: {not_here}", EXIT_USAGE
    taken = exc.errno == errno.EADDRINUSE
    return (
        f"cannot listen on {endpoint}: {zmq.strerror(exc.errno or 0)}"
        + (MOVE_PORTS if taken else ""),
        EXIT_FAILURE if taken else EXIT_USAGE,
    )


def _web_unbindable(cfg: config_mod.Config) -> tuple[str, int] | None:
    """The web face's port, tried the same way: said in one line before anything
    starts, not after every part started and stopped again."""
    if not cfg.http.enabled:
        return None
    from raspy.actors.web import WEB_PORT_OFFSET
    from raspy.actors.web.server import ListenError, bind_socket

    try:
        bind_socket(cfg.http.bind, cfg.network.port_base + WEB_PORT_OFFSET).close()
    except ListenError as exc:
        if exc.errno == errno.EADDRINUSE:
            return str(exc) + MOVE_PORTS, EXIT_FAILURE
        return str(exc), EXIT_USAGE
    return None
