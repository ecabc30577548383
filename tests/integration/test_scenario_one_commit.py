"""A user action that changes a scenario's records and its keys in the tree is one
store transaction. A delete: its records and every key under /scenario/<name>/, its
record of runs in a long wait among them (as two commits, a kill between them left
the record of a deleted scenario's waiting run, which the same text imported again
under its name took up at the next start). A Save that only adds or drops an
`enabled:` line saying what the scenario is: the text and the record of its runs,
which names the text's fingerprint (as two, a kill between them lost those runs:
the record named the other text)."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import pytest
from structlog.testing import capture_logs
from support.core_actors import (
    Core,
    core_fixture,  # noqa: F401  # fixture `core`
    tree_fixture,  # noqa: F401  # fixture `tree`
    value,
    wait_value,
)
from support.device_services import (
    server_fixture,  # noqa: F401  # fixture `server`
    services_fixture,  # noqa: F401  # fixture `services`
)
from support.long_wait import (
    RECORD,
    SLOW,
    commits,
    record,
    record_version,
    run_slow,
    scenario_keys,
)
from support.wait import wait_until

from raspy.actors import messages as msgs
from raspy.actors.clone import server as server_mod
from raspy.actors.clone.server import CloneServerActor
from raspy.actors.core.scenario_set import FAILED_RUN_ERROR
from raspy.actors.scenario_messages import NewText, RunawayDisabled, TextStored
from raspy.client.clone import CloneClient
from raspy.devices.template import JsonValue
from raspy.errors import StoreError
from raspy.rules.resume_record import fingerprint
from raspy.storage import store_writes
from raspy.storage.ops import Op, apply_ops
from raspy.storage.scenario_store import ScenarioStore

pytestmark = pytest.mark.timeout(60)
FIRE_KEY = "/scenario/slow/next_fire"


def test_a_delete_stores_the_scenario_and_its_keys_in_one_commit(
    core: Core, tree: CloneClient
) -> None:
    core.start()
    assert core.request("import", document=SLOW)[0] == b"200"
    core.request("run", name="slow")
    wait_value(tree, "/scenario/slow/state", "running")
    wait_until(lambda: value(tree, RECORD) is not None, what="the run's record")
    before = commits(core)

    assert core.request("delete", name="slow") == (
        b"200",
        {"name": "slow", "state": "deleted"},
    )

    assert commits(core) - before == 1
    assert scenario_keys(core) == []
    assert ScenarioStore(core.store).load() == ([], [])


def test_the_same_text_imported_again_after_a_delete_takes_up_no_old_run(
    core: Core, tree: CloneClient
) -> None:
    core.start()
    core.request("import", document=SLOW)
    run_slow(core, tree)
    core.request("delete", name="slow")
    assert core.request("import", document=SLOW)[0] == b"200"
    core.stop()

    core.start()

    got = core.request("get", name="slow")[1]
    assert (got["state"], got["runs"], got["last_error"]) == ("idle", 0, None)
    assert value(tree, RECORD) is None


def test_a_save_that_only_adds_enabled_stores_text_and_record_in_one_commit(
    core: Core, tree: CloneClient
) -> None:
    core.start()
    core.request("import", document=SLOW)
    run_slow(core, tree)
    before = commits(core)
    saved = SLOW.replace("triggers:", "enabled: true\ntriggers:")

    assert core.request("import", document=saved, replace=True) == (
        b"200",
        {"name": "slow", "replaced": True, "same_scenario": True},
    )

    wait_until(lambda: record_version(core) == fingerprint(saved), what="the record")
    assert commits(core) - before == 1
    assert ScenarioStore(core.store).load()[0][0].code == saved


@pytest.mark.parametrize(
    "how",
    [
        pytest.param({"action": "disable", "name": "slow"}, id="disable"),
        pytest.param(
            {
                "action": "import",
                "document": SLOW.replace("triggers:", "enabled: false\ntriggers:"),
                "replace": True,
            },
            id="save-with-enabled-false",
        ),
    ],
)
def test_a_disable_stores_the_flag_and_deletes_the_record_in_one_commit(
    core: Core, tree: CloneClient, how: dict[str, JsonValue]
) -> None:
    core.start()
    core.request("import", document=SLOW)
    run_slow(core, tree)
    before = commits(core)

    assert core.request(**how)[0] == b"200"  # type: ignore[arg-type]  # JSON fields

    assert commits(core) - before == 1
    assert record_version(core) is None
    stored = ScenarioStore(core.store).load()[0][0]
    assert (stored.enabled, stored.code) == (False, how.get("document", SLOW))
    got = core.request("get", name="slow")[1]
    assert (got["state"], got["last_error"]) == ("disabled", None)


def test_a_delete_that_cannot_be_stored_leaves_the_scenario_running(
    core: Core, tree: CloneClient
) -> None:
    """Its actor had stopped: it starts again, the run it ended said lost."""
    core.start()
    core.request("import", document=SLOW)
    run_slow(core, tree)
    core.server.ref.stop(block=True, timeout=15)  # no transaction can be made

    status, reply = core.request("delete", name="slow")

    assert (status, reply["error"].startswith("scenario slow was not deleted: ")) == (
        b"500",
        True,
    )
    got = core.request("get", name="slow")[1]
    lost = FAILED_RUN_ERROR.format(change="delete")
    assert (got["state"], got["last_error"]) == ("idle", lost)
    assert ScenarioStore(core.store).load()[0][0].code == SLOW


@pytest.mark.parametrize(
    ("action", "done"), [("delete", "deleted"), ("disable", "disabled")]
)
def test_a_write_the_store_never_took_in_time_says_it_was_not_done(
    core: Core,
    tree: CloneClient,
    monkeypatch: pytest.MonkeyPatch,
    action: str,
    done: str,
) -> None:
    """Its commit cancelled, nothing of it is ever stored: not "may not have
    been" (with nothing_stored missing), which `raspy scenario import` and a
    user read as a write that may still land."""
    core.start()
    core.request("import", document=SLOW)
    run_slow(core, tree)
    release = threading.Event()
    original = CloneServerActor._handed_on

    def held(actor: CloneServerActor, message: object) -> object:
        if isinstance(message, msgs.CommitAlong):
            release.wait(10)  # a busy mailbox: not taken before the ask's end
        return original(actor, message)

    monkeypatch.setattr(CloneServerActor, "_handed_on", held)
    monkeypatch.setattr(server_mod, "_ALONG_ASK_S", 0.2)
    try:
        status, reply = core.request(action, name="slow")
    finally:
        release.set()

    assert (status, reply) == (
        b"500",
        {
            "error": f"scenario slow was not {done}: a part of the hub did not"
            " take the write in time (see the log)",
            "nothing_stored": True,
        },
    )
    stored = ScenarioStore(core.store).load()[0][0]
    assert (stored.enabled, stored.code) == (True, SLOW)


@pytest.mark.parametrize(
    ("how", "said"),
    [
        pytest.param(
            {"action": "disable", "name": "slow"},
            "scenario slow was not disabled: a part of the hub stopped",
            id="disable",
        ),
        pytest.param(
            {
                "action": "import",
                "document": SLOW.replace("triggers:", "enabled: false\ntriggers:"),
                "replace": True,
            },
            "scenario slow was not stored: a part of the hub stopped",
            id="save-with-enabled-false",
        ),
    ],
)
def test_a_disable_that_cannot_be_stored_says_so_and_leaves_it_enabled(
    core: Core, tree: CloneClient, how: dict[str, JsonValue], said: str
) -> None:
    """Not an 'internal error: ActorDeadError' with a traceback in the log: the
    reply names the scenario and what was not done; the flag stays stored as on."""
    core.start()
    core.request("import", document=SLOW)
    run_slow(core, tree)
    core.server.ref.stop(block=True, timeout=15)  # no transaction can be made

    status, reply = core.request(**how)  # type: ignore[arg-type]  # JSON fields

    assert (status, reply["error"].startswith(said)) == (b"500", True), reply
    stored = ScenarioStore(core.store).load()[0][0]
    assert (stored.enabled, stored.code) == (True, SLOW)
    assert core.request("get", name="slow")[1]["enabled"] is True


@pytest.mark.parametrize("running", [True, False], ids=["a-run-cut", "idle"])
def test_a_runaway_disable_that_cannot_be_stored_keeps_no_guard_reason(
    core: Core, tree: CloneClient, running: bool
) -> None:
    """The scenario runs on: its state is not the guard's `disabled`, nor its
    error the guard's reason (only a run its stop cut short is said lost)."""
    ref = core.start()
    core.request("import", document=SLOW)
    if running:
        run_slow(core, tree)
    core.server.ref.stop(block=True, timeout=15)  # no transaction can be made
    current = ref.proxy().entries.get()["slow"].ref

    with capture_logs() as logs:
        ref.tell(RunawayDisabled("slow", "runaway: now", current))
        got = core.request("get", name="slow")[1]

    lost = FAILED_RUN_ERROR.format(change="disable") if running else None
    assert (got["enabled"], got["state"], got["last_error"]) == (True, "idle", lost)
    said = [e["event"] for e in logs if e["log_level"] in ("error", "critical")]
    # one line, not the core's failed message with its traceback
    assert "core_message_failed" not in said
    assert "scenario_runaway_disable_failed" in said
    assert core.stats.get("core.errors") == 0


def test_a_record_written_after_a_text_that_was_not_stored_names_the_stored_text(
    core: Core, tree: CloneClient
) -> None:
    """NewText whose store fails: the actor's record of runs goes on naming the
    stored text (it named the unstored one until the core's next NewText, and a
    kill meanwhile lost those runs)."""
    ref = core.start()
    queued = SLOW.replace("triggers:", "mode: queued\ntriggers:")
    core.request("import", document=queued)
    run_slow(core, tree)
    actor = ref.proxy().entries.get()["slow"].ref

    def failing(entries: Sequence[tuple[bytes, bytes]]) -> None:
        raise StoreError("no room")

    answer = actor.ask(NewText("unstored", store=failing), timeout=5)
    assert answer == TextStored("no room")
    core.request("run", name="slow")  # queued: the record counts it, written again

    wait_until(lambda: record(core).get("lost") == 1, what="the record again")
    assert record_version(core) == fingerprint(queued)


def test_a_save_that_only_adds_enabled_not_stored_says_which_scenario_and_why(
    core: Core, tree: CloneClient
) -> None:
    """Worded as every action's write not done (store_failure.not_done), not as the
    Clone server's pykka reference `<ActorRef ...> not found`; its run goes on."""
    core.start()
    core.request("import", document=SLOW)
    run_slow(core, tree)
    core.server.ref.stop(block=True, timeout=15)  # no transaction can be made
    saved = SLOW.replace("triggers:", "enabled: true\ntriggers:")

    status, reply = core.request("import", document=saved, replace=True)

    assert (status, reply) == (
        b"500",
        {
            "error": "scenario slow was not stored: a part of the hub stopped"
            " (see the log)",
            "nothing_stored": True,
        },
    )
    got = core.request("get", name="slow")[1]
    assert (got["state"], got["document"]) == ("running", SLOW)


def test_a_disable_not_stored_leaves_the_view_with_the_next_fire_key_the_tree_has(
    core: Core, tree: CloneClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A scenario with no time trigger and a `next_fire` key in the tree (left
    by a version before, or a backup restored): a disable deletes it with its
    state; one not stored forgot it in the core's view all the same (its state
    was put back, not that key), so nothing deleted it from the tree after."""
    core.start()
    core.request("import", document=SLOW)
    run_slow(core, tree)
    core.server.publisher.set(FIRE_KEY.encode(), b"null")
    view = core.ref.proxy().tree.get()  # type: ignore[union-attr]
    wait_until(lambda: view.kv_size(FIRE_KEY), what="the key in the core's view")

    def refused(txn: object, ops: Sequence[Op]) -> None:
        if any(op.key == b"scenario.slow.conf" for op in ops):
            raise StoreError("the disk is full")
        apply_ops(txn, ops)  # type: ignore[arg-type]  # a WriteTxn, passed on

    monkeypatch.setattr(store_writes, "apply_ops", refused)  # its import of it

    status, _ = core.request("disable", name="slow")

    assert status == b"500"
    # started again, it is shown as a scenario with no time trigger: no key
    wait_until(lambda: FIRE_KEY not in scenario_keys(core), what="the key deleted")
    assert core.request("get", name="slow")[1]["enabled"] is True
