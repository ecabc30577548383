"""A change of one scenario whose transaction the store has not ended (a slow card:
StoreOutcomeUnknown, it may land) is taken as done, as an import of several takes
its documents: the scenario it stopped stays stopped, and the core's view says
what the store will hold once it lands, not what it held before. Its reply says
it is not known whether it was done."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence

import pytest
from structlog.testing import capture_logs
from support.core_actors import (
    Core,
    core_fixture,  # noqa: F401  # fixture `core`
    tree_fixture,  # noqa: F401  # fixture `tree`
)
from support.long_wait import SLOW, run_slow
from support.wait import wait_until

from raspy.actors.clone import server as server_mod
from raspy.actors.scenario_messages import RunawayDisabled
from raspy.client.clone import CloneClient
from raspy.storage import store_writes
from raspy.storage.ops import Op, apply_ops
from raspy.storage.scenario_store import ScenarioStore

pytestmark = pytest.mark.timeout(60)
OFF = SLOW.replace("triggers:", "enabled: false\ntriggers:")


class _Card:
    """A card that holds every write of slow's records, once told to, until
    released (on the way out, whatever the test did), past a short wait of the
    Clone server's."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self._monkeypatch = monkeypatch
        self.released = threading.Event()

    def hold(self) -> None:
        released = self.released

        def slow(txn: object, ops: Sequence[Op]) -> None:
            if any(op.key.startswith(b"scenario.slow.") for op in ops):
                released.wait(10)  # a card dying in its sync
            apply_ops(txn, ops)  # type: ignore[arg-type]  # a WriteTxn, passed on

        self._monkeypatch.setattr(store_writes, "apply_ops", slow)
        self._monkeypatch.setattr(server_mod, "_TAKEN_WAIT_S", 0.3)


@pytest.fixture(name="card")
def card_fixture(monkeypatch: pytest.MonkeyPatch) -> Iterator[_Card]:
    card = _Card(monkeypatch)
    yield card
    card.released.set()


def _not_known(core: Core, **how: object) -> None:
    """Ask `how` and check its 500 says it is not known whether it was done."""
    status, reply = core.request(**how)  # type: ignore[arg-type]  # JSON fields
    assert (status, reply["error"].startswith("it is not known whether")) == (
        b"500",
        True,
    ), reply


@pytest.mark.parametrize(
    "how",
    [
        {"action": "import", "document": OFF, "replace": True},
        {"action": "disable", "name": "slow"},
    ],
    ids=["import-of-one", "disable"],
)
def test_a_disable_not_known_to_have_ended_is_taken_as_stored(
    core: Core, tree: CloneClient, card: _Card, how: dict[str, object]
) -> None:
    """The core kept the flag on (and an import's text before): `get` showed a
    stopped scenario enabled, and the text before imported again was
    `unchanged` and stored nothing while the store held the new one."""
    core.start()
    core.request("import", document=SLOW)
    run_slow(core, tree)
    card.hold()
    want = OFF if how["action"] == "import" else SLOW

    _not_known(core, **how)
    card.released.set()

    got = core.request("get", name="slow")[1]
    assert (got["state"], got["enabled"], got["document"]) == ("disabled", False, want)
    wait_until(
        lambda: ScenarioStore(core.store).load()[0][0].enabled is False,
        what="the write landed",
    )
    status, reply = core.request("import", document=SLOW, replace=True)
    assert (status, "unchanged" in reply) == (b"200", how["action"] == "disable")
    stored = ScenarioStore(core.store).load()[0][0]
    assert (stored.code, stored.enabled) == (SLOW, False)


def test_a_delete_not_known_to_have_ended_is_taken_as_done(
    core: Core, tree: CloneClient, card: _Card
) -> None:
    """The core kept the scenario without its actor: listed idle and enabled,
    while the store would not hold it once the delete landed."""
    ref = core.start()
    core.request("import", document=SLOW)
    run_slow(core, tree)
    card.hold()

    _not_known(core, action="delete", name="slow")
    # out of the core's view too, while the store still has the write: one
    # imported again under the name took up the old one's counters and error
    # from the keys left there
    assert ref.proxy().tree.get().kv_size("/scenario/slow/state") == 0
    card.released.set()

    assert core.request("get", name="slow")[0] == b"404"
    assert core.request("list")[1] == []
    wait_until(lambda: ScenarioStore(core.store).load()[0] == [], what="the delete")
    assert core.request("import", document=SLOW)[0] == b"200"  # no `replace` needed


def test_a_runaway_disable_not_known_to_have_ended_says_the_scenario_stays_stopped(
    core: Core, tree: CloneClient, card: _Card
) -> None:
    """Not `scenario_runaway_disable_failed`, which says it runs on: it is
    stopped, its disable taken as stored."""
    ref = core.start()
    core.request("import", document=SLOW)
    run_slow(core, tree)
    card.hold()
    current = ref.proxy().entries.get()["slow"].ref

    with capture_logs() as logs:
        ref.tell(RunawayDisabled("slow", "runaway: now", current))
        got = core.request("get", name="slow")[1]
    card.released.set()

    assert (got["enabled"], got["state"], got["last_error"]) == (
        False,
        "disabled",
        "runaway: now",
    )
    said = [e["event"] for e in logs if e["log_level"] in ("error", "critical")]
    assert "scenario_runaway_disable_unknown" in said
    assert "scenario_runaway_disable_failed" not in said
    assert core.stats.get("core.errors") == 0
