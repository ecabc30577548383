"""`raspy scenario` run as a process against a raw ROUTER playing the broker and
`<host>.core.scenario`: what tests/integration/test_scenario_cli_*.py share."""

from __future__ import annotations

import os
import subprocess
import sys

import zmq

from support.cli_process import answer_json

Router = zmq.Socket[bytes]
SERVICE = b"hub.core.scenario"


def start(
    endpoint: str, *args: str, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "raspy.cli.raspy", "scenario", *args]
    options = ["--server", endpoint, "--host", "hub", "--timeout", "5"]
    return subprocess.Popen(
        command + options,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=None if env is None else {**os.environ, **env},
    )


def answer(sock: Router, status: bytes, body: object) -> dict[str, object]:
    """Reply `[status, json]` to one request for the scenario service; its JSON."""
    return answer_json(sock, SERVICE, status, body)
