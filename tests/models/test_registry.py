"""Every registered model, tested by being registered (after timm's tests/test_models.py)."""

import pytest
import torch

from microexpr.errors import ConfigError, MicroexprWarning
from microexpr.models import ModelSpec, create_model, get_model_cfg, list_models
from microexpr.models._registry import register_model
from microexpr.models.complexity import profile_model

ALL_MODELS = list_models()
INPUT_KINDS = {"uvs", "uv", "apex", "onset_apex", "flow_image"}
SMALL = 32  # side used where a model allows it, to keep the suite fast


def small_options(name: str) -> dict:
    """``input_size=32`` where the model takes it and is larger by default."""
    native = get_model_cfg(name)["input_size"][1]
    if native <= SMALL:
        return {}
    try:
        get_model_cfg(name, input_size=SMALL)
    except ConfigError:
        return {}
    return {"input_size": SMALL}


def test_registry_is_not_empty_and_sorted():
    assert len(ALL_MODELS) >= 14
    assert ALL_MODELS == sorted(ALL_MODELS)


@pytest.mark.parametrize("name", ALL_MODELS)
def test_model_cfg_without_building_matches_built_model(name):
    options = small_options(name)
    cfg = get_model_cfg(name, **options)
    assert {"inputs", "input_size", "num_classes", "paper"} <= set(cfg)
    assert cfg["inputs"] in INPUT_KINDS
    assert len(cfg["input_size"]) == 3
    assert len(cfg["paper"]) > 20
    assert create_model(name, **options).default_cfg == cfg


@pytest.mark.parametrize("name", ALL_MODELS)
def test_model_cfg_follows_num_classes_option(name):
    cfg = get_model_cfg(name, num_classes=5, **small_options(name))
    assert cfg["num_classes"] == 5


@pytest.mark.parametrize("name", ALL_MODELS)
def test_model_forward_and_backward(name):
    torch.manual_seed(0)
    model = create_model(name, num_classes=4, **small_options(name))
    x = torch.randn(3, *model.default_cfg["input_size"])
    out = model(x)
    assert out.shape == (3, 4)
    assert torch.isfinite(out).all()
    torch.nn.functional.cross_entropy(out, torch.tensor([0, 1, 3])).backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(g is not None for g in grads)
    assert any(float(g.abs().sum()) > 0 for g in grads)


@pytest.mark.parametrize("name", ALL_MODELS)
def test_model_eval_forward_is_deterministic(name):
    model = create_model(name, **small_options(name)).eval()
    x = torch.randn(2, *model.default_cfg["input_size"])
    with torch.no_grad():
        assert torch.equal(model(x), model(x))


@pytest.mark.parametrize("name", ALL_MODELS)
def test_model_complexity_runs(name):
    options = small_options(name)
    model = create_model(name, **options)
    c = profile_model(model, tuple(model.default_cfg["input_size"]))
    assert c.params == sum(p.numel() for p in model.parameters())
    assert c.flops > 0 and c.memory_mb > 0


@pytest.mark.parametrize("name", ALL_MODELS)
def test_model_unknown_option_names_model_and_option(name):
    with pytest.raises(ConfigError, match=rf"model '{name}': unknown option no_such_option"):
        create_model(name, no_such_option=1)


@pytest.mark.parametrize("name", ALL_MODELS)
def test_model_bad_option_type_names_the_option(name):
    with pytest.raises(ConfigError, match=rf"model '{name}': option num_classes='3' must be"):
        get_model_cfg(name, num_classes="3")
    with pytest.raises(ConfigError, match=rf"model '{name}': option num_classes=0 must be >= 1"):
        ModelSpec(name, {"num_classes": 0})


def test_bad_activation_is_config_error_naming_the_option():
    with pytest.raises(ConfigError, match="model 'atscnn': option activation='gelu' is not one of"):
        create_model("atscnn", activation="gelu")


def test_too_small_input_is_config_error():
    with pytest.raises(ConfigError, match="option input_size=8 must be >= 16"):
        ModelSpec("atscnn", {"input_size": 8})


def test_model_spec_reads_input_kind_without_building(monkeypatch):
    from microexpr.models import _registry

    def no_build(**kwargs):
        raise AssertionError("built")

    monkeypatch.setitem(_registry._model_entrypoints, "atscnn", no_build)
    monkeypatch.setitem(_registry._model_entrypoints, "atscnn_uv", no_build)
    assert ModelSpec("atscnn_uv").input_kind() == "uv"
    assert ModelSpec("atscnn", {"inputs": "apex"}).cfg()["input_size"] == (1, 128, 128)


def test_model_spec_rejects_unknown_model_with_close_matches():
    with pytest.raises(ConfigError, match="did you mean atscnn"):
        ModelSpec("atscn")


def test_register_without_cfg_reads_built_default_cfg_and_warns_on_duplicate():
    from microexpr.models import _registry

    class Tiny(torch.nn.Module):
        def __init__(self, num_classes: int = 3) -> None:
            super().__init__()
            self.fc = torch.nn.Linear(4, num_classes)
            self.default_cfg = {
                "inputs": "uv",
                "input_size": (2, 2, 2),
                "num_classes": num_classes,
                "paper": "a tiny test model, not a paper",
            }

    def tiny_test_model(**kwargs):
        return Tiny(**kwargs)

    try:
        register_model(tiny_test_model)
        assert get_model_cfg("tiny_test_model", num_classes=7)["num_classes"] == 7
        with pytest.warns(MicroexprWarning, match="registered twice"):
            register_model(tiny_test_model)
    finally:
        for table in (
            _registry._model_entrypoints,
            _registry._model_cfgs,
            _registry._model_modules,
        ):
            table.pop("tiny_test_model", None)


def test_fixed_length_option_checked_at_config_time():
    # Dual-Inception's widths is a pair: a list of four used to pass the
    # config check and fail only when the model was built
    from microexpr.errors import ConfigError
    from microexpr.models import get_model_cfg

    with pytest.raises(ConfigError, match=r"widths=\[8, 8, 8, 8\] must have 2 entries"):
        get_model_cfg("dual_inception", widths=[8, 8, 8, 8])
    assert get_model_cfg("dual_inception", widths=[8, 8])["input_size"] == (2, 28, 28)
