"""Group commit, first stage: the writes of one actor turn go to the Store in one submit.

An actor adds each of its cores' Persist outputs (a token and its ops) while it works
through a turn; at the turn's end it flushes: one submit, so one transaction, for all.
The store's callback runs on its writer thread, so it only hands the batch number to
`on_done` (the actor tells itself); the actor then asks which tokens the batch held.
With the store's group commit off, every add() is a submit of its own.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from raspy.errors import StoreError, ValueTooLargeError
from raspy.storage.store import Op, Put, Store

BatchDone = Callable[[int, BaseException | None], None]  # (batch, error): writer thread


class TurnWrites:
    """Gathers (token, ops) until flush(); see the module docstring."""

    def __init__(
        self,
        store: Store,
        on_done: BatchDone,
        *,
        request_flush: Callable[[], None],
    ) -> None:
        self._store = store
        self._on_done = on_done
        self._request_flush = request_flush  # make flush() run at the turn's end
        self._gather = store.config.group_commit
        self._max_value_bytes = store.config.max_value_bytes
        self._ops: list[Op] = []
        self._tokens: list[int] = []
        self._flush_requested = False
        self._batches: dict[int, list[int]] = {}
        self._next_batch = 1

    def covered(self) -> None:
        """The caller flushes at the end of what it is doing: no flush to request."""
        self._flush_requested = True

    def add(self, token: int, ops: Sequence[Op]) -> None:
        """Gather one token's ops; ValueTooLargeError (nothing gathered) if a value
        is over store.max_value_bytes (the keys are the caller's own, so valid)."""
        limit = self._max_value_bytes
        for op in ops:
            if type(op) is Put and len(op.value) > limit:
                raise ValueTooLargeError(
                    f"value of {len(op.value)} bytes for {op.table} is over "
                    f"store.max_value_bytes ({limit})"
                )
        self._ops.extend(ops)
        self._tokens.append(token)
        if not self._gather:
            self.flush()
        elif not self._flush_requested:
            self._flush_requested = True
            self._request_flush()

    def flush(self) -> None:
        """One submit for every write gathered since the last flush."""
        self._flush_requested = False
        ops, tokens = self._ops, self._tokens
        self._ops, self._tokens = [], []
        if not tokens:
            return
        batch = self._next_batch
        self._next_batch += 1
        self._batches[batch] = tokens
        on_done = self._on_done
        try:
            self._store.submit_then(ops, lambda error: on_done(batch, error))
        except (StoreError, ValueError) as exc:
            on_done(batch, exc)

    def running(self) -> int:
        """Batches submitted whose tokens were not asked for yet (not finished, or
        their result not taken)."""
        return len(self._batches)

    def tokens_of(self, batch: int) -> list[int]:
        """The tokens a finished batch held (once: the batch is forgotten)."""
        return self._batches.pop(batch, [])
