"""A worker handler's reply body (raspy.client.worker.reply_frames): every frame
pyzmq sends is taken as its bytes, str as UTF-8; what is no list of frames, or a
frame that is no buffer, is a TypeError in the handler's thread."""

from __future__ import annotations

import pytest
import zmq

from raspy.client.worker import reply_frames


def test_every_buffer_a_handler_returned_before_is_still_sent() -> None:
    body = [b"a", "é", bytearray(b"b"), memoryview(b"c"), zmq.Frame(b"d")]
    assert reply_frames(body) == (b"a", "é".encode(), b"b", b"c", b"d")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("body", "said"),
    [
        (b"x", "not one bytes"),
        ("x", "not one str"),
        ([b"a", 1], "reply frame 1 is a int"),
        ([None], "reply frame 0 is a NoneType"),
    ],
)
def test_what_is_no_frame_is_a_type_error(body: object, said: str) -> None:
    with pytest.raises(TypeError, match=said):
        reply_frames(body)  # type: ignore[arg-type]
