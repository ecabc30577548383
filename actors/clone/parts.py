"""The Clone server's pieces, built from its config: what CloneLoop moves bytes
between. Built before the sockets exist; only the Clone I/O thread uses them.
"""

from __future__ import annotations

from raspy.actors.clone.backpressure import CollectorPause
from raspy.actors.clone.commit import CommitPipeline
from raspy.actors.clone.intake import CloneIntake
from raspy.actors.clone.publisher import Subscribers
from raspy.actors.clone.seeds import SeedRequests
from raspy.actors.clone.snapshot import SnapshotStreamer
from raspy.clock import Clock
from raspy.config import CloneConfig, LimitsConfig
from raspy.cores import clone as core_mod
from raspy.cores.clone_pacing import ClonePacing
from raspy.cores.clone_snapshot import snapshot_hwm
from raspy.protocol import clone
from raspy.ratelimit import LogRateLimiter
from raspy.records import frozen
from raspy.stats import Stats
from raspy.storage.store import Store
from raspy.transport.wakeup import Wakeup


@frozen
class CloneParts:
    """CloneCore decides, CommitPipeline stores before it releases, SnapshotStreamer
    answers ICANHAZ?, ClonePacing rules timers and flow, CloneIntake feeds the core,
    Subscribers are the in-process actors told of what is published (SeedRequests
    adds those that want the tree where they begin), CollectorPause stops reading
    the collector while one of them is behind."""

    core: core_mod.CloneCore
    commits: CommitPipeline
    snapshots: SnapshotStreamer
    pacing: ClonePacing
    intake: CloneIntake
    subscribers: Subscribers
    collector: CollectorPause
    seeds: SeedRequests

    @classmethod
    def build(
        cls,
        store: Store,
        config: CloneConfig,
        limits: LimitsConfig,
        *,
        clock: Clock,
        stats: Stats,
        wakeup: Wakeup,
    ) -> CloneParts:
        """`wakeup`: the loop's, poked by the store's writer thread on a commit."""
        wear = store.config  # issue 17: which subtrees are coalesced
        coalesced = wear.coalesced_prefixes if wear.coalesce_interval_s > 0 else ()
        core = core_mod.CloneCore(
            max_key_bytes=config.max_key_bytes,
            max_value_bytes=config.max_value_bytes,
            coalesced_prefixes=[prefix.encode() for prefix in coalesced],
        )
        # an in-process writer that shows its writes before they come back (the
        # scenario core) is told of the ones that never will
        subscribers = Subscribers()
        commits = CommitPipeline(
            store, core, stats, wakeup, clock.monotonic, subscribers.refused
        )
        limiter = LogRateLimiter()  # shared: one log line per (peer, reason)
        budget = limits.clone_subscriber_queue_bytes  # a subscriber's, a peer's
        pacing = ClonePacing(config.hugz_interval_s, budget)
        largest = clone.max_kvmsg_bytes(config.max_key_bytes, config.max_value_bytes)
        snapshots = SnapshotStreamer(
            store,
            config.snapshot_chunk,
            stats,
            clock,
            limiter,
            commits,
            hwm=snapshot_hwm(budget, largest, config.snapshot_chunk),
            max_s=limits.snapshot_max_s,
            stall_s=limits.snapshot_stall_s,
            on_ended=pacing.trim_later,
        )
        intake = CloneIntake(
            core,
            commits,
            snapshots,
            pacing,
            clock,
            stats,
            limiter,
            subscribers.refused,
        )
        collector = CollectorPause(subscribers, lambda: commits.unreleased, stats)
        seeds = SeedRequests(store, commits, subscribers)
        return cls(
            core, commits, snapshots, pacing, intake, subscribers, collector, seeds
        )

    @property
    def held_for(self) -> bool:
        """A snapshot or a seed waits to start until nothing is on its way to the
        store (§6.3): what is accepted meanwhile is held back, else a busy store
        would keep it waiting."""
        return self.snapshots.startable or self.seeds.waiting

    def submit_writes(self) -> None:
        """Send what was accepted to the store, unless a snapshot or a seed waits to
        start for the writes on their way (held_for): held back until it has."""
        self.commits.submit(hold=self.held_for)

    def next_deadline(self, now: float, real_now: float, xpub_waiting: bool) -> float:
        """When the loop must turn next (ClonePacing's rule over every part's timer);
        `xpub_waiting`: a full subscriber holds published messages back."""
        snapshots = self.snapshots
        if self.commits.held_back and not self.held_for:
            return now  # writes held back for a snapshot or seed that started since
        deadline = self.pacing.next_deadline(
            now,
            real_now,
            ttl_deadline=self.core.next_deadline(),
            sending=snapshots.runnable,
            retry_blocked=snapshots.retry_on_timer or xpub_waiting,
        )
        for due in (self.commits.next_flush(), self.collector.next_deadline(now)):
            if due is not None:  # the loop sleeps until then, no longer
                deadline = min(deadline, due)
        return deadline

    def stats(self) -> dict[str, int]:
        """The server's figures, as GetStats answers them (`clone.*`)."""
        return {
            "clone.last_seq": self.core.last_seq,
            "clone.ephemeral_keys": self.core.ephemeral_count,
            **self.snapshots.stats(),
            **self.seeds.stats(),
        }
