"""The result video: the input re-encoded in grayscale with PyAV, or the input itself."""

from __future__ import annotations

from pathlib import Path

import pytest
from emulator_helpers import request, submit, wait_for

from decart_emulator import Emulator, sample_video_path
from decart_emulator._sample import write_sample_video

try:
    import av
except ImportError:  # the video extra is not installed
    HAVE_PYAV = False
else:
    HAVE_PYAV = True

needs_pyav = pytest.mark.skipif(not HAVE_PYAV, reason="PyAV (the video extra) is not installed")


def chroma_range(path: Path) -> tuple[int, int]:
    """Smallest and largest U sample of the first frame (128 everywhere means gray)."""
    with av.open(str(path)) as container:
        frame = next(container.decode(video=0))
        plane = frame.planes[1]
        data = bytes(plane)
        rows = [data[y * plane.line_size : y * plane.line_size + plane.width]
                for y in range(plane.height)]  # fmt: skip
        samples = b"".join(rows)
        return min(samples), max(samples)


def result_of(emu: Emulator, data: bytes) -> tuple[str, bytes]:
    job_id = submit(emu, files={"data": data}).json()["job_id"]
    wait_for(lambda: emu.jobs[job_id] in ("completed", "failed"))
    reply = request(emu, "GET", f"/v1/jobs/{job_id}/content")
    return emu.jobs[job_id], reply.body


@needs_pyav
def test_the_sample_is_a_small_colourful_mp4() -> None:
    path = sample_video_path()
    assert path.is_file() and path.stat().st_size < 50_000
    low, high = chroma_range(path)
    assert high - low > 100


@needs_pyav
def test_with_pyav_the_result_is_the_input_in_grayscale(tmp_path: Path) -> None:
    with Emulator(pending_seconds=0, processing_seconds=0) as emu:
        status, body = result_of(emu, sample_video_path().read_bytes())
    assert status == "completed"
    assert body != sample_video_path().read_bytes()
    result = tmp_path / "result.mp4"
    result.write_bytes(body)
    assert chroma_range(result) == (128, 128)
    with av.open(str(result)) as container:
        assert sum(1 for _ in container.decode(video=0)) == 20


@needs_pyav
def test_with_pyav_an_undecodable_input_fails_the_job() -> None:
    with Emulator(pending_seconds=0, processing_seconds=0) as emu:
        status, body = result_of(emu, b"this is not a video" * 100)
    assert status == "failed"
    assert b"not a decodable video" in body or b"no video stream" in body


def test_without_reencoding_the_result_is_the_input() -> None:
    data = b"any bytes at all"
    with Emulator(pending_seconds=0, processing_seconds=0, reencode=False) as emu:
        status, body = result_of(emu, data)
    assert (status, body) == ("completed", data)


@needs_pyav
def test_regenerating_the_sample_gives_a_decodable_video(tmp_path: Path) -> None:
    path = tmp_path / "sample.mp4"
    write_sample_video(path, seconds=1)
    low, high = chroma_range(path)
    assert high - low > 100
