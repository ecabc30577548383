"""Benchmark: CPU of the broker edge's I/O thread per MDP request, in one process.

Run:  .venv/bin/python tools/bench_edge.py [--size BYTES] [--requests N]

The edge (EdgeLoop + BrokerCore on its Runner thread) serves one client and one
majortomo-dialect worker, both DEALERs driven from the main thread over TCP on
127.0.0.1, one request in flight. What is printed is the CPU time of the edge's thread
alone (user + system, from its thread clock) divided by the requests: unlike the
whole-process figures of bench_mdp.py it does not count the client, the worker or
libzmq's I/O thread, so two versions of the edge can be compared on a loaded machine.
The loop is bounded by the request count.
"""

from __future__ import annotations

import argparse
import threading
import time

import zmq
from benchproc import free_port

from raspy.actors.edge import EdgeLoop, EdgeSettings
from raspy.clock import SystemClock
from raspy.cores.broker import BrokerCore
from raspy.stats import Stats
from raspy.transport.runner import Runner

SERVICE = b"bench"


def _thread_cpu_s(name: str) -> float:
    thread = next(t for t in threading.enumerate() if t.name == name)
    assert thread.ident is not None
    return time.clock_gettime(time.pthread_getcpuclockid(thread.ident))


def edge_cpu_us_per_request(size: int, requests: int) -> float:
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    clock = SystemClock()
    endpoint = f"tcp://127.0.0.1:{free_port()}"
    loop = EdgeLoop(ctx, EdgeSettings(endpoint), BrokerCore(), clock, Stats())
    runner = Runner("edge", loop, clock=clock, thread_name="bench-edge")
    runner.start()
    client, worker = ctx.socket(zmq.DEALER), ctx.socket(zmq.DEALER)
    try:
        for sock in (client, worker):
            sock.setsockopt(zmq.LINGER, 0)
            sock.connect(endpoint)
        worker.send_multipart([b"", b"MDPW02", b"\x01", SERVICE])
        request = [b"", b"MDPC02", b"\x02", SERVICE, b"x" * size]

        def one() -> None:
            client.send_multipart(request)
            if not worker.poll(5000):
                raise RuntimeError("the worker got no request")
            frames = worker.recv_multipart()
            frames[2] = b"\x04"  # FINAL, back through the broker
            worker.send_multipart(frames)
            if not client.poll(5000):
                raise RuntimeError("the client got no reply")
            client.recv_multipart()

        for _ in range(100):  # warm up (and the worker's READY is in)
            one()
        before = _thread_cpu_s("bench-edge")
        for _ in range(requests):
            one()
        return (_thread_cpu_s("bench-edge") - before) / requests * 1e6
    finally:
        runner.stop()
        client.close()
        worker.close()
        ctx.term()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=16, help="request body bytes")
    parser.add_argument("--requests", type=int, default=5000)
    args = parser.parse_args()
    cpu_us = edge_cpu_us_per_request(args.size, args.requests)
    print(f"edge thread CPU: {cpu_us:.1f} us/request ({args.size} B body)")


if __name__ == "__main__":
    main()
