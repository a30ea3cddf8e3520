"""The emulator's "model": the input video re-encoded in grayscale, when PyAV is installed.

A visible effect makes it obvious in a demo that the bytes went through the server, and a
re-encode proves the input was a decodable video: an input PyAV cannot decode fails the job,
as the service would. Without PyAV (the ``video`` extra) the result is the input itself.
"""

from __future__ import annotations

import importlib.util
from fractions import Fraction
from pathlib import Path

__all__ = ["RenderError", "has_pyav", "render_grayscale"]


class RenderError(Exception):
    """The input could not be decoded as a video."""


def has_pyav() -> bool:
    return importlib.util.find_spec("av") is not None


def _encoder_name() -> str:
    import av  # noqa: PLC0415 - PyAV is optional (the video extra)

    try:
        av.codec.Codec("libx264", "w")
    except Exception:  # a build of FFmpeg without x264: MPEG-4 part 2 is always there
        return "mpeg4"
    return "libx264"


def render_grayscale(source: Path, target: Path) -> None:
    """Decode ``source``'s first video stream and write it to ``target`` as a grayscale MP4."""
    import av  # noqa: PLC0415 - PyAV is optional (the video extra)

    try:
        with av.open(str(source)) as container:
            if not container.streams.video:
                raise RenderError("input has no video stream")
            stream = container.streams.video[0]
            rate = stream.average_rate or Fraction(25)
            with av.open(str(target), "w", format="mp4") as output:
                encoder = output.add_stream(_encoder_name(), rate=rate)
                # PyAV before 18 types add_stream() as any kind of stream.
                assert isinstance(encoder, av.video.stream.VideoStream)
                # yuv420p needs even dimensions.
                encoder.width = max(2, stream.codec_context.width & ~1)
                encoder.height = max(2, stream.codec_context.height & ~1)
                encoder.pix_fmt = "yuv420p"
                encoder.time_base = 1 / rate
                frames = 0
                for frame in container.decode(stream):
                    gray = frame.reformat(encoder.width, encoder.height, format="gray")
                    out = gray.reformat(format="yuv420p")
                    out.pts = frames  # one tick of 1/rate per frame: a steady output rate
                    out.time_base = encoder.time_base
                    output.mux(encoder.encode(out))
                    frames += 1
                if frames == 0:
                    raise RenderError("input has no decodable frames")
                output.mux(encoder.encode(None))
    except av.FFmpegError as exc:
        raise RenderError(f"input is not a decodable video: {exc}") from exc
