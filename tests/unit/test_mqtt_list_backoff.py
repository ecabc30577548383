"""A devices service's failed `list` is asked again with backoff (raspy.mqtt.announce
LIST_RETRY) until one is answered, or the service is gone; sans-IO."""

from __future__ import annotations

import json

from raspy.mqtt.core import REQUEST_TIMEOUT_S, BridgeCore, BridgeSettings, SendRequest
from raspy.mqtt.discovery import Discovery
from raspy.mqtt.filters import GlobFilter
from raspy.mqtt.output import Output
from raspy.mqtt.topics import TopicMap

NOW = 1000.0
LAMP = "/device/pi.fake.lamp/value"
LIST = SendRequest(0, "pi.fake.devices", b'{"v": 1, "action": "list"}')
FAILED = [b"500", b'{"error": "internal"}']


def _core() -> BridgeCore:
    topics = TopicMap("raspy", "pi")
    allowed = GlobFilter(["*"])
    return BridgeCore(
        BridgeSettings(
            topics=topics,
            exposed=GlobFilter(["/device/*"], rooted=True),
            commandable=allowed,
            actions=frozenset({"set", "on", "off"}),
            discovery=Discovery(
                "homeassistant", topics, qos=1, sw_version="0.1.0", commandable=allowed
            ),
            scenario_buttons=False,
            max_buffered=1000,
        )
    )


def _list(outputs: list[Output]) -> SendRequest:
    (request,) = [o for o in outputs if isinstance(o, SendRequest)]
    assert (request.service, request.body) == (LIST.service, LIST.body)
    return request


def _listed() -> list[bytes]:
    lamp = {"fullname": "pi.fake.lamp", "oid": "switch", "name": "lamp"}
    return [b"200", json.dumps({"devices": [lamp]}).encode()]


def test_a_failed_list_is_asked_again_later_each_time_until_answered() -> None:
    core = _core()
    request = _list(core.service_available("pi.fake.devices", NOW))
    now = NOW
    for delay_s in (2.0, 4.0, 8.0):  # an error, no reply in time, no list
        if delay_s == 4.0:
            now += REQUEST_TIMEOUT_S
            core.tick(now)
        elif delay_s == 8.0:
            core.reply(request.request_id, [b"200", b"{}"], now)
        else:
            core.reply(request.request_id, FAILED, now)
        assert core.next_deadline() == now + delay_s
        assert core.tick(now + delay_s - 0.1) == []
        now += delay_s
        request = _list(core.tick(now))
    core.reply(request.request_id, _listed(), now)
    assert core.next_deadline() is None
    assert any(t.endswith("/config") for t in core.mirror)


def test_a_service_gone_or_turned_off_is_asked_no_more() -> None:
    core = _core()
    request = _list(core.service_available("pi.fake.devices", NOW))
    core.reply(request.request_id, FAILED, NOW)
    core.service_gone("pi.fake.devices")  # its worker left: listed when back
    assert core.next_deadline() is None
    request = _list(core.key_changed(LAMP, b"true", NOW + 1))
    core.reply(request.request_id, FAILED, NOW + 1)  # still no worker: none again
    assert core.next_deadline() is None
    request = _list(core.service_available("pi.fake.devices", NOW + 1))
    core.reply(request.request_id, FAILED, NOW + 1)  # back, and it failed
    assert core.next_deadline() == NOW + 1 + 2.0
    core.key_changed(LAMP, b"", NOW + 2)  # its values deleted: turned off
    assert core.next_deadline() is None


def test_a_list_in_flight_when_its_service_went_is_not_asked_again() -> None:
    """Its worker left while the `list` was on its way; the request then expired:
    no worker to ask, so no retry every 5 minutes until one comes back."""
    core = _core()
    core.key_changed(LAMP, b"true", NOW)  # a value: its configs stay while away
    core.service_available("pi.fake.devices", NOW)
    core.service_gone("pi.fake.devices")
    core.tick(NOW + REQUEST_TIMEOUT_S)  # the list in flight expires
    assert core.next_deadline() is None
    request = _list(core.service_available("pi.fake.devices", NOW + 20))
    core.reply(request.request_id, FAILED, NOW + 20)  # back: retried again
    assert core.next_deadline() == NOW + 20 + 2.0
