"""raspyd's SIGHUP reload (raspy.cli.raspyd) on a real runtime: whatever a reload
meets, the daemon's main loop goes on (and ends cleanly, status 1, on a fatal part)."""

from __future__ import annotations

import argparse
from pathlib import Path

import structlog
from structlog.testing import capture_logs
from support.net import free_port_base
from support.wait import wait_until

from raspy.actors import supervisor
from raspy.cli import raspyd, raspyd_config, raspyd_serve


def _args(config: Path, data_dir: Path) -> argparse.Namespace:
    """raspyd's arguments for `config` on `data_dir`, on free ports."""
    return raspyd.build_parser().parse_args(
        [
            "--config",
            str(config),
            "--data-dir",
            str(data_dir),
            "--port-base",
            str(free_port_base(5)),
        ]
    )


def test_a_reload_that_meets_a_failed_store_is_logged_and_the_loop_goes_on(
    tmp_path: Path,
) -> None:
    """A devices reload reads the tree (readings of services turned off are deleted);
    with the store failed under it (damage LMDB reported, its writer gone) the read
    raised out of the main loop: `internal error` (status 70) and no stop, so the
    actors' threads kept the process alive. Now the reload is logged as failed, and
    the store's failure ends raspyd as usual (fatal: stop, status 1)."""
    path = tmp_path / "raspyd.toml"
    path.write_text('hostname = "testhost"\n[devices]\nfake_enabled = true\n')
    args = _args(path, tmp_path / "data")
    rt = supervisor.start(raspyd_config.load_config(args))
    try:
        rt.call(lambda: rt.inject_fault(supervisor.STORE))
        path.write_text('hostname = "testhost"\n[devices]\nfake_enabled = false\n')
        with capture_logs() as logs:
            raspyd_serve.reload_config(args, rt, structlog.get_logger())
        failed = [e for e in logs if e["event"] == "config_reload_failed"]
        assert failed, logs
        wait_until(lambda: rt.fatal, what="the store's failure, fatal")
    finally:
        rt.stop()


def test_a_reload_keeps_titanic_within_the_running_stores_value_bound(
    tmp_path: Path,
) -> None:
    """docs/configuration.md: titanic.max_body_bytes is at most store.max_value_bytes
    less the record around it, and a reload applies [titanic] but keeps [store] until
    a restart. A file that raised both was valid on its own, so the reload ran Titanic
    with bodies the running store refuses (each request answered 500 for ever). Now
    the reload is refused, naming the key, and the running config is kept."""
    path = tmp_path / "raspyd.toml"
    path.write_text('hostname = "testhost"\n')
    args = _args(path, tmp_path / "data")
    rt = supervisor.start(raspyd_config.load_config(args))
    try:
        before = rt.config
        path.write_text(
            'hostname = "testhost"\n'
            "[store]\nmax_value_bytes = 16777216\n"
            "[titanic]\nmax_body_bytes = 8388608\n"
        )
        with capture_logs() as logs:
            raspyd_serve.reload_config(args, rt, structlog.get_logger())
        failed = [e for e in logs if e["event"] == "config_reload_failed"]
        assert failed, logs
        assert "titanic.max_body_bytes" in failed[0]["reason"], failed
        assert "store.max_value_bytes" in failed[0]["reason"], failed
        assert rt.config == before
    finally:
        rt.stop()
