"""A real browser for the web face's end-to-end tests: Debian's chromium driven by
playwright, and a hub's web login token made the way a user makes one."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Final

from playwright.sync_api import Browser, BrowserType, sync_playwright

# The full browser opens its address bar's pop-ups (chrome://omnibox-popup.top-chrome,
# two WebUI pages in a renderer of their own) for every new context, headless too:
# nearly half of chromium's CPU in these tests, and no test has an address bar to type
# in. It also starts a spare renderer beside each page's, for a next site that the
# tests, all on one hub, never open.
_UNUSED_FEATURES: Final = (
    "WebUIOmniboxPopup",
    "WebUIOmniboxAimPopup",
    "SpareRendererForSitePerProcess",
)

# Chromium keeps only the last --disable-features it is given, and playwright gives
# its own first: ours repeats playwright's (1.65), which keep the browser off the
# network (hints, time queries, preconnects to a search engine) among other things.
# A playwright that adds to its list is found at launch (_launch).
_PLAYWRIGHT_DISABLED: Final = (
    "AvoidUnnecessaryBeforeUnloadCheckSync",
    "DestroyProfileOnBrowserClose",
    "HttpsUpgrades",
    "HttpsFirstBalancedModeAutoEnable",
    "LensOverlay",
    "MediaRouter",
    "PaintHolding",
    "ThirdPartyStoragePartitioning",
    "AvoidCorsURLLoaderRestartOnRedirect",
    "TcpPortRandomizationWin",
    "OptimizationHints",
    "NetworkTimeServiceQuerying",
    "AimEnabled",
    "PreconnectToSearch",
    "msForceBrowserSignIn",
    "msEdgeUpdateLaunchServicesPreferredVersion",
)
_DISABLE_FEATURES: Final = "--disable-features="


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
    """Debian's chromium, launched headless for one test module.

    One per module, not per pytest worker: between its calls playwright's sync API
    marks its event loop as running in this thread, and `asyncio.run` in a later
    file of the same worker would fail."""
    executable = shutil.which("chromium")
    assert executable, "Debian's chromium is needed: `make test` installs it as root"
    with sync_playwright() as playwright:
        launched = _launch(playwright.chromium, executable)
        try:
            yield launched
        finally:
            launched.close()


def _launch(kind: BrowserType, executable: str) -> Browser:
    """The browser with our features off and playwright's kept; launched again with
    both lists joined if this playwright turns off some that ours lacks."""
    disabled = [*_PLAYWRIGHT_DISABLED, *_UNUSED_FEATURES]
    launched = _launch_with(kind, executable, disabled)
    missing = [name for name in disabled_by_playwright() if name not in disabled]
    if not missing:
        return launched
    launched.close()
    return _launch_with(kind, executable, [*disabled, *missing])


def _launch_with(kind: BrowserType, executable: str, disabled: list[str]) -> Browser:
    args = ["--no-sandbox", _DISABLE_FEATURES + ",".join(disabled)]
    return kind.launch(executable_path=executable, args=args)


def disabled_by_playwright() -> list[str]:
    """The features playwright's own --disable-features names (the first of the
    browser's command line), read from the browser process under this one."""
    for argv in command_lines(os.getpid()):
        if "--remote-debugging-pipe" in argv and not any(
            arg.startswith("--type=") for arg in argv
        ):
            lists = [a for a in argv if a.startswith(_DISABLE_FEATURES)]
            return lists[0][len(_DISABLE_FEATURES) :].split(",") if lists else []
    return []


def command_lines(root: int) -> list[list[str]]:
    """The command lines of every process below `root` (this one's pid, say)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            parent = int(stat[stat.rfind(")") + 2 :].split()[1])
            children.setdefault(parent, []).append(int(entry))
    found: list[list[str]] = []
    todo = list(children.get(root, []))
    while todo:
        pid = todo.pop()
        todo += children.get(pid, [])
        try:
            raw = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        # chromium rewrites its command line as one string: split on spaces too
        found.append(raw.decode(errors="replace").replace("\0", " ").split())
    return found
