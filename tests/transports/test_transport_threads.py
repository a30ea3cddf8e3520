"""The daemon threads that run what may block for long (a name lookup, a read from a pipe) for
the blocking and asyncio clients: reused once free, never held by a call given up on, ended
when idle, and still working in a forked child."""

from __future__ import annotations

import os
import sys
import threading

import pytest
from decart_proto.transports import _threads
from decart_proto.transports._threads import in_daemon_thread


def test_a_free_thread_is_reused_and_is_a_daemon() -> None:
    first = in_daemon_thread(threading.current_thread).result(timeout=5)
    second = in_daemon_thread(threading.current_thread).result(timeout=5)
    assert second is first
    assert first.daemon and first is not threading.current_thread()


def test_a_call_still_running_holds_no_other() -> None:
    release = threading.Event()
    stuck = in_daemon_thread(release.wait)  # a pipe whose writer does not write
    assert in_daemon_thread(lambda: 42).result(timeout=5) == 42
    assert not stuck.done()
    release.set()
    assert stuck.result(timeout=5) is True


def test_the_outcome_is_the_calls_own_exception() -> None:
    with pytest.raises(ZeroDivisionError):
        in_daemon_thread(lambda: 1 // 0).result(timeout=5)


def test_an_idle_thread_ends(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_threads, "IDLE_SECONDS", 0.05)
    monkeypatch.setattr(_threads, "_idle", [])  # no thread of an earlier test to reuse
    thread = in_daemon_thread(threading.current_thread).result(timeout=5)
    thread.join(timeout=5)
    assert not thread.is_alive()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork() here")
def test_a_forked_child_gets_threads_of_its_own() -> None:
    """A child forked while the parent has an idle thread: that thread did not come along, so a
    call in the child must start one rather than wait for it."""
    in_daemon_thread(lambda: None).result(timeout=5)  # an idle thread in the parent
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child, which exits here whatever happens
        code = 1
        try:
            code = 0 if in_daemon_thread(lambda: 42).result(timeout=5) == 42 else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
