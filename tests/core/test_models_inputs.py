"""The model registry, the input rules and the options -> form step, as tables."""

from __future__ import annotations

import copy
import io
import os
import pathlib
import warnings
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from decart_proto import (
    FileInfo,
    FileInput,
    InvalidInputError,
    ModelNotFoundError,
    models,
    prepare_submit,
)
from decart_proto.models import RuleSet

VIDEO = b"\x00\x00\x00\x18ftypmp42"

# WIRE.md's model table: name -> (rule set, path).
MODELS = {
    "lucy-2.1": RuleSet.EDIT,
    "lucy-2.1-vton": RuleSet.EDIT,
    "lucy-2.5": RuleSet.EDIT,
    "lucy-vton-2": RuleSet.EDIT,
    "lucy-vton-3": RuleSet.EDIT,
    "lucy-restyle-2": RuleSet.RESTYLE,
    "lucy-clip": RuleSet.CLIP,
    "lucy-latest": RuleSet.EDIT,
    "lucy-vton-latest": RuleSet.EDIT,
    "lucy-restyle-latest": RuleSet.RESTYLE,
    "lucy-clip-latest": RuleSet.CLIP,
}
DEPRECATED = {
    "lucy-2.1-vton-2": ("lucy-vton-2", RuleSet.EDIT),
    "lucy-pro-v2v": ("lucy-clip", RuleSet.CLIP),
    "lucy-restyle-v2v": ("lucy-restyle-2", RuleSet.RESTYLE),
}


@pytest.mark.parametrize(("name", "rules"), MODELS.items())
def test_every_model_of_the_wire_doc(name: str, rules: RuleSet) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = models.video(name)
    assert (model.name, model.url_path, model.rules) == (name, f"/v1/jobs/{name}", rules)


def test_registry_lists_exactly_the_wire_doc() -> None:
    assert set(models.VIDEO_MODELS) == set(MODELS) | set(DEPRECATED)
    assert {old: new for old, (new, _) in DEPRECATED.items()} == models.DEPRECATED


@pytest.mark.parametrize(("name", "target"), DEPRECATED.items())
def test_deprecated_names_warn_once(name: str, target: tuple[str, RuleSet]) -> None:
    with pytest.warns(DeprecationWarning) as record:
        first = models.video(name)
    assert len(record) == 1
    assert str(record[0].message) == f'Model "{name}" is deprecated. Use "{target[0]}" instead.'
    assert record[0].filename == __file__  # blamed on the caller's line
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        second = models.video(name)
    assert first == second
    assert (first.url_path, first.rules) == (f"/v1/jobs/{name}", target[1])


def test_each_deprecated_name_warns_on_its_own() -> None:
    with pytest.warns(DeprecationWarning):
        models.video("lucy-pro-v2v")
    with pytest.warns(DeprecationWarning):
        models.video("lucy-restyle-v2v")


@pytest.mark.parametrize("name", ["lucy-3", "", "LUCY-2.1", "lucy-2.1 ", None, 7, ["lucy-2.1"]])
def test_unknown_models(name: Any) -> None:
    with pytest.raises(ModelNotFoundError) as info:
        models.video(name)
    assert "models.custom(name, path)" in info.value.message
    assert info.value.message.startswith("Model ")


def test_custom_models() -> None:
    model = models.custom("lucy-9")
    assert (model.name, model.url_path, model.rules) == ("lucy-9", "/v1/jobs/lucy-9", None)
    assert models.custom("x", "/v2/queue/x").url_path == "/v2/queue/x"


@pytest.mark.parametrize(
    ("name", "path"),
    [
        ("a b", "/v1/jobs/a%20b"),  # each segment encoded as job ids are
        ("é", "/v1/jobs/%C3%A9"),
        ("a?b#c;d", "/v1/jobs/a%3Fb%23c%3Bd"),
        ("%2e%2e", "/v1/jobs/%252e%252e"),  # a name's "%" is a percent sign
        ("...", "/v1/jobs/..."),  # three dots are a name, not a dot segment
        ("org/model-2", "/v1/jobs/org/model-2"),  # "/" separates segments
    ],
)
def test_custom_model_names_are_encoded_segment_by_segment(name: str, path: str) -> None:
    assert models.custom(name).url_path == path


@pytest.mark.parametrize(
    "name", ["../../admin", "..", ".", "a/../b", "a/./b", "a//b", "/a", "a/", "a\\b", "..\\x"]
)
def test_custom_model_names_never_leave_the_jobs_path(name: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        models.custom(name)
    assert info.value.message.startswith(f"model name {name!r} cannot be a path under /v1/jobs/")


@pytest.mark.parametrize(
    "path",
    ["/v1/jobs/../../admin", "/v1/jobs/./x", "/v1/jobs/%2e%2E/admin", "/v1/jobs/%2E", "/a%2Fb",
     "/a%5cb", "/v1/jobs/.."],
)  # fmt: skip
def test_custom_model_paths_have_no_dot_segments_escaped_or_not(path: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        models.custom("x", path)
    assert "which would lead somewhere else once a server or proxy resolves it" in str(info.value)
    with pytest.raises(InvalidInputError):
        models.ModelDefinition("x", path)  # however the definition is made


def test_a_definition_needs_a_name() -> None:
    with pytest.raises(InvalidInputError, match="model name must not be empty"):
        models.ModelDefinition("", "/v1/jobs/x")


def test_a_custom_model_path_may_be_encoded() -> None:
    assert models.custom("x", "/gw/v1/jobs/a%20b").url_path == "/gw/v1/jobs/a%20b"


@pytest.mark.parametrize(
    ("name", "path", "problem"),
    [
        ("", None, "model name must be a non-empty string"),
        (None, None, "model name must be a non-empty string"),
        ("x", "v1/x", "must be an absolute path"),
        ("x", "/v1/a b", "must be an absolute path"),
        ("x", "/v1//x", "must be an absolute path"),
        ("x", "/", "must be an absolute path"),
        ("x", "/v1/%zz", "must be an absolute path"),
        ("x", 5, "must be an absolute path"),
    ],
)
def test_bad_custom_models(name: str, path: str | None, problem: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        models.custom(name, path)
    assert problem in info.value.message


# -- rules -------------------------------------------------------------------------------------

LONG = "p" * 1000
TOO_LONG = "p" * 1001

# (model, options without "model", None if accepted or the field the error must name)
RULE_CASES: list[tuple[str, dict[str, Any], str | None]] = [
    # edit
    ("lucy-2.1", {"data": VIDEO, "prompt": "make it snow"}, None),
    ("lucy-2.1", {"data": VIDEO, "prompt": ""}, None),
    ("lucy-2.1", {"data": VIDEO, "prompt": LONG}, None),
    (
        "lucy-2.1",
        {
            "data": VIDEO,
            "prompt": "x",
            "reference_image": b"png",
            "seed": 7,
            "resolution": "720p",
            "enhance_prompt": False,
        },
        None,
    ),
    ("lucy-2.1", {"data": VIDEO}, "prompt"),
    ("lucy-2.1", {"prompt": "x"}, "data"),
    ("lucy-2.1", {"data": VIDEO, "prompt": TOO_LONG}, "prompt"),
    ("lucy-2.1", {"data": VIDEO, "prompt": 5}, "prompt"),
    ("lucy-2.1", {"data": VIDEO, "prompt": "x", "start": b"png"}, "start"),
    ("lucy-2.1", {"data": VIDEO, "prompt": "x", "colour": "red"}, "colour"),
    ("lucy-2.1", {"data": VIDEO, "prompt": "x", "seed": "7"}, "seed"),
    ("lucy-2.1", {"data": VIDEO, "prompt": "x", "seed": True}, "seed"),
    ("lucy-2.1", {"data": VIDEO, "prompt": "x", "seed": 1.5}, "seed"),
    ("lucy-2.1", {"data": VIDEO, "prompt": "x", "resolution": 720}, "resolution"),
    ("lucy-2.1", {"data": VIDEO, "prompt": "x", "enhance_prompt": "yes"}, "enhance_prompt"),
    ("lucy-2.1", {"data": VIDEO, "prompt": "x", "enhance_prompt": 1}, "enhance_prompt"),
    ("lucy-vton-3", {"data": VIDEO, "prompt": "", "reference_image": b"shirt"}, None),
    # restyle
    ("lucy-restyle-2", {"data": VIDEO, "prompt": "anime"}, None),
    ("lucy-restyle-2", {"data": VIDEO, "prompt": "anime", "enhance_prompt": True}, None),
    ("lucy-restyle-2", {"data": VIDEO, "reference_image": b"img"}, None),
    ("lucy-restyle-2", {"data": VIDEO}, "prompt"),
    ("lucy-restyle-2", {"data": VIDEO, "prompt": "a", "reference_image": b"i"}, "prompt"),
    ("lucy-restyle-2", {"data": VIDEO, "prompt": ""}, "prompt"),
    ("lucy-restyle-2", {"data": VIDEO, "prompt": TOO_LONG}, "prompt"),
    (
        "lucy-restyle-latest",
        {"data": VIDEO, "reference_image": b"i", "enhance_prompt": True},
        "enhance_prompt",
    ),
    ("lucy-restyle-2", {"reference_image": b"i"}, "data"),
    # clip
    ("lucy-clip", {"data": VIDEO, "prompt": "a"}, None),
    ("lucy-clip", {"data": VIDEO, "prompt": LONG, "start": b"s", "end": b"e"}, None),
    ("lucy-clip", {"data": VIDEO}, "prompt"),
    ("lucy-clip", {"data": VIDEO, "prompt": ""}, "prompt"),
    ("lucy-clip-latest", {"data": VIDEO, "prompt": TOO_LONG}, "prompt"),
    ("lucy-clip", {"data": VIDEO, "prompt": "a", "reference_image": b"i"}, "reference_image"),
    ("lucy-clip", {"data": VIDEO, "prompt": None}, "prompt"),  # None counts as absent
]


@pytest.mark.parametrize(("name", "options", "field"), RULE_CASES)
def test_rules(name: str, options: dict[str, Any], field: str | None) -> None:
    full = {"model": models.video(name), **options}
    if field is None:
        form = prepare_submit(full)
        sent = {k for k, _ in form.fields} | {f.field for f in form.files}
        assert sent == {k for k, v in options.items() if v is not None}
        return
    with pytest.raises(InvalidInputError) as info:
        prepare_submit(full)
    assert info.value.data == {"field": field}
    assert info.value.message.startswith(f"Invalid inputs for {name}: {field}: ")


def test_rules_of_deprecated_names_are_their_targets() -> None:
    with pytest.warns(DeprecationWarning):
        model = models.video("lucy-pro-v2v")
    with pytest.raises(InvalidInputError) as info:
        prepare_submit({"model": model, "data": VIDEO, "prompt": ""})
    assert info.value.data == {"field": "prompt"}


def test_custom_models_send_every_option_as_given() -> None:
    stream = io.BytesIO(b"abc")
    form = prepare_submit(
        {
            "model": models.custom("lucy-9"),
            "data": VIDEO,
            "mask": stream,
            "frames": 12,
            "loop": True,
            "mode": "fast",
            "style": pathlib.PurePosixPath("/tmp/style.png"),
            "skipped": None,
            "on_status_change": print,
        }
    )
    assert form.fields == (("frames", "12"), ("loop", "true"), ("mode", "fast"))
    assert [(f.field, f.filename, f.content_type) for f in form.files] == [
        ("data", "data", "application/octet-stream"),
        ("mask", "mask", "application/octet-stream"),
        ("style", "style.png", "image/png"),
    ]
    assert form.files[1].source is stream


def test_booleans_and_integers_as_text() -> None:
    form = prepare_submit(
        {
            "model": models.video("lucy-2.1"),
            "data": VIDEO,
            "prompt": "p",
            "enhance_prompt": True,
            "seed": -12,
            "resolution": None,
        }
    )
    assert dict(form.fields) == {"prompt": "p", "enhance_prompt": "true", "seed": "-12"}
    form = prepare_submit(
        {"model": models.video("lucy-2.1"), "data": VIDEO, "prompt": "p", "enhance_prompt": False}
    )
    assert dict(form.fields)["enhance_prompt"] == "false"


# -- file inputs -------------------------------------------------------------------------------


class Named(io.BytesIO):
    def __init__(self, data: bytes, name: Any, mode: Any = "rb") -> None:
        super().__init__(data)
        self.name = name
        self.mode = mode


@pytest.mark.parametrize(
    ("source", "filename", "content_type"),
    [
        (b"v", "data", "application/octet-stream"),
        (bytearray(b"v"), "data", "application/octet-stream"),
        (memoryview(b"v"), "data", "application/octet-stream"),
        ("clips/in.MP4", "in.MP4", "video/mp4"),
        ("C:\\videos\\in.mov", "in.mov", "video/quicktime"),
        ("dir/", "data", "application/octet-stream"),
        (pathlib.PurePosixPath("a/b.webm"), "b.webm", "video/webm"),
        (Named(b"v", "/x/y.mkv"), "y.mkv", "video/x-matroska"),
        (Named(b"v", 3), "data", "application/octet-stream"),
        (Named(b"v", "", mode=0), "data", "application/octet-stream"),
        (io.BytesIO(b"v"), "data", "application/octet-stream"),
        ("a.unknown", "a.unknown", "application/octet-stream"),
    ],
)
def test_file_descriptions(source: Any, filename: str, content_type: str) -> None:
    form = prepare_submit({"model": models.video("lucy-2.1"), "data": source, "prompt": ""})
    (file,) = form.files
    assert (file.field, file.filename, file.content_type) == ("data", filename, content_type)
    assert file.source is source


def test_file_views() -> None:
    raw = b"video"
    assert FileInput("data", raw, "d", "x/y").in_memory is raw
    assert FileInput("data", bytearray(raw), "d", "x/y").in_memory == raw
    assert FileInput("data", "p.mp4", "d", "x/y").path == "p.mp4"
    assert FileInput("data", pathlib.PurePosixPath("p.mp4"), "d", "x/y").path == "p.mp4"
    assert FileInput("data", io.BytesIO(raw), "d", "x/y").path is None
    assert FileInput("data", io.BytesIO(raw), "d", "x/y").in_memory is None


@pytest.mark.parametrize(
    ("source", "fragment"),
    [
        (12, "expected bytes, a path or a binary file object, got int"),
        ("", "a path must be a non-empty str"),
        (Named(b"", "x.mp4", mode="r"), "binary mode"),
        (io.StringIO("text"), "binary mode"),
    ],
)
def test_bad_file_inputs(source: Any, fragment: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        prepare_submit({"model": models.video("lucy-2.1"), "data": source, "prompt": ""})
    assert info.value.message.startswith("data: ")
    assert fragment in info.value.message


def test_bytes_path_is_refused() -> None:
    class BytesPath(os.PathLike):  # type: ignore[type-arg]
        def __fspath__(self) -> bytes:
            return b"/x.mp4"

    with pytest.raises(InvalidInputError):
        prepare_submit({"model": models.video("lucy-2.1"), "data": BytesPath(), "prompt": ""})


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        ([("model", 1)], "options must be a dict"),
        ({"data": VIDEO}, "model is required"),
        ({"model": "lucy-2.1", "data": VIDEO}, "model must come from models.video()"),
        ({"model": models.custom("m"), "": 1}, "option names must be non-empty strings"),
        ({"model": models.custom("m"), 3: 1}, "option names must be non-empty strings"),
        ({"model": models.custom("m"), "p": "\ud800"}, "p: text must be valid Unicode"),
    ],
)
def test_bad_options(options: Any, fragment: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        prepare_submit(options)
    assert fragment in info.value.message


@pytest.mark.parametrize(("size", "offset"), [(-1, 0), (1, -1)])
def test_file_info_is_validated(size: int, offset: int) -> None:
    with pytest.raises(InvalidInputError):
        FileInfo(size, offset)
    assert FileInfo(None).size is None


VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.text(max_size=20),
    st.binary(max_size=20),
)


def _at(data: bytes, position: int) -> io.BytesIO:
    stream = io.BytesIO(data)
    stream.seek(position)
    return stream


# Options every model of WIRE.md accepts, drawn from its tables (not from the rules' code):
# each draw reaches the form, so the check after it always runs on a built form.
FILES = st.one_of(
    st.binary(min_size=1, max_size=20),
    st.builds(_at, st.binary(max_size=20), st.integers(0, 5)),  # a stream, part-read
)
PROMPTS = st.text(max_size=30)
SCALARS = {
    "seed": st.integers(),
    "resolution": st.sampled_from(["720p", "480p"]),
    "enhance_prompt": st.booleans(),
}


@st.composite
def valid_options(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    name = draw(st.sampled_from([*sorted(MODELS), "custom"]))
    family = MODELS.get(name)
    options: dict[str, Any] = {"data": draw(FILES)}
    optional: dict[str, st.SearchStrategy[Any]] = dict(SCALARS)
    if family is RuleSet.EDIT:
        options["prompt"] = draw(PROMPTS)  # required, may be empty
        optional["reference_image"] = FILES
    elif family is RuleSet.RESTYLE:
        # Exactly one of prompt (1-1000 characters) or reference_image; enhance_prompt only
        # with a prompt.
        if draw(st.booleans()):
            options["prompt"] = draw(PROMPTS.filter(bool))
        else:
            options["reference_image"] = draw(FILES)
            del optional["enhance_prompt"]
    elif family is RuleSet.CLIP:
        options["prompt"] = draw(PROMPTS.filter(bool))  # required, 1-1000 characters
        optional |= {"start": FILES, "end": FILES}
    else:  # a custom model: no client-side rules, any field
        optional |= {"prompt": PROMPTS, "anything": st.text(max_size=5) | FILES}
    for field, values in optional.items():
        if draw(st.booleans()):
            options[field] = draw(values | st.none())  # None: left out of the form
    if draw(st.booleans()):
        options["on_status_change"] = lambda job: None  # a control key, not a field
    return name, options


def _seen(value: Any) -> Any:
    """What a caller can see of a value: a stream's bytes and its position."""
    if isinstance(value, io.BytesIO):
        return ("stream", value.getvalue(), value.tell())
    return copy.deepcopy(value)


@given(valid_options())
def test_options_are_never_mutated(drawn: tuple[str, dict[str, Any]]) -> None:
    name, options = drawn
    model = models.custom("m") if name == "custom" else models.video(name)
    full = {"model": model, **options}
    before = {key: (value, _seen(value)) for key, value in full.items()}
    form = prepare_submit(full)  # WIRE.md allows every draw: it must be accepted
    names = [k for k, _ in form.fields] + [f.field for f in form.files]
    given_fields = {k for k, v in options.items() if v is not None and k != "on_status_change"}
    assert sorted(names) == sorted(given_fields)
    # The same keys, the same objects, the same contents, streams where they were.
    assert list(full) == list(before)
    for key, (value, seen) in before.items():
        assert full[key] is value, key
        assert _seen(full[key]) == seen, key


@given(
    name=st.sampled_from([*sorted(MODELS), "custom"]),
    options=st.dictionaries(
        st.sampled_from(
            ["data", "prompt", "reference_image", "seed", "resolution", "enhance_prompt", "start"]
        ),
        VALUES,
    ),
)
def test_refused_options_are_never_mutated_either(name: str, options: dict[str, Any]) -> None:
    model = models.custom("m") if name == "custom" else models.video(name)
    full = {"model": model, **options}
    before = copy.deepcopy(options)
    try:
        form = prepare_submit(full)
    except InvalidInputError as exc:
        # Every refusal names a field the caller gave or a required one.
        assert exc.message
    else:
        names = [k for k, _ in form.fields] + [f.field for f in form.files]
        assert sorted(names) == sorted(k for k, v in options.items() if v is not None)
    assert full.pop("model") is model
    assert full == before


@pytest.mark.parametrize(
    "url", ["https://x.example/v.mp4", "http://x", "s3://bucket/key", "gs://b/k", "ftp+ssh://h/p"]
)
def test_a_url_as_a_file_is_refused_naming_only_its_scheme(url: str) -> None:
    secret = "?token=s3cr3t-s1gnature"
    with pytest.raises(InvalidInputError, match="URLs are not fetched") as caught:
        prepare_submit({"model": models.video("lucy-2.1"), "data": url + secret, "prompt": ""})
    assert url.split("://", maxsplit=1)[0] + "://" in str(caught.value)
    assert "s3cr3t" not in str(caught.value)


@pytest.mark.parametrize("path", ["take:2.mp4", "C:/videos/in.mp4", "dir/a://b.mp4", "://x"])
def test_a_path_with_colons_is_still_a_path(path: str) -> None:
    form = prepare_submit({"model": models.video("lucy-2.1"), "data": path, "prompt": ""})
    assert form.files[0].path == path


def test_a_path_object_is_never_taken_for_a_url() -> None:
    # pathlib collapses "https://x" to "https:/x": whatever it names, it was given as a path.
    path = pathlib.Path("https://x")
    form = prepare_submit({"model": models.video("lucy-2.1"), "data": path, "prompt": ""})
    assert form.files[0].path == os.fspath(path)
