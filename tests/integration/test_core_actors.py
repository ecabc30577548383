"""The core over a real edge, Clone server and Store (issue 11): import over MDP, a
key change runs the actions, state in the tree, restarts keep enabled/disabled, a
device command reaches a real fake-device service."""

from __future__ import annotations

import dataclasses
import json
import queue
import threading

import pytest
from structlog.testing import capture_logs
from support.clock import FakeClock
from support.core_actors import (
    HOST,
    Core,
    core_fixture,  # noqa: F401  # fixture `core`
    tree_fixture,  # noqa: F401  # fixture `tree`
    value,
    wait_value,
)
from support.device_services import (
    Services,
    server_fixture,  # noqa: F401  # fixture `server`
    services_fixture,  # noqa: F401  # fixture `services`
)
from support.recording_actor import QueueRecorder
from support.wait import wait_until

from raspy.actors import messages as msgs
from raspy.actors import scenario_messages as scn
from raspy.actors.clone.publisher import ClonePublisher
from raspy.actors.core import CoreActor, CoreLinks
from raspy.actors.core.service_imports import REPLACED_RUN_ERROR
from raspy.actors.core.wiring import core_zone
from raspy.actors.scenario import ScenarioActor
from raspy.actors.scenario_messages import RunawayDisabled
from raspy.actors.titanic import start_titanic
from raspy.actors.worker import EchoWorkerActor
from raspy.client.clone import CloneClient
from raspy.config import DevicesConfig, TitanicConfig
from raspy.devices.registries import fake_registry
from raspy.devices.template import JsonValue
from raspy.rules.engine import State
from raspy.rules.resume_start import LOST_RUN_ERROR, NOT_IN_A_LONG_WAIT
from raspy.stats import Stats
from raspy.storage.scenario_store import ScenarioStore
from raspy.transport.outbox import Outbox

LIVING = f"/device/{HOST}.fake.living/value"
HEAT = """\
# heater on when the living room is cold
name: heat
description: Heater on when cold
triggers:
  - kv: "/device/*.fake.living/value"
    below: 19.5
actions:
  - set: /scenario/heat/note
    value: "cold at {trigger.value}"
"""


def _publish(core: Core, key: str, body: bytes) -> None:
    core.server.publisher.set(key.encode(), body)


def test_an_imported_scenario_acts_on_a_key_change_and_shows_its_state(
    core: Core, tree: CloneClient
) -> None:
    core.start()
    assert core.request("import", document=HEAT, source="heat.yaml") == (
        b"200",
        {
            "name": "heat",
            "replaced": False,
            # no living room reading yet: a warning, and imported all the same
            "warnings": [
                "heat.yaml:5:9: warning: kv: '/device/*.fake.living/value' matches no "
                "key in the hub's tree now (a typo, or a device that is not there yet?)"
            ],
        },
    )
    wait_value(tree, "/scenario/heat/state", "idle")
    _publish(core, LIVING, b"18.5")
    wait_value(tree, "/scenario/heat/note", "cold at 18.5")
    wait_value(tree, "/scenario/heat/runs", 1)
    # each key is its own set: one may land a commit after another, so each is waited for
    wait_value(
        tree,
        "/scenario/heat/last_trigger",
        {"kind": "kv", "id": "", "key": LIVING, "value": 18.5, "from": None},
    )
    wait_value(tree, "/scenario/heat/last_run", core.clock.wall())
    status, listed = core.request("list")
    assert (status, listed) == (
        b"200",
        [
            {
                "name": "heat",
                "description": "Heater on when cold",
                "enabled": True,
                "state": "idle",
                "mode": "single",
                "last_run": core.clock.wall(),
                "last_trigger": value(tree, "/scenario/heat/last_trigger"),
                "runs": 1,
                "last_error": None,
                "last_error_at": None,
                "last_skip": None,
                "timezone": "UTC",  # the hub's [core] timezone, as `get` says it
                "next_fires": [],  # it has no time trigger
            }
        ],
    )
    status, got = core.request("get", name="heat")
    assert (status, got["document"]) == (b"200", HEAT)
    assert got["last_trace"] == [
        "+0.0s set /scenario/heat/note = cold at 18.5",
        "+0.0s done",
    ]


def test_get_says_why_the_last_trigger_started_no_run_and_writes_nothing_for_it(
    core: Core, tree: CloneClient
) -> None:
    core.start()
    document = HEAT.replace("actions:", "conditions:\n  - trigger.value > 10\nactions:")
    assert core.request("import", document=document, source="heat.yaml")[0] == b"200"
    wait_value(tree, "/scenario/heat/state", "idle")
    _publish(core, LIVING, b"8.5")
    wait_until(
        lambda: core.request("get", name="heat")[1]["last_skip"] is not None,
        what="the skip in the scenario's status",
    )
    skip = core.request("get", name="heat")[1]["last_skip"]
    assert skip == {
        "at": core.clock.wall(),
        "reason": "condition 1 is false: trigger.value > 10",
        "trigger": {"kind": "kv", "id": "", "key": LIVING, "value": 8.5, "from": None},
    }
    assert tree.get(b"/scenario/heat/last_skip") is None
    assert value(tree, "/scenario/heat/runs") == 0


def test_enabled_and_disabled_survive_a_restart_of_the_core(
    core: Core, tree: CloneClient
) -> None:
    core.start()
    other = HEAT.replace("name: heat", "name: other")
    assert core.request("import", document=HEAT)[0] == b"200"
    assert core.request("import", document=other)[0] == b"200"
    assert core.request("disable", name="other") == (
        b"200",
        {"name": "other", "state": "disabled"},
    )
    core.stop()
    core.start()
    _, listed = core.request("list")
    assert [(e["name"], e["enabled"], e["state"]) for e in listed] == [
        ("heat", True, "idle"),
        ("other", False, "disabled"),
    ]
    wait_value(tree, "/scenario/other/state", "disabled")
    _publish(core, LIVING, b"10")
    wait_value(tree, "/scenario/heat/note", "cold at 10")
    assert core.request("enable", name="other") == (
        b"200",
        {"name": "other", "state": "idle"},
    )


def test_a_stored_text_a_newer_check_refuses_is_kept_and_says_what_to_do(
    core: Core, tree: CloneClient
) -> None:
    """An older raspy stored (and ran) an empty `choose: []`; a check added since
    refuses it. After the upgrade it is kept, shown in error, and last_error says
    how to put it right, not only what is wrong."""
    older = (
        "name: older\ntriggers:\n  - event: /event/older\nactions:\n"
        "  - choose: []\n  - set: /scenario/older/went\n    value: else\n"
    )
    ScenarioStore(core.store).put(older, True, "single", 1.0, "older")
    core.start()
    wait_value(tree, "/scenario/older/state", "error")
    # each key is its own update: the state may be seen before the error
    wait_until(
        lambda: value(tree, "/scenario/older/last_error") is not None,
        what="older's last_error",
    )
    error = value(tree, "/scenario/older/last_error")
    assert isinstance(error, str)
    assert error.startswith(
        "scenario older:5:13: actions[0].choose: a choose needs at least one"
    )
    assert error.endswith(
        "(kept, not running: correct it and import it again: raspy scenario export "
        "older > older.yaml, then raspy scenario import --replace older.yaml)"
    )
    got = core.request("get", name="older")[1]
    assert (got["document"], got["last_error"]) == (older, error)
    assert core.request("disable", name="older")[1]["state"] == "disabled"
    enabled = core.request("enable", name="older")[1]
    assert (enabled["state"], enabled["not_running"]) == ("error", error)
    got = core.request("get", name="older")[1]
    assert (got["enabled"], got["state"], got["last_error"]) == (True, "error", error)
    wait_value(tree, "/scenario/older/state", "error")
    fixed = older.replace("  - choose: []\n", "")
    assert core.request("import", document=fixed, replace=True)[0] == b"200"
    wait_value(tree, "/scenario/older/state", "idle")
    _publish(core, "/event/older", b"true")
    wait_value(tree, "/scenario/older/went", "else")


def test_an_unchanged_import_says_replaced_too_for_a_client_before_unchanged(
    core: Core,
) -> None:
    """The text stored already: nothing stored ("unchanged"), and "replaced" true,
    as the scenario exists; it was false, and a client that does not read
    "unchanged" (an older raspy scenario import) printed "imported heat"."""
    core.start()
    assert core.request("import", document=HEAT)[1]["replaced"] is False
    status, reply = core.request("import", document=HEAT, replace=True)
    assert (status, reply["replaced"], reply.get("unchanged")) == (b"200", True, True)


def test_a_replacing_import_keeps_disabled_unless_the_document_says_enabled(
    core: Core, tree: CloneClient
) -> None:
    core.start()
    assert core.request("import", document=HEAT)[0] == b"200"
    assert core.request("disable", name="heat")[0] == b"200"
    edited = HEAT.replace("Heater on when cold", "Heater on when chilly")
    status, reply = core.request("import", document=edited, replace=True)
    assert (status, reply["name"], reply["replaced"]) == (b"200", "heat", True)
    got = core.request("get", name="heat")[1]
    assert (got["enabled"], got["document"]) == (False, edited)
    wait_value(tree, "/scenario/heat/state", "disabled")
    core.stop()
    core.start()  # the stored record says disabled too
    assert core.request("get", name="heat")[1]["enabled"] is False
    stated = edited.replace("name: heat", "name: heat\nenabled: true")
    assert core.request("import", document=stated, replace=True)[0] == b"200"
    assert core.request("get", name="heat")[1]["enabled"] is True
    wait_value(tree, "/scenario/heat/state", "idle")


def test_a_run_cut_short_by_a_stop_is_named_after_the_restart(
    core: Core, tree: CloneClient
) -> None:
    """What waited in memory is not resumed (docs/scenarios.md: a `wait_until` is
    not), but not silently: the next start logs scenario_run_lost and shows it as
    the last error."""
    core.start()
    slow = (
        "name: slow\nactions:\n  - wait_until: \"kv('/house/never') == 1\"\n"
        "    timeout: 1h\n"
        "  - set: /scenario/slow/note\n    value: done\n"
    )
    assert core.request("import", document=slow)[0] == b"200"
    assert core.request("run", name="slow")[0] == b"200"
    wait_value(tree, "/scenario/slow/state", "running")
    core.stop()
    assert value(tree, "/scenario/slow/state") == "running"  # the stop cut it short
    core.start()
    wait_value(tree, "/scenario/slow/state", "idle")
    lost = f"{LOST_RUN_ERROR}: {NOT_IN_A_LONG_WAIT}"  # in a short wait: no record
    wait_value(tree, "/scenario/slow/last_error", lost)
    assert core.request("get", name="slow")[1]["last_error"] == lost


def test_a_bad_document_is_refused_with_its_line_and_the_stored_one_stays(
    core: Core,
) -> None:
    core.start()
    core.request("import", document=HEAT)
    broken = HEAT.replace("below: 19.5", "below: cold")
    status, reply = core.request(
        "import", document=broken, source="heat.yaml", replace=True
    )
    assert status == b"400"
    assert reply["problems"][0].startswith("heat.yaml:6:")
    assert core.request("get", name="heat")[1]["document"] == HEAT
    status, reply = core.request("import", document=HEAT, source="heat.yaml")
    assert (status, reply["problems"]) == (
        b"400",
        ["heat.yaml:2:7: name: 'heat' is already stored"],
    )
    main = HEAT.replace("name: heat", "name: main")
    status, reply = core.request("import", document=main, source="main.yaml")
    assert (status, reply["problems"]) == (
        b"400",
        ["main.yaml:2:7: name: 'main' is reserved for the core's records"],
    )
    # what an import of it would warn of too (no living room reading yet)
    assert core.request("validate", document=HEAT) == (
        b"200",
        {
            "name": "heat",
            "warnings": [
                "<document>:5:9: warning: kv: '/device/*.fake.living/value' matches "
                "no key in the hub's tree now (a typo, or a device that is not there "
                "yet?)"
            ],
        },
    )


def test_unknown_names_actions_and_malformed_requests_get_their_status(
    core: Core,
) -> None:
    core.start()
    assert core.request("get", name="nope") == (
        b"404",
        {"error": "no scenario named 'nope'"},
    )
    assert core.request("import", document=HEAT)[0] == b"200"
    assert core.request("run", name="haet") == (
        b"404",
        {"error": "no scenario named 'haet' (did you mean heat?)"},
    )
    assert core.request("fly")[0] == b"501"
    assert core.request("list", name="x")[0] == b"400"
    sun = HEAT.replace(
        'kv: "/device/*.fake.living/value"\n    below: 19.5', "sun: sunset"
    )
    status, reply = core.request("import", document=sun, source="sun.yaml")
    assert (status, reply["problems"]) == (
        b"400",
        [
            "sun.yaml:5:10: triggers[0].sun: a sun trigger needs [core] latitude and "
            "longitude in raspyd's config: set them, then restart raspyd"
        ],
    )


def test_stop_ends_a_run_in_the_middle_of_a_wait(core: Core, tree: CloneClient) -> None:
    core.start()
    waiting = """\
name: slow
triggers: [{event: /event/go}]
actions:
  - wait: 1h
  - set: /scenario/slow/done
    value: true
"""
    core.request("import", document=waiting)
    assert core.request("run", name="slow") == (
        b"200",
        {"name": "slow", "state": "running"},
    )
    wait_value(tree, "/scenario/slow/state", "running")
    assert core.request("stop", name="slow") == (
        b"200",
        {"name": "slow", "state": "idle"},
    )
    wait_value(tree, "/scenario/slow/state", "idle")
    core.clock.advance(3600)
    assert core.request("delete", name="slow") == (
        b"200",
        {"name": "slow", "state": "deleted"},
    )
    wait_value(tree, "/scenario/slow/state", None)
    assert value(tree, "/scenario/slow/done") is None


@pytest.mark.parametrize("cut_by", ["disable", "import"])
def test_a_run_cut_short_by_a_disable_or_a_new_version_is_the_last_trace(
    core: Core, tree: CloneClient, cut_by: str
) -> None:
    """A disable, or an import of a new version, stops the scenario's actor: the
    run it cut short was not in the trace, which still showed the run before
    (`done`, beside the import's error saying a run was cut)."""
    core.start()
    waiting = """\
name: slow
triggers: [{event: /event/go}]
actions:
  - set: /scenario/slow/began
    value: true
  - wait: 1h
"""
    core.request("import", document=waiting)
    core.request("run", name="slow")
    wait_value(tree, "/scenario/slow/state", "running")
    core.clock.advance(60)
    if cut_by == "disable":
        assert core.request("disable", name="slow")[1]["state"] == "disabled"
    else:
        new = waiting + "# a new version\n"  # the same text again stores nothing
        assert core.request("import", document=new, replace=True)[0] == b"200"
    got = core.request("get", name="slow")[1]
    assert (got["last_trace"], got["runs"], got["last_error"]) == (
        [
            "+0.0s set /scenario/slow/began = true",
            "+0.0s wait 3600s",
            "+60.0s stopped",
        ],
        1,
        REPLACED_RUN_ERROR if cut_by == "import" else None,
    )


def test_a_run_the_core_has_not_heard_of_yet_is_cut_short_all_the_same(
    core: Core, tree: CloneClient
) -> None:
    """The core's view of a scenario lags its actor (the actor tells its state): a
    run started just before an import of a new version was cut with no word, as
    the core still saw the scenario idle and did not ask it to stop its runs."""
    core.start()
    waiting = """\
name: slow
triggers: [{event: /event/go}]
actions:
  - wait: 1h
"""
    core.request("import", document=waiting)
    core.request("run", name="slow")
    wait_value(tree, "/scenario/slow/state", "running")
    assert core.ref is not None
    proxy = core.ref.proxy()
    entry = proxy.entries.get()["slow"]
    # as if the actor's report of the run still waited in the core's mailbox
    proxy.show(entry, dataclasses.replace(entry.status, state=State.IDLE)).get()
    new = waiting + "# a new version\n"  # the same text again stores nothing
    assert core.request("import", document=new, replace=True)[0] == b"200"
    got = core.request("get", name="slow")[1]
    assert (got["last_trace"], got["last_error"]) == (
        ["+0.0s wait 3600s", "+0.0s stopped"],
        REPLACED_RUN_ERROR,
    )


def test_a_run_of_a_single_scenario_under_way_says_it_did_not_start(
    core: Core, tree: CloneClient
) -> None:
    """Mode single ignores a run while one goes on; the reply said only "running",
    as if this run had started."""
    core.start()
    waiting = """\
name: slow
mode: single
triggers: [{event: /event/go}]
actions:
  - wait: 1h
"""
    core.request("import", document=waiting)
    assert core.request("run", name="slow") == (
        b"200",
        {"name": "slow", "state": "running"},
    )
    wait_value(tree, "/scenario/slow/state", "running")
    assert core.request("run", name="slow") == (
        b"200",
        {
            "name": "slow",
            "state": "running",
            "not_started": "a run is under way (mode single)",
        },
    )
    assert core.request("get", name="slow")[1]["runs"] == 1
    core.request("stop", name="slow")


def test_a_run_that_waits_its_turn_says_it_is_queued(
    core: Core, tree: CloneClient
) -> None:
    """Mode queued: the second and third runs wait; the reply says how many wait
    (it read as if each had started)."""
    core.start()
    waiting = "name: line\nmode: queued\nactions:\n  - wait: 1h\n"
    core.request("import", document=waiting)
    assert core.request("run", name="line") == (
        b"200",
        {"name": "line", "state": "running"},
    )
    for waiting_now in (1, 2):
        assert core.request("run", name="line") == (
            b"200",
            {"name": "line", "state": "running", "queued": waiting_now},
        )
    core.clock.advance(5)
    core.request("stop", name="line")
    # the two turns the stop forgot are drops, as the queue's limit's are: the
    # books balance (3 asked: 1 run, 2 dropped), and the last skip says why, at
    # the stop's time
    assert core.stats.get("core.scenario.dropped") == 2
    skip = core.request("get", name="line")[1]["last_skip"]
    assert skip["reason"] == "stopped while it waited its turn (mode queued)"
    assert skip["at"] == core.clock.wall()


def test_a_device_action_commands_a_real_fake_device_service(
    core: Core, services: Services, tree: CloneClient
) -> None:
    services.start(
        fake_registry(
            HOST,
            DevicesConfig(fake_enabled=True, fake=({"name": "lamp", "oid": "switch"},)),
        ),
        FakeClock(),
    )
    core.start()
    lamp = """\
name: lamp-on
triggers: [{event: "/event/dark"}]
actions:
  - device: "{host}.fake.lamp"
    action: set
    value: true
  - set: /scenario/lamp-on/done
    value: true
"""
    assert core.request("import", document=lamp)[0] == b"200"
    _publish(core, "/event/dark", b"true")
    wait_value(tree, f"/device/{HOST}.fake.lamp/value", True)
    wait_value(tree, "/scenario/lamp-on/done", True)
    failing = lamp.replace("value: true\n  - set", "value: 7\n  - set").replace(
        "lamp-on", "lamp-bad"
    )
    assert core.request("import", document=failing)[0] == b"200"
    _publish(core, "/event/dark", b"true")
    wait_value(tree, "/scenario/lamp-bad/state", "error")
    error = value(tree, "/scenario/lamp-bad/last_error")
    assert isinstance(error, str)
    assert error.startswith(f"device {HOST}.fake.lamp: set answered 400 invalid_value")
    wait_until(lambda: value(tree, "/scenario/lamp-bad/done") is None, what="no done")


def test_calls_go_to_any_service_durably_through_titanic_or_time_out(
    core: Core, tree: CloneClient
) -> None:
    EchoWorkerActor.start(
        core.edge.ref, core.edge.outbox, f"{HOST}.echo".encode(), "echo"
    )
    start_titanic(
        core.edge.ref,
        core.edge.outbox,
        core.store,
        TitanicConfig(),
        core.clock,
        Stats(),
    )
    core.start()
    calls = """\
name: calls
triggers: [{event: "/event/call"}]
actions:
  - call: "{host}.echo"
    body: ["hello", "{trigger.value}"]
  - call: "{host}.echo"
    body: ["later"]
    titanic: true
  - set: /scenario/calls/done
    value: "{trigger.value}"
  - call: "{host}.nobody"
    body: ["x"]
    timeout: 2s
"""
    assert core.request("import", document=calls)[0] == b"200"
    _publish(core, "/event/call", b'"one"')
    wait_value(tree, "/scenario/calls/done", "one")
    wait_value(tree, "/scenario/calls/state", "running")  # waiting for nobody
    core.clock.advance(2)
    wait_value(tree, "/scenario/calls/state", "error")
    wait_value(
        tree,
        "/scenario/calls/last_error",
        f"call {HOST}.nobody: {HOST}.nobody did not answer within 2s",
    )


def test_null_is_a_value_a_set_stores_it_and_an_event_with_it_fires(
    core: Core, tree: CloneClient
) -> None:
    """A manual run has trigger.value null: `set` with it deleted the key and
    `event` with it published nothing, while the run counted as a success."""
    core.start()
    writer = """\
name: writer
actions:
  - set: /test/nullset
    value: "{trigger.value}"
  - event: /event/nulltest
    value: "{trigger.value}"
"""
    listener = """\
name: listener
triggers: [{event: /event/nulltest}]
actions:
  - set: /test/heard
    value: "heard {trigger.value}"
"""
    for document in (writer, listener):
        assert core.request("import", document=document)[0] == b"200"
    core.server.publisher.set(b"/test/nullset", b"1")
    wait_value(tree, "/test/nullset", 1)
    wait_value(tree, "/scenario/listener/state", "idle")
    assert core.request("run", name="writer")[0] == b"200"
    wait_value(tree, "/test/heard", "heard null")
    assert tree.get(b"/test/nullset") == b"null"
    assert value(tree, "/scenario/writer/last_error") is None


def test_a_runaway_report_from_a_replaced_version_changes_nothing(
    core: Core, tree: CloneClient
) -> None:
    """The old actor of a scenario replaced by `import --replace` may still report a
    runaway on its way out: only the current actor's report disables it."""
    ref = core.start()
    assert core.request("import", document=HEAT)[0] == b"200"
    stale = QueueRecorder.start(queue.Queue())  # any actor but the scenario's
    try:
        ref.tell(RunawayDisabled("heat", "runaway: late", stale))
        # the core takes messages in order: a request after it sees its effect
        assert core.request("get", name="heat")[1]["enabled"] is True
        current = ref.proxy().entries.get()["heat"].ref
        ref.tell(RunawayDisabled("heat", "runaway: now", current))
        assert core.request("get", name="heat")[1]["enabled"] is False
        wait_value(tree, "/scenario/heat/state", "disabled")
    finally:
        stale.stop()


BOOT = """\
name: boot
mode: queued
triggers:
  - startup: true
actions:
  - set: /scenario/boot/mark
    value: "{trigger.kind}"
"""


def test_startup_triggers_fire_when_the_daemon_starts_not_when_the_core_restarts(
    core: Core, tree: CloneClient
) -> None:
    """`startup: true` is once per raspyd start. A core started again inside a
    running raspyd (its Clone server was restarted) fired it a second time. The
    scenario actor gets Startup before the manual run, and runs them in order, so
    a fired startup shows before the run's mark."""
    marks: list[bytes] = []
    tree.on_change(
        lambda change: (
            marks.append(change.body)
            if change.key == b"/scenario/boot/mark" and not change.from_snapshot
            else None
        )
    )
    core.start()
    assert core.request("import", document=BOOT)[0] == b"200"  # no startup on import
    core.stop()
    core.start(daemon_start=False)  # the supervisor's restart of the core
    assert core.request("run", name="boot")[0] == b"200"
    wait_until(lambda: marks == [b'"manual"'], what="the manual run's mark only")
    core.stop()
    core.start()  # raspyd's start
    assert core.request("run", name="boot")[0] == b"200"
    wait_until(
        lambda: marks == [b'"manual"', b'"startup"', b'"manual"'],
        what="the startup run, then the manual one",
    )


def test_a_core_that_cannot_start_ends_what_it_started(core: Core) -> None:
    """The Clone server gone as the core starts (the supervisor replacing both): its
    ticker thread outlived it (the conftest guard fails a test on such a thread)."""
    publish_outbox = core.server.ref.ask(msgs.GetPublishOutbox(), timeout=5)
    assert isinstance(publish_outbox, Outbox)
    core.server.ref.stop(block=True, timeout=10)
    links = CoreLinks(
        core.edge.ref,
        core.edge.outbox,
        ClonePublisher(publish_outbox),
        core.server.ref,
        core.store,
        core.clock,
        Stats(),
        core.rng,
    )
    with capture_logs():
        ref = CoreActor.start(HOST, core.config, core_zone(core.config), links)
        wait_until(lambda: not ref.is_alive(), what="the core's failed start")
    ticker = [t for t in threading.enumerate() if t.name == "raspy-core-ticker"]
    for thread in ticker:
        thread.join(timeout=5)
    assert not [t for t in ticker if t.is_alive()]


def test_get_and_list_show_a_large_trigger_value_by_its_size_as_the_tree_does(
    core: Core, tree: CloneClient
) -> None:
    """A trigger's value may be up to [clone] max_value_bytes: the tree's
    last_trigger showed a large one by its size, the replies whole, twice per
    scenario (last_trigger and last_skip) in a list of every scenario."""
    core.start()
    document = (
        "name: big\ntriggers:\n  - event: /event/big\n"
        "conditions:\n  - \"trigger.value == 'go'\"\nactions:\n  - wait: 0s\n"
    )
    assert core.request("import", document=document)[0] == b"200"
    wait_value(tree, "/scenario/big/state", "idle")
    _publish(core, "/event/big", json.dumps("x" * 5000).encode())
    wait_until(
        lambda: core.request("get", name="big")[1]["last_skip"] is not None,
        what="the skip of the large value",
    )
    for reply in (core.request("get", name="big")[1], core.request("list")[1][0]):
        assert reply["last_skip"]["trigger"]["value"] == (
            "(5002 bytes of JSON, not shown)"
        )


def test_a_value_nested_too_deep_for_json_is_text_and_the_core_still_starts(
    core: Core, tree: CloneClient
) -> None:
    # any client may write any body; JSON nested deeper than Python's stack raised
    # RecursionError (not ValueError) out of decode(): the import that resumes a
    # `for:` over such a key answered 500, and the core then failed to start at all
    deep = "[" * 5000 + "]" * 5000
    _publish(core, "/house/junk", deep.encode())
    _publish(core, "/house/cellar", b"4")
    wait_until(lambda: tree.get(b"/house/junk") is not None, what="the deep key")
    wait_value(tree, "/house/cellar", 4)
    document = """\
name: cold
triggers:
  - kv: "/house/*"
    below: 5
    for: 10s
actions:
  - set: /scenario/cold/note
    value: "{trigger.key}"
"""
    core.start()
    assert core.request("import", document=document)[0] == b"200"
    core.stop()
    core.start()
    # answered after the Startup told before it: the hold on the cellar resumed
    assert core.request("stop", name="cold") == (
        b"200",
        {"name": "cold", "state": "idle"},
    )
    core.clock.advance(10)
    wait_value(tree, "/scenario/cold/note", "/house/cellar")


def test_a_lone_surrogate_in_a_trigger_value_breaks_no_write_and_no_wait(
    core: Core, tree: CloneClient
) -> None:
    """`"caf\\ud800"` is ASCII and JSON, and names a lone surrogate, which no UTF-8
    holds: as a trigger's value it raised out of every write of the scenario (its
    state stuck `running`, every list a 500), and out of the turn before its wait
    was scheduled (the run never went on) or its resume record written."""
    core.start()
    document = """\
name: note
triggers: [{kv: /house/note}]
actions:
  - set: /scenario/note/copy
    value: "{trigger.value}"
  - wait: 2m
  - set: /scenario/note/after
    value: done
"""
    assert core.request("import", document=document)[0] == b"200"
    wait_value(tree, "/scenario/note/state", "idle")
    _publish(core, "/house/note", b'"caf\\ud800"')
    wait_value(tree, "/scenario/note/state", "running")
    wait_value(tree, "/scenario/note/copy", "caf\ud800")  # as it was read
    wait_until(
        lambda: tree.get(b"/scenario/note/resume") is not None,
        what="the run's resume record",
    )
    status, listed = core.request("list")
    assert (status, listed[0]["last_trigger"]["value"]) == (b"200", "caf\ud800")
    # null since the import, the trigger in a turn of its own: nothing orders it
    # before the resume record
    shown = wait_until(
        lambda: value(tree, "/scenario/note/last_trigger"),
        what="the scenario's last trigger",
    )
    assert isinstance(shown, dict)
    assert shown["value"] == "caf\ud800"
    core.clock.advance(120)
    wait_value(tree, "/scenario/note/after", "done")
    wait_value(tree, "/scenario/note/state", "idle")


def test_an_output_that_fails_skips_none_of_the_turn_after_it(
    core: Core, tree: CloneClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write that raised (a call to a service named by a lone surrogate did,
    which the run now refuses itself; here one set fails once on purpose) raised
    out of the turn and skipped what came after it: the `running` it reported and
    the ticker, so the run's wait never ended."""
    publish = ScenarioActor._publish
    failed = threading.Event()

    def failing_once(
        actor: ScenarioActor,
        key: str,
        value: JsonValue,
        ttl_s: float = 0.0,
        *,
        delete: bool = False,
    ) -> None:
        if key == "/scenario/svc/first" and not failed.is_set():
            failed.set()
            raise RuntimeError("a write that fails")
        publish(actor, key, value, ttl_s, delete=delete)

    monkeypatch.setattr(ScenarioActor, "_publish", failing_once)
    core.start()
    document = """\
name: svc
triggers: [{kv: /house/svc}]
actions:
  - set: /scenario/svc/first
    value: 1
  - wait: 5s
  - set: /scenario/svc/after
    value: true
"""
    assert core.request("import", document=document)[0] == b"200"
    wait_value(tree, "/scenario/svc/state", "idle")
    _publish(core, "/house/svc", b"1")
    wait_until(failed.is_set, what="the failing write")
    wait_value(tree, "/scenario/svc/state", "running")
    core.clock.advance(5)
    wait_value(tree, "/scenario/svc/after", True)
    wait_value(tree, "/scenario/svc/state", "idle")
    assert value(tree, "/scenario/svc/first") is None  # the one write that failed
    assert core.stats.get("core.scenario.errors") == 1


def test_a_failed_run_is_still_the_state_after_a_restart_until_the_next_run(
    core: Core, tree: CloneClient
) -> None:
    """`state` is `error` from a run that failed until the next run starts: a
    restart of the core showed such a scenario `idle`, its error beside it."""
    core.start()
    document = """\
name: ratio
triggers: [{kv: /house/ratio}]
actions:
  - set: /scenario/ratio/inverse
    expr: "1 / trigger.value"
"""
    assert core.request("import", document=document)[0] == b"200"
    wait_value(tree, "/scenario/ratio/state", "idle")
    _publish(core, "/house/ratio", b"0")
    wait_value(tree, "/scenario/ratio/state", "error")
    failure = core.request("get", name="ratio")[1]["last_error"]
    assert "division by zero" in failure
    # written after `state` (actors.core.status_keys): waited for, not read at once
    wait_value(tree, "/scenario/ratio/error_from", "run")
    core.stop()
    core.start()
    got = core.request("get", name="ratio")[1]
    assert (got["state"], got["last_error"]) == ("error", failure)
    assert value(tree, "/scenario/ratio/state") == "error"
    _publish(core, "/house/ratio", b"4")
    wait_value(tree, "/scenario/ratio/inverse", 0.25)
    wait_value(tree, "/scenario/ratio/state", "idle")


def test_a_hold_due_between_the_last_stop_and_the_actors_end_starts_no_run(
    core: Core, tree: CloneClient
) -> None:
    """A disable, a new version or a delete asks the actor to stop its runs, then
    stops it: a Tick of a `for:` hold due in between started a run, whose first
    action went out and whose resume record stayed in the tree for ever (the
    actor's stop threw away what its last stop of runs did)."""
    core.start()
    document = """\
name: hold
triggers:
  - kv: /house/door
    above: 0
    for: 10s
actions:
  - set: /scenario/hold/began
    value: true
  - wait: 2m
"""
    assert core.request("import", document=document)[0] == b"200"
    wait_value(tree, "/scenario/hold/state", "idle")
    assert core.ref is not None
    proxy = core.ref.proxy()
    view = proxy.tree.get()
    _publish(core, "/house/door", b"1")
    wait_until(lambda: view.kv("/house/door") == 1, what="the core's view of the door")
    ref = proxy.entries.get()["hold"].ref  # after the core told the change on
    ref.ask(msgs.Tick(), timeout=5)  # after the change: the hold is under way
    # what the core's stop_actor asks, then a Tick of the hold due before its stop
    assert isinstance(ref.ask(scn.StopRuns(last=True), timeout=5), scn.RunsStopped)
    core.clock.advance(10)
    ref.ask(msgs.Tick(), timeout=5)
    ref.stop(block=True, timeout=5)
    _publish(core, "/house/marker", b"1")  # after any write of the Tick's turn
    wait_value(tree, "/house/marker", 1)
    assert tree.get(b"/scenario/hold/began") is None
    assert tree.get(b"/scenario/hold/resume") is None
