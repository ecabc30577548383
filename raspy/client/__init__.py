"""Public API for external apps: MDP client and worker (raspy.client.mdp)."""

from raspy.client.mdp import Client, Worker
from raspy.errors import ClientTimeout
from raspy.protocol.mdp import ClientReply, Version
from raspy.transport.sockets import CurveKeys

__all__ = ["Client", "ClientReply", "ClientTimeout", "CurveKeys", "Version", "Worker"]
