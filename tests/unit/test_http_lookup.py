"""raspy.http_lookup: a host's lookup bounded by its request's time, on at most a
given number of threads however long the resolver hangs (the resolver is passed in,
as a clock is: one that blocks until the test lets it go)."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from support.http_asker import HangingResolver
from support.wait import wait_until

from raspy.http_lookup import HostLookup, LookupTimeout


@pytest.fixture
def resolver() -> Iterator[HangingResolver]:
    made = HangingResolver()
    yield made
    made.release.set()  # the lingering lookups end with the test


def test_a_name_is_looked_up_and_an_address_written_out_is_no_lookup(
    resolver: HangingResolver,
) -> None:
    lookup = HostLookup(2, resolver)
    [found] = lookup.addresses("notify.test", 8080, 5.0)
    assert found[4] == ("127.0.0.1", 8080)
    [found] = lookup.addresses("::1", 443, 5.0)
    assert (found[0], found[4][:2]) == (socket.AF_INET6, ("::1", 443))
    assert lookup.addresses("192.168.1.20", 80, 0.0)[0][4] == ("192.168.1.20", 80)
    assert resolver.calls == ["notify.test"]
    with pytest.raises(socket.gaierror):
        lookup.addresses("nowhere.test", 80, 5.0)
    with pytest.raises(LookupTimeout):  # no time left: not asked at all
        lookup.addresses("notify.test", 80, 0.0)
    assert resolver.calls == ["notify.test", "nowhere.test"]


def test_a_hung_lookup_ends_its_request_at_the_timeout_and_threads_stay_bounded(
    resolver: HangingResolver,
) -> None:
    """Two threads: two hung lookups take both, and stay after their requests gave
    up; a third request waits for a thread until its own timeout, and the resolver
    never sees it. Once the resolver answers, the threads are free again."""
    lookup = HostLookup(2, resolver)
    for _ in range(3):
        with pytest.raises(LookupTimeout):
            lookup.addresses("hung.test", 80, 0.05)
    wait_until(lambda: resolver.running == 2, what="both lookups in the resolver")
    assert resolver.calls == ["hung.test", "hung.test"]
    with pytest.raises(LookupTimeout):
        lookup.addresses("notify.test", 80, 0.05)
    resolver.release.set()
    wait_until(lambda: resolver.running == 0, what="the hung lookups ended")
    assert lookup.addresses("notify.test", 80, 5.0)[0][4] == ("127.0.0.1", 80)


def test_a_lookup_needs_a_thread() -> None:
    with pytest.raises(ValueError, match="at least one thread, not 0"):
        HostLookup(0)
