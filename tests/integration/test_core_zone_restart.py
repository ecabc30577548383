"""The core and cron read the machine's zone once, together: a supervisor's restart
of the core after the machine's zone changed keeps it in cron's zone (one zone for
the scenarios and the cron jobs until raspyd restarts, as docs/configuration.md says
of `[core] timezone`)."""

from __future__ import annotations

from pathlib import Path

import pytest
from structlog.testing import capture_logs
from support.net import free_port_base
from support.wait import wait_until

from raspy import config as config_mod
from raspy.actors import supervisor

FAST = "[supervisor]\nrestart_initial_s = 0.05\nrestart_max_s = 0.4\n"


@pytest.mark.timeout(60)
def test_a_restarted_core_keeps_the_zone_cron_has(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TZ", "Europe/Berlin")
    cfg = config_mod.load(
        FAST,
        "test.toml",
        data_dir=str(tmp_path / "data"),
        hostname="testhost",
        network__port_base=free_port_base(),
    )
    with capture_logs() as logs:
        rt = supervisor.start(cfg)
        try:
            started = [e for e in logs if e["event"] == "core_started"]
            assert [e["timezone"] for e in started] == ["Europe/Berlin"]
            monkeypatch.setenv("TZ", "Asia/Tokyo")  # the machine's zone changed
            core = next(c for c in rt.children if c.name == "core")
            first = core.ref
            assert first is not None
            first.stop()  # ended under the supervisor: it starts the core again
            wait_until(
                lambda: len([e for e in logs if e["event"] == "core_started"]) == 2,
                what="the core started again",
            )
        finally:
            rt.stop()
    started = [e for e in logs if e["event"] == "core_started"]
    assert started[1]["timezone"] == "Europe/Berlin"
