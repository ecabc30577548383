"""bench_clone.py's load: a raw CHP writer and reader on raspyd's Clone server, and a
paho-mqtt publisher and subscriber on Mosquitto, each timing updates to distinct keys
(at most WINDOW in flight) and a full snapshot, the same way for both servers."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from typing import Any, Final

import zmq

from raspy.client.clone import fetch_snapshot
from raspy.protocol import clone
from raspy.transport.multipart import recv_frames, send_frames

WINDOW: Final = 5000  # updates in flight, for both servers
VALUE: Final = b"%032d" % 7  # 32-byte values


# --- Clone ------------------------------------------------------------------------------


class CloneLoad:
    """A raw CHP writer (XPUB -> collector) and reader (SUB <- publisher)."""

    def __init__(self, context: zmq.Context[zmq.Socket[bytes]], base: int) -> None:
        self.endpoints = clone.Endpoints.from_port_base("127.0.0.1", base)
        self.sub = context.socket(zmq.SUB)
        self.sub.setsockopt(zmq.RCVHWM, 0)
        self.sub.setsockopt(zmq.SUBSCRIBE, b"/bench/")
        self.sub.setsockopt(zmq.SUBSCRIBE, clone.HUGZ)
        self.sub.connect(self.endpoints.publisher)
        self.writer = context.socket(zmq.XPUB)
        self.writer.setsockopt(zmq.SNDHWM, 0)
        self.writer.connect(self.endpoints.collector)
        # docs/protocols.md §1.6: the collector listens once its subscription arrives, and
        # our SUB is live once a HUGZ comes through it
        if not self.writer.poll(10_000) or not self.sub.poll(10_000):
            raise SystemExit("bench_clone: the Clone sockets never connected")
        self.writer.recv()

    def close(self) -> None:
        self.sub.close(linger=0)
        self.writer.close(linger=0)

    def updates(self, prefix: bytes, count: int) -> float:
        """Seconds for `count` updates to distinct keys, end to end."""
        keys = [b"/bench/%s/%07d" % (prefix, i) for i in range(count)]
        sent = received = 0
        started_at = time.perf_counter()
        while received < count:
            while sent < count and sent - received < WINDOW:
                frames = clone.kvset(keys[sent], VALUE, uuid.uuid4().bytes)
                send_frames(self.writer, frames, block=True)
                sent += 1
            if not self.sub.poll(10_000):
                raise SystemExit(f"bench_clone: Clone stalled at {received}/{count}")
            while True:
                try:
                    frames = recv_frames(self.sub)
                except zmq.Again:
                    break
                received += frames[0] != clone.HUGZ
        return time.perf_counter() - started_at

    def round_trip(self, key: bytes) -> None:
        """One KVSET on the connected writer, until its UUID comes back."""
        update_id = uuid.uuid4().bytes
        send_frames(self.writer, clone.kvset(key, VALUE, update_id), block=True)
        while True:
            if not self.sub.poll(10_000):
                raise SystemExit("bench_clone: a KVSET never came back")
            frames = recv_frames(self.sub)
            if frames[0] != clone.HUGZ and frames[2] == update_id:
                return

    def snapshot(self, prefix: bytes, expected: int) -> float:
        started_at = time.perf_counter()
        snap = fetch_snapshot(self.endpoints, b"/bench/%s/" % prefix, timeout_s=30)
        elapsed = time.perf_counter() - started_at
        if len(snap.items) != expected:
            raise SystemExit(f"bench_clone: snapshot had {len(snap.items)}/{expected}")
        return elapsed


# --- Mosquitto ------------------------------------------------------------------------------


class MqttLoad:
    """paho-mqtt publisher and subscriber (each with its network thread), QoS 0."""

    def __init__(self, mqtt: Any, port: int) -> None:
        self._mqtt = mqtt
        self._port = port
        self._cond = threading.Condition()
        self.received = 0
        self.sub = self._client("bench-sub", self._on_message)
        self.sub.subscribe("bench/#", qos=0)
        self.pub = self._client("bench-pub", None)

    def _client(self, name: str, on_message: Callable[..., None] | None) -> Any:
        client = self._mqtt.Client(
            self._mqtt.CallbackAPIVersion.VERSION2, client_id=name, clean_session=True
        )
        client.max_queued_messages_set(0)
        if on_message is not None:
            client.on_message = on_message
        client.connect("127.0.0.1", self._port)
        client.loop_start()
        return client

    def _on_message(self, _client: Any, _userdata: Any, _message: Any) -> None:
        with self._cond:
            self.received += 1
            self._cond.notify()

    def close(self) -> None:
        for client in (self.pub, self.sub):
            client.disconnect()
            client.loop_stop()

    def updates(self, prefix: str, count: int) -> float:
        """Seconds for `count` retained publishes to distinct topics, end to end."""
        topics = [f"bench/{prefix}/{i:07d}" for i in range(count)]
        with self._cond:
            base = self.received
        started_at = time.perf_counter()
        for index, topic in enumerate(topics):
            with self._cond:
                while index - (self.received - base) >= WINDOW:
                    if not self._cond.wait(10):
                        raise SystemExit("bench_clone: Mosquitto stalled")
            self.pub.publish(topic, VALUE, qos=0, retain=True)
        with self._cond:
            while self.received - base < count:
                if not self._cond.wait(10):
                    raise SystemExit("bench_clone: Mosquitto stalled at the end")
        return time.perf_counter() - started_at

    def snapshot(self, prefix: str, expected: int) -> float:
        """Seconds from SUBSCRIBE to the last of `expected` retained messages."""
        done = threading.Event()
        count = 0

        def on_message(_client: Any, _userdata: Any, message: Any) -> None:
            nonlocal count
            if message.retain:
                count += 1
                if count == expected:
                    done.set()

        reader = self._client(f"bench-snap-{uuid.uuid4().hex[:8]}", on_message)
        try:
            started_at = time.perf_counter()
            reader.subscribe(f"bench/{prefix}/#", qos=0)
            if not done.wait(120):
                raise SystemExit(f"bench_clone: MQTT snapshot had {count}/{expected}")
            return time.perf_counter() - started_at
        finally:
            reader.disconnect()
            reader.loop_stop()
