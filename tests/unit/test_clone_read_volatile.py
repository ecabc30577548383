"""read_volatile: `/stats/` read from the Clone server's memory alone; a server that
is not there or does not answer is "not known" (None), never an empty tree, which
the statistics would take for every key gone (and publish them all again)."""

from __future__ import annotations

import pykka
import pytest

from raspy.actors.clone.server import read_volatile

pytestmark = pytest.mark.timeout(30)


def test_no_server_is_not_known_not_an_empty_tree() -> None:
    assert read_volatile(None, "/stats/hub/") is None


def test_a_stopped_server_is_not_known_not_an_empty_tree() -> None:
    ref = pykka.ThreadingActor.start()
    ref.stop()
    assert read_volatile(ref, "/stats/hub/") is None


def test_a_stored_prefix_is_no_volatile_read() -> None:
    with pytest.raises(AssertionError):
        read_volatile(None, "/device/")
