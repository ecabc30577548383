"""CloneClientCore with time passed in, from RFC 12/CHP as docs/protocols.md §6 writes it."""

from __future__ import annotations

from typing import Final

import pytest
from hypothesis import given
from hypothesis import strategies as st

from raspy.cores.clone_client import (
    AskSnapshot,
    Change,
    Changed,
    ClientOutput,
    CloneClientCore,
    Confirmed,
    Connect,
    EndSnapshot,
    Entry,
    Failed,
    GapDetected,
    Reconnecting,
    Rejected,
    SendSet,
    Synced,
)
from raspy.cores.clone_client_state import ClientSettings, Phase
from raspy.protocol import clone

T0: Final = 1000.0
SETTINGS: Final = ClientSettings(
    server_ttl_s=5.0, resend_s=2.0, max_set_attempts=3, max_unconfirmed=2
)
SUBSCRIBED: Final = [b"\x01"]  # the collector's subscription, as an XPUB reads it
U1: Final = b"\x01" * 16
U2: Final = b"\x02" * 16
U3: Final = b"\x03" * 16


def kvpub(key: bytes, seq: int, body: bytes = b"v", uuid: bytes = b"") -> list[bytes]:
    return clone.encode_kvmsg(clone.KvMsg(key, seq, uuid, (), body))


def kvset(key: bytes, uuid: bytes, body: bytes = b"v") -> list[bytes]:
    return clone.kvset(key, body, uuid)


def synced_core(
    subtree: bytes = b"", seq: int = 10, entries: dict[bytes, bytes] | None = None
) -> CloneClientCore:
    """A core past its first snapshot (KTHXBAI at `seq`) with `entries` cached."""
    core = CloneClientCore(subtree, SETTINGS)
    core.start(T0)
    core.on_update(clone.hugz(), T0)
    for key, body in (entries or {}).items():
        core.on_snapshot(clone.kvsync(key, 1, body), T0)
    core.on_snapshot(clone.kthxbai(seq, subtree), T0)
    assert core.phase is Phase.LIVE
    return core


# ---------------------------------------------------------------- §6.3 the snapshot


def test_client_subscribes_to_its_subtree_and_to_hugz_first() -> None:
    """§6.3 step 1: subscribe to `subtree` and to HUGZ before anything else."""
    assert CloneClientCore(b"/device/", SETTINGS).start(T0) == [
        Connect((b"/device/", b"HUGZ"))
    ]


def test_whole_map_client_subscribes_to_everything_which_covers_hugz() -> None:
    """§6.3 step 1: for the empty subtree, b'' covers both."""
    assert CloneClientCore(b"", SETTINGS).start(T0) == [Connect((b"",))]


def test_client_asks_for_the_snapshot_only_after_the_first_hugz() -> None:
    """§6.3 raspy: the first HUGZ proves the subscription live; then ICANHAZ?."""
    core = CloneClientCore(b"/a/", SETTINGS)
    assert core.start(T0) == [Connect((b"/a/", b"HUGZ"))]  # phase WAIT_HUGZ
    assert core.on_update(clone.hugz(), T0 + 0.1) == [
        AskSnapshot([b"ICANHAZ?", b"/a/"])
    ]
    assert core.phase is Phase.SNAPSHOT
    assert core.on_update(clone.hugz(), T0 + 0.2) == []  # asked once


def test_a_kvpub_proves_the_subscription_live_as_a_hugz_does() -> None:
    """RFC 12: a server may send HUGZ only when idle; §6.3 raspy: the first KVPUB
    also proves the subscription live. It is older than the snapshot then asked
    for, so it is applied only if KTHXBAI is older still."""
    core = CloneClientCore(b"/a/", SETTINGS)
    core.start(T0)
    assert core.on_update(kvpub(b"/a/x", 4), T0) == [AskSnapshot([b"ICANHAZ?", b"/a/"])]
    assert core.on_update(clone.hugz(), T0 + 0.1) == []  # asked once
    core.on_snapshot(clone.kthxbai(4, b"/a/"), T0 + 0.2)
    assert core.cache == {}


def test_kthxbai_replaces_the_cache_and_reports_the_differences_in_key_order() -> None:
    """§6.3 step 3: store every KVSYNC until KTHXBAI, whose sequence becomes `last`."""
    core = CloneClientCore(b"", SETTINGS)
    core.start(T0)
    core.on_update(clone.hugz(), T0)
    assert core.on_snapshot(clone.kvsync(b"/b", 3, b"B"), T0) == []
    assert core.on_snapshot(clone.kvsync(b"/a", 7, b"A"), T0) == []
    assert core.on_snapshot(clone.kthxbai(9, b""), T0) == [
        EndSnapshot(),
        Changed(
            (
                Change(b"/a", 7, b"A", (), from_snapshot=True),
                Change(b"/b", 3, b"B", (), from_snapshot=True),
            )
        ),
        Synced(),
    ]
    assert core.cache == {b"/a": Entry(7, b"A", ()), b"/b": Entry(3, b"B", ())}
    assert (core.last_seq, core.live) == (9, True)


def test_updates_queued_during_the_snapshot_apply_only_if_newer_than_kthxbai() -> None:
    """§6.3 step 4: apply a KVPUB only if its sequence is greater than `last`."""
    core = CloneClientCore(b"", SETTINGS)
    core.start(T0)
    core.on_update(clone.hugz(), T0)
    assert core.on_update(kvpub(b"/old", 5, b"o"), T0) == []  # held, not applied
    assert core.on_update(kvpub(b"/new", 6, b"n"), T0) == []
    assert core.on_snapshot(clone.kvsync(b"/old", 5, b"o"), T0) == []
    assert core.on_snapshot(clone.kthxbai(5, b""), T0) == [
        EndSnapshot(),
        Changed((Change(b"/old", 5, b"o", (), from_snapshot=True),)),
        Changed((Change(b"/new", 6, b"n", ()),)),
        Synced(),
    ]
    assert core.last_seq == 6


def test_a_resnapshot_reports_keys_that_disappeared_as_deletions() -> None:
    """§6.3: the new snapshot is the truth; what it lacks was deleted meanwhile."""
    core = synced_core(seq=3, entries={b"/gone": b"x", b"/kept": b"k"})
    core.on_update(kvpub(b"/k", 5), T0)  # a gap: re-snapshot
    core.on_snapshot(clone.kvsync(b"/kept", 1, b"k"), T0)
    outputs = core.on_snapshot(clone.kthxbai(8, b""), T0)
    assert outputs == [
        EndSnapshot(),
        Changed((Change(b"/gone", 8, b"", (), from_snapshot=True),)),
        Synced(),
    ]


def test_snapshot_messages_are_ignored_when_no_snapshot_was_asked() -> None:
    """A late KVSYNC on a DEALER not yet closed changes nothing."""
    core = synced_core(entries={b"/a": b"A"})
    assert core.on_snapshot(clone.kvsync(b"/a", 2, b"late"), T0) == []
    assert core.cache[b"/a"].body == b"A"


# ---------------------------------------------------------------- §6.4 / §6.5 updates


def test_a_kvpub_newer_than_last_is_applied_and_an_older_one_discarded() -> None:
    """§6.4: a client discards any KVPUB whose sequence is not greater than `last`."""
    core = synced_core(seq=10)
    assert core.on_update(kvpub(b"/k", 11, b"new"), T0) == [
        Changed((Change(b"/k", 11, b"new", ()),))
    ]
    assert core.on_update(kvpub(b"/k", 11, b"again"), T0) == []
    assert core.on_update(kvpub(b"/k", 9, b"old"), T0) == []
    assert core.cache == {b"/k": Entry(11, b"new", ())}


def test_an_empty_value_deletes_the_key() -> None:
    """§6.4: an empty value asks to delete the key."""
    core = synced_core(seq=1, entries={b"/k": b"v"})
    assert core.on_update(kvpub(b"/k", 2, b""), T0) == [
        Changed((Change(b"/k", 2, b"", ()),))
    ]
    assert core.cache == {}


def test_hugz_is_never_applied_as_a_key_whatever_its_sequence() -> None:
    """§6.5: never treat HUGZ as an update, even with zguide's numbering."""
    core = synced_core(seq=10)
    assert core.on_update(kvpub(b"HUGZ", 11, b""), T0) == []
    assert core.last_seq == 10


def test_whole_map_client_resnapshots_on_a_sequence_gap() -> None:
    """§6.7: only a whole-map client can detect lost updates (`seq == last + 1`)."""
    core = synced_core(seq=10)
    assert core.on_update(kvpub(b"/k", 12), T0) == [
        GapDetected(12, 10),
        AskSnapshot([b"ICANHAZ?", b""]),
    ]
    assert (core.live, core.phase) == (False, Phase.SNAPSHOT)
    assert core.counts["gaps"] == 1
    # the new snapshot was asked after the message that showed the gap: it holds it
    assert core.on_snapshot(clone.kvsync(b"/k", 12, b"v"), T0) == []
    outputs = core.on_snapshot(clone.kthxbai(12, b""), T0)
    assert outputs == [
        EndSnapshot(),
        Changed((Change(b"/k", 12, b"v", (), from_snapshot=True),)),
        Synced(),
    ]
    assert (core.live, core.last_seq) == (True, 12)


def rfc12_snapshot(
    core: CloneClientCore, entries: dict[bytes, bytes]
) -> list[ClientOutput]:
    """What a server written to RFC 12 answers: KVSYNCs of sequence zero (the RFC
    allows it), then KTHXBAI with the highest KVSYNC sequence: zero."""
    for key, body in entries.items():
        assert core.on_snapshot(clone.kvsync(key, 0, body), T0) == []
    return core.on_snapshot(clone.kthxbai(0, b""), T0)


def test_whole_map_client_goes_live_with_a_server_that_numbers_kthxbai_as_rfc12() -> (
    None
):
    """RFC 12: KVSYNC sequences may be zero and KTHXBAI carries the highest of them,
    so the next KVPUB's number lies far above it. The client cannot tell that from a
    lost update and asks once more; a snapshot asked after that KVPUB holds it, so
    the client goes on from its number and is live."""
    core = CloneClientCore(b"", SETTINGS)
    core.start(T0)
    core.on_update(clone.hugz(), T0)
    assert rfc12_snapshot(core, {b"/a": b"x"})[-1] == Synced()
    assert core.on_update(kvpub(b"/a", 57, b"y"), T0) == [
        GapDetected(57, 0),
        AskSnapshot([b"ICANHAZ?", b""]),
    ]
    assert rfc12_snapshot(core, {b"/a": b"y"}) == [
        EndSnapshot(),
        Changed((Change(b"/a", 0, b"y", (), from_snapshot=True),)),
        Synced(),
    ]
    assert (core.live, core.phase, core.last_seq) == (True, Phase.LIVE, 57)
    assert core.on_update(kvpub(b"/b", 58, b"z"), T0) == [
        Changed((Change(b"/b", 58, b"z", ()),))
    ]
    assert core.counts["snapshots"] == 2
    # a loss after that is still seen
    assert core.on_update(kvpub(b"/b", 60), T0)[0] == GapDetected(60, 58)


def test_only_the_update_that_asked_the_snapshot_follows_on_from_it() -> None:
    """§6.7: an update lost while that snapshot came is still a gap."""
    core = synced_core(seq=0)
    core.on_update(kvpub(b"/a", 57), T0)  # a gap: re-snapshot
    core.on_update(kvpub(b"/a", 59), T0)  # 58 lost meanwhile
    outputs = rfc12_snapshot(core, {b"/a": b"v"})
    assert outputs[2] == GapDetected(59, 57)
    assert core.phase is Phase.SNAPSHOT


def test_the_update_a_snapshot_was_asked_after_is_not_applied_over_it() -> None:
    """The snapshot holds that update and any after it that the SUB lost: applied
    again over it, the update put back a value a later one had replaced, and the
    client said Synced with it."""
    core = synced_core(seq=0)
    core.on_update(kvpub(b"/a", 57, b"one"), T0)  # a gap: re-snapshot
    # 58 (/a = two) lost by the SUB; the server's snapshot holds it
    outputs = rfc12_snapshot(core, {b"/a": b"two"})
    assert outputs == [
        EndSnapshot(),
        Changed((Change(b"/a", 0, b"two", (), from_snapshot=True),)),
        Synced(),
    ]
    assert core.cache[b"/a"].body == b"two"


def test_a_first_kvpub_instead_of_hugz_asks_one_snapshot_only() -> None:
    """RFC 12: a busy server sends HUGZ only when idle, so a KVPUB may come first;
    the snapshot it asks holds it: no false gap, no second snapshot."""
    core = CloneClientCore(b"", SETTINGS)
    core.start(T0)
    assert core.on_update(kvpub(b"/a", 100, b"x"), T0)[0] == AskSnapshot(
        [b"ICANHAZ?", b""]
    )
    assert rfc12_snapshot(core, {b"/a": b"x"})[-1] == Synced()
    assert (core.live, core.last_seq, core.counts["gaps"]) == (True, 100, 0)
    assert core.counts["snapshots"] == 1
    assert core.on_update(kvpub(b"/b", 101, b"y"), T0) == [
        Changed((Change(b"/b", 101, b"y", ()),))
    ]


def test_no_synced_while_a_gap_among_the_waiting_updates_asks_a_new_snapshot() -> None:
    """§6.3 step 4, §6.7: a gap among the updates that waited for the snapshot asks
    for a new one; until that one is complete, the copy is not in step."""
    core = synced_core(seq=10)
    core.on_update(kvpub(b"/k", 12), T0)  # a gap: re-snapshot
    core.on_update(kvpub(b"/k", 15), T0)  # 13 and 14 lost meanwhile
    outputs = core.on_snapshot(clone.kthxbai(12, b""), T0)
    assert outputs == [
        EndSnapshot(),
        GapDetected(15, 12),
        AskSnapshot([b"ICANHAZ?", b""]),
    ]
    assert (core.live, core.phase) == (False, Phase.SNAPSHOT)
    assert core.on_snapshot(clone.kthxbai(15, b""), T0) == [EndSnapshot(), Synced()]
    assert core.live


def test_a_snapshot_from_raspys_server_still_drops_what_it_holds() -> None:
    """raspy's KTHXBAI is the server's own number: updates up to it are in the
    snapshot and not applied again."""
    core = synced_core(seq=10)
    core.on_update(kvpub(b"/k", 12), T0)  # a gap: re-snapshot
    core.on_snapshot(clone.kvsync(b"/k", 12, b"v"), T0)
    outputs = core.on_snapshot(clone.kthxbai(13, b""), T0)
    assert outputs == [
        EndSnapshot(),
        Changed((Change(b"/k", 12, b"v", (), from_snapshot=True),)),
        Synced(),
    ]
    assert core.last_seq == 13


def test_a_kvpub_whose_properties_are_not_utf8_is_applied() -> None:
    """RFC 12 asks of properties only names without `=` and no newline (§6.2)."""
    core = synced_core(seq=10)
    frames = [b"/k", clone.encode_seq(11), b"", b"owner=J\xf6rg\n", b"v"]
    [changed] = core.on_update(frames, T0)
    assert isinstance(changed, Changed)
    [(name, value)] = changed.changes[0].props
    assert (name, clone.prop_bytes(value)) == ("owner", b"J\xf6rg")
    assert core.last_seq == 11


def test_subtree_client_takes_gaps_as_normal() -> None:
    """§6.7: sequence numbers are global, so a subtree client sees gaps."""
    core = synced_core(subtree=b"/a/", seq=10)
    assert core.on_update(kvpub(b"/a/k", 15), T0) == [
        Changed((Change(b"/a/k", 15, b"v", ()),))
    ]


def test_malformed_messages_are_counted_and_dropped() -> None:
    """§6.2: a sequence frame that is not 8 bytes makes the message invalid."""
    core = synced_core(seq=1)
    assert core.on_update([b"/k", b"\x01", b"", b"", b"v"], T0) == [
        Rejected("publisher", "bad_sequence")
    ]
    assert core.counts["rejected"] == 1
    assert core.last_seq == 1


# ---------------------------------------------------------------- §6.5 liveness


def test_silence_for_server_ttl_reconnects_with_fresh_sockets() -> None:
    """§6.5: no KVPUB and no HUGZ for SERVER_TTL: start again from step 1."""
    core = synced_core(seq=4)
    assert core.next_deadline() == T0 + 5.0
    assert core.on_tick(T0 + 4.9) == []
    assert core.on_tick(T0 + 5.0) == [
        Reconnecting("server_silent", 4),
        Connect((b"",)),
    ]
    assert (core.live, core.phase) == (False, Phase.WAIT_HUGZ)
    assert core.counts["reconnects"] == 1


def test_a_publisher_connection_made_again_starts_over_with_a_new_snapshot() -> None:
    """raspy: a PUB drops what it publishes while a subscriber is away, and a subtree
    client cannot see the gap (§6.7); a server restored from an older dump numbers
    from below last_seq. Either way only a new snapshot tells what is true now."""
    core = CloneClientCore(b"/t/", SETTINGS)
    core.start(T0)
    assert core.on_publisher_connected(T0) == []  # the first connection
    core.on_update(clone.hugz(), T0)
    core.on_snapshot(clone.kvsync(b"/t/a", 90, b"old"), T0)
    core.on_snapshot(clone.kthxbai(90, b"/t/"), T0)
    assert core.on_publisher_connected(T0 + 1) == [
        Reconnecting("publisher_reconnected", 90),
        Connect((b"/t/", clone.HUGZ)),
    ]
    assert (core.live, core.phase) == (False, Phase.WAIT_HUGZ)
    assert core.on_publisher_connected(T0 + 1) == []  # the new session's first
    core.on_update(clone.hugz(), T0 + 1)
    core.on_snapshot(clone.kvsync(b"/t/a", 3, b"restored"), T0 + 1)
    assert core.on_snapshot(clone.kthxbai(3, b"/t/"), T0 + 1)[1] == Changed(
        (Change(b"/t/a", 3, b"restored", (), from_snapshot=True),)
    )
    assert core.on_update(kvpub(b"/t/a", 4, b"new"), T0 + 2) == [
        Changed((Change(b"/t/a", 4, b"new", ()),))
    ]  # numbered below what the old server had sent, and taken


def test_hugz_keeps_the_server_alive() -> None:
    """§6.5: any message from the server resets its timer."""
    core = synced_core()
    core.on_update(clone.hugz(), T0 + 4.0)
    assert core.next_deadline() == T0 + 9.0
    assert core.on_tick(T0 + 8.0) == []


def test_whole_map_client_skips_kvpubs_its_snapshot_entries_already_passed() -> None:
    """§6.3 raspy: a KVSYNC may be numbered above its KTHXBAI; the KVPUBs up to that
    number for its key are skipped (no change, no gap: the numbers still count), and
    the next one is applied."""
    core = CloneClientCore(b"", SETTINGS)
    core.start(T0)
    core.on_update(clone.hugz(), T0)
    core.on_snapshot(clone.kvsync(b"/k", 12, b"new"), T0)
    core.on_snapshot(clone.kthxbai(10, b""), T0)
    assert core.on_update(kvpub(b"/k", 11, b"old"), T0) == []
    assert core.on_update(kvpub(b"/k", 12, b"new"), T0) == []
    assert core.on_update(kvpub(b"/k", 13, b"newer"), T0) == [
        Changed((Change(b"/k", 13, b"newer", ()),))
    ]
    assert core.cache[b"/k"].body == b"newer"
    assert core.last_seq == 13
    assert core.counts["gaps"] == 0


def test_a_stalled_snapshot_reconnects() -> None:
    """A snapshot that stops for SERVER_TTL is asked again on fresh sockets."""
    core = CloneClientCore(b"", SETTINGS)
    core.start(T0)
    core.on_update(clone.hugz(), T0)
    core.on_update(clone.hugz(), T0 + 4.0)  # the publisher lives, the snapshot not
    assert core.on_tick(T0 + 5.0) == [
        Reconnecting("snapshot_stalled", 0),
        Connect((b"",)),
    ]


# ---------------------------------------------------------------- §6.4 writes


def listening_core() -> CloneClientCore:
    core = synced_core(subtree=b"/a/", seq=1)
    core.on_collector(SUBSCRIBED, T0)
    return core


def test_a_kvset_waits_until_the_collector_listens() -> None:
    """§1.6: a PUB drops what it sends before the subscription reaches it."""
    core = synced_core(subtree=b"/a/", seq=1)
    assert core.set(b"/a/k", U1, kvset(b"/a/k", U1), T0) == []
    assert core.on_collector(SUBSCRIBED, T0 + 0.1) == [SendSet(U1, kvset(b"/a/k", U1))]


def test_a_kvset_waits_for_the_first_hugz_so_that_its_echo_can_be_heard() -> None:
    """§6.4: a write is confirmed by its UUID on the publisher: that must be live."""
    core = CloneClientCore(b"/a/", SETTINGS)
    core.start(T0)
    core.on_collector(SUBSCRIBED, T0)
    assert core.set(b"/a/k", U1, kvset(b"/a/k", U1), T0) == []
    assert core.on_update(clone.hugz(), T0) == [
        AskSnapshot([b"ICANHAZ?", b"/a/"]),
        SendSet(U1, kvset(b"/a/k", U1)),
    ]


def test_a_kvset_is_confirmed_when_its_uuid_comes_back_on_the_publisher() -> None:
    """§6.4: one KVPUB per accepted KVSET, with the client's UUID echoed; confirmed
    after the cache holds it, so a read right after the write sees it."""
    core = listening_core()
    core.set(b"/a/k", U1, kvset(b"/a/k", U1), T0)
    assert core.on_update(kvpub(b"/a/k", 2, b"v", U1), T0) == [
        Changed((Change(b"/a/k", 2, b"v", ()),)),
        Confirmed(U1),
    ]
    assert core.on_tick(T0 + 10) == [
        Reconnecting("server_silent", 2),
        Connect((b"/a/", b"HUGZ")),
    ]  # nothing is resent: it was confirmed


def test_a_kvset_echoed_during_the_snapshot_is_confirmed_once_the_cache_has_it() -> (
    None
):
    """§6.3 step 4 holds a KVPUB back while the snapshot comes in: its own KVSET is
    confirmed only after the snapshot and the held-back updates are applied (the
    client's sequence number and cache then show it), never before."""
    core = CloneClientCore(b"/a/", SETTINGS)
    core.start(T0)
    core.on_update(clone.hugz(), T0)  # the snapshot is asked for
    core.on_collector(SUBSCRIBED, T0)
    assert core.set(b"/a/k", U1, kvset(b"/a/k", U1), T0) == [
        SendSet(U1, kvset(b"/a/k", U1))
    ]
    assert core.on_update(kvpub(b"/a/k", 5, b"mine", U1), T0) == []  # held back
    assert core.on_snapshot(clone.kvsync(b"/a/j", 3, b"old"), T0) == []
    out = core.on_snapshot(clone.kthxbai(4, b"/a/"), T0)
    assert Confirmed(U1) in out
    confirmed_at = out.index(Confirmed(U1))
    assert Changed((Change(b"/a/k", 5, b"mine", ()),)) in out[:confirmed_at]
    assert (core.last_seq, core.cache[b"/a/k"].body) == (5, b"mine")
    assert core.on_tick(T0 + 3.0) == []  # confirmed: not resent


def test_an_unconfirmed_kvset_is_resent_with_the_same_uuid_then_fails() -> None:
    """§6.4 raspy: resend the same KVSET until it comes back; give up after N tries."""
    core = listening_core()
    frames = kvset(b"/a/k", U1)
    assert core.set(b"/a/k", U1, frames, T0) == [SendSet(U1, frames)]
    assert core.next_deadline() == T0 + 2.0
    core.on_update(clone.hugz(), T0 + 1.9)
    assert core.on_tick(T0 + 1.9) == []
    assert core.on_tick(T0 + 2.0) == [
        SendSet(U1, frames),
        AskSnapshot([b"ICANHAZ?", b"/a/"]),  # the first resend: was the echo lost?
    ]
    core.on_snapshot(clone.kthxbai(20, b"/a/"), T0 + 2.1)  # not in the snapshot
    core.on_update(clone.hugz(), T0 + 4.0)
    assert core.on_tick(T0 + 4.0) == [SendSet(U1, frames)]
    core.on_update(clone.hugz(), T0 + 6.0)
    assert core.on_tick(T0 + 6.0) == [
        Failed(U1, "never_confirmed", 'update of "/a/k" never confirmed')
    ]
    assert (core.counts["resends"], core.counts["set_failed"]) == (2, 1)


def test_a_resent_kvset_whose_echo_was_lost_is_confirmed_by_the_snapshot() -> None:
    """A server cuts off a subscriber that falls behind; when the update it missed is
    the last one for a while, no gap shows it and the resends are dropped as
    duplicates: the snapshot asked at the first resend holds the value written."""
    core = listening_core()
    frames = kvset(b"/a/k", U1, b"new")
    core.set(b"/a/k", U1, frames, T0)
    assert core.on_tick(T0 + 2.0) == [
        SendSet(U1, frames),
        AskSnapshot([b"ICANHAZ?", b"/a/"]),
    ]
    assert core.on_tick(T0 + 2.1) == []  # one snapshot per update, not per turn
    core.on_snapshot(clone.kvsync(b"/a/k", 7, b"new"), T0 + 2.2)
    out = core.on_snapshot(clone.kthxbai(7, b"/a/"), T0 + 2.2)
    assert Confirmed(U1) in out
    assert core.on_tick(T0 + 4.5) == []  # confirmed: no more resends
    assert core.counts["snapshots"] == 2


def test_a_resent_kvset_is_not_confirmed_by_a_snapshot_holding_another_value() -> None:
    core = listening_core()
    frames = kvset(b"/a/k", U1, b"new")
    core.set(b"/a/k", U1, frames, T0)
    core.on_tick(T0 + 2.0)
    core.on_snapshot(clone.kvsync(b"/a/k", 7, b"old"), T0 + 2.2)
    out = core.on_snapshot(clone.kthxbai(7, b"/a/"), T0 + 2.2)
    assert Confirmed(U1) not in out
    core.on_update(clone.hugz(), T0 + 4.0)
    assert core.on_tick(T0 + 4.0) == [SendSet(U1, frames)]  # resent, no new snapshot


def test_a_resent_delete_is_confirmed_by_a_snapshot_without_the_key() -> None:
    core = listening_core()
    frames = kvset(b"/a/k", U1, b"")
    core.set(b"/a/k", U1, frames, T0)
    core.on_tick(T0 + 2.0)
    assert Confirmed(U1) in core.on_snapshot(clone.kthxbai(7, b"/a/"), T0 + 2.2)


def test_a_reconnect_resends_unconfirmed_kvsets_on_the_new_connection() -> None:
    """§6.4: the same UUID again, once the new connection's collector listens."""
    core = listening_core()
    frames = kvset(b"/a/k", U1)
    core.set(b"/a/k", U1, frames, T0)
    core.on_tick(T0 + 5.0)  # silent: reconnect
    assert core.on_collector(SUBSCRIBED, T0 + 5.1) == []  # no HUGZ yet
    assert core.on_update(clone.hugz(), T0 + 5.2) == [
        AskSnapshot([b"ICANHAZ?", b"/a/"]),
        SendSet(U1, frames),
    ]


def test_past_max_unconfirmed_the_oldest_update_fails() -> None:
    """Memory stays bounded while the server is away (max_unconfirmed = 2 here)."""
    core = synced_core(subtree=b"/a/", seq=1)  # the collector is not listening
    core.set(b"/a/1", U1, kvset(b"/a/1", U1), T0)
    core.set(b"/a/2", U2, kvset(b"/a/2", U2), T0)
    assert core.set(b"/a/3", U3, kvset(b"/a/3", U3), T0) == [
        Failed(
            U1, "dropped", 'update of "/a/1" dropped: more than 2 updates unconfirmed'
        )
    ]
    assert core.counts["set_dropped"] == 1
    assert core.on_collector(SUBSCRIBED, T0) == [
        SendSet(U2, kvset(b"/a/2", U2)),
        SendSet(U3, kvset(b"/a/3", U3)),
    ]


def test_a_kvset_outside_the_subtree_is_confirmed_once_sent() -> None:
    """§6.7: its echo never reaches a client subscribed to another subtree."""
    core = listening_core()
    frames = kvset(b"/b/k", U1)
    assert core.set(b"/b/k", U1, frames, T0) == [SendSet(U1, frames), Confirmed(U1)]


def test_closing_fails_every_unconfirmed_update() -> None:
    core = synced_core(subtree=b"/a/", seq=1)
    core.set(b"/a/1", U1, kvset(b"/a/1", U1), T0)
    detail = "clone client closed before the update was confirmed"
    assert core.close() == [Failed(U1, "closed", detail)]
    assert core.close() == []


def test_a_collector_that_unsubscribes_stops_the_sending() -> None:
    """§1.6: b'\\x00' is an unsubscription: the collector went away."""
    core = listening_core()
    core.on_collector([b"\x00"], T0)
    assert core.set(b"/a/k", U1, kvset(b"/a/k", U1), T0) == []


@pytest.mark.parametrize(
    ("frames", "reason"),
    [
        pytest.param(
            [b"/a/k", b"\x00" * 8, b"", b""], "wrong_frame_count", id="four-frames"
        ),
        pytest.param([b"", b"\x00" * 8, b"", b"", b""], "bad_key", id="empty-key"),
    ],
)
def test_a_malformed_snapshot_message_is_rejected(
    frames: list[bytes], reason: str
) -> None:
    """§6.2: every CHP message but ICANHAZ? has five frames and a key."""
    core = CloneClientCore(b"", SETTINGS)
    core.start(T0)
    core.on_update(clone.hugz(), T0)
    assert core.on_snapshot(frames, T0) == [Rejected("snapshot", reason)]
    assert core.phase is Phase.SNAPSHOT  # still waiting for KTHXBAI


_FRAME = st.binary(max_size=20) | st.sampled_from([b"HUGZ", b"KTHXBAI", bytes(8)])


@given(
    messages=st.lists(
        st.tuples(st.booleans(), st.lists(_FRAME, max_size=6)), max_size=30
    )
)
def test_any_frames_from_either_socket_are_handled_or_rejected(
    messages: list[tuple[bool, list[bytes]]],
) -> None:
    """§6.2: bad input is dropped with a reason, nothing raises; §6.4: an empty
    value is never stored (it means delete)."""
    core = CloneClientCore(b"", SETTINGS)
    core.start(T0)
    core.on_update(clone.hugz(), T0)
    for from_dealer, frames in messages:
        step = core.on_snapshot if from_dealer else core.on_update
        step(frames, T0)
        assert all(entry.body for entry in core.cache.values())


def test_resync_takes_the_copy_of_a_server_whose_numbers_went_back() -> None:
    """A server restarted on an older store (a dump restored) within the silence
    timeout numbers from below `last_seq`: its updates look old and are dropped.
    resync() (asked by a caller who saw the server change) starts over, and the
    new snapshot's KTHXBAI sets `last_seq` back, so its updates apply again."""
    core = synced_core(b"/d/", seq=100, entries={b"/d/gone": b"old"})
    assert core.on_update(kvpub(b"/d/a", 7), T0 + 1) == []  # taken for an old one
    out = core.resync(T0 + 1)
    assert out == [Reconnecting("asked", 100), Connect((b"/d/", b"HUGZ"))]
    assert (core.live, core.phase) == (False, Phase.WAIT_HUGZ)
    assert core.on_update(clone.hugz(), T0 + 2) == [
        AskSnapshot(clone.encode_icanhaz(b"/d/"))
    ]
    core.on_snapshot(clone.kvsync(b"/d/a", 7, b"v"), T0 + 2)
    out = core.on_snapshot(clone.kthxbai(7, b"/d/"), T0 + 2)
    assert Synced() in out
    assert (core.live, core.last_seq) == (True, 7)
    assert set(core.cache) == {b"/d/a"}
    assert core.on_update(kvpub(b"/d/b", 8), T0 + 3) == [
        Changed((Change(b"/d/b", 8, b"v", ()),))
    ]
