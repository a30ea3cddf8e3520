"""What a request came to, as the job machine needs it: a response, or the absence of one, becomes
one :class:`Verdict` (``_job.py``): a :class:`JobEvent` and the hints that go with it (the error
the caller sees should the call end there, the server's ``Retry-After``, a submit's job id).

Pure functions of what happened, with no knowledge of the call: whether the event ends the call,
is retried or is waited out is the table's to say (``_job_state.py``).
"""

from __future__ import annotations

from ._download import ContentProblem
from ._errors import DecartSDKError, OutputError, TLSVerificationError, TooManyOpenFilesError
from ._exchange import ExchangeFailed, Response
from ._job import Verdict
from ._job_state import JobEvent
from ._proxy import ProxyError
from ._responses import Operation, error_for, read_job_json, retry_after

__all__ = ["answered", "unanswered", "unusable"]

E = JobEvent
_STATUS_EVENTS = {
    "pending": E.PENDING,
    "processing": E.PROCESSING,
    "completed": E.COMPLETED,
    "failed": E.FAILED,
}


def answered(op: Operation, response: Response) -> Verdict:
    """A whole response to *op*. For a result, a 2xx one whose body went, whole and usable, to
    the download."""
    code = response.status
    if 200 <= code < 300:
        if op is Operation.RESULT:
            return Verdict(E.FETCHED)
        try:
            job_id, status = read_job_json(op, code, response.body, coding=response.coding)
        except DecartSDKError as exc:  # a 2xx the API's contract does not allow
            return Verdict(E.GIVE_UP, exc)
        return Verdict(_STATUS_EVENTS[status], job_id=job_id)
    wait = retry_after(response.headers)
    error = error_for(op, code, response.headers, response.body, truncated=response.truncated)
    if code in (408, 429) or code >= 500:
        # Worth asking again (RFC 9110 §15.5.9, §15.6; RFC 6585 §4). A 429, and a 503 that says
        # when to come back, are refusals: the server did not do the work (no job was created).
        refused = code == 429 or (code == 503 and wait is not None)
        return Verdict(E.NOT_DONE if refused else E.MAYBE_DONE, error, wait)
    if op is Operation.RESULT and code >= 400 and code not in (401, 403):
        # The content of a job that is not completed (a failed one, say); not an auth problem.
        return Verdict(E.NO_CONTENT, error)
    return Verdict(E.GIVE_UP, error)


def unanswered(op: Operation, failed: ExchangeFailed) -> Verdict:
    """No response to *op*: the connection failed, timed out, or the server broke HTTP."""
    cause = failed.error
    error = op.error(f"Failed to {op.phrase}: {cause.message}", data={"status": None}, cause=cause)
    if isinstance(cause, TLSVerificationError):
        event = E.GIVE_UP  # no retry makes a certificate trusted
    elif isinstance(cause, TooManyOpenFilesError):
        event = E.GIVE_UP  # the descriptors stay taken while the process holds them
    elif isinstance(cause, ProxyError) and cause.status < 500:
        event = E.GIVE_UP  # the proxy's refusal (407: its credentials) stands on a retry
    elif failed.stale:
        event = E.STALE
    else:
        # Refused, reset, timed out, cut short: the network's troubles pass. Whether the request
        # may have done its work depends only on whether any of it left.
        event = E.MAYBE_DONE if failed.sent else E.NOT_DONE
    return Verdict(event, error)


def unusable(problem: ContentProblem) -> Verdict:
    """A 2xx answer to a result request whose body cannot be the result."""
    if isinstance(problem.error, OutputError):
        # The caller's own output failed (a full disk): the next download meets the same disk.
        return Verdict(E.GIVE_UP, problem.error)
    return Verdict(E.MAYBE_DONE if problem.transient else E.GIVE_UP, problem.error)
