"""The friendly names the web face keeps for a gone board's devices: replaced per
service by what it lists now, so the map holds no more than the devices listed."""

from __future__ import annotations

import pytest

from raspy.actors.web.pages import _remember_labels
from raspy.web.models import DeviceRow

pytestmark = pytest.mark.timeout(10)


def _row(fullname: str, friendly: str) -> DeviceRow:
    service, _, name = fullname.rpartition(".")
    return DeviceRow(service, name, fullname, "", None, "", "ok", None, False, friendly)


def test_a_service_s_list_replaces_its_names_and_leaves_the_others() -> None:
    labels = {"board.fake.old": "Old", "other.fake.x": "X"}
    _remember_labels(
        labels,
        "board.fake.devices",
        [_row("board.fake.cellar", "Cellar"), _row("board.fake.attic", "")],
    )
    assert labels == {"board.fake.cellar": "Cellar", "other.fake.x": "X"}
    _remember_labels(labels, "board.fake.devices", [])
    assert labels == {"other.fake.x": "X"}
