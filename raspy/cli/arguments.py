"""Options and argparse types shared by the command-line tools: a bad value is one
usage line, and every tool that talks to the hub spells its options the same way."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Final

from raspy.cli import EXIT_USAGE
from raspy.cli.endpoints import endpoint_argument
from raspy.config import DEFAULT_PORT_BASE
from raspy.errors import ConfigError, shown

if TYPE_CHECKING:
    from raspy.transport.sockets import CurveKeys

DEFAULT_SERVER: Final = f"tcp://127.0.0.1:{DEFAULT_PORT_BASE}"
DEFAULT_TIMEOUT_S: Final = 5.0


class UsageParser(argparse.ArgumentParser):
    """Usage errors in one line (`raspy call: argument --server: …`) and exit status
    2, as every tool of raspy says them (argparse prints the whole usage first)."""

    def error(self, message: str) -> None:  # type: ignore[override]  # argparse declares NoReturn
        self.exit(EXIT_USAGE, f"{self.prog}: {message}\n")


class CurveOptionError(ValueError):
    """--server-key/--client-cert unusable: the one line to print (exit status 2)."""


MAX_SECONDS: Final = 365 * 24 * 3600.0


def seconds_argument(text: str) -> float:
    """A duration in seconds, > 0 (e.g. --timeout)."""
    try:
        seconds = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected seconds, got {shown(text)}"
        ) from None
    if not 0 < seconds <= MAX_SECONDS:  # nan fails too; inf would overflow a poll
        raise argparse.ArgumentTypeError(
            f"expected seconds > 0, at most {MAX_SECONDS:.0f} (a year), got {shown(text)}"
        )
    return seconds


def count_argument(text: str) -> int:
    """A count, >= 1 (e.g. --retries, --count)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a count, got {shown(text)}"
        ) from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a count >= 1, got {shown(text)}")
    return value


def add_server_option(parser: argparse.ArgumentParser) -> None:
    """--server: the broker endpoint, checked before any socket sees it."""
    parser.add_argument(
        "--server",
        type=endpoint_argument,
        default=DEFAULT_SERVER,
        help=f"broker endpoint (default {DEFAULT_SERVER})",
    )


def add_curve_options(
    parser: argparse.ArgumentParser, *, owner: str = "this client's"
) -> None:
    """--server-key and --client-cert (see client_curve for the pairing check)."""
    parser.add_argument(
        "--server-key",
        metavar="FILE",
        help="the hub's public certificate (NAME.key): talk CURVE to it",
    )
    parser.add_argument(
        "--client-cert",
        metavar="FILE",
        help=f"{owner} secret certificate (NAME.key_secret); with --server-key",
    )


def add_hub_options(
    parser: argparse.ArgumentParser,
    *,
    timeout_help: str = "seconds to wait for each reply",
) -> None:
    """The options of a command that asks a hub service: --server, --host,
    --timeout, and the CURVE pair."""
    add_server_option(parser)
    parser.add_argument(
        "--host",
        metavar="NAME",
        help="the hub's host name in service names (default: this machine's)",
    )
    parser.add_argument(
        "--timeout",
        type=seconds_argument,
        default=DEFAULT_TIMEOUT_S,
        metavar="S",
        help=f"{timeout_help} (default {DEFAULT_TIMEOUT_S:g})",
    )
    add_curve_options(parser)


def check_curve_pair(args: argparse.Namespace) -> None:
    """CurveOptionError unless --server-key and --client-cert are both given or
    neither is."""
    if (args.server_key is None) != (args.client_cert is None):
        raise CurveOptionError("--server-key and --client-cert go together")


def client_curve(args: argparse.Namespace) -> CurveKeys | None:
    """The client's CurveKeys from --server-key/--client-cert (None: plain text);
    CurveOptionError names a lone option or a missing or bad certificate file."""
    from raspy.transport.curve import client_keys  # zmq.auth: only when asked

    check_curve_pair(args)
    try:
        return client_keys(args.server_key, args.client_cert)
    except ConfigError as exc:
        raise CurveOptionError(str(exc)) from None


def not_utf8(exc: UnicodeEncodeError) -> str:
    """The line for an argument whose bytes are not UTF-8 (the shell passes them as
    they are, Python holds them as surrogates): what and near which text."""
    near = exc.object[max(0, exc.start - 16) : exc.end + 16]
    return f"an argument is not UTF-8 text (near {shown(near)})"
