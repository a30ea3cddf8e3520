"""docs/transport-recipe.md tells the truth about the code: its line counts are the files' and
the classes' own, and the protocol it lists is the protocol's members, no more, no fewer."""

from __future__ import annotations

import errno
import importlib
import inspect
import io
import os
import re
import socket
import ssl
import subprocess
import sys
from pathlib import Path

import pytest
from decart_proto.transports import AsyncIO, SyncIO, toolkit

from decart_proto import (
    FileInfo,
    FileInput,
    FileRegion,
    InvalidInputError,
    IOTimeout,
    NetworkError,
    TLSVerificationError,
)

ROOT = Path(__file__).resolve().parents[2]
RECIPE = (ROOT / "docs" / "transport-recipe.md").read_text()
# A row of the line-count table: | `a file or a dotted class` (a comment) | 123 |
ROW = re.compile(r"^\| `([\w./]+)`[^|]* \| (\d+) \|$", re.MULTILINE)


def _lines(name: str) -> int:
    if name.endswith(".py"):
        return len((ROOT / name).read_text().splitlines())
    module, _, attribute = name.rpartition(".")
    return len(inspect.getsourcelines(getattr(importlib.import_module(module), attribute))[0])


def test_every_line_count_in_the_recipe_is_true() -> None:
    claims = {name: int(count) for name, count in ROW.findall(RECIPE)}
    assert len(claims) >= 8, claims  # the table is there, and read
    actual = {name: _lines(name) for name in claims}
    assert claims == actual


def _members(protocol: type) -> set[str]:
    return {
        name
        for name in {*vars(protocol), *getattr(protocol, "__annotations__", {})}
        if not name.startswith("_")
    }


def test_the_recipe_lists_the_protocol_as_it_is() -> None:
    listing = RECIPE.split("class AsyncIO(Protocol[S]):", 1)[1].split("```", 1)[0]
    listed = set(re.findall(r"^    (?:async def |def )?(\w+)[(:]", listing, re.MULTILINE))
    assert listed == _members(AsyncIO)
    assert _members(SyncIO) == _members(AsyncIO)  # the blocking twin has the same methods


# -- what a transport written from the recipe needs ---------------------------------------------

EXAMPLE = ROOT / "docs" / "examples" / "selectors_transport.py"
KIT = sorted(str(path) for path in (ROOT / "decart_emulator").glob("conformance*.py"))


def test_the_example_and_the_kit_pass_mypy_strict_without_a_cast_or_a_private_import() -> None:
    source = EXAMPLE.read_text()
    assert "cast(" not in source and "type: ignore" not in source
    imports = re.findall(r"^(?:from|import) (\S+)", source, re.MULTILINE)
    assert "decart_proto" in imports and "decart_proto.transports" in imports
    assert [name for name in imports if "._" in name or name.startswith("_")] == ["__future__"]
    assert not re.search(r"\b(?:dp|toolkit)\._", source)  # no private name of ours either
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental",
         "--follow-imports=silent", str(EXAMPLE), *KIT],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr


def _ssl_error(kind: type[ssl.SSLError], reason: str, **more: str) -> ssl.SSLError:
    """An error as the ssl module raises it, with the attributes it sets."""
    error = kind(1, reason)
    error.reason = reason
    for name, value in more.items():
        setattr(error, name, value)
    return error


@pytest.mark.parametrize(
    ("raised", "expected"),
    [
        (
            _ssl_error(
                ssl.SSLCertVerificationError,
                "CERTIFICATE_VERIFY_FAILED",
                verify_message="unable to get local issuer certificate",
            ),
            TLSVerificationError,
        ),
        (TimeoutError(), IOTimeout),
        (IOTimeout("deadline passed"), IOTimeout),
        (_ssl_error(ssl.SSLError, "DECRYPTION_FAILED_OR_BAD_RECORD_MAC"), NetworkError),
        (ConnectionResetError(errno.ECONNRESET, "Connection reset by peer"), NetworkError),
        (socket.gaierror(socket.EAI_NONAME, "Name or service not known"), NetworkError),
    ],
)
def test_the_error_mapping(raised: BaseException, expected: type[NetworkError]) -> None:
    mapped = toolkit.map_error(raised)
    assert type(mapped) is expected
    assert isinstance(mapped, NetworkError)


def test_a_network_error_of_the_transports_own_passes_unchanged() -> None:
    error = NetworkError("the proxy refused the tunnel")
    assert toolkit.map_error(error) is error


def _region(source: object, offset: int, length: int) -> FileRegion:
    return FileRegion(FileInput("data", source, "in.mp4", "video/mp4"), offset, length)  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", ["path", "file object"])
def test_read_region_gives_the_region_in_pieces(tmp_path: Path, kind: str) -> None:
    data = os.urandom(10_000)
    path = tmp_path / "in.mp4"
    path.write_bytes(data)
    source = path if kind == "path" else io.BytesIO(data)
    pieces = [bytes(piece) for piece in toolkit.read_region(_region(source, 100, 9_000), 4096)]
    assert [len(piece) for piece in pieces] == [4096, 4096, 808]
    assert b"".join(pieces) == data[100:9_100]


def test_read_region_of_a_file_that_shrank_is_the_callers_error() -> None:
    pieces = toolkit.read_region(_region(io.BytesIO(b"x" * 100), 0, 1_000))
    with pytest.raises(InvalidInputError, match="ended after 100 of 1000 bytes"):
        list(pieces)


def test_the_file_ops_answers() -> None:
    part_read = io.BytesIO(b"HEADERbody")
    part_read.seek(6)
    file = FileInput("data", part_read, "in.mp4", "video/mp4")
    assert toolkit.probe_file(file) == FileInfo(4, 6)
    assert toolkit.read_chunk(file, 3) == b"bod"
