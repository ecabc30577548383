"""Clustered Hashmap Protocol codec (RFC 12/CHP), docs/protocols.md §6.

Frames (peer view, routing id stripped) <-> frozen dataclasses. Pure: no state, no I/O.
Every check of §6.2-§6.4 and §6.6 lives here and raises MalformedMessage("clone", ...).
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Mapping, Sequence
from typing import Final

from raspy.errors import MalformedMessage, quote, shown
from raspy.names import joined_address
from raspy.records import frozen

_PROTO: Final = "clone"

# §6.2: command literals in frame 0 (ICANHAZ? carries the question mark)
ICANHAZ: Final = b"ICANHAZ?"
KTHXBAI: Final = b"KTHXBAI"
HUGZ: Final = b"HUGZ"

MAX_KEY_BYTES: Final = 255  # §6.2: the C kvmsg limit
MAX_PROPS_BYTES: Final = 4096  # raspy: properties are a few short name=value lines
# the largest frame the server's sockets take (ZMQ_MAXMSGSIZE, which libzmq checks
# per frame): a peer that sends more is disconnected, so no longer value arrives
MAX_FRAME_BYTES: Final = 4 * 1024 * 1024
MAX_SEQ: Final = 2**64 - 1
UUID_BYTES: Final = 16
TTL_PROPERTY: Final = "ttl"
MAX_TTL_S: Final = 1e9  # about 31 years; keeps deadlines finite
_SEQ: Final = struct.Struct(">Q")  # §6.2: exactly 8 bytes, unsigned, big-endian
ZERO_SEQ: Final = bytes(8)
_LITERALS: Final = frozenset((KTHXBAI, HUGZ))
_ESCAPE: Final = "surrogateescape"  # properties' bytes that are not UTF-8

Props = tuple[tuple[str, str], ...]


def max_kvmsg_bytes(max_key_bytes: int, max_value_bytes: int) -> int:
    """The bytes of the largest KVMSG a server with these limits can publish."""
    return max_key_bytes + _SEQ.size + UUID_BYTES + MAX_PROPS_BYTES + max_value_bytes


@frozen
class KvMsg:
    """The five-frame message (§6.2): KVSYNC, KVPUB, KVSET, KTHXBAI or HUGZ.

    An empty body means delete (§6.4).
    """

    key: bytes
    seq: int
    uuid: bytes = b""
    props: Props = ()
    body: bytes = b""


@frozen
class Icanhaz:
    """Snapshot request (§6.3); subtree b"" is the whole map."""

    subtree: bytes


@frozen
class Endpoints:
    """The three Clone endpoints (§6.1): snapshot, publisher, collector."""

    snapshot: str
    publisher: str
    collector: str

    def __post_init__(self) -> None:
        # refused here, in the caller's thread: in connect() on the client's own
        # thread it would end that thread
        for endpoint in (self.snapshot, self.publisher, self.collector):
            try:
                endpoint.encode()
            except UnicodeEncodeError:
                raise ValueError(f"endpoint {endpoint!a} is not UTF-8 text") from None

    @classmethod
    def from_port_base(cls, host: str, port_base: int) -> Endpoints:
        """raspy's ports: MDP at N, snapshot N+1, publisher N+2, collector N+3."""
        if not 1 <= port_base <= 65532:
            raise ValueError(f"port base must be 1..65532, got {port_base}")
        return cls(
            snapshot=f"tcp://{joined_address(host, port_base + 1)}",
            publisher=f"tcp://{joined_address(host, port_base + 2)}",
            collector=f"tcp://{joined_address(host, port_base + 3)}",
        )

    @classmethod
    def parse(cls, text: str) -> Endpoints:
        """`tcp://HOST:N` or `HOST:N` (N the port base) -> the three endpoints."""
        address = text.removeprefix("tcp://")
        host, sep, port = address.rpartition(":")
        # "/" in the host: another scheme (udp://, ipc://), not raspy's HOST:N
        if (
            not sep
            or not host
            or "/" in host
            or not (port.isascii() and port.isdigit())
        ):
            raise ValueError(f"expected HOST:PORT-BASE, got {shown(text)}")
        return cls.from_port_base(host.strip("[]"), int(port))


# --- sequence numbers ---------------------------------------------------------------


def encode_seq(seq: int) -> bytes:
    """8 bytes big-endian; ValueError outside 0..2**64-1."""
    if not 0 <= seq <= MAX_SEQ:
        raise ValueError(f"sequence {seq} outside 0..2**64-1")
    return _SEQ.pack(seq)


def decode_seq(frame: bytes) -> int:
    if len(frame) != _SEQ.size:
        raise MalformedMessage(
            _PROTO, "bad_sequence", f"{len(frame)} bytes, expected 8"
        )
    value: int = _SEQ.unpack(frame)[0]
    return value


# --- properties (§6.2) ----------------------------------------------------------------


def encode_props(props: Iterable[tuple[str, str]] | Mapping[str, str]) -> bytes:
    """`name=value\\n` per property, in order; ValueError for what §6.2 forbids."""
    pairs = props.items() if isinstance(props, Mapping) else props
    lines: list[str] = []
    for name, value in pairs:
        if not name or "=" in name or "\n" in name:
            raise ValueError(f"bad property name {name!r}")
        if "\n" in value:
            raise ValueError(f"property {name!r}: value contains a newline")
        lines.append(f"{name}={value}\n")
    try:
        return "".join(lines).encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: raspy writes only text
        bad = next(line for line in lines if not _is_utf8(line))
        raise ValueError(f"property {quote(bad.rstrip())}: not UTF-8 text") from None


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def decode_props(frame: bytes) -> Props:
    """Split lines on \\n, skip empty ones, split each at its first `=` (§6.2).

    RFC 12 asks nothing of the bytes but `=` and newlines: any that are not UTF-8
    come through as lone surrogates (errors="surrogateescape"), so that
    `prop_bytes` gives them back exactly. encode_props refuses them: raspy writes
    only text.
    """
    if len(frame) > MAX_PROPS_BYTES:
        raise MalformedMessage(
            _PROTO, "properties_too_large", f"{len(frame)} > {MAX_PROPS_BYTES}"
        )
    props: list[tuple[str, str]] = []
    for line in frame.split(b"\n"):
        if not line:
            continue
        name, sep, value = line.partition(b"=")
        if not sep or not name:
            raise MalformedMessage(_PROTO, "bad_properties", f"line {quote(line)}")
        props.append((name.decode("utf-8", _ESCAPE), value.decode("utf-8", _ESCAPE)))
    return tuple(props)


def prop_bytes(text: str) -> bytes:
    """A property's name or value as the bytes the frame held (see decode_props)."""
    return text.encode("utf-8", _ESCAPE)


def prop(props: Props, name: str) -> str | None:
    """The value of the last property called `name`, or None."""
    found: str | None = None
    for key, value in props:
        if key == name:
            found = value
    return found


def parse_ttl(text: str) -> float:
    """§6.6: a non-negative decimal integer or fraction of seconds (0 = permanent).

    Any length the properties frame holds; over MAX_TTL_S it is clamped (§6.4 drops
    only what is not a non-negative number), so that deadlines stay finite.
    """
    whole, _, fraction = text.partition(".")
    valid = (
        text.isascii()  # isdigit() alone admits digits such as '²'
        and bool(whole or fraction)
        and (not whole or whole.isdigit())
        and (not fraction or fraction.isdigit())
    )
    if not valid:
        raise MalformedMessage(_PROTO, "bad_ttl", f"ttl={quote(prop_bytes(text))}")
    return min(float(text), MAX_TTL_S)


def format_ttl(ttl_s: float) -> str:
    """Integers as integers (§6.6: raspy sends integers), else up to microseconds."""
    if not 0 <= ttl_s <= MAX_TTL_S:
        raise ValueError(f"ttl must be 0..{MAX_TTL_S:.0f} s, got {ttl_s}")
    if ttl_s == int(ttl_s):
        return str(int(ttl_s))
    text = f"{ttl_s:.6f}".rstrip("0").rstrip(".")
    return "0.000001" if text == "0" else text


def ttl_of(props: Props) -> float | None:
    """The `ttl` property in seconds, None when absent or 0 (permanent)."""
    text = prop(props, TTL_PROPERTY)
    if text is None:
        return None
    value = parse_ttl(text)
    return value if value > 0 else None


# --- keys and subtrees (§6.2, §6.3) --------------------------------------------------


def is_command(key: bytes) -> bool:
    """Is `key` a command literal (KTHXBAI, HUGZ), which no key may be (§6.2)?"""
    return key in _LITERALS


def check_key(key: bytes, max_key_bytes: int = MAX_KEY_BYTES) -> None:
    """A key as RFC 12 has it (§6.2): non-empty, at most `max_key_bytes` bytes, and
    not a command literal (it would read as KTHXBAI or HUGZ). The server's rule."""
    if not key:
        raise MalformedMessage(_PROTO, "bad_key", "empty key")
    if is_command(key):
        raise MalformedMessage(_PROTO, "bad_key", f"key {quote(key)} is a command")
    if len(key) > max_key_bytes:
        raise MalformedMessage(
            _PROTO,
            "key_too_long",
            f"key of {len(key)} bytes (at most {max_key_bytes})",
        )


def check_path_key(key: bytes, max_key_bytes: int = MAX_KEY_BYTES) -> None:
    """A raspy key: an RFC key that also starts with `/` (raspy's own subtrees are
    /-rooted by convention; raspy's clients and in-process writers keep to it)."""
    if not key.startswith(b"/"):
        raise MalformedMessage(_PROTO, "bad_key", f"key {quote(key)} is not /-rooted")
    check_key(key, max_key_bytes)


def split_by_key(
    entries: Iterable[tuple[bytes, bytes]], max_key_bytes: int = MAX_KEY_BYTES
) -> tuple[list[tuple[bytes, bytes]], list[tuple[bytes, str]]]:
    """(entries whose key is a raspy key, [(refused key, reason)]), order kept."""
    valid: list[tuple[bytes, bytes]] = []
    refused: list[tuple[bytes, str]] = []
    for key, body in entries:
        try:
            check_path_key(key, max_key_bytes)
        except MalformedMessage as exc:
            refused.append((key, str(exc)))
            continue
        valid.append((key, body))
    return valid, refused


def check_subtree(subtree: bytes, max_key_bytes: int = MAX_KEY_BYTES) -> None:
    """A raspy client's subtree: empty (the whole map) or a /-rooted key prefix."""
    if subtree:
        try:
            check_path_key(subtree, max_key_bytes)
        except MalformedMessage as exc:
            raise MalformedMessage(_PROTO, "bad_subtree", exc.detail) from exc


# --- messages -----------------------------------------------------------------------


def encode_kvmsg(msg: KvMsg) -> list[bytes]:
    """Five frames: key, seq, uuid, properties, body (§6.2)."""
    if msg.uuid and len(msg.uuid) != UUID_BYTES:
        raise ValueError(f"uuid must be empty or 16 bytes, got {len(msg.uuid)}")
    return [msg.key, encode_seq(msg.seq), msg.uuid, encode_props(msg.props), msg.body]


def decode_kvmsg(frames: Sequence[bytes]) -> KvMsg:
    """Any five-frame message; checks shape only (see decode_kvset for a KVSET)."""
    if len(frames) != 5:
        raise MalformedMessage(_PROTO, "wrong_frame_count", f"{len(frames)} frames")
    key, seq_frame, uuid, props_frame, body = frames
    if not key:
        raise MalformedMessage(_PROTO, "bad_key", "empty key")
    seq = decode_seq(seq_frame)
    if uuid and len(uuid) != UUID_BYTES:
        raise MalformedMessage(_PROTO, "bad_uuid", f"{len(uuid)} bytes")
    return KvMsg(bytes(key), seq, bytes(uuid), decode_props(props_frame), bytes(body))


def decode_kvset(frames: Sequence[bytes], max_key_bytes: int = MAX_KEY_BYTES) -> KvMsg:
    """A client's KVSET (§6.4): the five frames, an RFC key and a valid ttl."""
    msg = decode_kvmsg(frames)
    check_key(msg.key, max_key_bytes)
    ttl_of(msg.props)  # raises bad_ttl (§6.4: ttl must be a non-negative number)
    return msg


def kvset(
    key: bytes, body: bytes, uuid: bytes, props: Props = (), ttl_s: float | None = None
) -> list[bytes]:
    """Client -> collector, sequence zero (§6.4); `ttl_s` replaces any ttl in props."""
    if ttl_s is not None:
        props = (
            *((n, v) for n, v in props if n != TTL_PROPERTY),
            ("ttl", format_ttl(ttl_s)),
        )
    return encode_kvmsg(KvMsg(key, 0, uuid, props, body))


def kvsync(key: bytes, seq: int, body: bytes) -> list[bytes]:
    """Server snapshot entry: UUID and properties empty, as RFC 12 shows (§6.3)."""
    return [key, encode_seq(seq), b"", b"", body]


def kthxbai(seq: int, subtree: bytes) -> list[bytes]:
    """End of snapshot: the sequence the snapshot reflects; body echoes the subtree."""
    return [KTHXBAI, encode_seq(seq), b"", b"", subtree]


def hugz() -> list[bytes]:
    """Heartbeat: sequence eight zero bytes, as RFC 12 writes it (§6.5)."""
    return [HUGZ, ZERO_SEQ, b"", b"", b""]


def encode_icanhaz(subtree: bytes) -> list[bytes]:
    return [ICANHAZ, subtree]


def decode_icanhaz(frames: Sequence[bytes]) -> Icanhaz:
    """Exactly two frames, `ICANHAZ?` then a subtree (§6.3): any key prefix, empty for
    the whole map. RFC 12 asks nothing of its shape or length, and the server must
    answer every request: one longer than any key simply matches none."""
    if len(frames) != 2:
        raise MalformedMessage(_PROTO, "wrong_frame_count", f"{len(frames)} frames")
    if frames[0] != ICANHAZ:
        raise MalformedMessage(_PROTO, "bad_command", f"command {quote(frames[0])}")
    return Icanhaz(bytes(frames[1]))
