"""raspyd and a `[link]` section: raspy-poller's, which raspyd ignores
(docs/configuration.md, `[link]`), at its start, `--check-config`, `--print-config`,
a SIGHUP reload, and raspy-kv restore's reading of its [store]."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
import structlog
from structlog.testing import capture_logs
from support.net import free_port_base

from raspy import config as config_mod
from raspy.actors import supervisor
from raspy.cli import kv_restore, raspyd, raspyd_config, raspyd_serve
from raspy.config_link import LinkConfig
from raspy.errors import ConfigError

# each a [link] raspy-poller refuses: timings that cannot work together, one out of
# its bounds, a key it does not know, a section that is no table
BAD_LINKS = (
    "[link]\nreconnect_initial_s = 9.0\nreconnect_max_s = 3.0\n",
    "[link]\nheartbeat_interval_s = -1\n",
    "[link]\nheartbeat_livenes = 4\n",
    "link = 3\n",
)


def _args(config: Path, data_dir: Path, *more: str) -> argparse.Namespace:
    """raspyd's arguments for `config` on `data_dir`, on free ports."""
    ports = ["--port-base", str(free_port_base(5))]
    return raspyd.build_parser().parse_args(
        ["--config", str(config), "--data-dir", str(data_dir), *more, *ports]
    )


@pytest.mark.parametrize("link", BAD_LINKS)
def test_a_bad_link_section_neither_stops_a_start_nor_fails_a_check(
    tmp_path: Path, link: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """The docs say raspyd ignores [link]; a bad value in it stopped raspyd's start
    (and --check-config, --print-config) with raspy-poller's refusal. raspyd reads
    past it, its defaults in the Config; raspy-poller still refuses it."""
    path = tmp_path / "raspyd.toml"
    path.write_text(f'hostname = "testhost"\n{link}')
    start = raspyd_config.start_config(_args(path, tmp_path / "data"), str(path))
    assert isinstance(start, config_mod.Config), capsys.readouterr().err
    assert (start.hostname, start.link) == ("testhost", LinkConfig())
    checked = _args(path, tmp_path / "data", "--check-config", str(path))
    assert raspyd_config.check_config_file(checked) == 0
    assert raspyd.main(["--print-config", "--config", str(path)]) == 0
    assert capsys.readouterr().err == ""
    assert kv_restore._store_config(str(path)) == config_mod.Config().store
    with pytest.raises(ConfigError):  # raspy-poller's reading of the same file
        config_mod.load(path.read_text(), str(path))


def test_a_reload_to_a_file_with_a_bad_link_section_is_applied(
    tmp_path: Path,
) -> None:
    """A SIGHUP reads the file again as the start does: a bad [link] refused the
    whole reload (`config_reload_failed`), the other changes with it."""
    path = tmp_path / "raspyd.toml"
    path.write_text('hostname = "testhost"\n')
    args = _args(path, tmp_path / "data")
    rt = supervisor.start(raspyd_config.load_config(args))
    try:
        path.write_text(
            'hostname = "testhost"\n[titanic]\nmax_body_bytes = 4096\n' + BAD_LINKS[0]
        )
        with capture_logs() as logs:
            raspyd_serve.reload_config(args, rt, structlog.get_logger())
        assert [e for e in logs if e["event"] == "config_reload_failed"] == []
        assert rt.config.titanic.max_body_bytes == 4096
    finally:
        rt.stop()


def test_print_config_leaves_out_the_link_section_it_does_not_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """raspyd reads past [link], so its Config holds [link]'s defaults: printed as
    the effective configuration, a file's `heartbeat_liveness = 9` showed as the
    default 3 in effect. The section is left out, and the header says so."""
    path = tmp_path / "raspyd.toml"
    path.write_text('hostname = "testhost"\n[link]\nheartbeat_liveness = 9\n')
    assert raspyd.main(["--print-config", "--config", str(path)]) == 0
    printed = capsys.readouterr().out
    assert "[link]" not in printed.splitlines()
    assert "# hub_heartbeat_liveness = 3" not in printed  # a key of [link] alone
    header = " ".join(
        line.lstrip("# ") for line in printed.split("\n\n")[0].split("\n")
    )
    assert "left out: raspyd ignores it" in header
    assert 'hostname = "testhost"' in printed
