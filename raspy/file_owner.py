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


def give_to_folder_owner(fd: int, folder: Path) -> None:
    """Give the open file `fd`, made in `folder`, to the folder's owner and group
    when this process is root and the folder is another user's (its mode stays).
    Only a file that is surely the one just made (is_made_by_root) is given."""
    if os.geteuid() != 0 or not is_made_by_root(fd):
        return
    info = folder.stat()
    if info.st_uid != 0:
        os.fchown(fd, info.st_uid, info.st_gid)


def is_made_by_root(fd: int) -> bool:
    """Is `fd` a regular file of root's with no other name (st_nlink 1)? Anything
    else, given away, could be a file of root's that another name points at."""
    info = os.fstat(fd)
    return stat.S_ISREG(info.st_mode) and info.st_nlink == 1 and info.st_uid == 0
