"""The command line, parsed into typed objects: the options every command takes, the job's
options, and each command's own arguments.

argparse hands back a ``Namespace`` whose attributes mypy cannot see; each command reads a
dataclass instead, so that a misspelt or missing option is a type error, not an
``AttributeError`` in front of a user.
"""

from __future__ import annotations

import argparse
import dataclasses
import shlex
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

__all__ = [
    "DEFAULT_MODEL",
    "PROG",
    "BatchArgs",
    "DemoArgs",
    "JobArgs",
    "JobOptions",
    "Settings",
    "SubmitArgs",
    "read",
    "wait_command",
]

PROG = "decart-proto"
DEFAULT_MODEL = "lucy-2.1"

T = TypeVar("T", bound="DataclassInstance")


def read(cls: type[T], namespace: argparse.Namespace) -> T:
    """*cls* filled from the parsed *namespace*: each field from the option of its name, or its
    default when this command has no such option."""
    values: dict[str, Any] = {}
    for field in dataclasses.fields(cls):
        if hasattr(namespace, field.name):
            values[field.name] = getattr(namespace, field.name)
    return cls(**values)


def wait_command(job_id: str, output: str | None = None, base_url: str | None = None) -> str:
    """The command that resumes *job_id*, to paste into a shell: every word quoted, and an id
    that starts with a dash after ``--``, where argparse cannot take it for an option."""
    options = []
    if output:
        options += ["-o", output]
    if base_url:
        options += ["--base-url", base_url]
    if job_id.startswith("-"):
        words = [PROG, "wait", *options, "--", job_id]
    else:
        words = [PROG, "wait", job_id, *options]
    return " ".join(shlex.quote(word) for word in words)


@dataclass(frozen=True)
class Settings:
    """The options every command takes, before or after its name."""

    api_key: str | None = None
    base_url: str | None = None
    json: bool = False
    quiet: bool = False
    verbose: bool = False
    timeout: float | None = None
    poll_interval: float | None = None


@dataclass(frozen=True)
class JobOptions:
    """What to do with a video: the model and its options (``submit``, ``batch``, ``demo``)."""

    model: str = DEFAULT_MODEL
    prompt: str | None = None
    reference_image: str | None = None
    seed: int | None = None
    resolution: str | None = None
    enhance_prompt: bool | None = None


@dataclass(frozen=True)
class SubmitArgs:
    input: str
    output: str | None = None
    force: bool = False
    no_wait: bool = False


@dataclass(frozen=True)
class JobArgs:
    """``status``, ``wait`` and ``result``: a job that exists, and where its result goes."""

    job_id: str
    output: str | None = None
    force: bool = False


@dataclass(frozen=True)
class BatchArgs:
    inputs: list[str]
    out_dir: str
    concurrency: int = 4
    journal: str | None = None
    force: bool = False
    retry_failed: bool = False


@dataclass(frozen=True)
class DemoArgs:
    output: str | None = None
    force: bool = False
    input: str | None = None
    pending_seconds: float = 1.0
    processing_seconds: float = 1.5
