"""The checks of what a scenario's runs fill in or compute, which every part of the
loader shares: templates, expressions and JSON values, over the shapes and scalars of
ShapeChecks (document_shapes.py); each problem recorded with its line and column,
never raised: the loader reports all of them at once."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import yaml

from raspy.devices.template import JsonValue
from raspy.errors import quote
from raspy.rules import model, template
from raspy.rules.document_shapes import ShapeChecks, did_you_mean, join
from raspy.rules.document_yaml import INVALID, Invalid, kind_of, scalar, text_offset
from raspy.rules.expr import CompiledExpression, ExpressionError, compile_expression
from raspy.rules.expr_functions import FUNCTIONS
from raspy.rules.expr_values import quoted_hint


@dataclass(slots=True)
class Checks(ShapeChecks):
    """ShapeChecks, and the templates, expressions and JSON values in a document."""

    def template(
        self,
        node: yaml.Node,
        path: str,
        known: frozenset[str] | None = None,
        *,
        limit: int = 1024,
    ) -> str | None:
        value = self.text(node, path, limit=limit)
        if value is not None and not self.check_template(node, path, value, known):
            return None
        return value

    def check_template(
        self,
        node: yaml.Node,
        path: str,
        value: str,
        known: frozenset[str] | None = None,
        *,
        base: int | None = 0,
    ) -> bool:
        """Whether `value` (at offset `base` of the node's text; None: unknown) is a
        template naming only `known` (default: built-ins and variables)."""
        names = (template.BUILTIN_NAMES | self.variables) if known is None else known
        if known is None and self.repeats:
            names = names | {template.REPEAT_INDEX}
        try:
            template.check(value, names, secrets=self.secrets)
        except template.TemplateError as exc:
            offset = (
                0
                if base is None
                else text_offset(node, base + exc.offset, self.document)
            )
            self.problem(node, path, _narrowed(exc.reason, known), offset)
            return False
        return True

    def expression(
        self, node: yaml.Node, path: str, *, test: bool = True
    ) -> CompiledExpression | None:
        """An expression; `test`: one that holds or not (an `if:`, a `while:`), where
        a list is Home Assistant's list of conditions, said so."""
        if test and isinstance(node, yaml.SequenceNode):
            self.problem(
                node,
                path,
                "expected an expression, got a list (one expression here: join"
                " the tests with and, e.g. kv('/a') == 1 and hour() >= 18)",
            )
            return None
        source = self.text(node, path, limit=1 << 20)  # compile_expression bounds it
        if source is None:
            return None
        try:
            compiled = compile_expression(source)
        except ExpressionError as exc:
            self.problem(
                node, path, exc.reason, text_offset(node, exc.offset, self.document)
            )
            return None
        for name, offset in compiled.variable_uses():
            if name not in self.variables:
                message = f"unknown variable{_unknown_name(name, self.variables)}"
                self.problem(
                    node, path, message, text_offset(node, offset, self.document)
                )
                return None
        if compiled.repeat_uses() and not self.repeats:
            offset = text_offset(node, compiled.repeat_uses()[0], self.document)
            self.problem(node, path, model.OUTSIDE_REPEAT, offset)
            return None
        for key, offset in compiled.kv_literals():
            # the key's template offsets hold inside the literal when it has no escapes
            base = (
                offset + 1
                if source[offset + 1 : offset + 1 + len(key)] == key
                else None
            )
            # a key is read from the tree: a secret there would be in its traces
            with self.secrets_allowed(False):
                if not self.check_template(node, path, key, base=base):
                    return None
        return compiled

    def json(
        self, node: yaml.Node, path: str, *, templates: bool = False
    ) -> JsonValue | Invalid:
        """Any YAML value as JSON (mappings with text keys, finite numbers); with
        `templates`, every string in it must be a good template."""
        if isinstance(node, yaml.SequenceNode):
            items = [
                self.json(item, f"{path}[{i}]", templates=templates)
                for i, item in enumerate(node.value)
            ]
            if any(isinstance(item, Invalid) for item in items):
                return INVALID
            return [item for item in items if not isinstance(item, Invalid)]
        if isinstance(node, yaml.MappingNode):
            entries = self.mapping(node, path)
            if entries is None:
                return INVALID
            values = {
                k: self.json(v, join(path, k), templates=templates)
                for k, (_, v) in entries.items()
            }
            if any(isinstance(value, Invalid) for value in values.values()):
                return INVALID
            return {k: v for k, v in values.items() if not isinstance(v, Invalid)}
        value = scalar(node)
        if isinstance(value, Invalid):
            self.problem(node, path, f"expected a JSON value, got {kind_of(node)}")
            return INVALID
        if isinstance(value, float) and not math.isfinite(value):
            self.problem(node, path, f"expected a finite number, got {kind_of(node)}")
            return INVALID
        if self.slipped(node, path, value, text=True):
            return INVALID
        if templates and isinstance(value, str):
            return value if self.check_template(node, path, value) else INVALID
        return value


def _unknown_name(name: str, variables: Iterable[str]) -> str:
    """did_you_mean() of a name an expression uses; a function's name written
    without its call (`random`, `now`, `hour`) is told how to call it."""
    if name in FUNCTIONS:
        return f" {quote(name)} (did you mean {name}()?)"
    said = did_you_mean(name, variables)
    if said == f" {quote(name)}":  # no name close to it: a text left unquoted?
        return f"{said} {quoted_hint(name)}"
    return said


def _narrowed(reason: str, known: frozenset[str] | None) -> str:
    """An unknown name where only a few names may be used (a trigger's key: {host})
    says which: a variable of the scenario was told `unknown name 'room'` there."""
    if known is None or not reason.startswith("unknown name "):
        return reason
    allowed = ", ".join("{" + name + "}" for name in sorted(known))
    return f"{reason} (only {allowed} may be used here)"
