"""A context manager base for objects that own sockets, threads or transactions."""

from __future__ import annotations

from typing import Self


class Closing:
    """`with obj:` calls obj.close() on the way out, whatever happened inside."""

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
