"""Generated good documents (tests/support/scenario_documents.py), damaged: lines
dropped, doubled, swapped or indented anew, a token replaced, the text cut short,
bytes that are not UTF-8, a huge number, an alias bomb, a tag that would build a
Python object, nesting without end. Loading gives a Scenario or DocumentError, each
problem at a `line:col` inside the text; nothing else escapes, and no load takes long.
(A refused document is never stored: the hub loads before it stores, and stores one
transaction; tests/integration/test_scenario_import_damage.py imports a few.)"""

from __future__ import annotations

import re
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support.document_damage import BOMB, damaged
from support.scenario_documents import Generated, documents

from raspy.rules import model
from raspy.rules.document import DocumentError, load_scenario
from raspy.rules.scenario_stream import decode_document

# a document of 256 KiB loads in well under a second of CPU: the load's own thread's
# time is measured, which a loaded machine does not stretch as it does the clock's
MAX_LOAD_S = 3.0
_BREAKS = re.compile("\r\n|[\n\r\x85\u2028\u2029]")  # what YAML counts as a line break


def _check_loaded(text: str) -> None:
    began = time.thread_time()
    try:
        scenario = load_scenario(text, "m.yaml")
    except DocumentError as error:
        _check_problems(error, text)
    else:
        assert isinstance(scenario, model.Scenario)
        assert scenario.source_text == text
    assert time.thread_time() - began < MAX_LOAD_S


def _check_problems(error: DocumentError, text: str) -> None:
    lines = _BREAKS.split(text)
    assert error.problems
    for problem in error.problems:
        assert 1 <= problem.line <= len(lines), problem
        # at a character of the line, or just past its end (a missing value there)
        assert 1 <= problem.col <= len(lines[problem.line - 1]) + 1, problem
    for shown in str(error).splitlines():
        assert re.match(r"m\.yaml:\d+:\d+: \S", shown), shown


@pytest.mark.timeout(90)
@settings(max_examples=150)
@given(documents(), st.data())
def test_a_damaged_generated_document_loads_or_says_where(
    generated: Generated, data: st.DataObject
) -> None:
    text = generated.text
    _check_loaded(damaged(data, text))


@pytest.mark.timeout(60)
@settings(max_examples=40)
@given(documents(), st.data())
def test_bytes_that_are_not_utf8_are_refused_at_their_place(
    generated: Generated, data: st.DataObject
) -> None:
    raw = generated.text.encode("utf-8")
    at = data.draw(st.integers(0, len(raw)))
    bad = data.draw(st.sampled_from([b"\xff", b"\xfe\xff", b"\xc3", b"\xed\xa0\x80"]))
    damaged = raw[:at] + bad + raw[at:]
    text, problem = decode_document(damaged, "m.yaml")
    assert text is None
    assert problem is not None
    line = damaged[:at].count(b"\n") + 1
    col = at - (damaged[:at].rfind(b"\n") + 1) + 1
    assert problem == f"m.yaml:{line}:{col}: not UTF-8 text"
    # the same bytes as text a reader kept (a lone surrogate): refused, not stored
    _check_loaded(damaged.decode("utf-8", "surrogateescape"))


def test_an_alias_bomb_is_refused_at_its_first_alias() -> None:
    text = f"name: x\n{BOMB}actions: [{{log: x}}]\n"
    with pytest.raises(DocumentError) as caught:
        load_scenario(text, "m.yaml")
    assert str(caught.value).startswith("m.yaml:3:13: YAML: aliases (*name) are not")


def test_a_python_tag_is_refused_at_its_place() -> None:
    text = "name: x\nactions:\n- log: !!python/object/apply:os.system ['true']\n"
    with pytest.raises(DocumentError) as caught:
        load_scenario(text, "m.yaml")
    assert str(caught.value) == (
        "m.yaml:3:8: YAML: the tag '!!python/object/apply:os.system' is not allowed"
    )
