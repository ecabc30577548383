"""The inproc outbox: any thread pushes frames to the edge through its own PUSH socket."""

from __future__ import annotations

from typing import Final

from raspy.transport.pushers import ThreadPushers

MDP_CHANNEL: Final = b"M"
# [channel, *(service, client id, frame count, *client reply frames)]: a local
# handler's answers (msgs.HandleLocally), several in one message
LOCAL_REPLY_CHANNEL: Final = b"R"
# [channel, *(peer id, frame count, *MDP frames)]: several messages of in-process
# peers of one owner (Titanic's dispatch), each handled as if sent on MDP_CHANNEL
MDP_BATCH_CHANNEL: Final = b"N"


class Outbox(ThreadPushers):
    """Pushes `[channel, peer_id, *frames]` to the edge's PULL socket."""

    def send_mdp(self, peer_id: bytes, frames: list[bytes]) -> None:
        """Frames from an in-process MDP peer (worker or client) to the broker."""
        self.send([MDP_CHANNEL, peer_id, *frames])

    def send_local_replies(self, records: list[bytes]) -> None:
        """A local handler's answers: `records` as LOCAL_REPLY_CHANNEL describes."""
        self.send([LOCAL_REPLY_CHANNEL, *records])

    def send_mdp_batch(self, records: list[bytes]) -> None:
        """Several in-process peers' messages: `records` as MDP_BATCH_CHANNEL says."""
        self.send([MDP_BATCH_CHANNEL, *records])
