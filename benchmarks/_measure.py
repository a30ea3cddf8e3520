"""What the many-jobs benchmarks measure in a client process, and how they start one.

Each client runs in a fresh child process, so its CPU and memory are its own:

- **CPU**: ``getrusage(RUSAGE_SELF)`` (user + sys, every thread of the process) across the
  measured part only, so the interpreter's start and the imports are not counted per job. The
  parent also keeps the whole process's rusage from ``os.wait4``, for the record.
- **Peak memory**: the child resets its peak resident set (``5`` into ``/proc/self/clear_refs``)
  just before the jobs start and reads ``VmHWM`` at the end: the peak *during* the jobs, minus the
  resident set at the start (``VmRSS``), is what the jobs cost at their worst. Where the reset is
  refused, ``VmHWM`` since ``exec`` is used and the report says so (``hwm_reset: false``).

The transports are imported from ``decart_proto.transports`` when installed there, else from the
repository's ``transports`` package, so the scripts run before and after that move. Options a
client does not accept yet (``max_connections``) are left out, and the report says which were
passed.
"""

from __future__ import annotations

import errno
import importlib
import inspect
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any

__all__ = [
    "ChildRun",
    "Meter",
    "accepted_options",
    "code_version",
    "error_kind",
    "run_child",
    "set_fd_limit",
    "transport",
]


def transport(name: str) -> ModuleType:
    """Our transport module *name* (``blocking``, ``asyncio``, ``trio``)."""
    return importlib.import_module(f"decart_proto.transports.{name}")


def machine() -> dict[str, Any]:
    """What the figures were measured on, for a benchmark's JSON and the charts' captions."""
    model = ""
    try:
        with open("/proc/cpuinfo") as f:
            model = next(line.split(":", 1)[1].strip() for line in f if "model name" in line)
    except (OSError, StopIteration):
        pass
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "kernel": platform.release(),
        "python": sys.version.split()[0],
        "load_average": os.getloadavg(),  # other work on a shared machine inflates CPU times
    }


def code_version() -> dict[str, Any]:
    """The commit the measured code is at, and whether tracked files differ from it; empty
    outside a git checkout (then say in the notes which code was measured)."""
    here = os.path.dirname(os.path.abspath(__file__))
    try:
        commit = subprocess.run(
            ["git", "-C", here, "rev-parse", "--short", "HEAD"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
        changed = subprocess.run(["git", "-C", here, "diff", "--quiet", "HEAD"], check=False)
    except (OSError, subprocess.CalledProcessError):
        return {}
    return {"commit": commit, "uncommitted_changes": changed.returncode != 0}


def accepted_options(client_class: Any, **wanted: Any) -> dict[str, Any]:
    """The subset of *wanted* keyword arguments that *client_class* accepts."""
    parameters = inspect.signature(client_class).parameters
    return {name: value for name, value in wanted.items() if name in parameters}


def set_fd_limit(limit: int | None) -> int:
    """Set this process's soft ``RLIMIT_NOFILE`` (``None``: raise it to the hard limit); returns
    the limit in force."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    soft = hard if limit is None else limit
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


class _ProcStatus:
    """``/proc/self/status``, opened once: read again at the end, when a client at its file
    descriptor limit could not open it."""

    def __init__(self) -> None:
        self.fd = os.open("/proc/self/status", os.O_RDONLY)

    def kib(self, field: str) -> int:
        text = os.pread(self.fd, 1 << 16, 0).decode()
        for line in text.splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
        raise RuntimeError(f"no {field} in /proc/self/status")

    def close(self) -> None:
        os.close(self.fd)


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        return False
    return True


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


class Meter:
    """Started just before the jobs and stopped just after: CPU, wall time and peak memory."""

    def __init__(self) -> None:
        self.report: dict[str, Any] = {}

    def start(self) -> None:
        self._status = _ProcStatus()
        self.report["fds_before"] = open_fds()
        self.report["hwm_reset"] = _reset_peak()
        self.report["rss_before_kib"] = self._status.kib("VmRSS")
        self._usage = resource.getrusage(resource.RUSAGE_SELF)
        self._started = time.perf_counter()

    def stop(self) -> dict[str, Any]:
        seconds = time.perf_counter() - self._started
        usage = resource.getrusage(resource.RUSAGE_SELF)
        self.report.update(
            seconds=seconds,
            user_s=usage.ru_utime - self._usage.ru_utime,
            sys_s=usage.ru_stime - self._usage.ru_stime,
            peak_kib=self._status.kib("VmHWM"),
            rss_after_kib=self._status.kib("VmRSS"),
        )
        self._status.close()
        return self.report


def error_kind(exc: BaseException) -> str:
    """A short name for a failed call: ``EMFILE`` when running out of file descriptors caused it
    (anywhere in its chain, or in an SDK error's ``data``), else the exception's type."""
    seen: set[int] = set()
    link: BaseException | None = exc
    while link is not None and id(link) not in seen:
        seen.add(id(link))
        data = getattr(link, "data", None)
        codes = {getattr(link, "errno", None)}
        if isinstance(data, dict):
            codes.add(data.get("errno"))
        if errno.EMFILE in codes or errno.ENFILE in codes or "Too many open files" in str(link):
            return "EMFILE"
        link = link.__cause__ or link.__context__
    return type(exc).__name__


@dataclass(frozen=True)
class ChildRun:
    ok: bool
    report: dict[str, Any]  # the child's last stdout line, as JSON
    cpu_s: float  # the whole process (start and imports included), from wait4
    error: str


def run_child(argv: Sequence[str], timeout: float, env: dict[str, str] | None = None) -> ChildRun:
    """Run a child that prints one JSON line last; reaped with ``os.wait4`` for its rusage."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(list(argv), stdout=out, stderr=err, env=env)
        deadline = time.monotonic() + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                proc.kill()
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.02)
        proc.returncode = code = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
        out.seek(0)
        err.seek(0)
        lines = out.read().strip().splitlines()
        cpu = usage.ru_utime + usage.ru_stime
        if code != 0 or not lines:
            last = (err.read().strip().splitlines() or [f"exit {code}"])[-1]
            return ChildRun(False, {}, cpu, last[:160])
        try:
            report = json.loads(lines[-1])
        except ValueError:
            return ChildRun(False, {}, cpu, f"no report: {lines[-1][:200]!r}")
        return ChildRun(True, report, cpu, "")
