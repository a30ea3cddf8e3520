"""Render workers: turn a job's input into its result off the event loop.

Re-encoding a video is CPU work; it runs in a small thread pool so the server keeps answering
status polls meanwhile. The worker records its outcome in the job store; the job's status
follows from it (``_jobs.status_at``).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ._jobs import Job, JobStore
from ._video import RenderError, render_grayscale

__all__ = ["Renderer"]

RESULT_NAME = "result.mp4"


class Renderer:
    """Renders results with PyAV when ``reencode`` is true; otherwise the result is the input."""

    def __init__(self, store: JobStore, reencode: bool, workers: int = 2) -> None:
        self._store = store
        self._reencode = reencode
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="decart-emulator-render")

    def start(self, job: Job) -> None:
        if not self._reencode:
            self._store.record_render(job.job_id, job.input_path, None)
            return
        self._pool.submit(self._render, job)

    def resume(self) -> None:
        """Start again the renders a previous run left unfinished (state directory restart)."""
        for job in self._store.all():
            if job.rendered_at is None:
                self.start(job)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def _render(self, job: Job) -> None:
        source = Path(job.input_path)
        target = source.with_name(RESULT_NAME)
        try:
            render_grayscale(source, target)
        except RenderError as exc:
            self._store.record_render(job.job_id, None, str(exc))
        except Exception as exc:  # a worker must always record an outcome, or the job hangs
            self._store.record_render(job.job_id, None, f"render failed: {exc!r}")
        else:
            self._store.record_render(job.job_id, str(target), None)
