"""A local emulator of Decart's Queue API, for tests, demos and offline development.

Serves ``POST /v1/jobs/{model}``, ``GET /v1/jobs/{job_id}`` and ``GET /v1/jobs/{job_id}/content``
as WIRE.md describes them, on uvicorn, with scripted faults. See docs/emulator.md.
"""

# The server's stack comes from the 'emulator' extra; without it, say which extra to install
# rather than let a bare "No module named 'python_multipart'" escape from deep inside.
_EXTRA_MODULES = {"uvicorn", "httptools", "python_multipart", "trustme"}
try:
    from ._core import RequestRecord as RequestRecord
    from ._faults import Fault as Fault
    from ._sample import sample_video_path as sample_video_path
    from ._server import Emulator as Emulator
except ModuleNotFoundError as exc:
    if (exc.name or "").partition(".")[0] not in _EXTRA_MODULES:
        raise
    raise ModuleNotFoundError(
        f"decart_emulator needs {exc.name}, which the 'emulator' extra installs: "
        "pip install 'decart-proto[emulator]'",
        name=exc.name,
    ) from None

__all__ = ["Emulator", "Fault", "RequestRecord", "sample_video_path"]
