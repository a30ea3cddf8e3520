"""Transports for decart_proto: ``transports.blocking``, ``transports.asyncio`` and
``transports.trio`` each offer the same ``DecartClient``; ``transports.cli`` is the
``decart-proto`` command."""
