"""A real runtime whose hang bound is short (a test's): its parts are hung, and its
store's writer stuck, after a second or two rather than a minute."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from raspy import config as config_mod
from raspy.actors import supervisor
from raspy.cores.supervision import RestartPolicy, restart_policy
from support.net import free_port_base
from support.wait import wait_until


def hung_after(monkeypatch: pytest.MonkeyPatch, seconds: float) -> None:
    """The runtime's parts hung after `seconds`, set on its policy: the config takes
    no bound under 15 s (a healthy hub's handlers wait up to about 10 s)."""

    def policy(rt: supervisor.Runtime) -> RestartPolicy:
        return dataclasses.replace(
            restart_policy(rt.config.supervisor), hung_after_s=seconds
        )

    monkeypatch.setattr(supervisor.Runtime, "policy", property(policy))


def started(tmp_path: Path, text: str) -> supervisor.Runtime:
    """A runtime started with config `text` (host `testhost`); the caller stops it."""
    cfg = config_mod.load(
        text,
        "test.toml",
        data_dir=str(tmp_path / "data"),
        hostname="testhost",
        network__port_base=free_port_base(),
    )
    return supervisor.start(cfg)


def rounds_after(rt: supervisor.Runtime, count: int, timeout_s: float = 5.0) -> None:
    """Wait for `count` more supervision rounds (each publishes a new tuple)."""
    rounds = [rt.statuses]

    def seen() -> bool:
        if rt.statuses is not rounds[-1]:
            rounds.append(rt.statuses)
        return len(rounds) > count

    wait_until(seen, what=f"{count} supervisor rounds", timeout_s=timeout_s)
