"""The emulator's state, shared by the HTTP app, the control endpoint and the Python API.

Everything here is safe to use from the server thread and from the test's thread at once: the
job store and the fault queue lock themselves, the ledger has its own lock.
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import NamedTuple

from ._faults import Fault, FaultQueue
from ._form import ParsedForm, discard_form
from ._jobs import Job, JobStore, key_owner, status_at
from ._models import ModelSpec
from ._render import Renderer

__all__ = ["IN_MEMORY_PREFIX", "SMALL_UPLOAD_BYTES", "Core", "RequestRecord", "Settings"]

# Without a state directory and without re-encoding, an input of at most this size is kept in
# memory, and is its own result: a small submit then creates no file at all. (Creating a file
# costs about 1 ms of kernel time on the disks of the machines this was measured on; thousands
# of small jobs at once queued behind it.) Re-encoding works on files, and a state directory is
# kept on disk, so both keep every input there.
SMALL_UPLOAD_BYTES = 64 * 1024
IN_MEMORY_PREFIX = "memory:"  # a job's input_path and result_path when its bytes are in memory


class RequestRecord(NamedTuple):
    """One handled request; ``status`` is None when the connection was dropped unanswered."""

    method: str
    path: str
    status: int | None


@dataclass(frozen=True)
class Settings:
    """How the emulator behaves; see ``Emulator`` for each value's meaning."""

    api_keys: tuple[str, ...]
    pending_seconds: float
    processing_seconds: float
    job_limit_seconds: float
    max_upload_bytes: int
    control_endpoint: bool
    reencode: bool
    read_timeout_seconds: float

    def __post_init__(self) -> None:
        if not self.api_keys or not all(self.api_keys):
            raise ValueError("api_keys must hold at least one non-empty key")
        for name in ("pending_seconds", "processing_seconds", "job_limit_seconds"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative")
        if self.max_upload_bytes < 1:
            raise ValueError("max_upload_bytes must be positive")
        if not self.read_timeout_seconds > 0:
            raise ValueError("read_timeout_seconds must be positive")


class Core:
    """Jobs, faults and the record of requests, over a state directory."""

    def __init__(
        self,
        settings: Settings,
        state_dir: Path | None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self._temporary = state_dir is None
        self.state_dir: Path = (
            Path(tempfile.mkdtemp(prefix="decart-emulator-state-"))
            if state_dir is None
            else Path(state_dir)
        )
        self.spool_dir = self.state_dir / "uploads"
        self.jobs_dir = self.state_dir / "jobs"
        self.spool_dir.mkdir(parents=True, exist_ok=True)
        self.jobs_dir.mkdir(parents=True, exist_ok=True)
        self.store = JobStore(self.state_dir / "jobs.sqlite3", clock)
        self.renderer = Renderer(self.store, settings.reencode)
        self.faults = FaultQueue()
        self._lock = threading.Lock()
        self._requests: list[RequestRecord] = []
        self._submit_count = 0
        self.in_memory_bytes = (
            SMALL_UPLOAD_BYTES if self._temporary and not settings.reencode else 0
        )
        self._in_memory: dict[str, bytes] = {}  # job id -> input (and result), when small
        self.renderer.resume()

    def close(self) -> None:
        self.renderer.close()
        self.store.close()
        if self._temporary:
            shutil.rmtree(self.state_dir, ignore_errors=True)

    # -- the record of what happened ----------------------------------------------------------

    def record(self, method: str, path: str, status: int | None) -> None:
        with self._lock:
            self._requests.append(RequestRecord(method, path, status))

    @property
    def requests(self) -> list[RequestRecord]:
        with self._lock:
            return list(self._requests)

    @property
    def submit_count(self) -> int:
        with self._lock:
            return self._submit_count

    # -- jobs ---------------------------------------------------------------------------------

    def create_job(
        self, spec: ModelSpec, api_key: str, form: ParsedForm, fault: Fault | None
    ) -> Job:
        """Move the uploaded ``data`` into a new job's directory and start rendering it."""
        job_id = secrets.token_urlsafe(18)
        upload = form.files.pop("data")
        discard_form(form)
        if upload.path is None:
            assert upload.data is not None
            input_path = IN_MEMORY_PREFIX + job_id
            with self._lock:
                self._in_memory[job_id] = upload.data
        else:
            job_dir = self.jobs_dir / job_id
            job_dir.mkdir()
            input_path = str(job_dir / "input")
            os.replace(upload.path, input_path)
        settings = self.settings
        pending, processing, failure = settings.pending_seconds, settings.processing_seconds, None
        if fault is not None:
            if fault.job_pending_seconds is not None:
                pending = fault.job_pending_seconds
            if fault.job_processing_seconds is not None:
                processing = fault.job_processing_seconds
            if fault.job_fails:
                failure = fault.job_error
        job = Job(
            job_id=job_id,
            owner=key_owner(api_key),
            model=spec.name,
            created_at=self.clock(),
            pending_seconds=pending,
            processing_seconds=processing,
            limit_seconds=settings.job_limit_seconds,
            input_path=input_path,
            scripted_failure=failure,
        )
        self.store.add(job)
        with self._lock:
            self._submit_count += 1
        self.renderer.start(job)
        return job

    def job_for(self, job_id: str, api_key: str) -> Job | None:
        """The job, if it exists and belongs to ``api_key``: others' jobs look like no job."""
        job = self.store.get(job_id)
        if job is None or not secrets.compare_digest(job.owner, key_owner(api_key)):
            return None
        return job

    def result_in_memory(self, job: Job) -> bytes | None:
        """The result's bytes when it is kept in memory; None when it is a file."""
        if job.result_path is None or not job.result_path.startswith(IN_MEMORY_PREFIX):
            return None
        with self._lock:
            return self._in_memory[job.job_id]

    def status(self, job: Job) -> str:
        return status_at(job, self.clock())

    def job_statuses(self) -> Mapping[str, str]:
        now = self.clock()
        return MappingProxyType({job.job_id: status_at(job, now) for job in self.store.all()})

    def fail_job(self, job_id: str, error: str) -> None:
        self.store.force_failure(job_id, error)
