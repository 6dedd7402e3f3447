"""Configuration values are refused or honoured, never ignored."""

from __future__ import annotations

import pytest
import yaml

from mmaffect.cli import main
from tests.reliability.cli_checks import one_line_error



@pytest.mark.parametrize("options, words", [
    (["--seeds", "5", "5"], ["seed", "5", "repeated"]),
    (["--set", "model.hidden=0"], ["model.hidden", "0"]),
    (["--set", "optim.patience=-1"], ["patience"]),
    (["--set", "optim.batch_size=0"], ["batch_size"]),
])
def test_refused_before_training(tmp_path, capsys, options, words):
    assert main(["train", *options, "--set", "optim.max_epochs=1", "--out", str(tmp_path / "r")]) == 2
    one_line_error(capsys, *words)
    assert not (tmp_path / "r").exists()


def test_robustness_levels_refused(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--seeds", "1", "--set", "optim.max_epochs=1", "--out", str(out)]) == 0
    capsys.readouterr()
    assert main(["robustness", str(out), "--data", "synthetic", "--levels", "-1", "nan"]) == 2
    one_line_error(capsys, "--levels", "-1", "nan")


def test_datasets_section_of_a_user_config_is_honoured(tmp_path):
    from mmaffect.api import make_config

    path = tmp_path / "user.yaml"
    path.write_text(yaml.safe_dump({"optim": {"lr": 0.002},
                                    "datasets": {"synthetic": {"optim": {"lr": 0.005}},
                                                 "mosi": {"optim": {"lr": 0.009}}}}))
    config = make_config("early_fusion", "synthetic", config_file=path)
    assert config.optim.lr == 0.005


def test_bad_datasets_section_is_refused(tmp_path, capsys):
    path = tmp_path / "user.yaml"
    path.write_text(yaml.safe_dump({"datasets": {"synthetic": {"optimm": {"lr": 0.005}}}}))
    assert main(["train", "--config", str(path), "--out", str(tmp_path / "r")]) == 2
    one_line_error(capsys, "datasets.synthetic", "optimm")
