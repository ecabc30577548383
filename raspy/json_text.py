"""JSON text from outside raspy (a tree value, a request, a reply), and the JSON
raspy writes back.

Any Clone client may write, and any MDP peer may send, JSON nested deeper than
Python's stack (`[[[[…`, a few kB). For it `json.loads` raises RecursionError, which
is no ValueError: a reader that caught ValueError let it out, and failed the part it
ran in. JSON just shallow enough for `json.loads` fails later instead, when
`json.dumps` writes it from a deeper stack (a web handler, an MQTT result). So
`loads` takes no JSON nested deeper than MAX_DEPTH, which no device, scenario or
request of raspy comes near, and raises ValueError for it like for any other text
that is not JSON. An integer too large for a float (JSON has no limit, Python's
reader takes 4300 digits) is read as `1e400` is (an infinity, or what the caller's
`parse_float` makes of it), which every reader already meets: `float()` and
`math.isfinite()` of such an integer raise OverflowError, no ValueError either.

JSON may name a lone surrogate (`"\\ud800"`, or the bytes ED A0 80, which `json.loads`
takes from bytes), a character no UTF-8 holds: `encode` writes a value holding one
with its escape, as it was read, where `.encode("utf-8")` raised. JSON's `1e400`
reads as an infinity, which `encode` never writes (as `Infinity`, which is no JSON).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from raspy.devices.template import JsonValue  # a type: the module costs a start


MAX_DEPTH: Final = 100  # lists and objects inside one another
_FLOAT_DIGITS: Final = 300  # a float holds every integer of this many digits


def loads(text: str | bytes, **options: Any) -> Any:
    """json.loads, with JSON nested deeper than MAX_DEPTH a ValueError too, and an
    integer no float holds read as a real of its digits."""
    if len(text) > _FLOAT_DIGITS:  # only then can it hold such an integer: the
        # hook is a Python call per integer, left out of the readings' usual JSON
        as_real = options.get("parse_float", float)
        options = {**options, "parse_int": lambda t: _integer(t, as_real)}
    try:
        value = json.loads(text, **options)
    except RecursionError:
        raise ValueError("JSON nested too deep to decode") from None
    if _could_be_deeper(text) and _depth(value) > MAX_DEPTH:
        raise ValueError(f"JSON nested deeper than {MAX_DEPTH} levels")
    return value


def _integer(text: str, as_real: Callable[[str], Any]) -> Any:
    value = int(text)
    if len(text) > _FLOAT_DIGITS:  # only then may a float not hold it
        try:
            float(value)
        except OverflowError:
            return as_real(text)  # as json reads 1e400
    return value


def _could_be_deeper(text: str | bytes) -> bool:
    """More brackets than MAX_DEPTH (a scan in C): only then is the value walked."""
    if isinstance(text, str):
        return text.count("[") + text.count("{") > MAX_DEPTH
    return text.count(b"[") + text.count(b"{") > MAX_DEPTH


def _depth(value: object) -> int:
    """How many lists and objects are inside one another, without recursion."""
    deepest = 0
    todo = [(value, 1)]
    while todo:
        item, depth = todo.pop()
        if isinstance(item, list | dict):
            deepest = max(deepest, depth)
            children = item.values() if isinstance(item, dict) else item
            todo.extend((child, depth + 1) for child in children)
    return deepest


def tree_value(body: bytes | None) -> JsonValue:
    """A tree body as its JSON value (None for no body); a body that is not JSON,
    or is nested too deep, is its text."""
    if not body:
        return None
    try:
        value: JsonValue = loads(body)
    except ValueError:
        return body.decode("utf-8", "replace")
    return value


def encode(value: object, *, sort_keys: bool = False) -> bytes:
    """A value as the UTF-8 JSON raspy writes: a string holding a lone surrogate
    (read from JSON, or a document's `"\\ud800"`) is written with its non-ASCII
    escaped, the JSON it came as, rather than raise UnicodeEncodeError. A number
    that is not finite (`1e400` reads as one) is a ValueError: `Infinity` and `NaN`
    are no JSON, and a reader that is not Python refuses the whole body."""
    text = json.dumps(value, ensure_ascii=False, allow_nan=False, sort_keys=sort_keys)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(value, allow_nan=False, sort_keys=sort_keys).encode("ascii")
