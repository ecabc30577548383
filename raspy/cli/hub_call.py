"""One JSON request to a hub service, as the `raspy` sub-commands that speak JSON
(`history`, `device`) make it: sent once (a command is not always safe to send
twice), the reply `[status, json]` checked, every failure a Refused with the exit
status of the CLI contract (2: the request was refused as bad, 1: no or no usable
answer).

The broker is asked first whether a worker serves the service (RFC 8
`mmi.service`): a request to a service without one waits in the broker for a
worker (up to `broker.request_ttl_s`), so a command to a board that is away would
be carried out when it comes back, long after this command said it had failed.
Asked first, it is not sent at all, and the user is told why at once."""

from __future__ import annotations

import argparse
import json
from collections.abc import Collection
from typing import Any

from raspy import json_text
from raspy.cli.arguments import CurveOptionError, client_curve, hub_silent_hint
from raspy.errors import ClientTimeout, MalformedReply
from raspy.protocol import mmi


class Refused(Exception):
    """A failure to print as one line, with the exit status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class NoReply(Refused):
    """The request was sent and no reply came in time: it may still be carried out."""

    def __init__(self, message: str) -> None:
        super().__init__(1, message)


def call_json(
    args: argparse.Namespace,
    service: str,
    document: dict[str, Any],
    refused_too: Collection[bytes] = (),
    absent_why: str = "",
) -> dict[str, Any]:
    """`document` to `service` at args.server (args.timeout, the CURVE options): its
    200 reply as a JSON object. A 4xx, or a status in `refused_too` (a 501 for an
    action the user typed), is Refused(2) and any other status Refused(1), each with
    the service's detail and error token."""
    from raspy.client.mdp import Client

    try:
        curve = client_curve(args, f"raspy {args.command}")
    except CurveOptionError as exc:
        raise Refused(2, str(exc)) from None
    body = json.dumps(document).encode("utf-8")
    with Client(args.server, timeout_s=args.timeout, retries=1, curve=curve) as client:
        try:
            present = client.request(mmi.SERVICE.decode(), service)[:1]
        except MalformedReply as exc:  # it answered: no "no reply" for it
            raise Refused(1, str(exc)) from None
        except ClientTimeout:
            raise Refused(
                1,
                f"no reply from the broker at {args.server} in {args.timeout:g} s"
                f"{hub_silent_hint(curve is not None)}",
            ) from None
        if present != [b"200"]:
            raise Refused(
                1,
                f"no worker serves {service} now{absent_why}: nothing was sent",
            )
        try:
            frames = client.request(service, body)
        except MalformedReply as exc:
            raise Refused(1, str(exc)) from None
        except ClientTimeout:
            raise NoReply(
                f"no reply from {service} at {args.server} in {args.timeout:g} s"
            ) from None
    try:
        status, reply = frames[0], json_text.loads(frames[1])
    except (IndexError, ValueError):
        raise Refused(1, f"{service} sent a reply that is not its JSON") from None
    if status != b"200":
        token = reply.get("error", "error") if isinstance(reply, dict) else "error"
        detail = reply.get("detail", "") if isinstance(reply, dict) else ""
        refused = status.startswith(b"4") or status in refused_too
        raise Refused(2 if refused else 1, f"{detail} ({token})")
    if not isinstance(reply, dict):
        raise Refused(1, f"{service} sent a reply that is not a JSON object")
    return reply
