"""`raspy scenario list`, `show` and `export` as real processes against a raw ROUTER
playing the broker and `<host>.core.scenario` (RFC 18; the service's JSON protocol
of issue 11): the request each sends, and what it prints of each reply, its times in
which zone, and a stdout that fails or a reader that leaves.

Each test reads the exact request the CLI sends and answers it by hand, so what the
CLI prints for every status is checked without a daemon (tests/e2e has the real one).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Final

import pytest
from support.cli_process import finish_text as finish
from support.scenario_cli import Router, answer, start


def test_list_asks_for_the_list_and_prints_a_table(router: tuple[Router, str]) -> None:
    sock, endpoint = router
    process = start(endpoint, "list")
    listing = [
        {
            "name": "frost-lamp",
            "state": "idle",
            "enabled": True,
            "last_run": None,
            "runs": 0,
            "description": "",
            "mode": "single",
            "last_trigger": None,
            "last_error": None,
        },
    ]
    assert answer(sock, b"200", listing) == {"v": 1, "action": "list"}
    assert finish(process) == (
        0,
        "times in: this machine's (the hub's reply names no zone: an older raspyd)\n"
        "NAME        STATE  LAST RUN  RUNS\nfrost-lamp  idle   -            0\n",
        "",
    )


@pytest.mark.parametrize(
    ("zone", "said", "last_run"),
    [
        pytest.param(
            "Asia/Tokyo",
            "Asia/Tokyo (the hub's [core] timezone)",
            "2026-12-03 22:30:00 +09:00",
            id="the-hubs",
        ),
        pytest.param(
            None,
            "this machine's (the hub's reply names no zone: an older raspyd)",
            "2026-12-03 10:00:00 -03:30",
            id="an-older-hub",
        ),
        pytest.param(
            "Nowhere/Atlantis",
            "this machine's (the hub's zone \"Nowhere/Atlantis\" is unknown here)",
            "2026-12-03 10:00:00 -03:30",
            id="unknown",
        ),
    ],
)
def test_list_prints_times_in_the_zone_its_entries_name_and_says_which(
    router: tuple[Router, str], zone: str | None, said: str, last_run: str
) -> None:
    """Each entry names the hub's `[core] timezone`; an older hub's do not, and a
    zone unknown here is no use: then this machine's (TZ here). The first line
    names the zone, as show's does: the times alone did not say whose they are."""
    sock, endpoint = router
    process = start(endpoint, "list", env={"TZ": "XST+3:30"})
    entry = {"name": "wake", "state": "idle", "last_run": 1_796_304_600.0, "runs": 1}
    answer(sock, b"200", [entry if zone is None else {**entry, "timezone": zone}])
    assert finish(process) == (
        0,
        f"times in: {said}\n"
        "NAME  STATE  LAST RUN                    RUNS\n"
        f"wake  idle   {last_run}     1\n",
        "",
    )


def test_an_empty_list_names_no_zone(router: tuple[Router, str]) -> None:
    sock, endpoint = router
    process = start(endpoint, "list")
    answer(sock, b"200", [])
    assert finish(process) == (0, "NAME  STATE  LAST RUN  RUNS\n", "")


def test_list_json_prints_the_reply_as_it_came(router: tuple[Router, str]) -> None:
    sock, endpoint = router
    process = start(endpoint, "list", "--json")
    answer(sock, b"200", [{"name": "a", "runs": 1}])
    assert finish(process) == (
        0,
        '[\n  {\n    "name": "a",\n    "runs": 1\n  }\n]\n',
        "",
    )


_SHOWN: Final = {
    "name": "wake", "description": "", "enabled": True, "state": "idle",
    "mode": "single", "last_run": 1_796_304_600.0, "last_trigger": {"kind": "cron"},
    "runs": 1, "last_error": None, "document": "name: wake\n",
}  # fmt: skip


def test_show_prints_the_last_run_in_this_machines_zone_naming_its_offset(
    router: tuple[Router, str],
) -> None:
    """An older hub's reply has no zone: the time is this machine's (TZ here, a
    POSIX rule 3:30 west of UTC), says so by its offset, and the first line says
    that the zone is this machine's, once."""
    sock, endpoint = router
    process = start(endpoint, "show", "wake", env={"TZ": "XST+3:30"})
    answer(sock, b"200", _SHOWN)
    status, out, err = finish(process)
    assert (status, err) == (0, "")
    assert out.startswith(
        "times in:     this machine's (the hub's reply names no zone: an older "
        "raspyd)\nname:         wake\n"
    )
    assert out.count("this machine's") == 1
    assert "last run:     2026-12-03 10:00:00 -03:30\n" in out


@pytest.mark.parametrize(
    ("zone", "first", "last_run"),
    [
        pytest.param(
            "Asia/Tokyo",
            "Asia/Tokyo (the hub's [core] timezone)",
            "2026-12-03 22:30:00 +09:00",
            id="the-hubs",
        ),
        pytest.param(
            "Nowhere/Atlantis",
            "this machine's (the hub's zone \"Nowhere/Atlantis\" is unknown here)",
            "2026-12-03 10:00:00 -03:30",
            id="unknown-here",
        ),
        pytest.param(
            "Europe",  # a folder of the zone files, not a zone
            "this machine's (the hub's zone \"Europe\" is unknown here)",
            "2026-12-03 10:00:00 -03:30",
            id="a-folder",
        ),
    ],
)
def test_show_prints_the_last_run_in_the_zone_the_hubs_reply_names(
    router: tuple[Router, str], zone: str, first: str, last_run: str
) -> None:
    """The hub's `[core] timezone` in its reply: its times are written in it, not
    in this machine's (TZ here), and the first line names it."""
    sock, endpoint = router
    process = start(endpoint, "show", "wake", env={"TZ": "XST+3:30"})
    answer(sock, b"200", {**_SHOWN, "timezone": zone})
    status, out, err = finish(process)
    assert (status, err) == (0, "")
    assert out.splitlines()[0] == f"times in:     {first}"
    assert f"last run:     {last_run}\n" in out


def test_show_json_keeps_the_epoch_seconds(router: tuple[Router, str]) -> None:
    sock, endpoint = router
    process = start(endpoint, "show", "wake", "--json", env={"TZ": "XST+3:30"})
    answer(sock, b"200", _SHOWN)
    status, out, err = finish(process)
    assert (status, json.loads(out), err) == (0, _SHOWN, "")


def test_show_of_an_unknown_name_prints_the_error_and_exits_1(
    router: tuple[Router, str],
) -> None:
    sock, endpoint = router
    process = start(endpoint, "show", "nope")
    request = answer(sock, b"404", {"error": "no scenario 'nope'"})
    assert request == {"v": 1, "action": "get", "name": "nope"}
    assert finish(process) == (
        1,
        "",
        "raspy scenario show: no scenario 'nope'\n",
    )


def test_export_of_one_name_writes_the_stored_text_byte_for_byte(
    router: tuple[Router, str], tmp_path: Path
) -> None:
    sock, endpoint = router
    stored = "# kept comment\nname: a   \ntriggers: [{startup: true}]  # no line break"
    output = tmp_path / "a.yaml"
    process = start(endpoint, "export", "a", "-o", str(output))
    request = answer(sock, b"200", {"name": "a", "enabled": True, "document": stored})
    assert request == {"v": 1, "action": "get", "name": "a"}
    assert finish(process) == (0, "", "")
    assert output.read_bytes() == stored.encode()


def test_export_of_a_disabled_scenario_says_enabled_false_in_its_text(
    router: tuple[Router, str],
) -> None:
    """`disable` changes the hub's flag, not the text: the export says it, so that
    an import of it (a new card's hub) keeps the scenario disabled; the rest of the
    text byte for byte, and a text that says `enabled: true` of a scenario
    disabled since says false."""
    sock, endpoint = router
    process = start(endpoint, "export")
    assert answer(sock, b"200", [{"name": "a"}, {"name": "b"}])["action"] == "list"
    a = "# heating at 6:00\r\nname: a   # boiler\r\ntriggers: [{at: '06:00'}]\r\n"
    answer(sock, b"200", {"name": "a", "enabled": False, "document": a})
    b = "name: b\nenabled: true  # winter\ntriggers: [{startup: true}]"
    answer(sock, b"200", {"name": "b", "enabled": False, "document": b})
    assert finish(process) == (
        0,
        "# heating at 6:00\r\nname: a   # boiler\r\nenabled: false\r\n"
        "triggers: [{at: '06:00'}]\r\n"
        "---\n"
        "name: b\nenabled: false  # winter\ntriggers: [{startup: true}]\n",
        "",
    )


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
@pytest.mark.parametrize("into", ["-o", "stdout"])
def test_export_onto_a_full_disk_is_a_runtime_failure(
    router: tuple[Router, str], into: str
) -> None:
    """A write that failed on the way is 1, as raspy-kv dump's and raspy history's
    are (2 is a FILE named wrong); `-o` on a full disk said 2, bad usage."""
    sock, endpoint = router
    if into == "-o":
        process = start(endpoint, "export", "a", "-o", "/dev/full")
        named = "/dev/full"
    else:
        command = [sys.executable, "-m", "raspy.cli.raspy", "scenario", "export"]
        options = ["--server", endpoint, "--host", "hub", "--timeout", "5"]
        with Path("/dev/full").open("wb") as full:
            process = subprocess.Popen(
                [*command, "a", *options],
                stdout=full,
                stderr=subprocess.PIPE,
            )
        named = "to stdout"
    answer(sock, b"200", {"name": "a", "document": "name: a\n"})
    _, err = process.communicate(timeout=15)
    assert (process.returncode, err.decode()) == (
        1,
        f"raspy scenario export: cannot write {named}: No space left on device\n",
    )


def test_export_of_everything_lists_then_writes_a_stream(
    router: tuple[Router, str],
) -> None:
    sock, endpoint = router
    process = start(endpoint, "export")
    assert answer(sock, b"200", [{"name": "a"}, {"name": "b"}])["action"] == "list"
    assert answer(sock, b"200", {"name": "a", "document": "name: a\n"})["name"] == "a"
    assert answer(sock, b"200", {"name": "b", "document": "name: b"})["name"] == "b"
    assert finish(process) == (0, "name: a\n---\nname: b\n", "")


def test_a_reader_that_leaves_ends_export_with_1_and_no_traceback(
    router: tuple[Router, str],
) -> None:
    """`raspy scenario export | head`: the pipe closes before the text is written."""
    sock, endpoint = router
    process = start(endpoint, "export", "big")
    assert process.stdout is not None
    process.stdout.close()  # the reader is gone before the reply comes
    answer(sock, b"200", {"name": "big", "document": "# pad\n" * 200_000})
    assert process.stderr is not None
    err = process.stderr.read()
    process.stderr.close()
    assert (process.wait(timeout=15), err) == (1, b"")
