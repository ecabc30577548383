"""`raspy scenario import` of a file of several documents against a real raspyd:
all or nothing. A refusal only the hub makes (a sun trigger on a hub whose config
gives no place) of the third document imports none of the three; three good ones
are all imported, and an import of the same file again says each unchanged."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.daemon import Daemon, hostname, running_daemon
from support.wait import wait_until

from raspy.client.mdp import Client

pytestmark = pytest.mark.timeout(120)

CONFIG = '[core]\nenabled = true\ntimezone = "UTC"\n'  # no latitude, no longitude


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    data_dir = tmp_path_factory.mktemp("import_all") / "data"
    with running_daemon(data_dir, config_text=CONFIG) as running:
        wait_until(lambda: _service_up(running), what="the scenario service")
        yield running


def _service() -> str:
    return f"{hostname()}.core.scenario"


def _service_up(daemon: Daemon) -> bool:
    with Client(daemon.endpoint, timeout_s=2, retries=1) as client:
        return client.request("mmi.service", _service()) == [b"200"]


def _names(daemon: Daemon) -> list[str]:
    with Client(daemon.endpoint, timeout_s=10, retries=1) as client:
        status, body = client.request(
            _service(), json.dumps({"v": 1, "action": "list"})
        )
    assert status == b"200"
    listing: list[dict[str, Any]] = json.loads(body)
    return [entry["name"] for entry in listing]


def _import(daemon: Daemon, *args: str) -> tuple[int, str, str]:
    command = [sys.executable, "-m", "raspy.cli.raspy", "scenario", "import", *args]
    command += ["--server", daemon.endpoint, "--timeout", "10"]
    done = subprocess.run(command, capture_output=True, timeout=30, check=False)
    return done.returncode, done.stdout.decode(), done.stderr.decode()


def _doc(name: str, trigger: str = "{startup: true}") -> str:
    return f"name: {name}\ntriggers: [{trigger}]\nactions: [{{log: {name}}}]\n"


def test_a_file_whose_third_document_the_hub_refuses_imports_none(
    daemon: Daemon, tmp_path: Path
) -> None:
    path = tmp_path / "three.yaml"
    third = _doc("e2e-dusk", "{sun: sunset}")
    path.write_text(
        "---\n".join([_doc("e2e-one"), _doc("e2e-two"), third]), encoding="utf-8"
    )

    status, out, err = _import(daemon, str(path))

    assert (status, out) == (1, "")
    assert err == (
        f"raspy scenario import: {path}:9:1: e2e-dusk: not a valid scenario\n"
        f"raspy scenario import: {path}:10:18: triggers[0].sun: a sun trigger needs "
        "[core] latitude and longitude in raspyd's config: set them, then restart"
        " raspyd\n"
        "raspy scenario import: nothing imported\n"
    )
    assert _names(daemon) == []
    # run again, it is refused the same way: no name stored meanwhile
    assert _import(daemon, str(path))[2] == err


def test_a_file_of_three_good_documents_imports_all_three(
    daemon: Daemon, tmp_path: Path
) -> None:
    path = tmp_path / "good.yaml"
    names = ["e2e-a", "e2e-b", "e2e-c"]
    path.write_text("---\n".join(_doc(n) for n in names), encoding="utf-8")

    assert _import(daemon, str(path)) == (
        0,
        "".join(f"imported {n} from {path}\n" for n in names),
        "",
    )
    assert _names(daemon) == names
    assert _import(daemon, "--replace", str(path)) == (
        0,
        "".join(f"unchanged {n} from {path}\n" for n in names),
        "",
    )
