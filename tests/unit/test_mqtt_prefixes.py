"""The MQTT bridge subscribes to its subtrees by prefix (raspy.mqtt.filters): a glob's
fixed prefix, and the fewest prefixes that cover a set of globs."""

from __future__ import annotations

import fnmatch

import pytest
from hypothesis import given
from hypothesis import strategies as st

from raspy.mqtt.filters import (
    GlobFilter,
    event_prefixes,
    fixed_prefix,
    minimal_prefixes,
)


@pytest.mark.parametrize(
    ("glob", "prefix"),
    [
        ("/device/*", "/device/"),
        ("/device/pi.onewire.*", "/device/pi.onewire."),
        ("/stats/edge", "/stats/edge"),
        ("/a?c/*", "/a"),
        ("/x/[ab]*", "/x/"),
        ("/*", "/"),
    ],
)
def test_a_globs_fixed_prefix_ends_at_its_first_wildcard(
    glob: str, prefix: str
) -> None:
    assert fixed_prefix(glob) == prefix


def test_a_prefix_covered_by_a_shorter_one_is_dropped() -> None:
    prefixes = ["/device/pi.", "/scenario/", "/device/", "/device/", "/stats/x"]
    assert minimal_prefixes(prefixes) == ("/device/", "/scenario/", "/stats/x")
    assert minimal_prefixes(["/devices/", "/device/"]) == ("/device/", "/devices/")
    assert minimal_prefixes(["/device/", "/dev"]) == ("/dev",)
    assert minimal_prefixes([]) == ()


def test_a_filters_prefixes_are_those_of_its_globs() -> None:
    subtrees = GlobFilter(("/device/pi.fake.*", "/device/*", "/stats/up*"), rooted=True)
    assert subtrees.prefixes() == ("/device/", "/stats/up")


_NAME = st.text(alphabet="/ab.*?", max_size=8).map("/".__add__)


@given(st.lists(_NAME, max_size=5), _NAME)
def test_every_name_a_glob_matches_starts_with_one_prefix_only(
    globs: list[str], name: str
) -> None:
    """What the bridge subscribes to holds every key its subtrees match, once."""
    prefixes = GlobFilter(globs, rooted=True).prefixes()
    if any(fnmatch.fnmatchcase(name, glob) for glob in globs):
        assert sum(name.startswith(prefix) for prefix in prefixes) == 1


@pytest.mark.parametrize(
    ("prefixes", "events"),
    [
        (("/device/",), ("/event/",)),
        (("/",), ("/event/",)),
        (("",), ("/event/",)),
        (
            ("/device/pi.gpio.", "/device/pi.fake.hall"),
            ("/event/pi.fake.hall", "/event/pi.gpio."),
        ),
        (("/stats/", "/scenario/"), ()),
        (("/dev",), ("/event/",)),
        (("/device/pi.gpio.button/value",), ("/event/pi.gpio.button/",)),
    ],
)
def test_the_exposed_devices_events_are_followed(
    prefixes: tuple[str, ...], events: tuple[str, ...]
) -> None:
    """A button's gestures are `/event/<fullname>/…` keys: the bridge follows those
    of the devices it exposes (docs/mqtt.md, gestures)."""
    assert event_prefixes(prefixes, "/device/", "/event/") == events
