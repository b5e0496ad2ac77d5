import pytest

from microexpr.config import ExperimentConfig, load_config
from microexpr.errors import ConfigError


def test_defaults_are_the_papers():
    cfg = ExperimentConfig()
    assert (cfg.training.epochs, cfg.training.batch_size, cfg.training.lr) == (200, 64, 1e-4)
    assert cfg.preprocess.size == 128
    assert cfg.model.name == "atscnn"
    assert cfg.evaluation.average == "pooled"


def test_yaml_round_trip(tmp_path):
    path = tmp_path / "exp.yaml"
    path.write_text(
        "name: t\n"
        "data: {dataset: synthetic, root: somewhere}\n"
        "model: {name: atscnn, options: {head: [256]}}\n"
        "variants: {noatt: atscnn_no_attention}\n"
        "training: {epochs: 3, lr: 0.001}\n"
        "evaluation: {seeds: [0, 1]}\n"
    )
    cfg = load_config(path)
    assert cfg.training.epochs == 3 and cfg.training.lr == 1e-3
    assert list(cfg.all_variants()) == ["atscnn", "noatt"]
    assert cfg.model.options == {"head": [256]}
    assert cfg.evaluation.seeds == (0, 1)
    assert ExperimentConfig.from_dict(cfg.to_dict()) == cfg


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("trainin: {epochs: 3}\n", r"unknown keys \['trainin'\]"),
        ("training: {epochs: 0}\n", r"training.epochs == 0, must be >= 1"),
        ("training: {lr: -1}\n", r"training.lr == -1, must be > 0"),
        ("model: {name: atscn}\n", r"unknown model 'atscn'; did you mean atscnn"),
        ("evaluation: {average: mean}\n", r"evaluation.average must be one of"),
        ("preprocess: {size: 8}\n", r"preprocess.size == 8"),
        ("data: [1, 2]\n", r"data: expected a mapping"),
        ("training: {epochs: [\n", r"not valid YAML"),
    ],
)
def test_malformed_config_names_the_problem(tmp_path, text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_config(path)


def test_missing_config_file(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.yaml")


def test_record_test_curve_must_be_true_or_false():
    with pytest.raises(ConfigError, match="record_test_curve == 'yes', must be true or false"):
        ExperimentConfig.from_dict({"training": {"record_test_curve": "yes"}})
