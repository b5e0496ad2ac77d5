import numpy as np
import pytest
from tiny_grid import tiny_data

from microexpr.errors import ConfigError
from microexpr.training.batched import run_folds_batched, supports_batching
from microexpr.training.engine import make_jobs, plan_units, run_fold, run_grid
from microexpr.training.executors import make_executor
from microexpr.training.trainer import TrainSettings


@pytest.fixture(scope="module")
def grid():
    # subjects of 5, 6, 7, 8 clips: folds differ in size, number and size of batches
    data = tiny_data(n_subjects=4, clips=5, epochs=3, fold_batching="always")
    return data, make_jobs(data.variants, data.folds, [0])


def test_batched_folds_equal_sequential_folds(grid):
    data, jobs = grid
    sequential = [run_fold(job, data, threads=1) for job in jobs]
    batched = run_folds_batched(jobs, data, threads=1)
    for s, b in zip(sequential, batched, strict=True):
        assert (b.variant, b.fold, b.test_indices) == (s.variant, s.fold, s.test_indices)
        assert b.y_pred == s.y_pred
        np.testing.assert_allclose(b.losses, s.losses, atol=1e-4)
        np.testing.assert_allclose(b.proba, s.proba, atol=2e-3)


def test_batched_subset_of_folds_equals_sequential(grid):
    # max_batched_folds=2 on 4 folds: two units, and folds whose last batch differ in size
    data, jobs = grid
    from dataclasses import replace

    data2 = replace(data, settings=replace(data.settings, max_batched_folds=3))
    units = plan_units(jobs, data2)
    assert [len(u) for u in units] == [3, 1]
    results = run_grid(jobs, data2, make_executor("serial"))
    for job, res in zip(jobs, results, strict=True):
        ref = run_fold(job, data)
        assert res.y_pred == ref.y_pred
        np.testing.assert_allclose(res.proba, ref.proba, atol=2e-3)


def test_plan_units_sequential_on_cpu_by_default():
    data = tiny_data(n_subjects=3, clips=4, epochs=1)
    jobs = make_jobs(data.variants, data.folds, [0, 1])
    assert data.settings.batches_folds() is False
    assert plan_units(jobs, data) == [[j] for j in jobs]


def test_plan_units_groups_by_variant_and_seed():
    data = tiny_data(
        n_subjects=3, clips=4, epochs=1, variants=("atscnn", "atscnn_uv"), fold_batching="always"
    )
    jobs = make_jobs(data.variants, data.folds, [0, 1])
    units = plan_units(jobs, data)
    assert len(units) == 4
    assert all(len({(j.variant, j.seed) for j in u}) == 1 and len(u) == 3 for u in units)


def test_cuda_batches_by_default():
    assert TrainSettings(device="cuda").batches_folds() is True
    assert TrainSettings(device="cuda", fold_batching="never").batches_folds() is False


def test_bad_fold_batching():
    with pytest.raises(ConfigError, match="training.fold_batching must be one of"):
        TrainSettings(fold_batching="sometimes")


def test_dropout_models_are_not_batched():
    from torch import nn

    assert supports_batching(nn.Sequential(nn.Linear(2, 2))) is True
    assert supports_batching(nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.5))) is False
