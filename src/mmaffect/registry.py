"""One registry per kind (models, datasets, objectives, encoders, describers).

Entries are ``"module:attribute"`` strings imported on first use, so an optional dependency that fails
to import breaks only the entry that needs it, with an error naming what to install.
"""

from __future__ import annotations

import importlib
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class Registry(Generic[T]):
    """Name -> lazily imported object."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._targets: dict[str, str] = {}
        self._extras: dict[str, str] = {}
        self._descriptions: dict[str, str] = {}

    def add(self, name: str, target: str, *, description: str = "", extra: str = "") -> None:
        if name in self._targets:
            raise ValueError(f"{self.kind} {name!r} is already registered")
        self._targets[name] = target
        self._descriptions[name] = description
        self._extras[name] = extra

    def names(self) -> list[str]:
        return sorted(self._targets)

    def describe(self, name: str) -> str:
        return self._descriptions[name]

    def __contains__(self, name: object) -> bool:
        return name in self._targets

    def get(self, name: str) -> Any:
        if name not in self._targets:
            raise KeyError(f"unknown {self.kind} {name!r}; known: {', '.join(self.names())}")
        module_name, _, attr = self._targets[name].partition(":")
        try:
            module = importlib.import_module(module_name)
        except ImportError as err:
            hint = f" (install mmaffect[{self._extras[name]}])" if self._extras[name] else ""
            raise ImportError(f"{self.kind} {name!r} needs {err.name!r}{hint}: {err}") from err
        return getattr(module, attr)
