"""raspy-kv: dump, restore, check and back up the store of a data dir.

Exit status: 0 ok, 1 data problem (or the data dir is in use), 2 usage error.
Every line a command says begins with `raspy-kv COMMAND:` (`raspy-kv backup: …`), as
argparse's usage errors for it do and as `raspy`'s sub-commands say theirs (`raspy
device: …`); only what is said before a command is chosen begins with `raspy-kv:`.
This module is the parser and the dispatch: sub-commands set `run` (args -> exit
status) with set_defaults, the chosen one's module imported only then (_later). The
store commands are kv_dump, kv_restore, kv_check and kv_backup (what they share:
kv_store); the live commands (ls, get, set, del, watch) are raspy.cli.kv_live's;
what all of them share is raspy.cli.kv_lines.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable
from typing import Any, Final

from raspy.cli import EXIT_INTERRUPTED, EXIT_USAGE, reader_left, version_line
from raspy.cli.arguments import (
    count_argument,
    data_dir_argument,
    path_argument,
    refuse_before_command,
    seconds_argument,
)
from raspy.cli.kv_lines import EXIT_DATA, Failure, command_prog
from raspy.cli.last_resort import guarded
from raspy.cli.usage_parser import UsageParser
from raspy.errors import StoreError
from raspy.library_log import configure_later
from raspy.storage.tables import DATA_TABLES

KEEP: Final = 7  # backups kept by default: a week of daily ones
DEFAULT_SERVER: Final = "127.0.0.1:5514"


def _later(module: str, name: str = "run") -> Callable[[argparse.Namespace], int]:
    """A command's run, imported once it is the one chosen: a live command (ls, get,
    set, del, watch) does not load the store and LMDB, a store command (dump,
    restore, check, backup) not the client and ZeroMQ. Each is a process of its
    own, and a Pi pays every import again at each one."""

    def run(args: argparse.Namespace) -> int:
        command = getattr(importlib.import_module(f"raspy.cli.{module}"), name)
        status: int = command(args)
        return status

    return run


def _add_live_commands(subparsers: Any) -> None:
    """Add ls, get, set, del and watch (raspy.cli.kv_live) to the sub-commands."""
    specs = [
        ("ls", "list the keys under SUBTREE and their values", "subtree"),
        ("get", "print the value of KEY", "key"),
        ("set", "set KEY to VALUE and wait until it is published", "key"),
        ("del", "delete KEY and wait until it is published", "key"),
        ("watch", "print every change under SUBTREE until Ctrl-C", "subtree"),
    ]
    for name, help_text, operand in specs:
        parser = subparsers.add_parser(name, help=help_text)
        if operand == "subtree":
            parser.add_argument("subtree", nargs="?", default="", metavar="SUBTREE")
        else:
            parser.add_argument("key", metavar="KEY")
        if name == "set":
            parser.add_argument("value", metavar="VALUE")
            parser.add_argument(
                "--ttl", type=seconds_argument, metavar="SECONDS", help="ephemeral"
            )
        if name == "del":
            parser.add_argument(
                "--subtree",
                action="store_true",
                help="delete every key that starts with KEY (a retired board's "
                "readings: /device/<host>.<svc>.); says how many and asks first",
            )
            parser.add_argument(
                "--yes",
                action="store_true",
                help="with --subtree: delete without asking (needed without a "
                "terminal, and always for the whole tree, /)",
            )
        if name == "watch":
            parser.add_argument(
                "--count", type=count_argument, metavar="N", help="stop after N changes"
            )
        parser.add_argument(
            "--server",
            default=DEFAULT_SERVER,
            metavar="HOST:PORT-BASE",
            help=f"raspyd's port base (default {DEFAULT_SERVER})",
        )
        parser.add_argument(
            "--timeout",
            type=seconds_argument,
            default=5.0,
            metavar="SECONDS",
            help="default 5",
        )
        parser.add_argument(
            "--server-key",
            metavar="FILE",
            type=path_argument,
            help="the hub's public certificate (CURVE)",
        )
        parser.add_argument(
            "--client-cert",
            metavar="FILE",
            type=path_argument,
            help="this client's secret certificate; with --server-key",
        )
        parser.set_defaults(run=_later("kv_live"), live_command=name)


def _build_parser() -> argparse.ArgumentParser:
    parser = UsageParser(
        prog="raspy-kv",
        description="Dump, restore, check and back up a raspy store (offline or live).",
    )
    parser.add_argument("--version", action="version", version=version_line("raspy-kv"))
    # the store commands take --data-dir, the live ones the rest: after COMMAND
    refuse_before_command(
        parser, "--data-dir", "--server", "--timeout", "--server-key", "--client-cert"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    names = [t.value for t in DATA_TABLES]

    dump = commands.add_parser("dump", help="write the store as text (works live)")
    dump.add_argument(
        "--data-dir",
        required=True,
        type=data_dir_argument,
        help="the store's directory",
    )
    dump.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        type=path_argument,
        help="default (and -): stdout",
    )
    dump.add_argument(
        "--db",
        nargs="+",
        action="extend",
        choices=names,
        metavar="NAME",
        help="only these",
    )
    dump.set_defaults(run=_later("kv_dump", "dump"))

    restore = commands.add_parser("restore", help="write a dump back, all or nothing")
    restore.add_argument(
        "--data-dir",
        required=True,
        type=data_dir_argument,
        help="the store's directory",
    )
    restore.add_argument(
        "file",
        metavar="FILE",
        type=path_argument,
        help="a file written by dump; - reads stdin",
    )
    restore.add_argument(
        "--replace", action="store_true", help="first empty the dbs the dump holds"
    )
    restore.add_argument(
        "--ignore-checksum", action="store_true", help="accept a hand-edited dump"
    )
    restore.add_argument(
        "--config",
        metavar="FILE",
        type=path_argument,
        help="raspyd's config: its [store] limits (max_value_bytes, map size) apply",
    )
    restore.set_defaults(run=_later("kv_restore", "restore"))

    check = commands.add_parser("check", help="verify every record (works live)")
    check.add_argument(
        "--data-dir",
        required=True,
        type=data_dir_argument,
        help="the store's directory",
    )
    check.add_argument(
        "--drop",
        nargs=2,
        metavar=("DB", "KEY"),
        help="raspyd stopped: first remove the record DB KEY, one that restore"
        " refuses, named as dump, backup and check name it (kv 'KTHXBAI')",
    )
    check.set_defaults(run=_later("kv_check", "check"))

    backup = commands.add_parser(
        "backup", help="a dated, checked dump into a directory; keeps the last N"
    )
    backup.add_argument(
        "--data-dir",
        required=True,
        type=data_dir_argument,
        help="the store's directory",
    )
    backup.add_argument(
        "--to",
        required=True,
        type=path_argument,
        metavar="BACKUP_DIR",
        help="an existing directory outside the data dir (a USB stick, a NAS mount)",
    )
    backup.add_argument(
        "--keep",
        type=count_argument,
        default=KEEP,
        metavar="N",
        help="backups of this kind (full, or --no-history) kept, the new one"
        f" included (default {KEEP})",
    )
    backup.add_argument(
        "--no-history",
        action="store_true",
        help="leave out the recorded values (the bulk of a store after years: "
        "~10 MB a logged sensor); for a backup on the SD card. Named"
        " raspy-<time>-nohistory.dump, and kept apart from the full ones",
    )
    backup.set_defaults(run=_later("kv_backup", "backup"))

    _add_live_commands(commands)
    return parser


def run(
    argv: list[str] | None = None,
    chosen: list[str] | None = None,
    log_setup: Callable[[argparse.Namespace], None] | None = None,
) -> int:
    """The command, without logging setup unless `log_setup` (tests leave it out);
    returns the exit status. `chosen` is given the head of the command's lines once
    it is parsed."""
    try:
        args, unknown = _build_parser().parse_known_args(argv)
    except SystemExit as exc:  # argparse: usage error (2) or --help (0)
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    command: Callable[[argparse.Namespace], int] = args.run
    prog = command_prog(args.command)
    if unknown:  # argparse would head it `raspy-kv:`, the top parser's name
        print(f"{prog}: unrecognized arguments: {' '.join(unknown)}", file=sys.stderr)
        return EXIT_USAGE
    if chosen is not None:
        chosen.append(prog)
    if log_setup is not None:
        log_setup(args)
    try:
        return command(args)
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Failure as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return exc.status
    except StoreError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return EXIT_DATA
    except BrokenPipeError:  # e.g. `raspy-kv dump ... | head`: the reader left
        reader_left()
        return EXIT_DATA


def _log_setup(args: argparse.Namespace) -> None:
    """One line at the end, nothing before it: a client's retries are warnings, and a
    store write that failed (a full disk under a restore) an error event of the
    writer's, which the command's own line says again."""
    if getattr(args, "live_command", None):
        # only the client logs, and seldom: structlog is loaded at its first event
        configure_later("critical")
        return
    from raspy import log  # structlog: a store command's writer logs through it

    log.configure("critical")


def main(argv: list[str] | None = None) -> int:
    """Entry point: results are printed; a failure is one line on stderr."""
    chosen: list[str] = []  # an unforeseen error in a command is headed by it too
    return guarded(
        lambda: chosen[-1] if chosen else "raspy-kv",
        lambda: run(argv, chosen, _log_setup),
    )


if __name__ == "__main__":
    raise SystemExit(main())
