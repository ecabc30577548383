"""A real Store in tmp_path with a tiny map, for the Store tests
(tests/integration/test_store*.py); a test imports the fixtures, found by name."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from raspy.config import StoreConfig
from raspy.storage.store import Store

MB = 1024 * 1024
TINY = StoreConfig(map_size_initial_mb=1, map_size_max_mb=16)
EVENT_TIMEOUT_S = 10.0


@pytest.fixture(name="data_dir")
def data_dir_fixture(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture(name="store")
def store_fixture(data_dir: Path) -> Iterator[Store]:
    opened = Store.open(data_dir, TINY)
    yield opened
    opened.close()
