"""The CoreActor's data (not an actor): CoreLinks, what it talks to, and Entry,
what it holds of one stored scenario."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pykka

from raspy.actors.clone.publisher import ClonePublisher
from raspy.clock import Clock
from raspy.records import frozen
from raspy.stats import Stats
from raspy.storage.scenario_store import StoredScenario
from raspy.storage.store import Store
from raspy.transport.outbox import Outbox

# the scenario engine loads with the first scenario, not at the core's start
if TYPE_CHECKING:
    from raspy.rules import model
    from raspy.rules.engine import Status
    from raspy.rules.model import RandomSource


@dataclass
class Entry:
    """One stored scenario: its record, what it loaded as, its actor and state."""

    stored: StoredScenario
    scenario: model.Scenario | None  # None: the stored text no longer loads
    status: Status
    ref: pykka.ActorRef[Any] | None = None
    written: dict[str, bytes] = field(default_factory=dict)  # as last published


@frozen
class CoreLinks:
    """What the core talks to; `publisher` is its own (closed when it stops). `rng`
    is the random source of all its scenarios (random(), random waits), passed in
    as the clock is: raspyd's is a `random.Random()`, a test's a seeded one."""

    edge: pykka.ActorRef[Any]
    outbox: Outbox
    publisher: ClonePublisher
    clone: pykka.ActorRef[Any]
    store: Store
    clock: Clock
    stats: Stats
    rng: RandomSource
