"""`raspy`: command-line client of a raspy hub (sub-commands).

`raspy call SERVICE [BODY...]` sends one MDP request and prints each reply body frame
on its own line (UTF-8 where it decodes, else its Python repr). Exit status: 0 reply,
1 no reply (timeout), 2 bad usage or input.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import zmq

from raspy.config import DEFAULT_PORT_BASE
from raspy.errors import ClientTimeout
from raspy.protocol.mdp import Version

_PROG = "raspy"
DEFAULT_SERVER = f"tcp://127.0.0.1:{DEFAULT_PORT_BASE}"


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected seconds > 0, got {text!r}")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a count, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a count >= 1, got {text!r}")
    return value


def _add_call(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    call = commands.add_parser(
        "call",
        help="send one MDP request and print the reply",
        description="Send one MDP request; print each reply body frame on a line.",
    )
    call.add_argument("service", help="service name, e.g. <hostname>.echo")
    call.add_argument(
        "body",
        nargs="*",
        help="body frames (UTF-8); none sends one empty frame",
    )
    call.add_argument(
        "--server",
        default=DEFAULT_SERVER,
        help=f"broker endpoint (default {DEFAULT_SERVER})",
    )
    call.add_argument(
        "--timeout",
        type=_positive_float,
        default=2.5,
        metavar="S",
        help="seconds to wait for each reply (default 2.5)",
    )
    call.add_argument(
        "--retries",
        type=_positive_int,
        default=3,
        metavar="N",
        help="sends in all before giving up (default 3)",
    )
    call.add_argument(
        "--version",
        choices=[version.value for version in Version],
        default="0.2",
        help="MDP version or dialect (default 0.2)",
    )
    call.add_argument(
        "--titanic",
        action="store_true",
        help="go through Titanic: store the request durably, wait for the reply, "
        "close it, print the reply",
    )
    call.add_argument(
        "--wait",
        type=_positive_float,
        default=60.0,
        metavar="S",
        help="with --titanic: seconds to wait for the reply (default 60)",
    )
    call.set_defaults(run=_call)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=_PROG, description="Talk to a raspy hub over ZeroMQ."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_call(commands)
    return parser


def _call(args: argparse.Namespace) -> int:
    """Plain MDP request through the broker (`raspy call`)."""
    from raspy.client.mdp import Client

    body = [frame.encode("utf-8") for frame in args.body] or [b""]
    if args.titanic:
        return _call_titanic(args, body)
    with Client(
        args.server,
        version=Version(args.version),
        timeout_s=args.timeout,
        retries=args.retries,
    ) as client:
        reply = client.request(args.service, *body)
    _print_frames(reply)
    return 0


def _call_titanic(args: argparse.Namespace, body: list[bytes]) -> int:
    """`raspy call --titanic`: submit, wait for the reply, close (protocols.md §5.4)."""
    from raspy.client.titanic import TitanicClient
    from raspy.errors import TitanicError

    with TitanicClient(
        args.server,
        version=Version(args.version),
        timeout_s=args.timeout,
        retries=args.retries,
    ) as titanic:
        try:
            uuid = titanic.submit(args.service, *body)
        except TitanicError as exc:
            print(f"{_PROG}: call: {exc}", file=sys.stderr)
            return 1
        try:
            reply = titanic.wait(uuid, timeout_s=args.wait)
        except ClientTimeout:
            print(
                f"{_PROG}: call: no reply within {args.wait:g}s; request {uuid} stays "
                f"queued (ask again: raspy call titanic.reply {uuid})",
                file=sys.stderr,
            )
            return 1
        except TitanicError as exc:
            print(f"{_PROG}: call: {exc}", file=sys.stderr)
            return 1
        titanic.close(uuid)
    _print_frames(reply)
    return 0


def _print_frames(frames: Sequence[bytes]) -> None:
    for frame in frames:
        try:
            print(frame.decode("utf-8"))
        except UnicodeDecodeError:
            print(repr(frame))


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `raspy`; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    from raspy import log

    log.configure("warning")  # library warnings (e.g. retries) go to stderr
    try:
        status: int = args.run(args)
    except ClientTimeout as exc:
        print(f"{_PROG}: {exc}", file=sys.stderr)
        return 1
    except (ValueError, zmq.ZMQError) as exc:
        print(f"{_PROG}: {args.command}: {exc}", file=sys.stderr)
        return 2
    return status


if __name__ == "__main__":
    sys.exit(main())
