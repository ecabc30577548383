"""UsageParser under hypothesis: an `intermixed` parser (as `raspy call`'s) reads its
options wherever they stand among the positionals, each value after a space or `=`,
a value that begins with `-` too, and a negative number as a positional."""

from __future__ import annotations

import argparse
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from raspy.cli.usage_parser import UsageParser

# values argparse alone would take for options: `-x`, a negative number in exponent
# form; and plain ones. None that is an option itself (`-o…`, `--…`)
_VALUES = st.sampled_from(["v", "a b", "-x", "-1h", "-1.5e2", "-.5", "-", "x=y"])
# positionals: words, and negative numbers, which are values wherever they stand
_WORDS = st.sampled_from(["hi", "pi.echo", "-5", "-1.5e2", "-.5", "5", "a b"])


@dataclass(frozen=True)
class _Given:
    name: str | None
    out: str | None
    quiet: bool
    words: tuple[str, ...]


def _parser() -> UsageParser:
    parser = UsageParser(prog="t", intermixed=True)
    parser.add_argument("--name")
    parser.add_argument("-o")
    parser.add_argument("--quiet", action="store_true")
    parser.add_argument("words", nargs="*")
    return parser


@st.composite
def _written(draw: st.DrawFn) -> tuple[_Given, list[str]]:
    """A parse's expected result, and one argv that says it: each option in one
    of its spellings, put anywhere among the positionals."""
    wanted = _Given(
        draw(st.none() | _VALUES),
        draw(st.none() | _VALUES),
        draw(st.booleans()),
        tuple(draw(st.lists(_WORDS, max_size=4))),
    )
    options: list[list[str]] = []
    if wanted.name is not None:
        spelled = draw(st.sampled_from(["--name", "--na", "--name="]))
        options.append(
            [spelled + wanted.name] if spelled.endswith("=") else [spelled, wanted.name]
        )
    if wanted.out is not None:
        options.append(draw(st.sampled_from([["-o", wanted.out], [f"-o{wanted.out}"]])))
    if wanted.quiet:
        options.append(["--quiet"])
    argv = [[word] for word in wanted.words]
    for option in draw(st.permutations(options)):
        argv.insert(draw(st.integers(0, len(argv))), option)
    return wanted, [word for group in argv for word in group]


@pytest.mark.timeout(60)
@settings(max_examples=300, deadline=None)
@given(_written())
def test_options_anywhere_among_the_positionals_read_as_written(
    written: tuple[_Given, list[str]],
) -> None:
    wanted, argv = written
    found = _parser().parse_args(argv)
    assert found == argparse.Namespace(
        name=wanted.name, o=wanted.out, quiet=wanted.quiet, words=list(wanted.words)
    ), argv
