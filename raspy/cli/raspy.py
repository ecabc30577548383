"""`raspy`: command-line client of a raspy hub (sub-commands).

`raspy call SERVICE [BODY...]` sends one MDP request and prints each reply body frame
on its own line (UTF-8 where it decodes, else 0x-hex). Exit status: 0 reply, 1 no
reply (timeout), 2 bad usage or input, 130 Ctrl-C.

`raspy status` prints a table of the hub's supervised parts.

`raspy device NAME ACTION [VALUE]` sends one command to a device (raspy.cli.device).

`raspy web-token` prints a new login token for the web face (docs/web.md).

`raspy history KEY --since 24h` prints a device's recorded values (or draws them with
`--plot FILE.svg|png`).

`raspy keys DIR NAME` writes a CURVE key pair as zmq certificates: DIR/NAME.key
(public, to hand out) and DIR/NAME.key_secret (keep it private).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Final, cast

import zmq

from raspy.cli import (
    EXIT_FAILURE,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    reader_left,
    version_line,
)
from raspy.cli import device as device_cli
from raspy.cli import history as history_cli
from raspy.cli import scenario as scenario_cli
from raspy.cli import web_token as web_token_cli
from raspy.cli.arguments import (
    CurveOptionError,
    UsageParser,
    add_curve_options,
    add_server_option,
    check_curve_pair,
    client_curve,
    count_argument,
    not_utf8,
    refuse_before_command,
    seconds_argument,
)
from raspy.cli.last_resort import guarded
from raspy.errors import ClientTimeout, shown
from raspy.protocol import mmi
from raspy.protocol.mdp import Version
from raspy.transport.sockets import CurveKeys

if TYPE_CHECKING:
    from raspy.client.mdp import Client

_PROG = "raspy"
_MMI_PROBE_S: Final = 1.0  # after a call timed out: is anyone serving the service?


def _add_call(commands: argparse._SubParsersAction[UsageParser]) -> None:
    call = commands.add_parser(
        "call",
        help="send one MDP request and print the reply",
        description="Send one MDP request; print each reply body frame on a line.",
    )
    call.add_argument(
        "service", nargs="?", help="service name, e.g. <hostname>.echo (required)"
    )
    call.add_argument(
        "body",
        nargs="*",
        help="body frames (UTF-8); none sends one empty frame",
    )
    add_server_option(call)
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
        "send a toggle with 1",
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
        default=60.0,
        metavar="S",
        help="with --titanic: seconds to wait for the reply (default 60)",
    )
    add_curve_options(call)
    call.set_defaults(run=_call)


def _add_keys(commands: argparse._SubParsersAction[UsageParser]) -> None:
    keys = commands.add_parser(
        "keys",
        help="make a CURVE key pair (zmq certificates)",
        description="Write DIR/NAME.key (public) and DIR/NAME.key_secret (secret); "
        "DIR is created 0700 if needed. Existing files are never overwritten.",
    )
    keys.add_argument("dir", metavar="DIR", help="folder for the certificates")
    keys.add_argument("name", metavar="NAME", help="base name of the two files")
    keys.set_defaults(run=_keys)


def build_parser() -> argparse.ArgumentParser:
    parser = UsageParser(prog=_PROG, description="Talk to a raspy hub over ZeroMQ.")
    parser.add_argument("--version", action="version", version=version_line(_PROG))
    # the commands' defaults differ (--timeout 2.5 or 5): taken after COMMAND only
    refuse_before_command(
        parser, "--server", "--host", "--timeout", "--server-key", "--client-cert"
    )
    commands = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", parser_class=UsageParser
    )
    _add_call(commands)
    _add_keys(commands)
    _add_status(commands)
    scenario_cli.add_parser(
        cast(scenario_cli.Commands, commands)
    )  # one-line errors too
    history_cli.add_parser(cast(history_cli.Commands, commands))
    device_cli.add_parser(cast(device_cli.Commands, commands))
    web_token_cli.add_parsers(commands)
    return parser


def _add_status(commands: argparse._SubParsersAction[UsageParser]) -> None:
    status = commands.add_parser(
        "status",
        help="a table of the hub's services: state, workers, uptime, restarts",
        description="One line per supervised part of the hub: its state, workers, "
        "uptime, restarts and its largest counters.",
    )
    add_server_option(status)
    status.add_argument(
        "--timeout",
        type=seconds_argument,
        default=2.5,
        metavar="S",
        help="seconds to wait for each reply (default 2.5)",
    )
    add_curve_options(status)
    status.set_defaults(run=_status, retries=1)


def _status(args: argparse.Namespace) -> int:
    from raspy.cli import status
    from raspy.client.mdp import Client

    curve = client_curve(
        args, f"{_PROG} {args.command}"
    )  # CurveOptionError: _main's one line, exit 2
    with Client(
        args.server, timeout_s=args.timeout, retries=args.retries, curve=curve
    ) as client:
        rows = status.collect(client)
    for line in status.table(rows):
        print(line)
    return EXIT_OK


def _keys(args: argparse.Namespace) -> int:
    """`raspy keys DIR NAME`: a new key pair; refuses to overwrite (exit 2)."""
    import zmq.auth

    name: str = args.name
    if not name or "/" in name or name in (".", ".."):
        print(f"{_PROG}: keys: bad NAME {shown(name)}", file=sys.stderr)
        return EXIT_USAGE
    folder = Path(args.dir)
    if folder.exists() and not folder.is_dir():  # mkdir would say "File exists"
        print(f"{_PROG}: keys: {folder}: not a directory", file=sys.stderr)
        return EXIT_USAGE
    public, secret = folder / f"{name}.key", folder / f"{name}.key_secret"
    existing = [str(path) for path in (public, secret) if path.exists()]
    if existing:
        print(
            f"{_PROG}: keys: refusing to overwrite {', '.join(existing)}",
            file=sys.stderr,
        )
        return EXIT_USAGE
    old_umask = os.umask(0o077)  # the secret file is never readable by others
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        public_path, secret_path = zmq.auth.create_certificates(folder, name)
        os.chmod(secret_path, 0o600)
        os.chmod(public_path, 0o644)
    except OSError as exc:
        print(
            f"{_PROG}: keys: cannot write to {folder}: {exc.strerror}", file=sys.stderr
        )
        return EXIT_USAGE
    finally:
        os.umask(old_umask)
    print(f"public: {public_path}")
    print(f"secret: {secret_path}")
    return EXIT_OK


def _call(args: argparse.Namespace) -> int:
    """Plain MDP request through the broker (`raspy call`)."""
    from raspy.client.mdp import Client

    if not args.service:
        print(
            f"{_PROG}: call: SERVICE is required, e.g. raspy call <hostname>.echo hi",
            file=sys.stderr,
        )
        return EXIT_USAGE
    body = [frame.encode("utf-8") for frame in args.body] or [b""]
    curve = client_curve(
        args, f"{_PROG} {args.command}"
    )  # CurveOptionError: _main's one line, exit 2
    with Client(
        args.server,
        version=Version(args.version),
        timeout_s=args.timeout,
        retries=args.retries,
        curve=curve,
    ) as client:
        # --queue: the user wants it kept for a worker to come; nothing to ask
        offered = args.queue or _offered(client, args.service, titanic=args.titanic)
        if args.titanic:
            client.close()
            return _call_titanic(args, body, curve, offered)
        if not offered:
            print(
                f"{_PROG}: call: no worker offers {args.service} ({_PROG} call "
                "mmi.services lists those that do); --queue sends it all the same",
                file=sys.stderr,
            )
            return EXIT_FAILURE
        try:
            reply = client.request(args.service, *body)
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
                f"{_PROG}: call: no worker offers {args.service} now; Titanic keeps "
                "the request until one does",
                file=sys.stderr,
            )
        try:
            uuid = titanic.submit(args.service, *body)
            print(f"{_PROG}: call: stored as Titanic request {uuid}", file=sys.stderr)
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
                f"{_PROG}: call: no reply within {args.wait:g}s; request {uuid} stays "
                f"queued (ask again: raspy call titanic.reply {uuid})",
                file=sys.stderr,
            )
            return EXIT_FAILURE
        except TitanicError as exc:
            print(f"{_PROG}: call: {exc}", file=sys.stderr)
            return EXIT_FAILURE
        titanic.close(uuid)
    _print_frames(reply)
    return EXIT_OK


def _print_frames(frames: Sequence[bytes]) -> None:
    """UTF-8 frames as text, any other as 0x-hex (one line each)."""
    for frame in frames:
        try:
            print(frame.decode("utf-8"))
        except UnicodeDecodeError:
            print("0x" + frame.hex())


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `raspy`; returns the exit status."""
    return guarded(_PROG, lambda: _main(argv))


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "call":
        try:
            check_curve_pair(args)
        except CurveOptionError as exc:
            parser.error(f"call: {exc}")
    from raspy import log

    log.configure("error")  # retries are the client's business: one line at the end
    try:
        status: int = args.run(args)
        sys.stdout.flush()  # a reader that left shows here, not at interpreter exit
    except KeyboardInterrupt:
        print(f"{_PROG}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except ClientTimeout as exc:
        print(f"{_PROG}: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except UnicodeEncodeError as exc:
        print(f"{_PROG}: {args.command}: {not_utf8(exc)}", file=sys.stderr)
        return EXIT_USAGE
    except (ValueError, zmq.ZMQError) as exc:
        print(f"{_PROG}: {args.command}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:  # `raspy call … | head -1`: the reader left
        return reader_left()
    return status


if __name__ == "__main__":
    sys.exit(main())
