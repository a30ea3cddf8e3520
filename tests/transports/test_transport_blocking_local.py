"""The blocking client tells a failure of the caller's own input file from a network failure:
it is not retried, and reaches the caller as what it is. (A callback's: see
test_transport_local_failures, for every client.)"""

from __future__ import annotations

import errno
import io
import os
from typing import Any

import pytest
from decart_proto.transports.blocking import DecartClient
from transport_helpers import client_options

from decart_emulator import Emulator
from decart_proto import InvalidInputError, models

MODEL = models.video("lucy-2.1")
SIZE = 3 * 1024 * 1024  # several chunks of the upload


class _FailingDisk(io.RawIOBase):
    """An input on a disk that fails (EIO) after its first MiB: seekable, sized, and with no
    descriptor, so it is read and sent in chunks."""

    def __init__(self) -> None:
        self.position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.position

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        self.position = offset if whence == os.SEEK_SET else SIZE + offset
        return self.position

    def readinto(self, buffer: Any) -> int:
        if self.position >= 1024 * 1024:
            raise OSError(errno.EIO, os.strerror(errno.EIO))
        n = min(len(buffer), SIZE - self.position)
        buffer[:n] = bytes(n)
        self.position += n
        return n


def test_an_input_that_fails_to_read_mid_upload(emu: Emulator) -> None:
    submits = sum(r.method == "POST" for r in emu.requests)
    with DecartClient(**client_options(emu)) as client, pytest.raises(InvalidInputError) as caught:
        client.queue.submit({"model": MODEL, "data": _FailingDisk(), "prompt": "x"})
    message = caught.value.message
    assert message.startswith("data: ") and os.strerror(errno.EIO) in message
    # One attempt at most reached the server (it may have seen the start of the body).
    assert sum(r.method == "POST" for r in emu.requests) <= submits + 1
