"""raspy-kv check: every record of a store verified (storage.check), from one read
txn; the problems on stdout, one a line, then the report line. With --drop DB KEY,
that record is removed first (raspy.cli.kv_drop). A record raspyd starts on but
restore refuses has its line end with that --drop command, as dump's and backup's
refusal does; an unreadable one does not: raspyd refuses that store, and its way
out is the restore of a backup (docs/recovery.md)."""

from __future__ import annotations

import argparse
import sys
import time

from raspy.cli import EXIT_OK
from raspy.cli.kv_drop import drop, drop_command, parse_drop
from raspy.cli.kv_lines import EXIT_DATA, command_prog, stdout_errors
from raspy.cli.kv_store import Progress, open_readonly, records, report
from raspy.storage.check import Checker, Problem
from raspy.storage.tables import Table


def check(args: argparse.Namespace) -> int:
    started = time.monotonic()
    if args.drop is not None:  # first: the check then says what is left
        table, key = parse_drop(*args.drop)
        dropped = drop(args.data_dir, table, key)
        with stdout_errors():
            print(f"{command_prog('check')}: {dropped}")
    store = open_readonly(args.data_dir)
    checker = Checker()
    try:
        with store.walked_view() as view:
            progress = Progress("check", sum(view.count(t) for t in Table))
            for table in Table:
                for key, value in records(view, table):
                    checker.feed(table, key, value)
                    progress.step()
            progress.close()
    finally:
        store.close()
    problems = checker.finish()
    total = sum(checker.counts.values())
    count = len(problems)
    verdict = f"{count} problem{'' if count == 1 else 's'}" if problems else "ok"
    with stdout_errors():
        for problem in problems:
            print(_said(problem, args.data_dir))
        report(
            "check",
            # one db more than a dump names: the schema's, which its header carries
            f"checked {total} records in {len(Table)} dbs (the schema's too):"
            f" {verdict}",
            started,
            sys.stdout,
        )
    return EXIT_DATA if problems else EXIT_OK


def _said(problem: Problem, data_dir: str) -> str:
    """A problem's line; for a record restore refuses, the command that drops it."""
    if problem.key is None or not problem.served:
        return str(problem)
    command = drop_command(data_dir, problem.table, problem.key)
    return f"{problem}; stop raspyd and drop it from the store: `{command}`"
