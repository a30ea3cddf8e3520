"""One invocation of the command: its settings, where it writes, and what a Ctrl-C or a failure
must tell the user (the job being waited for, and whether a submit was on its way)."""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from typing import Any

from decart_proto.transports.blocking import DecartClient

from decart_proto import PollPolicy

from ._args import Settings, wait_command
from ._event_lines import event_lines
from ._progress import Reporter
from ._text import say

__all__ = ["Session", "poll_policy"]


@dataclass
class Session:
    settings: Settings
    secret: str
    reporter: Reporter
    # The job a Ctrl-C or a deadline should say how to resume, and where its result goes.
    job_id: str | None = None
    resume_output: str | None = None
    # A submit was sent and no job id has come back yet: a Ctrl-C now may leave a job behind.
    submitting: bool = False
    # The result goes to stdout (``-o -``), which then carries its bytes alone.
    stdout_is_output: bool = False

    @property
    def json(self) -> bool:
        return self.settings.json

    @property
    def quiet(self) -> bool:
        return self.settings.quiet

    def result(self, lines: str | list[str], obj: dict[str, Any]) -> None:
        """The command's answer on stdout: *lines* for people, *obj* with --json; on stderr
        when stdout carries the video (``-o -``, never with --json)."""
        self.reporter.close()  # a live display ends before the answer is printed below it
        if self.stdout_is_output:
            if not self.quiet:
                say(sys.stderr, lines, self.secret)
            return
        answer = json.dumps(obj, sort_keys=True) if self.json else lines
        if answer:
            say(sys.stdout, answer, self.secret)

    def client(self) -> DecartClient:
        return DecartClient(
            api_key=self.settings.api_key,
            base_url=self.settings.base_url or os.environ.get("DECART_BASE_URL") or None,
            poll=poll_policy(self.settings.poll_interval),
            event_hook=event_lines(self.reporter, self.settings.verbose),
        )

    def resume_command(self, job_id: str, output: str | None) -> str:
        return wait_command(job_id, output, self.settings.base_url)


def poll_policy(interval: float | None) -> PollPolicy | None:
    if interval is None:
        return None
    return PollPolicy(
        initial_delay=min(0.5, interval), interval=interval, max_interval=max(30.0, interval)
    )
