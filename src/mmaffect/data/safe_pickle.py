"""A restricted unpickler for dataset pickles: NumPy arrays, dtypes, scalars and builtin containers only.

Unpickling calls whatever global a pickle names, so an ordinary ``pickle.load`` of a downloaded file can
run arbitrary code. :func:`safe_load` resolves only the globals NumPy 1.x and 2.x emit for arrays,
dtypes and scalars, plus plain builtin values; every other global is refused with
:class:`UnsafePickleError` before anything is called.

It also bounds what a pickle can make the process allocate. Every call a pickle makes (``REDUCE``,
``NEWOBJ``, ``OBJ``/``INST``) and every NumPy state it sets (``BUILD``) goes through a checker that
prices the allocation before it happens: arrays at ``prod(shape) * itemsize`` bytes, containers at
8 bytes per element, strings and bytes at their length. The running total must stay within
``ALLOCATION_FACTOR * file_size + ALLOCATION_SLACK`` bytes. Callables that allocate by count
(``range``, ``bytearray(n)``, ``bytes(n)``, a direct ``numpy.ndarray(shape)``) are refused or priced;
dtype states that would make NumPy read raw bytes as object pointers (a forged ``hasobject`` flag) or
an object array whose element list does not match its shape (a crash in NumPy) are refused. The plain
pickle opcodes themselves build at most a constant number of bytes of Python objects per byte read.
"""

from __future__ import annotations

import _compat_pickle
import collections
import importlib
import io
import math
import os
import pickle
from pathlib import Path
from typing import IO, Any, Callable

import numpy as np

from mmaffect.errors import DataError

#: Bytes a pickle may make the process allocate through calls and array states, per byte of the file ...
ALLOCATION_FACTOR = 4
#: ... plus this constant (so that small pickles of small arrays always load).
ALLOCATION_SLACK = 64 << 20
_POINTER = 8
#: dtype flags that change how NumPy interprets an array's bytes (NPY_ITEM_HASOBJECT ... NPY_USE_SETITEM).
_DANGEROUS_DTYPE_FLAGS = 0x7F


class UnsafePickleError(DataError, pickle.UnpicklingError):
    """A pickle names a global outside the allow-list (it could run code when loaded), or would make the
    process allocate far more memory than its size justifies."""


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

# ``range`` is not here: it is a count that only serves to be expanded into a large container.
_BUILTINS = ("list", "dict", "tuple", "set", "frozenset", "bytearray", "bytes", "str", "int", "float",
             "complex", "bool", "slice")

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


def _qualname(func: Any) -> str:
    return f"{getattr(func, '__module__', None) or 'builtins'}.{getattr(func, '__name__', repr(func))}"


class RestrictedUnpickler(pickle._Unpickler):  # type: ignore[name-defined]
    """An unpickler whose ``find_class`` admits only :data:`ALLOWED` globals and whose calls are priced.

    The pure-Python unpickler is used because its opcode table can be extended: calls and ``BUILD``
    go through :meth:`_call` and :meth:`_build`, which check arguments and allocation before acting.
    """

    def __init__(self, file: IO[bytes], *, source: str, size: int, encoding: str = "latin1") -> None:
        super().__init__(file, encoding=encoding)
        self.source = source
        self.limit = ALLOCATION_FACTOR * size + ALLOCATION_SLACK
        self.size = size
        self.spent = 0
        self._checkers: dict[int, Callable[[tuple, dict], int]] = {}
        for resolve in ALLOWED.values():
            try:
                obj = resolve()
            except UnsafePickleError:
                continue
            self._checkers[id(obj)] = getattr(self, f"_check_{obj.__name__.lstrip('_')}", self._check_scalar)
        self._checkers[id(np.ndarray)] = self._refuse_ndarray

    # ------------------------------------------------------------------------------ bookkeeping

    def _spend(self, nbytes: int, what: str) -> None:
        self.spent += max(int(nbytes), 0)
        if self.spent > self.limit:
            raise UnsafePickleError(
                f"{self.source}: {what} would allocate {nbytes:,} bytes, and a pickle of {self.size:,} bytes may "
                f"allocate at most {self.limit:,} ({ALLOCATION_FACTOR} × its size + {ALLOCATION_SLACK >> 20} MiB): "
                f"refused (a tampered or hostile file)")

    def _fail(self, what: str, why: str) -> UnsafePickleError:
        return UnsafePickleError(f"{self.source}: refusing {what}: {why}")

    def _dtype(self, value: Any, what: str) -> np.dtype:
        if not isinstance(value, np.dtype):
            try:
                value = np.dtype(value)
            except (TypeError, ValueError) as e:
                raise self._fail(what, f"not a dtype ({e})") from None
        if value.itemsize > self.limit:
            raise self._fail(what, f"dtype {value} has itemsize {value.itemsize:,}")
        return value

    def _nbytes(self, shape: Any, dtype: np.dtype, what: str) -> int:
        if isinstance(shape, int):
            shape = (shape,)
        if not isinstance(shape, tuple) or not all(isinstance(n, int) and n >= 0 for n in shape):
            raise self._fail(what, f"shape {shape!r} is not a tuple of non-negative integers")
        count = math.prod(shape)
        if dtype.subdtype is not None:
            count *= math.prod(dtype.subdtype[1])
            dtype = dtype.subdtype[0]
        return count * dtype.itemsize

    # ------------------------------------------------------------------------------ calls

    def _call(self, func: Any, args: tuple, kwargs: dict | None = None) -> Any:
        kwargs = kwargs or {}
        checker = self._checkers.get(id(func))
        if checker is None:
            raise self._fail(f"a call of {_qualname(func)}", "only the allowed globals may be called")
        self._spend(checker(args, kwargs), f"{_qualname(func)}(...)")
        return func(*args, **kwargs)

    def _refuse_ndarray(self, args: tuple, kwargs: dict) -> int:
        raise self._fail("a direct call of numpy.ndarray", "arrays come from numpy's own reconstruction only")

    def _check_reconstruct(self, args: tuple, kwargs: dict) -> int:
        if len(args) != 3 or kwargs or args[0] is not np.ndarray:
            raise self._fail("numpy _reconstruct", f"arguments {args!r} are not (numpy.ndarray, shape, dtype)")
        return self._nbytes(args[1], self._dtype(args[2], "numpy _reconstruct"), "numpy _reconstruct")

    def _check_frombuffer(self, args: tuple, kwargs: dict) -> int:
        if len(args) != 4 or kwargs or not isinstance(args[0], (bytes, bytearray, pickle.PickleBuffer)):
            raise self._fail("numpy _frombuffer", "arguments are not (buffer, dtype, shape, order)")
        dtype = self._dtype(args[1], "numpy _frombuffer")
        nbytes = self._nbytes(args[2], dtype, "numpy _frombuffer")
        if dtype.hasobject or nbytes != memoryview(args[0]).nbytes:
            raise self._fail("numpy _frombuffer", f"{memoryview(args[0]).nbytes} buffer bytes for shape {args[2]} "
                                                  f"of {dtype}")
        return nbytes

    def _check_scalar(self, args: tuple, kwargs: dict) -> int:
        """``multiarray.scalar(dtype, data)`` and the plain builtin numbers: bounded by their arguments."""
        for arg in (*args, *kwargs.values()):
            if not isinstance(arg, (int, float, complex, str, bytes, np.dtype)) and arg is not None:
                raise self._fail("a scalar constructor", f"argument of type {type(arg).__name__}")
        if args and isinstance(args[0], np.dtype):
            dtype = self._dtype(args[0], "numpy scalar")
            if dtype.hasobject:
                return _POINTER
            if len(args) != 2 or not isinstance(args[1], bytes) or len(args[1]) != dtype.itemsize:
                raise self._fail("numpy scalar", f"data for {dtype} must be {dtype.itemsize} bytes")
            return dtype.itemsize
        return sum(len(a) for a in args if isinstance(a, (str, bytes)))

    def _check_dtype(self, args: tuple, kwargs: dict) -> int:
        if not args or not isinstance(args[0], str) or any(not isinstance(a, bool) for a in args[1:]):
            raise self._fail("numpy.dtype", f"arguments {args!r} are not (type string, align, copy)")
        self._dtype(args[0], "numpy.dtype")
        return 0

    def _check_encode(self, args: tuple, kwargs: dict) -> int:
        if len(args) != 2 or not isinstance(args[0], str) or args[1] not in ("latin1", "latin-1") or kwargs:
            raise self._fail("_codecs.encode", "only encode(text, 'latin1') is allowed")
        return len(args[0])

    def _check_bytes(self, args: tuple, kwargs: dict) -> int:
        if kwargs or len(args) > 3 or (args and not isinstance(args[0], (bytes, bytearray, str))) or \
                any(not isinstance(a, str) for a in args[1:]):
            raise self._fail("builtins.bytes/bytearray",
                             f"argument {args[0]!r:.40} would allocate by count" if args else "bad arguments")
        return len(args[0]) * (4 if isinstance(args[0], str) else 1) if args else 0

    _check_bytearray = _check_bytes

    def _check_str(self, args: tuple, kwargs: dict) -> int:
        if kwargs or (args and not isinstance(args[0], (str, bytes, bytearray))):
            raise self._fail("builtins.str", "only text or bytes are converted")
        return 4 * len(args[0]) if args else 0

    def _check_container(self, args: tuple, kwargs: dict) -> int:
        if len(args) > 1 or (args and not isinstance(args[0], (list, tuple, set, frozenset, dict, str, bytes))):
            raise self._fail("a container constructor", f"argument of type {type(args[0]).__name__}")
        return 3 * _POINTER * ((len(args[0]) if args else 0) + len(kwargs))

    _check_list = _check_tuple = _check_set = _check_frozenset = _check_dict = _check_OrderedDict = _check_container

    def _check_slice(self, args: tuple, kwargs: dict) -> int:
        if kwargs or any(a is not None and not isinstance(a, int) for a in args):
            raise self._fail("builtins.slice", "only integer bounds")
        return 0

    def load_reduce(self) -> None:
        args = self.stack.pop()
        self.stack[-1] = self._call(self.stack[-1], args)

    def load_newobj(self) -> None:
        args = self.stack.pop()
        cls = self.stack.pop()
        self.append(self._call(cls, args))

    def load_newobj_ex(self) -> None:
        kwargs = self.stack.pop()
        args = self.stack.pop()
        cls = self.stack.pop()
        self.append(self._call(cls, args, kwargs))

    def _instantiate(self, klass: Any, args: list) -> None:
        self.append(self._call(klass, tuple(args)))

    # ------------------------------------------------------------------------------ states

    def load_build(self) -> None:
        state = self.stack.pop()
        inst = self.stack[-1]
        if type(inst) is np.ndarray:
            self._check_array_state(state)
            inst.__setstate__(state)
        elif type(inst) is np.dtype or isinstance(inst, np.dtype):
            self._set_dtype_state(inst, state)
        else:
            raise self._fail(f"setting the state of a {type(inst).__name__}", "only arrays and dtypes have one")

    def _check_array_state(self, state: Any) -> None:
        what = "an array state"
        if not isinstance(state, tuple) or len(state) not in (4, 5):
            raise self._fail(what, "not (version, shape, dtype, is_fortran, data)")
        shape, dtype, _, data = state[-4:]
        dtype = self._dtype(dtype, what)
        nbytes = self._nbytes(shape, dtype, what)
        if dtype.hasobject:
            count = math.prod(shape) if isinstance(shape, tuple) else shape
            if not isinstance(data, list) or len(data) != count:
                raise self._fail(what, f"object array of shape {shape} needs a list of {count} elements")
        elif not isinstance(data, (bytes, bytearray, str)) or len(data) != nbytes:
            size = len(data) if isinstance(data, (bytes, bytearray, str)) else type(data).__name__
            raise self._fail(what, f"shape {shape} of {dtype} needs {nbytes:,} bytes of data, got {size}")
        self._spend(nbytes, f"an array of shape {shape} and dtype {dtype}")

    def _set_dtype_state(self, inst: np.dtype, state: Any) -> None:
        inst.__setstate__(state)  # sets no data; only the description is checked below
        if inst.itemsize > self.limit:
            raise self._fail(f"dtype state {state!r:.80}", f"itemsize {inst.itemsize:,}")
        if inst.fields is not None:
            names = list(inst.names or ())
            fresh = np.dtype({"names": names, "formats": [inst.fields[n][0] for n in names],
                              "offsets": [inst.fields[n][1] for n in names], "itemsize": inst.itemsize})
        elif inst.subdtype is not None:
            fresh = np.dtype(inst.subdtype)
        else:
            fresh = np.dtype(inst.str)
        if (inst.flags & _DANGEROUS_DTYPE_FLAGS) != (fresh.flags & _DANGEROUS_DTYPE_FLAGS) \
                or inst.itemsize != fresh.itemsize:
            raise self._fail(f"dtype state {state!r:.80}",
                             f"flags {inst.flags} / itemsize {inst.itemsize} differ from those of {fresh} "
                             f"({fresh.flags} / {fresh.itemsize}): a forged dtype")

    def load(self) -> Any:
        """Unpickle; an unknown opcode or memo key is an :class:`pickle.UnpicklingError`, as in the C unpickler."""
        try:
            return super().load()
        except KeyError as e:
            raise pickle.UnpicklingError(f"invalid load key or memo index {e}") from None

    # ------------------------------------------------------------------------------ globals

    def find_class(self, module: str, name: str) -> Any:
        key = _py3_name(module, name)
        if key not in ALLOWED:
            raise UnsafePickleError(
                f"{self.source}: refusing to unpickle global {module}.{name}: only NumPy arrays, dtypes, "
                f"scalars and builtin containers are allowed (a pickle can run code when it is loaded)")
        return ALLOWED[key]()

    def persistent_load(self, pid: Any) -> Any:
        raise UnsafePickleError(f"{self.source}: refusing a persistent id ({pid!r}) in a dataset pickle")


_DISPATCH = dict(pickle._Unpickler.dispatch)  # type: ignore[attr-defined]
for _opcode, _method in ((pickle.REDUCE, "load_reduce"), (pickle.NEWOBJ, "load_newobj"),
                         (pickle.NEWOBJ_EX, "load_newobj_ex"), (pickle.BUILD, "load_build")):
    _DISPATCH[_opcode[0]] = getattr(RestrictedUnpickler, _method)
RestrictedUnpickler.dispatch = _DISPATCH


def _stream_size(f: IO[bytes]) -> tuple[IO[bytes], int]:
    """The stream and its size in bytes (a stream that cannot seek is read into memory first)."""
    try:
        here = f.tell()
        end = f.seek(0, io.SEEK_END)
        f.seek(here)
        return f, end - here
    except (OSError, AttributeError, ValueError):
        data = f.read()
        return io.BytesIO(data), len(data)


def safe_load(path_or_file: str | os.PathLike[str] | IO[bytes], *, encoding: str = "latin1") -> Any:
    """Load a pickle that may only contain NumPy arrays/dtypes/scalars and builtin containers.

    Raises :class:`UnsafePickleError` naming the file and the offending ``module.name`` (or allocation)
    otherwise. ``encoding`` decodes Python 2 ``str`` objects (``latin1`` keeps NumPy buffers intact).
    """
    if isinstance(path_or_file, (str, os.PathLike)):
        path = Path(path_or_file)
        with open(path, "rb") as f:
            return RestrictedUnpickler(f, source=str(path), size=os.fstat(f.fileno()).st_size,
                                       encoding=encoding).load()
    source = str(getattr(path_or_file, "name", "<stream>"))
    stream, size = _stream_size(path_or_file)
    return RestrictedUnpickler(stream, source=source, size=size, encoding=encoding).load()
