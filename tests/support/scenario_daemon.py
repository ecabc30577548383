"""A real raspyd's scenario service and tree, as the end-to-end resume tests use them:
a request to `<host>.core.scenario`, whether that service is up, a key's JSON value."""

from __future__ import annotations

import json
from typing import Any

from raspy.client.clone import CloneClient
from raspy.client.mdp import Client
from support.daemon import Daemon, hostname

# raspyd with the simulated devices and the scenario core, times in UTC
CONFIG = '[devices]\nfake_enabled = true\n\n[core]\nenabled = true\ntimezone = "UTC"\n'


def ask(daemon: Daemon, action: str, **fields: Any) -> tuple[bytes, Any]:
    """One `<host>.core.scenario` request: its status and its JSON body."""
    with Client(daemon.endpoint, timeout_s=10, retries=1) as client:
        status, body = client.request(
            f"{hostname()}.core.scenario",
            json.dumps({"v": 1, "action": action, **fields}),
        )
    return status, json.loads(body)


def scenarios_up(daemon: Daemon) -> bool:
    """Whether a worker serves `<host>.core.scenario` now (MMI)."""
    with Client(daemon.endpoint, timeout_s=2, retries=1) as client:
        service = f"{hostname()}.core.scenario"
        return client.request("mmi.service", service) == [b"200"]


def value(tree: CloneClient, key: str) -> Any:
    """`key`'s JSON value in the tree, None when absent."""
    body = tree.get(key.encode())
    return None if body is None else json.loads(body)
