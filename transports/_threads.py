"""Daemon threads for the calls that may block for long (a name lookup, a read from a pipe),
for callers that wait only until their deadline.

Not an executor's threads: a program's exit (and ``asyncio.run``) waits for those, so a lookup
that hangs or a pipe whose writer never writes would hold the program long after the call had
ended at its deadline. A thread here is a daemon, finishes what it was given whether or not
anyone still waits, and then waits for more work for a while before it ends: a 1 GiB upload
from a pipe reads 4,096 times, and starting a thread for each read would be waste.
"""

from __future__ import annotations

import concurrent.futures
import functools
import os
import queue
import threading
from collections.abc import Callable
from typing import TypeVar

__all__ = ["in_daemon_thread"]

T = TypeVar("T")
# How long a thread without work waits for more before it ends.
IDLE_SECONDS = 10.0

_lock = threading.Lock()
_idle: list[queue.SimpleQueue[Callable[[], Callable[[], None]]]] = []  # idle threads' inboxes


def _forget_threads() -> None:
    """In a forked child: its parent's threads did not come along, nor may its lock's state."""
    global _lock  # noqa: PLW0603 - the module's one lock, made anew
    _lock = threading.Lock()
    _idle.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_threads)


def in_daemon_thread(call: Callable[[], T]) -> concurrent.futures.Future[T]:
    """``call()`` started on a daemon thread; its outcome, as a future. Once the outcome is
    there, the thread is free for the next call."""
    future: concurrent.futures.Future[T] = concurrent.futures.Future()

    def work() -> Callable[[], None]:
        try:
            value = call()
        except BaseException as exc:  # handed to whoever waits for the future
            return functools.partial(future.set_exception, exc)
        return functools.partial(future.set_result, value)

    with _lock:
        inbox = _idle.pop() if _idle else None
    if inbox is None:
        inbox = queue.SimpleQueue()
        threading.Thread(
            target=_serve, args=(inbox,), name="decart-proto worker", daemon=True
        ).start()
    inbox.put(work)
    return future


def _serve(inbox: queue.SimpleQueue[Callable[[], Callable[[], None]]]) -> None:
    while True:
        try:
            work = inbox.get(timeout=IDLE_SECONDS)
        except queue.Empty:
            with _lock:
                if inbox in _idle:
                    _idle.remove(inbox)
                    return
            continue  # taken by a caller just now: its work is on its way
        settle = work()
        with _lock:
            _idle.append(inbox)
        settle()  # after the thread is free again: a caller that has the outcome may reuse it
        del work, settle  # nothing of a call outlives it here
