"""The error classes every transport module re-exports, so that
``from transports.asyncio import DecartClient, QueueSubmitError, models`` works as the Queue
API docs' imports do."""

from decart_proto import DeadlineExceededError as DeadlineExceededError
from decart_proto import DecartSDKError as DecartSDKError
from decart_proto import InvalidAPIKeyError as InvalidAPIKeyError
from decart_proto import InvalidBaseURLError as InvalidBaseURLError
from decart_proto import InvalidInputError as InvalidInputError
from decart_proto import ModelNotFoundError as ModelNotFoundError
from decart_proto import NetworkError as NetworkError
from decart_proto import OutputError as OutputError
from decart_proto import QueueResultError as QueueResultError
from decart_proto import QueueStatusError as QueueStatusError
from decart_proto import QueueSubmitError as QueueSubmitError
from decart_proto import RemoteProtocolError as RemoteProtocolError
from decart_proto import TLSVerificationError as TLSVerificationError

__all__ = [
    "DeadlineExceededError",
    "DecartSDKError",
    "InvalidAPIKeyError",
    "InvalidBaseURLError",
    "InvalidInputError",
    "ModelNotFoundError",
    "NetworkError",
    "OutputError",
    "QueueResultError",
    "QueueStatusError",
    "QueueSubmitError",
    "RemoteProtocolError",
    "TLSVerificationError",
]
