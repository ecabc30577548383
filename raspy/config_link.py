"""raspy-poller's link to its hub: the timings of its MDP worker and of its looks at
the hub ([link]), and the checks between them (pure). raspyd leaves the section out
unread (raspy.config.RASPYD_UNUSED): its own workers are in-process.

Two of the keys say what the hub's [broker] says (hub_heartbeat_interval_s,
hub_heartbeat_liveness): the two configs live on two machines, and the board can
only check its timings against what it is told of the hub's."""

from __future__ import annotations

from typing import Any

from raspy.config_bounds import BOUNDS
from raspy.errors import shown
from raspy.records import frozen


@frozen
class LinkConfig:
    """raspy-poller's link to its hub (raspyd ignores this section, unchecked: the
    board's raspy-poller names its problems at its start). The board takes
    its hub for lost after heartbeat_interval_s x heartbeat_liveness without a word
    from it, which must span two of the hub's heartbeats (its [broker]
    heartbeat_interval_s); the hub gives the board up after its own [broker]
    heartbeat_interval_s x heartbeat_liveness, which must span two of the board's.
    A board on a flaky network: a larger heartbeat_liveness; a wired one that must
    notice a lost hub sooner: a smaller one, with a hub that heartbeats faster."""

    # seconds between this board's heartbeats to the hub (0.1..60; at most half of
    # hub_heartbeat_interval_s x hub_heartbeat_liveness, or the hub gives the board
    # up between two of them)
    heartbeat_interval_s: float = 2.5
    # heartbeat intervals without a word from the hub before the board takes it for
    # lost and connects again (1..1000; with heartbeat_interval_s, at least twice
    # hub_heartbeat_interval_s)
    heartbeat_liveness: int = 3
    # seconds before the first new connection after the hub was lost; each further
    # one waits twice as long, up to reconnect_max_s (0.1..3600)
    reconnect_initial_s: float = 2.5
    # seconds between new connections at most while the hub stays away
    # (reconnect_initial_s..3600)
    reconnect_max_s: float = 32.0
    # seconds between two looks at the hub (its keys taken, this board's name not
    # served by a twin), each 0.75..1.25 times this (1..86400); shorter, and two
    # twins more often both stop, each seeing the other before it has gone
    hub_check_every_s: float = 15.0
    # seconds a look at the hub waits for its answer (0.1..60)
    hub_check_timeout_s: float = 3.0
    # the hub's [broker] heartbeat_interval_s, as set there (0.1..3.75)
    hub_heartbeat_interval_s: float = 2.5
    # the hub's [broker] heartbeat_liveness, as set there (1..1000): a worker of
    # this board's service that the hub still counts after
    # hub_heartbeat_interval_s x this (and one heartbeat_interval_s more) is a twin
    hub_heartbeat_liveness: int = 3

    @property
    def silence_s(self) -> float:
        """How long the board waits for a word from the hub before it reconnects."""
        return self.heartbeat_interval_s * self.heartbeat_liveness

    @property
    def hub_silence_s(self) -> float:
        """How long the hub keeps a silent worker of this board."""
        return self.hub_heartbeat_interval_s * self.hub_heartbeat_liveness

    @property
    def worker_expiry_s(self) -> float:
        """How long a worker of ours that lost its connection (or of a board killed a
        moment ago) may still be counted by the hub: its silence, a heartbeat more."""
        return self.hub_silence_s + self.heartbeat_interval_s


def link_problems(link: LinkConfig, source: str) -> list[str]:
    """The [link] timings that cannot work together (each key already in bounds)."""
    problems = []
    if link.reconnect_max_s < link.reconnect_initial_s:
        problems.append(
            f"{source}: link.reconnect_max_s: expected >= reconnect_initial_s "
            f"({link.reconnect_initial_s}), got {link.reconnect_max_s}"
        )
    if link.silence_s < 2 * link.hub_heartbeat_interval_s:
        # the board took a live hub for lost between two of its heartbeats, and
        # connected again for ever
        problems.append(
            f"{source}: link.heartbeat_interval_s x heartbeat_liveness: expected >= "
            f"2 x hub_heartbeat_interval_s ({_seconds(2 * link.hub_heartbeat_interval_s)}"
            f" s: two of the hub's heartbeats), got {shown(link.heartbeat_interval_s)}"
            f" x {link.heartbeat_liveness}"
        )
    if link.hub_silence_s < 2 * link.heartbeat_interval_s:
        # the hub gave the live board up between two of its heartbeats
        problems.append(
            f"{source}: link.heartbeat_interval_s: expected <= hub_heartbeat_interval_s"
            f" x hub_heartbeat_liveness / 2 ({_seconds(link.hub_silence_s / 2)} s: the"
            f" hub gives a board up after two of its heartbeats are missing), got "
            f"{shown(link.heartbeat_interval_s)}"
        )
    return problems


def _seconds(value: float) -> str:
    return f"{value:g}"


def link_section_problems(sections: dict[str, Any], source: str) -> list[str]:
    """link_problems of the [link] section, if the file has one and each of its keys
    is in its bounds (one out of them is named by raspy.config_bounds already)."""
    link = sections.get("link")
    if link is None:
        return []
    for key, bound in BOUNDS.items():
        section, _, field = key.partition(".")
        if section == "link" and not bound.allows(getattr(link, field)):
            return []
    return link_problems(link, source)
