"""A stored scenario's text with its `enabled:` saying what the hub holds, for an
export and the web editor: `disable` and `enable` change the stored flag, not the
text, and a text that said otherwise (or nothing, for a disabled one) brought the
scenario back switched the other way when imported. Pure: text in, text out.
"""

from __future__ import annotations

import re
from typing import Final

import yaml

from raspy.rules.document_yaml import compose, scalar

_KEY: Final = "enabled"
_LINE_BREAK: Final = re.compile(r"\r\n|[\n\r\x85\u2028\u2029]")


def stating_enabled(text: str, enabled: bool) -> str:
    """`text` with its top-level `enabled:` value set to `enabled`, or an
    `enabled: false` entry added after its `name:` (a text without one is
    enabled); the rest byte for byte (comments, line breaks). A text that says
    it already is returned as it is, and so is one that cannot say it (no YAML
    mapping with a `name:`, or a change that would not read back): a valid
    scenario's text always can."""
    try:
        root = compose(text)
    except yaml.YAMLError:
        return text
    if not isinstance(root, yaml.MappingNode):
        return text
    entries = {
        key.value: (key, value)
        for key, value in root.value
        if isinstance(key, yaml.ScalarNode)
    }
    if _KEY in entries:
        value = entries[_KEY][1]
        if scalar(value) is enabled:
            return text
        start, end = value.start_mark.index, value.end_mark.index
        changed = text[:start] + ("true" if enabled else "false") + text[end:]
    elif enabled:
        return text  # a text without `enabled:` is enabled
    elif "name" in entries:
        changed = _added(text, root, *entries["name"])
    else:
        return text
    return changed if _reads_as(changed, enabled, len(root.value)) else text


def _added(text: str, root: yaml.MappingNode, key: yaml.Node, name: yaml.Node) -> str:
    """`text` with `enabled: false` added right after the `name:` entry: in a flow
    mapping (a JSON document) after its value, in a block mapping on a line of its
    own below it, in the mapping's column and with the text's line break."""
    end = name.end_mark.index
    if root.flow_style:
        quoted = '"enabled"' if getattr(key, "style", None) == '"' else _KEY
        return f"{text[:end]}, {quoted}: false{text[end:]}"
    entry = " " * root.start_mark.column + f"{_KEY}: false"
    if name.end_mark.column == 0 and name.end_mark.line > name.start_mark.line:
        # a block scalar ends at the start of the line after it
        return f"{text[:end]}{entry}{_break_of(text)}{text[end:]}"
    found = _LINE_BREAK.search(text, end)
    if found is None:  # the name's line is the last, without a line break
        return f"{text}{_break_of(text)}{entry}"
    return f"{text[: found.end()]}{entry}{found.group()}{text[found.end() :]}"


def _break_of(text: str) -> str:
    """The text's line break (its first), LF when it has none."""
    found = _LINE_BREAK.search(text)
    return "\n" if found is None else found.group()


def _reads_as(text: str, enabled: bool, entries: int) -> bool:
    """Whether the changed text is still one mapping, of `entries` entries or one
    more, whose `enabled:` reads as `enabled`."""
    try:
        root = compose(text)
    except yaml.YAMLError:
        return False
    if not isinstance(root, yaml.MappingNode) or len(root.value) - entries not in (
        0,
        1,
    ):
        return False
    found = [
        value
        for key, value in root.value
        if isinstance(key, yaml.ScalarNode) and key.value == _KEY
    ]
    return len(found) == 1 and scalar(found[0]) is enabled
