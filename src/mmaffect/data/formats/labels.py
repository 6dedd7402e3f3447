"""Label columns of a manifest -> a task: the label type is inferred, and bad labels are refused by line.

:func:`infer_task` reads every split's label cells (with the ``file:line`` each came from) and decides:

* names only (``pos``, ``neg``) -> classification over the sorted names;
* numbers only: integers with at most :data:`MAX_INFERRED_CLASSES` distinct values -> classification
  with one class per distinct value, named by the value (0/1/5 give the three classes ``"0"``, ``"1"``,
  ``"5"``: nothing is ever sized by a label's value); non-integers or more distinct values -> regression
  scored with the ``sims`` metric set when every label lies in [-1, 1], ``msa`` when in [-3, 3]
  (the narrower range is checked first), ``msa`` with a warning otherwise.

``task=`` and ``metrics=`` force the choice. Refused, naming file, line and value: names mixed with
numbers, two spellings of one class (``POS``/``pos``), a class of valid/test never seen in train,
a single class overall, non-finite numbers. Warned: a numeric label far outside the others (a typo).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from mmaffect.errors import ConfigError, DataError
from mmaffect.types import TaskSpec

MAX_INFERRED_CLASSES = 20
OUTLIER_SPREADS = 10.0  # a value this many interquartile ranges beyond the quartiles is reported
TASKS = ("regression", "classification")
REGRESSION_METRICS = ("msa", "sims")
CLASSIFICATION_METRICS = ("classification", "binary")


@dataclass(frozen=True)
class LabelCell:
    """One label as read: its text and where it came from (``file:line``)."""

    where: str
    split: str
    value: Any


@dataclass
class LabelDecision:
    """The task, the encoded labels of every split, and a sentence saying what was inferred and why."""

    task: TaskSpec
    labels: dict[str, np.ndarray]
    summary: str
    warnings: list[str]


def _number(value: Any) -> float | None:
    """The value as a float when it is written as a number (``bool`` counts as 0/1), else None."""
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)):
        return float(value)
    text = str(value).strip()
    try:
        return float(text)
    except ValueError:
        return None


def _class_name(number: float) -> str:
    return str(int(number)) if number.is_integer() else repr(number)


def infer_task(cells: Sequence[LabelCell], *, task: str | None = None, metrics: str | None = None,
               label_names: Sequence[str] | None = None, log: Callable[[str], None] | None = print
               ) -> LabelDecision:
    """Decide the task of ``cells`` (every split's labels in file order) and encode them per split."""
    if task is not None and task not in TASKS:
        raise ConfigError(f"task must be one of {TASKS}, got {task!r}")
    if not cells:
        raise DataError("no labels: the manifest has no rows")
    numbers = [_number(c.value) for c in cells]
    first_name = next((c for c, x in zip(cells, numbers) if x is None), None)
    first_number = next((c for c, x in zip(cells, numbers) if x is not None), None)
    if label_names is not None:
        decision = _classes(cells, [str(c.value).strip() for c in cells], list(map(str, label_names)),
                            "given label names")
    elif first_name is not None and first_number is not None:
        raise DataError(f"labels mix names and numbers: {first_name.where}: {first_name.value!r} and "
                        f"{first_number.where}: {first_number.value!r}; write every label as a class name, "
                        f"or every label as a number")
    elif first_name is not None:
        if task == "regression":
            raise DataError(f"--task regression needs numeric labels; {first_name.where}: label "
                            f"{first_name.value!r} is a name")
        names = [str(c.value).strip() for c in cells]
        _check_spellings(cells, names)
        decision = _classes(cells, names, sorted(set(names)), "class names")
    else:
        decision = _from_numbers(cells, np.asarray(numbers, dtype=np.float64), task)
    decision = _with_metrics(decision, metrics)
    if log is not None:
        log(f"labels: {decision.summary}")
        for message in decision.warnings:
            log(f"warning: {message}")
    return decision


def _from_numbers(cells: Sequence[LabelCell], values: np.ndarray, task: str | None) -> LabelDecision:
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        cell = cells[int(bad[0])]
        raise DataError(f"{cell.where}: label {cell.value!r} is not a finite number")
    integral = bool(np.all(np.floor(values) == values))
    distinct = np.unique(values)
    warnings = _outliers(cells, values)
    if task == "classification" or (task is None and integral and len(distinct) <= MAX_INFERRED_CLASSES):
        if not integral:
            cell = cells[int(np.flatnonzero(np.floor(values) != values)[0])]
            raise DataError(f"{cell.where}: label {cell.value!r} is not an integer; classification needs class "
                            f"names or integer labels (or use --task regression)")
        why = ("forced by task='classification'" if task else
               f"inferred from {len(distinct)} distinct integer values; use --task regression to change")
        decision = _classes(cells, [_class_name(v) for v in values], [_class_name(v) for v in distinct], why)
        decision.warnings[:0] = warnings
        return decision
    low, high = float(values.min()), float(values.max())
    if -1.0 <= low and high <= 1.0:
        metric_set, label_range, where = "sims", (-1.0, 1.0), "in [-1, 1]"
    elif -3.0 <= low and high <= 3.0:
        metric_set, label_range, where = "msa", (-3.0, 3.0), "in [-3, 3]"
    else:
        metric_set, label_range, where = "msa", (low, high), f"in [{low:g}, {high:g}]"
        warnings.append(f"regression labels lie in [{low:g}, {high:g}], outside [-3, 3]: of the msa metrics "
                        f"mae and corr apply as they are, the accuracies assume sentiment in [-3, 3]")
    why = ("forced by task='regression'" if task else
           f"inferred from {len(distinct)} distinct {'integer' if integral else 'numeric'} values; "
           f"use --task to change")
    labels = {s: values[[i for i, c in enumerate(cells) if c.split == s]].astype(np.float32)
              for s in dict.fromkeys(c.split for c in cells)}
    spec = TaskSpec(kind="regression", metrics=metric_set, label_range=label_range)
    return LabelDecision(spec, labels, f"regression {where} ({metric_set} metrics), {why}", warnings)


def _outliers(cells: Sequence[LabelCell], values: np.ndarray) -> list[str]:
    """A warning per numeric label beyond ``OUTLIER_SPREADS`` interquartile ranges of the quartiles."""
    if len(values) < 4:
        return []
    q1, q3 = np.percentile(values, [25, 75])
    spread = max(float(q3 - q1), 1.0)
    far = np.flatnonzero((values < q1 - OUTLIER_SPREADS * spread) | (values > q3 + OUTLIER_SPREADS * spread))
    return [f"{cells[i].where}: label {cells[i].value!r} lies far outside the others (quartiles {q1:g}, {q3:g}); "
            f"a typo?" for i in far[:10]] + ([f"... and {len(far) - 10} more such labels"] if len(far) > 10 else [])


def _check_spellings(cells: Sequence[LabelCell], names: Sequence[str]) -> None:
    """Refuse two spellings of one class that differ only in case or surrounding blanks."""
    seen: dict[str, tuple[str, str]] = {}
    for cell, name in zip(cells, names):
        key = name.casefold()
        if key in seen and seen[key][0] != name:
            other, where = seen[key]
            raise DataError(f"labels {other!r} ({where}) and {name!r} ({cell.where}) are two spellings of one "
                            f"class; write one spelling throughout (e.g. {name.lower()!r}), or pass label "
                            f"names if they are different classes")
        seen.setdefault(key, (name, cell.where))


def _classes(cells: Sequence[LabelCell], names: Sequence[str], classes: list[str], why: str) -> LabelDecision:
    """Encode ``names`` as indices into ``classes``; every class of valid/test must occur in train."""
    if len(set(classes)) != len(classes):
        raise ConfigError(f"label names {classes} repeat a name")
    index = {n: i for i, n in enumerate(classes)}
    for cell, name in zip(cells, names):
        if name not in index:
            raise DataError(f"{cell.where}: label {cell.value!r} is not one of the label names {classes}")
    used = list(dict.fromkeys(names))
    if len(used) < 2:
        raise DataError(f"every label is {used[0]!r} (first at {cells[0].where}): a classifier needs at least two "
                        f"classes")
    in_train = {n for c, n in zip(cells, names) if c.split == "train"}
    if in_train:
        for cell, name in zip(cells, names):
            if name not in in_train:
                raise DataError(f"{cell.where}: label {cell.value!r} of split {cell.split!r} never occurs in train; "
                                f"a model cannot learn it (move such samples to train, or fix the label)")
    labels = {s: np.asarray([index[n] for c, n in zip(cells, names) if c.split == s], dtype=np.int64)
              for s in dict.fromkeys(c.split for c in cells)}
    metric_set = "binary" if len(classes) == 2 else "classification"
    spec = TaskSpec(kind="classification", metrics=metric_set, num_classes=len(classes), label_names=classes)
    shown = ", ".join(classes[:8]) + (", ..." if len(classes) > 8 else "")
    return LabelDecision(spec, labels, f"classification, {len(classes)} classes ({shown}), {why}", [])


def _with_metrics(decision: LabelDecision, metrics: str | None) -> LabelDecision:
    """``decision`` scored with the metric set ``metrics`` when given (one that fits its task)."""
    if metrics is None:
        return decision
    allowed = REGRESSION_METRICS if decision.task.kind == "regression" else CLASSIFICATION_METRICS
    if metrics not in allowed:
        raise ConfigError(f"metrics {metrics!r} do not fit a {decision.task.kind} task; choose one of {allowed}")
    if metrics == "binary" and decision.task.num_classes != 2:
        raise ConfigError(f"metrics 'binary' need two classes, the labels have {decision.task.num_classes}")
    decision.task = decision.task.model_copy(update={"metrics": metrics})
    decision.summary += f"; metrics {metrics} as asked"
    return decision
