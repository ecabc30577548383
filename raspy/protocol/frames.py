"""Frame limits and checked readers shared by every codec (no I/O here)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from raspy.errors import MalformedMessage
from raspy.records import frozen

Frames = list[bytes]

DEFAULT_MAX_FRAMES: Final = 64
DEFAULT_MAX_FRAME_BYTES: Final = 1024 * 1024
DEFAULT_MAX_MESSAGE_BYTES: Final = 4 * 1024 * 1024


@frozen
class FrameLimits:
    """Limits applied to every incoming message before any decoding."""

    max_frames: int = DEFAULT_MAX_FRAMES
    max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES

    def check(self, protocol: str, frames: Sequence[bytes]) -> None:
        """Raise MalformedMessage if the message is over any limit."""
        if len(frames) > self.max_frames:
            raise MalformedMessage(
                protocol, "too_many_frames", f"{len(frames)} > {self.max_frames}"
            )
        total = 0
        for frame in frames:
            size = len(frame)
            if size > self.max_frame_bytes:
                raise MalformedMessage(
                    protocol, "frame_too_large", f"{size} > {self.max_frame_bytes}"
                )
            total += size
        if total > self.max_message_bytes:
            raise MalformedMessage(
                protocol, "message_too_large", f"{total} > {self.max_message_bytes}"
            )


def service_name(service: bytes) -> str:
    """A service name for logs: ASCII in practice (docs/protocols.md §1.8), never raw."""
    return service[:64].decode("ascii", "backslashreplace")


def to_bytes(value: bytes | str) -> bytes:
    """str as UTF-8; bytes unchanged."""
    return value.encode("utf-8") if isinstance(value, str) else value
