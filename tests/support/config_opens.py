"""Child for tests/unit/test_config_files.py: checks a config's files as raspyd's
start does (raspy.config_files.problems) and prints how often one of them was opened.

Run as `python config_opens.py CONFIG_TOML WATCHED_PATH`. Prints, as its last line,
one JSON list: [the problems, the opens of WATCHED_PATH]. Python's audit hook that
sees each `open` cannot be removed once added, so it lives in this child, never in a
pytest worker (support.dir_syncs says why).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from raspy import config, config_files


def main() -> int:
    toml, watched = Path(sys.argv[1]), os.fsencode(sys.argv[2])
    loaded = config.load(toml.read_text(encoding="utf-8"), str(toml))
    opens = 0

    def on_open(event: str, args: tuple[object, ...]) -> None:
        nonlocal opens
        if event == "open" and args and isinstance(args[0], str | bytes | Path):
            opens += os.fsencode(args[0]) == watched

    sys.addaudithook(on_open)
    found = config_files.problems(loaded)
    sys.stdout.write(json.dumps([found, opens]) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
