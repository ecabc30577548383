"""The syntax tree of a compiled expression; each node evaluates itself.

Every node kind here is allowed: the tree can hold nothing else, so evaluation can
reach no Python object but JSON values and the functions of rules.expr_functions.
"""

from __future__ import annotations

from collections.abc import Iterator

from raspy.devices.template import JsonValue
from raspy.records import frozen
from raspy.rules.expr_functions import Function
from raspy.rules.expr_values import (
    Fault,
    arithmetic,
    checked_number,
    compare,
    number,
    quoted_hint,
    truthy,
)
from raspy.rules.model import OUTSIDE_REPEAT, EvalContext


@frozen
class Literal:
    offset: int
    value: JsonValue

    def evaluate(self, _context: EvalContext) -> JsonValue:
        return self.value

    def children(self) -> tuple[Node, ...]:
        return ()


@frozen
class Variable:
    offset: int
    name: str

    def evaluate(self, context: EvalContext) -> JsonValue:
        if self.name not in context.variables:
            hint = quoted_hint(self.name)
            raise Fault(f"unknown variable '{self.name}' {hint}", self.offset)
        return context.variables[self.name]

    def children(self) -> tuple[Node, ...]:
        return ()


@frozen
class TriggerField:
    """`trigger.key` and friends: the only attribute access there is."""

    offset: int
    field: str

    def evaluate(self, context: EvalContext) -> JsonValue:
        return context.trigger_field(self.field)

    def children(self) -> tuple[Node, ...]:
        return ()


@frozen
class RepeatIndex:
    """`repeat.index`: the pass of the innermost repeat, from 1 (the loader refuses
    it outside a repeat's actions, so the fault is a guard)."""

    offset: int

    def evaluate(self, context: EvalContext) -> JsonValue:
        if context.repeat_index is None:
            raise Fault(OUTSIDE_REPEAT, self.offset)
        return context.repeat_index

    def children(self) -> tuple[Node, ...]:
        return ()


@frozen
class ListOf:
    offset: int
    items: tuple[Node, ...]

    def evaluate(self, context: EvalContext) -> JsonValue:
        return [item.evaluate(context) for item in self.items]

    def children(self) -> tuple[Node, ...]:
        return self.items


@frozen
class Negative:
    """Unary minus (`sign` -1) or plus (`sign` 1): numbers only."""

    offset: int
    sign: int
    operand: Node

    def evaluate(self, context: EvalContext) -> JsonValue:
        value = self.operand.evaluate(context)
        try:
            return checked_number(
                self.sign * number(value, "unary '-'" if self.sign < 0 else "unary '+'")
            )
        except Fault as fault:
            raise Fault(fault.reason, self.offset) from None

    def children(self) -> tuple[Node, ...]:
        return (self.operand,)


@frozen
class Not:
    offset: int
    operand: Node

    def evaluate(self, context: EvalContext) -> JsonValue:
        return not truthy(self.operand.evaluate(context))

    def children(self) -> tuple[Node, ...]:
        return (self.operand,)


@frozen
class Arithmetic:
    offset: int  # of the operator
    operator: str
    left: Node
    right: Node

    def evaluate(self, context: EvalContext) -> JsonValue:
        left = self.left.evaluate(context)
        right = self.right.evaluate(context)
        try:
            return arithmetic(self.operator, left, right)
        except Fault as fault:
            raise Fault(fault.reason, self.offset) from None

    def children(self) -> tuple[Node, ...]:
        return (self.left, self.right)


@frozen
class Logic:
    """`and` / `or` as in Python: short-circuit, the deciding operand is the value."""

    offset: int
    operator: str
    left: Node
    right: Node

    def evaluate(self, context: EvalContext) -> JsonValue:
        left = self.left.evaluate(context)
        if truthy(left) == (self.operator == "or"):
            return left
        return self.right.evaluate(context)

    def children(self) -> tuple[Node, ...]:
        return (self.left, self.right)


@frozen
class Comparison:
    """`a < b <= c`: each middle operand evaluated once, stops at the first false."""

    offset: int
    first: Node
    rest: tuple[tuple[str, int, Node], ...]  # operator, its offset, operand

    def evaluate(self, context: EvalContext) -> JsonValue:
        left = self.first.evaluate(context)
        for operator, offset, node in self.rest:
            right = node.evaluate(context)
            try:
                holds = compare(operator, left, right, context.work)
            except Fault as fault:
                raise Fault(fault.reason, offset) from None
            if not holds:
                return False
            left = right
        return True

    def children(self) -> tuple[Node, ...]:
        return (self.first, *(node for _, _, node in self.rest))


@frozen
class Conditional:
    """`a if c else b`."""

    offset: int
    then: Node
    condition: Node
    otherwise: Node

    def evaluate(self, context: EvalContext) -> JsonValue:
        if truthy(self.condition.evaluate(context)):
            return self.then.evaluate(context)
        return self.otherwise.evaluate(context)

    def children(self) -> tuple[Node, ...]:
        return (self.then, self.condition, self.otherwise)


@frozen
class Call:
    offset: int
    function: Function
    args: tuple[Node, ...]

    def evaluate(self, context: EvalContext) -> JsonValue:
        values = [arg.evaluate(context) for arg in self.args]
        try:
            return self.function.run(context, values)
        except Fault as fault:
            raise Fault(fault.reason, self.offset) from None

    def children(self) -> tuple[Node, ...]:
        return self.args


Node = (
    Literal
    | Variable
    | TriggerField
    | RepeatIndex
    | ListOf
    | Negative
    | Not
    | Arithmetic
    | Logic
    | Comparison
    | Conditional
    | Call
)


def walk(node: Node) -> Iterator[Node]:
    """Every node of the tree, depth first."""
    yield node
    for child in node.children():
        yield from walk(child)
