"""The LMDB data-file reader (storage.lmdb_meta, storage.lmdb_file): meta pages and the
page walk parse or raise StoreDamagedError, nothing else, whatever the bytes (issue 18)."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from raspy.errors import StoreDamagedError
from raspy.storage import lmdb_file, lmdb_meta
from raspy.storage.lmdb_meta import NO_PAGE, DbRecord, Meta

PAGE = 4096


def _db(pad: int = 0, *, root: int = NO_PAGE, depth: int = 0, leaf: int = 0) -> bytes:
    entries = 1 if root != NO_PAGE else 0
    return struct.pack("<IHHQQQQQ", pad, 0, depth, 0, leaf, 0, entries, root)


def meta_page(
    index: int, *, txnid: int, last_page: int = 2, main_root: int = NO_PAGE
) -> bytes:
    """A meta page as LMDB writes it (free db record carries the page size)."""
    depth, leaf = (1, 1) if main_root != NO_PAGE else (0, 0)
    body = struct.pack("<QHHHH", index, 0, lmdb_meta.P_META, 0, 0)
    body += struct.pack("<IIQQ", lmdb_meta.MAGIC, 1, 0, 1 << 20)
    body += _db(PAGE) + _db(root=main_root, depth=depth, leaf=leaf)
    body += struct.pack("<QQ", last_page, txnid)
    return body.ljust(PAGE, b"\0")


def leaf_page(pgno: int, keys: list[bytes]) -> bytes:
    """A leaf page with one node per key (empty values), nodes packed from the end."""
    offsets: list[int] = []
    nodes = b""
    upper = PAGE
    for key in keys:
        node = struct.pack("<HHHH", 0, 0, 0, len(key)) + key
        node += b"\0" * (len(node) % 2)
        upper -= len(node)
        offsets.append(upper)
        nodes = node + nodes
    lower = lmdb_meta.PAGE_HEADER_BYTES + 2 * len(keys)
    header = struct.pack("<QHHHH", pgno, 0, lmdb_file.P_LEAF, lower, upper)
    ptrs = b"".join(struct.pack("<H", o) for o in offsets)
    return (header + ptrs).ljust(upper, b"\0") + nodes


def _file(pages: list[bytes]) -> bytes:
    return b"".join(pages)


def _walk(data: bytes) -> lmdb_file.WalkReport:
    meta = lmdb_meta.current_meta(data[: lmdb_meta.META_BYTES], _reader(data))
    lmdb_meta.check_length(meta, len(data))
    return lmdb_file.walk(
        meta,
        lambda no, n: data[no * meta.page_bytes : (no + n) * meta.page_bytes],
        record_owners=True,
    )


def _reader(data: bytes) -> lmdb_file.ReadPage:
    return lambda at, size: data[at : at + size]


def test_the_newer_meta_page_is_current() -> None:
    """LMDB picks the meta page with the higher txn id; so do we."""
    data = _file([meta_page(0, txnid=4), meta_page(1, txnid=5), bytes(PAGE)])
    meta = lmdb_meta.current_meta(data[: lmdb_meta.META_BYTES], _reader(data))
    assert meta == Meta(
        1, PAGE, 1 << 20, DbRecord.parse(_db(PAGE)), DbRecord.parse(_db()), 2, 5
    )


def test_a_file_shorter_than_its_last_page_is_named_truncated() -> None:
    data = _file([meta_page(0, txnid=1, last_page=9), meta_page(1, txnid=0)])
    meta = lmdb_meta.current_meta(data[: lmdb_meta.META_BYTES], _reader(data))
    with pytest.raises(StoreDamagedError) as caught:
        lmdb_meta.check_length(meta, len(data))
    assert str(caught.value) == (
        "truncated: 8192 bytes, but meta page 0 (txn 1) needs 40960 (10 pages of 4096)"
    )


def test_a_sound_leaf_is_walked_and_out_of_order_keys_are_named() -> None:
    metas = [meta_page(0, txnid=1, main_root=2), meta_page(1, txnid=0, main_root=2)]
    report = _walk(_file([*metas, leaf_page(2, [b"a"])]))
    assert (report.pages, report.entries, report.owners) == (1, 1, {2: b"(main)"})
    with pytest.raises(StoreDamagedError) as caught:
        _walk(_file([*metas, leaf_page(2, [b"b", b"a"])]))
    assert str(caught.value) == "database '(main)' page 2: node 1's key is out of order"


@given(st.binary(max_size=lmdb_meta.META_BYTES + 8), st.integers(0, 1))
def test_any_bytes_parse_as_a_meta_page_or_raise_store_damaged(
    data: bytes, index: int
) -> None:
    try:
        meta = lmdb_meta.parse_meta(data, index)
    except StoreDamagedError:
        return
    assert meta.index == index


@given(
    st.integers(0, 2 * PAGE + lmdb_meta.META_BYTES - 1),
    st.binary(min_size=1, max_size=64),
)
def test_a_sound_file_with_bytes_overwritten_walks_or_raises_store_damaged(
    offset: int, garbage: bytes
) -> None:
    metas = [meta_page(0, txnid=1, main_root=2), meta_page(1, txnid=0, main_root=2)]
    sound = bytearray(_file([*metas, leaf_page(2, [b"a", b"bb", b"ccc"])]))
    sound[offset : offset + len(garbage)] = garbage
    try:
        _walk(bytes(sound[: 3 * PAGE]))
    except StoreDamagedError:
        return


@given(st.binary(min_size=0, max_size=3 * PAGE))
def test_any_file_walks_or_raises_store_damaged(data: bytes) -> None:
    try:
        _walk(data)
    except StoreDamagedError:
        return
