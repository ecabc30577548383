"""Child for tests/integration/test_store_dir_sync.py: opens a store and prints which
directories were opened with O_DIRECTORY (fsync_directory's way) while it did.

Run as `python dir_syncs.py DATA_DIR [--init]`. Prints, as its last line,
one JSON list of [directory, data.mdb in it] pairs. Python's audit hook that sees each `open` cannot
be removed once added, so it lives in this child, never in a pytest worker: there it
was called for every audited event of every later test of that worker.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from raspy.config import StoreConfig
from raspy.storage import damage
from raspy.storage.store import Store

TINY = StoreConfig(map_size_initial_mb=1, map_size_max_mb=16)


def main() -> int:
    data_dir = Path(sys.argv[1])
    init = "--init" in sys.argv[2:]
    synced: list[tuple[str, bool]] = []
    recording = True

    def on_open(event: str, args: tuple[object, ...]) -> None:
        if event != "open" or not recording or len(args) < 3:
            return
        path, _, flags = args[:3]
        if (
            isinstance(path, str | Path)
            and isinstance(flags, int)
            and flags & os.O_DIRECTORY
        ):
            directory = Path(path)
            synced.append((str(directory), (directory / damage.DATA_FILE).exists()))

    sys.addaudithook(on_open)
    with Store.open(data_dir, TINY, init=init):
        pass
    recording = False
    sys.stdout.write(json.dumps(synced) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
