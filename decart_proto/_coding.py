"""Content codings (RFC 9110 §8.4.1): a body a server compressed although we asked for none.

Every request says ``Accept-Encoding: identity``, yet a proxy or a CDN may compress anyway.
gzip and deflate are undone here, with stdlib ``zlib``, as the bytes arrive and in pieces of
bounded size, so that a small body that inflates to gigabytes (a "zip bomb") never sits in
memory whole: the caller of :meth:`Decoder.feed` bounds the total. Any other coding (br, zstd,
a name we do not know, several stacked) is refused by name: its bytes are never taken for the
content itself.

What is retried is decided where a coding error is met: an unknown coding never is (the server
will send it again), a video whose compressed stream is broken or cut short is (like a body cut
short), and a JSON answer that does not decode is as final as any unreadable answer.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator, Sequence

__all__ = ["CodingError", "Decoder", "UnsupportedCoding", "coding_of", "decode_all"]

# The most a single feed hands out at once: what one piece of a decoded body may cost.
PIECE = 1024 * 1024
_GZIP_WBITS = 16 + zlib.MAX_WBITS
_ZLIB_WBITS = zlib.MAX_WBITS
_RAW_WBITS = -zlib.MAX_WBITS


class CodingError(Exception):
    """A body that does not decode as its Content-Encoding says; the text says why, as a
    clause that follows "encoded as 'gzip', and"."""


class UnsupportedCoding(CodingError):
    """A content coding this client does not decode."""


def coding_of(headers: Sequence[tuple[bytes, bytes]]) -> str:
    """The coding of a body with these headers (names lower-cased, as h11 gives them): "" for
    none, else the codings as sent, lower-cased and comma-separated, ``identity`` left out."""
    codings: list[str] = []
    for name, value in headers:
        if name == b"content-encoding":
            for part in value.decode("latin-1").lower().split(","):
                coding = part.strip()
                if coding and coding != "identity":
                    codings.append(coding)
    return ", ".join(codings)


class Decoder:
    """Undoes *coding* ("gzip", "x-gzip" or "deflate") on a body fed in pieces as it
    arrives."""

    def __init__(self, coding: str, piece: int = PIECE) -> None:
        if coding not in ("gzip", "x-gzip", "deflate"):
            raise UnsupportedCoding(
                "this client does not decode it (it decodes gzip and deflate, and asks for no "
                "coding at all)"
            )
        self.coding = coding
        self.gzip = coding != "deflate"
        self.piece = piece
        self._inflate: zlib._Decompress | None = None  # None between members
        self._started = False
        self._pending = b""  # deflate: a first byte alone cannot tell zlib data from raw

    def feed(self, data: bytes) -> Iterator[bytes]:
        """The decoded bytes *data* completes, in pieces of at most ``piece`` bytes."""
        try:
            while data:
                inflate = self._inflate
                if inflate is None:
                    if self._started:
                        # After a gzip member: another member (RFC 1952 §2.2), or the zero
                        # padding some servers add, as the gzip module also allows.
                        data = data.lstrip(b"\0")
                        if not data:
                            return
                        if not self.gzip:
                            raise CodingError("it has bytes after the end of its deflate data")
                    elif not self.gzip:
                        data = self._pending + data
                        if len(data) < 2:
                            self._pending = data
                            return
                        self._pending = b""
                    inflate = self._inflate = zlib.decompressobj(self._wbits(data))
                    self._started = True
                yield from self._inflated(inflate, data)
                if not inflate.eof:
                    return
                self._inflate = None
                data = inflate.unused_data
        except zlib.error as exc:
            kind = "gzip" if self.gzip else "deflate"
            raise CodingError(f"it is not valid {kind} data: {exc}") from exc

    def end(self) -> None:
        """The body ended: refuse it if its compressed data did not."""
        if self._inflate is not None or self._pending:
            raise CodingError("its compressed data was cut short")

    def _wbits(self, data: bytes) -> int:
        if self.gzip:
            return _GZIP_WBITS
        # RFC 9110's "deflate" is zlib data (RFC 1950), but some servers send raw deflate
        # (RFC 1951): a zlib header is a deflate method byte whose pair is a multiple of 31.
        zlib_header = data[0] & 0x0F == 8 and (data[0] << 8 | data[1]) % 31 == 0
        return _ZLIB_WBITS if zlib_header else _RAW_WBITS

    def _inflated(self, inflate: zlib._Decompress, data: bytes) -> Iterator[bytes]:
        out = inflate.decompress(data, self.piece)
        while True:
            if out:
                yield out
            if inflate.eof:
                return
            tail = inflate.unconsumed_tail
            # A full piece may leave output inside zlib with no input left: ask until a
            # piece comes back short.
            if not tail and len(out) < self.piece:
                return
            out = inflate.decompress(tail, self.piece)


def decode_all(coding: str, body: bytes, limit: int) -> bytes:
    """*body* decoded, at most *limit* bytes of it (a small answer: JSON, an error's text)."""
    decoder = Decoder(coding)
    pieces: list[bytes] = []
    size = 0
    for piece in decoder.feed(body):
        size += len(piece)
        if size > limit:
            raise CodingError(f"it decodes to more than {limit} bytes")
        pieces.append(piece)
    decoder.end()
    return b"".join(pieces)
