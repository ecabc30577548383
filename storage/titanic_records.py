"""Titanic's writes as store operations, and its tables read back at start-up.

Its own module so that the actor stays a thin shell: the record codecs are
raspy.storage.tables'; this only maps the core's Write values onto them and turns
scanned rows into the core's inputs (unreadable rows are returned, not raised, for
the shell to count and log). Pure: no store handle, no logging.
"""

from __future__ import annotations

from collections.abc import Iterable

from raspy.cores import titanic as core_mod
from raspy.errors import MalformedMessage, StoreError
from raspy.protocol import titanic as tsp
from raspy.storage import tables
from raspy.storage.store import Delete, Op, Put, Table

Unreadable = list[tuple[bytes, str]]  # (key, reason)


def stored_requests(
    rows: Iterable[tuple[bytes, bytes]],
) -> tuple[list[core_mod.StoredRequest], Unreadable]:
    """The TITANIC_REQUESTS rows as StoredRequests, and the rows that do not decode."""
    requests: list[core_mod.StoredRequest] = []
    bad: Unreadable = []
    for key, value in rows:
        try:
            record = tables.decode_titanic_request(value)
            uuid = tsp.parse_uuid(key)
        except (StoreError, MalformedMessage) as exc:
            bad.append((key, str(exc)))
            continue
        requests.append(
            core_mod.StoredRequest(uuid, record.service, record.body, record.created)
        )
    return requests, bad


def queue_entries(
    rows: Iterable[tuple[bytes, bytes]],
) -> tuple[list[tuple[int, str]], Unreadable]:
    """The TITANIC_QUEUE keys as (order, uuid), and the keys that do not decode."""
    queue: list[tuple[int, str]] = []
    bad: Unreadable = []
    for key, _ in rows:
        try:
            order, uuid_bytes = tables.decode_queue_key(key)
        except StoreError as exc:
            bad.append((key, str(exc)))
            continue
        queue.append((order, uuid_bytes.decode("ascii")))
    return queue, bad


def store_op(write: core_mod.Write) -> Op:
    """The store operation for one of the core's writes (storage/tables.py)."""
    match write:
        case core_mod.PutRequest(
            uuid=uuid, service=service, body=body, created=created
        ):
            record = tables.TitanicRequestRecord(service, body, created)
            value = tables.encode_titanic_request(record)
            return Put(Table.TITANIC_REQUESTS, uuid.encode("ascii"), value)
        case core_mod.PutQueue(order=order, uuid=uuid):
            key = uuid.encode("ascii")
            return Put(Table.TITANIC_QUEUE, tables.queue_key(order, key), key)
        case core_mod.PutReply(uuid=uuid, body=body, done=done):
            value = tables.encode_titanic_reply(tables.TitanicReplyRecord(body, done))
            return Put(Table.TITANIC_REPLIES, uuid.encode("ascii"), value)
        case core_mod.DeleteRequest(uuid=uuid):
            return Delete(Table.TITANIC_REQUESTS, uuid.encode("ascii"))
        case core_mod.DeleteReply(uuid=uuid):
            return Delete(Table.TITANIC_REPLIES, uuid.encode("ascii"))
        case core_mod.DeleteQueue(order=order, uuid=uuid):
            key = tables.queue_key(order, uuid.encode("ascii"))
            return Delete(Table.TITANIC_QUEUE, key)
    raise TypeError(f"not a Titanic write: {type(write).__name__}")
