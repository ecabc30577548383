"""Public API for external apps: MDP client and worker (raspy.client.mdp), the
Titanic client (raspy.client.titanic), and the Clone key-value tree client
(raspy.client.clone).

Each name is imported from its module when it is first asked for: `raspy call`
imports raspy.client.mdp, and loads neither the Clone client nor the Titanic one
(a tenth of its start's CPU; each `raspy` command is a process of its own)."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from raspy.client.clone import Change, CloneClient, Snapshot, fetch_snapshot
    from raspy.client.mdp import Client, Worker
    from raspy.client.titanic import TitanicClient
    from raspy.errors import ClientTimeout, MalformedReply, TitanicError
    from raspy.protocol.mdp import ClientReply, Version
    from raspy.transport.sockets import CurveKeys

_MODULE_OF: Final = {
    "Change": "raspy.client.clone",
    "Client": "raspy.client.mdp",
    "ClientReply": "raspy.protocol.mdp",
    "ClientTimeout": "raspy.errors",
    "CloneClient": "raspy.client.clone",
    "CurveKeys": "raspy.transport.sockets",
    "MalformedReply": "raspy.errors",
    "Snapshot": "raspy.client.clone",
    "TitanicClient": "raspy.client.titanic",
    "TitanicError": "raspy.errors",
    "Version": "raspy.protocol.mdp",
    "Worker": "raspy.client.mdp",
    "fetch_snapshot": "raspy.client.clone",
}

__all__ = [
    "Change",
    "Client",
    "ClientReply",
    "ClientTimeout",
    "CloneClient",
    "CurveKeys",
    "MalformedReply",
    "Snapshot",
    "TitanicClient",
    "TitanicError",
    "Version",
    "Worker",
    "fetch_snapshot",
]


if not TYPE_CHECKING:  # a type checker reads the imports above: a name not
    # among them is an error in a caller's check, not an object

    def __getattr__(name: str) -> object:
        """`from raspy.client import Client`: the name, from its module (PEP 562)."""
        module = _MODULE_OF.get(name)
        if module is None:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        value: object = getattr(importlib.import_module(module), name)
        globals()[name] = value  # asked once
        return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
