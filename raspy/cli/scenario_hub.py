"""The hub side of `raspy scenario`: one MDP client to `<host>.core.scenario`.

Reads (list, get) may be resent (Lazy Pirate); writes are sent once, as a resent
import could answer "exists". A hub that does not answer is asked over MMI whether it
has the service, so that the message says which of the two is wrong. raspy.cli.scenario
runs the commands over it.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Final

from raspy.cli import scenario_files as files
from raspy.cli import scenario_text as text
from raspy.cli.arguments import CurveOptionError, client_curve, hub_silent_hint
from raspy.errors import ClientTimeout, MalformedReply
from raspy.names import short_hostname

if TYPE_CHECKING:
    from raspy.devices.template import JsonValue  # a type: the module costs a start

_READ_RETRIES: Final = 3  # list/get/validate may be resent (Lazy Pirate)
_WRITE_RETRIES: Final = 1  # a resent import could answer "exists": send once


def service_name(host: str | None) -> str:
    """`<host>.core.scenario` (the short host name of this machine by default)."""
    return f"{host or short_hostname()}.core.scenario"


class Hub:
    """One MDP client to the scenario service, closed by `with`; `prog` starts the
    command's name in its messages."""

    def __init__(self, args: argparse.Namespace, prog: str) -> None:
        from raspy.client.mdp import Client

        try:
            curve = client_curve(args, f"{prog} {args.scenario_command}")
        except CurveOptionError as exc:
            raise files.Failure(2, str(exc)) from None
        self.service = service_name(args.host)
        self._curve = curve is not None
        try:
            self._reads = Client(
                args.server, timeout_s=args.timeout, retries=_READ_RETRIES, curve=curve
            )
            self._writes = Client(
                args.server, timeout_s=args.timeout, retries=_WRITE_RETRIES, curve=curve
            )
        except ValueError as exc:
            raise files.Failure(2, str(exc)) from None

    def __enter__(self) -> Hub:
        return self

    def __exit__(self, *_: object) -> None:
        self._reads.close()
        self._writes.close()

    def ask(
        self, action: str, *, write: bool = False, **fields: JsonValue
    ) -> text.Reply:
        return self.ask_fields(action, fields, write=write)

    def ask_fields(
        self,
        action: str,
        fields: dict[str, JsonValue],
        *,
        write: bool = False,
        longer_s: float = 0.0,
    ) -> text.Reply:
        """ask(); `longer_s`: waited for on top of --timeout (a request whose
        work grows with its size: an import of several documents)."""
        client = self._writes if write else self._reads
        timeout_s = client.timeout_s
        client.timeout_s = timeout_s + longer_s
        try:
            frames = client.request(self.service, text.request(action, **fields))
        except MalformedReply as exc:  # it answered: no guess at why it was silent
            raise files.Failure(1, str(exc)) from None
        except ClientTimeout as exc:
            raise files.Failure(1, self._why_silent(exc)) from None
        finally:
            client.timeout_s = timeout_s
        return text.decode_reply(frames, self.service)

    def _why_silent(self, exc: ClientTimeout) -> str:
        """No reply: a hub without that service (a wrong --host, [core] off) answers
        MMI, a hub that is down does not."""
        try:  # asked once: resent, it doubled or quadrupled the wait the line tells
            known = self._reads.request("mmi.service", self.service, retries=1)
        except ClientTimeout:  # nothing at all: the hub's usual causes
            # said, so that the line tells the whole of the wait
            mmi_s = self._reads.timeout_s
            return (
                f"{exc}, nor from 'mmi.service' in {mmi_s:g} s"
                f"{hub_silent_hint(self._curve)}"
            )
        if known[:1] == [b"404"]:
            return (
                f"the hub has no {self.service} (a wrong --host, or [core] not "
                "enabled there)"
            )
        return f"{exc} (the hub has {self.service} but it did not answer)"

    def need(
        self, action: str, *, write: bool = False, **fields: JsonValue
    ) -> text.Reply:
        """Like ask; a refusal becomes Failure(1) with its error and problems."""
        reply = self.ask(action, write=write, **fields)
        if not reply.ok:
            raise files.Failure(1, *text.refusal_lines(reply))
        return reply
