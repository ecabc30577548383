"""structlog setup: called only by entry points and tests (docs/style.md §5). The
client library's loggers, which configure nothing, are raspy.library_log's."""

from __future__ import annotations

import io
import logging
import sys
import threading
import time
from collections.abc import MutableMapping
from typing import Any, Final, Literal

import structlog

from raspy.library_log import forget_deferred, library_logger
from raspy.ratelimit import EventBudget

__all__ = [
    "DEFAULT_EVENTS_PER_S",
    "LogFormat",
    "configure",
    "flush_suppressed",
    "library_logger",
    "stderr_logger",
]

LogFormat = Literal["console", "json", "auto"]

DEFAULT_EVENTS_PER_S: Final = 20  # limits.log_events_per_s


class _Budget:
    """The structlog processor that keeps every event name within its budget.

    Thread-safe (any thread logs). A dropped event raises DropEvent; the summary of
    a window that left events out is logged as `log_suppressed` at the next event
    of any name, or by flush_suppressed(), which raspyd calls every 2 s.
    """

    def __init__(self, per_s: int) -> None:
        self._budget = EventBudget(per_s)
        self._lock = threading.Lock()
        self._local = threading.local()  # set while this thread logs a summary

    def __call__(
        self, _logger: object, _method: str, event_dict: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        if getattr(self._local, "summarising", False):
            return event_dict  # at most one summary per name and window
        if not self.admit(str(event_dict.get("event"))):
            raise structlog.DropEvent
        return event_dict

    def admit(self, name: str) -> bool:
        """May an event of this name be written now? (summaries of ended windows
        are logged on the way)."""
        now = time.monotonic()
        with self._lock:
            admitted = self._budget.admit(name, now)
            ended = self._budget.due(now)
        if ended:
            self._summarise(ended)
        return admitted

    def flush(self) -> None:
        with self._lock:
            ended = self._budget.due(time.monotonic())
        if ended:
            self._summarise(ended)

    def _summarise(self, ended: list[tuple[str, int]]) -> None:
        self._local.summarising = True
        try:
            log = structlog.get_logger(component="log")  # the current configuration
            for name, count in ended:
                log.warning("log_suppressed", suppressed_event=name, count=count)
        finally:
            self._local.summarising = False


class _RecordBudget(logging.Filter):
    """The same budget for the records of libraries that use `logging` (uvicorn's
    "Invalid HTTP request received." for each bad request anyone on the LAN sends),
    keyed by the logger's name and the line that logs it: a library that fills in
    its message itself (pykka's, asyncio's) would make every record a key of its own,
    never held, and push raspy's own events out of the budget's table."""

    def __init__(self, budget: _Budget) -> None:
        super().__init__()
        self._budget = budget

    def filter(self, record: logging.LogRecord) -> bool:
        return self._budget.admit(f"{record.name} at {record.module}:{record.lineno}")


_budget: _Budget | None = None


def flush_suppressed() -> None:
    """Log the `log_suppressed` summaries of windows that have ended (if any)."""
    if _budget is not None:
        _budget.flush()


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

    def __init__(self) -> None:
        # never written to (msg writes to sys.stderr): a closed stdout (`>&-`),
        # sys.stdout None, made structlog's default fail as the tools start
        super().__init__(io.StringIO())

    # copied and pickled as what it is (PrintLogger's own allow only stdout/stderr)
    def __getstate__(self) -> str:
        return "stderr"

    def __setstate__(self, state: Any) -> None:
        self.__init__()  # type: ignore[misc]

    def __deepcopy__(self, memodict: dict[str, object]) -> _StderrLogger:
        return _StderrLogger()

    log = debug = info = warn = warning = msg
    fatal = failure = err = error = critical = exception = msg


def stderr_logger(*_args: object) -> _StderrLogger:
    """structlog's logger factory: a logger that writes to sys.stderr of the time."""
    return _StderrLogger()


def configure(
    level: str = "info",
    log_format: LogFormat = "auto",
    *,
    cache: bool = True,
    events_per_s: int = DEFAULT_EVENTS_PER_S,
) -> None:
    """Console renderer on a TTY, one JSON object per line otherwise; at most
    `events_per_s` lines a second per event name (0: no budget), issue 18."""
    global _budget  # noqa: PLW0603  # one logging setup per process
    forget_deferred()
    use_console = log_format == "console" or (
        log_format == "auto" and sys.stderr.isatty()
    )
    renderer: structlog.typing.Processor = (
        structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
        if use_console
        else structlog.processors.JSONRenderer()
    )
    _budget = _Budget(events_per_s) if events_per_s > 0 else None
    _route_stdlib_logging(renderer, level, _budget)
    budget: list[structlog.typing.Processor] = [] if _budget is None else [_budget]
    structlog.configure(
        processors=[
            *budget,
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping()[level.upper()]
        ),
        logger_factory=stderr_logger,
        cache_logger_on_first_use=cache,
    )


def _route_stdlib_logging(
    renderer: structlog.typing.Processor, level: str, budget: _Budget | None
) -> None:
    """Records of libraries that use `logging` (pykka reports a dead actor there) go
    out through the same renderer, within the same budget: one JSON object per line
    for journald, not a bare traceback."""
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
    # sys.stderr as it is now: the handler keeps that stream (a later swap of
    # sys.stderr, a test harness's, is not followed; configure() again for it)
    handler = logging.StreamHandler()
    handler.setFormatter(formatter)
    if budget is not None:
        handler.addFilter(_RecordBudget(budget))
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(logging.getLevelNamesMapping()[level.upper()])
