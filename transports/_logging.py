"""The driver's events (``decart_proto._events``) in the caller's log and event hook.

Written once for every style: the run loop hands each :class:`Report` op's event here to be
logged, and calls the hook itself (awaited or not is the style's). Before each call the facade
asks :func:`listening` at which level anyone listens, so that the driver builds no event that
nobody would read: a process polling thousands of jobs with logging at WARNING builds the
events of retries and deadlines only, which are rare, and none of its requests.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from decart_proto import Event
from decart_proto._events import DEBUG, INFO, WARNING

__all__ = ["LOGGER", "EventHook", "listening", "log"]

LOGGER = logging.getLogger("decart_proto")
# A library's log is the application's to show: without a handler of its own, Python's last
# resort would print our warnings to stderr unasked (the logging HOWTO's advice for libraries).
LOGGER.addHandler(logging.NullHandler())

# The caller's event hook: called with each event (awaited when async, by the async clients).
EventHook = Callable[[Event], object]


def listening(hook: EventHook | None) -> int | None:
    """The lowest level at which anyone listens (a call's ``events=``): every event for a
    hook, else what the ``decart_proto`` logger would record (its level, its parents',
    ``logging.disable``); None when nobody listens at all."""
    if hook is not None:
        return DEBUG
    for level in (DEBUG, INFO, WARNING):
        if LOGGER.isEnabledFor(level):
            return level
    return None


def log(event: Event) -> None:
    """*event* as a log record: its message (the job named, the key already masked by the
    driver), at its level, with the event itself as the record's ``decart_event`` attribute
    for handlers that want its fields."""
    if LOGGER.isEnabledFor(event.level):
        LOGGER.log(event.level, event.message(), extra={"decart_event": event})
