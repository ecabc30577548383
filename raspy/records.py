"""`@frozen`: what `@dataclass(frozen=True, slots=True)` makes, for a fifth of the cost.

Python 3.11's `dataclass` compiles, with an `exec` each, six methods for every
frozen class: `__init__`, `__repr__`, `__eq__`, `__hash__`, `__setattr__` and
`__delattr__`. raspy is made of such classes (over 200 at raspyd's start), and
that compiling was half of the CPU of raspyd's imports (docs/PERFORMANCE.md,
"Frozen classes for less"): on a Pi 3, most of a second of every start.

A `@frozen` class compiles its `__init__` alone (the hot path: messages are made
per request). The five others are written once, here, for all of them, over an
`operator.attrgetter` of the class's fields made when the class is. The class is
a standard dataclass underneath (`dataclasses.fields`, `replace`, `asdict` and
`astuple` work; `__match_args__` and `__slots__` are the standard ones) and
behaves as the frozen, slotted one does: the same `__init__` signature,
`repr`, equality and hash (by the fields' `compare`, `hash` and `repr` flags), a
`FrozenInstanceError` on assignment or deletion, a `__post_init__` called, copy
and pickle. A class that defines one of those methods itself keeps its own, as
with `dataclass`. Not taken: `kw_only` and `InitVar` (raspy has none; refused
with a TypeError rather than half made). Unlike dataclasses', the `__init__`'s
globals are not its module's: `typing.get_type_hints` on it finds builtins only
(a closure over the module's globals, as dataclasses makes it, cost 3% of a start).
"""

from __future__ import annotations

import dataclasses
import operator
import reprlib
from collections.abc import Callable
from typing import Any, TypeVar, cast, dataclass_transform

_T = TypeVar("_T")
_Key = Callable[[Any], tuple[Any, ...]]


class _Factory:
    """The default of a parameter whose field has a default factory: the
    factory is called when the parameter was left out (`<factory>` in the
    signature, as dataclasses shows it)."""

    def __repr__(self) -> str:
        return "<factory>"


_FACTORY = _Factory()


@dataclass_transform(
    frozen_default=True, field_specifiers=(dataclasses.field, dataclasses.Field)
)
def frozen(cls: type[_T]) -> type[_T]:
    """A frozen, slotted dataclass of `cls` (see the module's docstring)."""
    own_doc = cls.__dict__.get("__doc__")
    own = set(cls.__dict__)
    if own_doc is None:  # else dataclass makes one with inspect.signature: 0.1 ms
        cls.__doc__ = cls.__name__  # ours, set below
    if "__setattr__" in own or "__delattr__" in own:
        raise TypeError(
            f"frozen class {cls.__qualname__} defines __setattr__/__delattr__"
        )
    made = dataclasses.dataclass(  # fields and slots only: nothing compiled
        cls, init=False, repr=False, eq=False, slots=True
    )
    fields = dataclasses.fields(cast(Any, made))
    # beside the fields: ClassVars (class attributes: nothing to do) and InitVars
    # (parameters of __init__ for __post_init__, which ours does not take)
    names = {f.name for f in fields}
    others = cast(Any, made).__dataclass_fields__.values()
    if any("InitVar" in str(f.type) for f in others if f.name not in names):
        raise TypeError(f"frozen class {cls.__qualname__}: an InitVar field")
    if any(f.kw_only is True for f in fields):
        raise TypeError(
            f"frozen class {cls.__qualname__}: kw_only fields are not taken"
        )
    parameters = _set_init(made, fields)
    if own_doc is None:
        made.__doc__ = f"{made.__name__}({parameters})"
    compared = [f.name for f in fields if f.compare]
    hashed = [f.name for f in fields if f.hash or (f.hash is None and f.compare)]
    # as dataclasses has it: a class that defines __eq__ alone has __hash__ None
    explicit_hash = "__hash__" in own and not (
        cls.__dict__["__hash__"] is None and "__eq__" in own
    )
    added: dict[str, object] = {
        "__record_repr__": tuple(f.name for f in fields if f.repr),
        # staticmethod: a lambda is a function, which a class would bind
        "__record_eq__": staticmethod(_key(compared)),
        "__record_hash__": staticmethod(_key(hashed)),
        "__record_names__": staticmethod(_key([f.name for f in fields])),
        "__repr__": _repr,
        "__eq__": _eq,
        "__getstate__": _getstate,
        "__setstate__": _setstate,
    }
    for name, value in added.items():
        if name not in own:
            setattr(made, name, value)
    if not explicit_hash:
        made.__hash__ = _hash  # type: ignore[method-assign]  # set on the class: the point
    made.__setattr__ = _frozen_setattr  # type: ignore[method-assign]  # set on the class: the point
    made.__delattr__ = _frozen_delattr  # type: ignore[method-assign]  # set on the class: the point
    return made


def _key(names: list[str]) -> _Key:
    """The fields named, as a tuple (attrgetter gives one value for one name)."""
    if not names:
        return lambda _self: ()
    if len(names) == 1:
        one = operator.attrgetter(names[0])
        return lambda self: (one(self),)
    return operator.attrgetter(*names)


def _set_init(cls: type, fields: tuple[dataclasses.Field[Any], ...]) -> str:
    """Compile `cls.__init__` (the one `exec`); returns its parameters' text."""
    env: dict[str, Any] = {
        "__record_set__": object.__setattr__,
        "__record_factory__": _FACTORY,
    }
    parameters: list[str] = []
    shown: list[str] = []
    lines: list[str] = []
    defaulted = ""
    for f in fields:
        default, factory = f"__record_default_{f.name}__", f"__record_make_{f.name}__"
        kind = f"__record_type_{f.name}__"  # the annotation, as dataclasses shows it
        env[kind] = f.type
        has_factory = f.default_factory is not dataclasses.MISSING
        if has_factory:
            env[factory] = f.default_factory
        elif f.default is not dataclasses.MISSING:
            env[default] = f.default
        if f.init:
            if has_factory:
                parameters.append(f"{f.name}:{kind}=__record_factory__")
                shown.append(f"{f.name}=<factory>")
                value = f"{factory}() if {f.name} is __record_factory__ else {f.name}"
                defaulted = f.name
            elif f.default is not dataclasses.MISSING:
                parameters.append(f"{f.name}:{kind}={default}")
                shown.append(f"{f.name}={f.default!r}")
                value = f.name
                defaulted = f.name
            elif defaulted:
                raise TypeError(
                    f"non-default argument {f.name!r} follows default argument"
                )
            else:
                parameters.append(f"{f.name}:{kind}")
                shown.append(f.name)
                value = f.name
        elif has_factory:
            value = f"{factory}()"
        elif f.default is not dataclasses.MISSING:
            value = default
        else:
            continue  # neither a parameter nor a default: left unset, as dataclasses
        lines.append(f"  __record_set__(__record_self__, {f.name!r}, {value})")
    if hasattr(cls, "__post_init__"):
        lines.append("  __record_self__.__post_init__()")
    text = "def __init__({}) -> None:\n{}".format(
        ", ".join(["__record_self__", *parameters]), "\n".join(lines) or "  pass"
    )
    # dont_inherit: not this module's `annotations` future (they would be strings)
    code = compile(
        text, f"<frozen class {cls.__qualname__}>", "exec", dont_inherit=True
    )
    exec(code, env)  # noqa: S102  # our own text, made of the class's field names
    init = env["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__module__ = cls.__module__
    cls.__init__ = init  # type: ignore[misc]  # a class's __init__ set: the point
    return ", ".join(shown)


@reprlib.recursive_repr()
def _repr(self: Any) -> str:
    values = ", ".join(f"{n}={getattr(self, n)!r}" for n in self.__record_repr__)
    return f"{self.__class__.__qualname__}({values})"


def _eq(self: Any, other: Any) -> Any:
    if other.__class__ is self.__class__:
        key = self.__record_eq__
        return key(self) == key(other)
    return NotImplemented


def _hash(self: Any) -> int:
    return hash(self.__record_hash__(self))


def _frozen_setattr(self: Any, name: str, value: Any) -> None:
    raise dataclasses.FrozenInstanceError(f"cannot assign to field {name!r}")


def _frozen_delattr(self: Any, name: str) -> None:
    raise dataclasses.FrozenInstanceError(f"cannot delete field {name!r}")


def _getstate(self: Any) -> list[Any]:
    return list(self.__record_names__(self))


def _setstate(self: Any, state: list[Any]) -> None:
    for f, value in zip(dataclasses.fields(self), state, strict=True):
        object.__setattr__(self, f.name, value)
