"""Public API for external apps: MDP client and worker (raspy.client.mdp), the
Titanic client (raspy.client.titanic), and the Clone key-value tree client
(raspy.client.clone)."""

from raspy.client.clone import Change, CloneClient, Snapshot, fetch_snapshot
from raspy.client.mdp import Client, Worker
from raspy.client.titanic import TitanicClient
from raspy.errors import ClientTimeout, MalformedReply, TitanicError
from raspy.protocol.mdp import ClientReply, Version
from raspy.transport.sockets import CurveKeys

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
