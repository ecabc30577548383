"""raspy-kv: dump, restore, check and back up the store of a data dir.

Exit status: 0 ok, 1 data problem (or the data dir is in use), 2 usage error.
Every line a command says begins with `raspy-kv COMMAND:` (`raspy-kv backup: …`), as
argparse's usage errors for it do and as `raspy`'s sub-commands say theirs (`raspy
device: …`); only what is said before a command is chosen begins with `raspy-kv:`.
This module is the parser and the dispatch: sub-commands set `run` (args -> exit
status) with set_defaults. The store commands are kv_dump, kv_restore, kv_check and
kv_backup (what they share: kv_store); the live commands of raspy.cli.kv_live (ls,
get, set, del, watch) are added when that module exists.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable
from typing import Any

from raspy import log as log_mod
from raspy.cli import (
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    kv_backup,
    kv_check,
    kv_dump,
    kv_restore,
    reader_left,
    version_line,
)
from raspy.cli.arguments import (
    count_argument,
    data_dir_argument,
    path_argument,
    refuse_before_command,
)
from raspy.cli.kv_store import EXIT_DATA, Failure, command_prog
from raspy.cli.last_resort import guarded
from raspy.cli.usage_parser import UsageParser
from raspy.errors import StoreError
from raspy.storage.tables import DATA_TABLES


def _add_live_commands(subparsers: Any) -> None:
    try:
        live = importlib.import_module("raspy.cli.kv_live")
    except ModuleNotFoundError as exc:
        if exc.name != "raspy.cli.kv_live":
            raise
        return
    live.add_live_commands(subparsers)


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
    dump.set_defaults(run=kv_dump.dump)

    restore = commands.add_parser("restore", help="write a dump back, all or nothing")
    restore.add_argument(
        "--data-dir",
        required=True,
        type=data_dir_argument,
        help="the store's directory",
    )
    restore.add_argument(
        "file", metavar="FILE", help="a file written by dump; - reads stdin"
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
    restore.set_defaults(run=kv_restore.restore)

    check = commands.add_parser("check", help="verify every record (works live)")
    check.add_argument(
        "--data-dir",
        required=True,
        type=data_dir_argument,
        help="the store's directory",
    )
    check.set_defaults(run=kv_check.check)

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
        default=kv_backup.KEEP,
        metavar="N",
        help="backups of this kind (full, or --no-history) kept, the new one"
        f" included (default {kv_backup.KEEP})",
    )
    backup.add_argument(
        "--no-history",
        action="store_true",
        help="leave out the recorded values (the bulk of a store after years: "
        "~10 MB a logged sensor); for a backup on the SD card. Named"
        " raspy-<time>-nohistory.dump, and kept apart from the full ones",
    )
    backup.set_defaults(run=kv_backup.backup)

    _add_live_commands(commands)
    return parser


def run(argv: list[str] | None = None, chosen: list[str] | None = None) -> int:
    """The command without logging setup (for tests); returns the exit status.
    `chosen` is given the head of the command's lines once it is parsed."""
    try:
        args = _build_parser().parse_args(argv)
    except SystemExit as exc:  # argparse: usage error (2) or --help (0)
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    command: Callable[[argparse.Namespace], int] = args.run
    prog = command_prog(args.command)
    if chosen is not None:
        chosen.append(prog)
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


def main(argv: list[str] | None = None) -> int:
    """Entry point: results are printed; a failure is one line on stderr."""
    # One line at the end, nothing before it: a client's retries are warnings, and a
    # store write that failed (a full disk under a restore) an error event of the
    # writer's, which the command's own line says again
    log_mod.configure("critical")
    chosen: list[str] = []  # an unforeseen error in a command is headed by it too
    return guarded(
        lambda: chosen[-1] if chosen else "raspy-kv", lambda: run(argv, chosen)
    )


if __name__ == "__main__":
    raise SystemExit(main())
