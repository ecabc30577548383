"""raspy-poller: a device service and its pollers on another host, joined to a hub.

    raspy-poller --connect tcp://HUB:PORT-BASE --service onewire|fake
                 [--config FILE] [--hostname NAME] [--data-dir DIR]

The service answers `<hostname>.<service>.devices` as an external MDP worker of the
hub (port N) and publishes readings as Clone KVSETs to the hub's collector (N+3),
so several boards make one tree. The Clone client waits until the collector listens
(docs/protocols.md §1.6) and resends until the hub publishes each update (§6.4). Once
it has the hub's copy of its subtree, the readings of devices no longer here are
deleted, and at the first copy (before any reading goes) simulated outputs take the
values the hub kept for them, as raspyd's own do at a restart; after a loss of the
hub every reading is sent again in full (the hub marks the readings of a board it
has not heard for `[devices] offline_after_s` offline).
SIGTERM or SIGINT ends it cleanly (exit 0): the worker's DISCONNECT starts the hub's
grace at once, and nothing is marked before it ends, so a restart costs no write;
the config is read at start only, and a SIGHUP (raspyd's reload), at any time
from the start of main on, is logged and changes nothing (`systemctl restart
raspy-poller` applies a changed one);
bad usage or config exits 2, and so does a hub that refuses this board's keys (or
wants keys it was not given), or one that runs under this board's hostname,
whatever the service (the names under it are the hub's). A hub that already has a live
worker of this board's service from another board, at start or later (two boards
with one hostname, raspy.cli.board_check), ends it with status 1 and a line naming
the clash.

With `--data-dir`, a device's `config` changed over MDP (a rename) is stored in this
board's own store, committed before the reply, and applied again at the next start,
as raspyd does for its own devices; without it the change lasts until the poller
stops. The store is written only at such a change, so it costs the SD card nothing
while the board just polls.
"""

from __future__ import annotations

import argparse
import signal
import sys

from raspy.cli import EXIT_USAGE, fail
from raspy.cli.last_resort import guarded
from raspy.cli.poller_config import build_parser, load_config
from raspy.cli.signals import SignalInbox
from raspy.errors import ConfigError
from raspy.library_log import configure_later

# What a board that starts needs (pykka, ZeroMQ, LMDB, structlog) is imported by
# raspy.cli.poller_run once the config is read and sound: `--help`, `--version`, a
# usage error and a refused config load none of it (a Pi Zero pays seconds for it).


def main(argv: list[str] | None = None) -> int:
    """Entry point of `raspy-poller`; what no check foresaw is one line and status 70
    (raspy.cli.last_resort), as for the other tools."""
    return guarded("raspy-poller", lambda: _main(argv))


def _main(argv: list[str] | None) -> int:
    # is_set(): asked to stop; a SIGHUP (raspyd reloads at it) is only noted: its
    # default action would end the board without a word, and systemd's
    # Restart=on-failure would not start it again. First of all: a SIGHUP while
    # the config is read or the store opened (a slow SD card) is noted too, and a
    # SIGTERM or SIGINT then stops the board before it starts anything (exit 0)
    stop = SignalInbox((signal.SIGTERM, signal.SIGINT), noted=(signal.SIGHUP,))
    try:
        return _start(build_parser().parse_args(argv), stop)
    finally:
        stop.close()


def _start(args: argparse.Namespace, stop: SignalInbox) -> int:
    # until poller_run sets logging up from the config: a library's `logging`
    # record, or a client's event, sets it up from the flags first (not Python's
    # bare "last resort" line)
    configure_later(args.log_level or "info", args.log_format or "auto")
    try:
        cfg, registry, hostname = load_config(args)
        warnings: list[str] = []  # said once logging is set up
        curve = None
        if args.server_key is not None or args.client_cert is not None:
            from raspy.transport.curve import client_keys  # CURVE only with keys

            curve = client_keys(args.server_key, args.client_cert, warn=warnings.append)
    except (ConfigError, ValueError) as exc:
        return fail("raspy-poller", str(exc), EXIT_USAGE)
    from raspy.cli import poller_run

    return poller_run.start(args, cfg, registry, hostname, curve, warnings, stop)


if __name__ == "__main__":
    sys.exit(main())
