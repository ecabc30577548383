"""A run in a `wait_until` inside a `choose` branch outlives a SIGKILL of the real
raspyd: the next start takes it up from the record in its store, waits again, and the
device command after it arrives once the window closes (docs/scenarios.md, "Time, DST
and downtime")."""

from __future__ import annotations

import json
import time
from pathlib import Path

from support.daemon import hostname, running_daemon
from support.scenario_daemon import CONFIG, ask, scenarios_up, value
from support.wait import wait_until

from raspy.client.clone import CloneClient
from raspy.rules.resume_record import fingerprint

HEATER = """\
name: e2e-window
triggers:
  - kv: /house/e2e/window
    to: open
actions:
  - device: "{host}.fake.lamp"
    action: "off"
  - choose:
      - if: "true"
        then:
          - wait_until: "kv('/house/e2e/window') == 'closed'"
            timeout: 30m
          - device: "{host}.fake.lamp"
            action: "on"
  - set: /house/e2e/back
    value: "{trigger.value}"
"""
WINDOW = "/house/e2e/window"
RECORD = "/scenario/e2e-window/resume"
STATE = "/scenario/e2e-window/state"
AT = [{"action": 1, "choice": 1}, {"action": 0}]


def test_a_sigkill_in_a_wait_until_and_a_start_go_on_when_the_window_closes(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    lamp = f"/device/{hostname()}.fake.lamp/value"
    with running_daemon(data_dir, config_text=CONFIG) as first:
        wait_until(lambda: scenarios_up(first), what="the scenario service")
        assert ask(first, "import", document=HEATER, source="w.yaml")[0] == b"200"
        with CloneClient(first.endpoint) as tree:
            tree.wait_synced()
            wait_until(lambda: value(tree, lamp) is False, what="the lamp off")
            tree.set(WINDOW.encode(), b'"open"', confirm_timeout_s=5)
            wait_until(lambda: value(tree, STATE) == "running", what="the run")
            # the record the run's timer writes after a minute in its wait_until,
            # written now (a test waits no minute): the run, its place, 25 minutes
            # of its timeout left
            trigger = {"kind": "kv", "id": "", "key": WINDOW, "value": "open"}
            record = {
                "v": 3,
                "version": fingerprint(HEATER),
                "runs": [
                    {
                        "at": AT,
                        "end": time.time() + 1500,
                        "seconds": 1800.0,
                        "trigger": trigger,
                        "until": True,
                    }
                ],
            }
            tree.set(RECORD.encode(), json.dumps(record).encode(), confirm_timeout_s=5)
            wait_until(lambda: value(tree, RECORD) == record, what="the record")
        first.kill()
    with running_daemon(data_dir, config_text=CONFIG) as second:
        wait_until(lambda: scenarios_up(second), what="the scenario service again")
        with CloneClient(second.endpoint) as tree:
            tree.wait_synced()
            wait_until(lambda: value(tree, STATE) == "running", what="resumed")
            status, reply = ask(second, "get", name="e2e-window")
            assert status == b"200"
            assert reply["run_trace"][0].startswith(
                "+0.0s resumed after a restart: wait_until "
            )
            # the run waits: the window is still open, the lamp stays off
            wait_until(lambda: value(tree, lamp) is False, what="the lamp read")
            assert value(tree, STATE) == "running"
            tree.set(WINDOW.encode(), b'"closed"', confirm_timeout_s=5)
            wait_until(lambda: value(tree, lamp) is True, what="the lamp on")
            wait_until(
                lambda: value(tree, "/house/e2e/back") == "open",
                what="the rest of the run",
            )
            wait_until(lambda: value(tree, STATE) == "idle", what="the run's end")
            assert value(tree, "/scenario/e2e-window/last_error") is None
            wait_until(lambda: value(tree, RECORD) is None, what="the record gone")
        assert "scenario_run_resumed" in second.log_text()
