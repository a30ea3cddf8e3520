"""The examples users copy pass ``mypy --strict``: the README's, and the Queue API docs' (with
their import line changed). The types narrow as the docs' code expects — ``result.data`` is
``bytes`` once ``result.status == "completed"`` — and a misspelt option is a type error, which
the negative cases prove (a check that passes everything would pass them too)."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README_BLOCKS = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
CLIENT_BLOCKS = [block for block in README_BLOCKS if "DecartClient(" in block]
DOCS_EXAMPLES = sorted((ROOT / "tests" / "transports").glob("docs_examples_*.py"))


def _mypy(paths: list[Path], *flags: str) -> dict[str, list[str]]:
    """mypy's errors in *paths*, by file name. Run from the root, so that the project's
    configuration (mypy-layout/) finds the package; errors elsewhere are the static test's."""
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", *flags, *map(str, paths)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode in (0, 1), done.stdout + done.stderr  # 2: mypy itself failed
    errors: dict[str, list[str]] = {path.name: [] for path in paths}
    for line in done.stdout.splitlines():
        name = Path(line.split(":", 1)[0]).name
        if name in errors and ": error:" in line:
            errors[name].append(line)
    return errors


def test_the_readme_has_client_examples() -> None:
    assert len(CLIENT_BLOCKS) >= 2


def test_the_readme_examples_and_the_narrowing_pass_mypy_strict(tmp_path: Path) -> None:
    paths = []
    for index, block in enumerate(CLIENT_BLOCKS):
        paths.append(tmp_path / f"readme_{index}.py")
        paths[-1].write_text(block)
    # The control for the mistakes below: they fail for their mistake, not their scaffolding.
    paths.append(tmp_path / "right.py")
    paths[-1].write_text(_program(RIGHT))
    assert _mypy(paths) == {path.name: [] for path in paths}


def test_the_queue_api_docs_examples_pass_mypy() -> None:
    # The docs' snippets are functions without annotations (client, video_file come from
    # their surroundings): their bodies are checked all the same.
    flags = ("--allow-untyped-defs", "--allow-untyped-calls", "--check-untyped-defs")
    assert len(DOCS_EXAMPLES) == 3
    assert _mypy(DOCS_EXAMPLES, *flags) == {path.name: [] for path in DOCS_EXAMPLES}


WRONG = {
    "a misspelt option": """
        client.queue.submit_and_poll(
            {"model": models.video("lucy-2.1"), "data": b"", "promt": "x"}
        )
    """,
    "the video's bytes read without checking the status": """
        result = client.queue.submit_and_poll(
            {"model": models.video("lucy-2.1"), "data": b"", "prompt": "x"}
        )
        video: bytes = result.data
    """,
    "the bytes of a result saved to a file": """
        result = client.queue.submit_and_poll(
            {"model": models.video("lucy-2.1"), "data": b"", "prompt": "x"}, output="out.mp4"
        )
        if result.status == "completed":
            video: bytes = result.data
    """,
    "a status callback of the wrong shape": """
        def changed(status: str) -> None: ...
        client.queue.submit_and_poll(
            {"model": models.video("lucy-2.1"), "data": b"", "prompt": "x",
             "on_status_change": changed}
        )
    """,
}

RIGHT = """
    result = client.queue.submit_and_poll(
        {"model": models.video("lucy-2.1"), "data": b"", "prompt": "x"}
    )
    if result.status == "completed":
        video: bytes = result.data
    else:
        reason: str = result.error
"""


def _program(body: str) -> str:
    return (
        "from decart_proto.transports.blocking import DecartClient, models\n\n"
        'with DecartClient(api_key="k") as client:\n'
        + textwrap.indent(textwrap.dedent(body).strip("\n"), "    ")
        + "\n"
    )


def test_each_mistake_is_a_type_error(tmp_path: Path) -> None:
    paths = {}
    for index, case in enumerate(sorted(WRONG)):
        paths[case] = tmp_path / f"wrong_{index}.py"
        paths[case].write_text(_program(WRONG[case]))
    errors = _mypy(list(paths.values()))
    missed = [case for case, path in paths.items() if not errors[path.name]]
    assert not missed, errors
