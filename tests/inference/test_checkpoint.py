import json

import pytest
import torch

from microexpr import __version__
from microexpr.errors import WeightsError
from microexpr.inference.checkpoint import load_checkpoint, save_checkpoint
from microexpr.models import create_model
from microexpr.preprocess.pipeline import PreprocessSettings

OPTIONS = {"head": [8], "input_size": 32}


def _save(folder, **changes):
    torch.manual_seed(0)
    model = create_model("atscnn", **OPTIONS)
    save_checkpoint(
        folder,
        model,
        model_name="atscnn",
        model_options=OPTIONS,
        preprocess=PreprocessSettings(size=32),
        class_names=("negative", "positive", "surprise"),
        extra={"epochs": 3},
    )
    if changes:
        raw = torch.load(folder / "checkpoint.pt", weights_only=True)
        raw.update(changes)
        torch.save(raw, folder / "checkpoint.pt")
    return model


def test_checkpoint_round_trip(tmp_path):
    model = _save(tmp_path)
    loaded, info = load_checkpoint(tmp_path)
    x = torch.randn(2, 3, 32, 32)
    model.eval()
    assert torch.allclose(model(x), loaded(x))
    assert info.model_name == "atscnn" and info.inputs == "uvs"
    assert info.class_names == ("negative", "positive", "surprise")
    assert info.preprocess == PreprocessSettings(size=32)
    assert info.version == __version__ and info.extra == {"epochs": 3}
    described = json.loads((tmp_path / "model.json").read_text())
    assert described["microexpr_version"] == __version__
    assert described["model_options"] == {"head": [8], "input_size": 32}
    assert described["preprocess"]["size"] == 32
    assert "state_dict" not in described


def test_checkpoint_file_path_also_accepted(tmp_path):
    _save(tmp_path)
    _, info = load_checkpoint(tmp_path / "checkpoint.pt")
    assert info.path == tmp_path / "checkpoint.pt"


def test_checkpoint_of_another_version_is_refused(tmp_path):
    _save(tmp_path, microexpr_version="7.2.0")
    with pytest.raises(WeightsError, match=r"written by microexpr 7\.2\.0; this is microexpr"):
        load_checkpoint(tmp_path)


def test_checkpoint_of_another_format_is_refused(tmp_path):
    _save(tmp_path, format=99)
    with pytest.raises(WeightsError, match="checkpoint format 99"):
        load_checkpoint(tmp_path)


def test_checkpoint_whose_weights_do_not_fit_is_refused(tmp_path):
    _save(tmp_path, model_options={"head": [16], "input_size": 32})
    with pytest.raises(WeightsError, match="weights do not fit model 'atscnn'"):
        load_checkpoint(tmp_path)


def test_checkpoint_of_unknown_model_is_refused(tmp_path):
    _save(tmp_path, model_name="atscnm")
    with pytest.raises(WeightsError, match="cannot rebuild model 'atscnm'"):
        load_checkpoint(tmp_path)


def test_checkpoint_not_a_checkpoint(tmp_path):
    (tmp_path / "checkpoint.pt").write_bytes(b"not a torch file")
    with pytest.raises(WeightsError, match="not a readable microexpr checkpoint"):
        load_checkpoint(tmp_path)


def test_checkpoint_missing(tmp_path):
    with pytest.raises(WeightsError, match="no model at .*microexpr train"):
        load_checkpoint(tmp_path / "nothing")
