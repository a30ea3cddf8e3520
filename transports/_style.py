"""What the async and the blocking client do differently besides their I/O, as twins that
``scripts/unasync.py`` swaps (``AsyncPoolLock`` for ``SyncPoolLock``, ``call_async`` for
``call_sync``): the pool's lock, and how the caller's callbacks are called."""

from __future__ import annotations

import contextlib
import inspect
import threading
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from decart_proto import JobStatusResponse, Progress

__all__ = [
    "AsyncPoolLock",
    "ProgressCallback",
    "StatusCallback",
    "SyncPoolLock",
    "call_async",
    "call_sync",
    "status_callback_in",
]

T = TypeVar("T")

# The caller's callbacks: plain functions, or (for the async clients) async ones.
StatusCallback = Callable[[JobStatusResponse], object]
ProgressCallback = Callable[[Progress], object]

# An async client's calls share one thread, and its pool's critical sections never await:
# nothing can interleave, so there is nothing to lock.
AsyncPoolLock = contextlib.nullcontext
# A blocking client's calls run on many threads at once.
SyncPoolLock = threading.Lock


async def call_async(callback: Callable[[T], object], value: T, name: str) -> None:
    """Call the caller's callback, and await it if it is async."""
    outcome = callback(value)
    if inspect.isawaitable(outcome):
        await outcome


def call_sync(callback: Callable[[T], object], value: T, name: str) -> None:
    """Call the caller's callback; an async one is refused, as no loop runs here to await it."""
    outcome = callback(value)
    if inspect.isawaitable(outcome):
        if inspect.iscoroutine(outcome):
            outcome.close()  # never to be awaited: no "never awaited" warning
        raise TypeError(
            f"the blocking client cannot await {name}: pass a plain function, or use "
            "decart_proto.transports.asyncio or .trio"
        )


def status_callback_in(options: Mapping[str, Any]) -> StatusCallback | None:
    """``on_status_change`` may come inside the options dict, as in the Queue API docs."""
    if not isinstance(options, Mapping):
        return None  # not the caller's options: the driver says what is wrong with them
    callback: StatusCallback | None = options.get("on_status_change")
    return callback
