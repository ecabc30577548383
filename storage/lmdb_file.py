"""LMDB's B-trees walked with plain reads, never mapped (pure: bytes in, facts out).

LMDB maps `data.mdb` and trusts it: a garbage page can send a cursor anywhere. So before
a store is mapped (and when nobody writes the file), every B-tree page of the snapshot
a meta page (storage.lmdb_meta) names is walked here: headers, node bounds, key order,
child and overflow page numbers, page counts. Anything wrong raises StoreDamagedError
naming the page and what was found.

Layout (LMDB 0.9, 64-bit, little-endian): a page's 16-byte header (lmdb_meta), then
its nodes' offsets, u16 each; a node is lo u16, hi u16, flags u16, key size u16 and the
key, then in a leaf its data (lo | hi << 16 bytes); in a branch lo, hi and flags make
the child's page number.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from raspy.errors import StoreDamagedError, quote
from raspy.records import frozen
from raspy.storage.lmdb_meta import (
    DB_RECORD,
    NO_PAGE,
    P_META,
    PAGE_HEADER,
    PAGE_HEADER_BYTES,
    DbRecord,
    Meta,
    check_root,
)

P_BRANCH: Final = 0x01
P_LEAF: Final = 0x02
P_OVERFLOW: Final = 0x04
F_BIGDATA: Final = 0x01
F_SUBDATA: Final = 0x02
F_DUPDATA: Final = 0x04
MDB_REVERSEKEY: Final = 0x02
MDB_DUPSORT: Final = 0x04
MDB_INTEGERKEY: Final = 0x08
_NODE_HEADER_BYTES: Final = 8
_NODE = struct.Struct("<HHHH")
_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")

ReadPage = Callable[[int, int], bytes]
"""read_page(pgno, count): `count` pages from `pgno` on, short if the file ends."""


@dataclass
class WalkReport:
    """What a full walk saw."""

    pages: int = 0
    databases: int = 0
    entries: int = 0
    # page -> database name, when asked for (tools and tests that damage one part)
    owners: dict[int, bytes] = field(default_factory=dict)


@dataclass
class _Tally:
    branch: int = 0
    leaf: int = 0
    overflow: int = 0
    entries: int = 0


def _key_order(flags: int) -> Callable[[bytes], object]:
    """Sort key of a database's keys, as its comparison function orders them."""
    if flags & MDB_INTEGERKEY:
        return lambda key: int.from_bytes(key, "little")
    if flags & MDB_REVERSEKEY:
        return lambda key: key[::-1]
    return lambda key: key


class Walker:
    """Walks every tree of one meta page's snapshot: walk() or StoreDamagedError.
    `trees`: only the main tree and the named databases given (a reader that reads
    no other), not the free pages' tree, which no reader reads."""

    def __init__(
        self,
        meta: Meta,
        read_page: ReadPage,
        *,
        record_owners: bool = False,
        trees: frozenset[bytes] | None = None,
    ) -> None:
        self._meta = meta
        self._trees = trees
        self._read = read_page
        self._seen = bytearray(meta.last_page + 1)  # a byte a page: small, bounded
        self._record_owners = record_owners
        self._databases: list[tuple[bytes, DbRecord]] = []
        self._owner = b""  # the database being walked
        self.report = WalkReport()

    def walk(self) -> WalkReport:
        if self._trees is None:
            self._tree(b"(free pages)", self._meta.free)
        self._tree(b"(main)", self._meta.main)
        while self._databases:  # the named databases the main tree holds
            name, record = self._databases.pop()
            if self._trees is None or name in self._trees:
                self._tree(name, record)
        return self.report

    def _page(self, pgno: int, what: str, owner: bytes, count: int = 1) -> bytes:
        last = self._meta.last_page
        if pgno < 2 or pgno + count - 1 > last:
            raise StoreDamagedError(
                f"{what}: page {pgno} (+{count - 1}) is outside pages 2..{last}"
            )
        for number in range(pgno, pgno + count):
            if self._seen[number]:
                raise StoreDamagedError(f"{what}: page {number} is used twice")
            self._seen[number] = 1
            if self._record_owners:
                self.report.owners[number] = owner
        data = self._read(pgno, 1)
        if len(data) < self._meta.page_bytes:
            raise StoreDamagedError(f"{what}: page {pgno} is past the end of the file")
        self.report.pages += count
        return data

    def _tree(self, name: bytes, db: DbRecord) -> None:
        where = f"database {quote(name)}"
        self.report.databases += 1
        if db.root == NO_PAGE:
            return  # parse_meta / _leaf_node checked that it claims no entries
        self._owner = name
        tally = _Tally()
        order = _key_order(db.flags)
        stack: list[_Visit] = [_Visit(db.root, 1, None, None)]
        while stack:
            visit = stack.pop()
            page = self._page(visit.pgno, where, name)
            stack.extend(self._one_page(where, db, page, visit, tally, order))
        expected = (db.branch_pages, db.leaf_pages, db.overflow_pages)
        found = (tally.branch, tally.leaf, tally.overflow)
        if found != expected:
            raise StoreDamagedError(
                f"{where}: (branch, leaf, overflow) pages {found}, its record says "
                f"{expected}"
            )
        if tally.entries != db.entries:
            raise StoreDamagedError(
                f"{where}: {tally.entries} entries, its record says {db.entries}"
            )
        self.report.entries += tally.entries

    def _one_page(
        self,
        where: str,
        db: DbRecord,
        page: bytes,
        visit: _Visit,
        tally: _Tally,
        order: Callable[[bytes], Any],
    ) -> list[_Visit]:
        """Check one branch or leaf page; the children to visit next."""
        size = self._meta.page_bytes
        number, _, flags, lower, upper = PAGE_HEADER.unpack_from(page, 0)
        here = f"{where} page {visit.pgno}"
        if number != visit.pgno:
            raise StoreDamagedError(
                f"{here}: its header says page {number} (garbage, or a page out of place)"
            )
        kind = flags & (P_BRANCH | P_LEAF | P_OVERFLOW | P_META)
        leaf = visit.depth == db.depth
        if kind != (P_LEAF if leaf else P_BRANCH):
            raise StoreDamagedError(
                f"{here}: flags {flags:#x} at depth {visit.depth} of {db.depth}"
            )
        if not PAGE_HEADER_BYTES < lower <= upper <= size or lower % 2:
            raise StoreDamagedError(
                f"{here}: free space {lower}..{upper} is impossible"
            )
        count = (lower - PAGE_HEADER_BYTES) // 2
        children: list[int] = []
        keys: list[Any] = []
        unpack_node = _NODE.unpack_from
        low, high = visit.low, visit.high
        offsets = struct.unpack_from(f"<{count}H", page, PAGE_HEADER_BYTES)
        for index, offset in enumerate(offsets):
            if offset < upper or offset + _NODE_HEADER_BYTES > size or offset % 2:
                raise StoreDamagedError(f"{here}: node {index} at offset {offset}")
            lo, hi, node_flags, key_bytes = unpack_node(page, offset)
            key_at = offset + _NODE_HEADER_BYTES
            data_at = key_at + key_bytes
            if data_at > size:
                raise StoreDamagedError(f"{here}: node {index}'s key runs off the page")
            raw_key = page[key_at:data_at]
            key = order(raw_key)
            if (index or leaf) and not (  # a branch's first key is never compared
                (low is None or key >= low)
                and (high is None or key < high)
                and (not keys or key > keys[-1])
            ):
                raise StoreDamagedError(f"{here}: node {index}'s key is out of order")
            keys.append(key)
            if not leaf:
                children.append(lo | hi << 16 | node_flags << 32)
            elif node_flags:  # big, a database record, or duplicates
                node = _Node(index, raw_key, data_at, lo | hi << 16, node_flags)
                self._leaf_node(here, page, node, tally)
            elif data_at + (lo | hi << 16) > size:
                raise StoreDamagedError(
                    f"{here} node {index}: its data runs off the page"
                )
        if leaf:
            tally.leaf += 1
            tally.entries += count
            return []
        tally.branch += 1
        # child i holds keys from separator i (the first: from `low`) up to, not
        # including, separator i + 1 (the last: `high`)
        return [
            _Visit(
                child,
                visit.depth + 1,
                keys[i] if i else visit.low,
                keys[i + 1] if i + 1 < count else visit.high,
            )
            for i, child in enumerate(children)
        ]

    def _leaf_node(self, here: str, page: bytes, node: _Node, tally: _Tally) -> None:
        size = self._meta.page_bytes
        what = f"{here} node {node.index}"
        if node.flags & F_DUPDATA:
            raise StoreDamagedError(
                f"{what} holds duplicates, which raspy never writes"
            )
        if node.flags & F_BIGDATA:
            if node.data_at + 8 > size:
                raise StoreDamagedError(f"{what}: its data runs off the page")
            first = _U64.unpack_from(page, node.data_at)[0]
            self._overflow(what, first, node.data_bytes, tally, self._owner)
            return
        if node.data_at + node.data_bytes > size:
            raise StoreDamagedError(f"{what}: its data runs off the page")
        if node.flags & F_SUBDATA:
            if node.data_bytes != DB_RECORD.size:
                raise StoreDamagedError(
                    f"{what}: a database record of {node.data_bytes} bytes"
                )
            record = DbRecord.parse(page, node.data_at)
            check_root(what, quote(node.key), record, self._meta.last_page)
            self._databases.append((node.key, record))

    def _overflow(
        self, what: str, first: int, data_bytes: int, tally: _Tally, owner: bytes
    ) -> None:
        size = self._meta.page_bytes
        inside = 2 <= first <= self._meta.last_page
        head = self._read(first, 1) if inside else b""
        if len(head) < PAGE_HEADER_BYTES:
            raise StoreDamagedError(
                f"{what}: overflow page {first} is outside the file"
            )
        number, _, flags = struct.unpack_from("<QHH", head, 0)
        pages = _U32.unpack_from(head, 12)[0]
        if number != first or not flags & P_OVERFLOW or pages < 1:
            raise StoreDamagedError(
                f"{what}: page {first} is not an overflow page (flags {flags:#x})"
            )
        if data_bytes > pages * size - PAGE_HEADER_BYTES:
            raise StoreDamagedError(
                f"{what}: {data_bytes} bytes do not fit its {pages} overflow pages"
            )
        self._page(first, what, owner, pages)
        tally.overflow += pages


@frozen
class _Visit:
    pgno: int
    depth: int
    low: Any  # keys in this subtree are >= low and < high (None: unbounded)
    high: Any


@frozen
class _Node:
    index: int
    key: bytes
    data_at: int
    data_bytes: int
    flags: int


def walk(
    meta: Meta,
    read_page: ReadPage,
    *,
    record_owners: bool = False,
    trees: frozenset[bytes] | None = None,
) -> WalkReport:
    """Every page of every tree in meta's snapshot checked (`trees`: of the main
    tree and those named only); StoreDamagedError if not."""
    return Walker(meta, read_page, record_owners=record_owners, trees=trees).walk()
