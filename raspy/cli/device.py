"""`raspy device NAME ACTION [VALUE]`: one command to a device, by its full name.

NAME is the device's full name as the tree has it, `<host>.<service>.<device>`
(`pi.fake.lamp`, `pi.fake.tv.volume`), or with its friendly_name for the device
(`pi.fake.Desk lamp`), or `.<service>.<device>` under --host (default this
machine's name, as the other sub-commands take it); the request goes to
`<host>.<service>.devices` (raspy.devices.service) as `{"v": 1, "action": ACTION, "device": ..., "value": ...}`.
VALUE is JSON where it reads as JSON (`true`, `40`, `{"friendly_name": "Desk"}`),
a number where Python reads one (`-.5` as `-0.5`), else the text itself. It is sent once: a toggle sent again after a timeout could run
twice; and only when a worker serves the device's service (raspy.cli.hub_call): a
command to a board that is away is not left in the broker to run when it is back. The
reading or value the device answers is printed as `NAME = VALUE` (a reading's fault
after it: `NAME = null (missing: ...)`; none yet: `NAME = null (no reading yet)`);
a `config` answer
as one `NAME: field = value` line per field it sets (every field when it only reads
them), the values as JSON as in `NAME = VALUE`; any other answer as its JSON
(`--json`: always the JSON, as UTF-8 text).
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from typing import TYPE_CHECKING, Any, Final, Protocol

from raspy import json_text
from raspy.cli import EXIT_OK, EXIT_USAGE
from raspy.cli.arguments import (
    DEFAULT_TIMEOUT_S,
    add_curve_options,
    add_host_option,
    add_server_option,
    require_utf8,
    seconds_argument,
    under_host,
)
from raspy.cli.hub_call import NoReply, Refused, call_json
from raspy.errors import c1_escaped, shown
from raspy.names import DEVICES_SUFFIX, NAME_SEGMENT

if TYPE_CHECKING:
    from raspy.devices.template import JsonValue  # a type: the module costs a start

_PROG: Final = "raspy device"
_UNKNOWN_ACTION: Final = b"501"  # raspy.devices.service: no such action here
# a number as Python reads one, in ASCII digits: `.5`, `-.5`, `5.`, `+5`, `1_000`
_LOOSE_NUMBER: Final = re.compile(
    r"[+-]?(?:[\d_]+\.?[\d_]*|\.[\d_]+)(?:[eE][+-]?[\d_]+)?", re.ASCII
)
_LOOSE_INTEGER: Final = re.compile(r"[+-]?[\d_]+", re.ASCII)


class Commands(Protocol):
    def add_parser(self, name: str, **kwargs: Any) -> argparse.ArgumentParser: ...


def add_parser(commands: Commands) -> None:
    """Register `device` on `raspy`'s sub-command parser."""
    device = commands.add_parser(
        "device",
        help="one command to a device: on, off, toggle, level 40, get, ...",
        description="Send ACTION (and VALUE) to the device NAME, once, and print what "
        "it answers. ACTION is any command of the device's kind (on, off, toggle, "
        "level, ...) or one every device takes: get, set, commands, config, log, "
        "poll, reset (README, Devices).",
    )
    device.add_argument(
        "name",
        metavar="NAME",
        help="the device's full name, <host>.<service>.<device>, or .<service>.<device> "
        "for the --host's",
    )
    device.add_argument("action", metavar="ACTION", help="e.g. on, toggle, level, get")
    device.add_argument(
        "value",
        metavar="VALUE",
        nargs="?",
        help="JSON where it reads as JSON (true, 40, {...}), a number where it is "
        "one (-.5), else the text",
    )
    device.add_argument(
        "--json", action="store_true", help="print the device service's JSON reply"
    )
    add_server_option(device)
    add_host_option(device, more_help="; a NAME beginning with . is under it")
    device.add_argument(
        "--timeout",
        type=seconds_argument,
        default=DEFAULT_TIMEOUT_S,
        metavar="S",
        help=f"seconds to wait for the reply (default {DEFAULT_TIMEOUT_S:g})",
    )
    add_curve_options(device)
    device.set_defaults(run=run)


def split_name(name: str) -> tuple[str, str]:
    """(`<host>.<service>.devices`, the device's name in its service) of a full
    name; ValueError naming what it expected. The device part is any text: the
    service takes a friendly_name too (`Lamp no. 2.`); no service has a host or
    service part that is not a NAME_SEGMENT."""
    host, _, rest = name.partition(".")
    service, _, device = rest.partition(".")
    if (
        not NAME_SEGMENT.fullmatch(host)
        or not NAME_SEGMENT.fullmatch(service)
        or not device
    ):
        # a name short of a part (`hall`, `fake.hall`): the short form is told too
        short = " or .<service>.<device>, under the hub's host name (.fake.lamp)"
        raise ValueError(
            f"NAME: expected a device's full name, <host>.<service>.<device> "
            f"(pi.fake.lamp){short if name.count('.') < 2 else ''}, got {shown(name)}"
        )
    return f"{host}.{service}{DEVICES_SUFFIX}", device


def parse_value(text: str | None) -> JsonValue:
    """VALUE as JSON where it reads as JSON that can be sent (no NaN, no infinity),
    else as the number where it is one JSON does not write (`-.5`, `5.`, `+5`,
    `05`, `1_000`: `-.5` was sent as text where `-0.5` was a number), else the text
    itself (a word: `on`, `Desk lamp`); None: no value."""
    if text is None:
        return None
    try:
        value: JsonValue = json_text.loads(text)
        json.dumps(value, allow_nan=False)
    except (ValueError, OverflowError):
        number = _loose_number(text.strip())
        return text if number is None else number
    return value


def _loose_number(text: str) -> int | float | None:
    """A number in digits that float() reads and JSON does not; None for anything
    else (a word, an infinity, digits past int()'s limit)."""
    if not _LOOSE_NUMBER.fullmatch(text):
        return None
    try:
        if _LOOSE_INTEGER.fullmatch(text):
            return int(text)
        number = float(text)
    except ValueError:  # `1__0`, `_1`, or more digits than int() reads
        return None
    return number if math.isfinite(number) else None


def answer_text(name: str, reply: dict[str, Any]) -> str:
    """`NAME = VALUE` for a reading or a value read, else the reply's JSON; a
    change the device holds (a GPIO switch's min_off_s) is said after it, since the
    value is still the one before: `pi.gpio.pump = false (held: ... on in 260s)`;
    so is a reading's fault, which is why it has no value: `pi.onewire.attic = null
    (missing: ...)`; and no reading before the device's first:
    `pi.onewire.attic = null (no reading yet)`."""
    reading = reply.get("reading")
    if "reading" in reply and reading is None:
        return f"{name} = null (no reading yet)"
    if isinstance(reading, dict) and "value" in reading:
        text = f"{name} = {json.dumps(reading['value'], ensure_ascii=False)}"
        status, detail = reading.get("status"), reading.get("detail")
        if isinstance(status, str) and status != "ok":  # Status.OK's word
            why = f": {detail}" if isinstance(detail, str) and detail else ""
            text += f" ({status}{why})"
        pending = reply.get("pending")
        if isinstance(pending, dict) and isinstance(pending.get("detail"), str):
            text += f" (held: {pending['detail']})"
        return text
    if "value" in reply and "command" in reply:
        return f"{name} = {json.dumps(reply['value'], ensure_ascii=False)}"
    return json.dumps(reply, ensure_ascii=False)


def config_text(name: str, sent: JsonValue, reply: dict[str, Any]) -> str | None:
    """A `config` answer as `NAME: field = value` lines: the fields sent, as the
    device now has them (the whole config once more said nothing about what
    changed), or every field when none was sent; None when the reply holds no
    config to show them from."""
    config = reply.get("config")
    if not isinstance(config, dict):
        return None
    fields = (
        [field for field in sent if field in config] if isinstance(sent, dict) else []
    )
    lines = [
        f"{name}: {field} = {json.dumps(config[field], ensure_ascii=False)}"
        for field in fields or sorted(config)
    ]
    return "\n".join(lines) if lines else None


def _shown(args: argparse.Namespace, value: JsonValue, reply: dict[str, Any]) -> str:
    """What `raspy device` prints of a reply."""
    if args.json:
        return json.dumps(reply, ensure_ascii=False)
    if args.action == "config":
        text = config_text(args.name, value, reply)
        if text is not None:
            return text
    return answer_text(args.name, reply)


def _printable(text: str) -> str:
    """`text` as UTF-8 can hold it: a lone surrogate (a friendly name sent as
    `"\\ud800"`, which no UTF-8 holds) as that escape, inside the JSON string it
    stands in, so that the line stays JSON; DEL and the C1 controls too (U+009B is
    an 8-bit CSI, which a terminal may act on), which any client may put in a
    friendly name."""
    return c1_escaped(text.encode("utf-8", "backslashreplace").decode("utf-8"))


def run(args: argparse.Namespace) -> int:
    """`raspy device`: 0 answered, 1 no answer or a device error, 2 refused (a bad
    NAME or VALUE, an ACTION the device does not have)."""
    import zmq  # the hub's client: not loaded to parse (`raspy --help`)

    require_utf8(args.name, args.action, args.value or "")
    args.name = under_host(args.name, args.host)
    try:
        service, device = split_name(args.name)
        document: dict[str, Any] = {"v": 1, "action": args.action, "device": device}
        value = parse_value(args.value)
        if value is not None:
            document["value"] = value
        # ACTION is the user's: a service that has no such action refuses the input
        reply = call_json(
            args,
            service,
            document,
            refused_too=(_UNKNOWN_ACTION,),
            absent_why=" (its board away, or no such service)",
        )
        print(_printable(_shown(args, value, reply)))
    except ValueError as exc:
        print(f"{_PROG}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except NoReply as exc:  # sent, and the device's board may still carry it out
        print(
            f"{_PROG}: {args.name}: {exc}; it may still be carried out", file=sys.stderr
        )
        return exc.status
    except Refused as exc:
        print(f"{_PROG}: {args.name}: {exc}", file=sys.stderr)
        return exc.status
    except zmq.ZMQError as exc:
        print(f"{_PROG}: --server {args.server}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return EXIT_OK
