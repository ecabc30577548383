"""`raspy call SERVICE [BODY...]`: one MDP request, each reply body frame printed on
its own line (printable UTF-8 as text, else 0x-hex); `--titanic` through Titanic;
a SERVICE that begins with `.` is under --host (`.echo`), as names are elsewhere. A
worker is looked for first (RFC 8 mmi.service), so that no request waits in the
broker for one that comes too late, and a timeout says whether anyone serves it."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Final

from raspy.cli import EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, show
from raspy.cli.arguments import (
    add_curve_options,
    add_host_option,
    add_server_option,
    client_curve,
    count_argument,
    seconds_argument,
    silence_hinted,
    under_host,
)
from raspy.cli.usage_parser import UsageParser
from raspy.errors import ClientTimeout, MalformedReply
from raspy.protocol import mmi
from raspy.protocol.mdp import Version

if TYPE_CHECKING:
    from raspy.client.mdp import Client
    from raspy.transport.sockets import CurveKeys

_PROG: Final = "raspy call"
_MMI_PROBE_S: Final = 1.0  # after a call timed out: is anyone serving the service?
_TITANIC_WAIT_S: Final = 60.0  # --titanic: how long it waits for the reply


def add_parser(commands: argparse._SubParsersAction[UsageParser]) -> None:
    call = commands.add_parser(
        "call",
        help="send one MDP request and print the reply",
        description="Send one MDP request; print each reply body frame on a line. "
        "Options may stand anywhere, between BODY frames too; after -- every word "
        "is a BODY frame.",
        intermixed=True,
    )
    call.add_argument(
        "service",
        nargs="?",
        help="service name, e.g. <hostname>.echo, or .echo for the --host's (required)",
    )
    call.add_argument(
        "body",
        nargs="*",
        help="body frames (UTF-8); none sends one empty frame",
    )
    add_server_option(call)
    add_host_option(call, more_help="; a SERVICE beginning with . is under it (.echo)")
    call.add_argument(
        "--timeout",
        type=seconds_argument,
        default=2.5,
        metavar="S",
        help="seconds to wait for each reply (default 2.5)",
    )
    call.add_argument(
        "--retries",
        type=count_argument,
        default=3,
        metavar="N",
        help="sends in all before giving up (default 3); each is a new request, so "
        "send a toggle with 1; with --titanic the request is submitted once and N "
        "counts the sends of each reply poll and of the close",
    )
    call.add_argument(
        "--version",
        choices=[version.value for version in Version],
        default="0.2",
        help="MDP version or dialect (default 0.2)",
    )
    call.add_argument(
        "--queue",
        action="store_true",
        help="send it even when no worker offers SERVICE now: the broker keeps it "
        "for broker.request_ttl_s, and a worker that comes by then carries it out",
    )
    call.add_argument(
        "--titanic",
        action="store_true",
        help="go through Titanic: store the request durably, wait for the reply, "
        "close it, print the reply",
    )
    call.add_argument(
        "--wait",
        type=seconds_argument,
        default=None,  # said, not ignored, without --titanic
        metavar="S",
        help=f"with --titanic: seconds to wait for the reply (default {_TITANIC_WAIT_S:g})",
    )
    add_curve_options(call)
    call.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Plain MDP request through the broker (`raspy call`)."""
    from raspy.client.mdp import Client

    if not args.service:
        print(
            f"{_PROG}: SERVICE is required, e.g. raspy call <hostname>.echo hi",
            file=sys.stderr,
        )
        return EXIT_USAGE
    if args.wait is not None and not args.titanic:
        # a plain request's wait is --timeout; a --wait dropped in silence would
        # let the user believe the call waits that long
        print(
            f"{_PROG}: --wait is for --titanic; a plain request waits --timeout S "
            "for each of its --retries",
            file=sys.stderr,
        )
        return EXIT_USAGE
    if args.wait is None:
        args.wait = _TITANIC_WAIT_S
    if "" in args.service.removeprefix(".").split("."):
        # `.` went to `<host>.`: no service of a raspy hub has an empty part
        print(
            f"{_PROG}: SERVICE {args.service!r} has an empty part: a service is named"
            " <hostname>.<service>, e.g. pi.echo (.echo: the --host's, or this"
            " machine's)",
            file=sys.stderr,
        )
        return EXIT_USAGE
    args.service = under_host(args.service, args.host)
    body = [frame.encode("utf-8") for frame in args.body] or [b""]
    curve = client_curve(args, _PROG)  # CurveOptionError: _main's one line, exit 2
    with Client(
        args.server,
        version=Version(args.version),
        timeout_s=args.timeout,
        retries=args.retries,
        curve=curve,
    ) as client:
        # --queue: the user wants it kept for a worker to come; nothing to ask
        with silence_hinted(curve is not None):  # not a word from the hub
            offered = args.queue or _offered(client, args.service, titanic=args.titanic)
        if args.titanic:
            client.close()
            return _call_titanic(args, body, curve, offered)
        if not offered:
            print(
                f"{_PROG}: no worker offers {args.service} ({_PROG} "
                "mmi.services lists those that do); --queue sends it all the same",
                file=sys.stderr,
            )
            return EXIT_FAILURE
        try:
            reply = client.request(args.service, *body)
        except MalformedReply:
            raise  # an answer came: whether a worker serves it is beside the point
        except ClientTimeout as exc:
            raise ClientTimeout(f"{exc}{_why_silent(client, args.service)}") from None
    _print_frames(reply)
    return EXIT_OK


def _offered(client: Client, service: str, *, titanic: bool = False) -> bool:
    """Whether a worker offers `service` now (RFC 8 mmi.service), asked before the
    request is sent: the broker queues a request for a service without one, and a
    worker that comes back within broker.request_ttl_s would carry it out long after
    this command gave up. Only a 404 is "no": a broker without MMI answers 501. For
    `titanic` the answer is only said, so no answer is no reason not to submit."""
    if service.startswith("mmi."):
        return True  # the broker answers those itself
    try:
        answer = client.request(mmi.SERVICE, service)
    except ClientTimeout as exc:
        if titanic:
            return True  # not known: submitted without a word
        raise ClientTimeout(
            f"{exc} (asked whether a worker offers {service!r}: nothing was sent)"
        ) from None
    return answer[:1] != [mmi.NOT_FOUND]


def _why_silent(client: Client, service: str) -> str:
    """After a timeout: whether any worker serves `service` now (RFC 8 mmi.service,
    one short try), so that a mistyped name is told from a slow worker."""
    if service.startswith("mmi."):
        return ""
    client.timeout_s, client.retries = _MMI_PROBE_S, 1
    try:
        offered = _offered(client, service)
    except ClientTimeout:
        return " (the broker does not answer either)"
    if not offered:
        return f" (no worker serves {service!r} now)"
    return f" ({service!r} has a worker: it is busy or slow)"


def _call_titanic(
    args: argparse.Namespace, body: list[bytes], curve: CurveKeys | None, offered: bool
) -> int:
    """`raspy call --titanic`: submit, wait for the reply, close (docs/protocols.md §5.4).
    Titanic keeps a request until a worker comes, on purpose: one absent now is only
    said."""
    from raspy.client.titanic import TitanicClient
    from raspy.errors import TitanicError

    with TitanicClient(
        args.server,
        version=Version(args.version),
        timeout_s=args.timeout,
        retries=args.retries,
        curve=curve,
    ) as titanic:
        uuid = ""
        if not offered:
            print(
                f"{_PROG}: no worker offers {args.service} now; Titanic keeps "
                "the request until one does",
                file=sys.stderr,
            )
        try:
            uuid = titanic.submit(args.service, *body)
            print(f"{_PROG}: stored as Titanic request {uuid}", file=sys.stderr)
            reply = titanic.wait(uuid, timeout_s=args.wait)
        except KeyboardInterrupt:
            if not uuid:
                raise  # not stored: nothing to tell but that it was interrupted
            print(
                f"{_PROG}: interrupted; request {uuid} stays queued "
                f"(ask again: raspy call titanic.reply {uuid})",
                file=sys.stderr,
            )
            return EXIT_INTERRUPTED
        except ClientTimeout:
            if not uuid:
                raise  # Titanic itself did not answer: main() says so
            print(
                f"{_PROG}: no reply in {args.wait:g} s; request {uuid} stays "
                f"queued (ask again: raspy call titanic.reply {uuid})",
                file=sys.stderr,
            )
            return EXIT_FAILURE
        except TitanicError as exc:
            print(f"{_PROG}: {exc}", file=sys.stderr)
            return EXIT_FAILURE
        _print_frames(reply)  # before the close: a close that fails loses nothing
        try:
            titanic.close(uuid)
        except (ClientTimeout, TitanicError) as exc:
            print(
                f"{_PROG}: the reply came, but closing request {uuid} failed ({exc});"
                f" Titanic keeps it until closed (raspy call titanic.close {uuid})",
                file=sys.stderr,
            )
    return EXIT_OK


def _print_frames(frames: Sequence[bytes]) -> None:
    """Printable UTF-8 frames as text, any other as 0x-hex (one line each), as
    raspy-kv prints values: a frame comes from whichever worker serves the
    service, and a line break, ESC or a C1 control would act on the terminal."""
    for frame in frames:
        print(show(frame))
