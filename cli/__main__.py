"""``python -m decart_proto.cli``: the ``decart-proto`` command."""

import sys

from ._main import main

sys.exit(main())
