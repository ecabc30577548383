"""What every benchmark needs of the machine: free loopback ports, a raspyd of its
own, a process's CPU, memory and I/O from /proc, the filesystem under a path, a
raspyd's echo answering and its first device reading, and stopping what it started.
Imported by the tools/bench_*.py scripts and tools/soak.py (not installed)."""

from __future__ import annotations

import http.client
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import zmq

from raspy.client import Client, ClientTimeout
from raspy.names import short_hostname

# the tests' port picker (tests/support/net.py), one copy for both
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from support import net

is_free = net.is_free  # bench_clone waits for Mosquitto's port with it


def free_port(span: int = 1) -> int:
    """A port P with P..P+span-1 free on 127.0.0.1 a moment ago (servers bind fixed
    ports). Drawn below the kernel's ephemeral range, as the tests do: a port that
    bind(0) hands out can be taken by any outgoing connection before the server binds
    it."""
    return net.free_port_base(span)


def start_raspyd(
    data_dir: Path,
    port_base: int,
    *,
    config: Path | None = None,
    log_path: Path | None = None,
    log_format: str | None = "json",
    python: str = sys.executable,
) -> subprocess.Popen[bytes]:
    """raspyd as a child of `python` (this one unless told; 127.0.0.1 by default, its
    own data dir and port base), its output to `log_path` (None: discarded). Stop it
    with stop()."""
    command = [
        python, "-m", "raspy.cli.raspyd", "--data-dir", str(data_dir),
        "--port-base", str(port_base), "--allow-root",
    ]  # fmt: skip
    if config is not None:
        command += ["--config", str(config)]
    if log_format is not None:
        command += ["--log-format", log_format]
    # `-m` puts the working directory first on the path: run from another tree's
    # root, an older venv's raspyd imported that tree's `raspy` (mixed code in an A/B)
    env = {**os.environ, "PYTHONSAFEPATH": "1"}
    if log_path is None:
        return subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env
        )
    with log_path.open("wb") as log_file:
        return subprocess.Popen(
            command, stdout=log_file, stderr=subprocess.STDOUT, env=env
        )


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds the process has used (/proc/PID/stat fields 14, 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def libzmq_io_cpu_seconds(pid: int) -> float:
    """CPU seconds of the process's libzmq I/O threads (named ZMQbg/IO/N by libzmq):
    the TCP work that is the same in every broker, apart from its own thread's."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            name = (task / "comm").read_text().strip()
            stat = (task / "stat").read_text()
        except OSError:  # the thread ended between the listing and the read
            continue
        if name.startswith("ZMQbg/IO"):
            fields = stat.rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    """The process's resident set size (VmRSS) in MB; 0.0 if /proc does not say."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def stop(
    process: subprocess.Popen[bytes] | subprocess.Popen[str], wait_s: float
) -> None:
    """SIGTERM, then SIGKILL if it is still running after `wait_s`."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=wait_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


def proc_io(pid: int) -> dict[str, int]:
    """/proc/PID/io as numbers (rchar, wchar, ..., write_bytes)."""
    text = Path(f"/proc/{pid}/io").read_text()
    return {k: int(v) for k, v in (line.split(": ") for line in text.splitlines())}


def fs_type(path: Path) -> str:
    """The type of the filesystem holding `path`, from /proc/mounts (longest match)."""
    real = str(path.resolve())
    best, kind = "", "unknown"
    for line in Path("/proc/mounts").read_text().splitlines():
        fields = line.split()
        mount = fields[1]
        if (real == mount or real.startswith(mount.rstrip("/") + "/")) and len(
            mount
        ) > len(best):
            best, kind = mount, fields[2]
    return kind


def echo_ok(endpoint: str, timeout_s: float) -> bool:
    """Whether the built-in `<host>.echo` of the raspyd at `endpoint` answers a ping
    within `timeout_s` (one try)."""
    try:
        with Client(endpoint, timeout_s=timeout_s, retries=1) as client:
            return client.request(f"{short_hostname()}.echo", "ping") == [b"ping"]
    except ClientTimeout:
        return False


def wait_for_echo(
    process: subprocess.Popen[bytes], endpoint: str, log_path: Path
) -> None:
    """Until the raspyd `process` answers its echo at `endpoint` (30 s at most);
    SystemExit naming its log if it ended or did not answer in time."""
    deadline = time.monotonic() + 30
    while not echo_ok(endpoint, 0.5):
        if process.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"raspyd did not start: see {log_path}")


def wait_for_readings(base: int, timeout_s: float) -> bool:
    """Whether the raspyd at port base `base` publishes a /device/ update in time."""
    context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    sub = context.socket(zmq.SUB)
    try:
        sub.setsockopt(zmq.LINGER, 0)
        sub.setsockopt(zmq.SUBSCRIBE, b"/device/")
        sub.connect(f"tcp://127.0.0.1:{base + 2}")
        return bool(sub.poll(int(timeout_s * 1000)))
    finally:
        sub.close()
        context.term()


def http_exchange(
    port: int,
    method: str,
    path: str,
    body: str = "",
    cookie: str = "",
    timeout_s: float = 30.0,
) -> tuple[int, list[str], bytes]:
    """One request to the web face on 127.0.0.1: (status, Set-Cookie values, body);
    a POST body is a form."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout_s)
    try:
        headers = {"Cookie": cookie} if cookie else {}
        if method == "POST":
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        connection.request(method, path, body=body.encode() or None, headers=headers)
        response = connection.getresponse()
        return (
            response.status,
            response.headers.get_all("set-cookie") or [],
            response.read(),
        )
    finally:
        connection.close()
