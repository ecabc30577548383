"""A run in a long `wait` inside a `choose` branch outlives a SIGKILL of the real raspyd:
the next start takes it up from the record in its store and the device command after
the wait arrives (docs/scenarios.md, "Time, DST and downtime")."""

from __future__ import annotations

import json
import time
from pathlib import Path

from support.daemon import hostname, running_daemon
from support.scenario_daemon import CONFIG, ask, scenarios_up, value
from support.wait import wait_until

from raspy.client.clone import CloneClient

HEATER = """\
name: e2e-heater
triggers:
  - event: /event/e2e/heat
actions:
  - choose:
      - if: "trigger.value == 'later'"
        then:
          - wait: 30m
          - device: "{host}.fake.lamp"
            action: "on"
  - set: /house/e2e/done
    value: "{trigger.value}"
"""
RECORD = "/scenario/e2e-heater/resume"
AT = [{"action": 0, "choice": 1}, {"action": 0}]


def test_a_sigkill_in_a_nested_wait_and_a_start_send_the_command_after_it(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    lamp = f"/device/{hostname()}.fake.lamp/value"
    with running_daemon(data_dir, config_text=CONFIG) as first:
        wait_until(lambda: scenarios_up(first), what="the scenario service")
        assert ask(first, "import", document=HEATER, source="h.yaml")[0] == b"200"
        with CloneClient(first.endpoint) as tree:
            tree.wait_synced()
            wait_until(lambda: value(tree, lamp) is False, what="the lamp off")
            tree.set(b"/event/e2e/heat", b'"later"', confirm_timeout_s=5)
            wait_until(lambda: value(tree, RECORD) is not None, what="the record")
            record = value(tree, RECORD)
            [run] = record["runs"]
            assert (run["at"], run["seconds"]) == (AT, 1800.0)
            # as if raspyd stayed down past the wait's end (a test waits no 30
            # minutes): the same record, its wait ending now
            record["runs"][0]["end"] = time.time()
            tree.set(RECORD.encode(), json.dumps(record).encode(), confirm_timeout_s=5)
            wait_until(lambda: value(tree, RECORD) == record, what="the edit")
            assert value(tree, lamp) is False  # the command is after the wait
        first.kill()
    with running_daemon(data_dir, config_text=CONFIG) as second:
        wait_until(lambda: scenarios_up(second), what="the scenario service again")
        with CloneClient(second.endpoint) as tree:
            tree.wait_synced()
            wait_until(lambda: value(tree, lamp) is True, what="the lamp on")
            wait_until(
                lambda: value(tree, "/house/e2e/done") == "later",
                what="the rest of the run",
            )
            wait_until(
                lambda: value(tree, "/scenario/e2e-heater/state") == "idle",
                what="the run's end",
            )
            assert value(tree, "/scenario/e2e-heater/last_error") is None
            wait_until(lambda: value(tree, RECORD) is None, what="the record gone")
        assert "scenario_run_resumed" in second.log_text()
