"""Exports imported on first use (PEP 562), for package ``__init__`` modules.

pytest imports the emulator's plugin (and so ``slack_rtm``) before coverage starts; eager imports
in ``__init__`` would hide module-level lines from coverage and slow every start. A package lists
``name -> module`` and gets ``__getattr__`` and ``__dir__`` from :func:`lazy_exports`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(
    package: str, homes: Mapping[str, str], public: list[str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for ``package`` whose names live in ``homes[name]``.

    ``homes`` maps each exported name to the module that defines it (absolute, or relative to
    ``package`` when it starts with a dot).
    """

    def __getattr__(name: str) -> Any:
        home = homes.get(name)
        if home is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module = importlib.import_module(f"{package}{home}" if home.startswith(".") else home)
        value = getattr(module, name)
        setattr(importlib.import_module(package), name, value)
        return value

    def __dir__() -> list[str]:
        return sorted({*vars(importlib.import_module(package)), *public})

    return __getattr__, __dir__
