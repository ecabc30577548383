"""`raspy.records.frozen` against the standard `dataclass(frozen=True, slots=True)`:
the same class made both ways from random fields must behave the same."""

from __future__ import annotations

import copy
import dataclasses
import inspect
import typing
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from raspy.records import frozen

# a field: (name, kind, default, compare, repr, hash)
KINDS = ("required", "default", "factory", "late_default", "late_factory")
FACTORIES: dict[str, Any] = {"list": list, "dict": dict, "tuple": tuple}

field_specs = st.lists(
    st.tuples(
        st.sampled_from(KINDS),
        st.one_of(st.integers(-3, 3), st.text(max_size=3), st.just((1, 2))),
        st.sampled_from(sorted(FACTORIES)),
        st.booleans(),
        st.booleans(),
        st.sampled_from([None, True, False]),
    ),
    max_size=5,
)


def _namespace(specs: list[tuple[Any, ...]]) -> dict[str, Any]:
    """A fresh class body (dataclasses takes its Field objects over)."""
    body: dict[str, Any] = {"__annotations__": {}, "__qualname__": "Made"}
    for index, (kind, default, factory, compare, shown, hashed) in enumerate(specs):
        name = f"f{index}"
        body["__annotations__"][name] = "object"
        flags = {"compare": compare, "repr": shown, "hash": hashed}
        if kind == "required":
            body[name] = dataclasses.field(**flags)
        elif kind == "default":
            body[name] = dataclasses.field(default=default, **flags)
        elif kind == "factory":
            body[name] = dataclasses.field(default_factory=FACTORIES[factory], **flags)
        elif kind == "late_default":
            body[name] = dataclasses.field(default=default, init=False, **flags)
        else:
            body[name] = dataclasses.field(
                default_factory=FACTORIES[factory], init=False, **flags
            )
    return body


def _both(specs: list[tuple[Any, ...]]) -> tuple[Any, Any]:
    """The standard class and the record, or the TypeError each raised."""
    made: list[Any] = []
    for decorate in (
        dataclasses.dataclass(frozen=True, slots=True),
        frozen,
    ):
        try:
            made.append(decorate(type("Made", (), _namespace(specs))))
        except TypeError as error:
            made.append(error)
    return made[0], made[1]


def _outcome(action: Any) -> Any:
    """What an action gives, or the type of the exception it raises."""
    try:
        return action()
    except Exception as error:  # noqa: BLE001  # compared, not hidden
        return type(error)


@settings(max_examples=300)
@given(field_specs, st.data())
def test_a_frozen_class_behaves_as_the_frozen_slotted_dataclass(
    specs: list[tuple[Any, ...]], data: st.DataObject
) -> None:
    standard, ours = _both(specs)
    if isinstance(standard, TypeError):  # a required field after a defaulted one
        assert isinstance(ours, TypeError)
        return
    assert str(inspect.signature(ours)) == str(inspect.signature(standard))
    assert ours.__slots__ == standard.__slots__
    assert ours.__match_args__ == standard.__match_args__
    assert [f.name for f in dataclasses.fields(ours)] == [
        f.name for f in dataclasses.fields(standard)
    ]
    parameters = [f for f in dataclasses.fields(standard) if f.init]
    values = st.one_of(st.integers(0, 2), st.lists(st.integers(0, 1), max_size=1))
    calls = []
    for _ in range(2):
        args = {
            f.name: data.draw(values)
            for f in parameters
            if (
                f.default is dataclasses.MISSING
                and f.default_factory is dataclasses.MISSING
            )
            or data.draw(st.booleans())
        }
        calls.append(args)
    s1, s2 = (standard(**args) for args in calls)
    r1, r2 = (ours(**args) for args in calls)
    assert repr(r1) == repr(s1)
    assert (r1 == r2) == (s1 == s2)
    same = r1
    assert r1 == same
    assert r1 != object()
    assert _outcome(lambda: hash(r1)) == _outcome(lambda: hash(s1))
    # with no field at all, the standard one's __setattr__ raises TypeError (its
    # super() names the class from before slots were added): a record does not
    for instance in (r1, s1) if specs else (r1,):
        with pytest.raises(dataclasses.FrozenInstanceError):
            instance.f0 = 1
        with pytest.raises(dataclasses.FrozenInstanceError):
            del instance.f0
    assert copy.copy(r1) == r1
    assert copy.deepcopy(r1) == r1
    assert dataclasses.asdict(r1) == dataclasses.asdict(s1)
    assert dataclasses.astuple(r1) == dataclasses.astuple(s1)
    changes = {f.name: 9 for f in parameters[:1]}
    assert repr(dataclasses.replace(r1, **changes)) == repr(
        dataclasses.replace(s1, **changes)
    )


def test_post_init_runs_and_may_set_a_late_field() -> None:
    @frozen
    class Sized:
        text: str
        size: int = dataclasses.field(init=False)

        def __post_init__(self) -> None:
            object.__setattr__(self, "size", len(self.text))

    assert Sized("abc").size == 3
    assert repr(Sized("ab")).endswith(".Sized(text='ab', size=2)")


def test_a_class_keeps_the_methods_it_defines() -> None:
    @frozen
    class Named:
        name: str

        def __repr__(self) -> str:
            return f"<{self.name}>"

        def __eq__(self, other: object) -> bool:
            return isinstance(other, Named) and other.name.lower() == self.name.lower()

        def __hash__(self) -> int:
            return hash(self.name.lower())

    assert repr(Named("x")) == "<x>"
    assert Named("A") == Named("a")
    assert hash(Named("A")) == hash(Named("a"))


def test_a_class_that_defines_eq_alone_gets_the_fields_hash() -> None:
    @frozen
    class Point:  # noqa: PLW1641  # the point: no __hash__ of its own
        x: int

        def __eq__(self, other: object) -> bool:
            return isinstance(other, Point) and other.x == self.x

    assert hash(Point(1)) == hash((1,))


def test_a_class_variable_is_no_field() -> None:
    @frozen
    class Counted:
        limit: typing.ClassVar[int] = 3
        name: str

    assert Counted("a").limit == 3
    assert [f.name for f in dataclasses.fields(Counted)] == ["name"]
    assert repr(Counted("a")).endswith("Counted(name='a')")


def test_a_frozen_class_may_extend_another() -> None:
    @frozen
    class Base:
        a: int

    @frozen
    class Child(Base):
        b: int = 2

    child = Child(1)
    assert (child.a, child.b) == (1, 2)
    assert (
        repr(child) == "test_a_frozen_class_may_extend_another.<locals>.Child(a=1, b=2)"
    )
    assert child != Base(1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        child.b = 3  # type: ignore[misc]


def test_what_frozen_does_not_take_is_refused() -> None:
    class Own:
        x: int

        def __setattr__(self, name: str, value: object) -> None:
            object.__setattr__(self, name, value)

    with pytest.raises(TypeError, match="__setattr__"):
        frozen(Own)

    class Keyword:
        __annotations__ = {"x": "int"}
        x = dataclasses.field(kw_only=True)

    with pytest.raises(TypeError, match="kw_only"):
        frozen(Keyword)

    class Late:
        __annotations__ = {"x": "dataclasses.InitVar[int]"}

    Late.__annotations__ = {"x": dataclasses.InitVar[int]}
    with pytest.raises(TypeError, match="InitVar"):
        frozen(Late)


def test_a_class_without_a_docstring_is_made_without_a_signature(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # dataclasses would make the docstring from inspect.signature, 0.1 ms a class
    # at import (80 of raspy's); ours is made from the fields as they are read
    def refused(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("inspect.signature called")

    monkeypatch.setattr(inspect, "signature", refused)

    @frozen
    class Plain:
        a: int
        b: str = "x"

    assert Plain.__doc__ == "Plain(a, b='x')"


STANDARD = dataclasses.dataclass(frozen=True, slots=True)


def _extended(decorate: Any) -> tuple[Any, Any]:
    """A base whose own __eq__/__hash__/__repr__ a subclass does not keep, both with
    defaults."""

    class Base:
        a: int = 1

        def __repr__(self) -> str:
            return "base"

        def __eq__(self, other: object) -> bool:
            return True

        def __hash__(self) -> int:
            return 7

    base = decorate(Base)

    class Child(base):  # type: ignore[valid-type,misc]
        b: float = 2.0

    return base, decorate(Child)


@pytest.mark.parametrize("decorate", [STANDARD, frozen], ids=["standard", "frozen"])
def test_a_subclass_and_odd_values_behave_as_the_standard(decorate: Any) -> None:
    base, child = _extended(decorate)
    nan = float("nan")
    got = (
        str(inspect.signature(child)),
        repr(child(3, nan)).rsplit(".", 1)[1],
        (repr(base()), base(1) == base(2), hash(base(1))),
        child(1, nan) == child(1, float("nan")),  # two NaNs: unequal
        child(1, nan) == child(1, nan),  # one NaN: equal (tuples: identity first)
        hash(child(3)) == hash((3, 2.0)),
        child(1) == base(1),  # the base's __eq__ answers the reflected one
        child(1).__eq__(base(1)),
    )
    assert got == (
        "(a: 'int' = 1, b: 'float' = 2.0) -> None",
        "Child(a=3, b=nan)",
        ("base", True, 7),
        False,
        True,
        True,
        True,
        NotImplemented,
    )
    cycle: list[Any] = []
    looped = child(1, cycle)
    cycle.append(looped)
    assert repr(looped).endswith("Child(a=1, b=[...])")
    late = type("Late", (child,), {"__annotations__": {"c": int}})
    with pytest.raises(TypeError, match="non-default argument 'c' follows default"):
        decorate(late)
