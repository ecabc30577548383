"""DeviceSettings.save_state refused on demand, as by a full store: for the tests of
the saved states' retry (GPIO's and a board's). Fake only the refusal; the store and
everything else are real. Use as a fixture: `refusal_fixture` named `refusal`."""

from __future__ import annotations

from typing import Any

import pytest

from raspy.errors import StoreFullError
from raspy.storage.device_settings import DeviceSettings


class Refusal:
    """save_state refused while `failing`; `tries` counts the calls."""

    def __init__(self) -> None:
        self.failing = False
        self.tries = 0


@pytest.fixture(name="refusal")
def refusal_fixture(monkeypatch: pytest.MonkeyPatch) -> Refusal:
    told = Refusal()
    save = DeviceSettings.save_state

    def refusing(
        self: DeviceSettings,
        fullname: str,
        value: Any,
        wall_ts: float,
        pending: bool | None = None,
    ) -> None:
        told.tries += 1
        if told.failing:
            raise StoreFullError("store in data is full (refused)")
        save(self, fullname, value, wall_ts, pending)

    monkeypatch.setattr(DeviceSettings, "save_state", refusing)
    return told
