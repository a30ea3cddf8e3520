"""The streaming multipart reader, fed whole, byte by byte, and split everywhere."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from emulator_helpers import encode_form

from decart_emulator._form import MAX_PARTS, FormError, ParsedForm, read_form


async def chunks_of(body: bytes, size: int) -> AsyncIterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start : start + size]


def parse(body: bytes, content_type: str, spool: Path, size: int = 1 << 20,
          limit: int = 1 << 30, in_memory: int = 0) -> ParsedForm:  # fmt: skip
    boundary = content_type.split("boundary=")[1].encode()
    return asyncio.run(read_form(chunks_of(body, size), boundary, spool, limit, in_memory))


def test_text_and_files_whole_and_byte_by_byte(tmp_path: Path) -> None:
    video = bytes(range(256)) * 40 + b"\r\n--not-a-boundary\r\n"
    body, ctype = encode_form({"prompt": "héllo", "seed": "3"}, {"data": video, "ref": b""})
    for size in (len(body), 1, 7, 4096):
        spool = tmp_path / f"s{size}"
        spool.mkdir()
        form = parse(body, ctype, spool, size)
        assert form.texts == {"prompt": "héllo", "seed": "3"}
        assert set(form.files) == {"data", "ref"}
        assert form.files["data"].path.read_bytes() == video
        assert form.files["data"].size == len(video)
        assert form.files["data"].filename == "data"
        assert form.files["data"].content_type == "application/octet-stream"
        assert form.files["ref"].path.read_bytes() == b""
        assert sorted(p.name for p in spool.iterdir()) == sorted(
            u.path.name for u in form.files.values()
        )


def test_small_file_parts_stay_in_memory_and_larger_ones_are_spooled(tmp_path: Path) -> None:
    small, large = b"s" * 1024, bytes(range(256)) * 4 + b"!"  # the limit, and a byte past it
    body, ctype = encode_form({"prompt": "p"}, {"ref": small, "data": large, "empty": b""})
    for size in (len(body), 1, 7, 4096):
        spool = tmp_path / f"s{size}"
        spool.mkdir()
        form = parse(body, ctype, spool, size, in_memory=1024)
        ref, data, empty = form.files["ref"], form.files["data"], form.files["empty"]
        assert (ref.path, ref.data, ref.size) == (None, small, len(small))
        assert (empty.path, empty.data, empty.size) == (None, b"", 0)
        assert data.data is None and data.path is not None
        assert (data.path.read_bytes(), data.size) == (large, len(large))
        assert [p.name for p in spool.iterdir()] == [data.path.name]


def test_a_failed_form_removes_what_it_spooled_past_the_memory_limit(tmp_path: Path) -> None:
    body, ctype = encode_form({}, {"ref": b"r" * 10, "data": b"d" * 5000})
    with pytest.raises(FormError) as error:
        parse(body, ctype, tmp_path, size=1000, limit=4000, in_memory=1024)
    assert error.value.status == 413
    assert list(tmp_path.iterdir()) == []


def test_a_repeated_field_replaces_a_part_in_memory_or_spooled(tmp_path: Path) -> None:
    first, ctype = encode_form({}, {"data": b"x" * 2000, "ref": b"small"})
    boundary = ctype.split("boundary=")[1]
    again = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="data"; filename="d"\r\n\r\n'
        f'second\r\n--{boundary}\r\nContent-Disposition: form-data; name="ref"\r\n\r\n'
        f"text\r\n--{boundary}--\r\n"
    ).encode()
    body = first[: -len(f"--{boundary}--\r\n")] + again
    form = parse(body, ctype, tmp_path, in_memory=1024)
    assert form.files["data"].data == b"second"
    assert set(form.files) == {"data"} and form.texts == {"ref": "text"}
    assert list(tmp_path.iterdir()) == []  # the first "data" was spooled, then replaced


def test_the_last_of_repeated_fields_wins_and_leaves_no_orphans(tmp_path: Path) -> None:
    first, ctype = encode_form({}, {"data": b"first"})
    boundary = ctype.split("boundary=")[1]
    second = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="data"; filename="d"\r\n\r\n'
        f"second\r\n--{boundary}--\r\n"
    ).encode()
    body = first[: -len(f"--{boundary}--\r\n")] + second
    form = parse(body, ctype, tmp_path)
    assert form.files["data"].path.read_bytes() == b"second"
    assert len(list(tmp_path.iterdir())) == 1


@pytest.mark.parametrize(
    ("fields", "files", "status"),
    [
        ({"prompt": "x" * (1024 * 1024 + 1)}, {}, 400),  # a text part larger than 1 MiB
        ({f"f{i}": "v" for i in range(MAX_PARTS + 1)}, {}, 400),
        ({}, {"data": b"\0" * 5000}, 413),
    ],
)
def test_limits(tmp_path: Path, fields: dict[str, str], files: dict[str, bytes],
                status: int) -> None:  # fmt: skip
    body, ctype = encode_form(fields, files)
    with pytest.raises(FormError) as error:
        parse(body, ctype, tmp_path, size=1000, limit=4000 if status == 413 else 1 << 30)
    assert error.value.status == status
    assert list(tmp_path.iterdir()) == []


def test_invalid_utf8_text_is_400(tmp_path: Path) -> None:
    body, ctype = encode_form({"prompt": "PLACEHOLDER"}, {"data": b"x"})
    with pytest.raises(FormError) as error:
        parse(body.replace(b"PLACEHOLDER", b"\xff\xfe"), ctype, tmp_path)
    assert error.value.status == 400
    assert list(tmp_path.iterdir()) == []
