"""What raspy's client library logs goes to stderr in a script that configured no
logging, and to the application's own structlog configuration when it has one: never
to stdout, where a script's own output goes (structlog's default)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from support.net import free_port_base

pytestmark = pytest.mark.timeout(60)

# a request to a port nothing listens on: its first attempt times out and is retried
# (`request_retried`, a warning), the second gives up; the script's own output is 42
_REQUEST = """
from raspy.client import Client, ClientTimeout

client = Client("tcp://127.0.0.1:{port}", timeout_s=0.2, retries=2)
try:
    client.request("echo", "x")
except ClientTimeout:
    pass
finally:
    client.close()
print(42)
"""


def _script(body: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(body)],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )


def test_without_a_configuration_the_library_logs_to_stderr_not_stdout() -> None:
    """A script piping values read `42` and a `request_retried` line on stdout."""
    ran = _script(_REQUEST.format(port=free_port_base(1)))
    assert ran.stdout == "42\n"
    assert "request_retried" in ran.stderr
    assert "mdp_client" in ran.stderr


def test_an_applications_own_configuration_takes_the_librarys_events(
    tmp_path: Path,
) -> None:
    """Configured after the import (as a script's main does): its logger gets them."""
    path = tmp_path / "app.log"
    configure = f"""
import structlog

import raspy.client  # first: the library's loggers exist before the configuration

structlog.configure(
    processors=[structlog.processors.JSONRenderer()],
    logger_factory=structlog.WriteLoggerFactory(open({str(path)!r}, "w")),
)
"""
    ran = _script(configure + _REQUEST.format(port=free_port_base(1)))
    assert (ran.stdout, ran.stderr) == ("42\n", "")
    events = [json.loads(line) for line in path.read_text().splitlines()]
    assert [(e["event"], e["component"]) for e in events] == [
        ("request_retried", "mdp_client")
    ]


def test_a_library_logger_can_be_copied_and_pickled() -> None:
    """As structlog's own loggers can (an object that holds one, deep-copied or sent
    to another process): the copy logs as the original does. It recursed for ever:
    copy and pickle ask for methods before the logger's fields are there."""
    ran = _script(
        """
        import copy
        import pickle

        from raspy.transport import runner

        for copied in (
            copy.copy(runner.log),
            copy.deepcopy(runner.log),
            pickle.loads(pickle.dumps(runner.log)),
        ):
            copied.warning("copied_event")
        print(42)
        """
    )
    assert ran.stdout == "42\n"
    assert ran.stderr.count("copied_event") == 3
    assert "component=runner" in ran.stderr


def test_a_tools_deferred_configuration_is_made_at_its_first_shown_event() -> None:
    """`raspy` and `raspy-kv` configure logging at the client's first event they
    show (raspy.library_log.configure_later): a warning under "error" loads no
    structlog and prints nothing; an error is the configured JSON line on stderr."""
    ran = _script(
        """
        import json, sys

        from raspy.library_log import configure_later, library_logger

        log = library_logger(component="mdp_client")
        configure_later("error")
        log.warning("request_retried", count=1)
        print(json.dumps("structlog" in sys.modules))
        log.error("request_failed", count=2)
        import structlog

        print(json.dumps(structlog.is_configured()))
        """
    )
    assert ran.stdout.splitlines() == ["false", "true"]
    lines = ran.stderr.splitlines()
    assert len(lines) == 1, ran.stderr
    event = json.loads(lines[0])
    assert (event["event"], event["level"], event["count"]) == (
        "request_failed",
        "error",
        2,
    )
    assert "request_retried" not in ran.stderr


def test_an_explicit_configuration_replaces_a_deferred_one() -> None:
    """raspy.log.configure after configure_later: its level is the one."""
    ran = _script(
        """
        from raspy import log
        from raspy.library_log import configure_later, library_logger

        configure_later("error")
        log.configure("info", "json")
        library_logger(component="zmq").warning("shown_warning")
        """
    )
    assert "shown_warning" in ran.stderr


def test_a_first_event_while_another_thread_configures_waits_for_it() -> None:
    """Two threads' first events at once: the second found the deferred level taken
    but logging not configured yet, and wrote structlog's default line, not the
    tool's JSON. It waits for the configuration under way (library_log's lock)."""
    ran = _script(
        """
        import threading

        from raspy import library_log, log
        from raspy.library_log import configure_later, library_logger

        configure_later("error")
        logger = library_logger(component="mdp_client")
        with library_log._configuring:  # another thread's first event, configuring
            library_log._deferred_level = None  # the level it took
            second = threading.Thread(target=lambda: logger.error("request_failed"))
            second.start()
            second.join(0.5)  # long enough to reach the configuration, mostly
            log.configure("error")
        second.join(10)
        """
    )
    lines = ran.stderr.splitlines()
    assert len(lines) == 1, ran.stderr
    assert json.loads(lines[0])["event"] == "request_failed"


def test_a_librarys_logging_record_before_the_first_event_is_the_tools_line() -> None:
    """A `logging` record (a library's) before the first event of a deferred
    configuration reached Python's last resort: bare text on stderr. One under
    the level is dropped (structlog still not loaded); one at it makes the
    configuration, and is its JSON line."""
    ran = _script(
        """
        import json, logging, sys

        from raspy.library_log import configure_later

        configure_later("error")
        logging.getLogger("somelib").warning("below_the_level")
        print(json.dumps("structlog" in sys.modules))
        logging.getLogger("somelib").error("shown %s", "here")
        """
    )
    assert ran.stdout.splitlines() == ["false"]
    lines = ran.stderr.splitlines()
    assert len(lines) == 1, ran.stderr
    event = json.loads(lines[0])
    assert (event["event"], event["level"], event["logger"]) == (
        "shown here",
        "error",
        "somelib",
    )


@pytest.mark.parametrize(
    ("module", "argv", "level"),
    [
        ("raspy", ["call", "echo", "x", "--timeout", "0.05"], "error"),
        ("kv", ["get", "/a", "--timeout", "0.05"], "critical"),
        ("poller", ["--service", "fake", "--config", "/nonexistent.toml"], "warning"),
    ],
    ids=["raspy", "raspy-kv", "raspy-poller"],
)
def test_a_tool_shows_a_librarys_logging_record_as_its_own_line(
    module: str, argv: list[str], level: str
) -> None:
    """Each tool sets logging up at its first event, which may be a library's
    `logging` record: here one after its run (nothing answers; the poller's
    config is missing), as one during it would be."""
    port = free_port_base(4)
    server = f"127.0.0.1:{port}" if module == "kv" else f"tcp://127.0.0.1:{port}"
    option = "--connect" if module == "poller" else "--server"
    ran = subprocess.run(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import logging
                from raspy.cli import {module} as tool

                tool.main({[*argv, option, server]!r})
                logging.getLogger("somelib").{level}("late_record")
                """
            ),
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert ran.returncode == 0, ran.stderr
    event = json.loads(ran.stderr.splitlines()[-1])
    assert (event["event"], event["logger"]) == ("late_record", "somelib")


def test_a_done_callback_that_raises_is_the_tools_line_not_a_bare_traceback() -> None:
    """concurrent.futures logs a done callback that raised (a traceback): under
    a tool's deferred configuration that is its JSON line, the traceback a field."""
    ran = _script(
        """
        from concurrent.futures import Future

        from raspy.library_log import configure_later

        configure_later("error")
        future = Future()
        future.add_done_callback(lambda _: 1 / 0)
        future.set_result(None)
        """
    )
    lines = ran.stderr.splitlines()
    assert len(lines) == 1, ran.stderr
    event = json.loads(lines[0])
    assert event["logger"] == "concurrent.futures"
    assert "ZeroDivisionError" in event["exception"]


def test_the_clone_clients_done_callback_raises_for_no_outcome() -> None:
    """A set the agent never took fails its waiter at once; a cancelled ask (its
    exception() raised CancelledError) or a waiter answered meanwhile (set twice:
    InvalidStateError) raised in the callback, which concurrent.futures logs."""
    from concurrent.futures import Future

    from raspy.client.clone import _fail_if_not_taken
    from raspy.errors import ClientTimeout

    cancelled: Future[object] = Future()
    cancelled.cancel()
    waiter: Future[None] = Future()
    _fail_if_not_taken(cancelled, waiter)
    assert isinstance(waiter.exception(timeout=0), ClientTimeout)
    failed: Future[object] = Future()
    failed.set_exception(RuntimeError("clone-agent has stopped"))
    answered: Future[None] = Future()
    answered.set_result(None)
    _fail_if_not_taken(failed, answered)  # answered first: that stands
    assert answered.result(timeout=0) is None
    taken: Future[object] = Future()
    taken.set_result(None)
    untouched: Future[None] = Future()
    _fail_if_not_taken(taken, untouched)
    assert not untouched.done()
