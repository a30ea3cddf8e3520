"""A job's result as it arrives: where its bytes go (the caller's output, or memory), what is
counted for progress, what a download that starts again must undo first, and the failures that
make a body unusable as the result (:class:`ContentProblem`)."""

from __future__ import annotations

import io
from collections.abc import Generator

import h11

from ._coding import CodingError, Decoder, coding_of
from ._errors import DecartSDKError, OutputError, QueueResultError
from ._exchange import Response
from ._job import resume_hint
from ._ops import OutputReset, OutputWrite, Progress
from ._progress import Meter
from ._responses import header

__all__ = ["ContentProblem", "Download"]


class ContentProblem(Exception):
    """The result cannot be taken from this answer: ``error`` is the caller's to see,
    ``transient`` whether another request may do better (the job machine decides whether one
    is made)."""

    def __init__(self, error: DecartSDKError, *, transient: bool) -> None:
        super().__init__(error.message)
        self.error = error
        self.transient = transient


class Download:
    """The downloads of one call's result: a retried download starts again from nothing.

    A result kept in memory goes into one buffer, the size the server announced when it did,
    and that buffer becomes the caller's ``bytes`` without a copy (``BytesIO.getvalue()``
    hands over its buffer when nothing else holds it), so a video costs its own size once,
    not twice. It may not grow past *limit* bytes (``Driver(max_in_memory_result=...)``):
    a video that large belongs in an output, and a server sending without end must not take
    all the memory there is. Nothing is limited on its way to an output."""

    def __init__(self, *, to_output: bool, meter: Meter | None, limit: int) -> None:
        self.to_output = to_output
        self.meter = meter
        self.limit = limit
        self.job_id: str | None = None
        self.kept = io.BytesIO()
        # Whether the last download passed anything on: only then is there something to undo.
        self.written = False
        self.size = 0  # bytes of the result this download passed on
        self.status = 0  # of the answer being read
        self.decoder: Decoder | None = None  # for a body that came compressed

    def start(self, job_id: str) -> Generator[OutputReset, object, None]:
        """A download of *job_id*'s result begins: drop what an earlier, failed one passed
        on."""
        self.job_id = job_id
        self.size = 0
        self.decoder = None
        if self.written:
            self.written = False
            self.kept = io.BytesIO()
            if self.to_output:
                try:
                    yield OutputReset()
                except OutputError as exc:
                    raise self._output_failed(exc) from exc

    def head(self, head: h11.Response) -> None:
        """The head of the 2xx answer whose body follows."""
        self.status = head.status_code
        if self.meter is not None:
            self.meter.head(head)
        coding = coding_of(head.headers)
        if coding:
            try:
                self.decoder = Decoder(coding)
            except CodingError as exc:
                raise self._undecodable(coding, exc, transient=False) from exc
        if self.to_output or coding:  # a compressed body's length is not the video's
            return
        length = header(head.headers, b"content-length")
        if length is not None and length.isdigit():
            announced = int(length)
            if announced > self.limit:
                raise self._too_large(f"announced as {announced} bytes")
            # Zeroed pages the system maps only as they are written: the buffer costs what
            # has arrived. (Overwritten from the start; truncated at the end, should the
            # body stop short of it.)
            self.kept = io.BytesIO(bytes(announced))

    def sink(self, data: bytes) -> Generator[OutputWrite | Progress, object, None]:
        """A piece of the body, as the exchange received it."""
        if self.decoder is None:
            yield from self._keep(data)
        else:
            try:
                for piece in self.decoder.feed(data):
                    yield from self._keep(piece)
            except CodingError as exc:
                raise self._undecodable(self.decoder.coding, exc, transient=True) from exc
        if self.meter is not None:
            yield from self.meter.downloaded(len(data))

    def _keep(self, data: bytes) -> Generator[OutputWrite, object, None]:
        """A piece of the result itself."""
        self.written = True
        self.size += len(data)
        if self.to_output:
            try:
                yield OutputWrite(data)
            except OutputError as exc:
                raise self._output_failed(exc) from exc
        else:
            if self.size > self.limit:
                raise self._too_large(f"more than {self.limit} bytes so far")
            self.kept.write(data)

    def finish(self, response: Response) -> Generator[Progress, object, None]:
        """The whole body of the 2xx *response* arrived."""
        if self.decoder is not None:
            try:
                self.decoder.end()
            except CodingError as exc:
                raise self._undecodable(self.decoder.coding, exc, transient=True) from exc
        if not self.size:
            # A 204, or a 200 with nothing in it, is no video: reporting the job completed
            # with 0 bytes would hand the caller a broken file as a success. Transient: the
            # job's content exists once the job is completed, so an empty answer is a fault
            # on its way (a cache or a storage replica that does not hold it yet), like a body
            # cut short, and asking again cannot do harm; the retry budget bounds it.
            error = QueueResultError(
                f"Failed to get job content: {response.status} - the server sent an empty "
                f"body, not the video of job {self.job_id}{resume_hint(self.job_id)}",
                data={"status": response.status},
            )
            raise ContentProblem(error, transient=True)
        self.kept.truncate()
        if self.meter is not None:
            yield from self.meter.downloaded(0, final=True)

    def data(self) -> bytes | None:
        """The result for the caller: None when it went to the output."""
        return None if self.to_output else self.kept.getvalue()

    def _undecodable(self, coding: str, problem: CodingError, *, transient: bool) -> ContentProblem:
        """A compressed video that cannot be decoded: never passed on as it came. Transient
        when its data is broken or cut short (as a body cut short is); not for a coding this
        client does not know, which the server will use again."""
        error = QueueResultError(
            f"Failed to get job content: {self.status} - the server sent the video of job "
            f"{self.job_id} encoded as {coding!r}, and {problem}{resume_hint(self.job_id)}",
            data={"status": self.status},
            cause=problem,
        )
        return ContentProblem(error, transient=transient)

    def _too_large(self, size: str) -> ContentProblem:
        """Not transient: the video will be as large next time."""
        error = QueueResultError(
            f"Failed to get job content: {self.status} - the video of job {self.job_id} is "
            f"too large to keep in memory ({size}; max_in_memory_result is {self.limit} "
            "bytes). Pass output= (a path or a binary file) to stream it to a file instead"
            f"{resume_hint(self.job_id)}",
            data={"status": self.status},
        )
        return ContentProblem(error, transient=False)

    def _output_failed(self, error: OutputError) -> ContentProblem:
        """The transport could not write to the caller's output (no space left, no
        permission). Not transient: the next request's bytes would meet the same disk, and
        the server's content stays there to be fetched again once the caller has made room.
        The error itself is the transport's (it names the output); it gains the job id."""
        error.message += resume_hint(self.job_id)
        error.args = (error.message,)
        error.data["job_id"] = self.job_id
        return ContentProblem(error, transient=False)
