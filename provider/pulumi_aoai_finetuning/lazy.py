"""Names of a package imported from their modules on first use (PEP 562), so a light caller loads little.

The package (``aoai-ft`` and the emulator never load the Pulumi SDK), ``resources`` (a plugin unpickling one
provider imports that resource's module alone) and ``client`` (a no-op check or diff imports no HTTP stack)
each map their public names to the module that defines them.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterable, Mapping
from typing import Any


def lazy_names(
    package: str, homes: Mapping[str, str], public: Iterable[str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of ``package``: each name from its module (``homes``), on first use."""
    names = sorted(public)

    def __getattr__(name: str) -> Any:
        """The public name ``name``, imported from its module on first use."""
        home = homes.get(name)
        if home is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(home, package), name)
        vars(sys.modules[package])[name] = value  # later lookups skip this function
        return value

    def __dir__() -> list[str]:
        """What the package holds now and every public name."""
        return sorted({*vars(sys.modules[package]), *names})

    return __getattr__, __dir__
