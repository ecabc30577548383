"""Options and argparse types shared by the command-line tools: a bad value is one
usage line, and every tool that talks to the hub spells its options the same way."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import unicodedata
from collections.abc import Iterator, Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Final

from raspy.cli.endpoints import endpoint_argument
from raspy.errors import ClientTimeout, ConfigError, shown
from raspy.names import NAME_SEGMENT
from raspy.port_base import DEFAULT_PORT_BASE

if TYPE_CHECKING:
    from raspy.transport.sockets import CurveKeys

DEFAULT_SERVER: Final = f"tcp://127.0.0.1:{DEFAULT_PORT_BASE}"
DEFAULT_TIMEOUT_S: Final = 5.0


class CurveOptionError(ValueError):
    """--server-key/--client-cert unusable: the one line to print (exit status 2)."""


MAX_SECONDS: Final = 365 * 24 * 3600.0


def hub_silent_hint(curve: bool) -> str:
    """What a tool that heard nothing at all from the hub adds to its line: the
    usual causes, a hub not running at --server (`make run PORT_BASE=6514` and the
    tools' default port) and a hub with CURVE, which stays silent to a client it
    does not know, by design."""
    if curve:
        return (
            " (is raspyd running there, is --server-key its public key, and is this"
            " client's public key in its [security] authorized_keys_dir?)"
        )
    return (
        " (is raspyd running there? --server HOST:PORT names another hub or port"
        " base; a hub with CURVE answers only with --server-key and --client-cert)"
    )


def first_control(text: str) -> str | None:
    """The first control character (Unicode Cc: a newline, ESC) in `text`, if any."""
    return next((char for char in text if unicodedata.category(char) == "Cc"), None)


@contextlib.contextmanager
def silence_hinted(curve: bool) -> Iterator[None]:
    """A ClientTimeout raised inside, the hub's silence, with hub_silent_hint added."""
    try:
        yield
    except ClientTimeout as exc:
        raise ClientTimeout(f"{exc}{hub_silent_hint(curve)}") from None


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


def path_argument(text: str) -> str:
    """A file or folder name (--data-dir, --config): never empty. An empty one (an
    unset shell variable, `--data-dir "$DIR"`) would mean the current folder, where
    raspyd would make a store and set the folder's mode to 0700."""
    if not text:
        raise argparse.ArgumentTypeError("expected a path, got an empty one")
    return text


def not_a_folder(path: str) -> str | None:
    """Why `path` cannot be a folder: it, or the nearest part of it that exists, is
    a file or a device (mkdir would say "File exists" or "Not a directory"); None
    if it can."""
    # os.path's tests, not Path's: under a folder the user may not open, Path's
    # raise PermissionError (Python 3.11); the walk goes on up to one it can see,
    # and the mkdir or open later says what is wrong
    for part in (Path(path), *Path(path).parents):
        if os.path.isdir(part):
            return None
        if os.path.lexists(part):
            head = "" if part == Path(path) else f"{path}: "
            what = "a file, not a folder" if os.path.isfile(part) else "not a folder"
            return f"{head}{part} is {what}"
    return None


def data_dir_argument(text: str) -> str:
    """--data-dir: a path (path_argument) that is, or can be made, a folder."""
    problem = not_a_folder(path_argument(text))
    if problem is not None:
        raise argparse.ArgumentTypeError(problem)
    return text


def bind_argument(text: str) -> str:
    """raspyd --bind: what [network] bind takes, said of the option (it was said
    of `<defaults>:`); an empty one (an unset variable) was loopback, unsaid."""
    from raspy.config_checks import BIND_ADDRESS

    if not text:
        raise argparse.ArgumentTypeError("expected an address, got an empty one")
    if not BIND_ADDRESS.fullmatch(text):
        raise argparse.ArgumentTypeError(
            f"expected an IP address, a host or interface name, or *, got {shown(text)}"
        )
    return text


def host_argument(text: str) -> str:
    """--host NAME (the hub's <hostname> in service names): never empty. An empty
    one (`--host "$HUB"` with HUB unset) meant this machine's name, unsaid."""
    if not text:
        raise argparse.ArgumentTypeError("expected a host name, got an empty one")
    return text


def hostname_argument(text: str) -> str:
    """--hostname NAME (this process's <hostname>): what the config's `hostname`
    takes, said of the option; empty was this machine's name, unsaid."""
    if not text:
        raise argparse.ArgumentTypeError("expected a host name, got an empty one")
    if not NAME_SEGMENT.fullmatch(text):
        raise argparse.ArgumentTypeError(
            "expected 1-64 ASCII letters, digits, '_' or '-', starting with a letter "
            f"or digit, got {shown(text)}"
        )
    return text


def _default(value: object, given_only: bool) -> object:
    """`value`, or argparse.SUPPRESS for an option that sets its attribute only when
    given: one a nested sub-command repeats from its group (`raspy scenario --server
    X import`), since argparse copies a sub-command's defaults over the values the
    group's options set."""
    return argparse.SUPPRESS if given_only else value


def add_server_option(
    parser: argparse.ArgumentParser, *, given_only: bool = False
) -> None:
    """--server: the broker endpoint, checked before any socket sees it."""
    parser.add_argument(
        "--server",
        type=endpoint_argument,
        default=_default(DEFAULT_SERVER, given_only),
        help=f"broker endpoint (default {DEFAULT_SERVER})",
    )


def add_curve_options(
    parser: argparse.ArgumentParser,
    *,
    owner: str = "this client's",
    given_only: bool = False,
) -> None:
    """--server-key and --client-cert (see client_curve for the pairing check)."""
    parser.add_argument(
        "--server-key",
        metavar="FILE",
        type=path_argument,
        default=_default(None, given_only),
        help="the hub's public certificate (NAME.key): talk CURVE to it",
    )
    parser.add_argument(
        "--client-cert",
        metavar="FILE",
        type=path_argument,
        default=_default(None, given_only),
        help=f"{owner} secret certificate (NAME.key_secret); with --server-key",
    )


HUB_OPTION_DEFAULTS: Final[dict[str, object]] = {
    "server": DEFAULT_SERVER,
    "host": None,
    "timeout": DEFAULT_TIMEOUT_S,
    "server_key": None,
    "client_cert": None,
}


def add_host_option(
    parser: argparse.ArgumentParser, *, given_only: bool = False, more_help: str = ""
) -> None:
    """--host NAME, default None (this machine's name: raspy.names.short_hostname)."""
    parser.add_argument(
        "--host",
        metavar="NAME",
        type=host_argument,
        default=_default(None, given_only),
        help="the hub's host name in service names (default: this machine's)"
        + more_help,
    )


def under_host(name: str, host: str | None) -> str:
    """A service or device name that begins with `.` (`.echo`, `.fake.lamp`) under
    the hub's host name (--host, else this machine's); any other as it is, since no
    name part begins with a dot (raspy.names.NAME_SEGMENT)."""
    from raspy.names import short_hostname

    return f"{host or short_hostname()}{name}" if name.startswith(".") else name


def add_hub_options(
    parser: argparse.ArgumentParser,
    *,
    timeout_help: str = "seconds to wait for each reply",
    given_only: bool = False,
) -> None:
    """The options of a command that asks a hub service: --server, --host,
    --timeout, and the CURVE pair (defaults: HUB_OPTION_DEFAULTS). `given_only`
    for a nested sub-command that repeats its group's (see _default)."""
    add_server_option(parser, given_only=given_only)
    add_host_option(parser, given_only=given_only)
    parser.add_argument(
        "--timeout",
        type=seconds_argument,
        default=_default(DEFAULT_TIMEOUT_S, given_only),
        metavar="S",
        help=f"{timeout_help} (default {DEFAULT_TIMEOUT_S:g})",
    )
    add_curve_options(parser, given_only=given_only)


def hub_options_set(args: argparse.Namespace) -> list[str]:
    """The hub options whose value is not their default (for a command that takes
    none, but whose group does): as written on the command line."""
    return [
        "--" + dest.replace("_", "-")
        for dest, default in HUB_OPTION_DEFAULTS.items()
        if getattr(args, dest, default) != default
    ]


class _AfterCommand(argparse.Action):
    """A sub-command's option given before COMMAND: said in one line, where argparse
    would take its value for the command (`invalid choice: 'tcp://…'`)."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: object,
        option_string: str | None = None,
    ) -> None:
        parser.error(
            f"{option_string} goes after the command "
            f"({parser.prog} COMMAND {option_string} …)"
        )


def refuse_before_command(parser: argparse.ArgumentParser, *options: str) -> None:
    """Make `options`, which only the sub-commands take, a clear usage error on the
    top-level parser (hidden from its help)."""
    for option in options:
        parser.add_argument(
            option,
            nargs="?",
            action=_AfterCommand,
            default=argparse.SUPPRESS,
            dest=f"before_command{option.replace('-', '_')}",
            help=argparse.SUPPRESS,
        )


def check_curve_pair(args: argparse.Namespace) -> None:
    """CurveOptionError unless --server-key and --client-cert are both given or
    neither is."""
    if (args.server_key is None) != (args.client_cert is None):
        raise CurveOptionError("--server-key and --client-cert go together")


def client_curve(args: argparse.Namespace, prog: str) -> CurveKeys | None:
    """The client's CurveKeys from --server-key/--client-cert (None: plain text);
    CurveOptionError names a lone option or a missing or bad certificate file. A
    hub's secret certificate as --server-key is a warning line headed `prog`."""
    check_curve_pair(args)
    if args.server_key is None:
        return (
            None  # plain text: neither zmq.auth nor structlog (raspy.transport.curve)
        )
    from raspy.transport.curve import client_keys  # zmq.auth: only when asked

    try:
        return client_keys(
            args.server_key, args.client_cert, warn=partial(warn_line, prog)
        )
    except ConfigError as exc:
        raise CurveOptionError(str(exc)) from None


def warn_line(prog: str, line: str) -> None:
    """A warning on stderr, where the tools say what they do not refuse."""
    print(f"{prog}: warning: {line}", file=sys.stderr)


def require_utf8(*texts: str) -> None:
    """Arguments checked before a request is built of them: UnicodeEncodeError for
    one whose bytes are not UTF-8 (raspy's one line, near it), which JSON would
    otherwise send to the hub as `\\udcff`."""
    for text in texts:
        text.encode("utf-8")


def not_utf8(exc: UnicodeEncodeError, words: Sequence[str] = ()) -> str:
    """The line for an argument whose bytes are not UTF-8 (the shell passes them as
    they are, Python holds them as surrogates): what and near which text. Of
    `words` (the command line) the first such is shown: the text that failed may be
    the request the command built of it (`raspy scenario show`'s JSON)."""
    for word in words:
        try:
            word.encode("utf-8")
        except UnicodeEncodeError as in_word:
            exc = in_word
            break
    near = exc.object[max(0, exc.start - 16) : exc.end + 16]
    return f"an argument is not UTF-8 text (near {shown(near)})"
