"""A ScenarioCore on a dict tree and a hand-moved clock, for the engine tests."""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from raspy import json_text
from raspy.devices.template import JsonValue
from raspy.rules import engine, run
from raspy.rules import model as m
from raspy.rules.model import SunEvent
from raspy.secrets_file import Loaded

HOST = "hub"
UTC_ZONE = ZoneInfo("UTC")
START_MONO = 100.0
START_WALL = 1_700_000_000.0
SECRETS = "/etc/raspy/secrets.toml"  # the secrets file the harness's `secrets` are of
SEED = 20_231_115  # the engine tests' random source: the same numbers every run


def no_sun(event: SunEvent, wall_ts: float) -> float | None:
    return None


def scenario(
    actions: Sequence[m.Action] = (),
    triggers: Sequence[m.Trigger] = (),
    **fields: object,
) -> m.Scenario:
    return m.Scenario(
        name="test",
        triggers=tuple(triggers),
        actions=tuple(actions),
        **fields,  # type: ignore[arg-type]  # test shorthand
    )


@dataclass
class Harness:
    """Drives one ScenarioCore: a tree, a clock, and every output it gave."""

    core: engine.ScenarioCore
    tree: dict[str, JsonValue]
    mono: float = START_MONO
    wall: float = START_WALL
    outputs: list[engine.Output] = field(default_factory=list)

    def feed(self, outputs: list[engine.Output]) -> list[engine.Output]:
        self.outputs.extend(outputs)
        return outputs

    def change(self, key: str, value: JsonValue) -> list[engine.Output]:
        old = self.tree.get(key)
        if value is None:
            self.tree.pop(key, None)
        else:
            self.tree[key] = value
        return self.feed(self.core.on_kv(key, old, value, self.mono, self.wall))

    def no_value(self, key: str) -> list[engine.Output]:
        """`key` set to JSON null (not deleted): a failed reading, an offline mark."""
        old = self.tree.get(key)
        self.tree[key] = None
        return self.feed(
            self.core.on_kv(key, old, None, self.mono, self.wall, deleted=False)
        )

    def advance(self, seconds: float) -> list[engine.Output]:
        self.mono += seconds
        self.wall += seconds
        return self.feed(self.core.on_tick(self.mono, self.wall))

    def run_now(self) -> list[engine.Output]:
        return self.feed(self.core.run_now(self.mono, self.wall))

    def reply(self, request: run.SendRequest, *body: bytes) -> list[engine.Output]:
        return self.feed(
            self.core.on_reply(request.request_id, body, self.mono, self.wall)
        )

    def of(self, kind: type[object]) -> list[object]:
        return [out for out in self.outputs if isinstance(out, kind)]

    @property
    def state(self) -> engine.State:
        return self.core.status.state


def harness(
    scn: m.Scenario,
    *,
    tree: dict[str, JsonValue] | None = None,
    max_runs_per_minute: int = 60,
    step_limit: int = run.DEFAULT_STEP_LIMIT,
    rng: m.RandomSource | None = None,
    http_service: bool = True,
    secrets: dict[str, str] | None = None,
) -> Harness:
    """`rng`: the random source (a `random.Random(SEED)` when not given);
    `http_service`: whether raspyd's `<host>.http` is on; `secrets`: the secrets
    file's values (None: the hub has none)."""
    values: dict[str, JsonValue] = {} if tree is None else tree
    settings = engine.EngineSettings(
        HOST, UTC_ZONE, max_runs_per_minute, step_limit, http_service=http_service
    )
    if secrets is not None:
        given = Loaded(SECRETS, secrets)
        settings = dataclasses.replace(settings, secrets=lambda: given)
    core = engine.ScenarioCore(
        scn,
        settings,
        kv=values.get,
        # a read is charged by its JSON, as the tree's body (tree_view.TreeView)
        kv_size=lambda key: len(json_text.encode(values[key])) if key in values else 0,
        sun=no_sun,
        rng=random.Random(SEED) if rng is None else rng,
    )
    return Harness(core, values)


def sets(outputs: Sequence[object]) -> list[run.SetKey]:
    return [out for out in outputs if isinstance(out, run.SetKey)]


def requests(outputs: Sequence[object]) -> list[run.SendRequest]:
    return [out for out in outputs if isinstance(out, run.SendRequest)]
