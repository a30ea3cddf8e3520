"""A local emulator of Decart's Queue API, for tests, demos and offline development.

Serves ``POST /v1/jobs/{model}``, ``GET /v1/jobs/{job_id}`` and ``GET /v1/jobs/{job_id}/content``
as WIRE.md describes them, on uvicorn, with scripted faults. See docs/emulator.md.
"""

from ._core import RequestRecord as RequestRecord
from ._faults import Fault as Fault
from ._sample import sample_video_path as sample_video_path
from ._server import Emulator as Emulator

__all__ = ["Emulator", "Fault", "RequestRecord", "sample_video_path"]
