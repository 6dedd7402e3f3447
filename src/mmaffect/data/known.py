"""Loaders for the known benchmark layouts under a data root."""

from __future__ import annotations

from pathlib import Path

from mmaffect.data.bundle import DatasetBundle


def load_mosi_utterance(root: Path) -> DatasetBundle:
    """CMU-MOSI utterance-level features in the MMSA pickle layout (``mosi_utterance/mosi_utterance.pkl``)."""
    from mmaffect.data.mmsa import load_mmsa_pickle

    path = Path(root) / "mosi_utterance" / "mosi_utterance.pkl"
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: --data-root must contain mosi_utterance/mosi_utterance.pkl")
    return load_mmsa_pickle(path, name="mosi_utterance")
