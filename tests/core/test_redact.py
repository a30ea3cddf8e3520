"""The API key masked in an error and everything it carries, by the one redactor every call of
the driver passes its errors through."""

from __future__ import annotations

import json
import random

import h11
import pytest
from hypothesis import given
from hypothesis import strategies as st

from decart_proto import (
    Acquire,
    Connect,
    Connection,
    DecartSDKError,
    Driver,
    ModelNotFoundError,
    QueueStatusError,
    Receive,
    RemoteProtocolError,
    SendBytes,
    status_request,
)
from decart_proto._redact import MIN_RUN, REDACTED, Redactor
from decart_proto._responses import MAX_ERROR_TEXT, Operation, error_for, read_job_json

KEY = "sk_live_0aZ9bY8cX7dW6eV5fU4gT3hS"
R = Redactor(KEY)


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("no key here", "no key here"),
        (f"key {KEY} twice {KEY}.", f"key {REDACTED} twice {REDACTED}."),
        (f"{KEY}{KEY}", REDACTED),  # touching: one span
        (f"cut at the end {KEY[:12]}", f"cut at the end {REDACTED}"),
        (f"{KEY[-9:]} cut at the start", f"{REDACTED} cut at the start"),
        (f"a piece {KEY[5 : 5 + MIN_RUN]} of it", f"a piece {REDACTED} of it"),
        (f"too short to matter {KEY[: MIN_RUN - 1]}", f"too short to matter {KEY[: MIN_RUN - 1]}"),
        (KEY.upper(), KEY.upper()),
    ],
)
def test_runs_of_the_key_are_masked(text: str, masked: str) -> None:
    assert R.text(text) == masked
    assert R.value(text.encode()) == masked.encode()
    assert R.value(bytearray(text.encode())) == bytearray(masked.encode())


def test_a_short_key_is_masked_whole_and_an_empty_one_masks_nothing() -> None:
    assert Redactor("abc").text("xabcx ab") == f"x{REDACTED}x ab"
    assert Redactor("").text("anything") == "anything"
    assert Redactor("").error(ValueError("x")).args == ("x",)


@given(st.text(max_size=60), st.text(max_size=60), st.integers(0, len(KEY)), st.integers(0, 40))
def test_no_run_of_the_key_survives(before: str, after: str, start: int, length: int) -> None:
    text = R.text(before + KEY[start : start + length] + after)
    runs = [KEY[i : i + MIN_RUN] for i in range(len(KEY) - MIN_RUN + 1)]
    assert not any(run in text for run in runs)


def test_containers_are_masked_keys_and_values() -> None:
    value = {"status": 500, KEY: [KEY, (f"x{KEY}", 3)], "n": None}
    assert R.value(value) == {"status": 500, REDACTED: [REDACTED, (f"x{REDACTED}", 3)], "n": None}
    error = ValueError(KEY)
    assert R.value([error]) == [error] and error.args == (REDACTED,)


def test_the_core_objects_that_hold_the_key_do_not_show_it() -> None:
    driver = Driver(
        api_key=KEY, base_url="http://x.invalid", clock=lambda: 0.0, rand=random.Random(1)
    )
    head = h11.Connection(h11.CLIENT).send(
        status_request(driver.target, driver.credentials, "j1")
    )
    assert head is not None and KEY.encode() in head
    for shown in (repr(driver), repr(driver.credentials), str(driver.credentials)):
        assert KEY not in shown
    op = SendBytes(Connection(driver.target.origin, stream=None), head, 5.0)
    assert KEY not in repr(op) and f"data=<{len(head)} bytes>" in repr(op)


def h11_error(data: bytes) -> h11.RemoteProtocolError:
    conn = h11.Connection(h11.CLIENT)
    conn.send(h11.Request(method="GET", target="/", headers=[("Host", "x")]))
    conn.send(h11.EndOfMessage())
    conn.receive_data(data)
    try:
        conn.next_event()
    except h11.RemoteProtocolError as exc:
        return exc
    raise AssertionError("h11 took it")


def test_an_error_its_cause_and_its_chains_are_masked_in_place() -> None:
    foreign = h11_error(b"HTTP/1.1 200 OK\r\n" + KEY.encode() + b"\r\n\r\n")
    assert KEY in str(foreign)
    try:
        try:
            raise foreign
        except h11.RemoteProtocolError as exc:
            raise RemoteProtocolError(f"the server broke HTTP/1.1: {exc}") from exc
    except RemoteProtocolError as exc:
        cause = exc
    error = QueueStatusError(
        f"Failed to get job status: {cause.message}",
        data={"status": None, "request_id": f"req-{KEY}"},
        cause=cause,
    )
    error.__context__ = ValueError(KEY)
    assert R.error(error) is error
    assert KEY not in error.message and KEY not in str(error) and KEY not in repr(error)
    assert error.args == (error.message,)
    assert error.data == {"status": None, "request_id": f"req-{REDACTED}"}
    assert error.cause is cause is error.__cause__ and KEY not in cause.message
    assert error.__context__.args == (REDACTED,)
    # raise ... from chains the h11 error: cleaned too.
    assert cause.__cause__ is foreign
    assert KEY not in str(foreign) and KEY not in repr(foreign)
    assert foreign.error_status_hint == 400  # its other attributes are left alone


def test_every_attribute_is_masked() -> None:
    error = ModelNotFoundError(f"model-{KEY}")
    R.error(error)
    assert error.model == f"model-{REDACTED}"
    assert KEY not in error.message


class Opaque(Exception):
    """An error whose text comes from somewhere the redactor cannot reach."""

    def __init__(self, secret: str) -> None:
        super().__init__()
        self._secret = (secret,)  # a tuple stored out of sight: masked as a value

    def __str__(self) -> str:
        return f"opaque {KEY}"


class Frozen(Exception):
    """An error whose attributes cannot be set once made."""

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(name)


class Unprintable(Exception):
    def __str__(self) -> str:
        raise RuntimeError("no")


def test_a_foreign_error_that_cannot_be_cleaned_is_replaced_by_one_of_ours() -> None:
    inner = ValueError(f"inner {KEY}")
    opaque = Opaque(KEY)
    opaque.__context__ = inner
    opaque.__suppress_context__ = True
    outer = QueueStatusError("Failed", cause=opaque)
    outer.__context__ = opaque
    R.error(outer)
    ours = outer.cause
    assert type(ours) is DecartSDKError
    assert ours.message == f"Opaque: opaque {REDACTED}"
    assert outer.__context__ is ours  # the chain leads to the replacement, not the original
    assert ours.__context__ is inner and ours.__suppress_context__
    assert inner.args == (f"inner {REDACTED}",)
    assert opaque._secret == (REDACTED,)


def test_an_error_that_cannot_be_changed_is_replaced() -> None:
    replaced = R.error(Frozen(f"frozen {KEY}"))
    assert type(replaced) is DecartSDKError and replaced.message == f"Frozen: frozen {REDACTED}"


def test_an_error_that_cannot_even_be_shown_is_replaced() -> None:
    replaced = R.error(Unprintable())
    assert type(replaced) is DecartSDKError and replaced.message == "Unprintable"


def test_a_chain_that_loops_is_walked_once() -> None:
    a = QueueStatusError(f"a {KEY}")
    b = QueueStatusError(f"b {KEY}", cause=a)
    a.cause = b
    a.__context__ = b
    assert R.error(a) is a
    assert (a.message, b.message) == (f"a {REDACTED}", f"b {REDACTED}")


# -- the readers quote servers; the redactor cleans after them ----------------------------------


def test_a_key_cut_by_a_preview_is_masked_still() -> None:
    body = ("x" * 190 + KEY + "y" * 50).encode()  # the key straddles the preview's cut at 200
    with pytest.raises(QueueStatusError) as info:
        read_job_json(Operation.STATUS, 200, body)
    assert KEY[:10] in info.value.message  # quoted as sent ...
    R.error(info.value)
    assert KEY[:10] not in info.value.message and REDACTED in info.value.message  # ... masked


def test_a_key_at_the_error_texts_cut_is_masked_still() -> None:
    body = ("e" * (MAX_ERROR_TEXT - 9) + KEY).encode()
    headers = [(b"x-request-id", f"req-{KEY}".encode())]
    error = R.error(error_for(Operation.RESULT, 500, headers, body))
    assert isinstance(error, DecartSDKError)
    assert KEY[:9] not in error.message
    assert error.data == {"status": 500, "request_id": f"req-{REDACTED}"}


# -- through the driver --------------------------------------------------------------------------


def run_status(answer: bytes | BaseException) -> BaseException:
    """The error a status call ends with when its connection receives *answer* (or has it
    thrown in, as a transport does with a failure)."""
    driver = Driver(
        api_key=KEY, base_url="http://x.invalid", clock=lambda: 0.0, rand=random.Random(1)
    )
    gen = driver.status("j1")
    reply: object = None
    error: BaseException | None = None
    while True:
        try:
            op = gen.throw(error) if error is not None else gen.send(reply)
        except StopIteration:
            raise AssertionError("the call succeeded") from None
        except BaseException as exc:
            return exc
        reply, error = None, None
        if isinstance(op, Connect):
            reply = Connection(op.origin, stream=None)
        elif isinstance(op, Receive):
            if isinstance(answer, BaseException):
                error = answer
            else:
                reply, answer = answer, b""
        else:
            assert isinstance(op, (Acquire, SendBytes)) or type(op).__name__ == "Release", op


def test_a_status_value_echoing_the_key_is_masked() -> None:
    body = json.dumps({"job_id": "j1", "status": KEY}).encode()
    answer = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
    error = run_status(answer)
    assert isinstance(error, QueueStatusError)
    assert f"unknown job status '{REDACTED}'" in error.message
    assert KEY not in repr(error) and KEY not in repr(error.cause)


def test_a_foreign_error_out_of_the_driver_is_replaced_without_its_original_as_context() -> None:
    # A transport's own exception, thrown in and not caught by the driver, that shows the key.
    error = run_status(OSError(5, f"strange failure {KEY}"))
    assert type(error) is DecartSDKError
    assert error.message == f"OSError: [Errno 5] strange failure {REDACTED}"
    assert error.__context__ is None and error.__cause__ is None


def test_a_foreign_error_out_of_the_driver_is_cleaned_in_place_when_it_can_be() -> None:
    original = RuntimeError(f"odd {KEY}")
    error = run_status(original)
    assert error is original and error.args == (f"odd {REDACTED}",)
