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
