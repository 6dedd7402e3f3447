"""Checkpoints: safetensors weights + a JSON description. Loading never unpickles anything."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from safetensors.torch import load_file, save_file

from mmaffect.errors import CheckpointError, DataFileNotFoundError
from mmaffect.io import atomic_write_text
from mmaffect.models.base import build_model
from mmaffect.models.predictor import Predictor
from mmaffect.types import TaskSpec

WEIGHTS = "model.safetensors"
DESCRIPTION = "checkpoint.json"
FORMAT = "mmaffect-checkpoint"


def save_weights(predictor: Predictor, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    state = {k: v.detach().cpu().contiguous() for k, v in predictor.state_dict().items()}
    save_file(state, str(tmp))
    os.replace(tmp, path)


@dataclass
class Checkpoint:
    predictor: Predictor
    description: dict[str, Any]

    @property
    def task(self) -> TaskSpec:
        return TaskSpec(**self.description["task"])

    @property
    def modalities(self) -> list[str]:
        return list(self.description["dims"])


def write_description(directory: Path, **description: Any) -> None:
    atomic_write_text(directory / DESCRIPTION, json.dumps({"format": FORMAT, "version": 1, **description}, indent=2))


def choose_checkpoint(path: str | Path, seed: int | None = None) -> tuple[Path, str]:
    """The checkpoint folder of a checkpoint folder, its JSON, or a run folder, and in words which one.

    In a run folder: seed ``seed`` when given, else the best-validation seed of ``summary.json``
    (else the first seed folder); the words say which seed and why.
    """
    path = Path(path)
    if path.is_file() and path.name == DESCRIPTION:
        path = path.parent
    if (path / DESCRIPTION).is_file():
        if seed is not None:
            raise CheckpointError(f"--seed {seed}: {path} is one checkpoint, not a run folder with seeds")
        return path, f"checkpoint: {path}"
    if not path.exists():
        raise DataFileNotFoundError(f"{path}: no such checkpoint or run folder")
    available = sorted(p.parent.name for p in path.glob(f"seed_*/{DESCRIPTION}"))
    if seed is not None:
        chosen = path / f"seed_{seed}"
        if not (chosen / DESCRIPTION).is_file():
            raise CheckpointError(f"--seed {seed}: no {chosen.name}/{DESCRIPTION} in {path}; available: {available}")
        return chosen, f"checkpoint: {chosen} (seed {seed}, as asked)"
    summary = path / "summary.json"
    if summary.is_file():
        try:
            best = json.loads(summary.read_text()).get("best_seed_dir")
        except (OSError, ValueError) as err:
            raise CheckpointError(f"{summary}: not readable JSON ({err})") from None
        if best and (path / best / DESCRIPTION).is_file():
            return path / best, (f"checkpoint: {path / best} (best validation seed of {len(available)}; "
                                 f"choose another with --seed)")
    if available:
        return path / available[0], f"checkpoint: {path / available[0]} (first seed folder; no summary.json)"
    raise DataFileNotFoundError(f"no {DESCRIPTION} in {path} (nor in its seed_* folders)")


def find_checkpoint_dir(path: str | Path, seed: int | None = None) -> Path:
    """Accept a checkpoint directory, its JSON, or a run directory (then the best seed's checkpoint, or ``seed``)."""
    return choose_checkpoint(path, seed)[0]


def _read_description(path: Path) -> dict[str, Any]:
    try:
        description = json.loads(path.read_text())
    except UnicodeDecodeError:
        raise CheckpointError(f"{path}: not a text file") from None
    except json.JSONDecodeError as err:
        raise CheckpointError(f"{path}: not valid JSON (line {err.lineno}, column {err.colno}: {err.msg})") from None
    if not isinstance(description, dict) or description.get("format") != FORMAT:
        found = description.get("format") if isinstance(description, dict) else type(description).__name__
        raise CheckpointError(f"{path}: not an mmaffect checkpoint (format={found!r})")
    missing = [k for k in ("model", "dims", "task") if k not in description]
    if missing:
        raise CheckpointError(f"{path}: missing key(s) {missing}")
    dims = description["dims"]
    if not (isinstance(dims, dict) and dims and all(isinstance(v, int) and v > 0 for v in dims.values())):
        raise CheckpointError(f"{path}: 'dims' must map modalities to positive sizes, got {dims!r}")
    try:
        TaskSpec(**description["task"])
    except (TypeError, ValueError) as err:
        raise CheckpointError(f"{path}: invalid 'task' ({str(err).splitlines()[0]})") from None
    return description


def load_checkpoint(path: str | Path, map_location: str = "cpu", *, seed: int | None = None) -> Checkpoint:
    """Read a checkpoint (never unpickling); every damage is a :class:`CheckpointError` naming the file."""
    from safetensors import SafetensorError

    directory = find_checkpoint_dir(path, seed)
    description = _read_description(directory / DESCRIPTION)
    task = TaskSpec(**description["task"])
    try:
        model = build_model(description["model"], description["dims"], task, description.get("model_params"))
    except (KeyError, TypeError, ValueError) as err:
        raise CheckpointError(f"{directory / DESCRIPTION}: model {description['model']!r} cannot be built "
                              f"from it ({str(err).splitlines()[0]})") from None
    predictor = Predictor(model, description.get("standardize", False))
    weights_path = directory / WEIGHTS
    if not weights_path.is_file():
        raise DataFileNotFoundError(f"{weights_path} is missing")
    try:
        state = load_file(str(weights_path), device=map_location)
    except (SafetensorError, OSError, ValueError) as err:
        raise CheckpointError(f"{weights_path}: damaged or truncated weights ({str(err).splitlines()[0]})") from None
    try:
        missing, unexpected = predictor.load_state_dict(state, strict=False)
    except RuntimeError as err:  # shapes that do not match the description (an edited checkpoint.json)
        detail = next((line.strip() for line in str(err).splitlines() if "size mismatch" in line), str(err)[:200])
        raise CheckpointError(f"{weights_path}: weights do not match {DESCRIPTION} ({detail})") from None
    if missing or unexpected:
        raise CheckpointError(f"{weights_path}: weights do not match model {description['model']!r} "
                         f"(missing {missing[:5]}, unexpected {unexpected[:5]})")
    predictor.eval()
    return Checkpoint(predictor, description)


def check_fits(checkpoint: Checkpoint, dims: dict[str, int], task: TaskSpec, dataset: str) -> None:
    """Refuse data the checkpoint was not trained for: missing modalities, other feature sizes, or another
    task (kind, classes, label names, metric set), each named."""
    problems = []
    missing = [m for m in checkpoint.modalities if m not in dims]
    if missing:
        problems.append(f"modalities {missing} missing (the data has {sorted(dims)})")
    wrong = {m: (d, dims[m]) for m, d in checkpoint.description["dims"].items() if m in dims and dims[m] != d}
    problems += [f"modality {m!r} has {got} features, the checkpoint {want}" for m, (want, got) in wrong.items()]
    own = checkpoint.task
    for key in ("kind", "num_classes", "metrics"):
        if getattr(own, key) != getattr(task, key):
            problems.append(f"task {key} is {getattr(task, key)!r}, the checkpoint's {getattr(own, key)!r}")
    if own.kind == task.kind == "classification" and own.label_names and task.label_names \
            and own.label_names != task.label_names:
        problems.append(f"class names {task.label_names}, the checkpoint's {own.label_names}")
    if problems:
        raise CheckpointError(f"checkpoint ({checkpoint.description.get('model')} trained on "
                              f"{checkpoint.description.get('dataset')!r}) does not fit {dataset!r}: "
                              + "; ".join(problems))
