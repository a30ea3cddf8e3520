"""Multipart body plans, assembled the way a transport would and parsed back by
python-multipart, a parser this project did not write."""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import pytest
from core_helpers import region_bytes
from hypothesis import assume, given
from hypothesis import strategies as st
from python_multipart.multipart import MultipartParser, parse_options_header

from decart_proto import (
    BodyPlan,
    FileInfo,
    FileInput,
    FileRegion,
    LocalProtocolError,
    SubmitForm,
    models,
    plan_body,
    prepare_submit,
)

BOUNDARY = "decart-proto-0123456789abcdef"


@dataclass
class Part:
    name: bytes
    filename: bytes | None
    content_type: bytes | None
    data: bytes


def assemble(plan: BodyPlan) -> bytes:
    return b"".join(s if isinstance(s, bytes) else region_bytes(s) for s in plan.segments)


def parse(body: bytes, boundary: str) -> list[Part]:
    """The parts as python-multipart reads them."""
    parts: list[Part] = []
    headers: dict[bytes, bytes] = {}
    field = bytearray()
    value = bytearray()
    data = bytearray()

    def on_part_begin() -> None:
        headers.clear()
        data.clear()

    def on_header_field(buf: bytes, start: int, end: int) -> None:
        field.extend(buf[start:end])

    def on_header_value(buf: bytes, start: int, end: int) -> None:
        value.extend(buf[start:end])

    def on_header_end() -> None:
        headers[bytes(field).lower()] = bytes(value)
        field.clear()
        value.clear()

    def on_part_data(buf: bytes, start: int, end: int) -> None:
        data.extend(buf[start:end])

    def on_part_end() -> None:
        kind, params = parse_options_header(headers[b"content-disposition"])
        assert kind == b"form-data"
        parts.append(
            Part(
                params[b"name"], params.get(b"filename"), headers.get(b"content-type"), bytes(data)
            )
        )

    callbacks: Any = {
        "on_part_begin": on_part_begin,
        "on_header_field": on_header_field,
        "on_header_value": on_header_value,
        "on_header_end": on_header_end,
        "on_part_data": on_part_data,
        "on_part_end": on_part_end,
    }
    parser = MultipartParser(boundary, callbacks)
    assert parser.write(body) == len(body)
    parser.finalize()
    return parts


def as_a_server_reads(name: bytes) -> str:
    """A part's name or filename as a server decodes it. HTML's multipart/form-data encoding
    sends '"' as %22, CR as %0D and LF as %0A, and everything else raw; a server undoes those
    three. (The inverse, so that the test does not restate the encoder it checks.)"""
    return name.decode().replace("%0A", "\n").replace("%0D", "\r").replace("%22", '"')


# Names: anything but lone surrogates and backslash (python-multipart, following RFC 2616's
# quoted-pair, unescapes backslashes; WHATWG's encoding leaves them raw, as browsers do), and
# none of the three escapes themselves, which a server cannot tell from the characters they
# stand for (test_a_percent_sign_travels_raw shows one).
NAME_CHARS = st.characters(blacklist_categories=("Cs",), blacklist_characters="\\")
NAMES = st.text(NAME_CHARS, min_size=1, max_size=24).filter(
    lambda n: not any(escape in n for escape in ("%22", "%0D", "%0A"))
) | st.sampled_from(
    ['"', "\r\n", 'a"; filename="evil', "é", "名前", "x\r\n\r\n--" + BOUNDARY, "100%", "%2"]
)
TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=200)


Expected = tuple[str, str | None, bytes | None, bytes]  # name, filename, content type, data


@st.composite
def forms(draw: st.DrawFn) -> tuple[SubmitForm, dict[str, FileInfo], list[Expected]]:
    fields = draw(st.lists(st.tuples(NAMES, TEXT), max_size=4))
    files: list[FileInput] = []
    infos: dict[str, FileInfo] = {}
    expected: list[Expected] = [(n, None, None, v.encode()) for n, v in fields]
    for i in range(draw(st.integers(0, 3))):
        field = f"file{i}"
        content = draw(st.binary(max_size=300))
        filename = draw(NAMES)
        kind = draw(st.sampled_from(["memory", "region", "unknown"]))
        if kind == "memory":
            source: Any = content
        else:
            prefix = draw(st.binary(max_size=5))
            source = io.BytesIO(prefix + content)
            infos[field] = FileInfo(None if kind == "unknown" else len(content), len(prefix))
        files.append(FileInput(field, source, filename, "video/mp4"))
        expected.append((field, filename, b"video/mp4", content))
    return SubmitForm(models.custom("m"), tuple(fields), tuple(files)), infos, expected


@given(forms())
def test_bodies_parse_back(case: tuple[SubmitForm, dict[str, FileInfo], list[Expected]]) -> None:
    form, infos, expected = case
    plan = plan_body(form, infos, BOUNDARY)
    body = assemble(plan)
    assume(all(b"--" + BOUNDARY.encode() not in data for *_, data in expected))
    parsed = [
        (
            as_a_server_reads(p.name),
            None if p.filename is None else as_a_server_reads(p.filename),
            p.content_type,
            p.data,
        )
        for p in parse(body, BOUNDARY)
    ]
    assert parsed == expected
    assert plan.content_type == f"multipart/form-data; boundary={BOUNDARY}"
    unknown = any(i.size is None for i in infos.values())
    assert plan.content_length == (None if unknown else len(body))
    # Files are never copied into the plan: in-memory data is its own segment, others are
    # regions of the file.
    for file in form.files:
        if file.in_memory is None:
            assert any(isinstance(s, FileRegion) and s.file is file for s in plan.segments)
        elif file.in_memory:
            assert any(s is file.source for s in plan.segments)


@pytest.mark.parametrize("boundary", ["a", "'+_.-", "Z" * 70, "0123456789"])
def test_boundary_comes_from_the_given_string(boundary: str) -> None:
    form = prepare_submit({"model": models.video("lucy-2.1"), "data": b"vid", "prompt": "hi"})
    plan = plan_body(form, {}, boundary)
    body = assemble(plan)
    assert plan.content_type == f"multipart/form-data; boundary={boundary}"
    assert body.startswith(b"--" + boundary.encode() + b"\r\n")
    assert body.endswith(b"\r\n--" + boundary.encode() + b"--\r\n")
    assert parse(body, boundary) == [
        Part(b"prompt", None, None, b"hi"),
        Part(b"data", b"data", b"application/octet-stream", b"vid"),
    ]


def test_exact_bytes_of_a_small_body() -> None:
    form = SubmitForm(
        models.custom("m"),
        (("prompt", 'say "hi"\r\n'),),
        (FileInput('da"ta', b"V", 'a"b\r\nc\u00e9.mp4', "video/mp4"),),
    )
    plan = plan_body(form, {}, "B")
    assert plan.segments == (
        b'--B\r\nContent-Disposition: form-data; name="prompt"\r\n\r\nsay "hi"\r\n\r\n'
        b'--B\r\nContent-Disposition: form-data; name="da%22ta"; '
        b'filename="a%22b%0D%0Ac\xc3\xa9.mp4"\r\nContent-Type: video/mp4\r\n\r\n',
        b"V",
        b"\r\n--B--\r\n",
    )
    assert plan.content_length == sum(len(s) for s in plan.segments)  # type: ignore[arg-type]


def test_no_part_can_be_injected_through_names() -> None:
    evil = 'x"\r\n\r\nsmuggled\r\n--B\r\nContent-Disposition: form-data; name="admin'
    form = SubmitForm(models.custom("m"), ((evil, "v"),), (FileInput("f", b"d", evil, "a/b"),))
    parts = parse(assemble(plan_body(form, {}, "B")), "B")
    sent = b"x%22%0D%0A%0D%0Asmuggled%0D%0A--B%0D%0AContent-Disposition: form-data; name=%22admin"
    assert [(p.name, p.filename, p.data) for p in parts] == [(sent, None, b"v"), (b"f", sent, b"d")]


def test_a_percent_sign_travels_raw() -> None:
    # WHATWG escapes only '"', CR and LF, so a name that reads "%22" is sent as it is, and a
    # server decodes it as '"': a limit of the encoding browsers use, not ours to change.
    form = SubmitForm(models.custom("m"), (('100% "done" %22', "v"),), ())
    body = assemble(plan_body(form, {}, "B"))
    assert b'name="100% %22done%22 %22"' in body


def test_backslashes_travel_raw_without_adding_parts() -> None:
    form = SubmitForm(models.custom("m"), (("a\\", "v"), ("b", "w")), ())
    body = assemble(plan_body(form, {}, "B"))
    assert b'name="a\\"' in body
    assert [p.data for p in parse(body, "B")] == [b"v", b"w"]


def test_surrogates_in_names_do_not_crash() -> None:
    # os.fsdecode keeps a path's undecodable bytes as lone surrogates.
    form = SubmitForm(models.custom("m"), (), (FileInput("data", b"d", "cl\udcffip.mp4", "a/b"),))
    (part,) = parse(assemble(plan_body(form, {}, "B")), "B")
    assert part.filename == b"cl?ip.mp4"


def test_file_regions_and_unknown_sizes() -> None:
    known = FileInput("data", io.BytesIO(b"..video"), "v.mp4", "video/mp4")
    unknown = FileInput("reference_image", io.BytesIO(b"img"), "r.png", "image/png")
    form = SubmitForm(models.custom("m"), (), (known, unknown))
    plan = plan_body(form, {"data": FileInfo(5, 2), "reference_image": FileInfo(None)}, "B")
    regions = [s for s in plan.segments if isinstance(s, FileRegion)]
    assert [(r.file, r.offset, r.length) for r in regions] == [(known, 2, 5), (unknown, 0, None)]
    assert len(regions[0]) == 5
    with pytest.raises(TypeError):
        len(regions[1])
    assert plan.content_length is None
    assert [p.data for p in parse(assemble(plan), "B")] == [b"video", b"img"]


def test_empty_form() -> None:
    plan = plan_body(SubmitForm(models.custom("m"), (), ()), {}, "B")
    assert plan.segments == (b"--B--\r\n",)
    assert plan.content_length == 7


def test_empty_in_memory_file_has_no_empty_segment() -> None:
    plan = plan_body(
        SubmitForm(models.custom("m"), (), (FileInput("d", b"", "d", "a/b"),)), {}, "B"
    )
    assert all(s != b"" for s in plan.segments)
    assert [p.data for p in parse(assemble(plan), "B")] == [b""]


@pytest.mark.parametrize("boundary", ["", "a b", "a\r\nb", "x" * 71, "é", "a;b", 'a"b', None])
def test_bad_boundaries_are_refused(boundary: Any) -> None:
    with pytest.raises(LocalProtocolError):
        plan_body(SubmitForm(models.custom("m"), (), ()), {}, boundary)


@pytest.mark.parametrize("content_type", ["", "a/b\r\nX-Evil: 1", "vidéo/mp4", " a/b"])
def test_bad_content_types_are_refused(content_type: str) -> None:
    form = SubmitForm(models.custom("m"), (), (FileInput("d", b"x", "d", content_type),))
    with pytest.raises(LocalProtocolError):
        plan_body(form, {}, "B")


def test_a_file_without_its_info_is_a_clear_error() -> None:
    form = SubmitForm(models.custom("m"), (), (FileInput("d", io.BytesIO(b"x"), "d", "a/b"),))
    with pytest.raises(LocalProtocolError) as info:
        plan_body(form, {}, "B")
    assert "ProbeFile" in info.value.message
