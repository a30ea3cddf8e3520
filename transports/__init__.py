"""Transports for decart_proto, installed as ``decart_proto.transports``: ``.blocking``,
``.asyncio`` and ``.trio`` each offer the same ``DecartClient``. The ``decart-proto`` command is
``decart_proto.cli``.

A transport for another event loop is a class of :class:`AsyncIO` (for blocking code,
:class:`SyncIO`), named by a subclass of :class:`AsyncDecartClient` (:class:`SyncDecartClient`):
see docs/transport-recipe.md."""

from ._async_client import AsyncDecartClient as AsyncDecartClient
from ._async_pool import AsyncIO as AsyncIO
from ._common import Address as Address
from ._sync_client import SyncDecartClient as SyncDecartClient
from ._sync_pool import SyncIO as SyncIO

__all__ = ["Address", "AsyncDecartClient", "AsyncIO", "SyncDecartClient", "SyncIO"]
