"""An `error` that a start finds in the tree: a failed run's is kept until the next
run (test_core_actors.py), but one of the text (it no longer loaded) or of the
start is judged again by this start: a scenario that loads now is idle, not shown
failed until its next run, hours later."""

from __future__ import annotations

import dataclasses

from support.core_actors import (
    Core,
    core_fixture,  # noqa: F401  # fixture `core`
    tree_fixture,  # noqa: F401  # fixture `tree`
    value,
    wait_value,
)
from support.device_services import server_fixture  # noqa: F401  # fixture `server`
from support.wait import wait_until

from raspy.client.clone import CloneClient

DUSK = """\
name: dusk
triggers: [{sun: sunset}, {event: /event/dusk}]
actions:
  - set: /scenario/dusk/done
    value: true
"""
PLAIN = """\
name: plain
triggers: [{event: /event/plain}]
actions:
  - set: /scenario/plain/done
    value: true
"""


def test_a_text_that_loads_again_after_a_restart_is_idle_not_its_old_error(
    core: Core, tree: CloneClient
) -> None:
    """A sun trigger on a hub without a place: `error`, the text no longer loads;
    the place added and raspyd restarted, it loads, and was still shown `error`
    (a failed run's state, kept until its next run)."""
    placed = dataclasses.replace(core.config, latitude=52.5, longitude=13.4)
    core.config = placed
    core.start()
    assert core.request("import", document=DUSK)[0] == b"200"
    wait_value(tree, "/scenario/dusk/state", "idle")
    core.stop()
    core.config = dataclasses.replace(placed, latitude=0.0, longitude=0.0)
    core.start()
    wait_value(tree, "/scenario/dusk/state", "error")
    failure = wait_until(
        lambda: value(tree, "/scenario/dusk/last_error"), what="the load error"
    )
    # the text is fine: the fix is the config, and the error says so
    assert failure == (
        "scenario dusk:2:18: triggers[0].sun: a sun trigger needs [core] latitude "
        "and longitude in raspyd's config: set them, then restart raspyd (kept, not "
        "running: its text is fine)"
    )
    wait_value(tree, "/scenario/dusk/error_from", "load")
    core.stop()
    core.config = placed
    core.start()
    got = core.request("get", name="dusk")[1]
    assert (got["state"], got["last_error"]) == ("idle", failure)
    wait_value(tree, "/scenario/dusk/state", "idle")
    wait_value(tree, "/scenario/dusk/error_from", None)
    # and its engine took it as not failed: a run ends `idle` as before it
    assert core.request("run", name="dusk")[0] == b"200"
    wait_value(tree, "/scenario/dusk/done", True)
    wait_value(tree, "/scenario/dusk/state", "idle")


def test_an_error_stored_without_its_origin_is_judged_again_by_the_start(
    core: Core, tree: CloneClient
) -> None:
    """An `error` a raspy before `error_from` stored: a run's or the text's, it is
    not known; the start that loads the text shows it `idle`, its last error kept."""
    core.start()
    assert core.request("import", document=PLAIN)[0] == b"200"
    wait_value(tree, "/scenario/plain/state", "idle")
    core.stop()
    publisher = core.server.publisher
    publisher.set(b"/scenario/plain/state", b'"error"')
    publisher.set(b"/scenario/plain/last_error", b'"boom"')
    publisher.delete(b"/scenario/plain/error_from")
    wait_value(tree, "/scenario/plain/last_error", "boom")
    wait_value(tree, "/scenario/plain/state", "error")
    core.start()
    got = core.request("get", name="plain")[1]
    assert (got["state"], got["last_error"]) == ("idle", "boom")
    wait_value(tree, "/scenario/plain/state", "idle")
