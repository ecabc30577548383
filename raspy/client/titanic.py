"""Blocking Titanic client (RFC 9/TSP; docs/protocols.md §5): durable, disconnected requests.

Built on raspy.client.mdp.Client; used by one thread, the one that made it. Example::

    from raspy.client.titanic import TitanicClient

    with TitanicClient("tcp://127.0.0.1:5514") as titanic:
        uuid = titanic.submit("pi-kitchen.heating", "20")  # stored when it returns
        # ... keep uuid somewhere durable; the worker may not even be running yet ...
        body = titanic.wait(uuid, timeout_s=60)   # polls titanic.reply with backoff
        titanic.close(uuid)                       # forget request and reply
        print([frame.decode() for frame in body])

A request may be executed more than once (§5.6): services reached through Titanic
must be idempotent.
"""

from __future__ import annotations

import time
from types import TracebackType
from typing import Final

from raspy.backoff import BackoffPolicy
from raspy.client.mdp import Client
from raspy.errors import ClientTimeout, TitanicError
from raspy.protocol import titanic as tsp
from raspy.protocol.mdp import Version
from raspy.protocol.titanic import Status
from raspy.transport.sockets import Context, CurveKeys

_LAST_POLL_S: Final = 0.2  # how long wait()'s poll at its deadline may take


# what a refused submit means to its caller (§5.3); 400 is "unknown" to the protocol
_REFUSED: Final = {
    Status.UNKNOWN: (
        "titanic.request answered 400: the request is malformed (its target is a "
        "name no worker can serve) or larger than the hub's titanic.max_body_bytes; "
        "do not retry it"
    ),
    Status.ERROR: "titanic.request answered 500: the hub could not store it; retry later",
    Status.PENDING: "titanic.request answered 300, which it never should",
}


def _uuid_frame(uuid: str) -> bytes:
    """A UUID as sent: any text, so that one that is no UUID of the hub's is answered
    400 (unknown) as RFC 9 has it, not a UnicodeEncodeError here."""
    return uuid.encode("utf-8", "surrogatepass")


def _to_bytes(value: bytes | str) -> bytes:
    return value.encode("utf-8") if isinstance(value, str) else value


class TitanicClient:
    """Titanic's three services as calls; see the module docstring.

    Raises ClientTimeout when the broker does not answer (after the MDP client's
    retries; submit sends once, see there) and TitanicError for a 400 or 500 where
    a result was expected.
    """

    def __init__(
        self,
        endpoint: str,
        *,
        version: Version = Version.V02,
        timeout_s: float = 2.5,
        retries: int = 3,
        context: Context | None = None,
        curve: CurveKeys | None = None,
    ) -> None:
        self._client = Client(
            endpoint,
            version=version,
            timeout_s=timeout_s,
            retries=retries,
            context=context,
            curve=curve,
        )

    def submit(self, service: bytes | str, *body: bytes | str) -> str:
        """Store a request for `service`; return its UUID once Titanic committed it.

        titanic.request is sent once, never resent: a resend while the first copy
        is being committed would store the request twice (it would run twice) and
        lose the first UUID. So `timeout_s` should cover the hub's slowest commit.
        Raises ClientTimeout when no answer comes within `timeout_s`: the request
        may have been stored all the same, under a UUID this client never learnt.
        Raises TitanicError with status 400 (malformed or too large: do not retry)
        or 500 (the store failed: retry later).
        """
        frames = [_to_bytes(frame) for frame in body]
        request = tsp.Request(_to_bytes(service), tuple(frames))
        try:
            reply = self._client.request(
                tsp.REQUEST_SERVICE, *tsp.encode_request(request), retries=1
            )
        except ClientTimeout as exc:
            raise ClientTimeout(
                f"{exc}; the request may have been stored all the same, under a "
                "UUID not known here (submitting it again may run it twice)"
            ) from None
        answer = tsp.decode_answer(reply)
        if answer.status is not Status.OK:
            raise TitanicError(answer.status.value, _REFUSED[answer.status])
        return tsp.accepted_uuid(answer)

    def reply(
        self, uuid: str, *, until: float | None = None
    ) -> tuple[bytes, list[bytes]]:
        """The status (b"200", b"300", b"400", b"500") and, with 200, the reply;
        ClientTimeout by `until` (time.monotonic()) when given."""
        answer = self._call(tsp.REPLY_SERVICE, [_uuid_frame(uuid)], until)
        return answer.status.value, list(answer.payload)

    def close(self, uuid: str) -> None:
        """Forget request and reply; idempotent. Raises TitanicError on 400 or 500."""
        answer = self._call(tsp.CLOSE_SERVICE, [_uuid_frame(uuid)])
        if answer.status is not Status.OK:
            raise TitanicError(
                answer.status.value, f"titanic.close answered {answer.status.name}"
            )

    def wait(
        self,
        uuid: str,
        timeout_s: float,
        poll_initial_s: float = 0.1,
        poll_max_s: float = 2.0,
    ) -> list[bytes]:
        """Poll titanic.reply until the reply is there; return its body.

        Waits poll_initial_s after the first 300 (or 500), doubling up to poll_max_s,
        never past the deadline. Raises ClientTimeout at the deadline (a broker that
        does not answer included: at most a fifth of a second later) and TitanicError
        on 400 (unknown UUID: waiting longer will not help).
        """
        # written so that a NaN, which no comparison holds for, is refused too
        if not (timeout_s > 0 and 0 < poll_initial_s <= poll_max_s):
            raise ValueError("need timeout_s > 0 and 0 < poll_initial_s <= poll_max_s")
        pauses = BackoffPolicy(poll_initial_s, poll_max_s)
        deadline = time.monotonic() + timeout_s
        polls = 0
        while True:
            # the poll at the deadline gets a moment to be answered, never the
            # MDP client's whole retries
            until = max(deadline, time.monotonic() + _LAST_POLL_S)
            status, body = self.reply(uuid, until=until)
            if status == Status.OK.value:
                return body
            if status == Status.UNKNOWN.value:
                raise TitanicError(status, f"titanic.reply: {uuid} is unknown")
            remaining_s = deadline - time.monotonic()
            if remaining_s <= 0:
                raise ClientTimeout(f"titanic: no reply for {uuid} in {timeout_s}s")
            polls += 1
            time.sleep(min(pauses.delay_s(polls), remaining_s))

    def disconnect(self) -> None:
        """Close the MDP client's socket (and its context if it made one)."""
        self._client.close()

    def __enter__(self) -> TitanicClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.disconnect()

    def _call(
        self, service: bytes, body: list[bytes], until: float | None = None
    ) -> tsp.Answer:
        return tsp.decode_answer(self._client.request(service, *body, until=until))
