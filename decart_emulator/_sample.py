"""The sample video shipped in the package, and the code that made it.

``sample.mp4`` is a two-second 160x96 clip of moving colour bars (H.264, a few KB): colourful,
so that the emulator's grayscale effect is plain to see, and small enough to live in the
package as the demo's input. Regenerate it with ``python -m decart_emulator._sample`` (needs
PyAV).
"""

from __future__ import annotations

import sys
from fractions import Fraction
from pathlib import Path

__all__ = ["sample_video_path", "write_sample_video"]

_BARS = [
    (255, 255, 255), (255, 255, 0), (0, 255, 255), (0, 255, 0),
    (255, 0, 255), (255, 0, 0), (0, 0, 255), (16, 16, 16),
]  # fmt: skip


def sample_video_path() -> Path:
    """Path of the sample MP4 shipped with the package."""
    return Path(__file__).with_name("sample.mp4")


def _bars_frame(width: int, height: int, shift: int) -> bytes:
    bar_width = width // len(_BARS)
    row = bytearray()
    for x in range(width):
        row += bytes(_BARS[((x + shift) // bar_width) % len(_BARS)])
    return bytes(row) * height


def write_sample_video(
    path: Path, width: int = 160, height: int = 96, fps: int = 10, seconds: int = 2
) -> None:
    """Write the moving colour bars to ``path`` as an H.264 MP4."""
    import av  # noqa: PLC0415 - PyAV is optional (the video extra)

    with av.open(str(path), "w", format="mp4") as output:
        stream = output.add_stream("libx264", rate=Fraction(fps))
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for index in range(fps * seconds):
            frame = av.VideoFrame(width, height, "rgb24")
            frame.planes[0].update(_bars_frame(width, height, shift=index * 4))
            output.mux(stream.encode(frame.reformat(format="yuv420p")))
        output.mux(stream.encode(None))


if __name__ == "__main__":
    write_sample_video(Path(sys.argv[1]) if len(sys.argv) > 1 else sample_video_path())
