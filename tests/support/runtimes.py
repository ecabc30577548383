"""In-process raspyd runtimes for integration tests (supervisor.start on a fresh port
base and data dir), every one stopped at the end, and the web face's login page."""

from __future__ import annotations

import http.client
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from raspy import config as config_mod
from raspy.actors import supervisor
from support.net import free_port_base

Start = Callable[[str], supervisor.Runtime]


@contextmanager
def runtimes(data_dir: Path, prelude: str, host: str = "testhost") -> Iterator[Start]:
    """start(extra) runs a runtime on `prelude + extra`; all are stopped on exit."""
    started: list[supervisor.Runtime] = []

    def start(extra: str) -> supervisor.Runtime:
        cfg = config_mod.load(
            prelude + extra,
            "test.toml",
            data_dir=str(data_dir),
            hostname=host,
            network__port_base=free_port_base(5),
        )
        started.append(supervisor.start(cfg))
        return started[-1]

    try:
        yield start
    finally:
        for rt in started:
            rt.stop()


def login_page_status(port: int) -> int:
    """The HTTP status of GET /login on the web face at `port`."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request("GET", "/login")
        return connection.getresponse().status
    finally:
        connection.close()
