"""Safe expressions for scenario conditions: compile once, evaluate against a context.

User text goes through our own tokenizer and parser (rules.expr_parser) into a tree of
allowed nodes only; nothing here calls eval, exec, compile or Python's parser.
Values are JSON values; the functions are the allow-list of rules.expr_functions.
"""

from __future__ import annotations

from typing import Final

from raspy.devices.template import JsonValue
from raspy.errors import ScenarioError, quote
from raspy.rules import expr_nodes
from raspy.rules.expr_functions import FUNCTIONS
from raspy.rules.expr_parser import Parser
from raspy.rules.expr_values import Fault
from raspy.rules.model import EvalContext

MAX_SOURCE: Final = 1_000
# a fault shows the expression whole up to this long, else this much around the
# place its offset names: a scenario's last_error (500 characters) holds it with
# what it says and names
SHOWN_CHARS: Final = 160
FUNCTION_NAMES: Final = frozenset(FUNCTIONS)


class ExpressionError(ScenarioError):
    """An expression that does not compile, or faulted while evaluated.

    `reason` says what is wrong, `offset` where (0-based character in `source`).
    """

    def __init__(self, reason: str, offset: int, source: str) -> None:
        self.reason = reason
        self.offset = offset
        self.source = source
        shown = shown_source(source, offset)
        super().__init__(f"expression {shown}: {reason} (at offset {offset})")


def shown_source(source: str, offset: int) -> str:
    """The expression in a fault's text: whole when it is short enough, else the
    part around `offset`, cut sides marked, and where that part is (a cut at 64
    bytes said `at offset 70` of a place it did not show)."""
    if len(source) <= SHOWN_CHARS:
        return quote(source, limit=None)  # bounded by MAX_SOURCE
    start = max(0, min(offset - SHOWN_CHARS // 2, len(source) - SHOWN_CHARS))
    end = start + SHOWN_CHARS
    before = "…" if start else ""
    after = "…" if end < len(source) else ""
    piece = quote(f"{before}{source[start:end]}{after}", limit=None)
    return f"{piece} (offsets {start} to {end - 1} of {len(source)} shown)"


class CompiledExpression:
    """A parsed expression (implements rules.model.Expression); immutable."""

    __slots__ = (
        "_computed_keys",
        "_functions",
        "_kv_keys",
        "_kv_literals",
        "_repeat_uses",
        "_source",
        "_tree",
        "_trigger_uses",
        "_variables",
    )

    def __init__(self, source: str, tree: expr_nodes.Node) -> None:
        self._source = source
        self._tree = tree
        nodes = list(expr_nodes.walk(tree))
        self._variables = tuple(
            (node.name, node.offset)
            for node in nodes
            if isinstance(node, expr_nodes.Variable)
        )
        calls = [node for node in nodes if isinstance(node, expr_nodes.Call)]
        kv_calls = [call for call in calls if call.function.name == "kv"]
        keyed = [(call, _literal_key(call)) for call in kv_calls]
        self._kv_literals = tuple(
            (key, call.args[0].offset) for call, key in keyed if key is not None
        )
        self._kv_keys = frozenset(key for key, _ in self._kv_literals)
        self._repeat_uses = tuple(
            node.offset for node in nodes if isinstance(node, expr_nodes.RepeatIndex)
        )
        self._trigger_uses = tuple(
            node.offset for node in nodes if isinstance(node, expr_nodes.TriggerField)
        )
        self._functions = frozenset(call.function.name for call in calls)
        self._computed_keys = tuple(call.offset for call, key in keyed if key is None)

    @property
    def source(self) -> str:
        return self._source

    def evaluate(self, context: EvalContext) -> JsonValue:
        """The value; raises ExpressionError on a runtime fault (type, zero, unknown)."""
        try:
            return self._tree.evaluate(context)
        except Fault as fault:
            offset = 0 if fault.offset is None else fault.offset
            raise ExpressionError(fault.reason, offset, self._source) from None

    def kv_keys(self) -> frozenset[str]:
        """The literal keys of kv(...) calls, as written (templates like {host} kept)."""
        return self._kv_keys

    def variable_names(self) -> frozenset[str]:
        """The variable names it reads (the loader checks them against `variables:`)."""
        return frozenset(name for name, _ in self._variables)

    def variable_uses(self) -> tuple[tuple[str, int], ...]:
        """Each variable read with its offset in the source, in tree order."""
        return self._variables

    def repeat_uses(self) -> tuple[int, ...]:
        """The offsets of each `repeat.index` (the loader refuses it outside a
        repeat's actions)."""
        return self._repeat_uses

    def trigger_uses(self) -> tuple[int, ...]:
        """The offsets of each `trigger.*` (a `when:` trigger is tested before any
        run, so it has none)."""
        return self._trigger_uses

    def function_names(self) -> frozenset[str]:
        """The functions it calls (`now`, `hour`: whether it reads the time)."""
        return self._functions

    def computed_keys(self) -> tuple[int, ...]:
        """The offsets of each kv() whose key the expression puts together (no
        literal key: nothing says which key's change to re-check it on)."""
        return self._computed_keys

    def kv_literals(self) -> tuple[tuple[str, int], ...]:
        """Each literal kv() key with the offset of its string literal (the quote)."""
        return self._kv_literals

    def __repr__(self) -> str:
        return f"CompiledExpression({self._source!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CompiledExpression) and other._source == self._source

    def __hash__(self) -> int:
        return hash(self._source)


def compile_expression(text: str) -> CompiledExpression:
    """Parse `text` into an expression; raises ExpressionError naming the offset."""
    if not isinstance(text, str):
        raise TypeError(f"an expression is text, got {type(text).__name__}")
    if len(text) > MAX_SOURCE:
        raise ExpressionError(
            f"the expression is longer than {MAX_SOURCE} characters", MAX_SOURCE, text
        )
    if not text.strip():
        raise ExpressionError("the expression is empty", 0, text)
    try:
        tree = Parser(text).parse()
    except Fault as fault:
        offset = 0 if fault.offset is None else fault.offset
        raise ExpressionError(fault.reason, offset, text) from None
    return CompiledExpression(text, tree)


def _literal_key(call: expr_nodes.Call) -> str | None:
    """The key a kv() call names as a text written out; None for one it computes."""
    key = call.args[0]
    if isinstance(key, expr_nodes.Literal) and isinstance(key.value, str):
        return key.value
    return None
