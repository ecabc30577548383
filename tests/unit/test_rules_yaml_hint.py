"""A YAML syntax error of a scenario keeps PyYAML's words and place, and the common
slips get a plain hint after them (raspy.rules.yaml_hint): a tab, a key without
its ':', a quote never closed or closed too soon, an indentation that is off, a
second ': ' in a value. `raspy scenario validate` shows the same, the place made a
line of the file in a stream, the hint naming no line of its own."""

from __future__ import annotations

from pathlib import Path

import pytest

from raspy.cli.raspy import main
from raspy.rules.document import validate_scenario

pytestmark = pytest.mark.timeout(30)

INDENT = (
    "(check the indentation: the keys of one mapping, and the '- ' items of one "
    "list, start in the same column)"
)
DEEPER = (
    "(is this line indented deeper than the key before it, or the line above "
    "missing its ':'?)"
)
QUOTES = "(a value that holds ': ' goes in quotes: text: \"Door: open\")"
TAB = "(a tab: YAML takes spaces, never tabs)"
AFTER_QUOTE = (
    "(text after a closing quote: a quote inside a value goes in the other kind, "
    '"don\'t" or \'say "hi"\')'
)
SET_A = "  - set: /a\n    value: 1\n"


@pytest.mark.parametrize(
    ("text", "line"),
    [
        pytest.param(
            "name: t\nactions:\n\t- set: /a\n",
            "3:1: YAML: found character '\\t' that cannot start any token " + TAB,
            id="a tab to indent",
        ),
        pytest.param(
            "name: t\nactions:\n  - set: /a\n    value:\t1\n",
            "4:11: YAML: found character '\\t' that cannot start any token " + TAB,
            id="a tab after a colon",
        ),
        pytest.param(
            "name: t\nactions\n  - set: /a\n",
            "3:8: YAML: could not find expected ':' (is the ':' after the key on "
            "the line above missing?)",
            id="a key without its colon",
        ),
        pytest.param(
            "name: t\nactions:\n  - set: /a\n    value 1\n",
            "5:1: YAML: could not find expected ':' (is the ':' after the key on "
            "the line above missing?)",
            id="a nested key without its colon",
        ),
        pytest.param(
            "name t\nactions:\n" + SET_A,
            "2:8: YAML: mapping values are not allowed here " + DEEPER,
            id="the line above without its colon",
        ),
        pytest.param(
            'name: "t\nactions:\n' + SET_A,
            "5:1: YAML: found unexpected end of stream (the quote opened 4 lines "
            "above, at column 7, is never closed)",
            id="a quote never closed",
        ),
        pytest.param(
            "name: t\nactions:\n  - log: 'hello\n",
            "4:1: YAML: found unexpected end of stream (the quote opened on the line "
            "above, at column 10, is never closed)",
            id="a quote never closed on the last line",
        ),
        pytest.param(
            "name: t\nactions:\n  - log: 'don't'\n",
            "3:15: YAML: expected <block end>, but found '<scalar>' " + AFTER_QUOTE,
            id="a quote closed too soon",
        ),
        pytest.param(
            'name: t\nactions:\n  - log: "say "hi""\n',
            "3:16: YAML: expected <block end>, but found '<scalar>' " + AFTER_QUOTE,
            id="a double quote closed too soon",
        ),
        pytest.param(
            "name: t\nactions:\n  - set: /a\n   value: 1\n",
            "4:4: YAML: expected <block end>, but found '<block mapping start>' "
            + INDENT,
            id="a key indented less than its neighbour",
        ),
        pytest.param(
            "name: t\nactions:\n" + SET_A + " - set: /b\n",
            "5:2: YAML: expected <block end>, but found '<block sequence start>' "
            + INDENT,
            id="a list item indented less than the others",
        ),
        pytest.param(
            "  name: t\nactions:\n" + SET_A,
            "2:1: YAML: expected '<document start>', but found '<block mapping "
            "start>' " + INDENT,
            id="the first key indented",
        ),
        pytest.param(
            "name: t\nactions:\n  - set: /a\n     value: 1\n",
            "4:11: YAML: mapping values are not allowed here " + DEEPER,
            id="a key indented deeper than its neighbour",
        ),
        pytest.param(
            "name: t\nactions:\n  - log: Time: now\n",
            "3:14: YAML: mapping values are not allowed here " + QUOTES,
            id="key: value: value",
        ),
        pytest.param(
            "name: t: x\nactions:\n" + SET_A,
            "1:8: YAML: mapping values are not allowed here " + QUOTES,
            id="a second colon in a top-level value",
        ),
    ],
)
def test_a_common_slip_gets_a_hint_after_pyyamls_words(text: str, line: str) -> None:
    assert validate_scenario(text, "s.yaml") == [f"s.yaml:{line}"]


def test_pyyamls_words_alone_where_no_hint_fits() -> None:
    """A slip outside the common ones (a bad escape in double quotes) keeps
    PyYAML's words alone."""
    assert validate_scenario('name: t\nactions:\n  - log: "C:\\Users"\n', "s.yaml") == [
        "s.yaml:3:15: YAML: expected escape sequence of 8 hexadecimal numbers, "
        "but found 's'"
    ]


def test_validate_shows_the_hint_at_the_files_line_in_a_stream(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The second document of a file is read alone and its place shifted to the
    file's line: the hint says `4 lines above`, which stays true, where a line
    number of the document's own would not."""
    path = tmp_path / "two.yaml"
    good = "name: a\nactions: [{log: a}]\n"
    path.write_text(good + '---\nname: "b\nactions:\n' + SET_A, encoding="utf-8")
    status = main(["scenario", "validate", str(path)])
    assert (status, capsys.readouterr()) == (
        1,
        (
            f"{path}:8:1: YAML: found unexpected end of stream (the quote opened 4 "
            "lines above, at column 7, is never closed)\n",
            "",
        ),
    )
