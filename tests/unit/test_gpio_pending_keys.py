"""A switch's pending key (raspy.devices.gpio_tree.PendingKeys): written only when
the change it says is another, deleted when nothing is pending, and what a crash or
another client left in the tree written over."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from raspy.devices.gpio_tree import PendingKeys
from raspy.devices.template import JsonValue
from raspy.stats import Stats

NAME = "pi.gpio.compressor"
KEY = b"/device/pi.gpio.compressor/pending"
HELD: dict[str, JsonValue] = {
    "state": True,
    "due": 1300.0,
    "detail": "off for 40s of min_off_s 300s: on in 260s",
}
BODY = (
    b'{"state": true, "due": 1300.0, '
    b'"detail": "off for 40s of min_off_s 300s: on in 260s"}'
)


class Recorder:
    """The entries handed to the publisher, in order."""

    def __init__(self) -> None:
        self.sent: list[tuple[bytes, bytes]] = []

    def set_many(
        self, entries: Sequence[tuple[bytes, bytes]]
    ) -> list[tuple[bytes, str]]:
        self.sent.extend(entries)
        return []


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


def test_a_change_is_written_once_and_deleted_once(recorder: Recorder) -> None:
    keys = PendingKeys(recorder, Stats(), "gpio")
    keys.write(NAME, None)  # nothing found, nothing pending: nothing to say
    keys.write(NAME, HELD)
    keys.write(NAME, {**HELD, "detail": "off for 50s of min_off_s 300s: on in 250s"})
    keys.write(NAME, {**HELD, "due": 1600.0})  # timed anew (a reload, a config)
    keys.write(NAME, None)
    keys.write(NAME, None)
    assert recorder.sent == [
        (KEY, BODY),
        (KEY, BODY.replace(b"1300", b"1600")),
        (KEY, b""),
    ]


@pytest.mark.parametrize(
    ("left", "sent"),
    [
        (b"", []),
        (BODY, [(KEY, b"")]),
        (b"not json", [(KEY, b"")]),
        (b"[1, 2]", [(KEY, b"")]),
        (b"{}", [(KEY, b"")]),
    ],
    ids=["none", "a-crash", "not-json", "not-an-object", "empty-object"],
)
def test_what_the_tree_had_at_start_is_deleted_when_nothing_is_pending(
    recorder: Recorder, left: bytes, sent: list[tuple[bytes, bytes]]
) -> None:
    keys = PendingKeys(recorder, Stats(), "gpio")
    keys.found(NAME, {KEY.decode(): left} if left else {})
    keys.write(NAME, None)
    assert recorder.sent == sent


def test_the_same_change_found_at_start_is_not_written_again(
    recorder: Recorder,
) -> None:
    """A reload with the change pending: the key says it already."""
    keys = PendingKeys(recorder, Stats(), "gpio")
    keys.found(NAME, {KEY.decode(): BODY})
    keys.write(NAME, {**HELD, "detail": "off for 90s of min_off_s 300s: on in 210s"})
    keys.write(NAME, {**HELD, "due": 1350.0})  # raspyd restarted: timed from then
    assert recorder.sent == [(KEY, BODY.replace(b"1300", b"1350"))]
