"""Titanic's quota in the real raspyd (issue 18): pending requests bounded by count and
by bytes; over quota `titanic.request` answers 500 at once (RFC 9's "retry later",
docs/protocols.md §5.3), counted in statistics, logged at most once a minute; a
close frees room; the daemon keeps serving everything else."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.daemon import hostname, running_daemon

from raspy.client.mdp import Client

# a target with no worker: what is accepted stays pending
SVC = b"e2e.quota.nobody"
REQUEST = b"titanic.request"


def _config(requests: int, size: int) -> str:
    return (
        "[limits]\n"
        f"titanic_pending_requests = {requests}\n"
        f"titanic_pending_bytes = {size}\n"
    )


def _stats(client: Client) -> dict[str, float]:
    status, counters = client.request(f"{hostname()}.stats", b"")
    assert status == b"200"
    stats: dict[str, float] = json.loads(counters)
    return stats


def _quota_log_lines(log_text: str) -> int:
    return sum(1 for line in log_text.splitlines() if "titanic_over_quota" in line)


@pytest.mark.timeout(120)
def test_over_the_count_quota_requests_get_500_until_one_is_closed(
    tmp_path: Path,
) -> None:
    config = _config(requests=5, size=1_000_000)
    with (
        running_daemon(tmp_path / "data", config_text=config) as daemon,
        Client(daemon.endpoint, timeout_s=5, retries=1) as client,
    ):
        uuids = []
        for n in range(5):
            status, uuid = client.request(REQUEST, SVC, f"body {n}".encode())
            assert status == b"200"
            uuids.append(uuid)
        # answered at once (the client's 5 s timeout, one try), never held back
        refusals = [client.request(REQUEST, SVC, b"one too many") for _ in range(50)]
        assert refusals == [[b"500"]] * 50
        assert _stats(client)["titanic.over_quota"] == 50
        # the others are still served, and what was accepted is still pending
        assert client.request(f"{hostname()}.echo", b"still here") == [b"still here"]
        assert client.request(b"titanic.reply", uuids[0]) == [b"300"]
        # a close frees one place
        assert client.request(b"titanic.close", uuids[0]) == [b"200"]
        status, _ = client.request(REQUEST, SVC, b"room again")
        assert status == b"200"
        assert client.request(REQUEST, SVC, b"full again") == [b"500"]
        assert _stats(client)["titanic.over_quota"] == 51
        # fifty-one refusals, one log line (a minute's window per limit)
        assert _quota_log_lines(daemon.log_text()) == 1


@pytest.mark.timeout(120)
def test_over_the_byte_quota_a_large_request_is_refused_and_a_small_one_fits(
    tmp_path: Path,
) -> None:
    config = _config(requests=1000, size=10_000)
    with (
        running_daemon(tmp_path / "data", config_text=config) as daemon,
        Client(daemon.endpoint, timeout_s=5, retries=1) as client,
    ):
        kib = b"k" * 1024
        accepted = 0
        for _ in range(20):
            reply = client.request(REQUEST, SVC, kib)
            if reply == [b"500"]:
                break
            assert reply[0] == b"200"
            accepted += 1
        # 10,000 bytes hold nine requests of 1 KiB + the service name, not ten
        assert accepted == 9
        status, _ = client.request(REQUEST, SVC, b"small")
        assert status == b"200"
        stats = _stats(client)
        assert stats["titanic.over_quota"] == 1
        assert stats["titanic.accepted"] == 10
        assert _quota_log_lines(daemon.log_text()) == 1
