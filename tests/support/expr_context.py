"""An EvalContext for expression and template tests: fixed wall time, Europe/Berlin,
a dict-backed Clone tree and a sun table (no astral, no clock)."""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from zoneinfo import ZoneInfo

from raspy import json_text
from raspy.devices.template import JsonValue
from raspy.rules.model import EvalContext, RandomSource, SunEvent, no_place

BERLIN = ZoneInfo("Europe/Berlin")
# Thursday 2026-12-03 14:05:30 in Berlin (UTC+1): 13:05:30 UTC
WALL_TS = 1_796_303_130.0
SUNSET_TS = 1_796_312_400.0  # 16:40 local
SEED = 7  # random(): the same numbers on every run


def make_context(
    *,
    wall_ts: float = WALL_TS,
    tree: Mapping[str, JsonValue] | None = None,
    variables: Mapping[str, JsonValue] | None = None,
    trigger: Mapping[str, JsonValue] | None = None,
    sun: Mapping[SunEvent, float | None] | None = None,
    host: str = "pi",
    rng: RandomSource | None = None,
    repeat_index: int | None = None,
    sun_up: Callable[[float], bool | None] | None = None,
) -> EvalContext:
    """`rng`: the random source of random() (a `random.Random(SEED)` by default);
    `repeat_index`: the pass of the repeat around (None: no repeat); `sun_up`:
    the hub's answer to sun_up() (by default, as a hub without a place: None)."""
    kv_tree = dict(tree or {})
    sun_table = dict(sun if sun is not None else {SunEvent.SUNSET: SUNSET_TS})

    sizes = {key: len(json_text.encode(value)) for key, value in kv_tree.items()}

    def read_kv(key: str) -> JsonValue:
        return kv_tree.get(key)

    def kv_size(key: str) -> int:  # as the tree's body, which kv() decodes
        return sizes.get(key, 0)

    def read_sun(event: SunEvent, _wall_ts: float) -> float | None:
        return sun_table.get(event)

    return EvalContext(
        wall_ts=wall_ts,
        tz=BERLIN,
        variables=dict(variables or {}),
        trigger=dict(trigger or {}),
        kv=read_kv,
        sun=read_sun,
        rng=random.Random(SEED) if rng is None else rng,
        host=host,
        repeat_index=repeat_index,
        sun_up=no_place if sun_up is None else sun_up,
        kv_size=kv_size,
    )
