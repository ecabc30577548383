"""An import of several documents ("documents": the files of one `raspy scenario
import`) is all or nothing on a real core: every document is checked before any is
stored, a refusal only the hub makes (a sun trigger on a hub with no place) refuses
them all, naming the document, and the texts are stored in ONE commit; only then are
their actors started, replaced, or told their new text."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import pytest
import zmq
from support.clonesrv import clone_server
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
)
from support.wait import wait_until

from raspy.actors import messages as msgs
from raspy.actors.clone import server as server_mod
from raspy.actors.core.scenario_set import FAILED_RUN_ERROR
from raspy.actors.core.service_imports import REPLACED_RUN_ERROR
from raspy.client.clone import CloneClient
from raspy.devices.template import JsonValue
from raspy.errors import StoreError
from raspy.rules.resume_record import fingerprint
from raspy.storage import store_writes
from raspy.storage.ops import Op, Put, apply_ops
from raspy.storage.scenario_records import PREFIX
from raspy.storage.scenario_store import ScenarioStore
from raspy.storage.tables import Table

pytestmark = pytest.mark.timeout(60)


def _doc(name: str, trigger: str = "{startup: true}") -> str:
    return f"name: {name}\ntriggers: [{trigger}]\nactions: [{{log: {name}}}]\n"


def _documents(*texts: str) -> list[JsonValue]:
    return [{"document": t, "source": f"file{i}.yaml"} for i, t in enumerate(texts)]


def _stored(core: Core) -> list[str]:
    return sorted(record.name for record in ScenarioStore(core.store).load()[0])


def test_a_sun_trigger_in_the_third_refuses_all_three_and_names_it(
    core: Core,
) -> None:
    core.start()
    before = commits(core)
    third = _doc("dusk", "{sun: sunset}")

    status, reply = core.request(
        "import", documents=_documents(_doc("one"), _doc("two"), third)
    )

    assert (status, reply["index"]) == (b"400", 2)
    assert reply["error"] == "file2.yaml: not a valid scenario"
    assert reply["problems"] == [
        "file2.yaml:2:18: triggers[0].sun: a sun trigger needs [core] latitude and "
        "longitude in raspyd's config: set them, then restart raspyd"
    ]
    assert _stored(core) == []
    assert core.request("list") == (b"200", [])
    assert commits(core) == before


def test_three_good_documents_are_stored_in_one_commit_and_all_run(
    core: Core, tree: CloneClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    core.start()
    commits = _scenario_commits(core, monkeypatch)
    # `run: two` names one imported along with it: no warning
    one = "name: one\ntriggers: [{startup: true}]\nactions: [{run: two}]\n"

    status, reply = core.request(
        "import", documents=_documents(one, _doc("two"), _doc("three"))
    )

    assert (status, reply) == (
        b"200",
        {
            "documents": [
                {"name": "one", "replaced": False},
                {"name": "two", "replaced": False},
                {"name": "three", "replaced": False},
            ]
        },
    )
    assert commits == [["one", "three", "two"]]
    for name in ("one", "two", "three"):
        wait_value(tree, f"/scenario/{name}/state", "idle")
    assert _stored(core) == ["one", "three", "two"]


def _scenario_commits(core: Core, monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The scenarios whose texts each commit of the store from now on writes
    (commits of no scenario text, a scenario's state keys, left out)."""
    commits: list[list[str]] = []
    commit = core.store.commit

    def counted(ops: Sequence[Op]) -> None:
        names = sorted(
            op.key.decode().removeprefix(PREFIX.decode()).removesuffix(".code")
            for op in ops
            if isinstance(op, Put)
            and op.table is Table.SCENARIO
            and op.key.endswith(b".code")
        )
        if names:
            commits.append(names)
        commit(ops)

    monkeypatch.setattr(core.store, "commit", counted)
    return commits


def test_a_name_two_documents_take_refuses_both_naming_the_second(
    core: Core,
) -> None:
    core.start()

    status, reply = core.request(
        "import", documents=_documents(_doc("one"), _doc("one"))
    )

    assert (status, reply["index"]) == (b"400", 1)
    assert reply["problems"] == ["file1.yaml:1:7: name: 'one' is also in file0.yaml"]
    assert _stored(core) == []


def test_a_stored_name_without_replace_refuses_all(core: Core) -> None:
    core.start()
    assert core.request("import", document=_doc("two"))[0] == b"200"

    status, reply = core.request(
        "import", documents=_documents(_doc("one"), _doc("two"))
    )

    assert (status, reply["index"]) == (b"400", 1)
    assert reply["problems"] == ["file1.yaml:1:7: name: 'two' is already stored"]
    assert _stored(core) == ["two"]


def test_a_replace_of_three_ends_the_long_wait_of_the_one_changed(
    core: Core, tree: CloneClient
) -> None:
    core.start()
    core.request("import", document=SLOW)
    core.request("import", document=_doc("two"))
    run_slow(core, tree)
    changed = SLOW.replace("wait: 1h", "wait: 2h")

    status, reply = core.request(
        "import",
        documents=_documents(changed, _doc("two"), _doc("three")),
        replace=True,
    )

    assert (status, reply) == (
        b"200",
        {
            "documents": [
                {"name": "slow", "replaced": True},
                {"name": "two", "replaced": True, "unchanged": True},
                {"name": "three", "replaced": False},
            ]
        },
    )
    got = core.request("get", name="slow")[1]
    assert (got["state"], got["last_error"]) == ("idle", REPLACED_RUN_ERROR)
    assert ScenarioStore(core.store).load()[0][0].code == changed
    wait_until(lambda: value(tree, RECORD) is None, what="the record gone")


def test_a_replace_of_three_keeps_the_long_wait_of_one_whose_enabled_line_alone_changed(
    core: Core, tree: CloneClient
) -> None:
    core.start()
    core.request("import", document=SLOW)
    run_slow(core, tree)
    saved = SLOW.replace("triggers:", "enabled: true\ntriggers:")

    status, reply = core.request(
        "import", documents=_documents(saved, _doc("two")), replace=True
    )

    assert (status, reply["documents"][0]) == (
        b"200",
        {"name": "slow", "replaced": True, "same_scenario": True},
    )
    wait_until(lambda: record_version(core) == fingerprint(saved), what="the record")
    assert core.request("get", name="slow")[1]["state"] == "running"
    codes = {r.name: r.code for r in ScenarioStore(core.store).load()[0]}
    assert codes == {"slow": saved, "two": _doc("two")}


def test_a_replace_of_two_whose_enabled_false_disables_one_ends_its_wait_quietly(
    core: Core, tree: CloneClient
) -> None:
    core.start()
    core.request("import", document=SLOW)
    run_slow(core, tree)
    saved = SLOW.replace("triggers:", "enabled: false\ntriggers:")

    status, reply = core.request(
        "import", documents=_documents(saved, _doc("two")), replace=True
    )

    assert (status, reply["documents"][0]) == (
        b"200",
        {"name": "slow", "replaced": True},
    )
    got = core.request("get", name="slow")[1]
    assert (got["state"], got["last_error"]) == ("disabled", None)
    assert record_version(core) is None
    stored = {r.name: (r.enabled, r.code) for r in ScenarioStore(core.store).load()[0]}
    assert stored == {"slow": (False, saved), "two": (True, _doc("two"))}


def test_a_disable_among_the_documents_is_in_the_texts_one_commit(
    core: Core, tree: CloneClient
) -> None:
    """Its record of runs in a long wait deleted, its state keys `disabled`, in
    the commit of the texts: as two, a kill between them left the record of a
    disabled scenario, and the next start named its run lost."""
    core.start()
    core.request("import", document=SLOW)
    core.request("import", document=_doc("two"))
    run_slow(core, tree)
    saved = SLOW.replace("triggers:", "enabled: false\ntriggers:")
    before = commits(core)

    status, _ = core.request(
        "import", documents=_documents(saved, _doc("two")), replace=True
    )

    assert status == b"200"
    assert commits(core) - before == 1
    assert record_version(core) is None
    # the TCP client's copy follows the commit: not always in before the reply
    wait_value(tree, "/scenario/slow/state", "disabled")


def test_documents_whose_commit_fails_store_none_and_a_disabled_one_runs_again(
    core: Core, tree: CloneClient
) -> None:
    core.start()
    core.request("import", document=SLOW)
    run_slow(core, tree)
    saved = SLOW.replace("triggers:", "enabled: false\ntriggers:")
    core.server.ref.stop(block=True, timeout=15)  # no transaction can be made

    status, reply = core.request(
        "import", documents=_documents(saved, _doc("two")), replace=True
    )

    assert (status, reply) == (
        b"500",
        {
            "error": "scenarios slow and two were not stored: a part of the hub"
            " stopped (see the log)",
            "nothing_stored": True,
        },
    )
    got = core.request("get", name="slow")[1]
    assert (got["state"], got["last_error"]) == (
        "idle",
        FAILED_RUN_ERROR.format(change="disable"),
    )
    stored = {r.name: (r.enabled, r.code) for r in ScenarioStore(core.store).load()[0]}
    assert stored == {"slow": (True, SLOW)}
    assert core.request("get", name="two")[0] == b"404"


def _killed_after_the_texts(monkeypatch: pytest.MonkeyPatch) -> None:
    """From the commit that stores slow's text on, every other transaction fails
    (raspyd killed just after it): nothing more of the hub reaches the store."""
    committed: list[bool] = []

    def killed(txn: object, ops: Sequence[Op]) -> None:
        if committed:
            raise StoreError("raspyd was killed")
        if any(op.key == b"scenario.slow.code" for op in ops):
            committed.append(True)
        apply_ops(txn, ops)  # type: ignore[arg-type]  # a WriteTxn, passed on

    monkeypatch.setattr(store_writes, "apply_ops", killed)  # its import of it


def test_a_kill_after_the_commit_of_several_keeps_the_waiting_run_of_one_restated(
    core: Core,
    tree: CloneClient,
    zmq_context: zmq.Context[zmq.Socket[bytes]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The record of its runs in a long wait, which names its text's fingerprint,
    is in the commit of the texts: written after it, a kill between the two left
    a record naming the text before, and the next start named the run lost."""
    core.start()
    core.request("import", document=SLOW)
    run_slow(core, tree)
    saved = SLOW.replace("triggers:", "enabled: true\ntriggers:")
    _killed_after_the_texts(monkeypatch)

    status, _ = core.request(
        "import", documents=_documents(saved, _doc("two")), replace=True
    )

    assert status == b"200"
    actor = core.ref.proxy().entries.get()["slow"].ref  # type: ignore[union-attr]
    actor.ask(msgs.Tick(), timeout=5)  # its NewText taken, and any write it sent
    core.stop()
    core.server.ref.stop(block=True, timeout=15)
    monkeypatch.undo()  # the store as the killed hub left it
    with clone_server(zmq_context, core.store, core.clock) as started:
        core.server = started
        core.start()
        got = core.request("get", name="slow")[1]
        core.stop()
    assert (got["state"], got["last_error"], got["document"]) == (
        "running",
        None,
        saved,
    )


def test_a_restate_and_a_disable_among_the_documents_are_one_commit(
    core: Core, tree: CloneClient
) -> None:
    """The disabled one's record deleted, the restated one's written under its
    new text, with the texts: the disable's stop and the restate's hand-over
    wait on no one."""
    core.start()
    other = SLOW.replace("slow", "other")
    core.request("import", document=SLOW)
    core.request("import", document=other)
    run_slow(core, tree)
    core.request("run", name="other")
    wait_until(lambda: value(tree, "/scenario/other/resume"), what="other's record")
    saved = SLOW.replace("triggers:", "enabled: true\ntriggers:")
    off = other.replace("triggers:", "enabled: false\ntriggers:")
    before = commits(core)

    status, _ = core.request("import", documents=_documents(saved, off), replace=True)

    assert status == b"200"
    assert commits(core) - before == 1
    assert record_version(core) == fingerprint(saved)
    assert value(tree, "/scenario/other/resume") is None
    assert core.request("get", name="slow")[1]["state"] == "running"


def test_a_restate_among_documents_not_stored_keeps_its_record_on_the_stored_text(
    core: Core, tree: CloneClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its actor, which handed its record under the new text, names the stored
    one again: a kill later would not lose its runs."""
    core.start()
    queued = SLOW.replace("triggers:", "mode: queued\ntriggers:")
    core.request("import", document=queued)
    run_slow(core, tree)
    saved = queued.replace("triggers:", "enabled: true\ntriggers:")

    def refused(txn: object, ops: Sequence[Op]) -> None:
        if any(op.key == b"scenario.slow.code" for op in ops):
            raise StoreError("the disk is full")
        apply_ops(txn, ops)  # type: ignore[arg-type]  # a WriteTxn, passed on

    monkeypatch.setattr(store_writes, "apply_ops", refused)  # its import of it

    status, reply = core.request(
        "import", documents=_documents(saved, _doc("two")), replace=True
    )

    assert (status, reply["nothing_stored"]) == (b"500", True)
    core.request("run", name="slow")  # queued: its record counts it, written again
    wait_until(lambda: record(core).get("lost") == 1, what="the record again")
    assert record_version(core) == fingerprint(queued)
    assert ScenarioStore(core.store).load()[0][0].code == queued


def test_documents_whose_commit_is_not_known_to_have_ended_are_taken_as_stored(
    core: Core, tree: CloneClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One commit, all of it landing or none: each document takes effect, as the
    restating actor takes its new text's fingerprint. The core kept the text
    before for the restated one (`get` showed it, and that text imported again
    was `unchanged`, stored nothing, while the store held the new one), and the
    new one was not there."""
    core.start()
    core.request("import", document=SLOW)
    run_slow(core, tree)
    saved = SLOW.replace("triggers:", "enabled: true\ntriggers:")
    release = threading.Event()

    def slow(txn: object, ops: Sequence[Op]) -> None:
        if any(op.key == b"scenario.slow.code" for op in ops):
            release.wait(10)  # a card dying in its sync
        apply_ops(txn, ops)  # type: ignore[arg-type]  # a WriteTxn, passed on

    monkeypatch.setattr(store_writes, "apply_ops", slow)  # its import of it
    monkeypatch.setattr(server_mod, "_TAKEN_WAIT_S", 0.3)
    try:
        status, reply = core.request(
            "import", documents=_documents(saved, _doc("two")), replace=True
        )
    finally:
        release.set()

    assert (status, reply["error"].startswith("it is not known whether")) == (
        b"500",
        True,
    )
    got = core.request("get", name="slow")[1]
    assert (got["state"], got["document"]) == ("running", saved)
    assert core.request("get", name="two")[0] == b"200"
    wait_until(lambda: _stored(core) == ["slow", "two"], what="the write landed")


def test_a_restate_waits_for_a_slow_commit_and_takes_its_failure(
    core: Core, tree: CloneClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The commit the restating actor waits for ends late (other hands, stops, a
    slow card), refused: the actor's record names the stored text again, as the
    import answers "not stored". With a wait of its own, ended first, the actor
    took the new text as maybe stored, and a kill later lost its runs."""
    core.start()
    queued = SLOW.replace("triggers:", "mode: queued\ntriggers:")
    core.request("import", document=queued)
    run_slow(core, tree)
    saved = queued.replace("triggers:", "enabled: true\ntriggers:")

    def slow_then_refused(txn: object, ops: Sequence[Op]) -> None:
        if any(op.key == b"scenario.slow.code" for op in ops):
            threading.Event().wait(1.0)  # a slow card
            raise StoreError("the disk is full")
        apply_ops(txn, ops)  # type: ignore[arg-type]  # a WriteTxn, passed on

    monkeypatch.setattr(store_writes, "apply_ops", slow_then_refused)

    status, reply = core.request(
        "import", documents=_documents(saved, _doc("two")), replace=True
    )

    assert (status, reply["nothing_stored"]) == (b"500", True)
    core.request("run", name="slow")  # queued: its record counts it, written again
    wait_until(lambda: record(core).get("lost") == 1, what="the record again")
    assert record_version(core) == fingerprint(queued)
