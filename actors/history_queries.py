"""HistoryQueries: the answers of `<host>.logger.history`, under HistoryActor.

A request's points come from the store's rows and, for the interval not yet
flushed, from the Recorder (raspy.history.service decides what is asked; `forget`
deletes a key's rows and record in one commit, and what the Recorder holds of it).
A base class of HistoryActor (`history.py`), not a part it holds, so that a request
reaches these methods with no extra hop; HistoryActor sets the state below, and
records and flushes.
"""

from __future__ import annotations

from contextlib import ExitStack

import pykka
import structlog

from raspy.actors.worker import LocalWorker, PeerLinks
from raspy.history import query, service
from raspy.history.recorder import Bucket, Recorder, RowId
from raspy.history.tiers import Tier
from raspy.storage.history_rows import bucket_of, stored_rows
from raspy.storage.read_view import ReadView
from raspy.storage.store import Delete
from raspy.storage.tables import Table, history_row_key, recorded_key_record

log = structlog.get_logger(component="history")


class HistoryQueries(pykka.ThreadingActor):
    """The worker's requests served (`_on_request`); HistoryActor sets the state."""

    links: PeerLinks
    tiers: tuple[Tier, ...]
    recorder: Recorder
    recorded: set[str]  # the keys recorded, their records stored or to be
    _new_keys: set[str]  # recorded since the last flush: their records to write
    _worker: LocalWorker

    def _on_request(self, frames: tuple[bytes, ...]) -> None:
        rejected = self._worker.serve(frames, self._handle)
        if rejected is not None:
            self.links.stats.incr("history.rejected")
            log.warning(
                "frame_rejected", reason=rejected.reason, detail=rejected.detail
            )

    def _handle(self, body: list[bytes]) -> tuple[bytes, bytes]:
        # the view is opened by the first read: `forget` commits, and the map cannot
        # grow while a view of this process is open (Store.read_view)
        with ExitStack() as stack:

            def fetcher(key: str) -> query.Fetch:  # once per request
                view = stack.enter_context(self.links.store.read_view())
                return self._fetcher(view, key)

            return service.handle(
                body,
                self.links.clock.wall(),
                self.tiers,
                self.recorded,
                fetcher,
                self._forget,
            )

    def _forget(self, key: str) -> int | None:
        """Delete every row of `key` and its record in one commit; returns how many
        rows there were, those not yet written included, or None for a key neither
        recorded nor in the store (a typo, a key forgotten whole). Then what the recorder
        holds of it goes (this thread flushes: no flush comes in between), so that
        no flush writes part of it back, and a failed commit changes nothing; a
        device that still records starts anew. The stored rows are those of every
        tier in the store (stored_rows), configured or not; the view is closed
        before the commit (Store.read_view)."""
        with self.links.store.read_view() as view:
            rows = stored_rows(view, key)
        if key not in self.recorded and not rows:
            return None
        record = recorded_key_record(key)[0]
        self.links.store.commit(
            [Delete(Table.HISTORY, record), *(Delete(Table.HISTORY, r) for r in rows)]
        )
        unwritten = {
            history_row_key(row.step_s, row.slot, row.key)
            for row in self.recorder.forget(key)
        }
        self._new_keys.discard(key)
        self.recorded.discard(key)
        self.links.stats.incr("history.forgotten")
        count = len(unwritten.union(rows))
        log.info("history_forgotten", key=key, rows=count)
        return count

    def _fetcher(self, view: ReadView, key: str) -> query.Fetch:
        def fetch(tier: Tier, slot: int) -> Bucket | None:
            pending = self.recorder.pending(RowId(key, tier.step_s, slot))
            if pending is not None:
                return pending
            data = view.get(Table.HISTORY, history_row_key(tier.step_s, slot, key))
            return None if data is None else bucket_of(data)

        return fetch
