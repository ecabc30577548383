"""`raspy scenario import` against a hub from before the request fields "documents"
and "others": a real broker and a real MDP worker that answers as that hub's parse
did (an unknown field refused, 400, nothing done). The import asks it for all the
documents at once, is refused, and falls back to one request a document: each
validated first (a refusal imports none), then each imported; "others" is asked
with until refused, then sent no more."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final

import pytest
from support.cli_process import finish_text
from support.edge_fixtures import EdgeHandle
from support.wait import wait_until
from support.zmqctx import dealer, recv

from raspy.client.worker import Worker

SERVICE: Final = b"hub.core.scenario"
# the fields an import took before "others" (raspy.rules.scenario_api's _ALLOWED then)
_OLD_IMPORT_FIELDS: Final = {
    "v",
    "action",
    "document",
    "source",
    "replace",
    "if_fingerprint",
}


def _older_hub(requests: list[dict[str, Any]]) -> Any:
    """A handler answering as the older hub: `list` an empty list, `import` its name
    unless a field it does not know comes along (its words, 400)."""

    def handle(frames: list[bytes]) -> list[bytes]:
        body: dict[str, Any] = json.loads(frames[0])
        requests.append(body)
        if body["action"] == "list":
            return [b"200", b"[]"]
        unknown = sorted(set(body) - _OLD_IMPORT_FIELDS)
        if unknown:
            error = f"{body['action']}: unknown field {unknown[0][:64]!r}"
            return [b"400", json.dumps({"error": error}).encode()]
        name = body["document"].split("\n", 1)[0].removeprefix("name: ")
        if "refuse me" in body["document"]:
            problems = [f"{body['source']}:2:1: refused by the hub"]
            refusal = {"error": "not a valid scenario", "problems": problems}
            return [b"400", json.dumps(refusal).encode()]
        return [b"200", json.dumps({"name": name, "replaced": False}).encode()]

    return handle


def _served(edge: EdgeHandle) -> bool:
    probe = dealer(edge.context, edge.endpoint)
    try:
        probe.send_multipart([b"MDPC02", b"\x01", b"mmi.service", SERVICE])
        return recv(probe)[-1] == b"200"
    finally:
        probe.close()


@contextmanager
def older_hub(edge: EdgeHandle) -> Iterator[list[dict[str, Any]]]:
    """The worker serving SERVICE on the edge's broker; the requests it took."""
    requests: list[dict[str, Any]] = []
    worker = Worker(edge.endpoint, SERVICE)
    stop = threading.Event()
    serving = threading.Thread(
        target=worker.serve, args=(_older_hub(requests),), kwargs={"stop": stop}
    )
    serving.start()
    try:
        wait_until(lambda: _served(edge), what="the older hub's scenario service")
        yield requests
    finally:
        stop.set()
        serving.join(timeout=10)
        worker.close()


def _imported(edge: EdgeHandle, *files: Path) -> tuple[int, str, str]:
    """`raspy scenario import FILES` against the hub at `edge`: status, out, err."""
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "raspy.cli.raspy", "scenario", "import"),
            *(str(path) for path in files),
            *("--server", edge.endpoint, "--host", "hub", "--timeout", "5"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    return finish_text(process)


@pytest.mark.timeout(60)
def test_import_asks_an_older_hub_again_without_others(
    edge: EdgeHandle, tmp_path: Path
) -> None:
    dawn, night = tmp_path / "dawn.yaml", tmp_path / "night.yaml"
    dawn.write_text(
        "name: dawn\ntriggers: [{startup: true}]\nactions: [{run: night}]\n",
        encoding="utf-8",
    )
    night.write_text(
        "name: night\ntriggers: [{startup: true}]\nactions: [{stop: dawn}]\n",
        encoding="utf-8",
    )
    with older_hub(edge) as requests:
        outcome = _imported(edge, dawn, night)
    assert outcome == (
        0,
        f"imported dawn from {dawn}\nimported night from {night}\n",
        "",
    )
    sent = [
        (r["action"], r.get("document", "")[:11], r.get("others")) for r in requests
    ]
    assert sent == [
        ("list", "", None),
        ("import", "", None),  # refused: unknown field 'documents'
        ("validate", "name: dawn\n", ["night"]),  # refused: unknown field 'others'
        ("validate", "name: dawn\n", None),  # asked again without it
        ("validate", "name: night", None),  # and never sent it again
        ("import", "name: dawn\n", None),
        ("import", "name: night", None),
    ]
    assert "documents" in requests[1]


@pytest.mark.timeout(60)
def test_import_to_an_older_hub_validates_every_document_before_importing_any(
    edge: EdgeHandle, tmp_path: Path
) -> None:
    """A refusal only the hub makes (here: of the second file) imports none."""
    dawn, night = tmp_path / "dawn.yaml", tmp_path / "night.yaml"
    dawn.write_text(
        "name: dawn\ntriggers: [{startup: true}]\nactions: [{log: hi}]\n",
        encoding="utf-8",
    )
    night.write_text(
        "name: night\n# refuse me\ntriggers: [{startup: true}]\nactions: [{log: hi}]\n",
        encoding="utf-8",
    )
    with older_hub(edge) as requests:
        outcome = _imported(edge, dawn, night)
    assert outcome == (
        1,
        "",
        f"raspy scenario import: {night}:1:1: night: not a valid scenario\n"
        f"raspy scenario import: {night}:2:1: refused by the hub\n"
        "raspy scenario import: nothing imported\n",
    )
    assert [r["action"] for r in requests] == ["list", "import", *["validate"] * 2]
