"""Content codings: gzip and deflate decoded in bounded pieces, whatever the split; anything
else refused by name. Compressed data comes from the standard library's gzip and zlib."""

from __future__ import annotations

import gzip
import itertools
import zlib

import pytest
from core_helpers import NOW, ORIGIN, FakeExecutor
from hypothesis import given
from hypothesis import strategies as st

from decart_proto import Credentials, Target, exchange, status_request
from decart_proto._coding import (
    PIECE,
    CodingError,
    Decoder,
    UnsupportedCoding,
    coding_of,
    decode_all,
)

DATA = b"".join(b"frame %d " % i for i in range(20_000))


def raw_deflate(data: bytes) -> bytes:
    packer = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return packer.compress(data) + packer.flush()


ENCODED = {
    "gzip": ("gzip", gzip.compress(DATA)),
    "x-gzip": ("x-gzip", gzip.compress(DATA)),
    "gzip-two-members": ("gzip", gzip.compress(DATA[:1000]) + gzip.compress(DATA[1000:])),
    "gzip-zero-padded": ("gzip", gzip.compress(DATA) + b"\0" * 700),
    "deflate-zlib": ("deflate", zlib.compress(DATA)),
    "deflate-raw": ("deflate", raw_deflate(DATA)),
}


def decode_in_pieces(coding: str, data: bytes, cuts: list[int], piece: int = PIECE) -> bytes:
    decoder = Decoder(coding, piece)
    points = sorted({0, len(data), *(c for c in cuts if c < len(data))})
    out = bytearray()
    for a, b in itertools.pairwise(points):
        for chunk in decoder.feed(data[a:b]):
            assert 0 < len(chunk) <= piece
            out += chunk
    decoder.end()
    return bytes(out)


@pytest.mark.parametrize("name", ENCODED)
def test_decoded_whole_and_byte_by_byte(name: str) -> None:
    coding, data = ENCODED[name]
    assert decode_in_pieces(coding, data, []) == DATA
    assert decode_in_pieces(coding, data, list(range(len(data)))) == DATA
    assert decode_all(coding, data, len(DATA)) == DATA


@given(name=st.sampled_from(sorted(ENCODED)), cuts=st.lists(st.integers(0, 40_000), max_size=6))
def test_decoded_in_any_pieces(name: str, cuts: list[int]) -> None:
    coding, data = ENCODED[name]
    assert decode_in_pieces(coding, data, cuts, piece=4096) == DATA


def test_a_bomb_comes_out_in_bounded_pieces() -> None:
    bomb = gzip.compress(bytes(200 * 1024 * 1024), 9)  # 200 MiB of zeros in about 200 KiB
    assert len(bomb) < 300_000
    decoder = Decoder("gzip")
    sizes = [len(piece) for piece in decoder.feed(bomb)]
    decoder.end()
    assert max(sizes) == PIECE and sum(sizes) == 200 * 1024 * 1024
    with pytest.raises(CodingError, match="it decodes to more than 1048576 bytes"):
        decode_all("gzip", bomb, 1024 * 1024)


@pytest.mark.parametrize(
    ("coding", "data", "problem"),
    [
        ("gzip", b"not gzip at all", "it is not valid gzip data"),
        ("deflate", b"\xff\xff\xff", "it is not valid deflate data"),
        ("gzip", gzip.compress(DATA)[:-4] + b"\0\0\0\0", "it is not valid gzip data"),
        ("gzip", gzip.compress(DATA) + b"junk", "it is not valid gzip data"),
        ("deflate", zlib.compress(DATA) + b"more", "bytes after the end of its deflate data"),
        ("gzip", gzip.compress(DATA)[:-10], "its compressed data was cut short"),
        ("deflate", zlib.compress(DATA)[:1], "its compressed data was cut short"),
    ],
    ids=["junk", "deflate-junk", "bad-crc", "trailing-junk", "deflate-trailing", "cut", "1-byte"],
)
def test_broken_data_is_refused(coding: str, data: bytes, problem: str) -> None:
    with pytest.raises(CodingError, match=problem):
        decode_all(coding, data, 10**9)


def test_an_empty_body_decodes_to_nothing() -> None:
    assert decode_all("gzip", b"", 10) == b""
    assert decode_all("deflate", b"", 10) == b""


@pytest.mark.parametrize("coding", ["br", "zstd", "compress", "gzip, gzip", "gzip, br", "?"])
def test_other_codings_are_refused_by_name(coding: str) -> None:
    with pytest.raises(UnsupportedCoding, match="this client does not decode it"):
        Decoder(coding)


@pytest.mark.parametrize(
    ("headers", "coding"),
    [
        ((), ""),
        (((b"content-type", b"video/mp4"),), ""),
        (((b"content-encoding", b"identity"),), ""),
        (((b"content-encoding", b"GZip"),), "gzip"),
        (((b"content-encoding", b" identity , deflate "),), "deflate"),
        (((b"content-encoding", b"gzip"), (b"content-encoding", b"br")), "gzip, br"),
        (((b"content-encoding", b","),), ""),
    ],
)
def test_coding_of_headers(headers: tuple[tuple[bytes, bytes], ...], coding: str) -> None:
    assert coding_of(headers) == coding


# -- a response says its coding ----------------------------------------------------------------

TARGET = Target(ORIGIN, "")
CREDS = Credentials("sk-key", "test")


def clock() -> float:
    return NOW


@pytest.mark.parametrize(
    ("extra", "coding"),
    [(b"", ""), (b"Content-Encoding: gzip\r\n", "gzip"), (b"content-encoding: br\r\n", "br")],
)
def test_a_response_says_its_coding_and_keeps_its_body_as_sent(extra: bytes, coding: str) -> None:
    body = gzip.compress(b'{"job_id":"j1","status":"pending"}') if coding else b"{}"
    raw = b"HTTP/1.1 200 OK\r\n" + extra + b"Content-Length: %d\r\n\r\n" % len(body) + body
    request = status_request(TARGET, CREDS, "j1")
    run = FakeExecutor([raw]).run(
        exchange(ORIGIN, request, None, clock=clock, step=10.0, deadline=NOW + 60)
    )
    assert (run.value.coding, run.value.body) == (coding, body)
