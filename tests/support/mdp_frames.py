"""Worker-side MDP frames written out from docs/protocols.md §2.4, §3.3 and §3.4 (peer view).

Shared by the worker and codec tests, so that the vectors are written once, from the
spec, and never produced by the codec under test.
"""

from __future__ import annotations

from raspy.protocol.mdp import Version

V01, V02, VMJ = Version.V01, Version.V02, Version.MAJORTOMO
C1 = b"\x00\x80\x00\x00\x01"
SVC = b"echo"

HEARTBEAT = {
    V01: [b"", b"MDPW01", b"\x04"],
    V02: [b"MDPW02", b"\x05"],
    VMJ: [b"", b"MDPW02", b"\x05"],
}
DISCONNECT = {
    V01: [b"", b"MDPW01", b"\x05"],
    V02: [b"MDPW02", b"\x06"],
    VMJ: [b"", b"MDPW02", b"\x06"],
}
_REQUEST_HEAD = {
    V01: [b"", b"MDPW01", b"\x02"],
    V02: [b"MDPW02", b"\x02"],
    VMJ: [b"", b"MDPW02", b"\x02"],
}
_FINAL_HEAD = {
    V01: [b"", b"MDPW01", b"\x03"],
    V02: [b"MDPW02", b"\x04"],
    VMJ: [b"", b"MDPW02", b"\x04"],
}


def requests(body: bytes) -> dict[Version, list[bytes]]:
    """Broker -> worker REQUEST from client C1 with one body frame, per version."""
    return {v: [*head, C1, b"", body] for v, head in _REQUEST_HEAD.items()}


def finals(body: bytes) -> dict[Version, list[bytes]]:
    """Worker -> broker REPLY (0.1) or FINAL (0.2) to client C1, per version."""
    return {v: [*head, C1, b"", body] for v, head in _FINAL_HEAD.items()}
