"""`[core] preload_dir` files holding several scenarios, as `raspy scenario export`
writes them and `import` reads them (a YAML stream, `---` between documents): the
preload refused such a file whole ("not a valid scenario"). Each document is
stored as import stores it; a file with one bad document stores none of its
documents, and the log names the file and the document. A real core over a real
edge, Clone server and Store."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from structlog.testing import capture_logs
from support.core_actors import (
    Core,
    core_fixture,  # noqa: F401  # fixture `core`
    tree_fixture,  # noqa: F401  # fixture `tree`
)
from support.device_services import server_fixture  # noqa: F401  # fixture `server`
from support.wait import wait_until

TICK = "name: tick\ntriggers: [{every: 10s}]\nactions:\n  - log: tick\n"
LOOP = 'name: loop\ntriggers: [{event: "/event/go"}]\nactions:\n  - log: go\n'
DUSK = "name: dusk\ntriggers:\n  - sun: sunset\nactions:\n  - log: dusk\n"
HELLO = "name: hello\ntriggers: [{startup: true}]\nactions:\n  - log: hi\n"


def _preload(core: Core, tmp_path: Path, **files: str) -> None:
    folder = tmp_path / "preload"
    folder.mkdir(exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text)
    core.config = dataclasses.replace(core.config, preload_dir=str(folder))


def _names(core: Core) -> list[str]:
    return [entry["name"] for entry in core.request("list")[1]]


def test_a_preload_file_of_several_documents_stores_each(
    core: Core, tmp_path: Path
) -> None:
    _preload(core, tmp_path, **{"all.yaml": f"# exported\n---\n{TICK}---\n{LOOP}"})
    core.start()
    assert _names(core) == ["loop", "tick"]
    assert core.request("get", name="tick")[1]["document"] == TICK
    assert core.request("get", name="loop")[1]["document"] == LOOP
    core.request("delete", name="loop")
    core.stop()
    (tmp_path / "preload" / "all.yaml").write_text(f"{TICK}# changed\n---\n{LOOP}")
    core.start()  # the one stored kept as it is, the one deleted back
    wait_until(lambda: _names(core) == ["loop", "tick"], what="loop back")
    assert core.request("get", name="tick")[1]["document"] == TICK


def test_a_preload_file_with_a_bad_document_stores_none_of_them(
    core: Core, tmp_path: Path
) -> None:
    _preload(
        core,
        tmp_path,
        **{"a.yaml": f"{TICK}---\n{DUSK}", "b.yaml": f"{HELLO}---\n{HELLO}"},
        **{"c.yaml": LOOP},
    )
    with capture_logs() as logs:
        core.start()
        wait_until(lambda: _names(core) == ["loop"], what="c.yaml alone stored")
    refused = [
        (e["path"], e["document"], e["reason"])
        for e in logs
        if e["event"] == "scenario_preload_refused"
    ]
    assert refused == [
        (
            "a.yaml",
            2,
            "a.yaml:8:10: triggers[0].sun: a sun trigger needs [core] latitude and "
            "longitude in raspyd's config: set them, then restart raspyd",
        ),
        ("b.yaml", 2, "b.yaml:6:7: name: 'hello' is also used in b.yaml:1:7: name"),
    ]
