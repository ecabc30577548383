"""The soak's load: a household's churn, one round at a time, each kind on a thread
of its own (MDP clients and workers, Titanic, Clone clients, scenarios, events,
web logins and live streams), counted and bounded by a deadline. Imported by
tools/soak.py (not installed)."""

from __future__ import annotations

import contextlib
import json
import re
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import zmq
from benchproc import http_exchange  # tools/ is not a package

from raspy.client import Client, ClientTimeout, CloneClient, Worker
from raspy.client.titanic import TitanicClient
from raspy.errors import RaspyError
from raspy.names import short_hostname
from raspy.protocol import clone

HOST = short_hostname()
EVENT_NAMES = ("doorbell/front", "motion/hall", "door/garage", "alarm/armed", "tv/off")


@dataclass
class Target:
    mdp: str
    clone: clone.Endpoints
    web_port: int
    token: str


@dataclass
class Counts:
    done: dict[str, int] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, what: str, error: bool = False) -> None:
        with self.lock:
            book = self.errors if error else self.done
            book[what] = book.get(what, 0) + 1


Churn = Callable[[Target, int], None]  # one round; the int counts the rounds


def mdp_client(target: Target, n: int) -> None:
    """A new client (a new identity) calls the echo and MMI, then vanishes."""
    with Client(target.mdp, timeout_s=3.0, retries=1) as client:
        client.request(f"{HOST}.echo", f"ping {n}")
        client.request("mmi.service", f"soak.gone.{n}")  # a name nobody serves


def worker(target: Target, n: int) -> None:
    """A worker under a new service name serves one request, then goes: every other
    one with the library's Worker, which says DISCONNECT, the rest as a bare socket
    that just vanishes (no goodbye: the broker must give it up by heartbeat)."""
    service = f"soak.svc.{n}"
    context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    try:
        with Client(target.mdp, timeout_s=5.0, retries=1, context=context) as client:
            answer: list[list[bytes]] = []

            def call() -> None:
                with contextlib.suppress(ClientTimeout):
                    answer.append(client.request(service, b"hello"))

            if n % 2 == 0:
                with Worker(
                    target.mdp, service, heartbeat_interval_s=0.5, context=context
                ) as work:
                    caller = threading.Thread(target=call, daemon=True)
                    caller.start()
                    request = work.recv(timeout_s=5.0)
                    if request is not None:
                        work.reply(request[0], [b"hi"])
                    caller.join(6.0)
            else:
                sock = context.socket(zmq.DEALER)
                sock.setsockopt(zmq.LINGER, 0)
                sock.connect(target.mdp)
                sock.send_multipart([b"MDPW02", b"\x01", service.encode()])
                caller = threading.Thread(target=call, daemon=True)
                caller.start()
                end = time.monotonic() + 5.0
                while time.monotonic() < end:
                    if not sock.poll(200):
                        continue
                    frames = sock.recv_multipart()
                    if frames[:2] == [b"MDPW02", b"\x02"]:
                        sock.send_multipart([b"MDPW02", b"\x04", *frames[2:4], b"hi"])
                        break
                caller.join(6.0)
                sock.close(linger=0)  # gone without DISCONNECT
        if not answer:
            raise RaspyError(f"no reply through {service}")
    finally:
        context.destroy(linger=0)


def titanic(target: Target, n: int) -> None:
    """A durable request to the echo, its reply, its close; and one to a service
    whose worker is gone (the worker churn's names), given up and closed."""
    with TitanicClient(target.mdp, timeout_s=5.0, retries=1) as client:
        uuid_text = client.submit(f"{HOST}.echo", f"durable {n}")
        client.wait(uuid_text, timeout_s=20.0, poll_initial_s=0.05)
        client.close(uuid_text)
        uuid_text = client.submit(f"soak.svc.{n}", f"durable {n}")
        client.reply(uuid_text)
        client.close(uuid_text)


def clone_client(target: Target, n: int) -> None:
    """Connects, takes a snapshot, sets an ephemeral key (2 s TTL) and vanishes."""
    with CloneClient(target.clone, b"/soak/") as client:
        client.wait_synced(10.0)
        client.set(
            f"/soak/visitor/{uuid.uuid4().hex}".encode(),
            b'"here"',
            ttl_s=2.0,
            confirm_timeout_s=10.0,
        )


_SCENARIO = """\
name: {name}
description: soak round {n}
mode: parallel
triggers:
  - event: /event/soak/{name}
actions:
  - set: /scenario/{name}/note
    value: {n}
  - device: "{host}.fake.lamp"
    action: "{command}"
  - event: /event/{event}
    value: {n}
"""


def scenario(target: Target, n: int) -> None:
    """Imported under a new name, run, replaced, run again, deleted."""
    name = f"soak-{n}"

    def ask(action: str, **fields: object) -> None:
        body = json.dumps({"v": 1, "action": action, **fields})
        with Client(target.mdp, timeout_s=10.0, retries=1) as client:
            status = client.request(f"{HOST}.core.scenario", body)[0]
        if status != b"200":
            raise RaspyError(f"scenario {action}: {status!r}")

    def document(command: str) -> str:
        event = EVENT_NAMES[n % len(EVENT_NAMES)]
        return _SCENARIO.format(name=name, n=n, host=HOST, command=command, event=event)

    ask("import", document=document("on"))
    ask("run", name=name)
    ask("import", document=document("off"), replace=True)
    ask("run", name=name)
    time.sleep(0.2)  # let the run end before the delete (a running one is stopped)
    ask("delete", name=name)


def events(target: Target, n: int) -> None:
    """A burst of a household's events (a fixed set of names), and commands that
    change the actuators' values."""
    with CloneClient(target.clone, b"/event/") as client:
        client.wait_synced(10.0)
        for index in range(10):
            key = f"/event/{EVENT_NAMES[(n + index) % len(EVENT_NAMES)]}"
            client.set(key.encode(), json.dumps({"n": n, "i": index}).encode())
        client.set(b"/event/soak/last", b"true", confirm_timeout_s=10.0)
    with Client(target.mdp, timeout_s=5.0, retries=1) as mdp:
        body = {"v": 1, "action": "level", "device": "hall", "value": n % 100}
        mdp.request(f"{HOST}.fake.devices", json.dumps(body))


def _http(
    port: int, method: str, path: str, body: str = "", cookie: str = ""
) -> tuple[int, list[str], bytes]:
    return http_exchange(port, method, path, body, cookie, timeout_s=10.0)


def web(target: Target, n: int) -> None:
    """A login, a page, a live stream read for a moment then dropped; every other
    round logs out, the rest just leave (the session stays until it expires)."""
    _, cookies, page = _http(target.web_port, "GET", "/login")
    login_cookie = cookies[0].split(";")[0]
    match = re.search(rb'name="csrf" value="([^"]+)"', page)
    if match is None:
        raise RaspyError("no csrf field on /login")
    form = f"csrf={match.group(1).decode()}&secret={target.token}"
    status, cookies, _ = _http(target.web_port, "POST", "/login", form, login_cookie)
    session = next((c for c in cookies if c.startswith("raspy_session=")), "")
    if status != 303 or not session:
        raise RaspyError(f"login: {status}")
    cookie = session.split(";")[0]
    _http(target.web_port, "GET", "/", cookie=cookie)
    with socket.create_connection(("127.0.0.1", target.web_port), timeout=2) as sock:
        request = f"GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: {cookie}\r\n\r\n"
        sock.sendall(request.encode())
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            try:
                if not sock.recv(65536):
                    break
            except TimeoutError:
                break
    if n % 2 == 0:
        page = _http(target.web_port, "GET", "/", cookie=cookie)[2]
        match = re.search(rb'name="csrf" value="([^"]+)"', page)
        if match is not None:
            _http(
                target.web_port,
                "POST",
                "/logout",
                f"csrf={match.group(1).decode()}",
                cookie,
            )


CHURNS: dict[str, Churn] = {
    "mdp_client": mdp_client,
    "worker": worker,
    "titanic": titanic,
    "clone_client": clone_client,
    "scenario": scenario,
    "events": events,
    "web": web,
}


def churn_loop(
    name: str, round_: Churn, target: Target, stop_at: float, counts: Counts
) -> None:
    n = 0
    while time.monotonic() < stop_at:
        n += 1
        try:
            round_(target, n)
            counts.add(name)
        except (RaspyError, ClientTimeout, OSError, zmq.ZMQError) as exc:
            counts.add(name, error=True)
            if counts.errors.get(name, 0) <= 3:
                print(f"  {name} round {n}: {type(exc).__name__}: {exc}", flush=True)
            time.sleep(0.5)
