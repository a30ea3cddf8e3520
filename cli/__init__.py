"""``decart-proto``, the command: the Queue API from a terminal, built on the blocking client's
public API (``decart_proto.transports.blocking.DecartClient``).

Installed as ``decart_proto.cli`` from the repository's ``cli/`` folder, beside the core rather
than in it: the core never imports the command. Run it as ``decart-proto`` or
``python -m decart_proto.cli``.
"""

from ._main import main

__all__ = ["main"]
