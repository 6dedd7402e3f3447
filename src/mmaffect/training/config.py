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
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mmaffect.errors import ConfigError


class OptimConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    lr: float = 1e-3
    weight_decay: float = 0.0
    batch_size: int = 64
    max_epochs: int = 40
    patience: int = 8
    grad_clip: float = 1.0
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
    seeds: list[int] = Field(default_factory=lambda: [1111, 1112, 1113])
    devices: int = 1
    strategy: str = "auto"


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


def dataset_sections(model: str, dataset: str | None) -> list[str]:
    """The ``datasets.<name>`` sections of ``model``'s YAML that apply to the dataset key ``dataset``
    (its family or name), in the order they are merged."""
    if not dataset:
        return []
    per_dataset = model_yaml(model).get("datasets") or {}
    candidates = list(dict.fromkeys((dataset.split("_")[0], dataset)))
    return [c for c in candidates if c in per_dataset]


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
        user = yaml.safe_load(Path(config_file).read_text()) or {}
        _check_sections(user, str(config_file))
        user.pop("datasets", None)
        raw = deep_merge(raw, user)
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
        cls.Config(**config.model_params)
    except ValidationError as err:
        problems = "; ".join(f"model.{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in err.errors())
        raise ConfigError(f"invalid configuration for {config.model!r}: {problems}") from None
    for name, params in config.objectives.items():
        if name not in OBJECTIVES:
            raise ConfigError(f"objectives.{name}: unknown objective; known: {', '.join(OBJECTIVES.names())}")
        accepted = inspect.signature(OBJECTIVES.get(name).__init__).parameters
        if not any(p.kind == p.VAR_KEYWORD for p in accepted.values()):
            unknown = sorted(set(params or {}) - set(accepted))
            if unknown:
                raise ConfigError(f"objectives.{name}: unknown parameter(s) {unknown}; "
                                  f"accepted: {sorted(k for k in accepted if k != 'self')}")


def dump_config(config: RunConfig) -> str:
    return yaml.safe_dump(config.model_dump(), sort_keys=False)
