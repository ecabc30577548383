"""What a scenario's conditions and runs see outside themselves: the hub's settings,
the tree, the sun, the random source.

Apart from `rules.engine` so that the engine keeps one thing for these rather than
six, and the two views made of them (a condition's EvalContext, a run's RunScope) are
written once, side by side. Pure: the caller passes the times.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from zoneinfo import ZoneInfo

from raspy.devices.template import JsonValue
from raspy.records import frozen
from raspy.rules import run as run_mod
from raspy.rules.model import EvalContext, RandomSource, SunEvent
from raspy.rules.own_writes import OwnWrites
from raspy.rules.run import RunClock, RunEnv, RunScope
from raspy.rules.run_scope import NO_SECRETS
from raspy.secrets_file import Loaded


@frozen
class EngineSettings:
    host: str
    tz: ZoneInfo
    max_runs_per_minute: int = 60
    step_limit: int = run_mod.DEFAULT_STEP_LIMIT
    max_key_bytes: int = run_mod.DEFAULT_MAX_KEY_BYTES
    max_value_bytes: int = run_mod.DEFAULT_MAX_VALUE_BYTES
    http_service: bool = True  # raspyd's `<host>.http` is on ([http_client] enabled)
    # the secrets file as it is now: what `{secret.NAME}` fills in (run_scope.RunEnv)
    secrets: Callable[[], Loaded] = lambda: NO_SECRETS


@frozen
class Surroundings:
    """One scenario's outside: `own` reads the tree under the turn's own writes,
    `sun_up` answers None on a hub without a place."""

    settings: EngineSettings
    variables: Mapping[str, JsonValue]
    own: OwnWrites
    sun: Callable[[SunEvent, float], float | None]
    rng: RandomSource  # random() and random waits (model.RandomSource)
    sun_up: Callable[[float], bool | None]
    next_request_id: Callable[[], int]

    def context(self, trigger: Mapping[str, JsonValue], wall: float) -> EvalContext:
        """What a condition sees when `trigger` fires at `wall`."""
        return EvalContext(
            wall_ts=wall,
            tz=self.settings.tz,
            variables=self.variables,
            trigger=trigger,
            kv=self.own.kv,
            sun=self.sun,
            rng=self.rng,
            host=self.settings.host,
            sun_up=self.sun_up,
            kv_size=self.own.kv_size,
        )

    def scope(
        self, trigger: dict[str, JsonValue], mono: float, wall: float
    ) -> RunScope:
        """What a new run started by `trigger` at (`mono`, `wall`) sees."""
        env = RunEnv(
            self.settings.host,
            self.settings.tz,
            self.own.kv,
            self.sun,
            self.next_request_id,
            self.rng,
            self.settings.max_value_bytes,
            self.settings.http_service,
            self.own.wrote,
            max_key_bytes=self.settings.max_key_bytes,
            sun_up=self.sun_up,
            secrets=self.settings.secrets,
            kv_size=self.own.kv_size,
        )
        return RunScope(env, RunClock(mono, wall), trigger, self.variables)
