import pytest

from microexpr.ablation import PAPER_TABLE4, ablation_config
from microexpr.config import ExperimentConfig
from microexpr.errors import ConfigError
from microexpr.models import list_models


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


def test_every_table4_variant_is_a_registered_model():
    assert set(PAPER_TABLE4) <= set(list_models("atscnn_*"))
