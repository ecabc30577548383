"""What a command-line tool imports is what its command needs: each run is a process
of its own, which pays every import again (about 0.3 s of CPU for `raspy-kv get` on a
PC, ten times that on a Pi 3; the suite starts some 500 of them). A live raspy-kv
command does not load the store (LMDB), a store command not the client (ZeroMQ), and
neither tool the reader of raspyd's configuration (raspy.config, TOML)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from support.net import free_port_base

_WATCHED = ("lmdb", "zmq", "raspy.storage.store", "raspy.client", "raspy.config")


def _loaded_by(module: str, argv: list[str]) -> list[str]:
    """The watched modules loaded once `module`'s main(argv) has run."""
    code = (
        "import json, sys\n"
        f"from raspy.cli import {module} as tool\n"
        "try:\n"
        f"    tool.main({argv!r})\n"
        "except SystemExit:\n"
        "    pass\n"
        f"watched = {_WATCHED!r}\n"
        "loaded = sorted(m for m in watched if m in sys.modules)\n"
        "print(json.dumps(loaded), file=sys.stderr)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    loaded: list[str] = json.loads(result.stderr.splitlines()[-1])
    return loaded


@pytest.mark.timeout(90)
def test_a_live_raspy_kv_command_loads_neither_the_store_nor_the_config() -> None:
    server = f"127.0.0.1:{free_port_base()}"  # nothing answers: a quick timeout
    argv = ["get", "/a", "--server", server, "--timeout", "0.05"]
    assert _loaded_by("kv", argv) == ["raspy.client", "zmq"]


@pytest.mark.timeout(90)
def test_a_store_command_of_raspy_kv_loads_neither_the_client_nor_zmq(
    tmp_path: Path,
) -> None:
    argv = ["dump", "--data-dir", str(tmp_path / "none")]
    assert _loaded_by("kv", argv) == ["lmdb", "raspy.storage.store"]


@pytest.mark.timeout(90)
def test_raspy_loads_neither_the_store_nor_raspyds_config() -> None:
    assert _loaded_by("raspy", ["call", "--help"]) == ["zmq"]
