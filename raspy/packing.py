"""msgpack with hard limits: the only module that imports msgpack."""

from __future__ import annotations

from typing import Any, Final

import msgpack

from raspy.errors import PackingError

MAX_PACKED_BYTES: Final = 16 * 1024 * 1024
_MAX_ITEMS: Final = 100_000


def pack(value: Any) -> bytes:
    """Encode a value (None, bool, int, float, str, bytes, list, dict)."""
    try:
        packed: bytes = msgpack.packb(value, use_bin_type=True)
    except (TypeError, ValueError, OverflowError) as exc:
        raise PackingError(f"cannot pack {type(value).__name__}: {exc}") from exc
    if len(packed) > MAX_PACKED_BYTES:
        raise PackingError(f"packed size {len(packed)} over {MAX_PACKED_BYTES}")
    return packed


def unpack(data: bytes) -> Any:
    """Decode one value; anything malformed or over the limits is a PackingError."""
    if len(data) > MAX_PACKED_BYTES:
        raise PackingError(f"packed size {len(data)} over {MAX_PACKED_BYTES}")
    try:
        return msgpack.unpackb(
            data,
            raw=False,
            strict_map_key=False,
            max_str_len=MAX_PACKED_BYTES,
            max_bin_len=MAX_PACKED_BYTES,
            max_array_len=_MAX_ITEMS,
            max_map_len=_MAX_ITEMS,
            max_ext_len=0,
        )
    except (
        ValueError,
        TypeError,
        msgpack.ExtraData,
        msgpack.FormatError,
        msgpack.StackError,
        UnicodeDecodeError,
    ) as exc:
        why = str(exc) or "not msgpack data"  # FormatError (a byte 0xc1) has no words
        raise PackingError(f"cannot unpack {len(data)} bytes: {why}") from exc
