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


def find_checkpoint_dir(path: str | Path) -> Path:
    """Accept a checkpoint directory, its JSON, or a run directory (then the best seed's checkpoint)."""
    path = Path(path)
    if path.is_file() and path.name == DESCRIPTION:
        return path.parent
    if (path / DESCRIPTION).is_file():
        return path
    summary = path / "summary.json"
    if summary.is_file():
        best = json.loads(summary.read_text()).get("best_seed_dir")
        if best and (path / best / DESCRIPTION).is_file():
            return path / best
    candidates = sorted(path.glob(f"seed_*/{DESCRIPTION}"))
    if candidates:
        return candidates[0].parent
    raise DataFileNotFoundError(f"no {DESCRIPTION} in {path} (nor in its seed_* folders)")


def load_checkpoint(path: str | Path, map_location: str = "cpu") -> Checkpoint:
    directory = find_checkpoint_dir(path)
    description = json.loads((directory / DESCRIPTION).read_text())
    if description.get("format") != FORMAT:
        raise CheckpointError(f"{directory / DESCRIPTION}: not an mmaffect checkpoint (format={description.get('format')!r})")
    task = TaskSpec(**description["task"])
    model = build_model(description["model"], description["dims"], task, description.get("model_params"))
    predictor = Predictor(model, description.get("standardize", False))
    weights_path = directory / WEIGHTS
    if not weights_path.is_file():
        raise DataFileNotFoundError(f"{weights_path} is missing")
    state = load_file(str(weights_path), device=map_location)
    missing, unexpected = predictor.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise CheckpointError(f"{weights_path}: weights do not match model {description['model']!r} "
                         f"(missing {missing[:5]}, unexpected {unexpected[:5]})")
    predictor.eval()
    return Checkpoint(predictor, description)
