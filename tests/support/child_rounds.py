"""A ChildSet (raspy.child_set) on a fake clock whose supervision rounds the test
drives, with what it restarted and what it found fatal recorded: the child-set
tests' parts (test_child_set, test_child_set_hang, test_child_set_inner_hang)."""

from __future__ import annotations

from raspy.child_set import Child, ChildSet
from raspy.cores.supervision import Failed, RestartPolicy
from raspy.stats import Stats
from support.clock import FakeClock
from support.wait import wait_until


class ChildRounds:
    """`children` under `policy`, its clock at 0 until the test moves it."""

    def __init__(self, policy: RestartPolicy) -> None:
        self.clock = FakeClock(monotonic=0.0)
        self.stats = Stats()
        self.restarted: list[str] = []  # the names of the parts restarted, in turn
        self.fatal: list[Failed] = []
        self.children = ChildSet(
            lambda: policy,
            self.clock,
            self.stats,
            self._restarted,
            fatal=self.fatal.append,
        )

    def _restarted(self, child: Child) -> None:
        self.restarted.append(child.name)

    def round_after(self, seconds: float) -> None:
        """The clock moved on by `seconds`, then one round."""
        self.clock.advance(seconds)
        self.children.check(self.clock.monotonic())

    def confirmed(self) -> None:
        """Rounds at this time until each restart's on_start has answered: a round
        waits on no part, the next ones look."""

        def settled() -> bool:
            self.children.check(self.clock.monotonic())
            return all(child.starting is None for child in self.children.children)

        wait_until(settled, what="the restarts confirmed")
