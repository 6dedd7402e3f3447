import pytest

from mmaffect.training.config import ConfigError, parse_override, resolve_config


def test_defaults_and_dataset_override_apply():
    base = resolve_config("early_fusion")
    mosi = resolve_config("early_fusion", "mosi_utterance")
    assert base.model_params == {}
    assert mosi.model_params["dropout"] == 0.3  # the `mosi` section matches mosi_utterance
    assert mosi.optim.max_epochs != base.optim.max_epochs or mosi.optim.weight_decay != base.optim.weight_decay


def test_set_overrides_are_parsed_as_yaml():
    config = resolve_config("tfn", overrides=["optim.lr=3e-4", "model.hidden=8", "seeds=[1, 2]"])
    assert config.optim.lr == pytest.approx(3e-4)
    assert config.model_params["hidden"] == 8
    assert config.seeds == [1, 2]
    assert parse_override("a.b.c=true") == {"a": {"b": {"c": True}}}


@pytest.mark.parametrize("override, needle", [
    ("optim.lrr=0.1", "lrr"),
    ("model.hiden=8", "hiden"),
    ("optimizer.lr=0.1", "optimizer"),
    ("objectives.nonsense.weight=1", "nonsense"),
    ("optim.batch_size=abc", "batch_size"),
])
def test_misspelled_keys_are_named(override, needle):
    with pytest.raises(ConfigError, match=needle):
        resolve_config("early_fusion", overrides=[override])


def test_user_config_file(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("optim: {lr: 0.01}\nmodel: {hidden: 16}\n")
    config = resolve_config("late_fusion", config_file=path)
    assert config.optim.lr == 0.01 and config.model_params["hidden"] == 16
    path.write_text("optim: {learning_rate: 0.01}\n")
    with pytest.raises(ConfigError, match="learning_rate"):
        resolve_config("late_fusion", config_file=path)


def test_override_needs_equals_sign():
    with pytest.raises(ConfigError, match="key=value"):
        parse_override("optim.lr")
