"""A job's result as it arrives: where its bytes go (the caller's output, or memory), what is
counted for progress, and what a download that starts again must undo first."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import h11

from ._ops import Op, OutputReset, OutputWrite
from ._progress import Meter

__all__ = ["Download"]


class Download:
    """The downloads of one call's result: a retried download starts again from nothing."""

    def __init__(self, *, to_output: bool, meter: Meter | None) -> None:
        self.to_output = to_output
        self.meter = meter
        self.kept = bytearray()
        # Whether the last download passed anything on: only then is there something to undo.
        self.written = False

    def start(self) -> Generator[Op, Any, None]:
        """A download begins: drop what an earlier, failed one passed on."""
        if self.written:
            self.written = False
            self.kept.clear()
            if self.to_output:
                yield OutputReset()

    def head(self, head: h11.Response) -> None:
        """The head of the 2xx answer whose body follows."""
        if self.meter is not None:
            self.meter.head(head)

    def sink(self, data: bytes) -> Generator[Op, Any, None]:
        """A piece of the body, as the exchange received it."""
        self.written = True
        if self.to_output:
            yield OutputWrite(data)
        else:
            self.kept.extend(data)
        if self.meter is not None:
            yield from self.meter.downloaded(len(data))

    def finish(self) -> Generator[Op, Any, None]:
        """The whole body arrived."""
        if self.meter is not None:
            yield from self.meter.downloaded(0, final=True)

    def data(self) -> bytes | None:
        """The result for the caller: None when it went to the output."""
        return None if self.to_output else bytes(self.kept)
