import pytest
import torch

from microexpr.errors import ConfigError
from microexpr.models import ATSCNN, create_model, list_models
from microexpr.models.complexity import profile_model

ATSCNN_VARIANTS = {
    # name: (streams, parameters)
    "atscnn": (3, 4_214_163),
    "atscnn_no_attention": (3, 4_213_665),
    "atscnn_channel_attention": (3, 4_214_109),
    "atscnn_spatial_attention": (3, 4_213_719),
    "atscnn_relu": (3, 4_214_163),
    "atscnn_uv": (2, 3_160_675),
    "atscnn_apex": (1, 2_107_187),
}


@pytest.mark.parametrize("name", sorted(ATSCNN_VARIANTS))
def test_ablation_variant_shapes_and_parameters(name):
    streams, params = ATSCNN_VARIANTS[name]
    model = create_model(name)
    assert model.default_cfg["input_size"] == (streams, 128, 128)
    assert sum(p.numel() for p in model.parameters()) == params


def test_every_ablation_is_registered():
    assert set(ATSCNN_VARIANTS) <= set(list_models("atscnn*"))


def test_atscnn_matches_paper_complexity():
    # Table 3: 4.21e6 parameters, 19.01 MFLOPs, 20.5 MB memory read+write (torchstat)
    c = profile_model(create_model("atscnn"), (3, 128, 128))
    assert round(c.params / 1e6, 2) == 4.21
    assert round(c.flops / 1e6, 2) == 19.01
    assert round(c.memory_mb, 1) == 20.5


def test_stream_feature_map_is_16x8x8():
    model = ATSCNN()
    assert model.feature_shape == (16, 8, 8)
    assert model.forward_features(torch.zeros(1, 3, 128, 128)).shape == (1, 3072)


def test_native_28px_input_for_megc_flows():
    model = create_model("atscnn", input_size=28)
    assert model.feature_shape == (16, 1, 1)
    assert model(torch.zeros(4, 3, 28, 28)).shape == (4, 3)


def test_relu_variant_has_no_selu():
    model = create_model("atscnn_relu")
    assert not any(isinstance(m, torch.nn.SELU) for m in model.modules())
    assert any(isinstance(m, torch.nn.SELU) for m in create_model("atscnn").modules())


def test_spatial_attention_maps_shape_and_range():
    model = create_model("atscnn").eval()
    with torch.no_grad():
        maps = model.spatial_attention_maps(torch.randn(2, 3, 128, 128))
    assert maps.shape == (2, 3, 8, 8)
    assert float(maps.min()) >= 0 and float(maps.max()) <= 1


def test_wrong_stream_count_is_explained():
    with pytest.raises(ValueError, match=r"expected input of shape \(N, 3, H, W\)"):
        create_model("atscnn")(torch.zeros(1, 2, 128, 128))


def test_unknown_model_lists_close_matches():
    with pytest.raises(ConfigError, match="did you mean atscnn"):
        create_model("atscn")


def test_create_model_drops_none_options():
    model = create_model("atscnn", num_classes=None, attention=None)
    assert model.default_cfg["num_classes"] == 3


def test_bad_attention_is_config_error():
    with pytest.raises(ConfigError, match="option attention='cbma' is not one of"):
        create_model("atscnn", attention="cbma")
