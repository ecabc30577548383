"""The README's Python examples run as written against the real raspyd: only the
address (`tcp://127.0.0.1:5514`) and the host name (`pi-kitchen`) are replaced.
Each runs as a script of its own, as a developer would copy it."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.daemon import Daemon, hostname
from support.wait import wait_until

import raspy
from raspy.client import Client, ClientTimeout, Worker, fetch_snapshot

ROOT = Path(__file__).resolve().parents[2]
RUN_TOML = Path(raspy.__file__).parent / "defaults" / "run.toml"
_BLOCK = re.compile(r"^```python\n(.*?)^```$", re.MULTILINE | re.DOTALL)
# what tells the examples apart, in the order the README has them
MARKERS = {
    "client": "client.request(",
    "worker": "worker.serve(",
    "titanic": "TitanicClient(",
    "clone_read": "tree.changes()",
    "clone_write": "tree.set(",
}


def _examples(endpoint: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for block in _BLOCK.findall((ROOT / "README.md").read_text(encoding="utf-8")):
        names = [name for name, marker in MARKERS.items() if marker in block]
        assert len(names) == 1, f"which example is this?\n{block}"
        code = block.replace("tcp://127.0.0.1:5514", endpoint)
        found[names[0]] = code.replace("pi-kitchen", hostname())
    assert found.keys() == MARKERS.keys()
    return found


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    data_dir = tmp_path_factory.mktemp("readme") / "data"
    running = Daemon(data_dir, extra_args=("--config", str(RUN_TOML)))
    try:
        yield running.start()
    finally:
        running.kill()


@pytest.fixture(scope="module")
def examples(daemon: Daemon) -> dict[str, str]:
    return _examples(daemon.endpoint)


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def _start(code: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", code],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _interrupt(process: subprocess.Popen[str]) -> None:
    """Ctrl-C, as the examples say; it must end at once."""
    try:
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=10)
        assert stderr.rstrip().endswith("KeyboardInterrupt"), stderr
    finally:
        process.kill()
        process.wait(timeout=10)


@pytest.mark.timeout(30)
def test_the_client_example_prints_the_echo(examples: dict[str, str]) -> None:
    done = _run(examples["client"])
    assert done.returncode == 0, done.stderr
    assert done.stdout == "hello\nworld\n"


@pytest.mark.timeout(30)
def test_the_worker_example_serves_upper(
    daemon: Daemon, examples: dict[str, str]
) -> None:
    process = _start(examples["worker"])
    try:
        with Client(daemon.endpoint, timeout_s=0.5, retries=1) as client:

            def answered() -> list[bytes] | None:
                try:
                    return client.request(f"{hostname()}.upper", "abc")
                except ClientTimeout:
                    return None

            assert wait_until(answered, what="the example worker", timeout_s=15) == [
                b"ABC"
            ]
    finally:
        _interrupt(process)


@pytest.mark.timeout(30)
def test_the_titanic_example_gets_its_reply(
    daemon: Daemon, examples: dict[str, str]
) -> None:
    served = threading.Event()

    def heating() -> None:  # the worker the example's request waits for
        with Worker(daemon.endpoint, f"{hostname()}.heating") as worker:
            worker.serve(lambda body: [b"200", *body], max_requests=1)
        served.set()

    thread = threading.Thread(target=heating, name="heating")
    thread.start()
    try:
        done = _run(examples["titanic"])
    finally:
        thread.join(timeout=20)
    assert done.returncode == 0, done.stderr
    assert served.is_set()


@pytest.mark.timeout(30)
def test_the_clone_examples_read_watch_and_write(
    daemon: Daemon, examples: dict[str, str]
) -> None:
    done = _run(examples["clone_write"])
    assert done.returncode == 0, done.stderr
    snapshot = fetch_snapshot(daemon.endpoint, b"/my/")
    assert snapshot.items == {b"/my/window": b"open"}

    process = _start(examples["clone_read"])
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert first.startswith(f"/device/{hostname()}."), first
        # then the changes: "<seq> <key> <value>"
        change = re.compile(rf"\d+ /device/{hostname()}\.\S+ ")
        while not change.match(line := process.stdout.readline()):
            assert line, "the example ended"
    finally:
        _interrupt(process)
