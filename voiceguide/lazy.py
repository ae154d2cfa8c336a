"""A package's names loaded on first use (a module ``__getattr__``, PEP 562).

``voiceguide``, ``voiceguide.audio`` and ``voiceguide.player`` name what they offer in a table
and load a name's module only when the name is first read: the console script imports
``voiceguide`` before every command, and ``voiceguide play``'s time to its first sound includes
whatever a package imports on the way (numpy alone 80-120 ms). This module imports nothing.
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False  # typing itself costs 20 ms to import, and `import voiceguide` loads nothing else
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any


def loader(package: str, where: Mapping[str, str]) -> Callable[[str], Any]:
    """The ``__getattr__`` for ``package``: ``where`` maps each name to the module that defines
    it; a name, once loaded, is kept in the package, so it is looked up only once."""

    def __getattr__(name: str) -> Any:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        import importlib

        value = getattr(importlib.import_module(module), name)
        setattr(sys.modules[package], name, value)
        return value

    return __getattr__
