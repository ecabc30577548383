"""`raspy web-token` and `raspy web-password`: the web face's two logins.

web-token makes a new random token, prints it once and keeps only its scrypt hash in
the data dir (file `web-token`, 0600; the previous token stops working). With
--if-none (what `make run` runs at every start) it makes one only for a data dir that
has none, and none while another process holds the data dir: a second `make run`
beside a running one must not log out the browsers of the first. It looks and
writes holding the data dir's lock itself (freed before raspyd starts), so two
first `make run`s at once make one token. web-password
reads a password (twice on a terminal, else one line of standard input) and writes
its hash to FILE for `[http] password_hash_file`.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from pathlib import Path
from typing import Any, Final

from raspy.cli import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, closed_stdout, reader_left
from raspy.cli.arguments import path_argument
from raspy.errors import StoreBeingReadError, StoreError, StoreLockedError

# The hashing (hashlib, hmac, secrets: OpenSSL), the data dir's lock and the login
# files are imported by the two commands that use them: every other `raspy` command
# builds this parser too, and is a process of its own that pays each import.

_PROG = "raspy"
MIN_PASSWORD_CHARS = 8


def add_parsers(commands: Any) -> None:
    """Add both sub-commands to `raspy`'s sub-parsers."""
    token = commands.add_parser(
        "web-token",
        help="make a new login token for the web face",
        description="Print a new web login token; its hash goes to DATA_DIR/web-token "
        "(0600). The previous token stops working.",
    )
    token.add_argument(
        "--data-dir",
        default="var/raspy",
        type=path_argument,
        help="raspyd's data dir (default var/raspy)",
    )
    token.add_argument(
        "--if-none",
        action="store_true",
        help="make one only when DATA_DIR has none (else print nothing: the token "
        "made before still works), and never while a raspyd runs on DATA_DIR",
    )
    token.set_defaults(run=_token)
    password = commands.add_parser(
        "web-password",
        help="hash a web password into FILE ([http] password_hash_file)",
        description="Read a password (asked twice on a terminal, else one line of "
        "standard input) and write its scrypt hash to FILE (0600).",
    )
    password.add_argument(
        "file", metavar="FILE", type=path_argument, help="where the hash goes"
    )
    password.set_defaults(run=_password)


# where the token goes: a newcomer outside the clone, or on the service, is told
_DATA_DIR_HINT: Final = (
    " (--data-dir names raspyd's data dir: var/raspy under make run, run from the"
    " clone; /var/lib/raspy for the service)"
)


def _token(args: argparse.Namespace) -> int:
    from raspy.storage.lock import DataDirLock
    from raspy.web.login_files import token_path

    path = token_path(args.data_dir)
    if os.path.exists(args.data_dir) and not os.path.isdir(args.data_dir):
        # said as it is: mkdir's own word for it is "File exists"
        print(f"{_PROG} web-token: {args.data_dir}: not a directory", file=sys.stderr)
        return EXIT_USAGE
    if not os.path.isdir(args.data_dir) and not os.path.isdir(
        os.path.dirname(os.path.abspath(args.data_dir))
    ):  # write_private makes the data dir, never the folders above it
        print(
            f"{_PROG} web-token: cannot write {path}: No such file or directory"
            f"{_DATA_DIR_HINT}",
            file=sys.stderr,
        )
        return EXIT_USAGE
    if sys.stdout is None:  # closed (`>&-`): print() writes nowhere, raises nothing
        print(
            f"{_PROG} web-token: "
            + closed_stdout("nobody would see the token (the one in use stays valid)"),
            file=sys.stderr,
        )
        return EXIT_USAGE
    if not args.if_none:
        return _new_token(path, args.if_none)
    try:  # made only for a data dir that has none: looked at and written under
        # its lock, so two first `make run`s at once make one token, not two
        Path(args.data_dir).mkdir(mode=0o700, exist_ok=True)
        lock = DataDirLock(Path(args.data_dir), holder="raspy web-token")
    except StoreBeingReadError as exc:  # no raspyd: a raspy-kv reads the data dir
        print(
            f"{_PROG} web-token: {exc}: no token made; let that raspy-kv end, then"
            " run web-token again",
            file=sys.stderr,
        )
        return EXIT_USAGE
    except StoreLockedError as exc:  # its token is the one its browsers logged in with
        print(
            f"{_PROG} web-token: {exc}: no token made (the one in use stays valid)",
            file=sys.stderr,
        )
        return EXIT_USAGE
    except StoreError as exc:  # its lock file: named with the OS's words
        print(f"{_PROG} web-token: {exc}: no token made", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:
        print(
            f"{_PROG} web-token: cannot write {path}: {exc.strerror}", file=sys.stderr
        )
        return EXIT_USAGE
    try:
        if os.path.lexists(path):  # only its hash is kept: the token itself is not here
            return EXIT_OK
        return _new_token(path, args.if_none)
    finally:
        lock.release()  # before raspyd, which takes it, starts


def _new_token(path: Path, if_none: bool) -> int:
    from raspy.web.login import hash_secret, new_token
    from raspy.web.login_files import write_private

    token = new_token()
    # shown before it is stored: a token nobody saw (stdout closed or full) must not
    # take the place of the one that works
    try:
        print(token, flush=True)
    except BrokenPipeError:
        return reader_left()
    except OSError as exc:
        print(f"{_PROG} web-token: cannot print it: {exc.strerror}", file=sys.stderr)
        return EXIT_FAILURE
    try:
        write_private(path, hash_secret(token).line() + "\n")
    except OSError as exc:
        print(
            f"{_PROG} web-token: cannot write {path}: {exc.strerror} "
            "(that token is not valid)",
            file=sys.stderr,
        )
        return EXIT_USAGE
    if not if_none:  # with it, the caller says what the token is for
        print(
            f"{_PROG} web-token: its hash is in {path}; log in with it",
            file=sys.stderr,
        )
    return EXIT_OK


def _read_password() -> str | None:
    if sys.stdin is None:  # closed by the caller (`<&-`): Python leaves it None
        print(
            f"{_PROG} web-password: stdin is closed: type the password on a "
            "terminal, or pipe it in",
            file=sys.stderr,
        )
        return None
    if sys.stdin.isatty():
        try:
            first = getpass.getpass("web password: ")
            again = getpass.getpass("again: ")
        except EOFError:  # Ctrl-D at a prompt: nothing (more) is typed
            print(f"{_PROG} web-password: no password typed (Ctrl-D)", file=sys.stderr)
            return None
        if again != first:
            print(f"{_PROG} web-password: the two differ", file=sys.stderr)
            return None
        password = first
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    try:
        password.encode("utf-8")  # bytes that are not UTF-8 arrive as surrogates
    except UnicodeEncodeError:
        # never shown, not even in part: it is a secret
        print(f"{_PROG} web-password: the password is not UTF-8 text", file=sys.stderr)
        return None
    return password


def _password(args: argparse.Namespace) -> int:
    from raspy.web.login import MAX_SECRET_CHARS, hash_secret
    from raspy.web.login_files import write_private

    password = _read_password()
    if password is None:
        return EXIT_USAGE
    if not MIN_PASSWORD_CHARS <= len(password) <= MAX_SECRET_CHARS:
        print(
            f"{_PROG} web-password: expected {MIN_PASSWORD_CHARS}.."
            f"{MAX_SECRET_CHARS} characters, got {len(password)}",
            file=sys.stderr,
        )
        return EXIT_USAGE
    path = Path(args.file)
    try:
        write_private(path, hash_secret(password).line() + "\n", make_folder=False)
    except OSError as exc:
        print(
            f"{_PROG} web-password: cannot write {path}: {exc.strerror}",
            file=sys.stderr,
        )
        return EXIT_USAGE
    print(f"{_PROG} web-password: hash written to {path}", file=sys.stderr)
    return EXIT_OK
