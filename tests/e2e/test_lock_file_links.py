"""The data dir's lock file, taken by root (`sudo raspy web-token --if-none`) in a
folder the service user owns: a name that user planted there (a symbolic or hard
link to a file of root's) must not make root write into that file or give it away.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from raspy.errors import DataDirLockError
from raspy.file_owner import give_to_folder_owner
from raspy.storage.lock import DataDirLock

SERVICE_UID = 65534  # the user a data dir belongs to (raspy's, as a service)
SERVICE_GID = 65533
SECRET = b"root:$6$secret:19000:0:99999:7:::\n"


def _root_only() -> None:
    if os.geteuid() != 0:
        pytest.skip("a file of root's given away needs root (CI runs as root)")


def _service_dir(tmp_path: Path) -> Path:
    data_dir = tmp_path / "data"
    data_dir.mkdir(mode=0o700)
    os.chown(data_dir, SERVICE_UID, SERVICE_GID)
    return data_dir


def _victim(tmp_path: Path) -> Path:
    victim = tmp_path / "shadow"  # root's, 0600, as /etc/shadow
    victim.write_bytes(SECRET)
    victim.chmod(0o600)
    return victim


def _state(path: Path) -> tuple[int, int, int, bytes]:
    info = path.stat()
    return info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode), path.read_bytes()


@pytest.mark.timeout(60)
def test_a_symlinked_lock_is_refused_and_its_target_untouched(tmp_path: Path) -> None:
    _root_only()
    data_dir = _service_dir(tmp_path)
    victim = _victim(tmp_path)
    (data_dir / "lock").symlink_to(victim)
    made = subprocess.run(
        [
            *(sys.executable, "-m", "raspy.cli.raspy", "web-token"),
            *("--data-dir", str(data_dir), "--if-none"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert made.returncode != 0
    assert f"its lock file {data_dir / 'lock'} is a symbolic link" in made.stderr
    assert "Traceback" not in made.stderr
    assert _state(victim) == (0, 0, 0o600, SECRET)
    assert not (data_dir / "web-token").exists()


@pytest.mark.timeout(30)
def test_a_hard_linked_lock_is_refused_and_its_other_name_untouched(
    tmp_path: Path,
) -> None:
    _root_only()
    data_dir = _service_dir(tmp_path)
    victim = _victim(tmp_path)
    os.link(victim, data_dir / "lock")
    with pytest.raises(DataDirLockError, match=r"a file with 2 names \(hard links\)"):
        DataDirLock(data_dir)
    assert _state(victim) == (0, 0, 0o600, SECRET)


@pytest.mark.timeout(30)
def test_only_a_file_just_made_by_root_is_given_to_the_folders_owner(
    tmp_path: Path,
) -> None:
    _root_only()
    data_dir = _service_dir(tmp_path)
    victim = _victim(tmp_path)
    os.link(victim, data_dir / "linked")
    fd = os.open(data_dir / "linked", os.O_RDONLY)
    try:
        give_to_folder_owner(fd, data_dir)  # a hard link to root's file: kept
    finally:
        os.close(fd)
    assert _state(victim) == (0, 0, 0o600, SECRET)
    fresh = data_dir / "fresh"
    fd = os.open(fresh, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        give_to_folder_owner(fd, data_dir)  # made now: the service's
    finally:
        os.close(fd)
    assert _state(fresh)[:3] == (SERVICE_UID, SERVICE_GID, 0o600)
    lock = DataDirLock(data_dir)  # a lock made now is the service's too
    lock.release()
    assert _state(data_dir / "lock")[:3] == (SERVICE_UID, SERVICE_GID, 0o600)
