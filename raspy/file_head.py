"""The first bytes of a file a user names (a config, a scenario file), never a hang.

A name can be a pipe: a FIFO, `/dev/stdin` on a pipe, `<(...)`. Opened as a file,
one that nobody writes kept the tool in open() or read() for ever, without a word
(`raspyd --check-config FIFO`). A pipe is read here while something comes through
it: one silent for PIPE_SILENT_S, before its writer closed it, is an OSError
(ETIMEDOUT) whose strerror says so, as the callers say any OSError of the file.
"""

from __future__ import annotations

import errno
import os
import select
import stat
import time
from typing import Final

PIPE_SILENT_S: Final = 10.0  # a writer of a pipe (`<(ssh hub cat …)`) may be slow
_CHUNK: Final = 65536


def read_head(path: str, limit: int, silent_s: float = PIPE_SILENT_S) -> bytes:
    """Up to `limit` bytes of `path` (more are left unread: /dev/zero ends); a pipe
    or a socket silent for `silent_s` raises OSError(ETIMEDOUT)."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode):
            return _pipe_head(fd, limit, silent_s)
        os.set_blocking(fd, True)  # a file, a device: read as any file
        with os.fdopen(fd, "rb", closefd=False) as handle:
            return handle.read(limit)
    finally:
        os.close(fd)


def _pipe_head(fd: int, limit: int, silent_s: float) -> bytes:
    """Read until the writer closes, or `limit`; the O_NONBLOCK open returned at once
    even with no writer, and poll() waits for one (a read would be an early EOF)."""
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    chunks: list[bytes] = []
    size = 0
    while size < limit:
        deadline = time.monotonic() + silent_s
        while not poller.poll(max(0.0, deadline - time.monotonic()) * 1000):
            if time.monotonic() >= deadline:
                raise OSError(
                    errno.ETIMEDOUT,
                    f"a pipe: nothing came through it within {silent_s:g} s, or its "
                    "writer did not close it",
                )
        try:
            chunk = os.read(fd, min(_CHUNK, limit - size))
        except BlockingIOError:
            continue
        if not chunk:  # its writer closed it
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)
