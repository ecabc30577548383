"""`raspy-kv watch`'s loop: one stdout line per change, and on stderr one line when the
hub is lost and one when it is back (docs/protocols.md §6.5).

A hub that went away and came back (restarted, or on a store restored from a dump) is
read again whole, and the differences come out as changes, their sequence numbers
maybe lower than those before: without a word on stderr they looked like the tree
going back in time. The client's own log line says it, but raspy-kv shows no log.
"""

from __future__ import annotations

import queue
import sys
from collections.abc import Callable
from typing import Final

from raspy.cli.kv_lines import command_prog
from raspy.client.clone import Change, CloneClient

POLL_S: Final = 0.5  # how soon a loss shows when nothing changes (and Ctrl-C is seen)


class HubNotes:
    """What watch says of the hub: `lost` once per outage (the client starts over:
    silence for its server_ttl_s, or its connection to the publisher made again),
    `back` once the tree was read again."""

    def __init__(self, client: CloneClient) -> None:
        self._client = client
        self._reconnects = client.stats()["reconnects"]
        self._lost = False

    def check(self) -> list[str]:
        """The lines due now, in order; the differences the new snapshot brought are
        emitted after the client is live again, so `back` comes before them."""
        client = self._client
        # reconnects read before `live`: a start-over counts itself and clears
        # `live` in one step under the agent's lock (clone_client's _reconnect),
        # so a `live` read after it is never the one from before a start-over
        # counted here: no `back` said before the tree was read again
        reconnects = client.stats()["reconnects"]
        live = client.live
        lines: list[str] = []
        if reconnects != self._reconnects:
            self._reconnects = reconnects
            if not self._lost:
                self._lost = True
                lines.append(
                    f"lost the hub at {client.endpoints.publisher}; "
                    "waiting for it to come back"
                )
        if self._lost and live:
            self._lost = False
            lines.append(
                f"the hub is back: the tree was read again (seq {client.seq}); "
                "what changed meanwhile follows"
            )
        return lines


def watch_changes(
    client: CloneClient, count: int | None, line: Callable[[Change], str]
) -> None:
    """Print each change (`line`) until `count` of them, or Ctrl-C
    (KeyboardInterrupt), with the hub's notes on stderr as they come."""
    inbox: queue.SimpleQueue[Change] = queue.SimpleQueue()
    client.on_change(inbox.put)
    notes = HubNotes(client)
    seen = 0
    while count is None or seen < count:
        try:
            change: Change | None = inbox.get(timeout=POLL_S)
        except queue.Empty:
            change = None
        for note in notes.check():
            print(f"{command_prog('watch')}: {note}", file=sys.stderr, flush=True)
        if change is not None:
            print(line(change), flush=True)
            seen += 1
