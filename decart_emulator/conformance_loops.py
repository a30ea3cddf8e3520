"""How the conformance kit runs a client's calls: on the caller's thread for a blocking client,
on an event loop of its own (in a background thread) for an async one, so that one scenario,
written once as plain code, drives every style.

A scenario runs each call to its end (:meth:`Loop.call`) or starts it and cancels it the loop's
own way (:meth:`Loop.start`, :meth:`Running.cancel`: ``task.cancel()`` on asyncio, a cancel
scope on trio). A blocking call cannot be cancelled from outside: for it, the kit interrupts a
call with its ``timeout`` instead (``Loop.cancellable`` is False).

A loop of another kind (Qt, gevent, a loop of your own) is one more :class:`Style`: ``open()``
returns a :class:`Loop` whose ``call`` and ``start`` run a function on that loop's thread, and
await what it returns when that is awaitable.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import importlib
import inspect
import threading
from collections.abc import Callable
from typing import Any, Protocol

__all__ = [
    "BLOCKING",
    "AsyncioStyle",
    "CallCancelled",
    "Loop",
    "Running",
    "Style",
    "TrioStyle",
]

Work = Callable[[], Any]  # a client's call: returns its answer, or an awaitable of it


class CallCancelled(Exception):
    """What waiting for a call says when the call ended by the loop's own cancellation."""


class Running(Protocol):
    """A call started on a loop."""

    def done(self) -> bool: ...

    def cancel(self) -> None:
        """Cancel the call the loop's own way; :meth:`wait` then raises ``CallCancelled``."""
        ...

    def wait(self, limit: float | None = None) -> Any:
        """The call's answer, or its exception, once it has ended; ``TimeoutError`` when it
        has not ended within *limit* seconds."""
        ...


class Loop(Protocol):
    cancellable: bool  # whether Running.cancel works (a blocking call has no outside cancel)

    def call(self, work: Work) -> Any:
        """``work()`` on the loop, awaited if it returns an awaitable: its answer or its
        exception."""
        ...

    def start(self, work: Work) -> Running: ...

    def close(self) -> None: ...


class Style(Protocol):
    name: str

    def open(self) -> Loop:
        """A loop for one scenario; closed at its end."""
        ...


class _Future:
    """A call's end, as the thread that waits for it sees it."""

    def __init__(self) -> None:
        self.future: concurrent.futures.Future[Any] = concurrent.futures.Future()

    def done(self) -> bool:
        return self.future.done()

    def wait(self, limit: float | None = None) -> Any:
        # Not future.result(limit): what it raises when time is up is a TimeoutError, as is
        # the DeadlineExceededError a call may end with.
        concurrent.futures.wait([self.future], limit)
        if not self.future.done():
            raise TimeoutError(f"the call has not ended after {limit} s")
        return self.future.result()


# -- blocking -------------------------------------------------------------------------------


class _Thread(_Future):
    def __init__(self, work: Work) -> None:
        super().__init__()
        threading.Thread(target=self._run, args=(work,), daemon=True).start()

    def _run(self, work: Work) -> None:
        try:
            self.future.set_result(_never_awaitable(work()))
        except BaseException as exc:
            self.future.set_exception(exc)

    def cancel(self) -> None:
        raise NotImplementedError("a blocking call cannot be cancelled from outside")


def _never_awaitable(value: Any) -> Any:
    if inspect.isawaitable(value):
        raise TypeError(f"a blocking client's call returned an awaitable: {value!r}")
    return value


class _BlockingLoop:
    cancellable = False

    def call(self, work: Work) -> Any:
        return _never_awaitable(work())

    def start(self, work: Work) -> Running:
        return _Thread(work)

    def close(self) -> None:
        pass


class _BlockingStyle:
    name = "blocking"

    def open(self) -> Loop:
        return _BlockingLoop()


BLOCKING: Style = _BlockingStyle()
"""A blocking client: each call runs on the calling thread (a started one, on a thread of its
own)."""


async def _settle(work: Work) -> Any:
    answer = work()
    if inspect.isawaitable(answer):
        answer = await answer
    return answer


# -- asyncio --------------------------------------------------------------------------------


class _AsyncioRunning(_Future):
    def __init__(self, loop: asyncio.AbstractEventLoop, work: Work) -> None:
        super().__init__()
        self._loop = loop
        created = concurrent.futures.Future[asyncio.Task[Any]]()
        loop.call_soon_threadsafe(lambda: created.set_result(self._create(work)))
        self._task = created.result()

    def _create(self, work: Work) -> asyncio.Task[Any]:
        task = self._loop.create_task(_settle(work))
        task.add_done_callback(self._ended)
        return task

    def _ended(self, task: asyncio.Task[Any]) -> None:
        if task.cancelled():
            self.future.set_exception(CallCancelled("cancelled (asyncio.CancelledError)"))
        elif (error := task.exception()) is not None:
            self.future.set_exception(error)
        else:
            self.future.set_result(task.result())

    def cancel(self) -> None:
        self._loop.call_soon_threadsafe(self._task.cancel)


class _AsyncioLoop:
    cancellable = True

    def __init__(self, new_loop: Callable[[], asyncio.AbstractEventLoop]) -> None:
        self._loop = new_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()

    def call(self, work: Work) -> Any:
        return self.start(work).wait()

    def start(self, work: Work) -> Running:
        return _AsyncioRunning(self._loop, work)

    def close(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()


class AsyncioStyle:
    """An asyncio client, on a loop made by *new_loop* (``asyncio.new_event_loop``;
    ``uvloop.new_event_loop`` for uvloop)."""

    def __init__(
        self,
        new_loop: Callable[[], asyncio.AbstractEventLoop] = asyncio.new_event_loop,
        name: str = "asyncio",
    ) -> None:
        self.name = name
        self._new_loop = new_loop

    def open(self) -> Loop:
        return _AsyncioLoop(self._new_loop)


# -- trio -----------------------------------------------------------------------------------


class _TrioRunning(_Future):
    def __init__(self, trio: Any, token: Any) -> None:
        super().__init__()
        self.scope = trio.CancelScope()
        self._trio = trio
        self._token = token

    async def run(self, work: Work) -> None:
        outcome: Any = None
        error: BaseException | None = None
        with self.scope:
            try:
                outcome = await _settle(work)
            except Exception as exc:
                error = exc
        if self.scope.cancelled_caught:
            error = CallCancelled("cancelled (a trio cancel scope)")
        if error is not None:
            self.future.set_exception(error)
        else:
            self.future.set_result(outcome)

    def cancel(self) -> None:
        self._trio.from_thread.run_sync(self.scope.cancel, trio_token=self._token)


class _TrioLoop:
    cancellable = True

    def __init__(self) -> None:
        # Imported here: trio is an extra of its own, which a user of asyncio need not have.
        self._trio = trio = importlib.import_module("trio")
        ready = threading.Event()
        self._nursery: Any = None
        self._stop: Any = None
        self._token: Any = None

        async def main() -> None:
            self._stop = trio.Event()
            self._token = trio.lowlevel.current_trio_token()
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                ready.set()
                await self._stop.wait()

        self._thread = threading.Thread(target=trio.run, args=(main,), daemon=True)
        self._thread.start()
        ready.wait(10)

    def call(self, work: Work) -> Any:
        return self.start(work).wait()

    def start(self, work: Work) -> Running:
        running = _TrioRunning(self._trio, self._token)
        run = self._trio.from_thread.run_sync
        run(self._nursery.start_soon, running.run, work, trio_token=self._token)
        return running

    def close(self) -> None:
        with contextlib.suppress(self._trio.RunFinishedError):
            self._trio.from_thread.run_sync(self._stop.set, trio_token=self._token)
        self._thread.join(10)


class TrioStyle:
    """A trio client, on a ``trio.run`` of its own."""

    name = "trio"

    def open(self) -> Loop:
        return _TrioLoop()
