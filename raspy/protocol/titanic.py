"""Titanic Service Protocol (RFC 9/TSP) bodies and status frames; docs/protocols.md §5.

Pure: MDP body frames <-> frozen dataclasses. No state, no I/O. The MDP envelope
(header, service frame) is the MDP codec's business; this module sees only bodies.
"""

from __future__ import annotations

import os
import uuid as uuid_mod
from collections.abc import Sequence
from enum import Enum
from typing import Final

from raspy.errors import MalformedMessage, quote
from raspy.records import frozen

_PROTO: Final = "titanic"

# §5.2: the three services Titanic serves as an MDP worker.
REQUEST_SERVICE: Final = b"titanic.request"
REPLY_SERVICE: Final = b"titanic.reply"
CLOSE_SERVICE: Final = b"titanic.close"
SERVICES: Final = (REQUEST_SERVICE, REPLY_SERVICE, CLOSE_SERVICE)

UUID_LENGTH: Final = 32
_HEX: Final = frozenset(b"0123456789abcdefABCDEF")


class Status(bytes, Enum):
    """§5.3: the only four status codes; sent as bare ASCII digits."""

    OK = b"200"
    PENDING = b"300"
    UNKNOWN = b"400"
    ERROR = b"500"


_STATUS_BY_CODE: Final = {status.value: status for status in Status}
_UUID_POOL_BYTES: Final = 16 * 256  # one urandom call per 256 request ids


def new_uuid() -> str:
    """A fresh request id: 32 lowercase hex characters from a UUID4 (§5.2 raspy)."""
    return uuid_mod.uuid4().hex


class PooledUuids:
    """Request ids as uuid4().hex (docs/protocols.md §5.2 raspy), from pooled urandom bytes.

    One system call per 256 ids instead of one per id; used by one actor thread.
    """

    def __init__(self) -> None:
        self._pool = b""
        self._offset = 0

    def __call__(self) -> str:
        if self._offset >= len(self._pool):
            self._pool = os.urandom(_UUID_POOL_BYTES)
            self._offset = 0
        raw = bytearray(self._pool[self._offset : self._offset + 16])
        self._offset += 16
        raw[6] = (raw[6] & 0x0F) | 0x40  # version 4 (RFC 4122 §4.4)
        raw[8] = (raw[8] & 0x3F) | 0x80  # variant 10
        return raw.hex()


def parse_uuid(frame: bytes) -> str:
    """The canonical (lowercase) UUID in `frame`; either case is accepted (§5.2 raspy).

    Raises MalformedMessage("titanic", "bad_uuid") for anything that is not exactly
    32 hex characters; Titanic answers that with 400, like an unknown UUID.
    """
    if len(frame) != UUID_LENGTH or not _HEX.issuperset(frame):
        raise MalformedMessage(_PROTO, "bad_uuid", quote(frame))
    return frame.decode("ascii").lower()


# ---------------------------------------------------------------- request bodies


@frozen
class Request:
    """`titanic.request` body: the target service and its request body (§5.2)."""

    service: bytes
    body: tuple[bytes, ...]


@frozen
class ReplyQuery:
    """`titanic.reply` body: one UUID frame (§5.2)."""

    uuid: str


@frozen
class Close:
    """`titanic.close` body: one UUID frame (§5.2)."""

    uuid: str


def encode_request(request: Request) -> list[bytes]:
    """Body frames of a `titanic.request`; ValueError if it could never be valid."""
    if not request.service or not request.body:
        raise ValueError("a Titanic request needs a target service and a body frame")
    return [request.service, *request.body]


def decode_request(frames: Sequence[bytes]) -> Request:
    """Decode a `titanic.request` body (§5.2: 2 or more frames).

    Raises MalformedMessage with reason short or bad_service (both answered 400, §5.3).
    """
    if len(frames) < 2:
        raise MalformedMessage(
            _PROTO, "short", f"titanic.request: {len(frames)} frames"
        )
    if not frames[0]:
        raise MalformedMessage(_PROTO, "bad_service", "empty target service")
    return Request(frames[0], tuple(frames[1:]))


def _one_uuid(frames: Sequence[bytes], what: str) -> str:
    if len(frames) != 1:
        reason = "short" if not frames else "extra_frames"
        raise MalformedMessage(_PROTO, reason, f"{what}: {len(frames)} frames")
    return parse_uuid(frames[0])


def encode_reply_query(query: ReplyQuery) -> list[bytes]:
    """Body frames of a `titanic.reply` request."""
    return [query.uuid.encode("ascii")]


def decode_reply_query(frames: Sequence[bytes]) -> ReplyQuery:
    """Decode a `titanic.reply` body (one UUID frame); raises MalformedMessage."""
    return ReplyQuery(_one_uuid(frames, "titanic.reply"))


def encode_close(close: Close) -> list[bytes]:
    """Body frames of a `titanic.close` request."""
    return [close.uuid.encode("ascii")]


def decode_close(frames: Sequence[bytes]) -> Close:
    """Decode a `titanic.close` body (one UUID frame); raises MalformedMessage."""
    return Close(_one_uuid(frames, "titanic.close"))


# ---------------------------------------------------------------- reply bodies


@frozen
class Answer:
    """A Titanic reply body: a status, then (only with 200) the payload frames.

    For `titanic.request` the payload is the UUID; for `titanic.reply` it is the
    stored reply body; `titanic.close` has none.
    """

    status: Status
    payload: tuple[bytes, ...] = ()


def encode_answer(answer: Answer) -> list[bytes]:
    """Body frames: the bare status digits, then the payload (§5.3 raspy)."""
    return [answer.status.value, *answer.payload]


def parse_status(frame: bytes) -> Status:
    """The status in a frame, read from its first three bytes (§5.3 raspy).

    Any text after the digits is ignored. Raises MalformedMessage("titanic",
    "bad_status") for anything but the four codes of §5.3.
    """
    status = _STATUS_BY_CODE.get(frame[:3])
    if status is None:
        raise MalformedMessage(_PROTO, "bad_status", quote(frame))
    return status


def decode_answer(frames: Sequence[bytes]) -> Answer:
    """Decode any Titanic reply body; raises MalformedMessage (short, bad_status)."""
    if not frames:
        raise MalformedMessage(_PROTO, "short", "reply without a status frame")
    return Answer(parse_status(frames[0]), tuple(frames[1:]))


def accepted_uuid(answer: Answer) -> str:
    """The UUID carried by a 200 answer to `titanic.request` (§5.2).

    Raises MalformedMessage if the answer is 200 without exactly one valid UUID.
    """
    if answer.status is not Status.OK or len(answer.payload) != 1:
        raise MalformedMessage(
            _PROTO,
            "bad_answer",
            f"{answer.status.name} with {len(answer.payload)} frames",
        )
    return parse_uuid(answer.payload[0])
