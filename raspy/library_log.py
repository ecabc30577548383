"""The client library's loggers (raspy.client, raspy.transport), which configure
nothing, and which import structlog at their first event, not with raspy.client.

structlog's import loads asyncio, ssl and logging (about 0.1 s of CPU on a PC, a
second on a Pi 3); a `raspy` or `raspy-kv` command that gets its reply logs nothing
and is a process of its own. A tool configures logging through `configure_later`:
done at the first event, as raspy.log.configure would have done it at the start,
or at a library's first `logging` record that the setup would show
(raspy.library_records)."""

from __future__ import annotations

import sys
import threading
from typing import Any, Final

_deferred_level: str | None = None  # set by configure_later, until the first event
_deferred_format = "auto"  # and the format it asked for
# held while the first event configures: another thread's first event waits for it,
# not taken for one before any configuration (structlog's default line on stderr)
_configuring: Final = threading.RLock()  # re-entered by an event of the setup itself
# structlog's filtering loggers: a method below the level is a no-op
_LEVELS: Final = {
    "debug": 10,
    "info": 20,
    "msg": 20,
    "warning": 30,
    "warn": 30,
    "error": 40,
    "exception": 40,
    "critical": 50,
    "fatal": 50,
}


def _dropped(*_args: Any, **_kwargs: Any) -> None:
    """An event below the deferred level: what structlog would do, without it."""


def configure_later(level: str, log_format: str = "auto") -> None:
    """raspy.log.configure(level, log_format) at the first event of a library
    logger, or the first record at `level` of a library that uses `logging` (if
    structlog is not configured by then): for a tool whose only events are the
    client's, or one whose setup waits for its config."""
    global _deferred_level, _deferred_format  # one logging setup per process
    _deferred_level, _deferred_format = level, log_format
    from raspy import library_records  # `logging`, not structlog

    library_records.hold(level, _configure_deferred)


def forget_deferred() -> None:
    """raspy.log.configure was called: its configuration is the one."""
    global _deferred_level  # noqa: PLW0603  # one logging setup per process
    _deferred_level = None


def _below_deferred(name: str) -> bool:
    """Is `name` a method of a level below the deferred one, with structlog not
    configured yet? (then structlog need not be loaded for it)"""
    if _deferred_level is None or name not in _LEVELS:
        return False
    loaded = sys.modules.get("structlog")
    if loaded is not None and loaded.is_configured():
        return False
    return _LEVELS[name] < _LEVELS.get(_deferred_level, 0)


def _configure_deferred() -> None:
    global _deferred_level  # one logging setup per process
    with _configuring:
        level, _deferred_level = _deferred_level, None
        if level is None:
            return
        import structlog  # the first event: see the module's docstring

        if not structlog.is_configured():
            from raspy import log

            log.configure(level, _deferred_format)  # type: ignore[arg-type]  # the tool's choice


class _LibraryLogger:
    """See library_logger: which logger takes an event is decided at the event, as
    an application may configure structlog after it imported raspy.client."""

    def __init__(self, initial: dict[str, Any]) -> None:
        self._initial = initial
        self._loggers: tuple[Any, Any] | None = None  # (configured, stderr)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name in ("_initial", "_loggers"):
            # copy and pickle ask before __init__ has run
            raise AttributeError(name)
        if _below_deferred(name):  # dropped by the configuration to come
            return _dropped
        _configure_deferred()
        import structlog  # loaded at the first event: see the module's docstring

        if self._loggers is None:
            from raspy.log import stderr_logger

            self._loggers = (
                structlog.get_logger(**self._initial),
                structlog.wrap_logger(stderr_logger(), **self._initial),
            )
        configured, stderr = self._loggers
        chosen = configured if structlog.is_configured() else stderr
        return getattr(chosen, name)


def library_logger(**initial: Any) -> Any:
    """A logger for raspy's client library (raspy.client): it follows the
    application's structlog configuration once there is one, and until then writes
    structlog's default lines to stderr, not to stdout, where a script's own output
    goes (structlog's default). It configures nothing itself."""
    return _LibraryLogger(initial)
