"""A TitanicActor whose start fails after its workers said READY (an ask to the edge
that timed out, say) leaves nothing behind: pykka calls no on_stop after a failed
on_start, and the workers left registered each took a request for ever."""

from __future__ import annotations

import threading
from pathlib import Path

from support.edge_fixtures import EdgeHandle
from support.mdp_spec import mmi_service, wait_status
from support.titanic import TEST_CONFIG, open_store
from support.wait import wait_until

from raspy.actors.titanic import TitanicActor
from raspy.clock import SystemClock
from raspy.cores import titanic as core_mod
from raspy.stats import Stats


class _FailsAfterReady(TitanicActor):
    """Fails at the last step of its start, after READY and the edge's asks."""

    def _run(self, outputs: list[core_mod.Output]) -> None:
        raise RuntimeError("a start that fails after READY")


def _ticker_running() -> bool:
    return any(t.name == "raspy-titanic-ticker" for t in threading.enumerate())


def test_a_start_that_fails_after_ready_leaves_no_worker_and_no_ticker(
    edge: EdgeHandle, tmp_path: Path
) -> None:
    store = open_store(tmp_path / "store")
    try:
        ref = _FailsAfterReady.start(
            edge.ref,
            edge.outbox,
            store,
            TEST_CONFIG,
            clock=SystemClock(),
            stats=Stats(),
        )
        wait_until(lambda: not ref.is_alive(), what="the start to fail")
        wait_status(edge.context, edge.endpoint, b"titanic.request", b"404")
        assert mmi_service(edge.context, edge.endpoint, b"titanic.reply") == b"404"
        wait_until(lambda: not _ticker_running(), what="the ticker to stop")
    finally:
        store.close()
