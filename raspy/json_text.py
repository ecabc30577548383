"""JSON text from outside raspy: a tree value, a request, a reply.

Any Clone client may write, and any MDP peer may send, JSON nested deeper than
Python's stack (`[[[[…`, a few kB). For it `json.loads` raises RecursionError, which
is no ValueError: a reader that caught ValueError let it out, and failed the part it
ran in. `loads` raises ValueError for it like for any other text that is not JSON.
"""

from __future__ import annotations

import json
from typing import Any

from raspy.devices.template import JsonValue


def loads(text: str | bytes, **options: Any) -> Any:
    """json.loads, with JSON nested too deep to decode a ValueError too."""
    try:
        return json.loads(text, **options)
    except RecursionError:
        raise ValueError("JSON nested too deep to decode") from None


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
