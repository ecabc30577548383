"""Generated documents and damaged ones (tests/support/document_damage.py)
imported over MDP into a real core and store: a refused one (400, each problem at
its line and column) leaves the store byte for byte as it was, never half a
scenario; an accepted one is stored exactly as sent (or, the text stored already
but for its line breaks, leaves it be); none is answered 500."""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.core_actors import (
    Core,
    core_fixture,  # noqa: F401  # fixture `core`
)
from support.document_damage import damaged
from support.scenario_documents import Generated, documents

from raspy.rules.scenario_api import same_document
from raspy.storage.store import Table


def _stored(core: Core) -> dict[bytes, bytes]:
    return dict(core.store.scan(Table.SCENARIO, b""))


@pytest.mark.timeout(120)
@settings(
    max_examples=25,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(documents(), st.data())
def test_a_damaged_import_is_stored_whole_or_not_at_all(
    core: Core, generated: Generated, data: st.DataObject
) -> None:
    if core.ref is None:
        core.start()
    for text in (generated.text, damaged(data, generated.text)):
        before = _stored(core)
        status, reply = core.request(
            "import", document=text, source="d.yaml", replace=True
        )
        assert status in (b"200", b"400"), reply
        if status == b"400":
            assert _stored(core) == before
            for problem in reply.get("problems", []):
                assert re.match(r"d\.yaml:\d+:\d+: \S", problem), problem
            continue
        status, got = core.request("get", name=reply["name"])
        assert status == b"200"
        if reply.get("unchanged"):
            # the text stored already, line breaks and a starting `---` aside (an
            # earlier example's): nothing stored, that text kept
            assert _stored(core) == before
            assert same_document(got["document"], text)
        else:
            assert got["document"] == text
