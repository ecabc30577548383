"""raspyd: the daemon's command line (composition root; the only place that wires it all)."""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import sys
from pathlib import Path
from typing import Final, NoReturn

import pykka
import structlog
import zmq

from raspy import heap, mqtt_password
from raspy import log as log_mod
from raspy.cli import (
    EXIT_FAILURE,
    EXIT_USAGE,
    bind_check,
    fail,
    flush_stdout,
    raspyd_config,
    reader_left,
    start_wait,
    stdout_failed,
    version_line,
)
from raspy.cli.arguments import (
    bind_argument,
    data_dir_argument,
    not_a_folder,
    path_argument,
)
from raspy.cli.last_resort import guarded
from raspy.cli.raspyd_serve import serve
from raspy.cli.signals import SignalInbox
from raspy.cli.usage_parser import UsageParser
from raspy.errors import (
    ConfigError,
    DataDirError,
    DataDirLockError,
    StoreBeingReadError,
    StoreDamagedError,
    StoreDeviceError,
    StoreError,
    StoreFullError,
    StoreLockedError,
    StoreNewerError,
    shown,
)
from raspy.sdnotify import Notifier
from raspy.storage.lock import in_use, lock_holder

# The supervisor pulls in every actor and core: imported where it is needed (in
# _main), so --help, --version, --print-config and --check-config answer without it,
# and so is a start refused for its config, its data dir or its ports
# (raspy.actors.config_check).


# the options that are no config's: every other one shapes the config (a later one
# too), and none goes with --markdown's reference
_NOT_CONFIG: Final = frozenset(
    {"help", "version", "markdown", "print_config", "check_config"}
)


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a port number, got {shown(text)}"
        ) from None
    if not 1 <= value <= 65532:
        raise argparse.ArgumentTypeError(f"expected 1..65532 (4 ports), got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = UsageParser(
        prog="raspyd",
        description="raspy hub: Majordomo broker, Titanic, Clone key-value tree, devices.",
    )
    parser.add_argument(
        "--data-dir", type=data_dir_argument, help="store directory (created 0700)"
    )
    parser.add_argument(
        "--port-base",
        type=_port,
        help="MDP port N; Clone uses N+1..N+3, the web face N+4 (default 5514)",
    )
    parser.add_argument(
        "--bind",
        type=bind_argument,
        help="address to listen on (default 127.0.0.1)",
    )
    parser.add_argument("--config", type=path_argument, help="TOML configuration file")
    parser.add_argument("--log-format", choices=("console", "json"))
    parser.add_argument("--log-level", choices=("debug", "info", "warning", "error"))
    parser.add_argument(
        "--allow-root", action="store_true", help="run even as root (not advised)"
    )
    parser.add_argument(
        "--init",
        action="store_true",
        help="start an empty store in a data dir whose data.mdb is missing or empty "
        "(refused without it: docs/recovery.md)",
    )
    parser.add_argument(
        "--check-config",
        metavar="FILE",
        type=path_argument,
        help="check FILE (with the other flags, not --config or --print-config) "
        "and exit: 0 fine, 2 every problem",
    )
    parser.add_argument(
        "--print-config",
        action="store_true",
        help="print the effective configuration as commented TOML and exit",
    )
    parser.add_argument(
        "--markdown",
        action="store_true",
        help="with --print-config (and no other option): the configuration "
        "reference in Markdown, the same for every config",
    )
    parser.add_argument("--version", action="version", version=version_line("raspyd"))
    return parser


def _print_config(args: argparse.Namespace) -> int:
    """`--print-config`: the effective configuration, or the reference (--markdown)."""
    from raspy import config_doc  # this option's only: not loaded by a start
    from raspy.config import RASPYD_UNUSED

    if args.markdown:
        print(config_doc.render_markdown(), end="")
        return 0
    try:
        cfg = raspyd_config.load_config(args)
    except ConfigError as exc:  # one problem a line, as the start says them
        return raspyd_config.config_failed(exc.problems, args.config or "<defaults>")
    source = args.config or "the defaults"
    print(
        config_doc.render_toml(
            cfg,
            f"raspyd's effective configuration: {source} and the flags "
            "([link], raspy-poller's, left out: raspyd ignores it).",
            left_out=RASPYD_UNUSED,
        ),
        end="",
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of `raspyd`; what no check foresaw is one line and status 70
    (raspy.cli.last_resort), as for the other tools. Once the daemon has started it
    does not return: the process ends at the end of its stop (_end)."""
    return guarded("raspyd", lambda: _main(argv))


def _flushed(status: int) -> int:
    """`status`, once stdout is written out (a reader that left is seen here)."""
    flush_stdout()
    return status


def _apart(parser: argparse.ArgumentParser, args: argparse.Namespace) -> str | None:
    """Why the options given do not go together, or None: each one a command drops
    (a --config beside --check-config's FILE, a --config beside --markdown's
    reference, which is the same for every config) is refused, not ignored."""
    if args.markdown and not args.print_config:
        return "--markdown goes with --print-config"
    if args.print_config and args.check_config is not None:
        return "--print-config and --check-config do not go together (one at a time)"
    if args.check_config is not None and args.config is not None:
        return "--check-config FILE is the config it checks: --config goes without it"
    if args.init and (args.check_config is not None or args.print_config):
        # (so with --markdown too, which goes with --print-config only)
        return (
            "--init makes a store as raspyd starts: it goes without --check-config "
            "and --print-config"
        )
    if args.markdown:
        given = [
            action.option_strings[0]
            for action in parser._actions
            if action.dest not in _NOT_CONFIG
            and getattr(args, action.dest) != action.default
        ]
        if given:
            return (
                f"--markdown prints the reference, the same for every config: "
                f"{given[0]} goes without it"
            )
    return None


def _main(argv: list[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    apart = _apart(parser, args)
    if apart is not None:
        parser.error(apart)
    try:
        if args.check_config is not None:
            return _flushed(raspyd_config.check_config_file(args))
        if args.print_config:
            return _flushed(_print_config(args))
    except BrokenPipeError:  # `raspyd --print-config | head`: the reader left
        return reader_left()
    except OSError as exc:  # a config file unread is a ConfigError: this is stdout
        return stdout_failed("raspyd", exc)
    heap.limit_arenas()  # before the actors' threads: raspy.heap says why
    source = args.config or "<defaults>"
    cfg = raspyd_config.start_config(args, source)
    if isinstance(cfg, int):  # its problems said
        return cfg
    not_folder = not_a_folder(cfg.data_dir)  # --data-dir's is said by argparse
    if not_folder is not None:
        return fail("raspyd", f"{source}: data_dir: {not_folder}", EXIT_USAGE)
    if os.geteuid() == 0 and not cfg.allow_root:
        return fail(
            "raspyd",
            "refusing to run as root; run as a normal user or pass --allow-root",
            EXIT_USAGE,
        )
    log_mod.configure(
        cfg.log_level,
        cfg.log_format,  # type: ignore[arg-type]  # validated by config
        events_per_s=cfg.limits.log_events_per_s,
    )
    log = structlog.get_logger(component="raspyd")
    mqtt_password.say_modes(cfg.mqtt, args.config)
    mqtt_password.say_unsent(cfg.mqtt)
    holder = lock_holder(Path(cfg.data_dir))
    if holder is not None:  # before the ports, which that raspyd holds too
        return fail("raspyd", in_use(Path(cfg.data_dir), holder), EXIT_USAGE)
    where = "--bind" if args.bind is not None else f"{source}: network.bind"
    checked = bind_check.unbindable(cfg, where)
    if checked.problem is not None:
        return fail("raspyd", *checked.problem)
    # the addresses bound, not the name given: `--bind lo` is 127.0.0.1
    if not cfg.security.enabled and not checked.loopback_only:
        log.warning(
            "listening_beyond_loopback_without_curve",
            bind=cfg.network.bind,
            reason="traffic is neither encrypted nor authenticated",
        )
    # every part: imported once nothing refuses the start (the config, the data dir,
    # the ports), which a Pi then says without loading them
    from raspy.actors import supervisor as supervisor_mod

    # Handlers first: clients may see the broker before start() returns.
    signals = SignalInbox((signal.SIGTERM, signal.SIGINT, signal.SIGHUP))
    waiting = Notifier()  # tells systemd of a wait for a reader (start_wait)
    progress = start_wait.StartProgress(waiting, "starting: checking the store")
    try:
        # a raspy-kv reading without a reader slot holds the data dir: waited for
        started = start_wait.start_after_slotless_reads(
            lambda: supervisor_mod.start(
                cfg,
                init_store=args.init,
                progress=progress,
                # until READY: the services start, the scenarios compile
                store_opened=lambda: progress.done("starting: the services"),
            ),
            Path(cfg.data_dir),
            waiting,
            lambda timeout_s: _stop_came(signals, timeout_s),
            log,
        )
    except StoreBeingReadError as exc:  # still read after the wait: no usage
        # error; exit 1, restarted (not 2)
        return fail("raspyd", str(exc), EXIT_FAILURE)
    except (StoreLockedError, DataDirError) as exc:  # the data dir: a usage error
        return fail("raspyd", str(exc), EXIT_USAGE)
    except (
        StoreDamagedError,
        StoreNewerError,
        StoreFullError,
        StoreDeviceError,
        DataDirLockError,
    ) as exc:
        # each names the store and what helps (a newer raspy's: a downgrade; a full
        # disk or a failing device: not a damaged store; the lock file and the OS's
        # words)
        return fail("raspyd", str(exc), EXIT_FAILURE)
    except ConfigError as exc:
        return fail("raspyd", f"{args.config or '<defaults>'}: {exc}", EXIT_USAGE)
    except StoreError as exc:
        return fail(
            "raspyd",
            f"{exc}; inspect it with `raspy-kv check --data-dir {cfg.data_dir}` "
            "or move the data dir aside",
            EXIT_FAILURE,
        )
    except (OSError, zmq.ZMQError, RuntimeError, pykka.ActorDeadError) as exc:
        return fail("raspyd", f"cannot start: {exc}", EXIT_FAILURE)
    except pykka.Timeout as exc:  # a part did not answer at start (not TimeoutError)
        return fail(
            "raspyd", f"cannot start: a part did not answer within {exc}", EXIT_FAILURE
        )
    finally:
        waiting.close()
    if started is None:  # SIGTERM or SIGINT while it waited: nothing started
        log.info("daemon_stopped_before_start")
        return 0
    runtime = started
    log.info(
        "daemon_started",
        hostname=runtime.hostname,
        endpoint=runtime.mdp_endpoint,
        data_dir=cfg.data_dir,
        pid=os.getpid(),
    )
    # The inbox is never given back: its handlers stay to the end of the process. Once
    # given back (SIG_DFL), a second SIGTERM or SIGINT while the interpreter ends (it
    # waits for the parts' threads) ended raspyd by the signal (143), not its status.
    # A bug in the loop is the last resort's line and 70 here, so that _end ends it too
    # (RASPY_TRACEBACK=1 lets it through whole: then the interpreter ends raspyd).
    return _end(guarded("raspyd", lambda: serve(args, runtime, signals, log)))


def _stop_came(signals: SignalInbox, timeout_s: float) -> bool:
    """Waits up to `timeout_s` for a signal; True if SIGTERM or SIGINT came (a
    SIGHUP before the start has no running configuration to reload)."""
    return any(signum != signal.SIGHUP for signum in signals.wait(timeout_s))


def _end(status: int) -> NoReturn:
    """End the process now, with `status`, once what it wrote is out.

    The parts have been stopped (or named as stuck): a thread still running, a part
    hung in a handler past its stop, an HTTP request on a lookup or worker thread,
    must not keep the process. The interpreter's own exit waits for every such thread
    (pykka's actors are not daemon threads, and the executors join theirs at exit):
    raspyd stayed after `daemon_stopped` until systemd killed it at its stop
    timeout. The store and the sockets are closed by then; the log writes each line
    at once; what is left to write out is the standard streams."""
    log_mod.flush_suppressed()
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:  # None: closed (`>&-`)
            with contextlib.suppress(OSError, ValueError):  # a reader that left
                stream.flush()
    os._exit(status)


if __name__ == "__main__":
    sys.exit(main())
