"""The controls at the top of the Devices page (pure): one form per control, which
works without JavaScript (a POST to /controls) and which app.js sends to
/api/control instead, showing the answer in place.

A value in the tree that breaks its control's spec (a scenario's `set:` or
`raspy-kv set` are not checked) is shown as it is, marked, with the reason.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final, cast

from raspy.control_tables import MAX_TEXT_CHARS
from raspy.controls import Control, as_input, set_elsewhere
from raspy.devices.template import JsonValue
from raspy.web.forms import MAX_FORM_BYTES
from raspy.web.html import esc, hidden_csrf, notice, show_value

CONTROL_PATHS: Final = frozenset({"/controls", "/api/control"})
# a control's form holds a text of up to MAX_TEXT_CHARS characters: each is at most
# four bytes of UTF-8, each byte at most three in the form (`%F0`); the key and the
# token fit in a small form's size
MAX_CONTROL_FORM_BYTES: Final = 3 * 4 * MAX_TEXT_CHARS + MAX_FORM_BYTES


def body_limit(path: str) -> int | None:
    """The larger request body a control's POST may have (None: the usual)."""
    return MAX_CONTROL_FORM_BYTES if path in CONTROL_PATHS else None


def controls_section(
    controls: Sequence[Control],
    values: Mapping[str, object],
    csrf: str,
    refused: Mapping[str, str] | None = None,
    sent: Mapping[str, str] | None = None,
) -> str:
    """The controls, each with its current value from `values` (key -> value, absent:
    no value yet) and the reason of a refused POST in `refused` (key -> reason);
    `sent` (key -> text): what that POST sent, shown again in a number's or a text's
    field, not the tree's value (a person fixes what they typed)."""
    known = {c.key for c in controls}
    stray = "".join(
        notice(reason, error=True)
        for key, reason in (refused or {}).items()
        if key not in known
    )
    if not controls:
        return stray
    items = "".join(
        _item(
            c,
            cast(JsonValue, values.get(c.key)),
            csrf,
            (refused or {}).get(c.key, ""),
            (sent or {}).get(c.key),
        )
        for c in controls
    )
    return (
        f'{stray}<section class="group"><h2>Controls</h2>'
        f'<ul class="devices controls">{items}</ul></section>'
    )


def _item(
    control: Control, value: JsonValue, csrf: str, refusal: str, sent: str | None
) -> str:
    key = esc(control.key)
    bad = None if value is None else set_elsewhere(control, value)
    # a unit only beside a number: "warm °C" read as if it were one
    unit = (
        f' <span class="unit"{"" if _is_number(value) else " hidden"}>{esc(control.unit)}</span>'
        if control.unit
        else ""
    )
    return (
        f'<li class="device control{" bad" if bad else ""}" data-control-key="{key}" '
        f'data-kind="{esc(control.kind)}">'
        f'<span class="name">{esc(control.label)}</span>'
        f'<span class="reading"><span class="control-value">{esc(show_value(value))}'
        f"</span>{unit}</span>"
        f'<span class="meta"><code>{key}</code></span>'
        f'<form method="post" action="/controls" class="control-form" novalidate>'
        f'{hidden_csrf(csrf)}<input type="hidden" name="key" value="{key}">'
        f"{_widget(control, value, sent)}</form>"
        f'<span class="bad-value">{esc(bad or "")}</span>'
        f'<span class="error" role="alert">{esc(refusal)}</span></li>'
    )


def _is_number(value: JsonValue) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _widget(control: Control, value: JsonValue, sent: str | None) -> str:
    """The form's fields for the kind: each is a submit of its own or has Set; a
    field shows `sent` when there is one (a refused POST's text)."""
    label = esc(control.label)
    if sent is not None:
        current = esc(sent)
    elif control.kind == "number" and not _is_number(value):
        current = ""  # "warm" is no number to start from
    else:
        current = esc(as_input(control, value))
    match control.kind:
        case "switch":
            on = value is True
            return (
                '<button type="submit" class="switch" role="switch" name="value" '
                f'value="{"false" if on else "true"}" '
                f'aria-checked="{"true" if on else "false"}" aria-label="{label}">'
                "<span></span></button>"
            )
        case "choice":
            return (
                '<span class="choices">'
                + "".join(
                    '<button type="submit" class="choice" name="value" '
                    f'value="{esc(option)}" aria-pressed="'
                    f'{"true" if option == value else "false"}">{esc(option)}</button>'
                    for option in control.options
                )
                + "</span>"
            )
        case "number":
            # text, not type="number": a browser in German sent "21,5" typed
            # there as 215; check() reads the comma as the decimal mark
            field = (
                f'<input type="text" name="value" value="{current}" '
                'inputmode="decimal" autocomplete="off" '
                f'aria-label="{label}" class="control-input">'
            )
        case _:
            # maxlength counts UTF-16 units, max_length characters (an emoji is
            # two units): twice it cuts no text that fits; the server says the rest
            field = (
                f'<input type="text" name="value" value="{current}" '
                f'maxlength="{2 * control.max_length}" aria-label="{label}" '
                'class="control-input">'
            )
    return f'<span class="control-set">{field}<button type="submit">Set</button></span>'
