"""CloneCore with time passed in: sequence numbers, ttl, dedupe (docs/protocols.md §6)."""

from __future__ import annotations

from collections.abc import Sequence

from hypothesis import given, settings
from hypothesis import strategies as st

from raspy.cores.clone import Accept, CloneCore, Rejected, SnapshotRequested, Update
from raspy.protocol import clone

NOW = 1000.0
UUID_A = b"A" * 16
UUID_B = b"B" * 16


def _kvset(
    key: bytes, body: bytes, uuid: bytes = b"", props: bytes = b""
) -> list[bytes]:
    return [key, bytes(8), uuid, props, body]


def _accepted(outputs: Sequence[object]) -> Update:
    assert len(outputs) == 1
    assert isinstance(outputs[0], Accept)
    return outputs[0].update


def test_first_update_gets_sequence_one_and_echoes_uuid_and_properties() -> None:
    """§6.2 raspy: the first update gets 1; §6.4: UUID and properties echoed."""
    core = CloneCore()
    out = core.on_kvset(_kvset(b"/a", b"v", UUID_A, b"unit=C\n"), NOW)
    props = (("unit", "C"),)
    assert out == [Accept(Update(1, b"/a", UUID_A, props, b"v", None, b"unit=C\n"))]
    assert _accepted(out).kvpub() == [
        b"/a",
        clone.encode_seq(1),
        UUID_A,
        b"unit=C\n",
        b"v",
    ]


def test_sequence_numbers_strictly_increase_across_sets_deletes_and_expiries() -> None:
    """§6.4: published sequence numbers strictly increase; deletes are numbered."""
    core = CloneCore()
    seqs = [
        _accepted(core.on_kvset(_kvset(b"/a", b"1", props=b"ttl=1\n"), NOW)).seq,
        _accepted(core.on_kvset(_kvset(b"/missing", b""), NOW)).seq,
        _accepted(core.on_local_batch([(b"/b", b"2")], NOW)).seq,
        _accepted(core.on_tick(NOW + 1)).seq,
    ]
    assert seqs == [1, 2, 3, 4]
    assert core.last_seq == 4


def test_restart_continues_after_the_stored_sequence() -> None:
    """docs/architecture.md: a sequence number is never reused, across restarts included."""
    core = CloneCore()
    core.load(41, [], NOW)
    assert _accepted(core.on_kvset(_kvset(b"/a", b"v"), NOW)).seq == 42


def test_loading_an_older_sequence_never_moves_the_counter_back() -> None:
    """§6.2 raspy: a number is never reused, even if load() is called late."""
    core = CloneCore()
    core.on_kvset(_kvset(b"/a", b"v"), NOW)
    core.load(0, [], NOW)
    assert _accepted(core.on_kvset(_kvset(b"/a", b"w"), NOW)).seq == 2


def test_ephemeral_key_expires_as_a_server_deletion_after_its_ttl() -> None:
    """§6.6: no new KVSET within ttl -> delete with empty UUID, properties and body."""
    core = CloneCore()
    core.on_kvset(_kvset(b"/e", b"v", UUID_A, b"ttl=30\n"), NOW)
    assert core.next_deadline() == NOW + 30
    assert core.on_tick(NOW + 29.9) == []
    assert core.on_tick(NOW + 30) == [Accept(Update(2, b"/e", b"", (), b"", None))]
    assert core.next_deadline() is None
    assert core.on_tick(NOW + 100) == []


def test_refresh_replaces_the_deadline() -> None:
    """§6.6: a later KVSET of the same key replaces the deadline."""
    core = CloneCore()
    core.on_kvset(_kvset(b"/e", b"v", props=b"ttl=10\n"), NOW)
    core.on_kvset(_kvset(b"/e", b"v", props=b"ttl=10\n"), NOW + 8)
    assert core.on_tick(NOW + 12) == []
    assert core.next_deadline() == NOW + 18
    assert _accepted(core.on_tick(NOW + 18)).body == b""


def test_set_without_ttl_or_with_ttl_zero_makes_the_key_permanent() -> None:
    """§6.6: one without ttl, or with ttl=0, makes the key permanent again."""
    core = CloneCore()
    core.on_kvset(_kvset(b"/e", b"v", props=b"ttl=5\n"), NOW)
    core.on_kvset(_kvset(b"/e", b"v", props=b"ttl=0\n"), NOW + 1)
    core.on_kvset(_kvset(b"/f", b"v", props=b"ttl=5\n"), NOW)
    core.on_kvset(_kvset(b"/f", b"w"), NOW + 1)
    assert core.next_deadline() is None
    assert core.on_tick(NOW + 1000) == []


def test_delete_ends_the_ttl_of_an_ephemeral_key() -> None:
    """§6.6: a deleted key does not expire later (nothing to delete twice)."""
    core = CloneCore()
    core.on_kvset(_kvset(b"/e", b"v", props=b"ttl=5\n"), NOW)
    assert (
        _accepted(core.on_kvset(_kvset(b"/e", b"", props=b"ttl=5\n"), NOW)).ttl_s
        is None
    )
    assert core.on_tick(NOW + 10) == []


def test_restart_gives_every_persisted_ephemeral_key_a_fresh_full_ttl() -> None:
    """§6.6 raspy: after start-up every persisted ephemeral key gets its full ttl."""
    core = CloneCore()
    core.load(7, [(b"/a", 30.0), (b"/b", 5.0)], now=5000.0)
    assert core.next_deadline() == 5005.0
    assert core.on_tick(5005.0) == [Accept(Update(8, b"/b", b"", (), b"", None))]
    assert core.on_tick(5030.0) == [Accept(Update(9, b"/a", b"", (), b"", None))]


def test_resent_kvset_with_the_same_uuid_is_applied_once() -> None:
    """§6.4 raspy: the server drops a KVSET whose UUID it published recently."""
    core = CloneCore()
    frames = _kvset(b"/a", b"v", UUID_A)
    assert _accepted(core.on_kvset(frames, NOW)).seq == 1
    assert core.on_kvset(frames, NOW) == [Rejected("duplicate_uuid", UUID_A.hex())]
    assert _accepted(core.on_kvset(_kvset(b"/a", b"v", UUID_B), NOW)).seq == 2
    assert core.last_seq == 2


def test_kvsets_without_uuid_are_never_deduplicated() -> None:
    """§6.4: the UUID is optional; without it each KVSET is a new update."""
    core = CloneCore()
    core.on_kvset(_kvset(b"/a", b"v"), NOW)
    assert _accepted(core.on_kvset(_kvset(b"/a", b"v"), NOW)).seq == 2


def test_recent_uuid_set_is_bounded_and_forgets_the_oldest() -> None:
    """§6.4 raspy: a bounded set of recent UUIDs."""
    core = CloneCore(recent_uuids=2)
    for index in range(3):
        core.on_kvset(_kvset(b"/a", b"v", bytes([index]) * 16), NOW)
    assert _accepted(core.on_kvset(_kvset(b"/a", b"v", bytes([0]) * 16), NOW)).seq == 4
    assert core.on_kvset(_kvset(b"/a", b"v", bytes([2]) * 16), NOW)[0] == Rejected(
        "duplicate_uuid", (bytes([2]) * 16).hex()
    )


def test_forgotten_uuid_can_be_resent_after_a_failed_commit() -> None:
    """A KVSET that never reached the store is applied when its resend arrives."""
    core = CloneCore()
    core.on_kvset(_kvset(b"/a", b"v", UUID_A), NOW)
    core.forget([UUID_A])
    assert _accepted(core.on_kvset(_kvset(b"/a", b"v", UUID_A), NOW)).seq == 2


def test_invalid_kvset_is_rejected_and_takes_no_sequence_number() -> None:
    """§6.4: an invalid KVSET is dropped and counted; no number is used. One that
    still reads as a KVSET names its key and uuid (an in-process writer is told)."""
    core = CloneCore(max_value_bytes=4)
    assert core.on_kvset([b"/a", bytes(8)], NOW) == [
        Rejected("wrong_frame_count", "2 frames")
    ]
    assert core.on_kvset(_kvset(b"/a", b"12345", UUID_A), NOW) == [
        Rejected("body_too_large", "5 > 4", b"/a", UUID_A)
    ]
    assert core.on_kvset(_kvset(b"HUGZ", b"1", UUID_A), NOW) == [
        Rejected("bad_key", "key 'HUGZ' is a command", b"HUGZ", UUID_A)
    ]
    assert core.on_kvset(_kvset(b"/a", b"1", props=b"ttl=-3\n"), NOW) == [
        Rejected("bad_ttl", "ttl='-3'", b"/a")
    ]
    assert core.last_seq == 0


def test_a_kvset_refused_for_its_properties_still_names_its_key_and_uuid() -> None:
    """Properties that do not parse (a line without `=`, a frame over the limit) are
    refused like a bad ttl: the refusal names the key and uuid, for the log and for
    an in-process writer waiting on its update."""
    core = CloneCore()
    assert core.on_kvset(_kvset(b"/a", b"1", UUID_A, b"no equals\n"), NOW) == [
        Rejected("bad_properties", "line 'no equals'", b"/a", UUID_A)
    ]
    huge = b"x=" + b"y" * clone.MAX_PROPS_BYTES
    [refused] = core.on_kvset(_kvset(b"/a", b"1", UUID_A, huge), NOW)
    assert isinstance(refused, Rejected)
    assert (refused.reason, refused.key, refused.uuid) == (
        "properties_too_large",
        b"/a",
        UUID_A,
    )
    # a uuid that is not 16 bytes is none: only the key is named
    bad_uuid = [b"/a", bytes(8), b"\x01" * 3, b"", b"1"]
    assert core.on_kvset(bad_uuid, NOW) == [Rejected("bad_uuid", "3 bytes", b"/a")]
    assert core.last_seq == 0


def test_publisher_kvset_with_ttl_carries_it_as_a_property_so_clients_see_it() -> None:
    """§6.6: on the wire ttl is relative seconds, sent as an integer (ClonePublisher)."""
    core = CloneCore()
    frames = clone.kvset(b"/d", b"21", b"", (("unit", "C"),), ttl_s=30)
    update = _accepted(core.on_kvset(frames, NOW))
    props = (("unit", "C"), ("ttl", "30"))
    assert update == Update(1, b"/d", b"", props, b"21", 30.0, b"unit=C\nttl=30\n")
    assert core.next_deadline() == NOW + 30


def test_icanhaz_requests_a_snapshot_of_its_subtree() -> None:
    """§6.3: a well-formed ICANHAZ? is always answered."""
    core = CloneCore()
    assert core.on_icanhaz([b"ICANHAZ?", b"/device/"]) == [
        SnapshotRequested(b"/device/")
    ]
    assert core.on_icanhaz([b"ICANHAZ?"]) == [Rejected("wrong_frame_count", "1 frames")]


def test_hugz_carries_a_zero_sequence_whatever_the_counter() -> None:
    """§6.5 raspy: HUGZ sequence is eight zero bytes."""
    core = CloneCore()
    core.load(99, [], NOW)
    assert core.hugz_frames() == [b"HUGZ", bytes(8), b"", b"", b""]


@settings(max_examples=200)
@given(
    st.lists(
        st.tuples(
            st.sampled_from([b"/a", b"/b", b"/c"]),
            st.sampled_from([None, 0, 1, 5, 10]),
            st.booleans(),
            st.floats(0, 3),
        ),
        max_size=40,
    )
)
def test_any_history_expires_each_ephemeral_key_exactly_at_its_last_deadline(
    steps: list[tuple[bytes, int | None, bool, float]],
) -> None:
    """§6.6: the last KVSET of a key decides whether and when it expires."""
    core = CloneCore()
    now = NOW
    expected: dict[bytes, float] = {}
    for key, ttl, delete, pause in steps:
        now += pause
        for out in core.on_tick(now):
            assert isinstance(out, Accept)
            assert expected.pop(out.update.key) <= now
        props = b"" if ttl is None else f"ttl={ttl}\n".encode()
        core.on_kvset(_kvset(key, b"" if delete else b"v", props=props), now)
        if delete or not ttl:
            expected.pop(key, None)
        else:
            expected[key] = now + ttl
    assert core.next_deadline() == (min(expected.values()) if expected else None)
    expired = {
        out.update.key for out in core.on_tick(now + 100) if isinstance(out, Accept)
    }
    assert expired == set(expected)


def test_local_batch_numbers_each_set_in_order_with_an_empty_uuid() -> None:
    """A poll batch from inside the server: no client to confirm, so no UUID (§6.6)."""
    core = CloneCore()
    out = core.on_local_batch([(b"/d/a", b"1"), (b"/d/b", b"2"), (b"/d/a", b"")], NOW)
    assert out == [
        Accept(Update(1, b"/d/a", b"", (), b"1", None)),
        Accept(Update(2, b"/d/b", b"", (), b"2", None)),
        Accept(Update(3, b"/d/a", b"", (), b"", None)),
    ]
    assert _accepted([out[0]]).kvpub()[2] == b""


def test_local_batch_rejects_a_bad_key_and_keeps_the_rest() -> None:
    core = CloneCore(max_value_bytes=4)
    out = core.on_local_batch(
        [(b"no-slash", b"1"), (b"/ok", b"2"), (b"/big", b"12345")], NOW
    )
    assert [type(o) for o in out] == [Rejected, Accept, Rejected]
    assert [o.reason for o in out if isinstance(o, Rejected)] == [
        "bad_key",
        "body_too_large",
    ]
    assert core.last_seq == 1


def test_a_kvset_whose_properties_are_not_utf8_is_numbered_and_echoed() -> None:
    """RFC 12 asks of properties only names without `=` and no newline anywhere
    (§6.2); the KVPUB echoes them as received (§6.4)."""
    core = CloneCore()
    properties = b"owner=J\xf6rg\n"
    update = _accepted(core.on_kvset(_kvset(b"/a", b"v", UUID_A, properties), NOW))
    assert update.kvpub() == [b"/a", clone.encode_seq(1), UUID_A, properties, b"v"]


def test_a_refused_kvset_with_properties_not_utf8_still_names_key_and_uuid() -> None:
    """§6.4: a ttl that is no number is dropped; the writer is still named."""
    core = CloneCore()
    frames = _kvset(b"/a", b"v", UUID_A, b"owner=J\xf6rg\nttl=soon\n")
    [refused] = core.on_kvset(frames, NOW)
    assert isinstance(refused, Rejected)
    assert (refused.reason, refused.key, refused.uuid) == ("bad_ttl", b"/a", UUID_A)
