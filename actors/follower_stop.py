"""What an in-process follower of the tree (the web face, the MQTT bridge, history)
says as it stops: it leaves the Clone server's followers and the edge's routes and
watchers. Every step is best effort: a part that has gone has nothing to forget.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from typing import Any, Final

import pykka

from raspy.actors import messages as msgs
from raspy.actors.worker import PeerLinks

_ASK_TIMEOUT_S: Final = 5.0


def leave(
    links: PeerLinks, ref: pykka.ActorRef[Any], peer_ids: Iterable[bytes]
) -> None:
    """Unsubscribe `ref` from the Clone server (asked: no update reaches it after),
    detach its in-process peers `peer_ids` and end its service watch (told:
    nothing here waits for the edge)."""
    if links.clone is not None:
        with contextlib.suppress(pykka.ActorDeadError, TimeoutError):
            links.clone.ask(msgs.CloneUnsubscribe(ref), timeout=_ASK_TIMEOUT_S)
    with contextlib.suppress(pykka.ActorDeadError):
        for peer_id in peer_ids:
            links.edge.tell(msgs.DetachLocal(peer_id))
        links.edge.tell(msgs.UnwatchServices(ref))
