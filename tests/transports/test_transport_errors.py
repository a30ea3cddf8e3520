"""Errors reach the caller as the documented types, with the HTTP status in ``.data`` and never
the API key; configuration errors are raised by the constructor."""

from __future__ import annotations

import importlib
from typing import Any

import pytest
from transport_helpers import SECRET

from decart_emulator import Emulator, Fault
from decart_proto import models

pytestmark = pytest.mark.anyio

MODEL = models.video("lucy-2.1")


def _texts(error: BaseException) -> list[str]:
    """Everything an error shows of itself, down its chain of causes."""
    texts: list[str] = []
    seen: BaseException | None = error
    while seen is not None:
        texts += [str(seen), repr(seen), repr(getattr(seen, "data", None))]
        seen = getattr(seen, "cause", None) or seen.__cause__ or seen.__context__
    return texts


async def test_wrong_key_is_a_submit_error_401(connect: Any) -> None:
    async with connect(api_key="not-the-key") as api:
        with pytest.raises(api.module.QueueSubmitError) as caught:
            await api.queue.submit({"model": MODEL, "data": b"v", "prompt": "x"})
    error = caught.value
    assert isinstance(error, api.module.DecartSDKError)
    assert error.data["status"] == 401
    assert error.message.startswith("Failed to submit job: 401")
    assert all("not-the-key" not in text for text in _texts(error))


async def test_server_side_form_error_is_422(connect: Any, emu: Emulator) -> None:
    # A custom model has no client-side rules, so the missing prompt reaches the server.
    before = emu.submit_count
    async with connect() as api:
        with pytest.raises(api.module.QueueSubmitError) as caught:
            await api.queue.submit({"model": models.custom("lucy-2.1"), "data": b"v"})
    assert caught.value.data["status"] == 422
    assert "prompt" in caught.value.message
    assert emu.submit_count == before  # the server refused the form: no job


async def test_client_side_rules_raise_before_sending(connect: Any, emu: Emulator) -> None:
    before = len(emu.requests)
    async with connect() as api:
        with pytest.raises(api.module.InvalidInputError):
            await api.queue.submit({"model": MODEL, "prompt": "no data"})
    assert len(emu.requests) == before


async def test_unknown_job_is_404(connect: Any) -> None:
    async with connect() as api:
        with pytest.raises(api.module.QueueStatusError) as status_error:
            await api.queue.status("no-such-job")
        assert status_error.value.data["status"] == 404
        with pytest.raises(api.module.QueueResultError) as result_error:
            await api.queue.result("no-such-job")
        assert result_error.value.data["status"] == 404


@pytest.mark.parametrize(
    ("method", "path", "status", "call"),
    [
        ("POST", r"/v1/jobs/lucy-2\.1", 401, "submit"),
        ("GET", r"/v1/jobs/[^/]+", 400, "status"),
        ("GET", r"/v1/jobs/[^/]+/content", 403, "result"),
        # A 2xx answer that breaks the API's contract is quoted by a protocol error, not by
        # the refusal path: its status value and its body both carry the key.
        ("POST", r"/v1/jobs/lucy-2\.1", 200, "submit"),
        ("GET", r"/v1/jobs/[^/]+", 200, "status"),
    ],
)
async def test_key_echoed_by_the_server_never_shows(
    connect: Any, emu: Emulator, method: str, path: str, status: int, call: str
) -> None:
    echo = f'{{"job_id": "j-1", "status": "bad key {SECRET}", "key": "{SECRET}"}}'
    emu.add_fault(Fault(method=method, path=path, status=status, body=echo,
                        headers={"x-echo": SECRET}))  # fmt: skip
    async with connect(api_key=SECRET) as api:
        with pytest.raises(api.module.DecartSDKError) as caught:
            if call == "submit":
                await api.queue.submit({"model": MODEL, "data": b"v", "prompt": "x"})
            else:
                job = await api.queue.submit({"model": MODEL, "data": b"v", "prompt": "x"})
                await getattr(api.queue, call)(job.job_id)
    error = caught.value
    assert error.data["status"] == status
    assert "bad key" in error.message  # the body is quoted...
    texts = _texts(error)
    assert all(SECRET not in text for text in texts), texts  # ...without the key
    assert SECRET not in repr(api.client)
    assert SECRET not in repr(vars(api.client))  # its settings, driver, pool, I/O and queue


async def test_key_from_the_environment(
    transport: str, emu: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DECART_API_KEY", emu.api_key)
    module = importlib.import_module(f"decart_proto.transports.{transport}")
    ssl_context = emu.client_ssl_context() if emu.ca_pem_path is not None else None
    client = module.DecartClient(base_url=emu.base_url, ssl_context=ssl_context)
    try:
        call = client.queue.submit({"model": MODEL, "data": b"v", "prompt": "x"})
        job = call if transport == "blocking" else await call
        assert job.status == "pending"
    finally:
        await _close(transport, client)


async def test_no_key_and_bad_base_url(transport: str, monkeypatch: pytest.MonkeyPatch) -> None:
    module = importlib.import_module(f"decart_proto.transports.{transport}")
    monkeypatch.delenv("DECART_API_KEY", raising=False)
    with pytest.raises(module.InvalidAPIKeyError):
        module.DecartClient()
    with pytest.raises(module.InvalidAPIKeyError):
        module.DecartClient(api_key="  ")
    with pytest.raises(module.InvalidBaseURLError):
        module.DecartClient(api_key="k", base_url="ftp://example.com")
    assert issubclass(module.InvalidBaseURLError, module.DecartSDKError)


async def test_tls_is_verified_by_default(transport: str, emulators: dict[str, Emulator]) -> None:
    """A client that does not trust the emulator's throwaway CA refuses to talk to it."""
    emu = emulators["https"]
    module = importlib.import_module(f"decart_proto.transports.{transport}")
    # Default retry policy and a short deadline: a certificate failure must not be retried, so
    # the call fails with the submit's own error at once, not with DeadlineExceededError after
    # retrying until the deadline.
    client = module.DecartClient(api_key=emu.api_key, base_url=emu.base_url)
    before = emu.submit_count
    try:
        with pytest.raises(module.QueueSubmitError) as caught:
            call = client.queue.submit({"model": MODEL, "data": b"v", "prompt": "x"}, timeout=5)
            if transport != "blocking":
                await call
    finally:
        await _close(transport, client)
    assert isinstance(caught.value.cause, module.TLSVerificationError)
    assert "certificate" in caught.value.message.lower()
    assert caught.value.data["status"] is None
    assert emu.submit_count == before


async def _close(transport: str, client: Any) -> None:
    if transport == "blocking":
        client.close()
    else:
        await client.close()


def test_each_module_exports_the_docs_names() -> None:
    names = {"DecartClient", "models", "QueueSubmitError", "QueueStatusError",
             "QueueResultError", "DecartSDKError", "InvalidInputError"}  # fmt: skip
    exported = []
    for transport in ("blocking", "asyncio", "trio"):
        module = importlib.import_module(f"decart_proto.transports.{transport}")
        assert names <= set(module.__all__)
        for name in module.__all__:
            assert getattr(module, name) is not None
        exported.append(sorted(module.__all__))
    assert exported[0] == exported[1] == exported[2]


async def test_early_401_during_a_large_upload(connect: Any, emu: Emulator, tmp_path: Any) -> None:
    """The server refuses the key before reading the body: its answer, not the broken pipe it
    causes, is what the caller gets."""
    big = tmp_path / "big.mp4"
    big.write_bytes(b"\0" * (48 << 20))
    async with connect(api_key="not-the-key") as api:
        with pytest.raises(api.module.QueueSubmitError) as caught:
            await api.queue.submit({"model": MODEL, "data": big, "prompt": "x"})
    assert caught.value.data["status"] == 401
