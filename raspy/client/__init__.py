"""Public API for external apps: MDP client and worker (raspy.client.mdp), and the
Clone key-value tree client (raspy.client.clone)."""

from raspy.client.clone import Change, CloneClient, Snapshot, fetch_snapshot
from raspy.client.mdp import Client, Worker
from raspy.errors import ClientTimeout
from raspy.protocol.mdp import ClientReply, Version
from raspy.transport.sockets import CurveKeys

__all__ = [
    "Change",
    "Client",
    "ClientReply",
    "ClientTimeout",
    "CloneClient",
    "CurveKeys",
    "Snapshot",
    "Version",
    "Worker",
    "fetch_snapshot",
]
