"""Who owns a file a command makes in another user's folder. Run as root (`sudo raspy
web-token --data-dir /var/lib/raspy`), a command would leave root's file, 0600, in
the data dir of the service user, who then cannot read it: its login fails, its
lock file cannot be opened. As root, such a file is given to the folder's owner and
group instead; anyone else makes files that are theirs, as ever."""

from __future__ import annotations

import os
from pathlib import Path


def give_to_folder_owner(fd: int, folder: Path) -> None:
    """Give the open file `fd`, made in `folder`, to the folder's owner and group
    when this process is root and the folder is another user's (its mode stays)."""
    if os.geteuid() != 0:
        return
    info = folder.stat()
    if info.st_uid != 0:
        os.fchown(fd, info.st_uid, info.st_gid)
