"""`raspy scenario import` as a real process against a raw ROUTER playing the broker
and `<host>.core.scenario`: the name checked, the text sent as written, the hub's
warnings and refusals, a stream of documents, each refusal placed at the file's line.

Each test reads the exact request the CLI sends and answers it by hand, so what the
CLI prints for every status is checked without a daemon (tests/e2e has the real one).
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from support.cli_process import answer_presence
from support.cli_process import finish_text as finish
from support.scenario_cli import SERVICE, Router, answer, start
from support.zmqctx import recv

from raspy.rules.scenario_api import MAX_DOCUMENTS


def test_import_checks_the_hub_for_the_name_then_sends_the_text_as_written(
    router: tuple[Router, str], tmp_path: Path
) -> None:
    sock, endpoint = router
    path = tmp_path / "a.yaml"
    written = "# kept\nname: a\ntriggers: [{startup: true}]\nactions: [{log: hi}]\n"
    path.write_text(written, encoding="utf-8")
    process = start(endpoint, "import", str(path))
    assert answer(sock, b"200", [{"name": "b"}]) == {"v": 1, "action": "list"}
    request = answer(sock, b"200", {"name": "a", "replaced": False})
    assert request == {
        "v": 1,
        "action": "import",
        "document": written,
        "source": str(path),
        "replace": False,
    }
    assert finish(process) == (0, f"imported a from {path}\n", "")


def test_a_stream_goes_in_one_request_and_the_hub_warnings_are_lines_of_the_file(
    router: tuple[Router, str], tmp_path: Path
) -> None:
    """The documents of the files go to the hub in one request, which it stores
    all or nothing (the names imported along are the request's: no "others");
    its warnings of each document are printed at the lines of the file."""
    sock, endpoint = router
    path = tmp_path / "night.yaml"
    night = (
        "name: night\ntriggers: [{startup: true}]\nactions:\n"
        "  - run: good-nite\n  - run: dawn\n  - stop: night\n"
    )
    dawn = "name: dawn\ntriggers: [{startup: true}]\nactions: [{log: hi}]\n"
    path.write_text(dawn + "---\n" + night, encoding="utf-8")
    process = start(endpoint, "import", "--replace", str(path))
    warning = (
        f"{path}:4:10: warning: run: 'good-nite' (did you mean 'good-night'?) "
        "is no scenario on the hub; the run does nothing until one of that name "
        "is imported"
    )
    replies = [
        {"name": "dawn", "replaced": False},
        {"name": "night", "replaced": True, "warnings": [warning]},
    ]
    request = answer(sock, b"200", {"documents": replies})
    assert request == {
        "v": 1,
        "action": "import",
        "documents": [
            {"document": dawn, "source": str(path)},
            {"document": night, "source": str(path)},
        ],
        "replace": True,
    }
    assert finish(process) == (
        0,
        f"imported dawn from {path}\nreplaced night from {path}\n",
        # the second document starts at the file's line 5
        f"raspy scenario import: {path}:8:10: warning: run: 'good-nite' (did you "
        "mean 'good-night'?) is no scenario on the hub; the run does nothing until "
        "one of that name is imported\n",
    )


def test_import_without_replace_stops_before_sending_a_stored_name(
    router: tuple[Router, str], tmp_path: Path
) -> None:
    sock, endpoint = router
    path = tmp_path / "a.yaml"
    path.write_text(
        "name: a\ntriggers: [{startup: true}]\nactions: [{log: hi}]\n", encoding="utf-8"
    )
    process = start(endpoint, "import", str(path))
    answer(sock, b"200", [{"name": "a"}])
    assert finish(process) == (
        1,
        "",
        f"raspy scenario import: {path}:1:7: name: a is already stored on the hub "
        "(--replace replaces it)\nraspy scenario import: nothing imported\n",
    )


def test_a_refusal_of_one_document_of_a_stream_names_its_file_line(
    router: tuple[Router, str], tmp_path: Path
) -> None:
    """The hub refuses the whole request, naming the document by "index"; the CLI
    shows its problems as lines of the file, and says that nothing was imported."""
    sock, endpoint = router
    first = "name: a\ntriggers: [{startup: true}]\nactions: [{log: a}]\n"
    second = "name: b\ntriggers: [{startup: true}]\nactions: [{log: b}]\n"
    path = tmp_path / "both.yaml"
    path.write_text(first + "---\n" + second, encoding="utf-8")
    process = start(endpoint, "import", "--replace", str(path))
    refusal = {
        "error": "not a valid scenario",
        "problems": [f"{path}:2:3: refused"],
        "index": 1,
    }
    sent = answer(sock, b"400", refusal)["documents"]
    assert isinstance(sent, list)
    assert len(sent) == 2
    assert finish(process) == (
        1,
        "",
        f"raspy scenario import: {path}:5:1: b: not a valid scenario\n"
        f"raspy scenario import: {path}:6:3: refused\n"
        "raspy scenario import: nothing imported\n",
    )


def test_a_store_failure_of_the_hub_says_nothing_was_imported(
    router: tuple[Router, str], tmp_path: Path
) -> None:
    sock, endpoint = router
    first = "name: a\ntriggers: [{startup: true}]\nactions: [{log: a}]\n"
    second = "name: b\ntriggers: [{startup: true}]\nactions: [{log: b}]\n"
    path = tmp_path / "both.yaml"
    path.write_text(first + "---\n" + second, encoding="utf-8")
    process = start(endpoint, "import", "--replace", str(path))
    error = "scenarios a and b were not stored: the disk is full"
    answer(sock, b"500", {"error": error, "nothing_stored": True})
    assert finish(process) == (
        1,
        "",
        f"raspy scenario import: 500: {error}\n"
        "raspy scenario import: nothing imported\n",
    )


@pytest.mark.parametrize(
    ("refusal", "lines"),
    [
        pytest.param(
            {
                "error": "{path}: not a valid scenario",
                "problems": [
                    "{path}:1:7: name: 'main' is reserved for the core's records"
                ],
            },
            [
                "{path}:5:1: main: not a valid scenario",
                "{path}:5:7: name: 'main' is reserved for the core's records",
            ],
            id="reserved-name",
        ),
        pytest.param(
            {
                "error": "a scenario named main exists (replace it with replace: true)",
                "problems": ["{path}:1:7: name: 'main' is already stored"],
            },
            [
                "{path}:5:1: main: a scenario named main exists (replace it with "
                "replace: true)",
                "{path}:5:7: name: 'main' is already stored",
            ],
            id="stored-meanwhile",
        ),
        pytest.param(
            {"error": "{path}: not a valid scenario", "problems": ["{path}: no place"]},
            [
                "{path}:5:1: main: not a valid scenario",
                "{path}:5:1: no place",
            ],
            id="a-problem-without-a-place",
        ),
    ],
)
def test_a_hub_refusal_names_the_file_and_the_document_on_every_line(
    router: tuple[Router, str],
    tmp_path: Path,
    refusal: dict[str, object],
    lines: list[str],
) -> None:
    """Checks the hub makes past the document (a reserved name, a name stored since
    the list) come back about one document: each line names the file, and the line
    of that document in a stream."""
    sock, endpoint = router
    first = "name: a\ntriggers: [{startup: true}]\nactions: [{log: a}]\n"
    second = "name: main\ntriggers: [{startup: true}]\nactions: [{log: b}]\n"
    path = tmp_path / "both.yaml"
    path.write_text(first + "---\n" + second, encoding="utf-8")
    process = start(endpoint, "import", str(path))
    answer(sock, b"200", [])
    filled = json.loads(json.dumps(refusal).replace("{path}", str(path)))
    sent = answer(sock, b"400", {**filled, "index": 1})["documents"]
    assert sent == [
        {"document": first, "source": str(path)},
        {"document": second, "source": str(path)},
    ]
    expected = [line.replace("{path}", str(path)) for line in lines]
    assert finish(process) == (
        1,
        "",
        "".join(f"raspy scenario import: {line}\n" for line in expected)
        + "raspy scenario import: nothing imported\n",
    )


def test_files_over_what_the_hub_takes_in_one_request_are_refused_whole(
    router: tuple[Router, str], tmp_path: Path
) -> None:
    """Each document and file is under its limit, together they are not: none is
    sent (the list of names is all the hub is asked)."""
    sock, endpoint = router
    padding = f"# {'x' * 76}\n" * 2900  # some 230 KB of comments a document
    paths = []
    for file, names in (("a", "abc"), ("b", "de")):
        path = tmp_path / f"{file}.yaml"
        path.write_text(
            "---\n".join(
                f"name: {name}\n{padding}triggers: [{{startup: true}}]\n"
                "actions: [{log: hi}]\n"
                for name in names
            ),
            encoding="utf-8",
        )
        paths.append(str(path))
    process = start(endpoint, "import", *paths)
    assert answer(sock, b"200", [])["action"] == "list"
    status, out, err = finish(process)
    assert (status, out) == (1, "")
    assert err.startswith("raspy scenario import: the 5 documents come to ")
    assert err.endswith(
        " bytes: the hub takes at most 1 MiB in one import (import the files in "
        "parts)\nraspy scenario import: nothing imported\n"
    )


def test_more_documents_than_the_hub_takes_in_one_request_are_refused_whole(
    router: tuple[Router, str], tmp_path: Path
) -> None:
    """The hub refuses more than MAX_DOCUMENTS (a 400 without the size hint):
    none is sent, and the user is told to import in parts."""
    sock, endpoint = router
    path = tmp_path / "many.yaml"
    path.write_text(
        "---\n".join(
            f"name: s{n}\ntriggers: [{{startup: true}}]\nactions: [{{log: hi}}]\n"
            for n in range(MAX_DOCUMENTS + 1)
        ),
        encoding="utf-8",
    )
    process = start(endpoint, "import", str(path))
    assert answer(sock, b"200", [])["action"] == "list"
    status, out, err = finish(process)
    assert (status, out) == (1, "")
    assert err == (
        f"raspy scenario import: {MAX_DOCUMENTS + 1} documents: the hub takes at most"
        f" {MAX_DOCUMENTS} in one import (import the files in parts)\n"
        "raspy scenario import: nothing imported\n"
    )


def test_a_refusal_of_the_one_document_says_nothing_was_imported(
    router: tuple[Router, str], tmp_path: Path
) -> None:
    """One document goes alone: its refusal ends as a stream's does, not with an
    older hub's `imported before this: none`."""
    sock, endpoint = router
    path = tmp_path / "dusk.yaml"
    path.write_text(
        "name: dusk\ntriggers: [{sun: sunset}]\nactions: [{log: a}]\n", encoding="utf-8"
    )
    process = start(endpoint, "import", str(path))
    answer(sock, b"200", [])
    refusal = {
        "error": f"{path}: not a valid scenario",
        "problems": [f"{path}:2:19: triggers[0].sun: needs [core] latitude"],
    }
    answer(sock, b"400", refusal)
    assert finish(process) == (
        1,
        "",
        f"raspy scenario import: {path}:1:1: dusk: not a valid scenario\n"
        f"raspy scenario import: {path}:2:19: triggers[0].sun: needs [core] latitude\n"
        "raspy scenario import: nothing imported\n",
    )


A_DOC = "name: a\ntriggers: [{startup: true}]\nactions: [{log: a}]\n"
B_DOC = "name: b\ntriggers: [{startup: true}]\nactions: [{log: b}]\n"


@pytest.mark.parametrize(
    ("text", "said"),
    [
        # one request: the hub commits it whole or not at all
        (
            A_DOC + "---\n" + B_DOC,
            "all of them or none are stored: `raspy scenario list` says which",
        ),
        # one document alone: it said `interrupted` and nothing more
        (A_DOC, "a may or may not be stored: `raspy scenario list` says which"),
    ],
    ids=["several", "one"],
)
def test_a_ctrl_c_while_the_hub_has_the_import_says_how_to_learn_what_is_stored(
    router: tuple[Router, str], tmp_path: Path, text: str, said: str
) -> None:
    """The hub may have taken the request it was sent: the interrupt says what
    may be stored and how to learn it."""
    sock, endpoint = router
    path = tmp_path / "docs.yaml"
    path.write_text(text, encoding="utf-8")
    process = start(endpoint, "import", str(path))
    answer(sock, b"200", [])
    _peer, *frames = recv(sock, timeout_ms=10_000)  # the import, left unanswered
    assert json.loads(frames[3])["action"] == "import"
    process.send_signal(signal.SIGINT)
    assert finish(process) == (
        130,
        "",
        f"raspy scenario import: interrupted\nraspy scenario import: {said}\n",
    )


def test_one_document_the_hub_did_not_answer_may_be_stored(
    router: tuple[Router, str], tmp_path: Path
) -> None:
    """The hub took the import and said nothing by --timeout (a hub that froze):
    the line says the scenario may be stored and how to learn whether, not only
    that no reply came."""
    sock, endpoint = router
    path = tmp_path / "a.yaml"
    path.write_text(
        "name: a\ntriggers: [{startup: true}]\nactions: [{log: a}]\n", encoding="utf-8"
    )
    command = [sys.executable, "-m", "raspy.cli.raspy", "scenario", "import"]
    options = ["--replace", "--server", endpoint, "--host", "hub", "--timeout", "0.3"]
    process = subprocess.Popen(
        [*command, *options, str(path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    _peer, *frames = recv(sock, timeout_ms=10_000)  # the import, left unanswered
    assert json.loads(frames[3])["action"] == "import"
    answer_presence(sock, SERVICE)  # asked after: the hub has the service
    assert finish(process) == (
        1,
        "",
        f"raspy scenario import: {endpoint}: no reply from service"
        " 'hub.core.scenario' in 0.3 s (the hub has hub.core.scenario but it did"
        " not answer)\n"
        "raspy scenario import: a may or may not be stored: `raspy scenario list`"
        " says which\n",
    )
