"""A scenario's writes of the turn under way, read back by its own runs at once.

The engine hands its effects to its owner at the end of a turn, and the owner sends
them then (the core's TreeView shows them to every scenario from that moment). Within
the turn, a run that sets a key and tests it (a `set`, then a `choose`), or a run the
same turn starts next (a queued one), reads what it wrote from here. Pure: one
scenario's thread only.
"""

from __future__ import annotations

from collections.abc import Callable

from raspy.devices.template import JsonValue
from raspy.rules.model import no_size
from raspy.rules.run_steps import DeleteKey, Effect, PublishEvent, SetKey


class OwnWrites:
    """kv() over the writes of this turn, then `tree` (the owner's view);
    `tree_size`, the bytes of JSON the tree decodes to read a key."""

    def __init__(
        self,
        tree: Callable[[str], JsonValue],
        tree_size: Callable[[str], int] = no_size,
    ) -> None:
        self._tree = tree
        self._tree_size = tree_size
        self._written: dict[str, JsonValue] = {}  # a deletion reads None

    def kv(self, key: str) -> JsonValue:
        if key in self._written:
            return self._written[key]
        return self._tree(key)

    def kv_size(self, key: str) -> int:
        """What kv(key) decodes: nothing for a value written this turn."""
        return 0 if key in self._written else self._tree_size(key)

    def wrote(self, effect: Effect) -> None:
        """A run yielded `effect`; a write of a key shows from now on."""
        match effect:
            case SetKey(key=key, value=value) | PublishEvent(key=key, value=value):
                self._written[key] = value
            case DeleteKey(key=key):
                self._written[key] = None
            case _:
                pass

    def handed_over(self) -> None:
        """The turn's effects go to the owner, who sends them: its view has them."""
        self._written.clear()
