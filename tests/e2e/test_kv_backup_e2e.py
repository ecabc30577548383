"""raspy-kv backup beside a running raspyd, as the daily timer runs it: the backup
holds a key a client set just before (a client's set is stored before the hub
publishes it, and `raspy-kv set` returns once it is published), and a hub restored
from it serves that key."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from support.daemon import running_daemon

from raspy.storage.dump import parse
from raspy.storage.tables import Table, decode_kv

KEY = "/home/backup-probe"
VALUE = "set just before the backup"


def _kv(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "raspy.cli.kv", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_backup_beside_raspyd_holds_a_key_set_just_before_and_restores(
    tmp_path: Path,
) -> None:
    (backups := tmp_path / "backups").mkdir()
    data_dir = tmp_path / "data"
    with running_daemon(data_dir) as daemon:
        server = f"127.0.0.1:{daemon.port_base}"
        done = _kv("set", KEY, VALUE, "--server", server)
        assert done.returncode == 0, done.stderr
        done = _kv("backup", "--data-dir", str(data_dir), "--to", str(backups))
        assert (done.returncode, done.stderr) == (0, ""), done.stderr
        assert done.stdout.startswith(f"raspy-kv backup: {backups}/raspy-")
        assert daemon.process is not None
        assert daemon.process.poll() is None  # raspyd went on
        (backup,) = backups.iterdir()
        stored = {
            record.key: decode_kv(record.value).body
            for record in parse(backup.read_bytes()).records
            if record.table is Table.KV
        }
        assert stored[KEY.encode()] == VALUE.encode()
        assert daemon.terminate() == 0

    restored = tmp_path / "restored"
    done = _kv("restore", "--data-dir", str(restored), str(backup))
    assert done.returncode == 0, done.stderr
    with running_daemon(restored) as daemon:
        done = _kv("get", KEY, "--server", f"127.0.0.1:{daemon.port_base}")
        assert (done.returncode, done.stdout) == (0, f"{VALUE}\n"), done.stderr
