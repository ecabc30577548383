"""The core in raspyd: the supervisor's one call (start_core) and the core's timezone.

Kept apart from the actors so that supervision code needs only this module.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pykka

from raspy.actors.core import CoreActor, CoreLinks
from raspy.actors.cron import start_cron
from raspy.config import CoreConfig

if TYPE_CHECKING:
    from raspy.actors.supervisor import Runtime

_CHILDREN: Final = ("core", "cron")  # the supervisor's names of what start_core starts


def core_zone(config: CoreConfig) -> ZoneInfo:
    """[core] timezone, else this machine's zone (/etc/timezone, /etc/localtime), else UTC."""
    if config.timezone:
        return ZoneInfo(config.timezone)
    candidates: list[str] = []
    with contextlib.suppress(OSError, UnicodeError):
        candidates.append(Path("/etc/timezone").read_text("utf-8").strip())
    link = os.path.realpath("/etc/localtime")
    if "/zoneinfo/" in link:
        candidates.append(link.split("/zoneinfo/", 1)[1])
    for name in candidates:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            continue
    return ZoneInfo("UTC")


def start_core(rt: Runtime) -> None:
    """(Re)start the core and the cron service under the supervisor, after the Clone
    server and the device services: they use that publisher and Clone server, so a
    new Clone server means a new core and cron."""
    rt.stop_children(lambda name: name in _CHILDREN)
    if not rt.config.core.enabled or rt.publisher is None:
        return

    def start() -> pykka.ActorRef[Any]:
        clone = next(c.ref for c in rt.children if c.name == "clone")
        assert clone is not None
        assert rt.publisher is not None
        links = CoreLinks(
            rt.edge, rt.outbox, rt.publisher, clone, rt.store, rt.clock, rt.stats
        )
        return CoreActor.start(
            rt.hostname, rt.config.core, core_zone(rt.config.core), links
        )

    def start_cron_service() -> pykka.ActorRef[Any]:
        assert rt.publisher is not None
        return start_cron(
            edge=rt.edge,
            outbox=rt.outbox,
            store=rt.store,
            publisher=rt.publisher,
            hostname=rt.hostname,
            tz=core_zone(rt.config.core),
            clock=rt.clock,
            stats=rt.stats,
        )

    rt.add_child("core", start)
    rt.add_child("cron", start_cron_service)
