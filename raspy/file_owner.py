"""Who owns a file a command makes in another user's folder. Run as root (`sudo raspy
web-token --data-dir /var/lib/raspy`), a command would leave root's file, 0600, in
the data dir of the service user, who then cannot read it: its login fails, its
lock file cannot be opened. As root, such a file is given to the folder's owner and
group instead; anyone else makes files that are theirs, as ever.

That user can plant names in its own folder, so only a file this process has just
made is given away: a regular file, root's, with one link. A hard link to a file of
root's (or one that was root's already) keeps its owner; callers open without
following a symbolic link (O_NOFOLLOW, or O_EXCL on a new name)."""

from __future__ import annotations

import os
import stat
from pathlib import Path


def give_to_folder_owner(
    fd: int, folder: Path, info: os.stat_result | None = None
) -> None:
    """Give the open file `fd`, made in `folder`, to the folder's owner and group
    when this process is root and the folder is another user's (its mode stays).
    Only a file that is surely the one just made is given: a regular file of
    root's with no other name; anything else, given away, could be a file of root's
    that another name points at. `info`: the file's fstat, if the caller has it."""
    if os.geteuid() != 0:
        return
    info = os.fstat(fd) if info is None else info
    if plain_file_problem(info) is not None or info.st_uid != 0:
        return
    owner = folder.stat()
    if owner.st_uid != 0:
        os.fchown(fd, owner.st_uid, owner.st_gid)


def plain_file_problem(info: os.stat_result) -> str | None:
    """What makes a file (its stat `info`) unsafe for root to write into or give
    away: anything but a regular file with one link (a hard link to a file of
    root's would be truncated or given). None when it is fine."""
    if not stat.S_ISREG(info.st_mode):
        return "not a regular file"
    if info.st_nlink != 1:
        return f"a file with {info.st_nlink} names (hard links)"
    return None
