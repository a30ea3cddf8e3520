"""The names every client module re-exports, so that the Queue API docs' examples run with only
their import line changed (``from decart_proto.transports.trio import DecartClient, models``):
the models, the errors, and the types a call answers with."""

from decart_proto import DeadlineExceededError as DeadlineExceededError
from decart_proto import DecartSDKError as DecartSDKError
from decart_proto import InvalidAPIKeyError as InvalidAPIKeyError
from decart_proto import InvalidBaseURLError as InvalidBaseURLError
from decart_proto import InvalidInputError as InvalidInputError
from decart_proto import JobStatusResponse as JobStatusResponse
from decart_proto import JobSubmitResponse as JobSubmitResponse
from decart_proto import ModelNotFoundError as ModelNotFoundError
from decart_proto import NetworkError as NetworkError
from decart_proto import OutputError as OutputError
from decart_proto import PollPolicy as PollPolicy
from decart_proto import Progress as Progress
from decart_proto import ProxyError as ProxyError
from decart_proto import QueueJobResult as QueueJobResult
from decart_proto import QueueResultError as QueueResultError
from decart_proto import QueueStatusError as QueueStatusError
from decart_proto import QueueSubmitError as QueueSubmitError
from decart_proto import RemoteProtocolError as RemoteProtocolError
from decart_proto import RetryPolicy as RetryPolicy
from decart_proto import Timeouts as Timeouts
from decart_proto import TLSVerificationError as TLSVerificationError
from decart_proto import TooManyOpenFilesError as TooManyOpenFilesError
from decart_proto import models as models

__all__ = [
    "DeadlineExceededError",
    "DecartSDKError",
    "InvalidAPIKeyError",
    "InvalidBaseURLError",
    "InvalidInputError",
    "JobStatusResponse",
    "JobSubmitResponse",
    "ModelNotFoundError",
    "NetworkError",
    "OutputError",
    "PollPolicy",
    "Progress",
    "ProxyError",
    "QueueJobResult",
    "QueueResultError",
    "QueueStatusError",
    "QueueSubmitError",
    "RemoteProtocolError",
    "RetryPolicy",
    "TLSVerificationError",
    "Timeouts",
    "TooManyOpenFilesError",
    "models",
]
