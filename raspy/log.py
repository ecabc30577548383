"""structlog setup: called only by entry points and tests (STYLE.md §5)."""

from __future__ import annotations

import logging
import sys
from typing import Literal

import structlog

LogFormat = Literal["console", "json", "auto"]


class _StderrLogger(structlog.PrintLogger):
    """Writes to whatever sys.stderr is at the time of each event.

    structlog's PrintLogger keeps the file it was made with; when that stream is
    closed later (a test harness swapping stderr, a daemonised process), logging
    would raise inside whatever thread was logging.
    """

    def msg(self, message: str) -> None:
        stream = sys.stderr
        stream.write(message + "\n")
        stream.flush()

    log = debug = info = warn = warning = msg
    fatal = failure = err = error = critical = exception = msg


def _stderr_logger(*_args: object) -> _StderrLogger:
    return _StderrLogger()


def configure(
    level: str = "info", log_format: LogFormat = "auto", *, cache: bool = True
) -> None:
    """Console renderer on a TTY, one JSON object per line otherwise."""
    use_console = log_format == "console" or (
        log_format == "auto" and sys.stderr.isatty()
    )
    renderer: structlog.typing.Processor = (
        structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
        if use_console
        else structlog.processors.JSONRenderer()
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping()[level.upper()]
        ),
        logger_factory=_stderr_logger,
        cache_logger_on_first_use=cache,
    )
