"""`raspy scenario show` and `list` write their times in the hub's `[core]
timezone`, which the core's `get` reply and each entry of its `list` reply name,
not in the zone of the machine the command runs on (TZ of its process here); each
says which zone that is on its first line."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys

import pytest
from support.cli_process import finish_text
from support.core_actors import (
    HOST,
    Core,
    core_fixture,  # noqa: F401  # fixture `core`
)
from support.device_services import (
    server_fixture,  # noqa: F401  # fixture `server`
)
from support.wait import wait_until

TOKYO = "Asia/Tokyo"
DOCUMENT = "name: wake\nactions:\n  - wait: 0s\n"


def _cli(core: Core, *args: str) -> tuple[int, str, str]:
    command = [sys.executable, "-m", "raspy.cli.raspy", "scenario", *args]
    options = ["--server", core.edge.endpoint, "--host", HOST, "--timeout", "5"]
    process = subprocess.Popen(
        command + options,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "TZ": "XST+3:30"},  # this machine: 3:30 west of UTC
    )
    return finish_text(process)


@pytest.mark.timeout(60)
def test_list_writes_the_last_run_in_the_hubs_zone(core: Core) -> None:
    """`list` wrote this machine's local time while `show` wrote the hub's: one
    run, two times."""
    core.config = dataclasses.replace(core.config, timezone=TOKYO)
    core.start()
    assert core.request("import", document=DOCUMENT)[0] == b"200"
    assert core.request("run", name="wake")[0] == b"200"
    wait_until(
        lambda: core.request("list")[1][0]["last_run"] is not None, what="the run"
    )
    assert core.request("list")[1][0]["timezone"] == TOKYO
    assert _cli(core, "list") == (
        0,
        f"times in: {TOKYO} (the hub's [core] timezone)\n"
        "NAME  STATE  LAST RUN                    RUNS\n"
        "wake  idle   2023-11-15 07:13:20 +09:00     1\n",
        "",
    )


@pytest.mark.timeout(60)
def test_show_writes_the_last_run_in_the_hubs_zone_and_names_it(core: Core) -> None:
    core.config = dataclasses.replace(core.config, timezone=TOKYO)
    core.start()
    assert core.request("import", document=DOCUMENT)[0] == b"200"
    assert core.request("run", name="wake")[0] == b"200"
    wait_until(
        lambda: core.request("get", name="wake")[1]["last_run"] is not None,
        what="the run",
    )
    assert core.request("get", name="wake")[1]["timezone"] == TOKYO
    command = [sys.executable, "-m", "raspy.cli.raspy", "scenario", "show", "wake"]
    options = ["--server", core.edge.endpoint, "--host", HOST, "--timeout", "5"]
    process = subprocess.Popen(
        command + options,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "TZ": "XST+3:30"},  # this machine: 3:30 west of UTC
    )
    status, out, err = finish_text(process)
    assert (status, err) == (0, "")
    lines = out.splitlines()
    assert lines[0] == f"times in:     {TOKYO} (the hub's [core] timezone)"
    # the FakeClock's wall time, 1_700_000_000: 2023-11-14 22:13:20 UTC
    assert "last run:     2023-11-15 07:13:20 +09:00" in lines
