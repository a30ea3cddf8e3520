"""A process tracking many jobs polls all the time: the headers of a GET are checked by h11 once
per client (credentials and target), not at every poll, and not kept once the client is gone."""

from __future__ import annotations

import gc

from decart_proto import Credentials, parse_base_url, result_request, status_request
from decart_proto._requests import _CHECKED

KEY = "sk-test-123"


def test_every_poll_shares_the_headers_checked_once() -> None:
    target = parse_base_url("http://h:1/base")
    creds = Credentials(KEY)
    first = status_request(target, creds, "a")
    second = status_request(target, creds, "b")
    assert second.headers is first.headers
    assert (first.target, second.target) == (b"/base/v1/jobs/a", b"/base/v1/jobs/b")
    # Another target, or a download's (no Accept: json), has headers of its own.
    other = status_request(parse_base_url("http://h:2"), creds, "a")
    assert other.headers is not first.headers
    assert (b"host", b"h:2") in [(name, value) for name, value in other.headers]
    download = result_request(target, creds, "a")
    assert download.headers is not first.headers
    assert b"accept" not in [name for name, _ in download.headers]


def test_the_checked_headers_go_with_their_credentials() -> None:
    creds = Credentials("sk-test-gone")
    status_request(parse_base_url("http://h:1"), creds, "a")
    assert creds in _CHECKED
    del creds
    gc.collect()
    assert not any(c.api_key == "sk-test-gone" for c in _CHECKED)
