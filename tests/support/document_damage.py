"""Damage for good scenario documents, drawn by hypothesis: lines dropped, doubled,
swapped or indented anew, a token replaced (YAML syntax, tags that would build
Python objects, huge numbers, a lone surrogate), the text cut short, an alias bomb,
nesting without end. Used by the loader's tests and the import's."""

from __future__ import annotations

import re

from hypothesis import strategies as st

TOKENS = [
    ":", "- ", "[", "]", "{", "}", ",", "'", '"', "#", "&a ", "*a", "? ", "|", ">",
    "%YAML 1.1", "---", "...", "\t", "\x00", "\ufeff", "\udcff", "é", "{host}", "{nope}",
    "null", "~", "true", "on", "1e999", "-.inf", ".nan", "0x1F", "0o17", "1_000",
    "12:30:00", "2026-12-05", "!!python/object/apply:os.system ['true'] ",
    "!!python/name:os.system ", "!!binary aGk= ", "!!set {a} ", "!!omap [a: 1] ",
    "!local ", "!<tag:yaml.org,2002:str> ", "<<: {x: 1}", "kv(", "kv('/a')", "1 +",
    "9" * 40, "9" * 5000, "1" + "0" * 400 + ".5", "-" + "9" * 5000, "x" * 5000,
]  # fmt: skip
BOMB = (
    "bomb_a: &a [x, x, x, x, x, x, x, x, x]\n"
    "bomb_b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
    "bomb_c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
    "bomb_d: [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
)


def damaged(data: st.DataObject, text: str) -> str:
    """`text` with one to three kinds of damage drawn from `data`."""
    for _ in range(data.draw(st.integers(1, 3), label="mutations")):
        lines = text.split("\n")
        line = data.draw(st.integers(0, len(lines) - 1))
        at = data.draw(st.integers(0, len(text)))
        how = data.draw(
            st.sampled_from(
                ["drop", "dup", "swap", "indent", "token", "cut", "bomb", "deep"]
            ),
            label="how",
        )
        if how == "drop":
            del lines[line]
        elif how == "dup":
            lines.insert(line, lines[line])
        elif how == "swap":
            other = data.draw(st.integers(0, len(lines) - 1))
            lines[line], lines[other] = lines[other], lines[line]
        elif how == "indent":
            shift = data.draw(st.sampled_from(["", " ", "  ", "\t", "    "]))
            stripped = lines[line].lstrip(" ")
            keep = data.draw(st.integers(0, len(lines[line]) - len(stripped)))
            lines[line] = " " * keep + shift + stripped
        elif how == "token":
            spans = [m.span() for m in re.finditer(r"[^\s:,\[\]{}]+", text)] or [(0, 0)]
            start, end = data.draw(st.sampled_from(spans))
            token = data.draw(st.sampled_from(TOKENS) | st.text(max_size=4))
            text = text[:start] + token + text[end:]
            continue
        elif how == "cut":
            text = text[:at]
            continue
        elif how == "bomb":
            lines.insert(line, BOMB.rstrip("\n"))
        else:
            depth = data.draw(st.sampled_from([31, 33, 200, 20_000]))
            lines.insert(line, "deep: " + "[" * depth + "]" * depth)
        text = "\n".join(lines)
    return text
