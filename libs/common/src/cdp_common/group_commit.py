"""Group commit: many callers each wait until their document is stored, and the documents that arrive while a
write is in flight go to the store together in the next one. Under load one `insert_many` carries what dozens of
`insert_one` calls would have; when idle a document is written at once. Nothing is acknowledged before it is
stored, so no write is lost to a crash that an `insert_one` would have kept."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

Document = dict[str, Any]


class GroupCommit:
    def __init__(self, write: Callable[[list[Document]], Awaitable[Any]], max_batch: int = 500) -> None:
        self._write = write
        self.max_batch = max_batch
        self._pending: list[tuple[Document, asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def add(self, doc: Document) -> None:
        """Returns once `doc` is stored; raises what the write raised."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((doc, future))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._drain())
        await asyncio.shield(future)  # a caller that gives up does not cancel the others' write

    async def _drain(self) -> None:
        while self._pending:
            batch, self._pending = self._pending[: self.max_batch], self._pending[self.max_batch :]
            try:
                await self._write([doc for doc, _ in batch])
            except Exception as e:  # every caller of the batch hears it
                for _, future in batch:
                    if not future.done():
                        future.set_exception(e)
                        future.exception()  # retrieved here too: a caller that gave up leaves no warning
            else:
                for _, future in batch:
                    if not future.done():
                        future.set_result(None)
