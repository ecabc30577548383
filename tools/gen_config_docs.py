"""Write docs/configuration.md and raspy/defaults/raspyd.toml from raspy/config.py
and its section modules (raspy/config_messaging.py, raspy/config_parts.py).

Run it after changing one of them (tests/unit/test_config_docs.py fails until then):
`.venv/bin/python tools/gen_config_docs.py` (`--check` only compares).
"""

from __future__ import annotations

import sys
from pathlib import Path

from raspy import config_doc

ROOT = Path(__file__).resolve().parents[1]
OUTPUTS = {
    ROOT / "docs" / "configuration.md": config_doc.render_markdown,
    ROOT / "raspy" / "defaults" / "raspyd.toml": config_doc.production_example,
}


def main(argv: list[str]) -> int:
    check = "--check" in argv
    stale = []
    for path, render in OUTPUTS.items():
        text = render()
        if path.exists() and path.read_text(encoding="utf-8") == text:
            continue
        stale.append(path)
        if not check:
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path.relative_to(ROOT)}")
    if check and stale:
        names = ", ".join(str(p.relative_to(ROOT)) for p in stale)
        print(f"out of date: {names} (run tools/gen_config_docs.py)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
