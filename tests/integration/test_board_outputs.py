"""A board's device service (raspy-poller) keeps its simulated outputs' values in its
own store and takes them where the hub's copy of its readings has none (the hub's
offline mark of a board away: value null); a null is never a command. Over a real
Clone server and Store; the board's publisher is its Clone client."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pykka
import pytest
import zmq
from structlog.testing import capture_logs
from support.clock import FakeClock
from support.device_services import (
    START_WALL,
    Services,
    server_fixture,  # noqa: F401  # fixture `server`
    services_fixture,  # noqa: F401  # fixture `services`
)
from support.state_refusal import Refusal, refusal_fixture  # noqa: F401  # fixture `refusal`
from support.wait import wait_until

from raspy.actors.devices import ForgetGone, HandleRequest
from raspy.cli.board_publisher import ClientPublisher
from raspy.cli.board_service import BoardDeviceService
from raspy.client.clone import CloneClient
from raspy.config import DevicesConfig
from raspy.devices.registries import fake_registry
from raspy.devices.saved_states import SAVE_RETRY
from raspy.storage.device_settings import DeviceSettings
from raspy.storage.store import Store

Context = zmq.Context[zmq.Socket[bytes]]
LAMP = "board2.fake.lamp"
# the hub's offline mark of the lamp, as its copy has it
MARKED = {f"/device/{LAMP}/value": b"null", f"/device/{LAMP}/status": b'"offline"'}


class Board:
    """A board's device service with a lamp, its publisher a Clone client."""

    def __init__(self, services: Services, context: Context, store: Store) -> None:
        self.clock = FakeClock(wall=START_WALL)
        self.client = CloneClient(
            services.server.endpoints, b"/device/board2.fake.", context=context
        )
        self.publisher = ClientPublisher(self.client)
        registry = fake_registry(
            "board2",
            DevicesConfig(fake_enabled=True, fake=({"name": "lamp", "oid": "switch"},)),
        )
        self.ref: pykka.ActorRef[Any] = BoardDeviceService.start(
            registry,
            self.publisher,
            clock=self.clock,
            stats=services.stats,
            settings=DeviceSettings(store),
            resume_outputs=True,
        )

    def ask(self, action: str, value: Any = None) -> tuple[bytes, Any]:
        body: dict[str, Any] = {"v": 1, "action": action, "device": "lamp"}
        if value is not None:
            body["value"] = value
        request = HandleRequest((json.dumps(body).encode(),))
        status, reply = self.ref.ask(request, timeout=5)
        assert isinstance(status, bytes)
        assert isinstance(reply, bytes)
        return status, json.loads(reply)

    def lamp(self) -> Any:
        """The lamp's value once the service has a reading of it (its first poll)."""
        reading = wait_until(
            lambda: self.ask("get")[1]["reading"], what="the lamp's first reading"
        )
        return reading["value"]

    def take_copy(self, copy: dict[str, bytes]) -> None:
        """The hub's copy given, as raspy-poller gives it: from its Clone client, so
        that client is live by then (the readings go out at once, not held for the
        poller's main loop, which this test does not run)."""
        self.client.wait_synced(5)
        self.ref.ask(ForgetGone(copy), timeout=5)
        self.publisher.open()

    def close(self) -> None:
        self.ref.stop(block=True, timeout=10)
        self.client.close()


def _kept(path: Path) -> dict[str, Any]:
    store = Store.open(path)
    try:
        saved = DeviceSettings(store).load("board2.fake.")
    finally:
        store.close()
    return {
        name: (saved.states[name], saved.states_since[name]) for name in saved.states
    }


@pytest.mark.timeout(60)
def test_a_boards_output_kept_in_its_store_is_taken_where_the_hubs_copy_is_marked(
    services: Services, zmq_context: Context, tmp_path: Path
) -> None:
    """The lamp turned on is kept once (a second `on` writes nothing); a board
    started again, its copy of the lamp marked offline, has it on."""
    board_store = tmp_path / "board"
    store = Store.open(board_store, init=True)
    board = Board(services, zmq_context, store)
    try:
        board.take_copy({})
        assert board.ask("on")[1]["reading"]["value"] is True
        board.clock.step_wall(5.0)
        assert board.ask("on")[1]["reading"]["value"] is True  # no change: no write
    finally:
        board.close()
        store.close()
    assert _kept(board_store) == {LAMP: (True, START_WALL)}
    store = Store.open(board_store)
    board = Board(services, zmq_context, store)
    try:
        assert board.lamp() is False  # before the copy
        with capture_logs() as logs:
            board.take_copy(MARKED)
        assert board.lamp() is True
        assert {"event": "output_state_from_board", "device": LAMP} in [
            {k: e[k] for k in ("event", "device") if k in e} for e in logs
        ]
    finally:
        board.close()
        store.close()


@pytest.mark.timeout(60)
def test_a_marked_copy_without_a_kept_value_is_no_command(
    services: Services, zmq_context: Context, tmp_path: Path
) -> None:
    """Nothing kept (a new data dir): the lamp stays as it started, off; and a
    store that refuses the write leaves the command done, said in the log."""
    board_store = tmp_path / "board"
    store = Store.open(board_store, init=True)
    board = Board(services, zmq_context, store)
    try:
        board.take_copy(MARKED)
        assert board.lamp() is False
        store.close()  # every write fails from now on, as on a failing card
        with capture_logs() as logs:
            status, reply = board.ask("on")
        assert (status, reply["reading"]["value"]) == (b"200", True)
        assert "device_state_not_stored" in [e["event"] for e in logs]
        wait_until(
            lambda: board.client.get(f"/device/{LAMP}/value".encode()) == b"true",
            what="the lamp on at the hub",
        )
    finally:
        board.close()
        store.close()


def _lamp_kept(store: Store) -> Any:
    return DeviceSettings(store).load("board2.fake.").states.get(LAMP)


@pytest.mark.timeout(60)
def test_a_value_the_store_refused_is_written_again_at_a_later_poll(
    services: Services, zmq_context: Context, tmp_path: Path, refusal: Refusal
) -> None:
    """The lamp on (kept), then off while the store refuses: the store kept `on`,
    and a board started again past its offline mark came back on. The refused
    write is tried again at the first poll once its backoff is over, with the
    lamp's latest value, and counted once."""
    store = Store.open(tmp_path / "board", init=True)
    board = Board(services, zmq_context, store)
    try:
        board.take_copy({})
        assert board.ask("on")[1]["reading"]["value"] is True
        assert _lamp_kept(store) is True
        refusal.failing = True
        assert board.ask("off")[1]["reading"]["value"] is False
        assert services.stats.get("devices.fake.state_not_stored") == 1
        refusal.failing = False
        # past the backoff and the lamp's poll interval: the poller reads it
        board.clock.advance(SAVE_RETRY.initial_s + 3600)
        wait_until(lambda: _lamp_kept(store) is False, what="the lamp's off kept")
        assert services.stats.get("devices.fake.state_not_stored") == 1
    finally:
        board.close()
        store.close()


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    ("copy_read_s", "lamp"), [(-1.0, True), (1.0, False)], ids=["kept", "copy"]
)
def test_the_newer_of_the_kept_value_and_the_hubs_copy_is_taken(
    services: Services,
    zmq_context: Context,
    tmp_path: Path,
    copy_read_s: float,
    lamp: bool,
) -> None:
    """The board kept its lamp `on` (at START_WALL); the hub's copy, not marked,
    has it `false`, read a second before (a board killed after it answered the
    `on`, its reading not yet at the hub: the copy won, and the lamp came back off)
    or a second after (a write the store refused, the hub had the reading)."""
    board_store = tmp_path / "board"
    store = Store.open(board_store, init=True)
    board = Board(services, zmq_context, store)
    try:
        board.take_copy({})
        assert board.ask("on")[1]["reading"]["value"] is True
    finally:
        board.close()
        store.close()
    copy = {
        f"/device/{LAMP}/value": b"false",
        f"/device/{LAMP}/status": b'"ok"',
        f"/device/{LAMP}/timestamp": json.dumps(START_WALL + copy_read_s).encode(),
    }
    store = Store.open(board_store)
    board = Board(services, zmq_context, store)
    try:
        # its first poll read first: on the fake clock, which stands still, one that
        # came after the copy's set would look as new as it (a real poll read
        # before a set is older, and dropped as stale) and put the lamp back off
        assert board.lamp() is False
        board.take_copy(copy)
        assert board.lamp() is lamp
    finally:
        board.close()
        store.close()
