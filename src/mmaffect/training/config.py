"""Run configuration: one YAML per model with per-dataset overrides, validated, with ``key=value`` overrides.

Resolution order (later wins): the model's YAML defaults, its ``datasets.<name>`` section, a user
config file, then ``--set`` overrides such as ``optim.lr=3e-4`` or ``model.hidden=128``.

The dataset section is chosen from the LOADED dataset, never from the string the user typed: the
caller passes the dataset's family (``DatasetBundle.family``, e.g. ``mosi`` recognised from an MMSA
pickle or recorded in a native ``dataset.json``) or else its name. The section named by the part
before the first ``_`` applies, then the one of the exact key (so ``mosi`` applies to
``mosi_utterance``). :func:`config_source` says in words which section applied.
"""

from __future__ import annotations

import copy
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from mmaffect.errors import ConfigError, DataFileNotFoundError


class OptimConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    lr: float = Field(1e-3, gt=0.0)
    weight_decay: float = Field(0.0, ge=0.0)
    batch_size: int = Field(64, ge=1)
    max_epochs: int = Field(40, ge=1)
    patience: int = Field(8, ge=0)
    grad_clip: float = Field(1.0, ge=0.0)
    loss: Literal["auto", "l1", "mse", "ce"] = "auto"
    monitor: str = "auto"


class DataConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    modalities: list[str] | None = None
    standardize: bool = True
    modality_dropout: float = Field(0.0, ge=0.0, lt=1.0)


class RunConfig(BaseModel):
    """Everything a training run needs besides the data itself."""

    model_config = ConfigDict(extra="forbid")

    model: str
    model_params: dict[str, Any] = Field(default_factory=dict)
    objectives: dict[str, dict[str, Any]] = Field(default_factory=dict)
    optim: OptimConfig = Field(default_factory=OptimConfig)
    data: DataConfig = Field(default_factory=DataConfig)
    seeds: list[int] = Field(default_factory=lambda: [1111, 1112, 1113], min_length=1)
    devices: int = Field(1, ge=1)
    strategy: str = "auto"

    @field_validator("seeds")
    @classmethod
    def _distinct_seeds(cls, seeds: list[int]) -> list[int]:
        repeated = sorted({s for s in seeds if seeds.count(s) > 1})
        if repeated:
            raise ValueError(f"seed(s) {repeated} repeated; each seed trains once")
        return seeds


def model_yaml(model: str) -> dict[str, Any]:
    """The packaged YAML of ``model`` (empty when the model has none)."""
    path = resources.files("mmaffect.configs") / "models" / f"{model}.yaml"
    if not path.is_file():
        return {}
    return yaml.safe_load(path.read_text()) or {}


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def parse_override(text: str) -> dict[str, Any]:
    """``a.b.c=value`` -> ``{"a": {"b": {"c": value}}}`` with ``value`` parsed as YAML."""
    if "=" not in text:
        raise ConfigError(f"override {text!r} must look like key=value (e.g. optim.lr=3e-4)")
    key, _, raw = text.partition("=")
    value = yaml.safe_load(raw) if raw.strip() else None
    nested: dict[str, Any] = {}
    node = nested
    parts = key.strip().split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value
    return nested


_SECTIONS = {"model", "objectives", "optim", "data", "seeds", "devices", "strategy", "datasets"}


def _check_sections(raw: dict[str, Any], where: str) -> None:
    unknown = sorted(set(raw) - _SECTIONS)
    if unknown:
        raise ConfigError(f"{where}: unknown section(s) {unknown}; allowed: {sorted(_SECTIONS)}")


def _matching_sections(per_dataset: dict[str, Any], dataset: str | None) -> list[str]:
    if not dataset:
        return []
    candidates = list(dict.fromkeys((dataset.split("_")[0], dataset)))
    return [c for c in candidates if c in per_dataset]


def dataset_sections(model: str, dataset: str | None) -> list[str]:
    """The ``datasets.<name>`` sections of ``model``'s YAML that apply to the dataset key ``dataset``
    (its family or name), in the order they are merged."""
    return _matching_sections(model_yaml(model).get("datasets") or {}, dataset)


def read_user_config(path: str | Path) -> dict[str, Any]:
    """A user ``--config`` YAML as a mapping; its ``datasets.<name>`` sections apply like the model YAML's
    (the one of the loaded dataset's family, then of its exact name), after the file's top-level values."""
    path = Path(path)
    if not path.is_file():
        raise DataFileNotFoundError(f"--config {path}: no such file")
    try:
        user = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f", line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise ConfigError(f"--config {path}{where}: not valid YAML ({problem})") from None
    except UnicodeDecodeError:
        raise ConfigError(f"--config {path}: not a text file") from None
    if user is None:
        return {}
    if not isinstance(user, dict):
        raise ConfigError(f"--config {path}: expected a mapping of sections (model, optim, ...), "
                          f"got {type(user).__name__}")
    _check_sections(user, str(path))
    sections = user.get("datasets")
    if sections is not None and not (isinstance(sections, dict) and all(isinstance(v, dict) for v in sections.values())):
        raise ConfigError(f"--config {path}: 'datasets' must map dataset names to sections, e.g. datasets: {{mosi: {{optim: {{lr: 1e-4}}}}}}")
    for name, section in (sections or {}).items():
        _check_sections(section, f"{path} datasets.{name}")
    return user


def config_source(model: str, dataset: str | None) -> str:
    """In words, where the defaults of a run come from, e.g. ``config: decalign.yaml section 'mosi'``."""
    if not model_yaml(model):
        return f"config: defaults of {model} (no {model}.yaml)"
    sections = dataset_sections(model, dataset)
    if not sections:
        return f"config: {model}.yaml, no dataset section for {dataset!r}"
    return f"config: {model}.yaml section " + " + ".join(repr(s) for s in sections)


def resolve_config(
    model: str,
    dataset: str | None = None,
    *,
    config_file: str | Path | None = None,
    overrides: list[str] | None = None,
) -> RunConfig:
    """Build the validated :class:`RunConfig` for ``model`` on the dataset whose family or name is ``dataset``."""
    raw = model_yaml(model)
    _check_sections(raw, f"configs/models/{model}.yaml")
    per_dataset = raw.pop("datasets", {}) or {}
    for section in dataset_sections(model, dataset):
        raw = deep_merge(raw, per_dataset[section])
    if config_file is not None:
        user = read_user_config(config_file)
        user_sections = user.pop("datasets", None) or {}
        raw = deep_merge(raw, user)
        for section in _matching_sections(user_sections, dataset):
            raw = deep_merge(raw, user_sections[section])
    for text in overrides or []:
        override = parse_override(text)
        _check_sections(override, f"--set {text}")
        raw = deep_merge(raw, override)
    raw.setdefault("model", {})
    model_params = raw.pop("model") or {}
    if isinstance(model_params, str):
        raise ConfigError("the 'model' section holds the model's parameters; choose the model with --model")
    try:
        config = RunConfig(model=model, model_params=model_params, **raw)
    except ValidationError as err:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in err.errors())
        raise ConfigError(f"invalid configuration for {model!r}: {problems}") from None
    _validate_parts(config)
    return config


def _validate_parts(config: RunConfig) -> None:
    """Validate model parameters and objective names/parameters now, not halfway through training."""
    import inspect

    from mmaffect.models.base import MODELS
    from mmaffect.objectives.registry import OBJECTIVES

    cls = MODELS.get(config.model)
    try:
        params = cls.Config(**config.model_params)
    except ValidationError as err:
        problems = "; ".join(f"model.{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in err.errors())
        raise ConfigError(f"invalid configuration for {config.model!r}: {problems}") from None
    _check_sizes(config.model, params.model_dump() if hasattr(params, "model_dump") else dict(config.model_params))
    for name, params in config.objectives.items():
        if name not in OBJECTIVES:
            raise ConfigError(f"objectives.{name}: unknown objective; known: {', '.join(OBJECTIVES.names())}")
        accepted = inspect.signature(OBJECTIVES.get(name).__init__).parameters
        if not any(p.kind == p.VAR_KEYWORD for p in accepted.values()):
            unknown = sorted(set(params or {}) - set(accepted))
            if unknown:
                raise ConfigError(f"objectives.{name}: unknown parameter(s) {unknown}; "
                                  f"accepted: {sorted(k for k in accepted if k != 'self')}")


_SIZE_NAMES = {"hidden", "rank", "heads", "num_heads", "rows", "columns", "top_k", "kernel_size", "conv_kernel"}


def _check_sizes(model: str, params: dict[str, Any]) -> None:
    """Sizes (``hidden``, ``*_dim``, ``*_hidden``, ``rank``, heads, ...) must be at least 1 and no whole-number
    parameter may be negative: a zero-width layer trains silently to nothing."""
    for key, value in params.items():
        if not isinstance(value, int) or isinstance(value, bool):
            continue
        size = key in _SIZE_NAMES or key.endswith(("_dim", "_hidden"))
        if value < (1 if size else 0):
            bound = "at least 1" if size else "non-negative"
            raise ConfigError(f"invalid configuration for {model!r}: model.{key}={value} must be {bound}")


def dump_config(config: RunConfig) -> str:
    return yaml.safe_dump(config.model_dump(), sort_keys=False)
