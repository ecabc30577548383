"""LMDB's meta pages read from plain bytes (pure: bytes in, facts out).

LMDB maps `data.mdb` and trusts it: a file shorter than its meta page says gives SIGBUS
on the first touch past its end. So before a store is mapped, its two meta pages are
parsed here and the file's length is checked against the newer one; its B-trees are
walked by storage.lmdb_file. Anything wrong raises StoreDamagedError naming the page and
what was found.

Layout (LMDB 0.9, 64-bit, little-endian): a page starts with a 16-byte header
(pgno u64, pad u16, flags u16, lower u16, upper u16 | overflow pages u32); a meta page
carries magic u32, version u32, address u64, map size u64, the free and main database
records (48 bytes each: pad u32, flags u16, depth u16, branch, leaf and overflow page
counts, entries, root: u64 each), the last page number u64 and the txn id u64.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Final

from raspy.errors import StoreDamagedError
from raspy.records import frozen

MAGIC: Final = 0xBEEFC0DE
DATA_VERSION: Final = 1
PAGE_HEADER_BYTES: Final = 16
META_BYTES: Final = PAGE_HEADER_BYTES + 136  # what must be read of a meta page
NO_PAGE: Final = 2**64 - 1  # an empty database's root
MIN_PAGE_BYTES: Final = 512
MAX_PAGE_BYTES: Final = 65536
P_META: Final = 0x08
DB_RECORD = struct.Struct("<IHHQQQQQ")
PAGE_HEADER = struct.Struct("<QHHHH")
_U64 = struct.Struct("<Q")


@frozen
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
        return cls(*DB_RECORD.unpack_from(data, offset))


@frozen
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
    pgno, _, flags, _, _ = PAGE_HEADER.unpack_from(data, 0)
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
        check_root(where, name, db, last_page)
    return Meta(index, page_bytes, map_bytes, free, main, last_page, txnid)


def check_root(where: str, name: str, db: DbRecord, last_page: int) -> None:
    """A database record's root and depth, as a file of `last_page` pages allows."""
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
