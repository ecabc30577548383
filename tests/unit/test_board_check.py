"""BoardCheck: when raspy-poller believes another board, or the hub itself, serves
its name, and says that the hub refuses its keys once; raspy.client.hub_probe's
sentences."""

from __future__ import annotations

import random

import pytest
import zmq

from raspy.cli import poller_run
from raspy.cli.board_check import BoardCheck, BoardNames, Verdict
from raspy.cli.board_probe import HubSaysNo
from raspy.client.hub_probe import HubAnswer, refusal
from raspy.errors import RaspyError

EXPIRY, EVERY = 10.0, 15.0
T0 = 1000.0
NAMES = BoardNames("cellar", "onewire")
OURS = "cellar.onewire.devices"


def _check() -> BoardCheck:
    return BoardCheck(NAMES, EXPIRY, EVERY, random.Random(7))


def _workers(count: int, *others: str) -> HubAnswer:
    """An answer that counts `count` workers of our service (and serves `others`)."""
    table = {name: 1 for name in others}
    if count:
        table[OURS] = count
    return HubAnswer(workers=table)


@pytest.mark.timeout(5)
def test_two_workers_on_two_settled_probes_in_a_row_are_a_twin() -> None:
    check = _check()
    two = _workers(2)
    assert check.answer(two, T0 + EXPIRY, session_since=T0) is Verdict.FINE
    assert check.answer(two, T0 + 30, session_since=T0) is Verdict.TWIN


@pytest.mark.timeout(5)
def test_our_own_lost_worker_counted_after_a_reconnect_is_no_twin() -> None:
    """Until the broker expires the old connection's worker it counts two: a probe
    on a session younger than the expiry does not count, and resets."""
    check = _check()
    two = _workers(2)
    assert check.answer(two, T0 + 11, session_since=T0) is Verdict.FINE
    assert check.answer(two, T0 + 25, session_since=T0 + 20) is Verdict.FINE
    assert check.answer(two, T0 + 40, session_since=T0 + 20) is Verdict.FINE
    assert check.answer(two, T0 + 55, session_since=T0 + 20) is Verdict.TWIN


@pytest.mark.timeout(5)
def test_one_worker_or_no_session_resets_the_count() -> None:
    check = _check()
    assert check.answer(_workers(2), T0 + 20, T0) is Verdict.FINE
    assert check.answer(_workers(1), T0 + 35, T0) is Verdict.FINE
    assert check.answer(_workers(2), T0 + 50, T0) is Verdict.FINE
    assert check.answer(_workers(2), T0 + 65, None) is Verdict.FINE
    assert check.answer(_workers(2), T0 + 80, T0) is Verdict.FINE


@pytest.mark.timeout(5)
def test_no_answer_changes_nothing() -> None:
    check = _check()
    assert check.answer(_workers(2), T0 + 20, T0) is Verdict.FINE
    assert check.answer(HubAnswer(), T0 + 35, T0) is Verdict.FINE
    assert check.answer(_workers(2), T0 + 50, T0) is Verdict.TWIN


@pytest.mark.timeout(5)
def test_the_hubs_own_device_service_of_our_name_is_believed_at_its_first_answer() -> (
    None
):
    """raspyd's own part `devices.onewire` (its `.mmi` service) is no worker a lost
    connection left behind: no second probe, no settled session to wait for (a
    board named after the hub waited ~10 s at start to be told)."""
    check = _check()
    assert check.answer(_workers(1, NAMES.hub_part), T0, None) is Verdict.HUB
    assert _check().answer(_workers(0, NAMES.hub_part), T0, None) is Verdict.HUB


@pytest.mark.timeout(5)
def test_the_hub_under_our_name_is_believed_at_once_whatever_our_service() -> None:
    """A board under the hub's hostname with a service the hub does not run: the
    hub's `<name>.echo` says it runs under that name, and `/device/<name>.…` keys
    are the hub's (a reload turning its own `onewire` off deleted the board's
    readings). Before, only the hub's own device service of our kind was looked
    for, and the echo only behind two workers of ours."""
    assert _check().answer(_workers(1, NAMES.hub_echo), T0, None) is Verdict.HUB
    assert _check().answer(_workers(0, NAMES.hub_echo), T0, None) is Verdict.HUB
    assert _check().answer(_workers(2, NAMES.hub_echo), T0, T0) is Verdict.HUB
    other = BoardNames("shed", "onewire")  # another host's echo says nothing
    check = BoardCheck(other, EXPIRY, EVERY, random.Random(7))
    assert check.answer(_workers(0, NAMES.hub_echo), T0, None) is Verdict.FINE


@pytest.mark.timeout(5)
def test_the_names_a_look_asks_for_are_all_under_the_hostname() -> None:
    assert (NAMES.devices, NAMES.hub_part, NAMES.hub_echo) == (
        "cellar.onewire.devices",
        "cellar.devices.onewire.mmi",
        "cellar.echo",
    )
    assert NAMES.pattern == b"cellar.*"


@pytest.mark.timeout(5)
def test_a_refusal_is_said_once_until_the_hub_takes_us_again() -> None:
    check = _check()
    no = HubAnswer(refused="no")
    assert check.answer(no, T0, T0) is Verdict.REFUSED
    assert check.answer(no, T0 + 15, T0) is Verdict.FINE
    assert check.answer(HubAnswer(), T0 + 30, T0) is Verdict.FINE  # hub away
    assert check.answer(no, T0 + 45, T0) is Verdict.FINE
    assert check.answer(_workers(1), T0 + 60, T0) is Verdict.FINE
    assert check.answer(no, T0 + 75, T0) is Verdict.REFUSED


@pytest.mark.timeout(5)
def test_probes_come_at_jittered_intervals() -> None:
    check = _check()
    assert check.due(T0)
    gaps = set()
    now = T0
    for _ in range(20):
        check.answer(_workers(1), now, T0)
        assert not check.due(now + EVERY * 0.75 - 0.001)
        assert check.due(now + EVERY * 1.25)
        step = next(t for t in range(1, 40) if check.due(now + t / 2))
        gaps.add(step)
        now += step / 2
    assert len(gaps) > 1  # two twins do not probe in step


@pytest.mark.timeout(5)
@pytest.mark.parametrize(
    ("event", "value", "curve", "words"),
    [
        (zmq.EVENT_HANDSHAKE_FAILED_AUTH, 400, True, "refused this board's key"),
        (zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL, 32, True, "--server-key is not"),
        (
            zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL,
            zmq.PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH,
            True,
            "--server-key is not",
        ),
        (zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL, 32, False, "requires CURVE"),
        (
            zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL,
            zmq.PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH,
            False,
            "requires CURVE",
        ),
    ],
)
def test_each_failed_handshake_has_its_sentence(
    event: int, value: int, curve: bool, words: str
) -> None:
    """Which side of a mechanism mismatch notices first is a race: the sentence
    does not hang on the event (probe_hub asks a plain question to tell a hub
    without CURVE from a wrong server key)."""
    said = refusal(event, value, "tcp://hub:5514", curve)
    assert said is not None
    assert words in said
    assert "tcp://hub:5514" in said


@pytest.mark.timeout(5)
def test_other_monitor_events_say_nothing() -> None:
    assert refusal(zmq.EVENT_CONNECTED, 0, "tcp://hub:5514", True) is None
    assert refusal(zmq.EVENT_HANDSHAKE_SUCCEEDED, 0, "tcp://hub:5514", True) is None


def test_a_stuck_service_at_the_end_does_not_hide_what_ended_the_run() -> None:
    """The stop raises its own error from a `finally`: the hub's refusal, on its way
    out, was replaced by "did not stop within 10 s" and exit 1."""

    def stuck_after(cause: Exception | None) -> RaspyError:
        try:
            try:
                if cause is not None:
                    raise cause
            finally:
                raise poller_run._ServiceStuck("the device service did not stop")
        except RaspyError as exc:
            return exc
        raise AssertionError("unreachable")

    refused = HubSaysNo("the hub refused this board's keys", 2)
    assert poller_run.stuck_failure(stuck_after(refused)) == (
        "the hub refused this board's keys",
        2,
    )
    assert poller_run.stuck_failure(stuck_after(RaspyError("lost"))) == ("lost", 1)
    assert poller_run.stuck_failure(stuck_after(None)) == (
        "the device service did not stop",
        1,
    )
