"""core.scenario's `if_fingerprint` over a real edge, Clone server, Store and CoreActor:
an import or delete carrying the fingerprint of the text its writer saw (and an import
the enabled state it saw, `if_enabled`) is refused (409, with the text stored now and
its state) when another writer came first, compared in the same
request as the write; without the field, as before. The web editor's Save and Delete
send it (raspy.web.editor's requests, driven here step by step)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from support.core_actors import (
    SERVICE,
    Core,
    core_fixture,  # noqa: F401  # fixture `core`
)
from support.device_services import server_fixture  # noqa: F401  # fixture `server`

from raspy.client.mdp import Client
from raspy.rules.scenario_api import ABSENT, fingerprint
from raspy.web import editor

pytestmark = pytest.mark.timeout(60)
MINE = "name: lamp\ndescription: mine\nactions:\n  - log: 'mine'\n"
THEIRS = MINE.replace("mine", "theirs")
FIRST = MINE.replace("mine", "first")


def _sent(core: Core, body: bytes) -> tuple[bytes, Any]:
    """One request as its writer built it: (status, decoded JSON)."""
    with Client(
        core.edge.endpoint, context=core.edge.context, timeout_s=5, retries=1
    ) as client:
        status, reply = client.request(SERVICE, body)
    return status, json.loads(reply)


def _stored(core: Core) -> str | None:
    status, reply = core.request("get", name="lamp")
    return str(reply["document"]) if status == b"200" else None


def test_a_write_between_the_editors_read_and_its_import_is_not_overwritten(
    core: Core,
) -> None:
    """The editor read the stored text, another writer (a second browser, `raspy
    scenario import --replace`) stored theirs, then the editor's import came: it
    replaced theirs unseen when the two requests were apart."""
    core.start()
    assert core.request("import", document=FIRST)[0] == b"200"
    seen = fingerprint(_stored(core))  # the editor's read: its page's base
    other = core.request("import", document=THEIRS, replace=True)
    save = editor.document_request("import", MINE, replace=True, if_fingerprint=seen)
    refused = _sent(core, save)
    assert other[0] == b"200"
    assert refused == (
        b"409",
        {
            "error": "scenario 'lamp' changed since it was read: its stored text is "
            "another",
            "name": "lamp",
            "document": THEIRS,
            "enabled": True,
        },
    )
    assert _stored(core) == THEIRS
    # a second Save, over the text the refusal showed, means it
    again = editor.document_request(
        "import", MINE, replace=True, if_fingerprint=fingerprint(THEIRS)
    )
    assert _sent(core, again)[0] == b"200"
    assert _stored(core) == MINE


def test_a_delete_of_a_text_changed_since_it_was_shown_is_refused(core: Core) -> None:
    core.start()
    core.request("import", document=FIRST)
    shown = fingerprint(_stored(core))
    core.request("import", document=THEIRS, replace=True)
    refused = _sent(core, editor.delete_request("lamp", shown))
    kept = _stored(core)
    deleted = _sent(core, editor.delete_request("lamp", fingerprint(THEIRS)))
    assert refused == (
        b"409",
        {
            "error": "scenario 'lamp' changed since it was read: its stored text is "
            "another",
            "name": "lamp",
            "document": THEIRS,
            "enabled": True,
        },
    )
    assert (kept, deleted, _stored(core)) == (
        THEIRS,
        (b"200", {"name": "lamp", "state": "deleted"}),
        None,
    )


def test_an_import_over_a_text_deleted_since_is_refused_with_null(core: Core) -> None:
    """The page was opened, the scenario deleted elsewhere: the Save would bring it
    back unseen. "absent" says the writer knows it is gone."""
    core.start()
    core.request("import", document=FIRST)
    seen = fingerprint(_stored(core))
    core.request("delete", name="lamp")
    refused = core.request("import", document=MINE, replace=True, if_fingerprint=seen)
    assert refused == (
        b"409",
        {
            "error": "scenario 'lamp' is not stored (deleted since it was read?)",
            "name": "lamp",
            "document": None,
            "enabled": None,
        },
    )
    assert _stored(core) is None
    stored = core.request("import", document=MINE, replace=True, if_fingerprint=ABSENT)
    assert (stored[0], _stored(core)) == (b"200", MINE)


def test_absent_is_refused_once_a_text_is_stored(core: Core) -> None:
    core.start()
    core.request("import", document=THEIRS)
    refused = core.request("import", document=MINE, replace=True, if_fingerprint=ABSENT)
    assert refused == (
        b"409",
        {
            "error": "scenario 'lamp' is stored (imported since it was read), "
            "if_fingerprint says none",
            "name": "lamp",
            "document": THEIRS,
            "enabled": True,
        },
    )
    assert _stored(core) == THEIRS


def test_without_the_field_a_write_is_done_whatever_is_stored(core: Core) -> None:
    """Older clients (`raspy scenario import --replace`, `delete`) send none."""
    core.start()
    core.request("import", document=FIRST)
    replaced = core.request("import", document=MINE, replace=True)
    text = _stored(core)
    deleted = core.request("delete", name="lamp")
    assert (replaced, text) == ((b"200", {"name": "lamp", "replaced": True}), MINE)
    assert (deleted, _stored(core)) == (
        (b"200", {"name": "lamp", "state": "deleted"}),
        None,
    )


def test_a_malformed_fingerprint_is_refused_and_changes_nothing(core: Core) -> None:
    core.start()
    core.request("import", document=FIRST)
    answers = [
        core.request("import", document=MINE, replace=True, if_fingerprint=""),
        core.request("delete", name="lamp", if_fingerprint=7),
        core.request("get", name="lamp", if_fingerprint=ABSENT),
    ]
    expected = '"absent" or a SHA-256 of the stored text as 64 lowercase hex digits'
    assert answers == [
        (b"400", {"error": f'import: expected "if_fingerprint": {expected}'}),
        (b"400", {"error": f'delete: expected "if_fingerprint": {expected}'}),
        (b"400", {"error": "get: unknown field 'if_fingerprint'"}),
    ]
    assert _stored(core) == FIRST


def test_an_import_over_an_enabled_state_changed_since_is_refused(core: Core) -> None:
    """The editor's page showed the scenario disabled (`enabled: false` in its
    text), `raspy scenario enable` came, which changes the flag and not the text:
    the Save passed the fingerprint and disabled it again. With `if_enabled` the
    core refuses it as it refuses a text changed since; the state it names again,
    it stores it; without the field, as before."""
    core.start()
    core.request("import", document=FIRST)
    core.request("disable", name="lamp")
    seen = fingerprint(_stored(core))
    said = FIRST.replace("name: lamp\n", "name: lamp\nenabled: false\n")
    assert core.request("enable", name="lamp")[0] == b"200"
    save = editor.document_request(
        "import", said, replace=True, if_fingerprint=seen, if_enabled=False
    )
    refused = _sent(core, save)
    enabled_after = core.request("get", name="lamp")[1]["enabled"]
    again = editor.document_request(
        "import", said, replace=True, if_fingerprint=seen, if_enabled=True
    )
    stored = _sent(core, again)
    assert refused == (
        b"409",
        {
            "error": "scenario 'lamp' was enabled since it was read",
            "name": "lamp",
            "document": FIRST,
            "enabled": True,
        },
    )
    assert (enabled_after, stored[0], _stored(core)) == (True, b"200", said)
    assert core.request("get", name="lamp")[1]["enabled"] is False


def test_if_enabled_alone_refuses_a_name_not_stored(core: Core) -> None:
    core.start()
    refused = core.request("import", document=MINE, replace=True, if_enabled=True)
    assert refused == (
        b"409",
        {
            "error": "scenario 'lamp' is not stored (deleted since it was read?)",
            "name": "lamp",
            "document": None,
            "enabled": None,
        },
    )
    assert _stored(core) is None
