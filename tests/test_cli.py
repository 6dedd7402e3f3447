import json

from mmaffect.cli import main


def test_list(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for name in ("early_fusion", "late_fusion", "tfn", "lmf", "mult", "synthetic", "mosi_utterance"):
        assert name in out


def test_train_evaluate_predict(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--model", "lmf", "--seeds", "1", "--set", "optim.max_epochs=2", "--out", str(out)]) == 0
    assert "mae" in capsys.readouterr().out
    assert main(["evaluate", str(out), "--data", "synthetic"]) == 0
    metrics = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert "non0_acc2" in metrics
    assert main(["predict", str(out), "--data", "synthetic", "--out", str(tmp_path / "p.csv")]) == 0
    assert (tmp_path / "p.csv").read_text().count("\n") == 301


def test_bad_key_is_a_clear_error(capsys):
    assert main(["train", "--set", "optim.lrr=1"]) == 2
    assert "lrr" in capsys.readouterr().err


def test_unknown_dataset_is_a_clear_error(capsys):
    assert main(["train", "--data", "no_such_dataset"]) == 2
    assert "no_such_dataset" in capsys.readouterr().err


def test_ddp_two_processes_on_cpu(tmp_path):
    """`--devices 2 --strategy ddp` trains with two gloo processes and gives the same kind of result."""
    import subprocess
    import sys

    out = tmp_path / "ddp"
    cmd = [sys.executable, "-m", "mmaffect.cli", "train", "--devices", "2", "--strategy", "ddp", "--seeds", "3",
           "--set", "optim.max_epochs=8", "--out", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["metrics"]["corr"]["mean"] > 0.8
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ddp"]  # the worker wrote into the same folder


def _fake_mosi_pickle(path, sizes=(1284, 229, 686)):
    """An MMSA pickle with the official CMU-MOSI split sizes and tiny features (plain numpy and dicts)."""
    import pickle

    import numpy as np

    rng = np.random.default_rng(0)
    data = {}
    for split, n in zip(("train", "valid", "test"), sizes):
        data[split] = {
            "text": rng.normal(size=(n, 2, 4)).astype(np.float32),
            "audio": rng.normal(size=(n, 2, 3)).astype(np.float32),
            "vision": rng.normal(size=(n, 2, 3)).astype(np.float32),
            "regression_labels": rng.uniform(-3, 3, size=n).astype(np.float32),
            "id": np.array([f"{split}_{i}" for i in range(n)], dtype=object),
        }
    path.write_bytes(pickle.dumps(data, protocol=4))
    return path


def test_pickle_path_applies_the_dataset_section_of_the_loaded_data(tmp_path, capsys):
    """`--data <path>/unaligned_50.pkl` is recognised as MOSI by its split sizes, so decalign.yaml's `mosi`
    section applies (its lr 2e-4 and homogeneous weight 0 differ from the defaults 1e-4 and 0.05)."""
    import yaml

    data = _fake_mosi_pickle(tmp_path / "unaligned_50.pkl")
    out = tmp_path / "run"
    tiny = ["model.hidden=8", "model.num_heads=2", "model.num_layers=1", "model.homogeneous_dim=8",
            "optim.max_epochs=1", "optim.batch_size=512"]
    argv = ["train", "--model", "decalign", "--data", str(data), "--seeds", "1", "--out", str(out)]
    assert main(argv + [x for s in tiny for x in ("--set", s)]) == 0
    assert "config: decalign.yaml section 'mosi'" in capsys.readouterr().out
    config = yaml.safe_load((out / "config.yaml").read_text())
    assert config["optim"]["lr"] == 2e-4 and config["objectives"]["homogeneous"]["weight"] == 0.0
    assert config["optim"]["monitor"] == "loss"
    assert (out / "summary.json").is_file()  # best seed chosen although selection monitors the loss


def test_unrecognised_data_says_no_dataset_section(tmp_path, capsys):
    data = _fake_mosi_pickle(tmp_path / "other.pkl", sizes=(40, 10, 10))
    assert main(["train", "--model", "tfn", "--data", str(data), "--seeds", "1", "--set", "optim.max_epochs=1",
                 "--out", str(tmp_path / "run")]) == 0
    assert "config: tfn.yaml, no dataset section for 'other'" in capsys.readouterr().out


def test_debug_shows_the_traceback(capsys):
    import pytest

    from mmaffect.errors import ConfigError

    with pytest.raises(ConfigError, match="lrr"):
        main(["--debug", "train", "--set", "optim.lrr=1"])
