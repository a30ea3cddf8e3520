"""The API key out of every error the driver raises, in one place.

A hostile or broken server can echo the key anywhere: in a malformed head (which h11 quotes in
its own error), a chunk header, a status value, a job id, an error body. Rather than hoping
every message that quotes a server remembers to redact, each of the driver's calls passes what
it raises through :meth:`Redactor.error` on its way out: the message, the args, ``.data``, every
other attribute, ``.cause`` and the ``__cause__`` / ``__context__`` chains, foreign exceptions
included (one whose text cannot be cleaned is replaced by one of ours that carries the cleaned
text).

Any run of at least ``MIN_RUN`` consecutive characters of the key is masked, not only the whole
key: a message that quotes a server's bytes cut at some length can cut the key too, and half a
key is still most of a secret.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, AnyStr

from ._errors import DecartSDKError

__all__ = ["MIN_RUN", "REDACTED", "Redactor"]

REDACTED = "[redacted]"
MIN_RUN = 8
_OURS = frozenset({"message", "data", "cause"})


class Redactor:
    """Masks *secret* (the API key) and any *more* (a proxy's password and its Basic token)."""

    def __init__(self, secret: str, *more: str) -> None:
        self._pieces: set[str] = set()
        for each in (secret, *more):
            run = min(len(each), MIN_RUN)
            if run:
                self._pieces.update(each[i : i + run] for i in range(len(each) - run + 1))
        self._byte_pieces = {piece.encode("latin-1", "replace") for piece in self._pieces}

    # -- text ---------------------------------------------------------------------------------

    def text(self, text: str) -> str:
        """*text* with every run of the key's characters (``MIN_RUN`` or more) masked."""
        return _masked(text, self._pieces, REDACTED)

    def mentions(self, text: str) -> bool:
        return any(piece in text for piece in self._pieces)

    def value(self, value: Any, seen: dict[int, BaseException] | None = None) -> Any:
        """*value* masked: strings and bytes, the containers errors carry, exceptions."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, (bytes, bytearray)):
            masked = _masked(bytes(value), self._byte_pieces, REDACTED.encode())
            return type(value)(masked)
        if isinstance(value, (list, tuple)):
            items = [self.value(item, seen) for item in value]
            return items if isinstance(value, list) else tuple(items)
        if isinstance(value, dict):
            return {self.value(k, seen): self.value(v, seen) for k, v in value.items()}
        if isinstance(value, BaseException):
            return self._exception(value, {} if seen is None else seen)
        return value

    # -- errors -------------------------------------------------------------------------------

    def error(self, exc: BaseException) -> BaseException:
        """*exc* with the key masked everywhere in it and in what it carries: the same object
        when it could be cleaned in place, else (a foreign exception whose text comes from
        somewhere we cannot reach) one of ours in its place."""
        return self._exception(exc, {})

    def _exception(self, exc: BaseException, seen: dict[int, BaseException]) -> BaseException:
        done = seen.get(id(exc))
        if done is not None:
            return done
        seen[id(exc)] = exc  # a chain that comes back to it ends here
        if isinstance(exc, DecartSDKError):
            exc.message = self.text(exc.message)
            exc.data = self.value(exc.data, seen)
            if exc.cause is not None:
                exc.cause = self._exception(exc.cause, seen)
        suppress = exc.__suppress_context__  # setting __cause__ sets it
        cause, context = exc.__cause__, exc.__context__
        cause = None if cause is None else self._exception(cause, seen)
        context = None if context is None else self._exception(context, seen)
        try:
            exc.args = self.value(exc.args, seen)
            for name, value in list(vars(exc).items()):
                if name not in _OURS:
                    setattr(exc, name, self.value(value, seen))
            exc.__cause__, exc.__context__ = cause, context
            exc.__suppress_context__ = suppress
            cleaned = True
        except (AttributeError, TypeError):  # an attribute that cannot be set
            cleaned = False
        if isinstance(exc, DecartSDKError) or (cleaned and not self._leaks(exc)):
            return exc
        try:
            text = f"{type(exc).__name__}: {exc}"
        except Exception:  # a __str__ that fails: nothing of it can be shown
            text = type(exc).__name__
        ours = DecartSDKError(self.text(text))
        ours.__cause__, ours.__context__ = cause, context
        ours.__suppress_context__ = suppress
        ours.__traceback__ = exc.__traceback__
        seen[id(exc)] = ours
        return ours

    def _leaks(self, exc: BaseException) -> bool:
        try:
            return self.mentions(f"{exc}\n{exc!r}")
        except Exception:  # cannot be shown, so cannot be shown to be clean
            return True


def _masked(text: AnyStr, pieces: Iterable[AnyStr], mask: AnyStr) -> AnyStr:
    """*text* (str or bytes) with every span covered by one of *pieces* replaced by one *mask*
    per span."""
    spans: list[tuple[int, int]] = []
    for piece in pieces:
        at = text.find(piece)
        while at >= 0:
            spans.append((at, at + len(piece)))
            at = text.find(piece, at + 1)
    if not spans:
        return text
    spans.sort()
    out: list[AnyStr] = []
    done = 0
    start, end = spans[0]
    for a, b in spans[1:]:
        if a <= end:  # overlapping or touching: one span
            end = max(end, b)
            continue
        out += [text[done:start], mask]
        done, start, end = end, a, b
    out += [text[done:start], mask, text[end:]]
    return text[:0].join(out)
