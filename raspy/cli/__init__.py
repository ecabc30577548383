"""The command-line tools. Their shared contract: one line naming what is wrong, exit 2
for bad usage or input, 1 for a runtime failure, 130 on Ctrl-C; never a traceback."""

from __future__ import annotations

import codecs
import errno
import os
import platform
import sys
from types import TracebackType
from typing import Final

from raspy import __version__

EXIT_OK: Final = 0
EXIT_FAILURE: Final = 1  # a runtime failure: no reply, a refusal, bad data
EXIT_USAGE: Final = 2  # bad usage or input: an option, a file, a config
EXIT_INTERRUPTED: Final = 130  # 128 + SIGINT, as shells report a Ctrl-C
# an output FILE named wrong (bad input), not a write that failed on the way
_NAMED_WRONG: Final = frozenset(
    {errno.ENOENT, errno.ENOTDIR, errno.EISDIR, errno.EACCES, errno.EPERM}
)


# what each tool's module is called when it runs as `python -m raspy.cli.<module>`
_TOOLS: Final = {
    "kv.py": "raspy-kv",
    "poller.py": "raspy-poller",
    "raspyd.py": "raspyd",
    "raspy.py": "raspy",
}


def _tool_name() -> str:
    name = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    if name in _TOOLS or not name or name.startswith("-") or name.endswith(".py"):
        return _TOOLS.get(name, "raspy")
    return name


def _interrupted_quietly(
    kind: type[BaseException],
    exc: BaseException,
    traceback: TracebackType | None,
    *,
    previous: object = sys.excepthook,
) -> None:
    """A Ctrl-C before a tool's main() catches it (while its modules are still
    being imported) is one line too, not a traceback of the import machinery;
    Python still ends the process as killed by SIGINT (status 130 in a shell)."""
    if issubclass(kind, KeyboardInterrupt) and not os.environ.get("RASPY_TRACEBACK"):
        print(f"{_tool_name()}: interrupted", file=sys.stderr)
        return
    if callable(previous):
        previous(kind, exc, traceback)


# only while a tool of raspy's runs (`-m`: `python -m raspy.cli.kv` as its package is
# imported): a program that imports raspy.cli keeps its own tracebacks
if os.path.basename(sys.argv[0] if sys.argv else "") in {*_TOOLS.values(), "-m"}:
    sys.excepthook = _interrupted_quietly


_JSON_ESCAPE: Final = "raspy-json-escape"  # the error handler of escaped_stdout()


def _json_escape(exc: UnicodeError) -> tuple[str, int]:
    """The letters an encoding cannot hold as JSON escapes them: `\\u00fc`, a pair
    of escapes beyond U+FFFF, a lone surrogate as the escape it came as."""
    if not isinstance(exc, UnicodeEncodeError):
        raise exc
    units = exc.object[exc.start : exc.end].encode("utf-16-be", "surrogatepass")
    escapes = [
        f"\\u{int.from_bytes(units[i : i + 2], 'big'):04x}"
        for i in range(0, len(units), 2)
    ]
    return "".join(escapes), exc.end


def escaped_stdout() -> None:
    """A stdout that cannot hold every letter (PYTHONIOENCODING=ascii, a C locale
    without UTF-8) writes those it cannot as their JSON escapes, so that a reply
    naming `Küche` is printed, still JSON where it was; printing it raised, and
    the tool said its input was bad."""
    codecs.register_error(_JSON_ESCAPE, _json_escape)
    reconfigure = getattr(sys.stdout, "reconfigure", None)  # None: stdout closed
    if reconfigure is not None:
        reconfigure(errors=_JSON_ESCAPE)


def show(value: bytes) -> str:
    """Printable UTF-8 as is, anything else as 0x-hex (so a line stays one line, and
    no ESC or C1 control a peer sent acts on the terminal)."""
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError:
        return "0x" + value.hex()
    return text if text.isprintable() else "0x" + value.hex()


def closed_stdout(consequence: str) -> str:
    """The line (after the tool's name) of a command whose output must be seen, run
    with stdout closed (`>&-`: sys.stdout is None, and print() writes nowhere and
    raises nothing, so a dump, an export or a new token was lost unseen);
    `consequence` says what that costs, nowhere_to_go() where -o FILE helps."""
    return f"stdout is closed: {consequence}"


def nowhere_to_go(output: str) -> str:
    """closed_stdout()'s consequence for an `output` (`the dump`) that -o FILE can
    take instead, said the same by each command that has -o."""
    return f"{output} has nowhere to go; name a FILE with -o"


def flush_stdout() -> None:
    """Write out what was printed (a reader that left is seen here, not at exit);
    nothing when stdout is closed (`>&-`: None, where print() wrote nowhere)."""
    if sys.stdout is not None:
        sys.stdout.flush()


def output_status(exc: OSError) -> int:
    """The status of a FILE a tool could not write: 2 when it is named wrong (a
    folder, a missing folder, no permission), 1 when the write failed on the way
    (a full disk)."""
    return EXIT_USAGE if exc.errno in _NAMED_WRONG else EXIT_FAILURE


def fail(prog: str, message: str, status: int) -> int:
    """`message` on stderr as the tool's one line (`prog: message`); `status`, the
    exit status, returned."""
    print(f"{prog}: {message}", file=sys.stderr)
    return status


def stdout_failed(prog: str, exc: OSError) -> int:
    """After an OSError no handler of a tool's command foresaw: its stdout's (`raspy
    status > FILE` on a full disk), one line and the runtime failure status, as
    raspy-kv says it; not "a bug in raspy" (70). One that names a file is that
    file's, and is said as such."""
    if exc.filename is not None:  # stdout has nothing to do with it
        print(f"{prog}: {exc.filename}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_FAILURE
    print(f"{prog}: cannot write to stdout: {exc.strerror or exc}", file=sys.stderr)
    return reader_left()  # Python's flush at exit must not fail again


def version_line(prog: str) -> str:
    """What `--version` prints: the tool, raspy's version and the Python it runs on."""
    return f"{prog} {__version__} (Python {platform.python_version()})"


def reader_left() -> int:
    """After a BrokenPipeError on stdout (`raspy … | head`): point stdout at /dev/null
    so Python's flush at exit raises nothing more, and give the runtime failure status."""
    if sys.stdout is None:  # started with stdout closed (`>&-`): nothing to flush
        return EXIT_FAILURE
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return EXIT_FAILURE
