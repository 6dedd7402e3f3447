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
