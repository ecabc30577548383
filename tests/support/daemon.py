"""Start and kill the real raspyd process for end-to-end tests.

`Daemon` runs `python -m raspy.cli.raspyd` with a data dir and a free port base, waits
until the broker answers MMI for the built-in echo service, and always kills what it started.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import zmq

from raspy.names import short_hostname
from support.net import free_port_base
from support.wait import wait_until


def hostname() -> str:
    return short_hostname()


class Daemon:
    """One raspyd process; start() waits for readiness, kill()/terminate() end it."""

    def __init__(
        self,
        data_dir: Path,
        *,
        port_base: int | None = None,
        config_text: str | None = None,
        extra_args: tuple[str, ...] = (),
        ready: Callable[[str], bool] | None = None,
    ) -> None:
        """`ready(endpoint)` replaces the plain MMI probe (e.g. a CURVE client)."""
        self.data_dir = data_dir
        self.ready_probe = ready
        data_dir.parent.mkdir(parents=True, exist_ok=True)
        self.port_base = port_base or free_port_base()
        self.config_path: Path | None = None
        if config_text is not None:
            self.config_path = data_dir.parent / f"raspyd-{self.port_base}.toml"
            self.config_path.write_text(config_text, encoding="utf-8")
        self.extra_args = extra_args
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = data_dir.parent / f"raspyd-{self.port_base}.log"

    @property
    def endpoint(self) -> str:
        return f"tcp://127.0.0.1:{self.port_base}"

    def args(self) -> list[str]:
        args = [
            sys.executable,
            "-m",
            "raspy.cli.raspyd",
            "--data-dir",
            str(self.data_dir),
            "--port-base",
            str(self.port_base),
            "--log-format",
            "json",
            "--allow-root",
        ]
        if self.config_path is not None:
            args += ["--config", str(self.config_path)]
        return args + list(self.extra_args)

    # the bound covers the interpreter's start and raspy's imports too: on a
    # 2-core machine under a load of 12 those alone took up to 29 s (profiled:
    # ~550 modules, CPU-starved), and a start killed at 15 s looked like a hang in
    # its log. It only bounds a poll: a sound start is no slower.
    def start(self, *, timeout_s: float = 60.0) -> Daemon:
        with self.log_path.open("ab") as log_file:
            self.process = subprocess.Popen(
                self.args(), stdout=log_file, stderr=subprocess.STDOUT
            )
        try:
            wait_until(
                self._ready, what="raspyd to answer mmi.service", timeout_s=timeout_s
            )
        except AssertionError:
            self.kill()  # never leave a daemon behind a failed start
            raise
        return self

    def _ready(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(
                f"raspyd exited with {self.process.returncode}: {self.log_text()[-2000:]}"
            )
        if self.ready_probe is not None:
            return self.ready_probe(self.endpoint)
        # the echo worker answers before every part has bound its sockets (the Clone
        # server's ports among them): started means the daemon said so
        return '"daemon_started"' in self.log_text() and (
            mmi_service(self.endpoint, f"{hostname()}.echo".encode()) == b"200"
        )

    def log_text(self) -> str:
        """The log so far; while raspyd runs, only its complete lines.

        Its output is block-buffered into the file, so a read can land in the middle
        of a line that a later flush completes.
        """
        text = self.log_path.read_text(encoding="utf-8", errors="replace")
        if self.process is not None and self.process.poll() is None:
            return complete_text(text)
        return text

    def kill(self) -> None:
        """SIGKILL, as a power cut would."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def terminate(self, *, timeout_s: float = 5.0) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=timeout_s)


def complete_text(text: str) -> str:
    """A running process's log, without the line its next flush completes."""
    return text[: text.rfind("\n") + 1]


def mmi_service(endpoint: str, service: bytes, timeout_ms: int = 2000) -> bytes | None:
    """One RFC 18 `mmi.service` request on a fresh DEALER; None when nothing answers."""
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    sock = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    try:
        sock.connect(endpoint)
        sock.send_multipart([b"MDPC02", b"\x01", b"mmi.service", service])
        if not sock.poll(timeout_ms):
            return None
        frames = sock.recv_multipart()
        return frames[-1]
    finally:
        sock.close(linger=0)
        ctx.term()


def serving_titanic(data_dir: Path, port_base: int) -> Daemon:
    """A started raspyd whose Titanic services answer (killed if they do not)."""
    daemon = Daemon(data_dir, port_base=port_base).start()
    try:
        wait_until(
            lambda: (
                mmi_service(daemon.endpoint, b"titanic.request") == b"200"
                and mmi_service(daemon.endpoint, b"titanic.close") == b"200"
            ),
            what="the titanic services",
            timeout_s=20,
        )
    except AssertionError:
        daemon.kill()
        raise
    return daemon


@contextmanager
def running_daemon(data_dir: Path, **kwargs: object) -> Iterator[Daemon]:
    """A started raspyd that is killed at the end whatever happens."""
    daemon = Daemon(data_dir, **kwargs)  # type: ignore[arg-type]  # forwarded keywords
    try:
        yield daemon.start()
    finally:
        daemon.kill()
        os.sync()


@contextmanager
def running_poller(
    endpoint: str, log_path: Path, *args: str
) -> Iterator[subprocess.Popen[bytes]]:
    """raspy-poller (`--connect endpoint`, JSON log to `log_path`, then `args`) as its
    own process; killed at the end whatever happens, stopped (SIGSTOP) or not."""
    command = [
        sys.executable,
        "-m",
        "raspy.cli.poller",
        "--connect",
        endpoint,
        "--log-format",
        "json",
        *args,
    ]
    with log_path.open("ab") as log_file:
        process = subprocess.Popen(command, stdout=log_file, stderr=subprocess.STDOUT)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGCONT)
            process.kill()
        process.wait(timeout=10)
