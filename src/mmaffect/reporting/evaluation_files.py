"""The files of an evaluation: ``robustness.{json,md,png}`` and ``diagnostics.{json,png}``."""

from __future__ import annotations

import json
from pathlib import Path

from mmaffect.io import atomic_write_text
from mmaffect.reporting.plots import plot_cka_matrix, plot_robustness


def robustness_markdown(report: dict) -> str:
    """A table of the headline metric (and ``mae`` when scored) per condition, then the robustness scores."""
    primary = report["primary"]
    has_mae = "mae" in report["clean"]
    lines = [f"| condition | {primary} | mae |" if has_mae else f"| condition | {primary} |",
             "|---|---|---|" if has_mae else "|---|---|"]

    def row(name: str, metrics: dict) -> str:
        cells = [f"{metrics[primary]:.3f}"] + ([f"{metrics['mae']:.3f}"] if "mae" in metrics else [])
        return f"| {name} | " + " | ".join(cells) + " |"

    lines.append(row("clean", report["clean"]))
    for m, metrics in report["missing"].items():
        lines.append(row(f"{m} missing", metrics))
    for m, curve in report["noise"].items():
        for level, metrics in curve.items():
            lines.append(row(f"{m} + noise σ={level}", metrics))
    lines.append("")
    lines.append("Relative robustness (mean over σ of metric(σ)/metric(0)): " + ", ".join(
        f"{m} {s:.3f}" for m, s in report["robustness"].items()) + f"; mean {report['robustness_mean']:.3f}")
    return "\n".join(lines) + "\n"


def write_robustness(report: dict, directory: Path) -> None:
    """``robustness.json``, ``robustness.md`` and ``robustness.png`` (one curve per modality)."""
    directory.mkdir(parents=True, exist_ok=True)
    atomic_write_text(directory / "robustness.json", json.dumps(report, indent=2))
    atomic_write_text(directory / "robustness.md", robustness_markdown(report))
    plot_robustness(report, directory / "robustness.png")


def write_diagnostics(report: dict, directory: Path) -> None:
    """``diagnostics.json`` and ``diagnostics.png`` (a CKA matrix between modalities)."""
    directory.mkdir(parents=True, exist_ok=True)
    atomic_write_text(directory / "diagnostics.json", json.dumps(report, indent=2))
    if report["pairs"]:
        plot_cka_matrix(report, directory / "diagnostics.png")
