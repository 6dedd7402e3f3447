"""The package's one exception hierarchy.

Every error a user can cause (bad input, bad settings, a missing optional dependency, a checkpoint that
does not fit the data) is a :class:`MMAffectError`, whose message names the file, line, split, key,
shape or value at fault. The command line catches this hierarchy and prints the message alone (with
``--debug``, the traceback too); anything else is a bug in the package.

Each subclass also derives from the builtin exception a caller would naturally catch (``ValueError``,
``FileNotFoundError``, ``ImportError``), so code written against the builtins keeps working.
"""

from __future__ import annotations


class MMAffectError(Exception):
    """Base of every error the package raises on purpose."""


class DataError(MMAffectError, ValueError):
    """A dataset, manifest, pickle or array that is malformed: the message names file, line/split and key."""


class DataFileNotFoundError(MMAffectError, FileNotFoundError):
    """A file or folder the user pointed at does not exist."""


class ConfigError(MMAffectError, ValueError):
    """A configuration value, override or command-line option that is refused."""


class CheckpointError(MMAffectError, ValueError):
    """A checkpoint that is damaged, or that does not fit the data it is applied to."""


class RunFolderError(MMAffectError, ValueError):
    """An output folder that holds another run's work (never overwritten, never mixed)."""


class MediaError(MMAffectError, ValueError):
    """A media file (audio, video, image) that cannot be decoded or used."""


class EncoderError(MMAffectError, ValueError):
    """An encoder or describer that cannot be loaded or cannot reproduce a recorded recipe."""


class ResourceError(MMAffectError, MemoryError):
    """The machine ran out of memory; the message says which setting to reduce."""


class MissingExtraError(MMAffectError, ImportError):
    """An optional capability whose extra is not installed; the message says what to install."""

    def __init__(self, what: str, extra: str, module: str | None = None) -> None:
        self.extra = extra
        missing = f" ({module!r} is not installed)" if module else ""
        super().__init__(f"{what} needs the optional extra [{extra}]{missing}: pip install 'mmaffect[{extra}]'")
        self.name = module
