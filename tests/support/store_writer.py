"""Crash-test child: writes to a store under load, printing each acknowledged write.

Run as `python store_writer.py DATA_DIR PREFIX`. Prints `ready`, then one line per
acknowledged write, written only after its future resolved: `kv KEY` or
`titanic UUID`. The test SIGKILLs it at a random moment. Every loop is bounded.
"""

from __future__ import annotations

import hashlib
import sys
import threading
from collections.abc import Callable
from typing import Final

from raspy import log
from raspy.config import StoreConfig
from raspy.storage.store import Delete, Op, Put, Store, Table
from raspy.storage.tables import (
    LAST_SEQ_KEY,
    TitanicReplyRecord,
    TitanicRequestRecord,
    decode_seq,
    encode_kv,
    encode_seq,
    encode_titanic_reply,
    encode_titanic_request,
    queue_key,
)

THREADS: Final = 4
WRITES_PER_THREAD: Final = 3000
CONFIG: Final = StoreConfig(map_size_initial_mb=1, map_size_max_mb=256)


def body_for(key: bytes) -> bytes:
    """The value written for a key: 32 to 2,560 bytes derived from the key."""
    digest = hashlib.sha256(key).digest()
    return digest * (1 + digest[0] % 80)


class Load:
    """Threads that submit kv updates and Titanic requests/replies as raspyd would."""

    def __init__(self, store: Store, prefix: str) -> None:
        self.store = store
        self.prefix = prefix
        self.lock = threading.Lock()
        last = store.get(Table.KV_META, LAST_SEQ_KEY)
        self.seq = decode_seq(last) if last is not None else 0
        self.counter = self.seq
        self.out = threading.Lock()

    def ack(self, line: str) -> Callable[[BaseException | None], None]:
        def done(error: BaseException | None) -> None:
            if error is None:
                with self.out:
                    sys.stdout.write(line + "\n")
                    sys.stdout.flush()

        return done

    def kv_update(self, thread: int, index: int) -> None:
        key = f"/crash/{self.prefix}/{thread}/{index}".encode()
        with self.lock:  # seq order = queue order, as the Clone server does
            self.seq += 1
            ops: list[Op] = [
                Put(Table.KV, key, encode_kv(self.seq, body_for(key), {}, None)),
                Put(Table.KV_META, LAST_SEQ_KEY, encode_seq(self.seq)),
            ]
            future = self.store.submit(ops, self.ack(f"kv {key.decode()}"))
        future.result(timeout=30)

    def titanic(self, thread: int, index: int) -> None:
        uuid = hashlib.md5(f"{self.prefix}/{thread}/{index}".encode()).hexdigest()  # noqa: S324  # an id, not security
        with self.lock:
            self.counter += 1
            qkey = queue_key(self.counter, uuid.encode())
        request = TitanicRequestRecord(b"echo", (body_for(uuid.encode()),), 1.0)
        self.store.submit(
            [
                Put(
                    Table.TITANIC_REQUESTS,
                    uuid.encode(),
                    encode_titanic_request(request),
                ),
                Put(Table.TITANIC_QUEUE, qkey, uuid.encode()),
            ],
            self.ack(f"titanic {uuid}"),
        ).result(timeout=30)
        if index % 2 == 0:  # reply and dequeue in one transaction
            reply = TitanicReplyRecord((b"done",), 2.0)
            self.store.submit(
                [
                    Put(
                        Table.TITANIC_REPLIES,
                        uuid.encode(),
                        encode_titanic_reply(reply),
                    ),
                    Delete(Table.TITANIC_QUEUE, qkey),
                ]
            ).result(timeout=30)

    def run(self, thread: int) -> None:
        for index in range(WRITES_PER_THREAD):
            if index % 3 == 2:
                self.titanic(thread, index)
            else:
                self.kv_update(thread, index)


def main(argv: list[str]) -> int:
    log.configure("warning")
    store = Store.open(argv[1], CONFIG)
    load = Load(store, argv[2])
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    threads = [threading.Thread(target=load.run, args=(t,)) for t in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    store.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
