"""A gpio service that a told message ends with an error (a command, a config change)
settles its outputs before pykka shows it stopped, as one whose poller failed does:
pykka sets the stopped flag before on_failure runs, and raspyd stopping in that window
released the outputs kept so far, and the service kept its relay just after: left on,
on_stop = "off" ignored. On gpiozero's mock pins, over a real edge, Clone server and
Store."""

from __future__ import annotations

import json
import threading
from typing import Any

import pykka
import pytest
from support.device_services import (
    server_fixture,  # noqa: F401  # fixture `server`
)
from support.edge_fixtures import EdgeHandle
from support.gpio_service import (
    SERVICE,
    Gpio,
    gpio_fixture,  # noqa: F401  # fixture `gpio`
)
from support.wait import wait_until
from support.zmqctx import dealer

from raspy.actors.devices import HandleRequest
from raspy.actors.poller import DevicePollerActor

RELAY = {"name": "relay", "oid": "switch", "pin": 17}


@pytest.mark.parametrize(
    "request_document",
    [
        {"action": "poll", "device": "relay"},
        {"action": "config", "device": "relay", "value": {"poll_interval_s": 5}},
    ],
    ids=["command", "config_change"],
)
def test_a_handler_that_raises_settles_the_outputs_before_the_service_is_seen_stopped(
    gpio: Gpio, edge: EdgeHandle, request_document: dict[str, Any]
) -> None:
    """Both tell the poller (a read now, a new interval); with the poller gone
    that raises, and the told request ends the service. It keeps its relay (on)
    for its restart while it is still alive, and a stop of raspyd then puts the
    relay at its on_stop: off."""
    asked, answer = threading.Event(), threading.Event()

    def restarting() -> bool:  # what raspyd's runtime says: held until answered
        asked.set()
        answer.wait(10)
        return True

    ref = gpio.start(RELAY, restarting=restarting)
    assert gpio.request(action="on", device="relay")[0] == b"200"
    assert gpio.pins.level("GPIO17") is True
    for poller in pykka.ActorRegistry.get_by_class(DevicePollerActor):
        poller.stop(block=True, timeout=10)
    client = dealer(edge.context, edge.endpoint)
    try:
        body = json.dumps({"v": 1, **request_document}).encode()
        client.send_multipart([b"MDPC02", b"\x01", SERVICE.encode(), body])
        wait_until(asked.is_set, what="the failed service asked whether it restarts")
        try:
            assert ref.is_alive()  # its outputs are not settled yet
        finally:
            answer.set()
        wait_until(lambda: not ref.is_alive(), what="the gpio service stopped")
    finally:
        client.close()
    gpio.ref = None
    assert gpio.pins.level("GPIO17") is True  # kept for its restart, still on
    assert gpio.pins.release_kept() == ["GPIO17"]  # raspyd stops: at its on_stop
    assert gpio.pins.level("GPIO17") is False


def test_an_asked_request_that_raises_leaves_the_service_and_its_outputs_running(
    gpio: Gpio,
) -> None:
    """raspy-poller asks its device service (HandleRequest): the error goes to the
    asker, and the service runs on with its outputs as they are."""
    asked = threading.Event()

    def restarting() -> bool:  # asked only when the service ends
        asked.set()
        return True

    ref = gpio.start(RELAY, restarting=restarting)
    assert gpio.request(action="on", device="relay")[0] == b"200"
    for poller in pykka.ActorRegistry.get_by_class(DevicePollerActor):
        poller.stop(block=True, timeout=10)
    body = json.dumps({"v": 1, "action": "poll", "device": "relay"}).encode()
    with pytest.raises(RuntimeError, match="device poller of gpio is gone"):
        ref.ask(HandleRequest((body,)), timeout=10)
    assert ref.is_alive()
    assert not asked.is_set()
    assert gpio.pins.level("GPIO17") is True
