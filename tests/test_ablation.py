import pytest

from microexpr.ablation import PAPER_TABLE4, ablation_config
from microexpr.config import ExperimentConfig
from microexpr.errors import ConfigError


def test_ablation_config_sets_six_variants_with_shared_options():
    cfg = ExperimentConfig.from_dict(
        {"model": {"name": "atscnn", "options": {"input_size": 64, "attention": "cbam"}}}
    )
    ab = ablation_config(cfg)
    assert list(ab.all_variants()) == ["atscnn", *PAPER_TABLE4]
    assert ab.variants["atscnn_uv"].options == {"input_size": 64}
    # the option a variant changes is not overridden by the full model's value
    assert ab.variants["atscnn_no_attention"].build().streams[0].attention.__class__.__name__ == (
        "Identity"
    )


def test_ablation_config_needs_atscnn():
    cfg = ExperimentConfig.from_dict({"model": {"name": "atscnn_relu"}})
    with pytest.raises(ConfigError, match="model.name must be 'atscnn'"):
        ablation_config(cfg)


def test_paper_table4_values():
    assert PAPER_TABLE4["atscnn_apex"][1:] == (0.1430, 0.1896)
    assert PAPER_TABLE4["atscnn_relu"][1:] == (0.0451, 0.0520)
    assert len(PAPER_TABLE4) == 6
