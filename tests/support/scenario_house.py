"""The hub of a household field trial of the scenario engine
(tests/integration/test_scenario_trial*.py): a core on an edge, a Clone server and a
Store, a fake device service with a lamp and a hall dimmer, the user's command line and
the world (readings, events, the fake clock). A test module imports `house_fixture`
with the fixtures it needs, found by name."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from raspy.actors import messages as msgs
from raspy.actors.http_client import HttpClientActor
from raspy.client.clone import Change, CloneClient
from raspy.config import DevicesConfig
from raspy.devices.poll_schedule import STAGGER_MAX_S
from raspy.devices.registries import fake_registry
from raspy.devices.template import JsonValue
from raspy.stats import Stats
from support.clock import FakeClock
from support.core_actors import HOST, Core, value, wait_value
from support.device_services import Services
from support.http_server import HttpServer, http_server
from support.wait import wait_until

BERLIN = (52.52, 13.405)
# the FakeClock starts at 1_700_000_000: Tuesday 2023-11-14 23:13:20 in Berlin
HOUR = 3600.0
LAMP = f"/device/{HOST}.fake.lamp/value"
HALL = f"/device/{HOST}.fake.hall/value"
MOTION = f"/device/{HOST}.fake.motion/value"
LIVING = f"/device/{HOST}.fake.living/value"
DOOR = f"/device/{HOST}.fake.door/value"
GARAGE = f"/device/{HOST}.fake.garage/value"


class House:
    """The hub of one test: its core, its devices, its tree, and the user's files."""

    def __init__(
        self, core: Core, services: Services, tree: CloneClient, folder: Path
    ) -> None:
        self.core = core
        self.services = services
        self.tree = tree
        self.folder = folder
        self._lock = threading.Lock()
        self._changes: list[tuple[str, JsonValue]] = []
        self.errors: list[str] = []
        self.output: list[str] = []  # the last command's stdout, a line each
        self.device_clock = FakeClock()  # the device service's own
        tree.on_change(self._seen)

    def _seen(self, change: Change) -> None:
        if change.from_snapshot:
            return
        body = change.body
        with self._lock:
            self._changes.append(
                (change.key.decode(), json.loads(body) if body else None)
            )

    def _read(self, key: str) -> bool:
        return value(self.tree, key) is not None

    def changes(self, key: str) -> list[JsonValue]:
        """Every value `key` took since the house started (None: deleted)."""
        with self._lock:
            return [v for k, v in self._changes if k == key]

    def start(self, *switches: str, **config: Any) -> None:
        """The devices (a lamp, a hall dimmer, and the fake switches `switches`),
        then the core with `config` in its CoreConfig."""
        self.services.start(
            fake_registry(
                HOST,
                DevicesConfig(
                    fake_enabled=True,
                    fake=(
                        {"name": "lamp", "oid": "switch"},
                        {"name": "hall", "oid": "dimmer"},
                        *({"name": name, "oid": "switch"} for name in switches),
                    ),
                ),
            ),
            self.device_clock,
        )
        if switches:
            # devices started together have their first reads spread over a second
            # of the device clock, from the first one read (the poller has started)
            keys = [LAMP, HALL, *(f"/device/{HOST}.fake.{n}/value" for n in switches)]
            wait_until(
                lambda: any(value(self.tree, k) is not None for k in keys),
                what="the first device read",
            )
            self.device_clock.advance(STAGGER_MAX_S)
            for key in keys:
                wait_until(partial(self._read, key), what=f"{key} read")
        # the dimmer's first reading, published before the core starts (as raspyd
        # starts the devices first): the store has it only at the next coalesced write
        wait_value(self.tree, HALL, 0)
        place = {"timezone": "Europe/Berlin", "latitude": BERLIN[0]}
        self.core.config = dataclasses.replace(
            self.core.config, **{**place, "longitude": BERLIN[1], **config}
        )
        self.core.start()
        self.core.request("list")  # answered once the core has started (on_start)
        with self._lock:
            self._changes.clear()

    # --- the user's command line ------------------------------------------------------
    def cli(self, *args: str) -> int:
        """`raspy scenario ARGS` as a process, against the hub's edge; its stderr
        lines are kept in `self.errors`, its stdout lines in `self.output`."""
        done = subprocess.run(
            [
                *(sys.executable, "-m", "raspy.cli.raspy", "scenario", *args),
                *("--server", self.core.edge.endpoint, "--host", HOST),
            ],
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
        )
        self.errors = done.stderr.splitlines()
        self.output = done.stdout.splitlines()
        return done.returncode

    def import_(self, filename: str, text: str, *more: str) -> int:
        path = self.folder / filename
        path.write_text(text)
        return self.cli("import", str(path), *more)

    def imported(self, filename: str, text: str) -> str:
        """Import a document that must be good; its scenario's name."""
        code = self.import_(filename, text)
        assert code == 0, f"raspy scenario import: exit {code}: {self.errors}"
        name = text.partition("name: ")[2].split()[0]
        wait_value(self.tree, f"/scenario/{name}/state", "idle")
        self.tick(name)  # its actor has taken its start: a clock moved on counts after
        return name

    # --- the world ----------------------------------------------------------------------
    def reading(self, key: str, reading: JsonValue, *names: str) -> None:
        """A device reading in the tree, seen by the core and then by the scenarios
        `names` before this returns (so a clock advance after it counts from it)."""
        body = json.dumps(reading).encode()
        self.core.server.publisher.set(key.encode(), body)
        self.settle(key, body, *names)

    def event(self, key: str, event: JsonValue, *names: str) -> None:
        self.reading(key, event, *names)

    def settle(self, key: str, body: bytes, *names: str) -> None:
        proxy = self.core.ref.proxy()  # type: ignore[union-attr]
        tree_view = proxy.tree.get()
        wait_until(
            lambda: tree_view.kv(key) == json.loads(body),
            what=f"the core sees {key}",
        )
        entries = proxy.entries.get()
        for name in names:  # each actor takes its messages in order: a Tick after it
            entries[name].ref.ask(msgs.Tick(), timeout=5)

    def advance(self, seconds: float) -> None:
        self.core.clock.advance(seconds)

    def tick(self, *names: str) -> None:
        """The core looks at its time triggers now, and the scenarios `names` have
        taken what it told them (each actor takes its messages in order)."""
        assert self.core.ref is not None
        self.core.ref.ask(msgs.Tick(), timeout=5)
        entries = self.core.ref.proxy().entries.get()
        for name in names:
            entries[name].ref.ask(msgs.Tick(), timeout=5)

    def later(self, name: str, seconds: float) -> None:
        """The clock moves on `seconds`, and `name` has seen it (its requests
        answered first, so that none times out on the moved clock)."""
        self.answered(name)
        self.advance(seconds)
        self.tick(name)

    def restart(self) -> None:
        """raspyd stops and starts again (its core, in this process); Core.start
        waits for the scenarios' start."""
        self.core.stop()
        self.core.start()
        self.core.request("list")  # answered once the core has started (on_start)

    def answered(self, name: str) -> None:
        """Every request `name`'s runs sent has its answer. A device's new value is in
        the tree before its answer reaches the run, and a request times out on the
        core's clock: a test that moves the clock on must wait for this first."""
        entry = self.core.ref.proxy().entries.get()[name]  # type: ignore[union-attr]
        actor = entry.ref._actor_weakref()
        assert actor is not None
        engine = actor._core  # the scenario actor's ScenarioCore
        wait_until(lambda: not engine._requests, what=f"{name}'s requests answered")

    def state(self, name: str) -> JsonValue:
        return value(self.tree, f"/scenario/{name}/state")


@pytest.fixture(name="house")
def house_fixture(
    core: Core, services: Services, tree: CloneClient, tmp_path: Path
) -> House:
    return House(core, services, tree, tmp_path)


@contextmanager
def served_http(house: House) -> Iterator[HttpServer]:
    """A server on 127.0.0.1, and the hub's `<host>.http` service that the house's
    scenarios' `http:` requests go through."""
    with http_server() as server:
        edge = house.core.edge
        service = HttpClientActor.start(
            edge.ref,
            edge.outbox,
            f"{HOST}.http".encode(),
            Stats(),
            clock=house.core.clock,  # raspyd's one clock: its scenarios' too
        )
        try:
            yield server
        finally:
            service.stop(timeout=5)
