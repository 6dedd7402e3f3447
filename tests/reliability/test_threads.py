"""Thread settings: one intra-op thread by default in every computing verb, `--threads N` to choose."""

from __future__ import annotations

import pytest
import torch

from mmaffect.cli import main

QUICK = ["--set", "optim.max_epochs=1"]


@pytest.fixture
def restore_threads(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.delenv("MMAFFECT_THREADS", raising=False)
    previous = torch.get_num_threads()
    yield
    torch.set_num_threads(previous)


def test_threads_option_before_and_after_the_command(tmp_path, restore_threads):
    assert main(["--threads", "2", "train", "--seeds", "1", *QUICK, "--out", str(tmp_path / "a")]) == 0
    assert torch.get_num_threads() == 2
    assert main(["evaluate", str(tmp_path / "a"), "--data", "synthetic", "--threads", "3"]) == 0
    assert torch.get_num_threads() == 3


def test_default_is_one_thread_without_environment(tmp_path, restore_threads):
    torch.set_num_threads(2)
    assert main(["train", "--seeds", "1", *QUICK, "--out", str(tmp_path / "a")]) == 0
    assert torch.get_num_threads() == 1


def test_bad_thread_count_is_refused(capsys, restore_threads):
    assert main(["--threads", "0", "list"]) == 2
    assert "--threads" in capsys.readouterr().err


def test_decompose_keeps_its_worker_pool(monkeypatch, restore_threads):
    """The decomposition sizes its worker pool from torch.get_num_threads(): the verb runs it with every
    core (or --threads) and restores the package's setting afterwards."""
    import mmaffect.api as api
    import mmaffect.jobs.decompose as job
    from mmaffect.runtime import available_cores

    seen = []
    monkeypatch.setattr(job, "decompose_dataset", lambda *a, **k: seen.append(torch.get_num_threads()))
    api.decompose("unused")
    assert torch.get_num_threads() == 1  # the package's setting again after the call
    api.decompose("unused", threads=2)
    assert seen == [available_cores(), 2]
