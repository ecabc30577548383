"""A scenario expression's text cut into tokens for `expr_parser`: numbers, strings
with their escapes, names and the words of the grammar, operators; what Python has
but an expression does not (`**`, `:=`, `=`, a keyword, `{{ }}`, C's `&&`, `||`
and `!`, a phone's typographic quotes and `≥`) refused with an expr_values.Fault at
its offset, with the way to write it.
"""

from __future__ import annotations

import keyword
import re
from typing import Final

from raspy.devices.template import JsonValue
from raspy.records import frozen
from raspy.rules.expr_functions import FUNCTIONS
from raspy.rules.expr_values import INT_LIMIT, Fault

_NUMBER: Final = re.compile(r"(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", re.ASCII)
_NAME: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*", re.ASCII)
_OPERATORS: Final = (
    "==", "!=", "<=", ">=", "//", "**", ":=",
    "<", ">", "+", "-", "*", "/", "%", "(", ")", "[", "]", ",", ".", "=",
)  # fmt: skip
_REFUSED: Final = {
    "**": "'**' is not allowed",
    ":=": "':=' is not allowed",
    "=": "'=' is not allowed (write == to compare)",
}
# the comparisons of two characters, which a `=` is one too many beside
_PAIRED: Final = ("==", "!=", "<=", ">=")
# a hint's words for an operator written with a space in it (`= =`, `! =`)
_NO_SPACE: Final = ", no space in it"
# C's logic operators: not taken (one way to write a test), but named
_C_LOGIC: Final = {"&": "and", "|": "or", "!": "not"}
# what a phone's keyboard or a word processor writes for a quote, a minus or a
# comparison: it reads as raspy's in the message, so it is named, with raspy's
_LOOKALIKES: Final = {
    "\u2018": "a typographic quote (U+2018): write '",
    "\u2019": "a typographic quote (U+2019): write '",
    "\u201c": 'a typographic quote (U+201C): write "',
    "\u201d": 'a typographic quote (U+201D): write "',
    "\u2212": "a minus sign (U+2212): write -",
    "\u2013": "an en dash (U+2013): write -",
    "\u2265": "write >=",
    "\u2264": "write <=",
    "\u2260": "write !=",
}
# a typographic quote and the quote of raspy's it stands for
_FAMILY: Final = {"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"'}
_STRING_START: Final = re.compile("['\"]")
_STRING_BODY: Final = {
    q: re.compile(rf"{q}(?:[^{q}\\]|\\.)*{q}", re.DOTALL) for q in "'\""
}
_ESCAPES: Final = {"\\": "\\", "'": "'", '"': '"', "n": "\n", "t": "\t", "r": "\r"}
CONSTANTS: Final[dict[str, JsonValue]] = {
    "true": True, "false": False, "null": None, "True": True, "False": False, "None": None,
}  # fmt: skip
_WORDS: Final = frozenset({"and", "or", "not", "if", "else", "in"})
# what a test (`not x`) may follow: where `!` is written `not`
_TEST_STARTS: Final = frozenset({"(", "[", ",", "and", "or", "not", "if", "else"})


@frozen
class Token:
    kind: str  # "number", "string", "name", "word", "op", "end"
    text: str
    offset: int
    value: JsonValue = None


def tokenize(source: str) -> list[Token]:
    tokens: list[Token] = []
    position = 0
    while position < len(source):
        char = source[position]
        if char in " \t\r\n":
            position += 1
        elif char.isascii() and (
            char.isdigit() or (char == "." and _NUMBER.match(source, position))
        ):
            tokens.append(_number(source, position))
            position += len(tokens[-1].text)
        elif char in "'\"":
            token = _string(source, position)
            tokens.append(token)
            position += len(token.text)
        elif match := _NAME.match(source, position):
            word = match.group()
            kind = "word" if word in _WORDS else "name"
            field = (
                len(tokens) >= 2
                and tokens[-1].text == "."
                and tokens[-2].text == "trigger"
            )
            if field:
                kind = "name"  # trigger.from: a field name, not the keyword
            elif word not in CONSTANTS and kind == "name" and keyword.iskeyword(word):
                raise Fault(f"'{word}' is not allowed", position)
            tokens.append(Token(kind, word, position))
            position = match.end()
        else:
            operator = next(
                (op for op in _OPERATORS if source.startswith(op, position)), None
            )
            if operator is None:
                hint = _unexpected_hint(source, position, tokens)
                raise Fault(f"unexpected character {char!r}{hint}", position)
            if operator in _REFUSED:
                raise Fault(_refused(operator, source, position, tokens), position)
            tokens.append(Token("op", operator, position))
            position += len(operator)
    tokens.append(Token("end", "", len(source)))
    return tokens


def _unexpected_hint(source: str, position: int, tokens: list[Token]) -> str:
    """The way to write a character an expression has not, when one is sure."""
    char = source[position]
    if char == "!" and source[position + 1 :].lstrip().startswith("="):
        return f" (write != to compare{_NO_SPACE})"  # `a ! = b`: `!=` was meant
    if char in _FAMILY and _between_letters(source, position):
        return " (text goes in quotes)"  # `== it<U+2019>s`: an apostrophe
    if char in _LOOKALIKES:
        return f" ({_LOOKALIKES[char]})"
    if _after_value(tokens) and (function := _filtered(source, position)):
        # Jinja's filter (`kv('/a') | float`): `or` would compile to something else
        return f" (no filters: write {function}(…))"
    # `&&`, `||` between two values, `!` before one: the habit of C and JavaScript
    # (`a ! b` is no `a not b`, and `&& a` no `and a`: no word is said there)
    if char == "!" and not _after_value(tokens):
        return f" (write {_negated(source, position, tokens)})"
    if char in _C_LOGIC and char != "!" and _after_value(tokens):
        return f" (write {_C_LOGIC[char]})"
    if source.startswith("{{", position):
        # a template's habit (Home Assistant's Jinja): an expression is written
        # bare, its keys' templates inside quotes
        return " (an expression has no braces around it)"
    return ""


def _filtered(source: str, position: int) -> str | None:
    """The function a lone `|` is followed by (a Jinja filter), else None."""
    if source[position] != "|" or source.startswith("||", position):
        return None
    match = _NAME.match(source[position + 1 :].lstrip())
    return match.group() if match and match.group() in FUNCTIONS else None


def _negated(source: str, position: int, tokens: list[Token]) -> str:
    """`not`, where a test may start (`!a`, `a and !b`, `(!a)`); elsewhere `not`
    binds looser than the operator before it (`x == not y` is refused), so the
    negation is written in parentheses: `(not y)`, the value named if one word."""
    if not tokens or tokens[-1].text in _TEST_STARTS:
        return "not"
    rest = source[position + 1 :].lstrip()
    word = _NAME.match(rest) or _NUMBER.match(rest)
    if word is None or word.group() in _WORDS:
        return "(not …)"
    if rest[word.end() :].lstrip().startswith(("(", ".", "[")):
        return "(not …)"  # a call, a field, an index: more than one word
    return f"(not {word.group()})"


def _after_value(tokens: list[Token]) -> bool:
    """Whether the text so far ends with a value (where an operator goes)."""
    return bool(tokens) and ends_value(tokens[-1])


def ends_value(token: Token) -> bool:
    """Whether a value ends with `token`: an operator after it (`-`) is one of
    two operands, not a sign."""
    return token.kind in ("number", "string", "name") or token.text in (")", "]")


def _refused(operator: str, source: str, position: int, tokens: list[Token]) -> str:
    """Why `operator` is refused; a `=` that follows a comparison (JavaScript's
    `===`, `!==`) or comes before `<` or `>` (`=<`) is not told to write `==`; one
    a space away from the rest of an operator (`= =`, `= <`) is told to write it
    without the space (`write ==` gave `y == = 1`)."""
    if operator != "=":
        return _REFUSED[operator]
    if tokens and tokens[-1].text in _PAIRED:
        return f"'=' is not allowed (one too many after '{tokens[-1].text}')"
    after = source[position + 1 :]
    nearest = after.lstrip()
    gap = _NO_SPACE if nearest != after else ""
    if gap and nearest.startswith(_PAIRED):
        return f"'=' is not allowed (one too many before '{nearest[:2]}')"
    if nearest[:1] in ("<", ">"):
        return f"'=' is not allowed (write {nearest[0]}={gap})"
    if gap and nearest.startswith("="):
        return f"'=' is not allowed (write == to compare{gap})"
    return _REFUSED[operator]


def _number(source: str, position: int) -> Token:
    match = _NUMBER.match(source, position)
    assert match is not None
    text = match.group()
    end = match.end()
    if end < len(source) and (source[end].isalnum() or source[end] == "_"):
        raise Fault(f"bad number {source[position : end + 1]!r}", position)
    if "." in text or match.group(2):
        value: JsonValue = float(text)
        if value in (float("inf"), float("-inf")):
            raise Fault(f"number {text[:20]!r} is out of range", position)
    else:
        value = int(text)
        if value > INT_LIMIT:
            raise Fault(f"number {text[:20]!r} is out of range (±2**63)", position)
    return Token("number", text, position, value)


def _string(source: str, position: int) -> Token:
    quote = source[position]
    chars: list[str] = []
    index = position + 1
    while index < len(source):
        char = source[index]
        if char == quote:
            return Token(
                "string", source[position : index + 1], position, "".join(chars)
            )
        if char == "\\":
            escape = source[index + 1 : index + 2]
            if escape == "u" and re.fullmatch(
                r"[0-9a-fA-F]{4}", source[index + 2 : index + 6]
            ):
                chars.append(chr(int(source[index + 2 : index + 6], 16)))
                index += 6
                continue
            if escape not in _ESCAPES:
                raise Fault(f"unknown escape '\\{escape}' in a string", index)
            chars.append(_ESCAPES[escape])
            index += 2
            continue
        chars.append(char)
        index += 1
    raise Fault(f"a string that never ends{_unended_hint(source, position)}", position)


def _unended_hint(source: str, position: int) -> str:
    """The typographic quote of the unended string's kind (U+2018/U+2019 for ',
    U+201C/U+201D for ") that, written as raspy's, ends every string: the U+2019 of
    `kv('/a<U+2019>) == 'b'`, before the `'` that starts no string, is named; the
    U+2019 of `"it<U+2019>s` is not, nor that of `'it<U+2019>s`: between letters it
    is an apostrophe (`'it's` is still wrong)."""
    ascii_quote = source[position]
    for index, char in enumerate(source):
        if _FAMILY.get(char) != ascii_quote or _between_letters(source, index):
            continue
        if _strings_end(source[:index] + ascii_quote + source[index + 1 :]):
            return f" ({_LOOKALIKES[char]})"
    return ""


def _between_letters(source: str, index: int) -> bool:
    return 0 < index < len(source) - 1 and (
        source[index - 1].isalnum() and source[index + 1].isalnum()
    )


def _strings_end(source: str) -> bool:
    """Whether every string of `source` ends (escapes skipped as _string does)."""
    position = 0
    while (start := _STRING_START.search(source, position)) is not None:
        body = _STRING_BODY[start.group()].match(source, start.start())
        if body is None:
            return False
        position = body.end()
    return True
