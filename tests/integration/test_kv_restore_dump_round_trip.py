"""raspy-kv restore, then dump, through real LMDB, under hypothesis: the records come
back exactly as the dump had them (kv records with any properties and ttl, ephemeral
or not, Titanic's requests, replies and queue, scenario records, device records and
history rows)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.kv_cli import run

from raspy import packing
from raspy.history.recorder import Bucket
from raspy.storage.dump import DumpReader, Header, Record, dump_lines
from raspy.storage.schema import SCHEMA_VERSION
from raspy.storage.tables import (
    DATA_TABLES,
    DEVICE_CONFIG_PREFIX,
    DEVICE_STATE_PREFIX,
    LAST_SEQ_KEY,
    Table,
    TitanicReplyRecord,
    TitanicRequestRecord,
    device_key,
    encode_device_record,
    encode_history_row,
    encode_kv,
    encode_seq,
    encode_titanic_reply,
    encode_titanic_request,
    history_row_key,
    queue_key,
    recorded_key_record,
)

pytestmark = pytest.mark.timeout(120)

_SEQ_HIGH = 10**6
_frames = st.lists(st.binary(max_size=12), max_size=3).map(tuple)
_times = st.floats(0, 2e9, allow_nan=False)
_uuids = st.binary(min_size=16, max_size=16).map(lambda raw: raw.hex().encode())
_finite = st.floats(allow_nan=False, allow_infinity=False)
_kv_keys = st.binary(min_size=1, max_size=40).filter(
    lambda key: key not in (b"KTHXBAI", b"HUGZ", b"ICANHAZ?")
) | st.text(min_size=1, max_size=20).map(lambda text: ("/" + text).encode())
_kv_values = st.builds(
    encode_kv,
    st.integers(0, _SEQ_HIGH),
    st.binary(max_size=20) | st.text(max_size=20).map(str.encode),
    st.binary(max_size=20) | st.dictionaries(st.text(max_size=5), st.text(max_size=5)),
    st.none() | st.floats(0.001, 1e9),  # an ephemeral key's ttl
)
_json_like = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | _finite | st.text(),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)


def _titanic(
    uuid: bytes,
    request: TitanicRequestRecord,
    reply: TitanicReplyRecord | None,
    counter: int | None,
) -> list[Record]:
    found = [Record(Table.TITANIC_REQUESTS, uuid, encode_titanic_request(request))]
    if reply is not None:
        found.append(Record(Table.TITANIC_REPLIES, uuid, encode_titanic_reply(reply)))
    if counter is not None:
        found.append(Record(Table.TITANIC_QUEUE, queue_key(counter, uuid), uuid))
    return found


_titanic_records = st.builds(
    _titanic,
    _uuids,
    st.builds(
        TitanicRequestRecord, st.binary(min_size=1, max_size=10), _frames, _times
    ),
    st.none() | st.builds(TitanicReplyRecord, _frames, _times),
    st.none() | st.integers(0, 2**64 - 1),
)
_names = st.text("abcxyz-_0", min_size=1, max_size=8)
_scenario_records = st.one_of(
    st.builds(
        lambda name, code: Record(
            Table.SCENARIO, f"scenario.{name}.code".encode(), packing.pack(code)
        ),
        _names,
        st.text(max_size=40),
    ),
    st.builds(
        lambda name, enabled, mode, at: Record(
            Table.SCENARIO,
            f"scenario.{name}.conf".encode(),
            packing.pack(
                {"enabled": enabled, "mode": mode, "imported_at": at, "updated_at": at}
            ),
        ),
        _names,
        st.booleans(),
        st.sampled_from(["single", "restart", "queued", "parallel"]),
        _times,
    ),
)
_device_records = st.one_of(
    st.builds(
        lambda name, fields, saved: Record(
            Table.DEVICE,
            device_key(DEVICE_CONFIG_PREFIX, name),
            encode_device_record(DEVICE_CONFIG_PREFIX, fields, saved),
        ),
        _names,
        st.dictionaries(st.text(max_size=5), _json_like, max_size=3),
        _times,
    ),
    st.builds(
        lambda name, value, saved, pending: Record(
            Table.DEVICE,
            device_key(DEVICE_STATE_PREFIX, name),
            encode_device_record(DEVICE_STATE_PREFIX, value, saved, pending),
        ),
        _names,
        _json_like,
        _times,
        st.none() | st.booleans(),
    ),
)
_history_records = st.one_of(
    st.builds(
        lambda key: Record(Table.HISTORY, *recorded_key_record(key)),
        st.text(min_size=1, max_size=12),
    ),
    st.builds(
        lambda step, slot, key, row: Record(
            Table.HISTORY, history_row_key(step, slot, key), encode_history_row(row)
        ),
        st.integers(1, 86400),
        st.integers(0, 2**32 - 1),
        st.text(min_size=1, max_size=12),
        st.builds(Bucket, _finite, st.integers(1, 2**32 - 1), _finite, _finite, _finite)
        | st.builds(lambda t, v: Bucket(t, 1, v, v, v), _finite, _finite),
    ),
)
_cron_records = st.builds(
    lambda key, value: Record(Table.CRON, key, packing.pack(value)),
    st.binary(min_size=1, max_size=20),
    _json_like,
)


@st.composite
def _stores(draw: st.DrawFn) -> tuple[Record, ...]:
    """The records of a store raspyd could hold, in the order a dump lists them."""
    found = [
        Record(Table.KV, key, value)
        for key, value in draw(
            st.dictionaries(_kv_keys, _kv_values, max_size=6)
        ).items()
    ]
    if found:
        found.append(Record(Table.KV_META, LAST_SEQ_KEY, encode_seq(_SEQ_HIGH)))
    # one entry of each table a request (raspy-kv check counts a second one)
    for each in draw(
        st.lists(_titanic_records, max_size=3, unique_by=lambda each: each[0].key)
    ):
        found.extend(each)
    found.extend(draw(st.lists(_scenario_records, max_size=3)))
    found.extend(draw(st.lists(_device_records, max_size=3)))
    found.extend(draw(st.lists(_history_records, max_size=4)))
    found.extend(draw(st.lists(_cron_records, max_size=2)))
    unique = {(r.table, r.key): r for r in found}
    order: dict[Table, int] = {t: index for index, t in enumerate(DATA_TABLES)}
    return tuple(sorted(unique.values(), key=lambda r: (order[r.table], r.key)))


def _dumped_records(path: Path) -> tuple[Record, ...]:
    with path.open("rb") as lines:
        return tuple(DumpReader(lines).records())


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(_stores())
def test_restore_then_dump_gives_the_records_of_the_dump_again(
    capsys: pytest.CaptureFixture[str], content: tuple[Record, ...]
) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        first = folder / "first.dump"
        header = Header(SCHEMA_VERSION, "2026-12-07T12:00:00Z", DATA_TABLES)
        first.write_bytes(b"".join(dump_lines(header, content)))
        data_dir, second = folder / "data", folder / "second.dump"
        status, _, err = run(
            ["restore", "--data-dir", str(data_dir), str(first)], capsys
        )
        assert status == 0, err
        status, _, err = run(
            ["dump", "--data-dir", str(data_dir), "-o", str(second)], capsys
        )
        assert status == 0, err
        assert _dumped_records(second) == content
        status, out, _ = run(["check", "--data-dir", str(data_dir)], capsys)
        assert status == 0, out
