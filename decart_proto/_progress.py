"""Progress of a transfer, counted into :class:`Progress` ops for the caller's ``on_progress``."""

from __future__ import annotations

from collections.abc import Callable, Generator

import h11

from ._multipart import BodyPlan
from ._ops import Progress
from ._responses import header

__all__ = ["Meter"]

DOWNLOAD_STEP = 1024 * 1024


class Meter:
    """Counts a transfer's bytes into :class:`Progress` ops: every piece of an upload, and a
    download at most once per ``DOWNLOAD_STEP`` and at its end (a download arrives in 64 KiB
    reads; a callback for each would cost more than it tells)."""

    def __init__(self) -> None:
        self.done = 0
        self.told = 0
        self.total: int | None = None

    def restart(self) -> None:
        self.done = self.told = 0
        self.total = None

    def uploaded(self, body: BodyPlan) -> Callable[[int], Generator[Progress, object, None]]:
        total = body.content_length

        def sent(n: int) -> Generator[Progress, object, None]:
            self.done += n
            yield Progress("upload", self.done, total)

        return sent

    def head(self, head: h11.Response) -> None:
        length = header(head.headers, b"content-length")
        self.total = int(length) if length is not None and length.isdigit() else None

    def downloaded(self, n: int, *, final: bool = False) -> Generator[Progress, object, None]:
        self.done += n
        if self.done - self.told >= DOWNLOAD_STEP or (final and self.done != self.told):
            self.told = self.done
            yield Progress("download", self.done, self.total)
