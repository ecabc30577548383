"""The history table's records: row keys and buckets round-trip, anything else is a
StoreError (what `raspy-kv check` reports), never another exception."""

from __future__ import annotations

import re
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from raspy.errors import StoreError
from raspy.history.recorder import Bucket
from raspy.storage.check import validate_record
from raspy.storage.tables import (
    HistoryRow,
    Table,
    decode_history_row,
    decode_history_row_key,
    encode_history_row,
    history_row_key,
    recorded_key_record,
)

_FINITE = st.floats(allow_nan=False, allow_infinity=False)


def test_a_raw_point_is_stored_in_16_bytes_and_a_bucket_in_36() -> None:
    raw = encode_history_row(HistoryRow(10.0, 1, 2.5, 2.5, 2.5))
    assert raw == struct.pack(">dd", 10.0, 2.5)
    bucket = encode_history_row(HistoryRow(300.0, 3, 7.5, 2.0, 3.0))
    assert bucket == struct.pack(">dIddd", 300.0, 3, 7.5, 2.0, 3.0)


@given(
    st.integers(1, 2**32 - 1),
    st.integers(0, 2**32 - 1),
    st.text(min_size=1, max_size=40),
)
def test_row_keys_round_trip(step_s: int, slot: int, key: str) -> None:
    assert decode_history_row_key(history_row_key(step_s, slot, key)) == (
        step_s,
        slot,
        key,
    )


@given(_FINITE, st.integers(1, 2**32 - 1), _FINITE, _FINITE, _FINITE)
def test_rows_round_trip(
    t: float, count: int, total: float, low: float, high: float
) -> None:
    row = HistoryRow(t, count, total, low, high)
    assert decode_history_row(encode_history_row(row)) == row


@given(st.binary(max_size=48), st.binary(max_size=48))
def test_any_record_is_valid_or_a_store_error(key: bytes, value: bytes) -> None:
    try:
        validate_record(Table.HISTORY, key, value)
    except StoreError as exc:
        message = str(exc)
    else:
        message = "history record: valid"
    assert message.startswith("history ")


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        (b"d\x00\x00", b"\x92\x01\x02", "history key: expected d + step + slot + key"),
        (history_row_key(10, 0, "/k"), b"\x00" * 8, "history row: expected 16 or 36 bytes, got 8"),
        (history_row_key(10, 0, "/k"), struct.pack(">dIddd", 1.0, 0, 1.0, 1.0, 1.0), "history row: count: expected an integer >= 1"),
        (history_row_key(10, 0, "/k"), struct.pack(">dd", 1.0, float("nan")), "history row: expected finite numbers"),
        (b"k\xff", b"\xc0", "history key: the Clone key is not UTF-8"),
    ],
    ids=["short-key", "short-row", "zero-count", "nan", "bad-utf8"],
)  # fmt: skip
def test_bad_records_are_named(key: bytes, value: bytes, message: str) -> None:
    with pytest.raises(StoreError, match=f"^{re.escape(message)}$"):
        validate_record(Table.HISTORY, key, value)


def test_the_recorded_key_record_is_the_prefixed_key_and_a_valid_record() -> None:
    key, value = recorded_key_record("/device/hub.fake.t1/value")
    assert (key, value) == (b"k/device/hub.fake.t1/value", b"\xc0")
    validate_record(Table.HISTORY, key, value)


def test_a_stored_row_reads_back_as_the_recorders_bucket() -> None:
    row = decode_history_row(encode_history_row(Bucket(300.0, 2, 5.0, 2.0, 3.0)))
    assert isinstance(row, Bucket)
    assert row.point() == [300.0, 2.5, 2.0, 3.0]
