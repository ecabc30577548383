"""The inproc outbox: any thread pushes frames to the edge through its own PUSH socket."""

from __future__ import annotations

from typing import Final

from raspy.transport.pushers import ThreadPushers

MDP_CHANNEL: Final = b"M"


class Outbox(ThreadPushers):
    """Pushes `[channel, peer_id, *frames]` to the edge's PULL socket."""

    def send_mdp(self, peer_id: bytes, frames: list[bytes]) -> None:
        """Frames from an in-process MDP peer (worker or client) to the broker."""
        self.send([MDP_CHANNEL, peer_id, *frames])
