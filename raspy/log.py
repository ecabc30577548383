"""structlog setup: called only by entry points and tests (docs/style.md §5)."""

from __future__ import annotations

import logging
import sys
from typing import Literal, TextIO

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


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]  # its stream is a property here
    """A logging handler writing to whatever sys.stderr is at the time (as above)."""

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        return


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
    _route_stdlib_logging(renderer, level)
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


def _route_stdlib_logging(renderer: structlog.typing.Processor, level: str) -> None:
    """Records of libraries that use `logging` (pykka reports a dead actor there) go
    out through the same renderer: one JSON object per line for journald, not a bare
    traceback."""
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[
            structlog.stdlib.add_logger_name,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
        ],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            renderer,
        ],
    )
    handler = (
        logging.StreamHandler()
    )  # sys.stderr, looked up when each record is written
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(logging.getLevelNamesMapping()[level.upper()])
