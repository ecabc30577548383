"""What the recorder takes in from the hub, read from its bytes: a Clone `/value`
body as a sample, and a devices service's `list` reply as the devices logged.

Pure: actors/history.py passes the bytes in; nothing here sends or stores.
"""

from __future__ import annotations

from raspy import json_text


def logged_devices(reply: tuple[bytes, ...]) -> set[str] | None:
    """The full names whose `log` is true in a devices `list` reply, None if the
    reply is not a 200 list."""
    if len(reply) != 2 or reply[0] != b"200":
        return None
    try:
        document = json_text.loads(reply[1])
    except (UnicodeDecodeError, ValueError):
        return None
    devices = document.get("devices") if isinstance(document, dict) else None
    if not isinstance(devices, list):
        return None
    names: set[str] = set()
    for device in devices:
        if not isinstance(device, dict):
            continue
        config, fullname = device.get("config"), device.get("fullname")
        if (
            isinstance(fullname, str)
            and isinstance(config, dict)
            and config.get("log") is True
        ):
            names.add(fullname)
    return names


def sample_value(body: bytes) -> float | None:
    """A Clone `/value` body (JSON text) as a number to record: numbers as they are,
    true/false as 1/0 (a switch's graph), anything else None."""
    try:
        value = json_text.loads(body)
    except (UnicodeDecodeError, ValueError):
        return None
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, int | float):
        return float(value)
    return None
