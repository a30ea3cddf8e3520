"""The error hierarchy.

The names, the ``.message`` / ``.data`` attributes and the message format are those of Decart's
official clients, so that code written against them catches the same things. Ours besides:
the transport-level failures (:class:`NetworkError`, :class:`RemoteProtocolError`,
:class:`IOTimeout`, :class:`TLSVerificationError`) that a transport throws into the driver and
that reach the caller as the cause (``__cause__``) of a queue error; and
:class:`LocalProtocolError`, which is not a :class:`DecartSDKError` at all: as in h11, a bug in
the code driving the core is no service error, and ``except DecartSDKError`` must not hide it.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "DeadlineExceededError",
    "DecartSDKError",
    "IOTimeout",
    "InvalidAPIKeyError",
    "InvalidBaseURLError",
    "InvalidInputError",
    "LocalProtocolError",
    "ModelNotFoundError",
    "NetworkError",
    "OutputError",
    "QueueResultError",
    "QueueStatusError",
    "QueueSubmitError",
    "RemoteProtocolError",
    "TLSVerificationError",
    "TooManyOpenFilesError",
]


class DecartSDKError(Exception):
    """Base of every error this library raises about the service, the network or the caller's
    input. *cause*, the failure underneath (a network error, a protocol error), becomes
    ``__cause__`` at once: an error is often made in one place and raised in another (after
    the retries, once the job machine has given up), and its chain must show why either way."""

    def __init__(
        self,
        message: str,
        data: dict[str, Any] | None = None,
        cause: BaseException | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.data: dict[str, Any] = dict(data) if data else {}
        if cause is not None:
            self.__cause__ = cause

    @property
    def cause(self) -> BaseException | None:
        """The failure underneath: ``__cause__`` (kept under the name the driver's callers
        know)."""
        return self.__cause__

    @cause.setter
    def cause(self, cause: BaseException | None) -> None:
        self.__cause__ = cause

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r})"


class InvalidAPIKeyError(DecartSDKError):
    """No API key, or one that cannot be sent in a header (the key is never shown)."""

    def __init__(self, problem: str | None = None) -> None:
        if problem is None:
            super().__init__(
                "Missing API key. Pass `api_key` to DecartClient() or set the DECART_API_KEY "
                "environment variable."
            )
        else:
            super().__init__(f"Invalid API key: {problem}")


class InvalidBaseURLError(DecartSDKError):
    def __init__(self, url: str | None = None, reason: str = "") -> None:
        text = f"Invalid base URL: {url!r}" if url else "Invalid base URL"
        if reason:
            text = f"{text}; {reason}"
        super().__init__(text)


class InvalidInputError(DecartSDKError):
    """An input of the caller's is refused before anything is sent: options that break a rule
    of the model, a job id that cannot name a job, a client setting."""


class ModelNotFoundError(DecartSDKError):
    def __init__(self, model: str) -> None:
        super().__init__(
            f"Model {model} not found; use one of models.VIDEO_MODELS or "
            "models.custom(name, path) for a model this release does not know"
        )
        self.model = model


class QueueSubmitError(DecartSDKError):
    """Submitting failed; ``.data["status"]`` is the HTTP status, or None for a network failure."""


class QueueStatusError(DecartSDKError):
    """Checking a job's status failed; ``.data["status"]`` as for :class:`QueueSubmitError`."""


class QueueResultError(DecartSDKError):
    """Fetching a job's result failed; ``.data["status"]`` as for :class:`QueueSubmitError`."""


class DeadlineExceededError(DecartSDKError, TimeoutError):
    """The call's deadline passed, or cannot be met: the server asked for a wait that ends
    after the last moment an attempt may start. ``.data``: ``"job_id"`` (set when a job
    exists, so that the wait can be resumed), ``"status"`` (the job's last known status),
    ``"last_failure"`` (the failure of the last attempt, also ``__cause__``, or None when every
    answer was good and the job simply did not finish in time). The properties read them
    typed."""

    @property
    def job_id(self) -> str | None:
        """The job to resume waiting for, when one was created."""
        job_id = self.data.get("job_id")
        return job_id if isinstance(job_id, str) else None

    @property
    def last_failure(self) -> DecartSDKError | None:
        """Why the last attempt failed (refused, timed out, a 503 and its request id...)."""
        failure = self.data.get("last_failure")
        return failure if isinstance(failure, DecartSDKError) else None


class LocalProtocolError(Exception):
    """The core was driven in a way it does not allow (an op answered wrongly, a body plan
    that does not add up, an event the job machine cannot take in its state): a bug in the
    code driving it, a transport. Not a :class:`DecartSDKError`, so that no handler of the
    service's errors hides it."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class NetworkError(DecartSDKError):
    """The connection failed: refused, reset, closed early, or a TLS failure. Whether trying
    again may help is the job machine's decision (``_classify.py``), not the error's."""


class TLSVerificationError(NetworkError):
    """The server's certificate was not trusted. Never retried (``_classify.py``): no retry
    makes it trusted."""


class TooManyOpenFilesError(NetworkError):
    """No file descriptor was left for a new connection (EMFILE, ENFILE). Never retried
    (``_classify.py``): it lasts while the process holds what it holds; the message says which
    limit to raise, or to lower ``max_connections``."""


class RemoteProtocolError(NetworkError):
    """The server broke HTTP or the API's contract (malformed head, truncated body, unknown
    status value)."""


class IOTimeout(NetworkError):
    """One I/O step did not finish before its deadline."""


class OutputError(DecartSDKError):
    """Writing the result to the caller's output failed (no space left, no permission): a local
    failure, never retried. A transport throws it into the driver at the ``OutputWrite`` or
    ``OutputReset`` op that failed, naming the output; the driver adds the job id to resume with
    (``.data["job_id"]``)."""
