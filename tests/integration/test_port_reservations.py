"""Port ranges for real daemons are reserved across test processes (support.net).

pytest-xdist's workers draw their ranges at the same time; a range that was free
when one drew it must not be handed to another before the first one's daemon binds.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from support import net

_RANDOM = net._CHOOSE
TESTS = Path(__file__).parents[1]  # where `support` is a package


class _FirstThen:
    """A chooser whose first draw is fixed, then as random as support.net's own."""

    def __init__(self, first: int) -> None:
        self.draws = [first]

    def randint(self, low: int, high: int) -> int:
        return self.draws.pop() if self.draws else _RANDOM.randint(low, high)


_HOLDER = textwrap.dedent(
    """
    import sys
    from support import net
    base = net.free_port_base()
    print(base, flush=True)
    sys.stdin.read()  # hold the range until the test closes our stdin
    """
)


def test_a_range_another_process_holds_is_not_handed_out_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER],
        cwd=TESTS,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        held = int(holder.stdout.readline())
        assert net.is_free(held)  # drawn, not yet bound: the window of the race
        monkeypatch.setattr(net, "_CHOOSE", _FirstThen(held))
        assert net.free_port_base() != held
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=10)
        assert holder.stdout is not None
        holder.stdout.close()


def test_a_released_range_can_be_drawn_again(monkeypatch: pytest.MonkeyPatch) -> None:
    first = net.free_port_base()
    net.release_ports({first})
    monkeypatch.setattr(net, "_CHOOSE", _FirstThen(first))
    assert net.free_port_base() == first
