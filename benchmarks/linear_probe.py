"""The linear probe the benchmark scripts share: logistic regression on standardised features, fitted on
train, C chosen by valid accuracy (the first best C on ties), scored on test (accuracy, macro-F1)."""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

C_GRID = (0.001, 0.01, 0.1, 1.0, 10.0, 100.0)


def linear_probe(x: Mapping[str, np.ndarray], y: Mapping[str, np.ndarray], *, c_grid: Sequence[float] = C_GRID,
                 max_iter: int = 5000) -> dict:
    """``{"C", "valid_accuracy", "test_accuracy", "test_macro_f1"}`` of the probe on ``x[split]``, ``y[split]``."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, f1_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    best = None
    for c in c_grid:
        model = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=max_iter)).fit(x["train"], y["train"])
        valid = accuracy_score(y["valid"], model.predict(x["valid"]))
        if best is None or valid > best[0]:
            best = (valid, c, model)
    valid, c, model = best
    predicted = model.predict(x["test"])
    return {"C": c, "valid_accuracy": round(float(valid), 4),
            "test_accuracy": round(float(accuracy_score(y["test"], predicted)), 4),
            "test_macro_f1": round(float(f1_score(y["test"], predicted, average="macro")), 4)}
