"""The core in raspyd: the supervisor's one call (start_core) and the core's timezone.

Kept apart from the actors so that supervision code needs only this module.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final
from zoneinfo import ZoneInfo

import pykka

from raspy.actors import messages as msgs
from raspy.actors.clone.publisher import ClonePublisher
from raspy.actors.core import CoreActor, CoreLinks
from raspy.actors.cron import start_cron
from raspy.config import CoreConfig
from raspy.hang_watch import Inner
from raspy.machine_zone import machine_zone
from raspy.rules.clock_steps import ClockSteps
from raspy.secrets_file import SecretsFile, secrets_path
from raspy.transport.outbox import Outbox

if TYPE_CHECKING:
    from raspy.actors.supervisor import Runtime

_CHILDREN: Final = ("core", "cron")  # the supervisor's names of what start_core starts


def core_zone(config: CoreConfig) -> ZoneInfo:
    """[core] timezone, else this machine's zone (raspy.machine_zone), else UTC."""
    if config.timezone:
        return ZoneInfo(config.timezone)
    return machine_zone() or ZoneInfo("UTC")


@dataclass
class _Start:
    """The supervisor's start callable for the core or cron, bound to one Clone
    server, with a publisher of its own on that server (rt.publisher belongs to the
    device services and is replaced whenever they are)."""

    rt: Runtime
    name: str
    clone: pykka.ActorRef[Any]
    publisher: ClonePublisher
    steps: ClockSteps  # the core's and cron's both: a clock step is logged once
    # read once for both: a restart of one of them after the machine's zone changed
    # must not put the scenarios and cron in two zones
    tz: ZoneInfo

    def __call__(self) -> pykka.ActorRef[Any]:
        rt = self.rt
        tz = self.tz
        if self.name == "cron":
            return start_cron(
                edge=rt.edge,
                outbox=rt.outbox,
                store=rt.store,
                publisher=self.publisher,
                hostname=rt.hostname,
                tz=tz,
                clock=rt.clock,
                stats=rt.stats,
                steps=self.steps,
                fires=rt.cron_fires,
                clone=self.clone,
            )
        links = CoreLinks(
            rt.edge,
            rt.outbox,
            self.publisher,
            self.clone,
            rt.store,
            rt.clock,
            rt.stats,
            # seeded by the OS; not `secrets`: a lamp's random moment needs numbers
            # that change, not numbers nobody could guess (model.RandomSource)
            random.Random(),  # noqa: S311  # no secret is made of it
        )
        ref = CoreActor.start(
            rt.hostname,
            rt.config.core,
            tz,
            links,
            max_value_bytes=rt.config.clone.max_value_bytes,
            max_key_bytes=rt.config.clone.max_key_bytes,
            daemon_start=not rt.core_started,
            steps=self.steps,
            fires=rt.core_fires,
            http_service=rt.config.http_client.enabled,
            secrets=SecretsFile(
                secrets_path(rt.config.data_dir, rt.config.http_client.secrets_file)
            ),
        )
        rt.core_started = True
        return ref


def start_core(rt: Runtime) -> None:
    """Start the core and the cron service, after the Clone server and the device
    services; called again whenever those are restarted. A new Clone server means a
    new core and cron (the subscription and publisher were the old server's); the
    same one leaves them running (a devices reload never stops a scenario's run)."""
    clone = rt.ref_of("clone")
    current = next((c for c in rt.children if c.name == "core"), None)
    if (
        current is not None
        and isinstance(current.start, _Start)
        and current.start.clone is clone
    ):
        return
    rt.stop_children(lambda name: name in _CHILDREN)
    if not rt.config.core.enabled or clone is None:
        return
    publish_outbox = clone.ask(msgs.GetPublishOutbox(), timeout=5)
    assert isinstance(publish_outbox, Outbox)
    tz = rt.zone()
    steps = ClockSteps(tz)
    for name in _CHILDREN:
        publisher = ClonePublisher(publish_outbox, rt.config.clone.max_key_bytes)
        start = _Start(rt, name, clone, publisher, steps, tz)
        # the core's scenario actors are watched with it: one stuck is the core hung
        rt.add_child(name, start, inner_ask=scenarios_ask if name == "core" else None)


def scenarios_ask(ref: pykka.ActorRef[Any]) -> pykka.Future[Inner]:
    """How the core's scenario actors are listed (ChildSet.add's inner_ask), asked
    without waiting: answered once its on_start has run."""
    answer: pykka.Future[Inner] = ref.proxy().scenario_actors()
    return answer
