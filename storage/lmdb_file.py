"""LMDB's data file read with plain reads, never mapped (pure: bytes in, facts out).

LMDB maps `data.mdb` and trusts it: a file shorter than its meta page says gives SIGBUS
on the first touch past its end, and a garbage page can send a cursor anywhere. So
before a store is mapped, its two meta pages are parsed here, the file's length is
checked against the newer one, and (when nobody writes the file) every B-tree page is
walked: headers, node bounds, key order, child and overflow page numbers, page counts.
Anything wrong raises StoreDamagedError naming the page and what was found.

Layout (LMDB 0.9, 64-bit, little-endian): a page starts with a 16-byte header
(pgno u64, pad u16, flags u16, lower u16, upper u16 | overflow pages u32); a meta page
carries magic u32, version u32, address u64, map size u64, the free and main database
records (48 bytes each: pad u32, flags u16, depth u16, branch, leaf and overflow page
counts, entries, root: u64 each), the last page number u64 and the txn id u64.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from raspy.errors import StoreDamagedError, quote

MAGIC: Final = 0xBEEFC0DE
DATA_VERSION: Final = 1
PAGE_HEADER_BYTES: Final = 16
META_BYTES: Final = PAGE_HEADER_BYTES + 136  # what must be read of a meta page
NO_PAGE: Final = 2**64 - 1  # an empty database's root
MIN_PAGE_BYTES: Final = 512
MAX_PAGE_BYTES: Final = 65536

P_BRANCH: Final = 0x01
P_LEAF: Final = 0x02
P_OVERFLOW: Final = 0x04
P_META: Final = 0x08
F_BIGDATA: Final = 0x01
F_SUBDATA: Final = 0x02
F_DUPDATA: Final = 0x04
MDB_REVERSEKEY: Final = 0x02
MDB_DUPSORT: Final = 0x04
MDB_INTEGERKEY: Final = 0x08
_NODE_HEADER_BYTES: Final = 8
_DB_RECORD = struct.Struct("<IHHQQQQQ")
_PAGE_HEADER = struct.Struct("<QHHHH")
_NODE = struct.Struct("<HHHH")
_U16 = struct.Struct("<H")
_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")

ReadPage = Callable[[int, int], bytes]
"""read_page(pgno, count): `count` pages from `pgno` on, short if the file ends."""


@dataclass(frozen=True, slots=True)
class DbRecord:
    """One database's record (MDB_db): its flags, tree shape and root page."""

    pad: int
    flags: int
    depth: int
    branch_pages: int
    leaf_pages: int
    overflow_pages: int
    entries: int
    root: int

    @classmethod
    def parse(cls, data: bytes, offset: int = 0) -> DbRecord:
        return cls(*_DB_RECORD.unpack_from(data, offset))


@dataclass(frozen=True, slots=True)
class Meta:
    """What one meta page says about the file."""

    index: int  # 0 or 1
    page_bytes: int
    map_bytes: int
    free: DbRecord
    main: DbRecord
    last_page: int
    txnid: int

    @property
    def needed_bytes(self) -> int:
        """The file must be at least this long: every page up to the last one."""
        return (self.last_page + 1) * self.page_bytes


def parse_meta(data: bytes, index: int) -> Meta:
    """Meta page `index` (its first META_BYTES at least); StoreDamagedError if bad."""
    where = f"meta page {index}"
    if len(data) < META_BYTES:
        raise StoreDamagedError(f"{where}: {len(data)} bytes, need {META_BYTES}")
    pgno, _, flags, _, _ = _PAGE_HEADER.unpack_from(data, 0)
    if not flags & P_META or pgno != index:
        raise StoreDamagedError(
            f"{where}: not a meta page (page number {pgno}, flags {flags:#x})"
        )
    magic, version = struct.unpack_from("<II", data, 16)
    if magic != MAGIC:
        raise StoreDamagedError(
            f"{where}: magic {magic:#010x}, not {MAGIC:#x} (not an LMDB file)"
        )
    if version != DATA_VERSION:
        raise StoreDamagedError(f"{where}: data format version {version}, not 1")
    map_bytes = _U64.unpack_from(data, 32)[0]
    free = DbRecord.parse(data, 40)
    main = DbRecord.parse(data, 88)
    last_page, txnid = struct.unpack_from("<QQ", data, 136)
    page_bytes = free.pad
    if not MIN_PAGE_BYTES <= page_bytes <= MAX_PAGE_BYTES or page_bytes & (
        page_bytes - 1
    ):
        raise StoreDamagedError(f"{where}: page size {page_bytes} is impossible")
    if last_page < 1 or last_page >= 2**48:
        raise StoreDamagedError(f"{where}: last page {last_page} is impossible")
    for name, db in (("free", free), ("main", main)):
        _check_root(where, name, db, last_page)
    return Meta(index, page_bytes, map_bytes, free, main, last_page, txnid)


def _check_root(where: str, name: str, db: DbRecord, last_page: int) -> None:
    if db.root == NO_PAGE:
        if db.depth or db.entries:
            raise StoreDamagedError(
                f"{where}: the {name} database is empty but says depth {db.depth}, "
                f"{db.entries} entries"
            )
        return
    if not 2 <= db.root <= last_page or not 1 <= db.depth <= 64:
        raise StoreDamagedError(
            f"{where}: the {name} database's root page {db.root} (depth {db.depth}) "
            f"is outside pages 2..{last_page}"
        )


def current_meta(head: bytes, read_at: Callable[[int, int], bytes]) -> Meta:
    """The newer of the two meta pages, as LMDB picks it; both must be sound.

    `head` is the file's first META_BYTES; read_at(offset, size) reads more.
    """
    first = parse_meta(head, 0)
    second = parse_meta(read_at(first.page_bytes, META_BYTES), 1)
    if second.page_bytes != first.page_bytes:
        raise StoreDamagedError(
            f"meta pages disagree on the page size ({first.page_bytes} and "
            f"{second.page_bytes})"
        )
    return second if second.txnid > first.txnid else first


def check_length(meta: Meta, file_bytes: int) -> None:
    """A file shorter than its pages would be SIGBUS once mapped: refuse it."""
    if file_bytes < meta.needed_bytes:
        raise StoreDamagedError(
            f"truncated: {file_bytes} bytes, but meta page {meta.index} (txn "
            f"{meta.txnid}) needs {meta.needed_bytes} ({meta.last_page + 1} pages of "
            f"{meta.page_bytes})"
        )


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
        number, _, flags, lower, upper = _PAGE_HEADER.unpack_from(page, 0)
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
            if node.data_bytes != _DB_RECORD.size:
                raise StoreDamagedError(
                    f"{what}: a database record of {node.data_bytes} bytes"
                )
            record = DbRecord.parse(page, node.data_at)
            _check_root(what, quote(node.key), record, self._meta.last_page)
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


@dataclass(frozen=True, slots=True)
class _Visit:
    pgno: int
    depth: int
    low: Any  # keys in this subtree are >= low and < high (None: unbounded)
    high: Any


@dataclass(frozen=True, slots=True)
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
