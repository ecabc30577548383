"""sd_notify addresses and environment parsing (raspy.sdnotify)."""

from __future__ import annotations

import os
import socket
from pathlib import Path

from raspy.sdnotify import Notifier, socket_address


def test_an_at_sign_names_the_abstract_namespace() -> None:
    assert socket_address("@raspy/notify") == b"\0raspy/notify"
    assert socket_address("/run/systemd/notify") == "/run/systemd/notify"


def test_without_notify_socket_nothing_is_sent() -> None:
    notifier = Notifier({})
    assert not notifier.enabled
    assert not notifier.ready("serving")
    assert notifier.watchdog_interval_s is None


def test_the_watchdog_pings_at_half_the_interval_for_this_pid_only() -> None:
    mine = {"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": str(os.getpid())}
    assert Notifier(mine).watchdog_interval_s == 15.0
    assert Notifier({"WATCHDOG_USEC": "30000000"}).watchdog_interval_s == 15.0
    other = {"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"}
    assert Notifier(other).watchdog_interval_s is None
    assert Notifier({"WATCHDOG_USEC": "soon"}).watchdog_interval_s is None


def test_a_gone_socket_is_a_warning_not_an_error(tmp_path: Path) -> None:
    notifier = Notifier({"NOTIFY_SOCKET": str(tmp_path / "gone")})
    assert notifier.enabled
    assert not notifier.watchdog()
    notifier.close()


def test_lines_arrive_in_one_datagram(tmp_path: Path) -> None:
    path = tmp_path / "notify"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as server:
        server.bind(str(path))
        notifier = Notifier({"NOTIFY_SOCKET": str(path)})
        assert notifier.notify(stopping="1", status="bye")
        notifier.close()
        assert server.recv(4096) == b"STOPPING=1\nSTATUS=bye"
