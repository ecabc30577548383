"""Public API for external apps: MDP client and worker (raspy.client.mdp), the
Titanic client (raspy.client.titanic), and the Clone key-value tree client
(raspy.client.clone).

Each name is imported from its module when it is first asked for: `raspy call`
imports raspy.client.mdp, and loads neither the Clone client nor the Titanic one
(a tenth of its start's CPU; each `raspy` command is a process of its own).
A submodule asked for as an attribute (`raspy.client.clone.CloneClient` after
`import raspy.client`) is imported then, as a name is."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    # the submodules, as attributes (imported at first use, as the names are)
    from raspy.client import clone as clone
    from raspy.client import clone_agent as clone_agent
    from raspy.client import clone_agent_log as clone_agent_log
    from raspy.client import clone_fetch as clone_fetch
    from raspy.client import hub_probe as hub_probe
    from raspy.client import link as link
    from raspy.client import mdp as mdp
    from raspy.client import titanic as titanic
    from raspy.client import worker as worker
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
        """`from raspy.client import Client`: the name, from its module, and
        `raspy.client.clone`: the submodule, imported now (PEP 562)."""
        module = _MODULE_OF.get(name)
        if module is None:
            return _submodule(name)
        value: object = getattr(importlib.import_module(module), name)
        globals()[name] = value  # asked once
        return value

    def _submodule(name: str) -> object:
        """The package's submodule `name`, or AttributeError if it has none."""
        try:
            return importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as error:
            if error.name != f"{__name__}.{name}":
                raise  # the submodule is there; something it imports is not
            raise AttributeError(
                f"module {__name__!r} has no attribute {name!r}"
            ) from None


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
