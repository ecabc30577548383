"""A small recursive-descent parser for scenario expressions (never Python's parser).

Grammar (loosest first), with Python's precedence:
  expr := or ['if' or 'else' expr];  or := and ('or' and)*;  and := not ('and' not)*
  not := 'not' not | cmp;  cmp := sum (('=='|'!='|'<'|'<='|'>'|'>='|'in'|'not' 'in') sum)*
  sum := term (('+'|'-') term)*;  term := unary (('*'|'/'|'//'|'%') unary)*
  unary := ('-'|'+') unary | atom
  atom := NUMBER | STRING | true|false|null (or True|False|None) | NAME | NAME '(' args ')'
        | 'trigger' '.' FIELD | 'repeat' '.' 'index' | '(' expr ')' | '[' items ']'
Bounded: nesting depth and node count; raises expr_values.Fault with an offset.
Its tokens come from `expr_tokens`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from raspy.devices.template import JsonValue
from raspy.errors import did_you_mean
from raspy.rules import expr_nodes as n
from raspy.rules.expr_functions import FUNCTIONS, Function
from raspy.rules.expr_tokens import CONSTANTS, Token, ends_value, tokenize
from raspy.rules.expr_values import Fault
from raspy.rules.template import TRIGGER_FIELDS

MAX_DEPTH: Final = 32
MAX_NODES: Final = 256
MAX_LIST: Final = 64

_COMPARISONS: Final = frozenset({"==", "!=", "<", "<=", ">", ">="})


class Parser:
    def __init__(self, source: str) -> None:
        self._tokens = tokenize(source)
        self._index = 0
        self._depth = 0
        self._nodes = 0

    def parse(self) -> n.Node:
        node = self._expression()
        token = self._peek()
        if token.kind != "end":
            hint = self._decimal_comma(token)
            raise Fault(f"unexpected {_shown(token)}{hint}", token.offset)
        return node

    def _decimal_comma(self, token: Token) -> str:
        """A hint for `1,5` written as much of Europe writes one and a half; not
        after `in` (`x in 1,2` meant a list: `x in 1.2` is wrong too), a sign
        between them or not (`x in -1,5`)."""
        before, after = self._tokens[self._index - 1], self._peek(1)
        if (
            token.text == ","
            and not self._after_in(self._index - 2)
            and before.kind == after.kind == "number"
            and before.offset + len(before.text) == token.offset == after.offset - 1
            and before.text.isdigit()
            and after.text.isdigit()
        ):
            return f" (a decimal point is '.': write {before.text}.{after.text})"
        return ""

    def _after_in(self, index: int) -> bool:
        """Whether the token at `index` is `in`, unary signs before a number
        stepped back over (`x in -1`, `x in - +1`)."""
        while index >= 0 and self._tokens[index].text in ("-", "+"):
            if index >= 1 and ends_value(self._tokens[index - 1]):
                return False  # a sum's `-` (`2 - 1,5`): no sign
            index -= 1
        token = self._tokens[index] if index >= 0 else None
        return token is not None and token.kind == "word" and token.text == "in"

    # --- helpers --------------------------------------------------------------------
    def _peek(self, ahead: int = 0) -> Token:
        return self._tokens[min(self._index + ahead, len(self._tokens) - 1)]

    def _next(self) -> Token:
        token = self._peek()
        self._index += 1
        return token

    def _at(self, text: str) -> bool:
        token = self._peek()
        return token.kind in ("op", "word") and token.text == text

    def _expect(self, text: str) -> Token:
        token = self._peek()
        if not self._at(text):
            raise Fault(f"expected '{text}', got {_shown(token)}", token.offset)
        return self._next()

    def _count(self) -> None:
        self._nodes += 1
        if self._nodes > MAX_NODES:
            raise Fault(
                f"the expression is too large (over {MAX_NODES} parts)",
                self._peek().offset,
            )

    # --- grammar --------------------------------------------------------------------
    def _expression(self) -> n.Node:
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise Fault(
                f"the expression nests too deep (over {MAX_DEPTH})", self._peek().offset
            )
        node = self._or()
        if self._at("if"):
            offset = self._next().offset
            condition = self._or()
            self._expect("else")
            self._count()
            node = n.Conditional(offset, node, condition, self._expression())
        self._depth -= 1
        return node

    def _or(self) -> n.Node:
        node = self._and()
        while self._at("or"):
            offset = self._next().offset
            self._count()
            node = n.Logic(offset, "or", node, self._and())
        return node

    def _and(self) -> n.Node:
        node = self._not()
        while self._at("and"):
            offset = self._next().offset
            self._count()
            node = n.Logic(offset, "and", node, self._not())
        return node

    def _not(self) -> n.Node:
        if self._at("not"):
            offset = self._next().offset
            self._count()
            return n.Not(offset, self._nested(self._not))
        return self._comparison()

    def _comparison(self) -> n.Node:
        first = self._sum()
        rest: list[tuple[str, int, n.Node]] = []
        while True:
            token = self._peek()
            if (token.kind == "op" and token.text in _COMPARISONS) or self._at("in"):
                self._next()
                operator = token.text
            elif (
                self._at("not")
                and self._peek(1).kind == "word"
                and self._peek(1).text == "in"
            ):
                self._index += 2
                operator = "not in"
            else:
                break
            self._count()
            rest.append((operator, token.offset, self._sum()))
        return n.Comparison(first_offset(first), first, tuple(rest)) if rest else first

    def _sum(self) -> n.Node:
        node = self._term()
        while self._at("+") or self._at("-"):
            token = self._next()
            self._count()
            node = n.Arithmetic(token.offset, token.text, node, self._term())
        return node

    def _term(self) -> n.Node:
        node = self._unary()
        while any(self._at(op) for op in ("*", "/", "//", "%")):
            token = self._next()
            self._count()
            node = n.Arithmetic(token.offset, token.text, node, self._unary())
        return node

    def _unary(self) -> n.Node:
        if self._at("-") or self._at("+"):
            token = self._next()
            self._count()
            return n.Negative(
                token.offset, -1 if token.text == "-" else 1, self._nested(self._unary)
            )
        return self._atom()

    def _nested(self, rule: Callable[[], n.Node]) -> n.Node:
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise Fault(
                f"the expression nests too deep (over {MAX_DEPTH})", self._peek().offset
            )
        node = rule()
        self._depth -= 1
        return node

    def _atom(self) -> n.Node:
        token = self._next()
        self._count()
        if token.kind in ("number", "string"):
            node: n.Node = n.Literal(token.offset, token.value)
        elif token.kind == "name":
            node = self._name(token)
        elif token.kind == "op" and token.text == "(":
            if self._at(")"):
                raise Fault("empty parentheses '()'", token.offset)
            node = self._expression()
            self._expect(")")
        elif token.kind == "op" and token.text == "[":
            node = n.ListOf(token.offset, self._items("]", MAX_LIST))
        else:
            what = "the end" if token.kind == "end" else _shown(token)
            raise Fault(f"expected a value, got {what}", token.offset)
        return self._refuse_postfix(node)

    def _name(self, token: Token) -> n.Node:
        if token.text in CONSTANTS:
            return n.Literal(token.offset, CONSTANTS[token.text])
        if token.text == "trigger":
            self._expect(".")
            field = self._next()
            if field.kind not in ("name", "word") or field.text not in TRIGGER_FIELDS:
                raise Fault(
                    f"trigger has only the fields {', '.join(TRIGGER_FIELDS)}, got {_shown(field)}",
                    field.offset,
                )
            return n.TriggerField(token.offset, field.text)
        if token.text == "repeat" and self._at("."):  # a variable `repeat` stays one
            self._next()
            field = self._next()
            if field.text != "index":
                raise Fault(
                    f"repeat has only the field index, got {_shown(field)}",
                    field.offset,
                )
            return n.RepeatIndex(token.offset)
        if not self._at("("):
            return n.Variable(token.offset, token.text)
        function = FUNCTIONS.get(token.text)
        if function is None:
            close = did_you_mean(token.text, FUNCTIONS, written="{}()")
            raise Fault(f"unknown function '{token.text}'{close}", token.offset)
        self._next()
        args = self._items(")", function.max_args + 1)
        if not function.min_args <= len(args) <= function.max_args or (
            function.counts and len(args) not in function.counts
        ):
            raise Fault(
                f"{function.name}() takes {_arity(function)}, got {len(args)}",
                token.offset,
            )
        if function.check is not None:
            for index, arg in enumerate(args):
                if isinstance(arg, n.Literal):
                    try:
                        function.check(index, arg.value)
                    except Fault as fault:
                        raise Fault(fault.reason, arg.offset) from None
        literals = _literal_values(args)
        if function.check_all is not None and literals is not None:
            try:
                function.check_all(literals)
            except Fault as fault:
                raise Fault(fault.reason, token.offset) from None
        return n.Call(token.offset, function, args)

    def _items(self, closer: str, limit: int) -> tuple[n.Node, ...]:
        items: list[n.Node] = []
        while not self._at(closer):
            if len(items) >= limit:
                raise Fault(f"too many items (at most {limit})", self._peek().offset)
            items.append(self._expression())
            if not self._at(closer):
                self._expect(",")
        self._next()
        return tuple(items)

    def _refuse_postfix(self, node: n.Node) -> n.Node:
        token = self._peek()
        if token.kind == "op" and token.text == "[":
            raise Fault("subscripts are not allowed", token.offset)
        if token.kind == "op" and token.text == ".":
            raise Fault(
                "attribute access is not allowed (only trigger.<field> and"
                " repeat.index)",
                token.offset,
            )
        if token.kind == "op" and token.text == "(":
            raise Fault("only the listed functions may be called", token.offset)
        return node


def first_offset(node: n.Node) -> int:
    """Where a node's text starts (its leftmost leaf)."""
    children = node.children()
    return (
        min([node.offset, *(first_offset(child) for child in children)])
        if children
        else node.offset
    )


def _literal_values(args: tuple[n.Node, ...]) -> list[JsonValue] | None:
    """The values of `args` when each is written out: a literal, or a number with
    its sign (`-1` is a unary minus on 1 to the grammar, a literal to the reader:
    `random(0, -1)` is refused at import as `random(1, 0)` is); None otherwise."""
    values: list[JsonValue] = []
    for arg in args:
        if isinstance(arg, n.Literal):
            values.append(arg.value)
        elif (
            isinstance(arg, n.Negative)
            and isinstance(arg.operand, n.Literal)
            and isinstance(arg.operand.value, int | float)
            and not isinstance(arg.operand.value, bool)
        ):
            values.append(arg.sign * arg.operand.value)
        else:
            return None
    return values


def _arity(function: Function) -> str:
    low, high = function.min_args, function.max_args
    if function.counts:
        return " or ".join(map(str, function.counts)) + " arguments"
    if low == high:
        return f"{low} argument" + ("" if low == 1 else "s")
    return f"{low} to {high} arguments"


def _shown(token: Token) -> str:
    if token.kind == "end":
        return "the end"
    return repr(token.text[:20])
