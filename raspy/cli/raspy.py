"""`raspy`: command-line client of a raspy hub (sub-commands).

`raspy call SERVICE [BODY...]` sends one MDP request and prints each reply body frame
on its own line (UTF-8 where it decodes, else 0x-hex; raspy.cli.call). Exit status: 0
reply, 1 no reply (timeout), 2 bad usage or input, 130 Ctrl-C.

`raspy status` prints a table of the hub's supervised parts.

`raspy device NAME ACTION [VALUE]` sends one command to a device (raspy.cli.device).

`raspy web-token` prints a new login token for the web face (docs/web.md).

`raspy history KEY --since 24h` prints a device's recorded values (or draws them with
`--plot FILE.svg|png`).

`raspy keys DIR NAME` writes a CURVE key pair as zmq certificates: DIR/NAME.key
(public, to hand out) and DIR/NAME.key_secret (keep it private); NAME is printable
text without `/` (no control character: a newline made one file read as two).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import cast

from raspy.cli import (
    EXIT_FAILURE,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    flush_stdout,
    reader_left,
    stdout_failed,
    version_line,
)
from raspy.cli import call as call_cli
from raspy.cli import device as device_cli
from raspy.cli import history as history_cli
from raspy.cli import scenario as scenario_cli
from raspy.cli import web_token as web_token_cli
from raspy.cli.arguments import (
    CurveOptionError,
    add_curve_options,
    add_server_option,
    check_curve_pair,
    client_curve,
    first_control,
    hub_silent_hint,
    not_utf8,
    path_argument,
    refuse_before_command,
    seconds_argument,
)
from raspy.cli.last_resort import guarded
from raspy.cli.usage_parser import UsageParser
from raspy.errors import ClientTimeout, shown
from raspy.library_log import configure_later

_PROG = "raspy"
_NAME_MAX = 255  # bytes in a file name on Linux file systems (ext4, FAT, tmpfs)


def _add_keys(commands: argparse._SubParsersAction[UsageParser]) -> None:
    keys = commands.add_parser(
        "keys",
        help="make a CURVE key pair (zmq certificates)",
        description="Write DIR/NAME.key (public) and DIR/NAME.key_secret (secret); "
        "DIR is created 0700 if needed. Existing files are never overwritten.",
    )
    keys.add_argument(
        "dir", metavar="DIR", type=path_argument, help="folder for the certificates"
    )
    keys.add_argument(
        "name",
        metavar="NAME",
        help="base name of the two files: printable text without / (no control "
        "character)",
    )
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
    call_cli.add_parser(commands)
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
        "--all",
        action="store_true",
        dest="every_counter",
        help="every counter of each part, not only its three largest",
    )
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

    curve = client_curve(args, f"{_PROG} status")  # CurveOptionError: exit 2
    with Client(
        args.server, timeout_s=args.timeout, retries=args.retries, curve=curve
    ) as client:
        try:
            rows = status.collect(client)
        except status.HubSilent as exc:  # a later silence: no guess at why
            raise ClientTimeout(f"{exc}{hub_silent_hint(curve is not None)}") from None
    for line in status.table(rows, every_counter=args.every_counter):
        print(line)
    return EXIT_OK


def _keys(args: argparse.Namespace) -> int:
    """`raspy keys DIR NAME`: a new key pair; refuses to overwrite (exit 2)."""
    import zmq.auth

    name: str = args.name
    if not name or "/" in name or name in (".", ".."):
        print(f"{_PROG} keys: bad NAME {shown(name)}", file=sys.stderr)
        return EXIT_USAGE
    control = first_control(name)
    if (
        control is not None
    ):  # a newline in a file name reads as two names to `ls` and scripts
        print(
            f"{_PROG} keys: bad NAME {shown(name)}: it holds a control character "
            f"(U+{ord(control):04X}); a key file's name is printable text without /",
            file=sys.stderr,
        )
        return EXIT_USAGE
    longest = len(os.fsencode(f"{name}.key_secret"))
    if longest > _NAME_MAX:  # the file system refuses the name (ENAMETOOLONG)
        print(
            f"{_PROG} keys: NAME {shown(name)} is too long: NAME.key_secret takes "
            f"{longest} bytes, a file name at most {_NAME_MAX}",
            file=sys.stderr,
        )
        return EXIT_USAGE
    folder = Path(args.dir)
    if folder.exists() and not folder.is_dir():  # mkdir would say "File exists"
        print(f"{_PROG} keys: {folder}: not a directory", file=sys.stderr)
        return EXIT_USAGE
    public, secret = folder / f"{name}.key", folder / f"{name}.key_secret"
    existing = [str(path) for path in (public, secret) if path.exists()]
    if existing:
        print(
            f"{_PROG} keys: refusing to overwrite {', '.join(existing)}",
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
            f"{_PROG} keys: cannot write to {folder}: {exc.strerror}", file=sys.stderr
        )
        return EXIT_USAGE
    finally:
        os.umask(old_umask)
    print(f"public: {public_path}")
    print(f"secret: {secret_path}")
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `raspy`; returns the exit status."""
    chosen: list[str] = []  # an unforeseen error in a command is headed by it too
    return guarded(lambda: chosen[-1] if chosen else _PROG, lambda: _main(argv, chosen))


def _main(argv: Sequence[str] | None, chosen: list[str]) -> int:
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    # every line is headed `raspy COMMAND:`, as argparse heads a usage error
    prefix = " ".join([_PROG, args.command, getattr(args, "scenario_command", "")])
    prefix = prefix.rstrip()
    chosen.append(prefix)
    if unknown:  # argparse would head it `raspy:`, the top parser's name
        parser.exit(
            EXIT_USAGE, f"{prefix}: unrecognized arguments: {' '.join(unknown)}\n"
        )
    if args.command == "call":
        try:
            check_curve_pair(args)
        except CurveOptionError as exc:
            parser.exit(EXIT_USAGE, f"{prefix}: {exc}\n")
    # retries are the client's business: one line at the end (structlog is loaded
    # at the client's first event, if any: most commands log none)
    configure_later("error")
    import zmq  # the hub's client: not loaded to parse (`raspy --help`)

    try:
        status: int = args.run(args)
        flush_stdout()
    except KeyboardInterrupt:
        print(f"{prefix}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except ClientTimeout as exc:
        print(f"{prefix}: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except UnicodeEncodeError as exc:
        words = sys.argv[1:] if argv is None else argv
        print(f"{prefix}: {not_utf8(exc, words)}", file=sys.stderr)
        return EXIT_USAGE
    except (ValueError, zmq.ZMQError) as exc:
        print(f"{prefix}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:  # `raspy call … | head -1`: the reader left
        return reader_left()
    except OSError as exc:  # each command says its own: what is left is stdout's
        return stdout_failed(prefix, exc)
    return status


if __name__ == "__main__":
    sys.exit(main())
