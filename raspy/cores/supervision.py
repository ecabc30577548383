"""The supervisor's decisions, without threads or actors: when a crashed part is tried
again, when it has crashed too often and is `failed`, and what a reload changes.
Time is passed in; the supervisor (raspy.actors.runtime) observes and acts.

One PartTracker per part. Restarts back off exponentially (raspy.backoff); the delay
only resets once the part has stayed up `stable_s`, so a part that dies right after
each start is tried less and less often, and after `max_restarts` crashes within
`window_s` it is given up (`failed`). Each supervision round asks supervise() about
every part and acts on the Decision it returns. A part that gives no sign of life
for `hung_after_s` (raspy.hang_watch) is `hung`: its thread cannot be stopped or
started again beside it, so raspyd must end (on_hang).
"""

from __future__ import annotations

import dataclasses
import enum
from collections import deque
from collections.abc import Iterable
from typing import Final

from raspy.backoff import Backoff, BackoffPolicy
from raspy.config import Config, SupervisorConfig
from raspy.records import frozen

# Sections a SIGHUP applies at once; every other change waits for a restart.
LIVE_SECTIONS: Final = frozenset({"titanic", "devices"})


class PartState(enum.StrEnum):
    RUNNING = "running"
    RESTARTING = "restarting"  # crashed; the next start is due at `next_try_at`
    FAILED = "failed"  # crashed too often, or a part that cannot be restarted in place
    STOPPED = "stopped"  # stopped on purpose (shutdown, reload)
    HUNG = "hung"  # its thread took no message for hung_after_s: raspyd ends


_DOWN: Final = (PartState.RESTARTING, PartState.FAILED, PartState.HUNG)  # the summary's
_OVER: Final = (PartState.FAILED, PartState.STOPPED, PartState.HUNG)  # for good


@frozen
class RestartPolicy:
    """How a part is restarted; `max_restarts` crashes within `window_s` make it
    failed; one silent for `hung_after_s` is hung, and one in its on_start (a first
    start, a restart's) for `start_bound_s`."""

    backoff: BackoffPolicy
    max_restarts: int = 5
    window_s: float = 300.0
    hung_after_s: float = 60.0
    start_hung_after_s: float = 300.0

    def __post_init__(self) -> None:
        if (
            self.max_restarts < 1
            or self.window_s <= 0
            or self.hung_after_s <= 0
            or self.start_hung_after_s <= 0
        ):
            raise ValueError(
                "restart policy: need max_restarts >= 1, window_s > 0, hung_after_s > 0"
                f" and start_hung_after_s > 0, got {self}"
            )

    @property
    def start_bound_s(self) -> float:
        """How long a start may go unanswered: never less than a running part."""
        return max(self.start_hung_after_s, self.hung_after_s)

    def bound_s(self, in_start: bool) -> float:
        """How long a part may go unanswered: in its start (`in_start`), or running."""
        return self.start_bound_s if in_start else self.hung_after_s


@frozen
class PartStatus:
    """A snapshot of one part, for MMI, statistics, `raspy status` and the log."""

    name: str
    state: PartState
    restarts: int  # successful restarts since raspyd started
    since: float  # monotonic time of the last state change
    reason: str = ""  # why it is restarting or failed
    next_try_at: float | None = None  # None too while held for the previous actor


class PartTracker:
    """The life of one part: running → restarting (backoff) → running … or failed."""

    def __init__(
        self,
        name: str,
        policy: RestartPolicy,
        now: float,
        *,
        restartable: bool = True,
        restarts: int = 0,
        critical: bool = False,
    ) -> None:
        """`restarts`: those of the part this one replaces (the same name), so the
        count goes on since raspyd started. `critical`: raspyd cannot do without it,
        so once it is given up raspyd must end (Failed.fatal)."""
        self.name = name
        self.policy = policy
        self.restartable = restartable
        self.critical = critical
        self._backoff = Backoff(policy.backoff)
        self._crashes: deque[float] = deque()
        self._state = PartState.RUNNING
        self._since = now
        self._reason = ""
        self._next_try_at: float | None = None
        self._held = False  # waiting for the previous actor to stop: every round
        self._restarts = restarts
        self._backoff.succeeded(now)

    @property
    def state(self) -> PartState:
        return self._state

    @property
    def restarts(self) -> int:
        return self._restarts

    @property
    def failures_in_a_row(self) -> int:
        return self._backoff.failures

    def started(self, now: float) -> None:
        """A (re)start succeeded at `now`."""
        if self._state is PartState.RESTARTING:
            self._restarts += 1
        self._set(PartState.RUNNING, now, "")
        self._next_try_at = None
        self._backoff.succeeded(now)

    def starting(self) -> None:
        """A restart's start returned; not yet known to run (restarting, not due)."""
        self._next_try_at = None
        self._held = False

    def crashed(self, now: float, reason: str) -> PartState:
        """The part died, or its start raised; return the state it is in now."""
        if self._state in _OVER:
            return self._state
        self._crashes.append(now)
        while self._crashes and self._crashes[0] < now - self.policy.window_s:
            self._crashes.popleft()
        if not self.restartable:
            self._set(PartState.FAILED, now, f"{reason} (cannot be restarted in place)")
        elif len(self._crashes) > self.policy.max_restarts:
            self._set(
                PartState.FAILED,
                now,
                f"{reason} ({len(self._crashes)} crashes within "
                f"{self.policy.window_s:g} s)",
            )
        else:
            self._next_try_at = self._backoff.failed(now)
            self._set(PartState.RESTARTING, now, reason)
            return self._state
        self._next_try_at = None
        return self._state

    def held(self, now: float, reason: str) -> None:
        """Its start is held: the actor it replaces still runs (its stop timed out).
        Restarting, tried again at each round, and no crash counted: a slow
        stop is not a failed start (one that never ends is on_hang's, previous).
        No next try time: it waits for that stop, which no countdown can say."""
        if self._state is not PartState.RESTARTING or self._reason != reason:
            self._set(PartState.RESTARTING, now, reason)
        self._next_try_at = None
        self._held = True

    def hung(self, now: float, reason: str) -> None:
        """The part's thread took no message for too long: for good (on_hang)."""
        self._set(PartState.HUNG, now, reason)
        self._next_try_at = None

    def stopped(self, now: float) -> None:
        self._set(PartState.STOPPED, now, "")
        self._next_try_at = None

    def due(self, now: float) -> bool:
        """Is a restart due at `now`?"""
        if self._state is not PartState.RESTARTING:
            return False
        return self._held or (
            self._next_try_at is not None and now >= self._next_try_at
        )

    def tick(self, now: float) -> None:
        """Let the backoff reset once the part has stayed up long enough."""
        if self._state is PartState.RUNNING:
            self._backoff.check_stable(now)

    def status(self) -> PartStatus:
        return PartStatus(
            name=self.name,
            state=self._state,
            restarts=self._restarts,
            since=self._since,
            reason=self._reason,
            next_try_at=self._next_try_at,
        )

    def _set(self, state: PartState, now: float, reason: str) -> None:
        self._state = state
        self._since = now
        self._reason = reason
        self._held = False


def restart_policy(config: SupervisorConfig) -> RestartPolicy:
    return RestartPolicy(
        BackoffPolicy(
            initial_s=config.restart_initial_s,
            max_s=config.restart_max_s,
            stable_s=config.stable_s,
        ),
        max_restarts=config.max_restarts,
        window_s=config.restart_window_s,
        hung_after_s=config.hung_after_s,
        start_hung_after_s=config.start_hung_after_s,
    )


def changed_keys(old: Config, new: Config) -> list[str]:
    """Dotted names of the settings that differ (`titanic.retention_s`, `hostname`)."""
    changed: list[str] = []
    for f in dataclasses.fields(Config):
        before, after = getattr(old, f.name), getattr(new, f.name)
        if before == after:
            continue
        if dataclasses.is_dataclass(before):
            changed += [
                f"{f.name}.{sub.name}"
                for sub in dataclasses.fields(before)
                if getattr(before, sub.name) != getattr(after, sub.name)
            ]
        else:
            changed.append(f.name)
    return changed


@frozen
class Restart:
    """Start the part again now: its backoff delay is over."""

    name: str


@frozen
class Died:
    """The part crashed (or its start raised); it is tried again in `retry_in_s`."""

    name: str
    reason: str
    retry_in_s: float
    failures_in_a_row: int


@frozen
class Failed:
    """The part is given up; `fatal` when it cannot be restarted in place (the edge,
    the store) or raspyd cannot do without it (a critical part: the Clone server,
    Titanic, the web face), so raspyd must exit and be restarted whole."""

    name: str
    reason: str
    fatal: bool
    hung: bool = False  # given up as hung (on_hang), not for its crashes


Decision = Restart | Died | Failed


def on_crash(tracker: PartTracker, now: float, reason: str) -> Died | Failed:
    """The part died, or its start raised: restart it later, or give it up."""
    state = tracker.crashed(now, reason)
    status = tracker.status()
    if state is PartState.FAILED:
        fatal = tracker.critical or not tracker.restartable
        return Failed(tracker.name, status.reason, fatal=fatal)
    return Died(
        tracker.name,
        reason,
        retry_in_s=(status.next_try_at or now) - now,
        failures_in_a_row=tracker.failures_in_a_row,
    )


def on_hang(
    tracker: PartTracker,
    now: float,
    silent_s: float,
    *,
    in_start: bool = False,
    io_thread: bool = False,
    inner: str | None = None,
    previous: bool = False,
) -> Failed | None:
    """The part has not answered for `silent_s` (`in_start`: to its start, a first
    one or a restart's; `io_thread`: its I/O runner's thread, not its actor's;
    `inner`: one of its own actors, "scenario <name>"; `previous`: the actor of the
    part stopped before, to that stop, which holds what its new one needs):
    past its bound (a start's is larger: RestartPolicy.start_bound_s) it is hung,
    and raspyd must end (fatal, critical or not): a
    Python thread cannot be killed, and one hung keeps what it holds (sockets, the
    store's handles, pins), so a part started beside it is unsafe and one left so
    does nothing while all looks well. None while within the bound, or when it is
    already over for good."""
    policy = tracker.policy
    bound = policy.bound_s(in_start)
    if silent_s <= bound or tracker.state in _OVER:
        return None
    key = "hung_after_s"
    if in_start:
        doing = "to its start"
        if bound > policy.hung_after_s:
            key = "start_hung_after_s"
    elif io_thread:
        doing = "from its I/O thread"
    elif inner is not None:
        doing = f"from its {inner}"
    elif previous:
        doing = "from its previous actor to its stop"
    else:
        doing = "to a ping"
    reason = (
        f"no answer {doing} for {round(silent_s, 1):g} s (supervisor.{key} = {bound:g})"
    )
    tracker.hung(now, reason)
    return Failed(tracker.name, reason, fatal=True, hung=True)


def supervise(
    tracker: PartTracker, down_reason: str | None, now: float
) -> Decision | None:
    """One supervision round for one part; `down_reason` says why it was seen down
    (None: it is up). A part that is not running is only looked at for its restart."""
    if tracker.state is PartState.RUNNING:
        if down_reason is None:
            tracker.tick(now)
            return None
        return on_crash(tracker, now, down_reason)
    return Restart(tracker.name) if tracker.due(now) else None


def summary(statuses: Iterable[PartStatus]) -> str:
    """One line for systemd's STATUS: all running, or the parts that are not."""
    statuses = tuple(statuses)
    down = [f"{s.name} {s.state.value}" for s in statuses if s.state in _DOWN]
    return f"{len(statuses)} parts running" if not down else "; ".join(down)


@frozen
class ReloadPlan:
    """What a SIGHUP with a new, valid config changes."""

    changed: tuple[str, ...]  # every changed setting, dotted
    needs_restart: frozenset[str]  # changed settings only a daemon restart applies
    announce: bool  # needs_restart is not what was said last time: say it
    live: frozenset[str]  # the sections applied now (within LIVE_SECTIONS)
    config: Config  # the running config with the live sections taken from the new one
    restart_titanic: bool  # stop Titanic; start it again if it is enabled
    restart_devices: bool  # start the device services again (the Clone server runs)


def plan_reload(running: Config, new: Config, announced: frozenset[str]) -> ReloadPlan:
    """Decide a reload; `announced` is what the last reload said needs a restart, so
    the same file sent twice names those settings once."""
    changed = changed_keys(running, new)
    sections = {key.split(".")[0] for key in changed}
    needs_restart = frozenset(
        key for key in changed if key.split(".")[0] not in LIVE_SECTIONS
    )
    live = frozenset(sections & LIVE_SECTIONS)
    config = dataclasses.replace(
        running, **{section: getattr(new, section) for section in live}
    )
    return ReloadPlan(
        changed=tuple(changed),
        needs_restart=needs_restart,
        announce=bool(needs_restart) and needs_restart != announced,
        live=live,
        config=config,
        restart_titanic="titanic" in live,
        restart_devices="devices" in live and config.clone.enabled,
    )
