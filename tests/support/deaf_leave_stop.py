"""Run as a script (python -m support.deaf_leave_stop SECONDS, from tests/): a real
Clone server whose snapshot ROUTER is full towards peers that asked and never read;
the peers leave and the server stops at once, round after round for SECONDS (each
round a context and a server of its own, over one store filled at the start: a round
does little but the race, so that SECONDS holds many). libzmq 4.3.5 aborts the
process (EAGAIN in session_base_t::clean_pipes) when a peer's connection ends just
after its session let go of a pipe that holds a message half sent to it; exit status
0 means no round did. A subprocess: the abort takes the whole process with it."""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import zmq

from raspy.config import CloneConfig, LimitsConfig, StoreConfig
from raspy.protocol import clone
from raspy.storage.store import Put, Store
from raspy.storage.tables import LAST_SEQ_KEY, Table, encode_kv, encode_seq
from support.clock import FakeClock
from support.clonesrv import clone_server
from support.wait import wait_until

PEERS = 32  # MAX_ACTIVE: every place taken
# 3 MB a snapshot, more than a pipe and the kernel hold, in keys of 500 B and values
# of 100 B: the race needs a connection ending right after a frame with more behind
# it, and with 1 KB values almost every byte was in an entry's last frame
KEYS = 5000
KEY_BYTES = 500
VALUE_BYTES = 100
MAX_ROUNDS = 50
# the least limits.snapshot_stall_s: each round waits for it (a round is shorter)
STALL_S = 0.1


def one_round(store: Store) -> None:
    """One server with every place taken by a deaf peer; they leave, it stops."""
    context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    try:
        limits = LimitsConfig(snapshot_stall_s=STALL_S, snapshot_max_s=3600)
        config = CloneConfig(hugz_interval_s=0.1, snapshot_chunk=50)
        with clone_server(
            context, store, FakeClock(), config=config, limits=limits
        ) as server:
            deaf = []
            for _ in range(PEERS):
                dealer = context.socket(zmq.DEALER)
                dealer.setsockopt(zmq.LINGER, 0)
                dealer.setsockopt(zmq.RCVHWM, 1)
                dealer.setsockopt(zmq.RCVBUF, 1024)
                dealer.connect(server.endpoints.snapshot)
                dealer.send_multipart([clone.ICANHAZ, b""])
                deaf.append(dealer)
            try:
                wait_until(
                    lambda: server.counter("clone.snapshots.stalled") == PEERS,
                    what="every deaf peer cut off as stalled",
                )
            finally:
                for dealer in deaf:  # they leave, and the server stops at once
                    dealer.close()
    finally:
        context.term()


def filled(root: Path) -> Store:
    """A store with KEYS keys, made once for every round (a round reads it)."""
    store = Store.open(root / "data", StoreConfig(map_size_initial_mb=16))
    ops = [
        Put(
            Table.KV,
            (b"/bulk/%05d/" % n).ljust(KEY_BYTES, b"k"),
            encode_kv(n + 1, b"v" * VALUE_BYTES, {}, None),
        )
        for n in range(KEYS)
    ]
    store.commit([*ops, Put(Table.KV_META, LAST_SEQ_KEY, encode_seq(KEYS))])
    return store


def main(seconds: float) -> int:
    deadline = time.monotonic() + seconds
    rounds = 0
    with tempfile.TemporaryDirectory() as tmp:
        store = filled(Path(tmp))
        try:
            while rounds < MAX_ROUNDS and time.monotonic() < deadline:
                one_round(store)
                rounds += 1
        finally:
            store.close()
    sys.stdout.write(f"rounds={rounds}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(float(sys.argv[1])))
