"""`raspy scenario` as a real process against a raw ROUTER playing the broker and
`<host>.core.scenario` (RFC 18; the service's JSON protocol of issue 11).

Each test reads the exact request the CLI sends and answers it by hand, so what the
CLI prints for every status is checked without a daemon (tests/e2e has the real one).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Final

import pytest
import zmq
from support.cli_process import answer_json, connections
from support.cli_process import finish_text as finish
from support.zmqctx import recv

Context = zmq.Context[zmq.Socket[bytes]]
Router = zmq.Socket[bytes]
SERVICE = b"hub.core.scenario"


def start(
    endpoint: str, *args: str, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "raspy.cli.raspy", "scenario", *args]
    options = ["--server", endpoint, "--host", "hub", "--timeout", "5"]
    return subprocess.Popen(
        command + options,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=None if env is None else {**os.environ, **env},
    )


def answer(sock: Router, status: bytes, body: object) -> dict[str, object]:
    """Reply `[status, json]` to one request for the scenario service; its JSON."""
    return answer_json(sock, SERVICE, status, body)


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
        "raspy scenario show: 404: no scenario 'nope'\n",
    )


def test_export_of_one_name_writes_the_stored_text_byte_for_byte(
    router: tuple[Router, str], tmp_path: Path
) -> None:
    sock, endpoint = router
    stored = "# kept comment\nname: a   \ntriggers: [{startup: true}]  # no line break"
    output = tmp_path / "a.yaml"
    process = start(endpoint, "export", "a", "-o", str(output))
    request = answer(sock, b"200", {"name": "a", "document": stored})
    assert request == {"v": 1, "action": "get", "name": "a"}
    assert finish(process) == (0, "", "")
    assert output.read_bytes() == stored.encode()


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


def test_state_verbs_go_on_past_a_refusal_and_exit_1(
    router: tuple[Router, str],
) -> None:
    sock, endpoint = router
    process = start(endpoint, "disable", "a", "ghost", "b")
    requests = [
        answer(sock, b"200", {"name": "a", "state": "disabled"}),
        answer(sock, b"404", {"error": "no scenario 'ghost'"}),
        answer(sock, b"200", {"name": "b", "state": "disabled"}),
    ]
    assert requests == [
        {"v": 1, "action": "disable", "name": name} for name in ("a", "ghost", "b")
    ]
    assert finish(process) == (
        1,
        "a: disabled\nb: disabled\n",
        "raspy scenario disable: ghost: 404: no scenario 'ghost'\n",
    )


def test_enable_of_a_scenario_that_does_not_load_says_why_and_exits_1(
    router: tuple[Router, str],
) -> None:
    """A stored text that no longer loads (after an upgrade) is enabled but in error
    at once: it printed `old: error` and exited 0, as if it would run. One in
    error after a failed run runs at its next trigger: its enable is no failure."""
    sock, endpoint = router
    process = start(endpoint, "enable", "old", "failed", "good")
    requests = [
        answer(
            sock,
            b"200",
            {"name": "old", "state": "error", "not_running": "line 5: bad (kept)"},
        ),
        answer(sock, b"200", {"name": "failed", "state": "error"}),
        answer(sock, b"200", {"name": "good", "state": "idle"}),
    ]
    assert [r["action"] for r in requests] == ["enable"] * 3
    assert finish(process) == (
        1,
        "failed: error\ngood: idle\n",
        "raspy scenario enable: old: enabled, but it does not run: line 5: bad (kept)\n",
    )


def test_a_run_its_mode_did_not_start_is_said_on_stderr_and_exits_1(
    router: tuple[Router, str],
) -> None:
    """Was `a: running` on stdout and exit 0, as if the run had started."""
    sock, endpoint = router
    process = start(endpoint, "run", "a", "b")
    not_started = "a run is under way (mode single)"
    answer(sock, b"200", {"name": "a", "state": "running", "not_started": not_started})
    answer(sock, b"200", {"name": "b", "state": "running"})
    assert finish(process) == (
        1,
        "b: running\n",
        "raspy scenario run: a: not started: a run is under way (mode single) "
        "(state running)\n",
    )


def test_a_run_over_before_the_reply_says_how_it_ended(
    router: tuple[Router, str],
) -> None:
    """A run that failed at once printed `a: error` and exited 0, its reason only
    in `show`; one done at once printed the state, maybe another run's."""
    sock, endpoint = router
    process = start(endpoint, "run", "a", "b", "c")
    why = 'device pi.fake.lamp: action "{trigger.id}" gave no command'
    answer(sock, b"200", {"name": "a", "state": "error", "failed": why})
    answer(sock, b"200", {"name": "b", "state": "running", "done": True})
    answer(sock, b"200", {"name": "c", "state": "error"})  # an older hub's reply
    assert finish(process) == (
        1,
        "b: done\nc: error\n",
        f"raspy scenario run: a: failed: {why}\n",
    )


def test_a_queued_run_is_said_with_how_many_wait(router: tuple[Router, str]) -> None:
    sock, endpoint = router
    process = start(endpoint, "run", "a")
    answer(sock, b"200", {"name": "a", "state": "running", "queued": 2})
    assert finish(process) == (0, "a: queued (2 waiting)\n", "")


def test_a_reply_that_is_not_the_protocol_is_one_line_and_exit_1(
    router: tuple[Router, str],
) -> None:
    sock, endpoint = router
    process = start(endpoint, "run", "a")
    peer, *_ = recv(sock, timeout_ms=10_000)
    sock.send_multipart([peer, b"MDPC02", b"\x03", SERVICE, b"200"])
    assert finish(process) == (
        1,
        "",
        "raspy scenario run: hub.core.scenario: expected a reply [status, json], "
        "got 1 frames\n",
    )


def test_no_reply_is_one_line_and_exit_1(router: tuple[Router, str]) -> None:
    _, endpoint = router
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "raspy.cli.raspy",
            "scenario",
            "stop",
            "a",
            "--server",
            endpoint,
            "--host",
            "hub",
            "--timeout",
            "0.3",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert finish(process) == (
        1,
        "",
        f"raspy scenario stop: {endpoint}: no reply from service "
        "'hub.core.scenario' after 1 tries of 0.3s (is raspyd running with [core] "
        "enabled?)\n",
    )


@pytest.mark.parametrize(("verb", "sends"), [("show", 3), ("enable", 1)])
def test_a_silent_hub_is_asked_over_mmi_once(
    router: tuple[Router, str], verb: str, sends: int
) -> None:
    """The line says how long it waited for the service (`after 1 tries of 0.3s`);
    the question over MMI that follows, whether the hub has the service, was resent
    as a read is: 3 more waits, `enable` took 4 times --timeout, `show` twice
    the wait the line tells."""
    sock, endpoint = router
    with connections(sock) as watched:
        options = ["--server", endpoint, "--host", "hub", "--timeout", "0.3"]
        process = subprocess.Popen(
            [sys.executable, "-m", "raspy.cli.raspy", "scenario", verb, "a", *options],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        status, _, err = finish(process)
        watched.wait_all_ended()  # every request it sent has come
    assert status == 1, err
    assert f"after {sends} tries of 0.3s (is raspyd running" in err
    services = []
    while sock.poll(0):
        services.append(sock.recv_multipart()[3])
    assert services == [SERVICE] * sends + [b"mmi.service"]


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


def test_a_hub_without_the_scenario_service_is_named_as_such(
    router: tuple[Router, str],
) -> None:
    """A wrong --host (or [core] off) waited for every try and then asked whether
    raspyd was running; the broker knows better (mmi.service answers 404)."""
    sock, endpoint = router
    command = [sys.executable, "-m", "raspy.cli.raspy", "scenario", "list"]
    options = ["--server", endpoint, "--host", "hub", "--timeout", "0.3"]
    process = subprocess.Popen(
        command + options, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    for _ in range(10):  # the tries of the scenario request go unanswered
        peer, *frames = recv(sock, timeout_ms=10_000)
        if frames[2] == b"mmi.service":
            assert frames[3] == SERVICE
            sock.send_multipart([peer, b"MDPC02", b"\x03", b"mmi.service", b"404"])
            break
    assert finish(process) == (
        1,
        "",
        "raspy scenario list: the hub has no hub.core.scenario (a wrong --host, or "
        "[core] not enabled there)\n",
    )


def test_run_trigger_sends_the_id_and_prints_a_refusal(
    router: tuple[Router, str],
) -> None:
    """`run NAME --trigger ID` runs as if that trigger fired: a time-triggered
    branch could not be tried before its time (the run had no `trigger.id`)."""
    sock, endpoint = router
    process = start(endpoint, "run", "evening", "--trigger", "off")
    request = answer(sock, b"200", {"name": "evening", "state": "idle", "done": True})
    assert request == {"v": 1, "action": "run", "name": "evening", "trigger": "off"}
    assert finish(process) == (0, "evening: done\n", "")
    process = start(endpoint, "run", "evening", "--trigger", "of")
    why = "scenario evening has no trigger with id 'of' (its trigger ids: 'on', 'off')"
    answer(sock, b"400", {"error": why})
    assert finish(process) == (1, "", f"raspy scenario run: evening: 400: {why}\n")
