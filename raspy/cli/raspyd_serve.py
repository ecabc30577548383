"""raspyd once started: its main loop (signals, systemd's notifications, a SIGHUP's
reload) until it stops. Apart from raspy.cli.raspyd, which parses the command line,
refuses a start and starts the parts: this is what runs them, and is the same
whatever the start checked."""

from __future__ import annotations

import argparse
import os
import signal
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from raspy import log as log_mod
from raspy.cli import EXIT_FAILURE, fail, raspyd_config
from raspy.cli.signals import SignalInbox
from raspy.errors import ConfigError
from raspy.sdnotify import Notifier

# The supervisor pulls in every actor and core: raspy.cli.raspyd imports it once
# nothing refuses the start; here it is a type only.
if TYPE_CHECKING:
    from raspy.actors import supervisor as supervisor_mod

_IDLE_WAKE_S = 2.0  # the main loop's longest wait
# For tests: `edge` or `store` is stopped right after start, from inside the daemon.
FAULT_ENV = "RASPYD_INJECT_FAULT"


def serve(
    args: argparse.Namespace,
    runtime: supervisor_mod.Runtime,
    signals: SignalInbox,
    log: Any,
) -> int:
    """Until SIGTERM/SIGINT (0) or a failed edge or store (1); SIGHUP reloads.

    systemd hears READY once serving, WATCHDOG while the supervisor is working,
    STATUS when the set of parts not running changes, STOPPING at the end."""
    notifier = Notifier()
    runtime.on_fatal = signals.poke
    fault = os.environ.get(FAULT_ENV)
    if fault:  # tests: a part dies from inside, as a crash would
        runtime.call(lambda: runtime.inject_fault(fault))
    notifier.ready(f"serving on {runtime.mdp_endpoint}")
    watchdog = notifier.watchdog_interval_s
    # signals and a failing part (on_fatal) end the wait at once; the rest (the log's
    # suppressed summaries, systemd's STATUS) may wait this long: an idle wake-up
    wake_s = _IDLE_WAKE_S if watchdog is None else min(_IDLE_WAKE_S, watchdog)
    next_ping = 0.0
    shown = ""
    stop = reload = stopping = False
    try:
        while True:
            while not (stop or reload) and runtime.fatal is None:
                for signum in signals.wait(wake_s):
                    log.info("signal_received", signal=signum.name)
                    stop = stop or signum != signal.SIGHUP
                    reload = reload or signum == signal.SIGHUP
                now = time.monotonic()
                log_mod.flush_suppressed()
                if watchdog is not None and now >= next_ping and runtime.healthy():
                    notifier.watchdog()
                    next_ping = now + watchdog
                summary = runtime.summary()
                if summary != shown:
                    notifier.status(summary)
                    shown = summary
            if runtime.fatal is not None:
                log.error("daemon_failed", reason=runtime.fatal)
                notifier.notify(stopping="1", status=runtime.fatal)
                stopping = True
                runtime.stop()
                return fail("raspyd", runtime.fatal, EXIT_FAILURE)
            if stop:  # SIGTERM or SIGINT, even beside a SIGHUP
                break
            reload = False
            notifier.reloading()
            fed = None if watchdog is None else lambda: _fed(notifier, runtime)
            reload_config(args, runtime, log, fed, watchdog or 1.0)
            notifier.ready(runtime.summary())
        notifier.stopping()
        stopping = True
        if not runtime.stop():  # logged: a part of raspyd never ended
            return EXIT_FAILURE
        return 0
    except Exception:
        # a bug in this loop: the parts stop all the same, so that what they hold
        # reaches the card (the coalesced readings, the history's rows), then the
        # last resort says it in one line
        log.exception("daemon_loop_failed")
        if not stopping:
            runtime.stop()
        raise
    finally:
        notifier.close()


def _fed(notifier: Notifier, runtime: supervisor_mod.Runtime) -> None:
    """systemd's watchdog pinged while a reload runs: its stops that time out (3 s
    each) may outlast WatchdogSec, while the supervisor thread works. Called only
    within the reload's bound (RELOAD_STEP_TIMEOUT_S since a part last stopped or
    started): past it that thread is stuck,
    does no round, and the main loop pings no more (Runtime.healthy)."""
    if runtime.fatal is None:
        notifier.watchdog()


def reload_config(
    args: argparse.Namespace,
    runtime: supervisor_mod.Runtime,
    log: Any,
    waiting: Callable[[], None] | None = None,
    every_s: float = 1.0,
) -> None:
    """SIGHUP: read the config again; a bad one is logged and the old one kept.
    `waiting` is called every `every_s` while the parts restart."""
    from raspy.actors.config_check import check_config

    try:
        new = raspyd_config.load_config(args)
        check_config(new)
        problems = raspyd_config.reload_problems(
            runtime.config, new, args.config or "<defaults>"
        )
        if problems:
            raise ConfigError(problems)
    except (ConfigError, OSError) as exc:
        log.error("config_reload_failed", reason=str(exc), path=args.config)
        return
    except Exception as exc:  # a reload must never end the daemon's main loop
        log.exception("config_reload_failed", reason=repr(exc), path=args.config)
        return
    try:
        runtime.reload(new, waiting, every_s)
    except TimeoutError:  # the supervisor is stuck: the watchdog will notice too
        log.error("config_reload_timed_out", path=args.config)
    except Exception as exc:  # a part's start-up failed (a store read, a dead actor):
        # the supervisor's next rounds restart it, or end raspyd (a fatal part)
        log.exception("config_reload_failed", reason=repr(exc), path=args.config)
