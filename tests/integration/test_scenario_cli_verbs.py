"""`raspy scenario` enable, disable, run and run-trigger as real processes against a
raw ROUTER playing the broker and `<host>.core.scenario`, and how every command says
a hub that fails it: a reply that is not the protocol, no reply, a hub without the
scenario service.

Each test reads the exact request the CLI sends and answers it by hand, so what the
CLI prints for every status is checked without a daemon (tests/e2e has the real one).
"""

from __future__ import annotations

import subprocess
import sys

import pytest
from support.cli_process import connections
from support.cli_process import finish_text as finish
from support.scenario_cli import SERVICE, Router, answer, start
from support.zmqctx import recv


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
        "raspy scenario disable: ghost: no scenario 'ghost'\n",
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
    assert finish(process) == (1, "", f"raspy scenario run: evening: {why}\n")


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
        "'hub.core.scenario' in 0.3 s, nor from 'mmi.service' in 0.3 s (is raspyd"
        " running there? "
        "--server HOST:PORT names another hub or port base; a hub with CURVE "
        "answers only with --server-key and --client-cert)\n",
    )


@pytest.mark.parametrize(
    ("verb", "sends", "waited"),
    [("show", 3, "in 3 tries of 0.3 s each"), ("enable", 1, "in 0.3 s")],
)
def test_a_silent_hub_is_asked_over_mmi_once(
    router: tuple[Router, str], verb: str, sends: int, waited: str
) -> None:
    """The line says how long it waited for the service (`in 0.3 s`, as a person
    says it: it was `after 1 tries of 0.3s`), and for the question over MMI that
    follows, whether the hub has the service (unsaid, `show` waited a third more
    than the line told); that question was resent as a read is: 3 more waits,
    `enable` took 4 times --timeout, `show` twice the wait the line tells."""
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
    silent = f"{waited}, nor from 'mmi.service' in 0.3 s (is raspyd running"
    assert f"'hub.core.scenario' {silent}" in err
    services = []
    while sock.poll(0):
        services.append(sock.recv_multipart()[3])
    assert services == [SERVICE] * sends + [b"mmi.service"]


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
