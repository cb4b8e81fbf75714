"""Group commit: concurrent single appends of one tenant share a transaction.

Appends of one tenant serialise on the tenant's write lock, and each commit waits for
its own disk flush. When several threads of one process append to the same tenant at
once, the first becomes the *leader*: it takes every waiting append (up to
``max_batch``) and writes them as one non-atomic batch, so each is still accepted or
rejected on its own, in arrival order, and one flush serves all. Followers sleep until
their result is set. When the leader's own append is done it hands leadership to the
oldest waiting append, so no thread serves others indefinitely.

With a single writer this adds one uncontended lock acquisition per append.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

__all__ = ["GroupCommitter"]

ItemT = TypeVar("ItemT")
ResultT = TypeVar("ResultT")


class _Slot(Generic[ItemT, ResultT]):
    """One submitted item; its Event is created only if it has to wait."""

    __slots__ = ("done", "error", "item", "lead", "result")

    def __init__(self, item: ItemT) -> None:
        self.item = item
        self.done: threading.Event | None = None
        self.result: ResultT | None = None
        self.error: BaseException | None = None
        self.lead = False


class GroupCommitter(Generic[ItemT, ResultT]):
    """Coalesces concurrent submissions per key into calls of ``write_batch``.

    ``write_batch(key, items)`` must return one result per item, in order; if it raises,
    every item of that call receives the exception.
    """

    def __init__(
        self,
        write_batch: Callable[[str, Sequence[ItemT]], Sequence[ResultT]],
        *,
        max_batch: int = 256,
    ) -> None:
        self._write_batch = write_batch
        self._max_batch = max_batch
        self._lock = threading.Lock()
        self._queues: dict[str, list[_Slot[ItemT, ResultT]]] = {}
        self._leading: set[str] = set()

    def submit(self, key: str, item: ItemT) -> ResultT:
        """Write ``item`` (alone or with concurrent ones) and return its result."""
        slot: _Slot[ItemT, ResultT] = _Slot(item)
        with self._lock:
            self._queues.setdefault(key, []).append(slot)
            if key not in self._leading:
                self._leading.add(key)
                slot.lead = True
            else:
                slot.done = threading.Event()
        if not slot.lead:
            assert slot.done is not None
            slot.done.wait()
            if not slot.lead:
                return self._outcome(slot)
        self._lead(key, slot)
        return self._outcome(slot)

    def _lead(self, key: str, own: _Slot[ItemT, ResultT]) -> None:
        while True:
            with self._lock:
                queue = self._queues[key]
                if own.result is not None or own.error is not None or not queue:
                    # Done: pass the lead to the oldest waiter, or give it up.
                    if queue:
                        successor = queue[0]
                        successor.lead = True
                        assert successor.done is not None
                        successor.done.set()
                    else:
                        self._leading.discard(key)
                        del self._queues[key]
                    return
                batch = queue[: self._max_batch]
                del queue[: self._max_batch]
            try:
                results = self._write_batch(key, [slot.item for slot in batch])
            except BaseException as exc:  # every waiter must be woken
                for slot in batch:
                    slot.error = exc
            else:
                for slot, result in zip(batch, results, strict=True):
                    slot.result = result
            for slot in batch:
                if slot is not own and slot.done is not None:
                    slot.done.set()

    @staticmethod
    def _outcome(slot: _Slot[ItemT, ResultT]) -> ResultT:
        if slot.error is not None:
            raise slot.error
        assert slot.result is not None
        return slot.result
