"""Benchmark: device updates bridged from raspyd's tree to an MQTT subscriber (issue 16).

Run:  .venv/bin/python tools/bench_mqtt.py [--devices 1000] [--seconds 10]

Starts a Mosquitto (127.0.0.1, a free port, its own config in a temporary folder) and
raspyd with N `fake` sensors polled every second (N readings a second, each a
`value` and a `timestamp` key), first without the bridge, then with it. In each bounded
window it measures, in one process: the delay from each poll (the reading's
`timestamp`) to its arrival at an MQTT subscriber of `<base>/+/+/+/timestamp`, and to
its arrival at a Clone subscriber (a SUB on the publisher, N+2) for comparison;
p50/p99/max; and raspyd's CPU. The bridge's CPU per bridged update is the CPU with
the bridge minus the CPU without it, over the updates the MQTT subscriber got.
Target: 1,000 updates/s bridged with p99 <= 50 ms. `--qos` sets the bridge's QoS
(1 by default, as in raspyd); the subscriber takes QoS 0. Everything it starts it stops.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import zmq
from benchproc import cpu_seconds, free_port, start_raspyd, stop
from paho.mqtt.enums import CallbackAPIVersion

TARGET_P99_MS = 50.0
BASE = "bench"


def _config(
    devices: int, interval_s: float, mqtt_port: int | None, qos: int = 1
) -> str:
    lines = ['log_level = "warning"', "", "[devices]", "fake_enabled = true"]
    lines += ["clock_health_interval_s = 0.0", "", "[core]", "enabled = false"]
    lines += ["", "[stats]", "publish_interval_s = 0.0"]
    if mqtt_port is not None:
        lines += ["", "[mqtt]", "enabled = true", f"port = {mqtt_port}"]
        lines += [f'base_topic = "{BASE}"', 'discovery_prefix = ""', f"qos = {qos}"]
    for index in range(devices):
        lines += ["", "[[devices.fake]]", f'name = "s{index:04d}"']
        lines += ['oid = "sensor.temperature"', f"period_s = {60.0 + index % 240}"]
        lines += [f"poll_interval_s = {interval_s}"]
    return "\n".join(lines) + "\n"


def _percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


class MqttWatch:
    """A paho subscriber driven by the bench's one poller (no thread of its own):
    arrival minus the reading's timestamp, next to the Clone SUB's."""

    def __init__(self, port: int) -> None:
        self.delays: list[float] = []
        self.recording = False
        self.received = 0
        self.client = paho.Client(CallbackAPIVersion.VERSION2)
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.subscribe(f"{BASE}/+/+/+/timestamp", qos=0)
        sock = self.client.socket()
        assert sock is not None
        self.fd = sock.fileno()

    def _on_message(self, _c: Any, _u: Any, message: paho.MQTTMessage) -> None:
        arrived = time.time()
        if not self.recording or message.retain:
            return
        self.received += 1
        self.delays.append((arrived - float(message.payload)) * 1000.0)

    def on_events(self, events: int) -> None:
        if events & zmq.POLLIN:
            self.client.loop_read(1000)
        if self.client.want_write():
            self.client.loop_write()
        self.client.loop_misc()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_write()
        sock = self.client.socket()
        if sock is not None:
            sock.close()


def _drain(
    sub: zmq.Socket[bytes], watch: MqttWatch | None, until: float,
    delays: list[float] | None,
) -> int:  # fmt: skip
    """Read the Clone publisher (and the MQTT socket) until `until`; the Clone delays
    go to `delays`, the MQTT ones to the watch (when it records)."""
    poller = zmq.Poller()
    poller.register(sub, zmq.POLLIN)
    if watch is not None:
        poller.register(watch.fd, zmq.POLLIN)
    received = 0
    while (left_ms := int((until - time.monotonic()) * 1000)) > 0:
        for target, events in poller.poll(min(left_ms, 200)):
            if target is sub:
                received += _read_clone(sub, delays)
            elif watch is not None:
                watch.on_events(events)
        if watch is not None:
            watch.on_events(0)
    return received


def _read_clone(sub: zmq.Socket[bytes], delays: list[float] | None) -> int:
    received = 0
    for _ in range(10_000):
        try:
            frames = sub.recv_multipart(zmq.NOBLOCK)
        except zmq.Again:
            break
        arrived = time.time()
        if len(frames) != 5 or not frames[0].endswith(b"/timestamp"):
            continue
        received += 1
        if delays is not None:
            delays.append((arrived - json.loads(frames[4])) * 1000.0)
    return received


def _phase(
    scratch: Path, devices: int, interval_s: float, warmup_s: float, seconds: float,
    mqtt_port: int | None, qos: int = 1,
) -> dict[str, Any]:  # fmt: skip
    base = free_port(4)
    name = "bridge" if mqtt_port is not None else "baseline"
    config = scratch / f"{name}.toml"
    config.write_text(_config(devices, interval_s, mqtt_port, qos), encoding="utf-8")
    context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    sub = context.socket(zmq.SUB)
    sub.setsockopt(zmq.LINGER, 0)
    sub.setsockopt(zmq.RCVHWM, 0)
    sub.setsockopt(zmq.SUBSCRIBE, b"/device/")
    watch = MqttWatch(mqtt_port) if mqtt_port is not None else None
    log_path = scratch / f"raspyd-{name}.log"
    daemon = start_raspyd(
        scratch / f"data-{name}", base, config=config, log_path=log_path
    )
    try:
        sub.connect(f"tcp://127.0.0.1:{base + 2}")
        if _drain(sub, watch, time.monotonic() + 20.0, None) == 0:
            print(log_path.read_text()[-2000:], file=sys.stderr)
            raise SystemExit("bench_mqtt: no device updates from raspyd")
        _drain(sub, watch, time.monotonic() + warmup_s, None)
        clone_delays: list[float] = []
        if watch is not None:
            watch.recording = True
        cpu0, wall0 = cpu_seconds(daemon.pid), time.monotonic()
        clone_received = _drain(sub, watch, wall0 + seconds, clone_delays)
        cpu1, wall1 = cpu_seconds(daemon.pid), time.monotonic()
        if watch is not None:
            watch.recording = False
    finally:
        if watch is not None:
            watch.close()
        sub.close()
        context.term()
        stop(daemon, wait_s=20)
    elapsed = wall1 - wall0
    result: dict[str, Any] = {
        "window_s": round(elapsed, 1),
        "cpu_s": cpu1 - cpu0,
        "cpu_pct_of_one_core": round((cpu1 - cpu0) / elapsed * 100.0, 1),
        "clone_updates_per_s": round(clone_received / elapsed, 1),
        "clone_p50_ms": round(_percentile(clone_delays, 0.5), 2),
        "clone_p99_ms": round(_percentile(clone_delays, 0.99), 2),
        "clone_max_ms": round(max(clone_delays, default=float("nan")), 2),
    }
    if watch is not None:
        delays = list(watch.delays)
        result |= {
            "mqtt_updates_per_s": round(watch.received / elapsed, 1),
            "mqtt_received": watch.received,
            "mqtt_p50_ms": round(_percentile(delays, 0.5), 2),
            "mqtt_p99_ms": round(_percentile(delays, 0.99), 2),
            "mqtt_max_ms": round(max(delays, default=float("nan")), 2),
        }
    return result


def run(
    devices: int, interval_s: float, warmup_s: float, seconds: float, qos: int
) -> int:
    with tempfile.TemporaryDirectory(prefix="raspy-bench-mqtt-") as folder:
        scratch = Path(folder)
        port = free_port()
        conf = scratch / "mosquitto.conf"
        conf.write_text(
            f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
            + ("user root\n" if os.geteuid() == 0 else ""),
            encoding="utf-8",
        )
        broker = subprocess.Popen(
            ["/usr/sbin/mosquitto", "-c", str(conf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            baseline = _phase(scratch, devices, interval_s, warmup_s, seconds, None)
            bridged = _phase(scratch, devices, interval_s, warmup_s, seconds, port, qos)
        finally:
            stop(broker, wait_s=5)
    extra_cpu_s = bridged["cpu_s"] - baseline["cpu_s"] * (
        bridged["window_s"] / baseline["window_s"]
    )
    # two messages per reading go out (value and timestamp); the subscriber counts one
    per_message_us = extra_cpu_s / max(1, 2 * bridged["mqtt_received"]) * 1e6
    results = {
        "devices": devices,
        "poll_interval_s": interval_s,
        "bridge_qos": qos,
        "expected_updates_per_s": round(devices / interval_s, 1),
        "baseline_without_bridge": baseline,
        "with_bridge": bridged,
        "bridge_cpu_us_per_bridged_message": round(per_message_us, 1),
        "bridge_cpu_us_per_device_update": round(2 * per_message_us, 1),
        "mqtt_p99_over_clone_p99": round(
            bridged["mqtt_p99_ms"] / max(bridged["clone_p99_ms"], 0.01), 2
        ),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}",
        "load_average_1min_at_end": round(os.getloadavg()[0], 2),
    }
    print(json.dumps(results, indent=2))
    ok = bridged["mqtt_p99_ms"] <= TARGET_P99_MS and bridged["mqtt_updates_per_s"] >= (
        0.95 * devices / interval_s
    )
    print(f"1,000 updates/s bridged with p99 <= {TARGET_P99_MS} ms: "
          f"{'met' if ok else 'MISSED'}")  # fmt: skip
    return 0  # a benchmark reports; it is not a timed test


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--interval", type=float, default=1.0, help="poll interval s")
    parser.add_argument("--warmup", type=float, default=10.0, help="seconds")
    parser.add_argument("--seconds", type=float, default=10.0, help="measured window")
    parser.add_argument("--qos", type=int, default=1, choices=(0, 1, 2))
    args = parser.parse_args()
    if args.devices < 1 or args.interval <= 0 or args.seconds <= 0:
        parser.error("--devices >= 1, --interval > 0, --seconds > 0")
    return run(args.devices, args.interval, args.warmup, args.seconds, args.qos)


if __name__ == "__main__":
    sys.exit(main())
