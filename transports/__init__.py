"""Transports for decart_proto, installed as ``decart_proto.transports``: ``.blocking``,
``.asyncio`` and ``.trio`` each offer the same ``DecartClient``. The ``decart-proto`` command is
``decart_proto.cli``."""
