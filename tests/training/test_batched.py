"""Stacked training of all folds: the same results as one fold after another."""

from dataclasses import replace

import numpy as np
import pytest
import torch
from tiny_grid import tiny_data
from torch import nn

from microexpr.data.loso import loso_folds
from microexpr.errors import ConfigError
from microexpr.models import get_model_cfg
from microexpr.training import batched
from microexpr.training.batched import conv_outputs_per_clip, fit_stacked, stacks_folds
from microexpr.training.engine import (
    EngineData,
    ModelSpec,
    make_jobs,
    plan_units,
    run_fold,
    run_folds_stacked,
    run_grid,
)
from microexpr.training.executors import make_executor
from microexpr.training.trainer import TrainSettings, fit, seed_everything

# Equivalence tolerance, as stated by the issue: identical predicted classes,
# probabilities within 2e-3 and epoch losses within 1e-4 (grouped convolutions
# and batched products sum in another order than one model at a time).
PROBA_ATOL = 2e-3
LOSS_ATOL = 1e-4


def _assert_equivalent(stacked, sequential):
    for s, b in zip(sequential, stacked, strict=True):
        assert (b.variant, b.fold, b.seed, b.test_indices) == (
            s.variant,
            s.fold,
            s.seed,
            s.test_indices,
        )
        assert b.y_pred == s.y_pred
        np.testing.assert_allclose(b.losses, s.losses, atol=LOSS_ATOL)
        np.testing.assert_allclose(b.proba, s.proba, atol=PROBA_ATOL)


def _uneven_data(name, options, *, batch_size, epochs=3, clips=(1, 3, 9, 14)):
    """Subjects of very different sizes: one with a single clip, folds smaller than a batch."""
    rng = np.random.default_rng(1)
    groups = [f"s{i}" for i, n in enumerate(clips) for _ in range(n)]
    spec = ModelSpec(name, options)
    shape = get_model_cfg(name, **options)["input_size"]
    x = rng.normal(size=(len(groups), *shape)).astype(np.float32)
    return EngineData(
        inputs={spec.input_kind(): x},
        labels=rng.integers(0, 3, len(groups)).astype(np.int64),
        folds=loso_folds(groups),
        variants={name: spec},
        settings=TrainSettings(
            epochs=epochs, batch_size=batch_size, lr=1e-3, fold_batching="always"
        ),
    )


@pytest.mark.parametrize(
    ("name", "options"),
    [
        ("atscnn", {"input_size": 32, "head": [16]}),  # BatchNorm, attention, SELU
        ("ststnet", {}),  # dropout: per-member masks from each fold's own RNG stream
    ],
)
def test_stacked_folds_equal_sequential_folds(name, options):
    # two seeds, folds of 27, 26, 20 and 15 clips with batch 8: different
    # numbers and sizes of batches, padded rows, members with no batch left
    data = _uneven_data(name, options, batch_size=8)
    jobs = make_jobs(data.variants, data.folds, [0, 1])
    sequential = [run_fold(job, data, threads=1) for job in jobs]
    stacked = run_folds_stacked(jobs, data, threads=1)
    _assert_equivalent(stacked, sequential)


def test_fold_smaller_than_a_batch():
    # batch 32 > every fold's training set: one short batch per epoch
    data = _uneven_data("atscnn", {"input_size": 32, "head": [16]}, batch_size=32, epochs=2)
    jobs = make_jobs(data.variants, data.folds, [0])
    _assert_equivalent(run_folds_stacked(jobs, data, threads=1), [run_fold(j, data) for j in jobs])


def test_grid_chunks_equal_sequential():
    # max_batched_folds=3 on 4 folds: two units (3 stacked + 1 alone)
    data = tiny_data(n_subjects=4, clips=5, epochs=2, fold_batching="always", max_batched_folds=3)
    jobs = make_jobs(data.variants, data.folds, [0])
    assert [len(u) for u in plan_units(jobs, data)] == [3, 1]
    results = run_grid(jobs, data, make_executor("serial"))
    _assert_equivalent(results, [run_fold(job, data) for job in jobs])


def test_stack_split_when_memory_is_short(monkeypatch, capsys):
    data = tiny_data(n_subjects=5, clips=4, epochs=1, fold_batching="always")
    jobs = make_jobs(data.variants, data.folds, [0])
    one_member = batched.fold_memory(data.variants["atscnn"].build(), (3, 32, 32), 8)
    monkeypatch.setattr(batched, "available_memory", lambda: int(2.5 * one_member / 0.6))
    units = plan_units(jobs, data)
    assert [len(u) for u in units] == [2, 2, 1]
    assert "training them in stacks of 2" in capsys.readouterr().out


def test_fit_stacked_resumes_from_checkpoint(tmp_path):
    data = tiny_data(n_subjects=3, clips=4, epochs=4)
    train = [torch.tensor(f.train_indices) for f in data.folds]
    x, y = torch.from_numpy(data.inputs["uvs"]), torch.from_numpy(data.labels)

    def models():
        out = []
        for seed in range(3):
            seed_everything(seed)
            out.append(data.variants["atscnn"].build())
        return out

    whole = models()
    ref = fit_stacked(whole, x, y, train, data.settings, seeds=[0, 1, 2])
    ckpt = tmp_path / "stack.pt"
    stopped = []

    class Killed(Exception):
        pass

    def stop_after_two(epoch, _net, _losses):
        if epoch == 1:
            stopped.append(epoch)
            raise Killed

    first = models()
    with pytest.raises(Killed):
        fit_stacked(
            first,
            x,
            y,
            train,
            data.settings,
            seeds=[0, 1, 2],
            checkpoint=ckpt,
            checkpoint_seconds=0,
            on_epoch=stop_after_two,
        )
    # the checkpoint of epoch 0 was written before the "kill" in epoch 1
    assert ckpt.is_file() and stopped == [1]
    resumed = models()
    losses = fit_stacked(resumed, x, y, train, data.settings, seeds=[0, 1, 2], checkpoint=ckpt)
    assert losses == ref  # bit-identical: weights, Adam state and RNG streams restored
    for a, b in zip(whole, resumed, strict=True):
        for pa, pb in zip(a.state_dict().values(), b.state_dict().values(), strict=True):
            assert torch.equal(pa, pb)


def test_checkpoint_of_other_training_is_ignored(tmp_path):
    data = tiny_data(n_subjects=3, clips=4, epochs=1)
    train = [torch.tensor(f.train_indices) for f in data.folds]
    x, y = torch.from_numpy(data.inputs["uvs"]), torch.from_numpy(data.labels)
    ckpt = tmp_path / "stack.pt"
    ckpt.write_bytes(b"not a checkpoint")
    seed_everything(0)
    ms = [data.variants["atscnn"].build() for _ in range(3)]
    losses = fit_stacked(ms, x, y, train, data.settings, seeds=[0, 1, 2], checkpoint=ckpt)
    assert len(losses) == 3 and all(len(v) == 1 for v in losses)


@pytest.mark.parametrize(
    "epochs, overrides",
    [(2, {}), (3, {"lr": 1e-2, "lr_step": 1, "lr_gamma": 0.3})],
    ids=["constant-lr", "step-schedule"],
)
def test_stacked_single_member_equals_fit(epochs, overrides):
    data = tiny_data(n_subjects=3, clips=4, epochs=epochs)
    settings = replace(data.settings, **overrides)
    x, y = torch.from_numpy(data.inputs["uvs"]), torch.from_numpy(data.labels)
    idx = torch.tensor(data.folds[0].train_indices)
    seed_everything(5)
    a = data.variants["atscnn"].build()
    seed_everything(5)
    b = data.variants["atscnn"].build()
    ref = fit(a, x[idx], y[idx], settings, seed=5)
    got = fit_stacked([b], x, y, [idx], settings, seeds=[5])[0]
    np.testing.assert_allclose(got, ref, atol=1e-5)


def test_auto_stacks_where_measured_faster():
    auto = TrainSettings(batch_size=8)
    small = ModelSpec("atscnn", {"input_size": 32, "head": [16]}).build()
    assert stacks_folds(auto, small, (3, 32, 32)) is True
    # STSTNet at its published batch of 256: 3.7e6 convolution outputs a step, slower stacked
    ststnet = ModelSpec("ststnet", {}).build()
    assert conv_outputs_per_clip(ststnet, (3, 28, 28)) == 16 * 30 * 30
    assert stacks_folds(replace(auto, batch_size=256), ststnet, (3, 28, 28)) is False
    assert stacks_folds(replace(auto, batch_size=4), ststnet, (3, 28, 28)) is True
    # Off-ApexNet at batch 64 and Dual-Inception at batch 3: faster stacked
    apex = ModelSpec("off_apexnet", {}).build()
    assert stacks_folds(replace(auto, batch_size=64), apex, (2, 28, 28)) is True
    dual = ModelSpec("dual_inception", {}).build()
    assert stacks_folds(replace(auto, batch_size=3), dual, (2, 28, 28)) is True
    # ATSCNN at 128x128, batch 64: bound by its convolutions
    atscnn = ModelSpec("atscnn", {}).build()
    assert stacks_folds(replace(auto, batch_size=64), atscnn, (3, 128, 128)) is False
    assert stacks_folds(replace(auto, batch_size=256, fold_batching="always"), ststnet, (3, 28, 28))
    assert stacks_folds(replace(auto, fold_batching="never"), small, (3, 32, 32)) is False
    # held-out curves are recorded by the one-fold loop
    assert stacks_folds(replace(auto, eval_every=1), small, (3, 32, 32)) is False


def test_plan_units_one_stack_per_variant_all_seeds():
    data = tiny_data(
        n_subjects=3, clips=4, epochs=1, variants=("atscnn", "atscnn_uv"), fold_batching="always"
    )
    jobs = make_jobs(data.variants, data.folds, [0, 1])
    units = plan_units(jobs, data)
    assert [len(u) for u in units] == [6, 6]
    assert all(len({j.variant for j in u}) == 1 for u in units)


def test_never_runs_one_fold_a_unit():
    data = tiny_data(n_subjects=3, clips=4, epochs=1, fold_batching="never")
    jobs = make_jobs(data.variants, data.folds, [0, 1])
    assert plan_units(jobs, data) == [[j] for j in jobs]


def test_bad_fold_batching():
    with pytest.raises(ConfigError, match="training.fold_batching must be one of"):
        TrainSettings(fold_batching="sometimes")


def test_unstackable_layers_run_one_fold_a_unit():
    from microexpr.training.stacking import UnsupportedModelError, stack_models, supports_stacking

    assert supports_stacking(nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.5))) is True
    assert supports_stacking(nn.Sequential(nn.Linear(2, 2), nn.PReLU())) is False
    assert supports_stacking(nn.Sequential(nn.Conv2d(1, 1, 3), nn.Dropout2d(0.5))) is False
    with pytest.raises(UnsupportedModelError, match="PReLU holds parameters"):
        stack_models([nn.Sequential(nn.Linear(2, 2), nn.PReLU())])


def test_stacked_records_the_same_test_curve():
    # the per-epoch held-out classes (the test-picked column's only input) are
    # recorded by the stacked path as by the one-fold loop, without changing training
    data = _uneven_data("atscnn", {"input_size": 32, "head": [16]}, batch_size=8, epochs=3)
    curved = replace(data, settings=replace(data.settings, record_test_curve=True))
    jobs = make_jobs(data.variants, data.folds, [0])
    sequential = [run_fold(job, curved) for job in jobs]
    stacked = run_folds_stacked(jobs, curved, threads=1)
    plain = run_folds_stacked(jobs, data, threads=1)
    _assert_equivalent(stacked, sequential)
    for s, b, p in zip(sequential, stacked, plain, strict=True):
        assert len(b.test_curve) == 3 and b.test_curve[-1] == b.y_pred
        assert b.test_curve == s.test_curve
        assert (b.y_pred, b.proba, b.losses) == (p.y_pred, p.proba, p.losses)
        assert p.test_curve == []
