"""A griffe extension: the docstrings' Sphinx roles (``:class:`Driver```) shown as code.

The code's docstrings are written for readers of the source and for Sphinx-style tools; the
site renders them as Markdown, where a role would show as raw text.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

ROLE = re.compile(r":(?:py:)?(?:class|func|meth|attr|exc|data|mod|obj|const):`~?([^`]+)`")


class SphinxRoles(griffe.Extension):
    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = ROLE.sub(r"`\1`", obj.docstring.value)
