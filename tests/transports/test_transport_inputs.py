"""Odd and wrong inputs and outputs, through each client: file objects with only some of the
file methods are uploaded all the same; a path, a file object or an output that cannot be used
is the caller's error (an InvalidInputError naming it and why), told before anything is sent
when it can be."""

from __future__ import annotations

import errno
import io
import os
from pathlib import Path
from typing import Any

import pytest

from decart_emulator import Emulator
from decart_proto import InvalidInputError, models

pytestmark = pytest.mark.anyio

MODEL = models.video("lucy-2.1")
DATA = os.urandom(300_000)


class _ReadOnly:
    """A file object with read() alone: no size, so it goes chunked."""

    def __init__(self, data: bytes) -> None:
        self._source = io.BytesIO(data)

    def read(self, size: int = -1) -> bytes:
        return self._source.read(size)


class _NoReadinto(_ReadOnly):
    """Seekable, so sized, but with neither readinto() nor a descriptor."""

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._source.tell()

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        return self._source.seek(offset, whence)


class _CannotTell(_NoReadinto):
    def tell(self) -> int:
        raise OSError(errno.EIO, os.strerror(errno.EIO))


class _ReadsText(_ReadOnly):
    def read(self, size: int = -1) -> Any:
        return "text"


class _ReadFails(_ReadOnly):
    def read(self, size: int = -1) -> bytes:
        raise OSError(errno.EIO, os.strerror(errno.EIO))


@pytest.mark.usefixtures("instant_jobs")
@pytest.mark.parametrize("kind", [_ReadOnly, _NoReadinto])
async def test_a_file_object_with_few_methods_is_uploaded(connect: Any, kind: type) -> None:
    async with connect() as api:
        result = await api.queue.submit_and_poll(
            {"model": MODEL, "data": kind(DATA), "prompt": "x"}
        )
    assert result.data == DATA


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        (_CannotTell, os.strerror(errno.EIO)),
        (_ReadsText, "file object must return bytes from read()"),
        (_ReadFails, os.strerror(errno.EIO)),
    ],
)
async def test_a_file_object_that_fails_is_the_callers_error(
    connect: Any, emu: Emulator, kind: type, reason: str
) -> None:
    jobs = emu.submit_count
    async with connect() as api:
        with pytest.raises(InvalidInputError) as caught:
            await api.queue.submit({"model": MODEL, "data": kind(DATA), "prompt": "x"})
    assert caught.value.message.startswith("data: ") and reason in caught.value.message
    # A failed probe stops the call before it sends; a failed read abandons the upload: no job
    # is created either way. (Jobs, not POST records: the record of an earlier test's abandoned
    # upload may arrive during this one.)
    assert emu.submit_count == jobs


@pytest.mark.parametrize("kind", ["missing", "directory"])
async def test_a_path_that_cannot_be_read_is_refused_before_sending(
    connect: Any, emu: Emulator, tmp_path: Path, kind: str
) -> None:
    path = tmp_path / "input.mp4"
    if kind == "directory":
        path.mkdir()
    jobs = emu.submit_count
    async with connect() as api:
        with pytest.raises(InvalidInputError) as caught:
            await api.queue.submit({"model": MODEL, "data": path, "prompt": "x"})
    expected = "cannot read" if kind == "missing" else "is not a regular file"
    assert str(path) in caught.value.message and expected in caught.value.message
    assert emu.submit_count == jobs


@pytest.mark.parametrize("kind", ["no directory", "not an output"])
async def test_an_output_that_cannot_be_used_is_refused_before_sending(
    connect: Any, emu: Emulator, tmp_path: Path, kind: str
) -> None:
    output: Any = tmp_path / "nowhere" / "out.mp4" if kind == "no directory" else 42
    requests = len(emu.requests)
    async with connect() as api:
        with pytest.raises(InvalidInputError) as caught:
            await api.queue.result("job-1", output=output)
    expected = "does not exist" if kind == "no directory" else "a path or a binary file object"
    assert expected in caught.value.message
    assert len(emu.requests) == requests
