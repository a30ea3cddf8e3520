"""decart_proto: the sans-IO core of a Decart Queue API client.

Three layers, each usable alone — messages (``models``, request builders, response readers,
multipart body plans), the HTTP/1.1 exchange on h11, and the job state machine — composed by
:class:`Driver`, whose generators yield the primitive I/O ops of ``_ops`` for a transport to
run. No sockets, clocks, threads or files in here: see docs/transport-recipe.md.
"""

from . import models as models
from ._driver import Clock as Clock
from ._driver import Driver as Driver
from ._driver import Randomness as Randomness
from ._errors import DeadlineExceededError as DeadlineExceededError
from ._errors import DecartSDKError as DecartSDKError
from ._errors import InvalidAPIKeyError as InvalidAPIKeyError
from ._errors import InvalidBaseURLError as InvalidBaseURLError
from ._errors import InvalidInputError as InvalidInputError
from ._errors import IOTimeout as IOTimeout
from ._errors import LocalProtocolError as LocalProtocolError
from ._errors import ModelNotFoundError as ModelNotFoundError
from ._errors import NetworkError as NetworkError
from ._errors import OutputError as OutputError
from ._errors import QueueResultError as QueueResultError
from ._errors import QueueStatusError as QueueStatusError
from ._errors import QueueSubmitError as QueueSubmitError
from ._errors import RemoteProtocolError as RemoteProtocolError
from ._errors import TLSVerificationError as TLSVerificationError
from ._exchange import Response as Response
from ._exchange import exchange as exchange
from ._inputs import FileInfo as FileInfo
from ._inputs import FileInput as FileInput
from ._inputs import SubmitForm as SubmitForm
from ._inputs import prepare_submit as prepare_submit
from ._job import JobMachine as JobMachine
from ._job import Mode as Mode
from ._job import Verdict as Verdict
from ._job_state import TRANSITIONS as TRANSITIONS
from ._job_state import JobEvent as JobEvent
from ._job_state import JobState as JobState
from ._job_state import next_state as next_state
from ._multipart import BodyPlan as BodyPlan
from ._multipart import FileRegion as FileRegion
from ._multipart import plan_body as plan_body
from ._ops import Acquire as Acquire
from ._ops import Connect as Connect
from ._ops import Connection as Connection
from ._ops import DriverGen as DriverGen
from ._ops import Notify as Notify
from ._ops import Op as Op
from ._ops import OutputReset as OutputReset
from ._ops import OutputWrite as OutputWrite
from ._ops import ProbeFile as ProbeFile
from ._ops import Progress as Progress
from ._ops import ReadFile as ReadFile
from ._ops import Receive as Receive
from ._ops import Release as Release
from ._ops import Reply as Reply
from ._ops import SendBytes as SendBytes
from ._ops import SendFile as SendFile
from ._ops import Sleep as Sleep
from ._ops import StartTLS as StartTLS
from ._options import ClipOptions as ClipOptions
from ._options import EditOptions as EditOptions
from ._options import RestyleOptions as RestyleOptions
from ._options import SubmitOptions as SubmitOptions
from ._policy import DEFAULT_JOB_TIMEOUT as DEFAULT_JOB_TIMEOUT
from ._policy import DEFAULT_MAX_IN_MEMORY_RESULT as DEFAULT_MAX_IN_MEMORY_RESULT
from ._policy import PollPolicy as PollPolicy
from ._policy import RetryPolicy as RetryPolicy
from ._policy import Timeouts as Timeouts
from ._pool import ConnectionPool as ConnectionPool
from ._requests import Credentials as Credentials
from ._requests import Origin as Origin
from ._requests import Target as Target
from ._requests import parse_base_url as parse_base_url
from ._requests import result_request as result_request
from ._requests import status_request as status_request
from ._requests import submit_request as submit_request
from ._responses import JobStatusResponse as JobStatusResponse
from ._responses import JobSubmitResponse as JobSubmitResponse
from ._results import CompletedResult as CompletedResult
from ._results import FailedResult as FailedResult
from ._results import QueueJobResult as QueueJobResult
from ._results import SavedResult as SavedResult
from ._version import __version__ as __version__
