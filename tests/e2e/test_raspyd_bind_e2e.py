"""raspyd's warning for ports others can reach is decided on the addresses the bind
really got, not on the name given for them (`--bind lo` is 127.0.0.1)."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.daemon import Daemon

from raspy.cli.bind_check import Checked

WARNING = "listening_beyond_loopback_without_curve"


@pytest.mark.timeout(60)
def test_an_interface_whose_address_is_loopback_logs_no_warning(tmp_path: Path) -> None:
    """`raspyd --bind lo` bound 127.0.0.1 and still warned `bind=lo`."""
    daemon = Daemon(tmp_path / "data", extra_args=("--bind", "lo"))
    try:
        daemon.start()  # answers on 127.0.0.1: lo's address
        assert daemon.terminate() == 0
    finally:
        daemon.kill()
    assert '"daemon_started"' in daemon.log_text()
    assert WARNING not in daemon.log_text()


@pytest.mark.parametrize(
    ("addresses", "loopback_only"),
    [
        ({"127.0.0.1"}, True),
        ({"127.0.0.1", "127.0.1.1"}, True),
        ({"0.0.0.0"}, False),  # noqa: S104  # `*`: every interface
        ({"127.0.0.1", "192.0.2.7"}, False),
        (set(), False),  # nothing bound: nothing known, so no promise
    ],
)
def test_only_loopback_addresses_are_loopback(
    addresses: set[str], loopback_only: bool
) -> None:
    assert Checked(None, frozenset(addresses)).loopback_only is loopback_only
