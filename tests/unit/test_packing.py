"""raspy.packing: msgpack with hard limits, the only msgpack import."""

from __future__ import annotations

import contextlib
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from raspy import packing
from raspy.errors import PackingError

_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=20)
    | st.binary(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=5), inner, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(_VALUES)
def test_unpack_of_pack_gives_the_value_back(value: Any) -> None:
    assert packing.unpack(packing.pack(value)) == value


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=64))
def test_any_bytes_unpack_or_raise_packing_error(data: bytes) -> None:
    with contextlib.suppress(PackingError):
        packing.unpack(data)


def test_values_msgpack_cannot_encode_raise_packing_error() -> None:
    with pytest.raises(PackingError, match="cannot pack object"):
        packing.pack(object())


def test_trailing_bytes_are_refused() -> None:
    with pytest.raises(PackingError):
        packing.unpack(packing.pack(1) + b"\x01")


def test_bytes_that_are_no_msgpack_are_said_to_be_none() -> None:
    """0xc1 begins no msgpack value: msgpack's error has no words, and `raspy-kv
    check` printed `kv '/bad': kv record: cannot unpack 8 bytes: `, ending in an
    empty reason."""
    with pytest.raises(PackingError) as raised:
        packing.unpack(b"\xc1garbage")
    assert str(raised.value) == "cannot unpack 8 bytes: not msgpack data"
