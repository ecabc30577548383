"""The map grows ahead of need, and a long reader is told to let go (issue 18: no
reader holds the store hostage)."""

from __future__ import annotations

import threading
from pathlib import Path

from structlog.testing import capture_logs
from support.store_fixtures import (
    EVENT_TIMEOUT_S,
    MB,
    TINY,
    data_dir_fixture,  # noqa: F401  # fixture `data_dir`
)
from support.wait import wait_until

from raspy.storage.store import Put, Store, Table

VALUE = b"v" * 4000


def test_the_map_grows_ahead_once_three_quarters_are_used_with_no_reader_open(
    data_dir: Path,
) -> None:
    """Issue 18: a commit that leaves 3/4 of the map used doubles it right after."""
    with capture_logs() as logs, Store.open(data_dir, TINY) as store:
        for index in range(200):  # about 800 KB of the 1 MB map
            store.commit([Put(Table.KV, b"%05d" % index, VALUE)])
        stats = store.stats()
    grown = [e for e in logs if e["event"] == "store_map_grown"]
    assert [(e["reason"], e["size"]) for e in grown] == [("ahead", 2 * MB)]
    assert stats["map_size"] == 2 * MB


def test_a_long_read_view_is_asked_to_close_so_that_a_write_never_waits_on_it(
    data_dir: Path,
) -> None:
    """Issue 18: the map cannot grow while a read view is open; growth_waiting() tells
    its holder (a Clone snapshot) to close it, and the write goes through."""
    with Store.open(data_dir, TINY) as store:
        view = store.read_view()
        asked = threading.Event()

        def holder() -> None:
            wait_until(store.growth_waiting, what="a resize to wait", timeout_s=20.0)
            asked.set()
            view.close()

        thread = threading.Thread(target=holder)
        thread.start()
        futures = [
            store.submit([Put(Table.KV, b"%05d" % i, VALUE)]) for i in range(400)
        ]
        for future in futures:
            future.result(timeout=EVENT_TIMEOUT_S)
        thread.join(timeout=EVENT_TIMEOUT_S)
        assert asked.is_set()
        assert len(store.scan(Table.KV)) == 400
        assert store.stats()["map_size"] >= 2 * MB
