"""A restricted unpickler for dataset pickles: NumPy arrays, dtypes, scalars and builtin containers only.

Unpickling calls whatever global a pickle names, so an ordinary ``pickle.load`` of a downloaded file can
run arbitrary code. :func:`safe_load` resolves only the globals NumPy 1.x and 2.x emit for arrays,
dtypes and scalars, plus plain builtin values; every other global is refused with
:class:`UnsafePickleError` before anything is called.
"""

from __future__ import annotations

import _compat_pickle
import collections
import importlib
import os
import pickle
from pathlib import Path
from typing import IO, Any, Callable

import numpy as np


class UnsafePickleError(pickle.UnpicklingError):
    """A pickle names a global outside the allow-list (it could run code when loaded)."""


def _numpy_core(submodule: str, name: str) -> Callable[[], Any]:
    """The object ``numpy._core.<submodule>.<name>`` (NumPy 2) or ``numpy.core.<submodule>.<name>`` (1.x)."""

    def resolve() -> Any:
        for package in ("numpy._core", "numpy.core"):
            try:
                return getattr(importlib.import_module(f"{package}.{submodule}"), name)
            except (ImportError, AttributeError):
                continue
        raise UnsafePickleError(f"numpy has no {submodule}.{name}")

    return resolve


_NUMPY_CORE = {
    ("multiarray", "_reconstruct"),
    ("multiarray", "scalar"),
    ("numeric", "_frombuffer"),
}

_BUILTINS = ("list", "dict", "tuple", "set", "frozenset", "bytearray", "bytes", "str", "int", "float",
             "complex", "bool", "slice", "range")

#: ``(module, name)`` → a function returning the object the name stands for.
ALLOWED: dict[tuple[str, str], Callable[[], Any]] = {
    **{(f"{pkg}.{sub}", name): _numpy_core(sub, name) for pkg in ("numpy.core", "numpy._core")
       for sub, name in _NUMPY_CORE},
    ("numpy", "ndarray"): lambda: np.ndarray,
    ("numpy", "dtype"): lambda: np.dtype,
    ("collections", "OrderedDict"): lambda: collections.OrderedDict,
    # Protocol < 3 pickles of bytes (NumPy buffers among them) call _codecs.encode(text, "latin1").
    ("_codecs", "encode"): lambda: importlib.import_module("_codecs").encode,
    **{("builtins", name): (lambda name=name: getattr(importlib.import_module("builtins"), name))
       for name in _BUILTINS},
}


def _py3_name(module: str, name: str) -> tuple[str, str]:
    """Python 2 names (``__builtin__.set``, ``copy_reg``...) as Python 3 spells them."""
    if (module, name) in _compat_pickle.NAME_MAPPING:
        return _compat_pickle.NAME_MAPPING[(module, name)]
    return _compat_pickle.IMPORT_MAPPING.get(module, module), name


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler whose ``find_class`` admits only :data:`ALLOWED` globals."""

    def __init__(self, file: IO[bytes], *, source: str, encoding: str = "latin1") -> None:
        super().__init__(file, encoding=encoding)
        self.source = source

    def find_class(self, module: str, name: str) -> Any:
        key = _py3_name(module, name)
        if key not in ALLOWED:
            raise UnsafePickleError(
                f"{self.source}: refusing to unpickle global {module}.{name}: only NumPy arrays, dtypes, "
                f"scalars and builtin containers are allowed (a pickle can run code when it is loaded)")
        return ALLOWED[key]()

    def persistent_load(self, pid: Any) -> Any:
        raise UnsafePickleError(f"{self.source}: refusing a persistent id ({pid!r}) in a dataset pickle")


def safe_load(path_or_file: str | os.PathLike[str] | IO[bytes], *, encoding: str = "latin1") -> Any:
    """Load a pickle that may only contain NumPy arrays/dtypes/scalars and builtin containers.

    Raises :class:`UnsafePickleError` naming the offending ``module.name`` and the file otherwise.
    ``encoding`` decodes Python 2 ``str`` objects (``latin1`` keeps NumPy buffers intact).
    """
    if isinstance(path_or_file, (str, os.PathLike)):
        path = Path(path_or_file)
        with open(path, "rb") as f:
            return RestrictedUnpickler(f, source=str(path), encoding=encoding).load()
    source = str(getattr(path_or_file, "name", "<stream>"))
    return RestrictedUnpickler(path_or_file, source=source, encoding=encoding).load()
