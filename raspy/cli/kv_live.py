"""raspy-kv live commands against a running raspyd's Clone server (docs/protocols.md §6).

`ls`/`get` take one snapshot; `set`/`del` wait until the server published the update;
`watch` prints one line per change until Ctrl-C (or `--count`). Values print as text
when they are printable UTF-8, else as 0x-hex. Exit status: 0 ok, 1 no answer, no
such key or stdout not written (a full disk), 2 usage, 130 Ctrl-C (`watch`'s too).
"""

from __future__ import annotations

import argparse
import os
import sys
from functools import partial
from typing import Final

from raspy.cli import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, show
from raspy.cli.arguments import first_control, not_utf8, silence_hinted, warn_line
from raspy.cli.kv_lines import Failure, command_prog, stdout_errors
from raspy.cli.kv_watch import watch_changes
from raspy.client.clone import Change, CloneClient, Snapshot, fetch_snapshot
from raspy.errors import ClientTimeout, ConfigError, MalformedMessage, shown
from raspy.protocol import clone
from raspy.transport.sockets import CurveKeys


def run(args: argparse.Namespace) -> int:
    """Run one live command; an error is a Failure, which raspy.cli.kv says in one
    stderr line headed `raspy-kv COMMAND:`."""
    try:
        if not args.server.isascii():  # as raspy.cli.endpoints: no IDN, no raw bytes
            raise ValueError(
                f"--server: expected HOST:PORT-BASE with an ASCII host, got "
                f"{shown(args.server)}"
            )
        try:
            endpoints = clone.Endpoints.parse(args.server)
        except ValueError as exc:  # named, as raspy and raspy-poller name theirs
            raise ValueError(f"--server: {exc}") from None
        args.curve = _curve(args)
        with stdout_errors():  # a full disk behind stdout: status 1, not a bug
            try:
                return _COMMANDS[args.live_command](args, endpoints)
            except ClientTimeout as exc:  # an OSError too: said before stdout_errors
                raise Failure(str(exc), EXIT_FAILURE) from None
    except UnicodeEncodeError as exc:
        raise Failure(not_utf8(exc), EXIT_USAGE) from None
    except (ValueError, ConfigError) as exc:
        raise Failure(str(exc), EXIT_USAGE) from None


def _curve(args: argparse.Namespace) -> CurveKeys | None:
    """The client's CurveKeys from --server-key/--client-cert (None: plain text)."""
    if args.server_key is None and args.client_cert is None:
        return None  # plain text: raspy.transport.curve (zmq.auth, structlog) unloaded
    from raspy.transport.curve import client_keys  # only when asked, as said above

    return client_keys(
        args.server_key,
        args.client_cert,
        warn=partial(warn_line, command_prog(args.live_command)),
    )


def _key(text: str, *, new: bool = False) -> bytes:
    """KEY as the shell passed its bytes (UTF-8 or not), checked as a raspy key.
    A `new` one (set) takes no control character: `/t9/a<newline>b` would make
    `ls` show a key that is not what was typed; get and del still reach one that
    came in by another way (RFC 12 allows any bytes)."""
    key = _rooted(text, "key")
    if new:
        bad = first_control(text)
        if bad is not None:
            raise ValueError(
                f"key {shown(key)}: a control character (U+{ord(bad):04X}) in it; "
                "a key set here is printable text"
            )
    try:
        clone.check_path_key(key)
    except MalformedMessage as exc:
        raise ValueError(exc.detail) from exc
    return key


def _subtree(text: str) -> bytes:
    """SUBTREE: empty (the whole tree) or a /-rooted prefix."""
    return _rooted(text, "subtree") if text else b""


def _rooted(text: str, what: str) -> bytes:
    """The argument's bytes, refused unless they start with /: said here, with the
    argument as typed ("ä b"), where the protocol's check shows raw bytes."""
    raw = os.fsencode(text)
    if not raw.startswith(b"/"):
        raise ValueError(
            f"{what} {shown(raw)} is not /-rooted (raspy's keys start with /)"
        )
    return raw


def _snapshot(
    args: argparse.Namespace, endpoints: clone.Endpoints, subtree: bytes
) -> Snapshot:
    """The hub's snapshot of `subtree`; no answer says what to check."""
    with silence_hinted(args.curve is not None):
        return fetch_snapshot(
            endpoints, subtree, timeout_s=args.timeout, curve=args.curve
        )


def _synced(args: argparse.Namespace, client: CloneClient) -> None:
    """`client` holding the hub's snapshot; no answer says what to check."""
    with silence_hinted(args.curve is not None):
        client.wait_synced(args.timeout)


def _ls(args: argparse.Namespace, endpoints: clone.Endpoints) -> int:
    snap = _snapshot(args, endpoints, _subtree(args.subtree))
    for key, body in sorted(snap.items.items()):
        print(f"{show(key)} {show(body)}")
    return EXIT_OK


def _get(args: argparse.Namespace, endpoints: clone.Endpoints) -> int:
    key = _key(args.key)
    snap = _snapshot(args, endpoints, key)
    body = snap.items.get(key)
    if body is None:
        raise Failure(f"{args.key}: no such key", EXIT_FAILURE)
    print(show(body))
    return EXIT_OK


def _set(args: argparse.Namespace, endpoints: clone.Endpoints) -> int:
    key, body = _key(args.key, new=True), os.fsencode(args.value)
    if not body:
        raise ValueError("VALUE is empty (an empty value deletes: use del)")
    with CloneClient(endpoints, key, curve=args.curve) as client:
        _synced(args, client)  # unreachable: said here, not as a refusal
        try:
            client.set(key, body, ttl_s=args.ttl, confirm_timeout_s=args.timeout)
        except ClientTimeout:
            raise Failure(_not_taken(args.key, len(body)), EXIT_FAILURE) from None
        print(f"{args.key} set (seq {client.seq})")
    return EXIT_OK


def _not_taken(key: str, size: int) -> str:
    """The hub answered the snapshot but published no update: it dropped it, or its
    store could not write it (a full disk). The client cannot tell which: both are
    named, with the log event that says it (only the first was, so a full disk was
    taken for a value too long)."""
    from raspy.config_messaging import CloneConfig  # its dataclasses: on this line only

    return (
        f"{key}: the hub did not take the update (value {size} bytes): it drops values "
        f"over its [clone] max_value_bytes ({CloneConfig().max_value_bytes} by default; "
        "its log: clone_input_rejected), and fails a write its store cannot make "
        "(a full disk; its log: clone_commit_failed)"
    )


def _del(args: argparse.Namespace, endpoints: clone.Endpoints) -> int:
    key = _key(args.key)
    with CloneClient(endpoints, key, curve=args.curve) as client:
        _synced(args, client)
        if args.subtree:  # the client's copy is that subtree
            keys = [found for found, _ in client.items()]
        else:
            keys = [key] if client.get(key) is not None else []
        if not keys:
            what = "no key under it" if args.subtree else "no such key"
            raise Failure(f"{args.key}: {what}", EXIT_FAILURE)
        if args.subtree and not args.yes:
            _confirm(args.key, len(keys))
        for found in keys:  # each confirmed before the next: none left half-done
            client.delete(found, confirm_timeout_s=args.timeout)
        if args.subtree:
            print(f"{len(keys)} keys under {args.key} deleted (seq {client.seq})")
        else:
            print(f"{args.key} deleted (seq {client.seq})")
    return EXIT_OK


def _confirm(prefix: str, count: int) -> None:
    """Return once a `--subtree` delete may go on without --yes: asked on a
    terminal and answered yes; a Failure otherwise. A household's tree is its
    state: `del / --subtree` once took all of it without a word. The root needs --yes always, a script (no terminal)
    --yes for any subtree; a terminal is asked, and anything but y or yes keeps
    every key (status 1)."""
    many = f"{count} key{'s' if count != 1 else ''}"
    if prefix == "/":
        raise Failure(
            f"/ --subtree would delete the whole tree ({many}): add --yes to mean it",
            EXIT_USAGE,
        )
    stdin = sys.stdin
    if stdin is None or not stdin.isatty():
        raise Failure(
            f"{prefix} --subtree would delete {many}: add --yes to delete them "
            "(no terminal to ask on)",
            EXIT_USAGE,
        )
    print(
        f"{command_prog('del')}: delete {many} under {prefix}? [y/N] ",
        end="",
        file=sys.stderr,
    )
    sys.stderr.flush()
    answer = stdin.readline().strip().lower()
    if answer not in ("y", "yes"):
        raise Failure(f"{prefix}: nothing deleted", EXIT_FAILURE)


def _watch(args: argparse.Namespace, endpoints: clone.Endpoints) -> int:
    with CloneClient(endpoints, _subtree(args.subtree), curve=args.curve) as client:
        _synced(args, client)
        # Ctrl-C ends it as it ends every command: `interrupted`, status 130
        watch_changes(client, args.count, _line)
    return EXIT_OK


# how watch shows a deletion; a value that is this very text is shown in hex, as a
# value that is not printable text is, so the mark means a deletion alone
_DELETED: Final = "(deleted)"


def _line(change: Change) -> str:
    if not change.body:  # an empty body is a deletion (RFC 12)
        value = _DELETED
    else:
        value = show(change.body)
        if value == _DELETED:
            value = "0x" + change.body.hex()
    return f"{change.seq} {show(change.key)} {value}"


_COMMANDS: Final = {"ls": _ls, "get": _get, "set": _set, "del": _del, "watch": _watch}
