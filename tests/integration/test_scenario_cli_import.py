"""`raspy scenario import` as a real process against a raw ROUTER playing the broker
and `<host>.core.scenario`: the name checked, the text sent as written, the hub's
warnings and refusals, a stream of documents, each refusal placed at the file's line.

Each test reads the exact request the CLI sends and answers it by hand, so what the
CLI prints for every status is checked without a daemon (tests/e2e has the real one).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.cli_process import finish_text as finish
from support.scenario_cli import Router, answer, start


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


def test_import_tells_the_hub_the_names_imported_along_and_prints_its_warnings(
    router: tuple[Router, str], tmp_path: Path
) -> None:
    """The hub checks each `run:` / `stop:` (one rule for the command line, the web
    face and MQTT); a document naming another of the same files sends that name as
    "others", for the hub not to warn of it (it is imported next); the hub's
    warnings are printed at the lines of the file."""
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
    first = answer(sock, b"200", {"name": "dawn", "replaced": False})
    assert "others" not in first  # it names no other: an older hub takes it
    second = answer(
        sock, b"200", {"name": "night", "replaced": False, "warnings": [warning]}
    )
    assert second["others"] == ["dawn"]
    assert finish(process) == (
        0,
        f"imported dawn from {path}\nimported night from {path}\n",
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


def test_a_stream_imports_each_document_and_a_refusal_names_the_file_line(
    router: tuple[Router, str], tmp_path: Path
) -> None:
    """The hub's problems are about one document; the CLI shows them as lines of
    the file, and says what was imported before the refusal."""
    sock, endpoint = router
    first = "name: a\ntriggers: [{startup: true}]\nactions: [{log: a}]\n"
    second = "name: b\ntriggers: [{startup: true}]\nactions: [{log: b}]\n"
    path = tmp_path / "both.yaml"
    path.write_text(first + "---\n" + second, encoding="utf-8")
    process = start(endpoint, "import", "--replace", str(path))
    assert answer(sock, b"200", {"name": "a", "replaced": True})["document"] == first
    refusal = {"error": "not a valid scenario", "problems": [f"{path}:2:3: refused"]}
    assert answer(sock, b"400", refusal)["document"] == second
    assert finish(process) == (
        1,
        f"replaced a from {path}\n",
        f"raspy scenario import: {path}:5:1: b: 400: not a valid scenario\n"
        f"raspy scenario import: {path}:6:3: refused\n"
        "raspy scenario import: imported before this: a\n",
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
                "{path}:5:1: main: 400: not a valid scenario",
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
                "{path}:5:1: main: 400: a scenario named main exists (replace it with "
                "replace: true)",
                "{path}:5:7: name: 'main' is already stored",
            ],
            id="stored-meanwhile",
        ),
        pytest.param(
            {"error": "{path}: not a valid scenario", "problems": ["{path}: no place"]},
            [
                "{path}:5:1: main: 400: not a valid scenario",
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
    answer(sock, b"200", {"name": "a", "replaced": False})
    filled = json.loads(json.dumps(refusal).replace("{path}", str(path)))
    assert answer(sock, b"400", filled)["document"] == second
    expected = [line.replace("{path}", str(path)) for line in lines]
    assert finish(process) == (
        1,
        f"imported a from {path}\n",
        "".join(f"raspy scenario import: {line}\n" for line in expected)
        + "raspy scenario import: imported before this: a\n",
    )
