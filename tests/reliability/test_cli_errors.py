"""Bad input through the command line: exit status 2 and one line naming the file/key/value, never a
traceback (`--debug` shows it)."""

from __future__ import annotations

import pickle

import pytest

from mmaffect.cli import main
from tests.reliability.cli_checks import one_line_error

QUICK = ["--set", "optim.max_epochs=1"]



@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "run"
    assert main(["train", "--seeds", "1", *QUICK, "--out", str(out)]) == 0
    return out


def test_pickle_security_refusal(tmp_path, capsys):
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps({"train": __import__("os").system}))  # a global outside the allowed set
    assert main(["train", "--data", str(path)]) == 2
    one_line_error(capsys, "evil.pkl")


@pytest.mark.parametrize("text, word", [("optim: [1, 2\n", "line"), ("- a\n- b\n", "mapping"),
                                        ("optim:\n  lr: 1\n\tx: 2\n", "line")])
def test_yaml_errors_in_config(tmp_path, capsys, text, word):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    assert main(["train", "--config", str(path), *QUICK, "--out", str(tmp_path / "r")]) == 2
    one_line_error(capsys, "bad.yaml", word)
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("option, word", [(["--devices", "0"], "devices"),
                                          (["--set", "optim.max_epochs=-1"], "max_epochs"),
                                          (["--set", "optim.max_epochs=0"], "max_epochs")])
def test_trainer_misconfiguration(tmp_path, capsys, option, word):
    assert main(["train", "--seeds", "1", *option, "--out", str(tmp_path / "r")]) == 2
    one_line_error(capsys, word)


def test_predict_out_is_a_folder(run_dir, tmp_path, capsys):
    assert main(["predict", str(run_dir), "--data", "synthetic", "--out", str(tmp_path)]) == 2
    one_line_error(capsys, str(tmp_path), "--out")


def test_bad_checkpoint_json(run_dir, tmp_path, capsys):
    import shutil

    copy = tmp_path / "ckpt"
    shutil.copytree(run_dir / "seed_1", copy)
    (copy / "checkpoint.json").write_text('{"format": "mmaffect-checkpoint", "model": ')
    assert main(["evaluate", str(copy), "--data", "synthetic"]) == 2
    one_line_error(capsys, "checkpoint.json", "JSON")


def test_truncated_safetensors(run_dir, tmp_path, capsys):
    import shutil

    copy = tmp_path / "ckpt"
    shutil.copytree(run_dir / "seed_1", copy)
    weights = copy / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    assert main(["evaluate", str(copy), "--data", "synthetic"]) == 2
    one_line_error(capsys, "model.safetensors")


def test_unknown_encoder_path(tmp_path, capsys):
    manifest = tmp_path / "m.csv"
    rows = [f"{i},text number {i},{i % 2},{'train' if i < 6 else 'valid' if i < 8 else 'test'}" for i in range(10)]
    manifest.write_text("id,text,label,split\n" + "\n".join(rows) + "\n")
    assert main(["convert", str(manifest), str(tmp_path / "ds")]) == 0
    capsys.readouterr()
    assert main(["extract", str(tmp_path / "ds"), "--encoder", "/no/such/encoder"]) == 2
    one_line_error(capsys, "/no/such/encoder")


def test_memory_error_says_what_to_reduce(tmp_path, capsys, monkeypatch):
    import mmaffect.training.runner as runner

    def exhausted(*args, **kwargs):
        raise MemoryError()

    monkeypatch.setattr(runner, "run_training", exhausted)
    assert main(["train", "--seeds", "1", *QUICK, "--out", str(tmp_path / "r")]) == 2
    one_line_error(capsys, "out of memory", "batch_size")


@pytest.mark.parametrize("empty", ["train", "valid", "test"])
def test_empty_split(tmp_path, capsys, empty):
    import numpy as np

    from mmaffect.data.native import write_native
    from mmaffect.data.synthetic import make_synthetic

    bundle = make_synthetic(sizes=(40, 20, 20))
    bundle.splits[empty] = bundle.splits[empty].select(np.array([], dtype=int))
    try:
        write_native(bundle, tmp_path / "ds")
    except Exception as err:  # the writer may refuse an empty split itself: then that is the clear error
        assert empty in str(err)
        return
    assert main(["train", "--data", str(tmp_path / "ds"), "--seeds", "1", *QUICK, "--out", str(tmp_path / "r")]) == 2
    one_line_error(capsys, repr(empty))


def test_debug_shows_the_traceback(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("optim: [1, 2\n")
    with pytest.raises(Exception, match="bad.yaml"):
        main(["--debug", "train", "--config", str(path)])
