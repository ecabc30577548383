"""Benchmark: the edge's outbox (in memory) against an inproc PUSH/PULL pair.

Run:  .venv/bin/python tools/bench_outbox.py [--messages 50000] [--frames 9]

One producer thread sends `--messages` messages of `--frames` frames (Titanic's local
reply: service, client, count and a six-frame MDP reply) while the consumer thread,
like the edge, waits in a zmq.Poller and drains them in turns of at most 256. Printed:
CPU per message on each thread (thread clocks, so a busy machine moves them less than
the wall time), wall rate, and the ratio outbox / PUSH-PULL. The reference is what the
outbox was before: one PUSH per sending thread (SNDHWM 0) into the edge's PULL.
Bounded by the message count and a 60 s deadline; no network traffic.
"""

from __future__ import annotations

import argparse
import threading
import time
from collections.abc import Callable

import zmq

from raspy.transport.multipart import drain, send_frames
from raspy.transport.outbox import Outbox

_DEADLINE_S = 60.0
_TURN = 256


class ConsumerStuck(RuntimeError):
    """The consumer thread did not end: what it polls stays open, and its context
    is not terminated (it would wait for ever)."""


def _frames(count: int) -> list[bytes]:
    return [b"titanic.request", b"\x00\x8b\x45\x67\x89", b"%d" % (count - 3)] + [
        b"x" * 16 for _ in range(count - 3)
    ]


def _run(
    send: Callable[[], None],
    readable: zmq.Socket[bytes] | int,
    drain_turn: Callable[[Callable[[list[bytes]], object]], object],
    messages: int,
) -> tuple[float, float, float]:
    """(producer CPU µs/message, consumer CPU µs/message, messages/s): the consumer
    sleeps in a zmq.Poller on `readable`, as the edge does, and drains a turn."""
    poller = zmq.Poller()
    poller.register(readable, zmq.POLLIN)
    seen = [0]
    consumer_cpu: list[float] = []

    def handle(_message: list[bytes]) -> None:
        seen[0] += 1

    def consume() -> None:
        start = time.thread_time()
        deadline = time.monotonic() + _DEADLINE_S
        while seen[0] < messages and time.monotonic() < deadline:
            if poller.poll(100):
                drain_turn(handle)
        consumer_cpu.append(time.thread_time() - start)

    thread = threading.Thread(target=consume, name="bench-consumer")
    wall = time.perf_counter()
    thread.start()
    start = time.thread_time()
    for _ in range(messages):
        send()
    producer = time.thread_time() - start
    thread.join(_DEADLINE_S)
    if thread.is_alive():  # it still polls `readable`: nobody else may close it
        raise ConsumerStuck(f"the consumer did not end within {_DEADLINE_S} s")
    wall = time.perf_counter() - wall
    consumer = consumer_cpu[0] if consumer_cpu else float("nan")
    return producer / messages * 1e6, consumer / messages * 1e6, messages / wall


def outbox_case(messages: int, frames: list[bytes]) -> tuple[float, float, float]:
    outbox = Outbox()
    stuck = False
    try:
        return _run(
            lambda: outbox.send_local_replies(list(frames)),
            outbox.read_fd,
            lambda handle: outbox.drain(handle, _TURN),
            messages,
        )
    except ConsumerStuck:
        stuck = True
        raise
    finally:
        if not stuck:  # else the consumer still polls the outbox's pipe
            outbox.close()


def push_pull_case(
    context: zmq.Context[zmq.Socket[bytes]], messages: int, frames: list[bytes]
) -> tuple[float, float, float]:
    pull = context.socket(zmq.PULL)
    pull.setsockopt(zmq.RCVHWM, 0)
    pull.bind("inproc://bench-outbox")
    push = context.socket(zmq.PUSH)
    push.setsockopt(zmq.SNDHWM, 0)
    push.connect("inproc://bench-outbox")
    message = [b"R", *frames]
    stuck = False
    try:
        return _run(
            lambda: send_frames(push, message, block=True),
            pull,
            lambda handle: drain(pull, handle, _TURN),
            messages,
        )
    except ConsumerStuck:
        stuck = True
        raise
    finally:
        push.close(linger=0)
        if not stuck:  # the consumer has ended: its PULL is ours again
            pull.close(linger=0)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=50_000)
    parser.add_argument("--frames", type=int, default=9)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    frames = _frames(max(4, args.frames))
    context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    print(f"{args.messages} messages of {len(frames) + 1} frames, {args.rounds} rounds")
    print("| round | case | producer CPU µs/msg | consumer CPU µs/msg | msg/s |")
    print("|---|---|---|---|---|")
    ratios: list[float] = []
    for round_no in range(1, args.rounds + 1):
        ref = push_pull_case(context, args.messages, frames)
        ours = outbox_case(args.messages, frames)
        for name, row in (("inproc PUSH/PULL", ref), ("outbox", ours)):
            print(
                f"| {round_no} | {name} | {row[0]:.2f} | {row[1]:.2f} | {row[2]:,.0f} |"
            )
        ratios.append((ours[0] + ours[1]) / (ref[0] + ref[1]))
    context.term()
    print(
        "outbox / PUSH-PULL, CPU per message (both threads): "
        + ", ".join(f"x{r:.2f}" for r in ratios)
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
