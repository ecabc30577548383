"""Record encodings of the store's tables and the raspy-kv check rules (issue #4)."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from raspy import packing
from raspy.errors import StoreError
from raspy.storage.check import Checker, Problem, validate_record
from raspy.storage.tables import (
    KvRecord,
    Table,
    TitanicReplyRecord,
    TitanicRequestRecord,
    decode_kv,
    decode_queue_key,
    decode_schema_version,
    decode_seq,
    decode_titanic_reply,
    decode_titanic_request,
    encode_kv,
    encode_schema_version,
    encode_seq,
    encode_titanic_reply,
    encode_titanic_request,
    queue_key,
)

UUID_A = b"0123456789abcdef0123456789abcdef"
UUID_B = b"fedcba9876543210fedcba9876543210"
frames = st.lists(st.binary(max_size=30), max_size=5).map(tuple)
uuids = st.text(alphabet="0123456789abcdef", min_size=32, max_size=32).map(str.encode)
seqs = st.integers(min_value=0, max_value=2**64 - 1)


def test_kv_value_is_a_msgpack_map_of_seq_body_props_and_ttl() -> None:
    """Storage brief: kv value = pack({"seq", "body", "props", "ttl"})."""
    encoded = encode_kv(7, b"on", {"unit": "C"}, 30)
    assert packing.unpack(encoded) == {
        "seq": 7,
        "body": b"on",
        "props": {"unit": "C"},
        "ttl": 30.0,
    }
    assert decode_kv(encoded) == KvRecord(7, b"on", {"unit": "C"}, 30.0)


@given(seqs, st.binary(max_size=50), st.binary(max_size=50))
def test_kv_records_keep_the_properties_frame_as_it_came(
    seq: int, body: bytes, props: bytes
) -> None:
    """§6.4: the Clone server stores a KVSET's properties frame as it came (any
    bytes, UTF-8 or not), and the checks of raspy-kv take such a record."""
    encoded = encode_kv(seq, body, props, None)
    assert decode_kv(encoded) == KvRecord(seq, body, props, None)
    last_seq = (Table.KV_META, b"last_seq", encode_seq(seq))
    assert _check([(Table.KV, b"/a", encoded), last_seq]) == []


@given(
    seqs,
    st.binary(max_size=50),
    st.dictionaries(st.text(), st.text(), max_size=3),
    st.none() | st.floats(allow_nan=False),
)
def test_kv_records_round_trip(
    seq: int, body: bytes, props: dict[str, str], ttl: float | None
) -> None:
    """Storage brief: decode_kv(encode_kv(...)) gives back every field (no
    properties, in either form, read back as the empty frame)."""
    assert decode_kv(encode_kv(seq, body, props, ttl)) == KvRecord(
        seq, body, props or b"", ttl
    )


def test_a_record_without_properties_is_stored_as_before_the_frame_was_kept() -> None:
    """Nearly every key has no properties: stored as the empty map (one byte), the
    readings' records rewritten at each flush take the pages they took before; a
    byte more each pushed the tree over a page and raised the SD card's writes."""
    assert encode_kv(5, b"21.5", b"", None) == encode_kv(5, b"21.5", {}, None)
    assert decode_kv(encode_kv(5, b"21.5", b"", None)).props == b""
    assert decode_kv(encode_kv(5, b"x", b"a=1\n", None)).props == b"a=1\n"


@given(st.binary(min_size=1, max_size=10), frames, st.floats(allow_nan=False), frames)
def test_titanic_records_round_trip(
    service: bytes, body: tuple[bytes, ...], when: float, reply: tuple[bytes, ...]
) -> None:
    """Storage brief: titanic.requests and titanic.replies values."""
    request = TitanicRequestRecord(service, body, when)
    assert decode_titanic_request(encode_titanic_request(request)) == request
    answer = TitanicReplyRecord(reply, when)
    assert decode_titanic_reply(encode_titanic_reply(answer)) == answer


@given(seqs, uuids)
def test_queue_keys_round_trip_and_sort_in_enqueue_order(
    counter: int, uuid: bytes
) -> None:
    """Storage brief: queue key = 8-byte big-endian counter + uuid32 (order = key order)."""
    key = queue_key(counter, uuid)
    assert decode_queue_key(key) == (counter, uuid)
    assert decode_seq(encode_seq(counter)) == counter
    if counter < 2**64 - 1:
        assert queue_key(counter + 1, UUID_A) > key


@settings(max_examples=200)
@given(st.binary(max_size=60))
def test_arbitrary_bytes_decode_or_raise_store_error(data: bytes) -> None:
    """Decoders are strict: anything else is a StoreError, never another exception."""
    for decode in (
        decode_kv,
        decode_titanic_request,
        decode_titanic_reply,
        decode_seq,
        decode_queue_key,
    ):
        with contextlib.suppress(StoreError):
            decode(data)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        pytest.param(
            packing.pack([1]), "kv record: expected a map, got list", id="list"
        ),
        pytest.param(
            packing.pack({"seq": 1}),
            "kv record: expected fields seq, body, props, ttl, got seq",
            id="missing-fields",
        ),
        pytest.param(
            packing.pack({"seq": -1, "body": b"", "props": {}, "ttl": None}),
            "kv record: seq: expected an integer 0..2**64-1",
            id="negative-seq",
        ),
        pytest.param(
            packing.pack({"seq": 1, "body": "x", "props": {}, "ttl": None}),
            "kv record: body: expected bytes, got str",
            id="str-body",
        ),
        pytest.param(
            packing.pack({"seq": 1, "body": b"", "props": {"a": 1}, "ttl": None}),
            "kv record: props: expected bytes or a map of strings",
            id="int-prop",
        ),
        pytest.param(
            packing.pack({"seq": 1, "body": b"", "props": {}, "ttl": "1"}),
            "kv record: ttl: expected a number, got str",
            id="str-ttl",
        ),
    ],
)
def test_bad_kv_records_name_what_is_wrong(data: bytes, message: str) -> None:
    """docs/style.md §4: an error says what, where, and what was found."""
    with pytest.raises(StoreError) as caught:
        decode_kv(data)
    assert str(caught.value) == message


def test_queue_key_refuses_an_id_that_is_not_uuid32() -> None:
    """docs/protocols.md: a Titanic id is 32 lowercase hex characters."""
    with pytest.raises(ValueError, match="not a uuid32"):
        queue_key(1, UUID_A.upper())


def _check(records: list[tuple[Table, bytes, bytes]]) -> list[Problem]:
    checker = Checker()
    for table, key, value in records:
        checker.feed(table, key, value)
    return checker.finish()


def _request() -> bytes:
    return encode_titanic_request(TitanicRequestRecord(b"echo", (b"hi",), 1.0))


def test_a_consistent_store_has_no_problems() -> None:
    """Issue #4 check: every record decodes and the bookkeeping is consistent."""
    assert (
        _check(
            [
                (Table.META, b"schema_version", encode_schema_version(1)),
                (Table.KV, b"/a", encode_kv(3, b"x", {}, None)),
                (Table.KV_META, b"last_seq", encode_seq(4)),
                (Table.TITANIC_REQUESTS, UUID_A, _request()),
                (
                    Table.TITANIC_REPLIES,
                    UUID_A,
                    encode_titanic_reply(TitanicReplyRecord((), 2)),
                ),
                (Table.TITANIC_REQUESTS, UUID_B, _request()),
                (Table.TITANIC_QUEUE, queue_key(9, UUID_B), UUID_B),
                (Table.SCENARIO, b"scenario.main.conf", packing.pack({"a": 1})),
            ]
        )
        == []
    )


def test_check_reports_every_inconsistency() -> None:
    """Issue #4 check: last_seq >= every kv seq; queue entries and replies need their
    request; records decode; keys are what their table expects."""
    assert _check(
        [
            (Table.META, b"other", b"\x01"),
            (Table.KV, b"/a", encode_kv(3, b"x", {}, None)),
            (Table.KV, b"/b", encode_kv(9, b"x", {}, None)),
            (Table.KV, b"/c", b"\x01\x02"),
            (Table.KV_META, b"last_seq", encode_seq(4)),
            (Table.TITANIC_REQUESTS, b"short", _request()),
            (
                Table.TITANIC_REPLIES,
                UUID_A,
                encode_titanic_reply(TitanicReplyRecord((), 2)),
            ),
            (Table.TITANIC_QUEUE, queue_key(1, UUID_B), UUID_A),
            (Table.TITANIC_QUEUE, queue_key(2, UUID_B), UUID_B),
            (Table.TITANIC_QUEUE, queue_key(3, UUID_B), UUID_B),
            (Table.CRON, b"job", b"\x01\x02"),
        ]
    ) == [
        Problem(Table.META, b"other", "unknown key"),
        Problem(
            Table.KV,
            b"/c",
            "kv record: cannot unpack 2 bytes: unpack(b) received extra data.",
        ),
        Problem(
            Table.TITANIC_REQUESTS,
            b"short",
            "key is not a uuid32 (32 lowercase hex characters)",
        ),
        Problem(
            Table.TITANIC_QUEUE,
            queue_key(1, UUID_B),
            f"value '{UUID_A.decode()}' is not the key's uuid",
        ),
        Problem(
            Table.CRON,
            b"job",
            "not msgpack: cannot unpack 2 bytes: unpack(b) received extra data.",
        ),
        Problem(Table.KV, b"/b", "seq 9 is above kv.meta last_seq 4"),
        Problem(Table.TITANIC_REPLIES, UUID_A, "reply without request"),
        Problem(Table.TITANIC_QUEUE, UUID_B, "queued without request"),
        Problem(Table.TITANIC_QUEUE, UUID_B, "queued 2 times"),
    ]


def test_kv_records_without_last_seq_are_a_problem() -> None:
    """docs/architecture.md Storage: a sequence number is never reused, so kv needs one."""
    problems = _check([(Table.KV, b"/a", encode_kv(1, b"x", {}, None))])
    assert problems == [Problem(Table.KV_META, None, "kv has records but no last_seq")]
    assert str(problems[0]) == "kv.meta: kv has records but no last_seq"


@pytest.mark.parametrize(
    ("key", "ttl", "message"),
    [
        (b"HUGZ", None, "a Clone command, not a key: a snapshot would end there"),
        (b"KTHXBAI", 30.0, "a Clone command, not a key: a snapshot would end there"),
        (
            b"/t",
            0.0,
            "kv record: ttl: expected seconds > 0, at most 1000000000, got 0.0",
        ),
        (
            b"/t",
            float("inf"),
            "kv record: ttl: expected seconds > 0, at most 1000000000, got inf",
        ),
    ],
)
def test_check_finds_kv_records_the_clone_server_would_not_store(
    key: bytes, ttl: float | None, message: str
) -> None:
    """docs/protocols.md §6.2, §6.6: the server refuses a command literal as a key
    (a snapshot would send it as the command) and stores a ttl only in 0..1e9 s,
    0 excluded; a record otherwise (a foreign or hand-made dump restored) is named.
    raspyd still starts on such a store: the record decodes."""
    record = encode_kv(1, b"x", {}, ttl)
    assert _check(
        [(Table.KV, key, record), (Table.KV_META, b"last_seq", encode_seq(1))]
    ) == [Problem(Table.KV, key, message, served=True)]
    validate_record(Table.KV, key, record)


_MSGPACK_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats()
    | st.text(max_size=8)
    | st.binary(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(["seq", "body", "props", "ttl", "service", "saved", "x"])
            | st.text(max_size=4),
            inner,
            max_size=5,
        )
    ),
    max_leaves=10,
)
_RECORD_VALUES = st.binary(max_size=60) | _MSGPACK_VALUES.map(packing.pack)


@settings(max_examples=300)
@given(
    st.lists(
        st.tuples(st.sampled_from(Table), st.binary(max_size=40), _RECORD_VALUES),
        max_size=6,
    )
)
def test_any_record_of_any_table_is_valid_or_a_problem(
    records: list[tuple[Table, bytes, bytes]],
) -> None:
    """raspy-kv check and restore read a file anyone may have written: every record
    is valid or a StoreError, and the checker names problems, it never raises."""
    checker = Checker()
    for table, key, value in records:
        with contextlib.suppress(StoreError):
            validate_record(table, key, value)
        checker.feed(table, key, value)
    assert all(isinstance(problem, Problem) for problem in checker.finish())


@given(_RECORD_VALUES)
def test_any_schema_version_record_decodes_or_raises_store_error(data: bytes) -> None:
    with contextlib.suppress(StoreError):
        assert decode_schema_version(data) >= 0
