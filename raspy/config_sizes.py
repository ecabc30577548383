"""Sizes a config must keep within what the store and the sockets hold (pure): a key
or value the store refuses, a Titanic record past store.max_value_bytes, a map a
32-bit process cannot hold: each used to fail only at run time."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, Final

from raspy.config_bounds import BOUNDS
from raspy.errors import shown
from raspy.protocol.clone import MAX_FRAME_BYTES, MAX_PROPS_BYTES

if TYPE_CHECKING:
    from raspy.config_messaging import CloneConfig, StoreConfig

# the word size of this Python: 32 on Raspberry Pi OS armhf, whose processes have 2 GiB
# of address space (its kernels split 2G/2G), less the interpreter, its libraries and
# the threads' stacks, and LMDB maps the whole store as one piece of it
PLATFORM_BITS: Final = 32 if sys.maxsize < 2**32 else 64
# MB: three quarters of that space for the map, a quarter left for the rest; past it a
# growing map failed to find room and every write was "store full" below its bound
MAX_MAP_MB_32_BIT: Final = 1536


def _effective(sections: dict[str, Any], name: str) -> Any:
    """The section as the config will have it: the file's, else its defaults."""
    from raspy.config import section_defaults  # raspy.config imports this module

    found = sections.get(name)
    return section_defaults(name) if found is None else found


# the record of a Titanic request or reply, or of a Clone value, around its contents:
# the msgpack map and its field names, as storage.tables encodes them
_RECORD_HEAD_BYTES: Final = 64

# LMDB's key limit (storage.tables.MAX_KEY_BYTES): a Clone key is stored as it is; a
# history row's key is 9 bytes (storage.tables: b"d", step, slot) before it
STORE_KEY_BYTES: Final = 511
HISTORY_ROW_KEY_HEAD: Final = 9


def key_size_problems(
    source: str, clone_section: CloneConfig, sections: dict[str, Any]
) -> list[str]:
    """A key the store cannot hold made every commit that carried it fail (a whole
    batch of readings, or every history write), and 0 refused every key."""
    size = clone_section.max_key_bytes
    if _effective(sections, "history").enabled:
        most, why = STORE_KEY_BYTES - HISTORY_ROW_KEY_HEAD, " (history on)"
    else:
        most, why = STORE_KEY_BYTES, ""
    if not 1 <= size <= most:
        return [
            f"{source}: clone.max_key_bytes: expected 1..{most}{why}, got {shown(size)}"
        ]
    return []


def titanic_problems(source: str, sections: dict[str, Any]) -> list[str]:
    """Titanic's request and reply are each stored as one value: a body the store
    refuses would be answered 500 ("retry later") for ever, or a reply run again and
    again, never stored."""
    if not {"titanic", "store", "broker"} & sections.keys():
        return []
    from raspy.cores.titanic_dispatch import FRAME_HEAD_BYTES

    titanic = _effective(sections, "titanic")
    if not titanic.enabled:
        return []
    limit = _effective(sections, "store").max_value_bytes
    frames = _effective(sections, "broker").max_frames
    if not (
        BOUNDS["store.max_value_bytes"].allows(limit)
        and BOUNDS["broker.max_frames"].allows(frames)
    ):
        return []  # named by bound_problems; "at most" would be below 0 here
    # the record around the frames: its msgpack map, and a header per frame, as
    # storage.tables encodes a Titanic request
    most = limit - _RECORD_HEAD_BYTES - FRAME_HEAD_BYTES * frames
    return [
        f"{source}: titanic.{name}: expected at most {most} (store.max_value_bytes "
        f"less the record around {frames} frames), got {shown(getattr(titanic, name))}"
        for name in ("max_body_bytes", "max_reply_bytes")
        # one past its own bound is named by bound_problems, once
        if getattr(titanic, name) > most
        and BOUNDS[f"titanic.{name}"].allows(getattr(titanic, name))
    ]


def clone_value_problems(source: str, sections: dict[str, Any]) -> list[str]:
    """A Clone value is stored with its properties as one kv record: a value the
    server takes but the store refuses failed its whole group commit, every other
    update of that loop turn with it (readings lost for good), and 0 refused all."""
    if not {"clone", "store"} & sections.keys():
        return []
    clone = _effective(sections, "clone")
    if not clone.enabled:
        return []
    limit = _effective(sections, "store").max_value_bytes
    if not BOUNDS["store.max_value_bytes"].allows(limit):
        return []  # named by bound_problems; the range would end below 0 here
    # the record around the value: its map, sequence and ttl, and the properties,
    # as storage.tables encodes it; as msgpack they take up to 1 byte in 33 more
    # than on the wire (32-byte names and values: 2 + 2 bytes of str8 headers
    # where the wire has = and a newline)
    stored = limit - _RECORD_HEAD_BYTES - MAX_PROPS_BYTES - MAX_PROPS_BYTES // 32
    # and the server's sockets drop a longer frame: a value over it, taken in the
    # config, never arrived from a client, which resent it until it gave up
    most, why = min(
        (stored, "store.max_value_bytes less the record around it"),
        (MAX_FRAME_BYTES, "the largest frame the Clone server's sockets take"),
    )
    if not 1 <= clone.max_value_bytes <= most:
        return [
            f"{source}: clone.max_value_bytes: expected 1..{most} ({why}), "
            f"got {shown(clone.max_value_bytes)}"
        ]
    return []


def map_size_problems(store: StoreConfig, source: str, word_bits: int) -> list[str]:
    """A map a 32-bit process cannot hold: the start or a growth failed when it came
    (BOUNDS has the 64-bit range)."""
    size = store.map_size_max_mb
    if (
        word_bits <= 32
        and size > MAX_MAP_MB_32_BIT
        and BOUNDS["store.map_size_max_mb"].allows(size)  # else named by bound_problems
    ):
        return [
            f"{source}: store.map_size_max_mb: expected 1..{MAX_MAP_MB_32_BIT} on this "
            f"32-bit platform (the most its address space leaves for the map), "
            f"got {size}"
        ]
    return []
