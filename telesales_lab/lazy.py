"""Public names imported on first use (PEP 562).

A package's ``__init__`` says which of its modules defines each public name and imports none
of them until one is asked for, so importing the package stays cheap::

    __getattr__, __dir__ = lazy.exports(__name__, {"funnel_chart": "outcomes"}, __all__)
"""

from __future__ import annotations

import sys
from importlib import import_module


def exports(package: str, modules: dict[str, str], names: list[str]):
    """``(__getattr__, __dir__)`` for ``package``: ``modules`` maps a public name to the module,
    relative to the package, that defines it; ``names`` is what ``dir()`` lists. A name is
    imported once, then kept on the package."""

    def __getattr__(name: str):
        module = modules.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(import_module(f".{module}", package), name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__():
        return names

    return __getattr__, __dir__
