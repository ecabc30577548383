"""A real browser for the web face's end-to-end tests: Debian's chromium driven by
playwright, and a hub's web login token made the way a user makes one."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import Browser, sync_playwright


def new_web_token(data_dir: Path) -> str:
    """A new login token for the hub of `data_dir`, by `raspy web-token`."""
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "raspy.cli.raspy",
            "web-token",
            "--data-dir",
            str(data_dir),
        ],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout.strip()


@contextmanager
def chromium() -> Iterator[Browser]:
    """Debian's chromium, launched headless for one test module."""
    executable = shutil.which("chromium")
    assert executable, "Debian's chromium is needed: `make test` installs it as root"
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=executable, args=["--no-sandbox"]
        )
        try:
            yield launched
        finally:
            launched.close()
