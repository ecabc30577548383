"""A coalesced reading whose newer value waits behind a client's write still reaches
the store at the next flush (issue 17: a reading is stored within an interval).

A flush writes only what was published (so that a stored mark covers it); a key's
newer reading that waits to be published behind a durable write on its way took
the published one's place in the buffer, and so nothing of the key was written.
While clients kept writing, a sensor read more often than a commit takes was never
stored: in raspyd, a reading published seconds before a kill -9 was lost. Now the
flush writes the value subscribers were told in its place, unless a durable update
of the key is on its way, which the store must never see overwritten by an older
value. Real LMDB, the pipeline driven by hand.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from structlog.testing import capture_logs
from support.clone_pipeline import (
    drained,
    flushed,
    one_mb_pipeline,
    reading,
    refusing_pipeline,
    stored,
)
from support.wait import wait_until

from raspy.actors.clone.commit import CommitPipeline
from raspy.storage.tables import KvRecord

pytestmark = pytest.mark.timeout(60)

UUID = b"u" * 16
KEY = b"/device/t/value"


def test_a_reading_whose_newer_value_waits_behind_a_client_write_is_stored(
    tmp_path: Path,
) -> None:
    with refusing_pipeline(tmp_path / "data") as parts:
        pipeline, store = parts.pipeline, parts.store
        pipeline.accept(reading(1, b"20.0"), coalesced=True)
        pipeline.submit()
        assert drained(pipeline) == [1]  # published, not stored
        pipeline.accept(reading(2, b"on", key=b"/house/switch", uuid=UUID))
        pipeline.submit()  # a client's write, on its way to the store
        pipeline.accept(reading(3, b"20.5"), coalesced=True)
        pipeline.submit()  # published once the client's write is stored
        flushed(pipeline)
        assert stored(store, KEY) == KvRecord(1, b"20.0", b"", None)
        assert pipeline.buffer.shown(KEY) == reading(3, b"20.5")  # told since
        flushed(pipeline)
        assert stored(store, KEY) == KvRecord(3, b"20.5", b"", None)
        assert pipeline.buffer.shown(KEY) is None


def test_no_older_reading_is_written_after_a_client_write_of_its_key(
    tmp_path: Path,
) -> None:
    """The client's write of the key is on its way when the flush comes: the
    reading told before it is not written (the store would end with it, older)."""
    with refusing_pipeline(tmp_path / "data") as parts:
        pipeline, store = parts.pipeline, parts.store
        pipeline.accept(reading(1, b"20.0"), coalesced=True)
        pipeline.submit()
        assert drained(pipeline) == [1]
        pipeline.accept(reading(2, b"19.0", uuid=UUID))  # a client's write of KEY
        pipeline.submit()
        pipeline.accept(reading(3, b"20.5"), coalesced=True)
        pipeline.submit()
        flushed(pipeline)  # writes nothing of KEY
        assert drained(pipeline) == [2, 3]
        assert stored(store, KEY) == KvRecord(2, b"19.0", b"", None)
        flushed(pipeline)
        assert stored(store, KEY) == KvRecord(3, b"20.5", b"", None)


def _flushed_unreleased(pipeline: CommitPipeline) -> None:
    """A flush submitted and settled while the batches stored meanwhile are not
    released yet: what waits behind them still waits (a client's write slower to
    store than an interval)."""
    pipeline.flush()

    def settled() -> bool:
        pipeline._collect()  # the store's answers, none released
        return pipeline._flushing is None

    wait_until(settled, what="the flush settled")


def test_a_value_told_that_the_map_can_never_take_is_dropped_once(
    tmp_path: Path,
) -> None:
    """The value told of a key, bigger than the map at its maximum, stood in for its
    newer value waiting behind a client's write: dropped, and taken again as the
    stand-in at the next flush, dropped, logged and counted again at every flush
    while the newer one waited."""
    with one_mb_pipeline(tmp_path / "data") as (store, pipeline, stats):
        pipeline.accept(reading(1, b"b" * (3 << 19)), coalesced=True)  # 1.5 MB
        pipeline.submit()
        assert drained(pipeline) == [1]  # told
        pipeline.accept(reading(2, b"on", key=b"/house/switch", uuid=UUID))
        pipeline.submit()  # a client's write, on its way to the store
        pipeline.accept(reading(3, b"20.5"), coalesced=True)
        pipeline.submit()  # waits behind it
        with capture_logs() as logs:
            for _ in range(3):
                _flushed_unreleased(pipeline)
        dropped = [e for e in logs if e["event"] == "clone_coalesced_dropped"]
        assert [e["keys"] for e in dropped] == [[KEY.decode()]]
        assert stats.get("clone.coalesced.dropped") == 1
        assert drained(pipeline) == [2, 3]
        flushed(pipeline)  # the newer value: stored, as ever
        assert stored(store, KEY) == KvRecord(3, b"20.5", b"", None)
