"""A real runtime with the web face on and one simulated sensor, and a browser
logged in to it (integration tests of the pages)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from raspy import config as config_mod
from raspy.actors import supervisor
from raspy.actors.web import WEB_PORT_OFFSET
from support.net import free_port_base
from support.web_browser import Browser, allow_login

HOST = "testhost"
CONFIG = (
    "[devices]\nfake_enabled = true\n[[devices.fake]]\n"
    'name = "attic"\noid = "sensor.temperature"\npoll_interval_s = 0.2\n'
    "[http]\nenabled = true\n"
)


@contextmanager
def web_hub(tmp_path: Path, extra: str = "") -> Iterator[tuple[int, Browser]]:
    """(the runtime's port base, a logged-in Browser); stopped at the end. `extra`:
    more config (top-level keys and tables, such as [[controls]]), put first."""
    data_dir = tmp_path / "data"
    allow_login(data_dir)
    cfg = config_mod.load(
        extra + "\n" + CONFIG,
        "test.toml",
        data_dir=str(data_dir),
        hostname=HOST,
        network__port_base=free_port_base(5),
    )
    rt = supervisor.start(cfg)
    try:
        browser = Browser(cfg.network.port_base + WEB_PORT_OFFSET)
        browser.log_in()
        yield cfg.network.port_base, browser
    finally:
        rt.stop()
