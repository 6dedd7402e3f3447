"""text_centric: top-K token selection with gradient to the scorer, several modalities, token ids, uniformity."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mmaffect.data.bundle import DatasetBundle, SplitData
from mmaffect.data.loader import make_loader
from mmaffect.data.formats.common import classification_task
from mmaffect.models.base import build_model
from mmaffect.models.text_centric import top_k_mask
from mmaffect.objectives.registry import build_objective
from mmaffect.types import Batch

TASK = classification_task(["no", "yes"])


def feature_batch(b: int = 6, lengths=((9, 3, 12, 12, 1, 5), (4, 4, 2, 4, 4, 1)), dims=(12, 8)) -> Batch:
    g = torch.Generator().manual_seed(0)
    features, masks = {}, {}
    for name, lens, d in zip(("tweet", "attrs"), lengths, dims):
        t = max(lens)
        features[name] = torch.randn(b, t, d, generator=g)
        masks[name] = torch.arange(t)[None, :] < torch.tensor(lens)[:, None]
        features[name] = features[name] * masks[name].unsqueeze(-1)
    return Batch(features, masks, torch.tensor([0, 1] * (b // 2)), [str(i) for i in range(b)], torch.arange(b))


def test_top_k_mask_keeps_k_real_tokens():
    scores = torch.tensor([[5.0, 4.0, 3.0, 9.0], [1.0, 2.0, 3.0, 4.0]])
    mask = torch.tensor([[True, True, True, False], [True, True, False, False]])
    assert top_k_mask(scores, mask, 2).tolist() == [[True, True, False, False], [True, True, False, False]]
    assert top_k_mask(scores, mask, None).tolist() == mask.tolist()
    assert top_k_mask(scores, mask, 10).tolist() == mask.tolist()


@pytest.mark.parametrize("k", [1, 3, 8, None])
def test_top_k_limits_kept_tokens_and_passes_gradient_to_scorer(k):
    torch.manual_seed(0)
    batch = feature_batch()
    model = build_model("text_centric", {"tweet": 12, "attrs": 8}, TASK,
                        {"top_k": k, "hidden": 16, "scorer_hidden": 8, "dropout": 0.0})
    out = model(batch)
    real = batch.masks["tweet"].sum(1) + batch.masks["attrs"].sum(1)
    want = real if k is None else real.clamp_max(k)
    assert out.diagnostics["kept_tokens"].tolist() == want.tolist()
    assert out.prediction.shape == (6, 2) and out.representations["fused"].shape == (6, 16)
    torch.nn.functional.cross_entropy(out.prediction, batch.labels).backward()
    assert model.scorer.weight.grad is not None and model.scorer.weight.grad.abs().sum() > 0


def test_padding_and_unselected_tokens_do_not_matter():
    torch.manual_seed(0)
    batch = feature_batch()
    model = build_model("text_centric", {"tweet": 12, "attrs": 8}, TASK, {"top_k": 4, "hidden": 16}).eval()
    before = model(batch).prediction
    noisy = Batch({m: x + 100.0 * (~batch.masks[m]).unsqueeze(-1) for m, x in batch.features.items()},
                  batch.masks, batch.labels, batch.ids, batch.index)
    torch.testing.assert_close(model(noisy).prediction, before)


def test_modalities_subset_and_errors():
    batch = feature_batch()
    model = build_model("text_centric", {"tweet": 12, "attrs": 8}, TASK, {"modalities": ["tweet"], "top_k": None})
    assert model.modalities == ["tweet"]
    assert model(batch).diagnostics["kept_tokens"].tolist() == batch.masks["tweet"].sum(1).tolist()
    with pytest.raises(ValueError, match="not in the data"):
        build_model("text_centric", {"tweet": 12}, TASK, {"modalities": ["image_words"]})
    with pytest.raises(ValueError, match="different widths"):
        build_model("text_centric", {"tweet": 12, "attrs": 8}, TASK, {"hidden": None})
    with pytest.raises(ValueError, match="top_k"):
        build_model("text_centric", {"tweet": 12}, TASK, {"top_k": 0})(feature_batch())


def test_uniformity_objective_reads_fused_and_trains_the_model():
    torch.manual_seed(0)
    batch = feature_batch()
    model = build_model("text_centric", {"tweet": 12, "attrs": 8}, TASK, {"hidden": 16, "dropout": 0.0})
    objective = build_objective("uniformity", weight=0.5, t=2.0)
    out = model(batch)
    value = objective(out, batch)
    z = torch.nn.functional.normalize(out.representations["fused"], dim=-1)
    sq = torch.cdist(z, z) ** 2
    off = ~torch.eye(6, dtype=torch.bool)
    torch.testing.assert_close(value, torch.log(torch.exp(-2.0 * sq[off]).mean()), atol=1e-5, rtol=1e-5)
    (objective.weight * value).backward()
    assert model.project["tweet"][0].weight.grad.abs().sum() > 0


# ----------------------------------------------------------------------------------------- token ids

def tiny_encoder(directory) -> str:
    transformers = pytest.importorskip("transformers")
    config = transformers.BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
                                     intermediate_size=32, max_position_embeddings=32)
    torch.manual_seed(0)
    transformers.BertModel(config).save_pretrained(directory)
    return str(directory)


def token_bundle(n: int = 24, t: int = 10) -> DatasetBundle:
    rng = np.random.default_rng(0)

    def split(prefix: str) -> SplitData:
        ids = rng.integers(5, 50, (n, t))
        lengths = rng.integers(3, t + 1, n)
        mask = (np.arange(t)[None, :] < lengths[:, None]).astype(np.int64)
        labels = (ids[:, 0] > 27).astype(np.int64)
        return SplitData({}, {}, labels, [f"{prefix}{i}" for i in range(n)], [""] * n,
                         extras={"tokens.input_ids": ids * mask, "tokens.attention_mask": mask})
    return DatasetBundle("tokens", TASK, {s: split(s) for s in ("train", "valid", "test")})


@pytest.mark.parametrize("finetune", [False, True])
def test_tokens_input_reads_text_tokens(tmp_path, finetune):
    path = tiny_encoder(tmp_path / "enc")
    bundle = token_bundle()
    batch = next(iter(make_loader(bundle.split("train"), classification=True, batch_size=8, shuffle=False)))
    assert set(batch.text_tokens) == {"input_ids", "attention_mask"}
    model = build_model("text_centric", {}, TASK, {"input": "tokens", "encoder": path, "finetune": finetune,
                                                   "top_k": 4, "hidden": 16})
    model.train()
    assert model.encoder.training is finetune
    out = model(batch)
    assert out.diagnostics["kept_tokens"].tolist() == batch.text_tokens["attention_mask"].sum(1).clamp_max(4).tolist()
    out.prediction.sum().backward()
    encoder_grads = [p.grad for p in model.encoder.parameters() if p.grad is not None]
    assert bool(encoder_grads) is finetune
    assert model.scorer.weight.grad.abs().sum() > 0
    with pytest.raises(KeyError, match="text_tokens"):
        model(Batch({}, {}, batch.labels, batch.ids, batch.index))


def test_train_end_to_end_on_token_ids(tmp_path):
    from mmaffect.api import train

    path = tiny_encoder(tmp_path / "enc")
    run = train("text_centric", token_bundle(), seeds=[1], out_dir=tmp_path / "run",
                overrides=["model.input=tokens", f"model.encoder={path}", "model.hidden=16", "optim.max_epochs=2",
                           "optim.batch_size=8"])
    assert run is not None and "acc" in run.summary["metrics"]


def test_train_end_to_end_on_features_with_uniformity(tmp_path):
    from mmaffect.api import train

    rng = np.random.default_rng(0)

    def split(n: int) -> SplitData:
        y = rng.integers(0, 2, n)
        tweet = rng.normal(size=(n, 6, 8)).astype(np.float32)
        tweet[:, 0, 0] += 2.0 * y
        attrs = rng.normal(size=(n, 3, 4)).astype(np.float32)
        return SplitData({"tweet": tweet, "attrs": attrs},
                         {"tweet": rng.integers(2, 7, n), "attrs": np.full(n, 3)}, y, [str(i) for i in range(n)])
    bundle = DatasetBundle("feats", TASK, {"train": split(64), "valid": split(32), "test": split(32)})
    run = train("text_centric", bundle, seeds=[1], out_dir=tmp_path / "run",
                overrides=["model.hidden=16", "model.top_k=4", "optim.max_epochs=2", "optim.batch_size=16"])
    assert 0.0 <= run.summary["metrics"]["acc"]["mean"] <= 1.0
    assert any("train/uniformity" in row for row in run.seeds[0].history)
