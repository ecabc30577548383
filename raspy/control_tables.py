"""`[[controls]]` tables of raspyd's config -> raspy.controls.Control (pure).

Every problem is named by its table's index and field (`controls[1].step: ...`),
all of them at once, as the config's other checks do. A control's key is a tree
key of the household's own: not under a subtree raspy writes itself, within the
Clone server's key limit, and one control per key.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Final

from raspy.controls import KINDS, Control, breaks, default_label
from raspy.errors import MalformedMessage, did_you_mean, shown
from raspy.protocol import clone

# the subtrees raspy itself writes (docs/architecture.md, "Names and keys")
RESERVED: Final = ("/device/", "/board/", "/event/", "/scenario/", "/stats/")
MAX_LABEL_CHARS: Final = 100
MAX_OPTIONS: Final = 50
MAX_OPTION_CHARS: Final = 64
MAX_TEXT_CHARS: Final = 4096
MAX_UNIT_CHARS: Final = 16
# a choice's option the MQTT bridge could not show: Home Assistant's select takes
# the payload `none`, in any case, as "no option" (unknown)
UNKNOWN_OPTION: Final = "none"
_COMMON: Final = ("key", "label", "kind", "initial")
_OWN: Final = {
    "number": ("min", "max", "step", "unit"),
    "switch": (),
    "choice": ("options",),
    "text": ("max_length",),
}


def controls_of(
    tables: Sequence[object], source: str, max_key_bytes: int
) -> tuple[tuple[Control, ...], list[str]]:
    """The controls of the valid tables, and every problem of the others."""
    problems: list[str] = []
    found: list[Control] = []
    used: dict[str, int] = {}
    for index, table in enumerate(tables):
        where = f"{source}: controls[{index}]"
        key, control = _one(table, where, max_key_bytes, problems)
        if key is not None and key in used:
            problems.append(
                f"{where}.key: {shown(key)} is already used by controls[{used[key]}]"
            )
            continue
        if key is not None:
            used[key] = index
        if control is not None:
            found.append(control)
    return tuple(found), problems


def _one(
    table: object, where: str, max_key_bytes: int, problems: list[str]
) -> tuple[str | None, Control | None]:
    """The table's key (when it is a valid one) and its control (when all is)."""
    if not isinstance(table, dict):
        problems.append(f"{where}: expected a table, got {shown(table)}")
        return None, None
    key = _key(table.get("key"), f"{where}.key", max_key_bytes, problems)
    kind = table.get("kind")
    if kind not in KINDS:
        problems.append(
            f"{where}.kind: expected one of {', '.join(KINDS)}, got {shown(kind)}"
        )
        return key, None
    return key, _control(key, kind, table, where, problems)


def _control(
    key: str | None, kind: str, table: dict[str, Any], where: str, problems: list[str]
) -> Control | None:
    before = len(problems)
    known = (*_COMMON, *_OWN[kind])
    for name in table:
        if name not in known:
            other = next((k for k, own in _OWN.items() if name in own), None)
            why = (
                f" (a setting of a {other} control)"
                if other
                else did_you_mean(name, known)
            )
            problems.append(f"{where}.{name}: unknown setting{why}")
    label = table.get("label", default_label(key or "-"))
    if not isinstance(label, str) or not 1 <= len(label) <= MAX_LABEL_CHARS:
        problems.append(
            f"{where}.label: expected a text of 1..{MAX_LABEL_CHARS} characters, "
            f"got {shown(label)}"
        )
    fields = _kind_fields(kind, table, where, problems)
    if len(problems) > before or key is None:  # a bad key was named by _one
        return None
    control = Control(key=key, label=label, kind=kind, **fields)
    if "initial" in table:
        initial = table["initial"]
        reason = breaks(control, initial)
        if reason is not None:
            problems.append(f"{where}.initial: {reason}")
            return None
        control = Control(key=key, label=label, kind=kind, initial=initial, **fields)
    return control


def _key(
    key: object, where: str, max_key_bytes: int, problems: list[str]
) -> str | None:
    if not isinstance(key, str):
        problems.append(
            f"{where}: expected a tree key such as /house/mode, got {shown(key)}"
        )
        return None
    try:
        clone.check_path_key(key.encode("utf-8", "surrogatepass"), max_key_bytes)
    except MalformedMessage as exc:
        problems.append(f"{where}: {exc.detail}")
        return None
    if key.endswith("/") or any(c.isspace() or not c.isprintable() for c in key):
        problems.append(
            f"{where}: expected a key without spaces, not ending in /, got {shown(key)}"
        )
        return None
    if key.startswith(RESERVED):
        problems.append(
            f"{where}: {shown(key)} is under a subtree raspy writes itself "
            f"({', '.join(RESERVED)})"
        )
        return None
    # the web face follows a control's key as a byte prefix of the tree: `/device`
    # or `/dev` would bring it every device reading a second time
    starts = next((r for r in RESERVED if r.startswith(key)), None)
    if starts is not None:
        problems.append(
            f"{where}: {shown(key)} is the start of {starts}, a subtree raspy "
            "writes itself"
        )
        return None
    return key


def finite_number(value: object) -> bool:
    """A finite number a float holds (an int past one, a TOML hex of 300 digits,
    made math.isfinite() raise OverflowError out of --check-config); the config's
    type check asks this too."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def _kind_fields(
    kind: str, table: dict[str, Any], where: str, problems: list[str]
) -> dict[str, Any]:
    """The Control fields of the kind's own settings, checked."""
    match kind:
        case "number":
            return _number_fields(table, where, problems)
        case "choice":
            return _choice_fields(table, where, problems)
        case "text":
            most = table.get("max_length", 255)
            if (
                not isinstance(most, int)
                or isinstance(most, bool)
                or not 1 <= most <= MAX_TEXT_CHARS
            ):
                problems.append(
                    f"{where}.max_length: expected 1..{MAX_TEXT_CHARS}, got {shown(most)}"
                )
                return {}
            return {"max_length": most}
    return {}


def _number_fields(
    table: dict[str, Any], where: str, problems: list[str]
) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for name, field in (("min", "minimum"), ("max", "maximum"), ("step", "step")):
        if name not in table:
            continue
        value = table[name]
        if not finite_number(value):
            problems.append(
                f"{where}.{name}: expected a finite number, got {shown(value)}"
            )
        elif name == "step" and value <= 0:
            problems.append(f"{where}.step: expected a number > 0, got {value}")
        else:
            fields[field] = value
    low, high = fields.get("minimum"), fields.get("maximum")
    if low is not None and high is not None and low > high:
        problems.append(f"{where}.max: expected >= min ({low}), got {high}")
    unit = table.get("unit", "")
    if not isinstance(unit, str) or len(unit) > MAX_UNIT_CHARS:
        problems.append(
            f"{where}.unit: expected a text of at most {MAX_UNIT_CHARS} characters, "
            f"got {shown(unit)}"
        )
    else:
        fields["unit"] = unit
    return fields


def _choice_fields(
    table: dict[str, Any], where: str, problems: list[str]
) -> dict[str, Any]:
    options = table.get("options")
    if (
        not isinstance(options, list)
        or not 1 <= len(options) <= MAX_OPTIONS
        or not all(
            isinstance(o, str) and 1 <= len(o) <= MAX_OPTION_CHARS and o == o.strip()
            for o in options
        )
    ):
        problems.append(
            f"{where}.options: expected a list of 1..{MAX_OPTIONS} texts of "
            f"1..{MAX_OPTION_CHARS} characters, without spaces around them, "
            f"got {shown(options)}"
        )
        return {}
    if len(set(options)) != len(options):
        twice = next(o for o in options if options.count(o) > 1)
        problems.append(f"{where}.options: {shown(twice)} is listed twice")
        return {}
    unknown = next((o for o in options if o.lower() == UNKNOWN_OPTION), None)
    if unknown is not None:
        problems.append(
            f"{where}.options: {shown(unknown)} is Home Assistant's word for no "
            "option (its select would show unknown when it is chosen)"
        )
        return {}
    return {"options": tuple(options)}


def declared(tables: Sequence[object], max_key_bytes: int) -> tuple[Control, ...]:
    """The controls of a Config that was checked (raspy.config refused any
    problem): for the parts that use them, the web face and the start."""
    found, problems = controls_of(tables, "<config>", max_key_bytes)
    assert not problems, problems
    return found
