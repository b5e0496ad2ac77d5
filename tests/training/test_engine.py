import numpy as np
import pytest
from tiny_grid import tiny_data

from microexpr.training.engine import (
    FoldJob,
    FoldResult,
    RunStore,
    SerialExecutor,
    make_jobs,
    run_fold,
    run_grid,
)


@pytest.fixture(scope="module")
def data():
    return tiny_data(n_subjects=3, clips=4, epochs=2)


def test_make_jobs_order_variants_seeds_folds(data):
    jobs = make_jobs(["a", "b"], data.folds, [0, 1])
    assert len(jobs) == 2 * 2 * 3
    assert jobs[0] == FoldJob("a", 0, "s0", 0)
    assert jobs[3] == FoldJob("a", 0, "s0", 1)
    assert jobs[6] == FoldJob("b", 0, "s0", 0)
    assert jobs[0].name == "a/seed0/fold000_s0"


def test_run_fold_deterministic_and_holds_out_subject(data):
    job = make_jobs(data.variants, data.folds, [0])[1]
    a = run_fold(job, data, threads=1)
    b = run_fold(job, data, threads=1)
    assert a.proba == b.proba and a.losses == b.losses
    assert a.test_indices == list(data.folds[1].test_indices)
    assert a.y_true == data.labels[a.test_indices].tolist()
    assert len(a.losses) == data.settings.epochs
    assert np.allclose(np.sum(a.proba, axis=1), 1, atol=1e-5)


def test_run_fold_seed_changes_result(data):
    jobs = make_jobs(data.variants, data.folds, [0, 1])
    assert run_fold(jobs[0], data).proba != run_fold(jobs[3], data).proba


def test_fold_result_json_roundtrip(data):
    res = run_fold(make_jobs(data.variants, data.folds, [0])[0], data)
    assert FoldResult.from_json(res.to_json()) == res


def test_run_grid_returns_job_order_and_saves_each(data, tmp_path):
    jobs = make_jobs(data.variants, data.folds, [0])
    store = RunStore(tmp_path, {"x": 1})

    class Reversed(SerialExecutor):
        def run(self, jobs, data, *, workdir=None):
            assert workdir == tmp_path
            yield from super().run(list(reversed(jobs)), data)

    results = run_grid(jobs, data, Reversed(), store=store)
    assert [(r.fold, r.test_subject) for r in results] == [(j.fold, j.test_subject) for j in jobs]
    assert all(store.load(j) == r for j, r in zip(jobs, results, strict=True))
    manifest = (tmp_path / "run.json").read_text()
    assert '"fingerprint"' in manifest


def test_run_grid_without_store(data):
    jobs = make_jobs(data.variants, data.folds, [0])[:1]
    assert len(run_grid(jobs, data, SerialExecutor())) == 1


def test_eval_every_records_held_out_loss_without_changing_training(data):
    from dataclasses import replace

    job = make_jobs(data.variants, data.folds, [0])[0]
    plain = run_fold(job, data, threads=1)
    curves = run_fold(job, replace(data, settings=replace(data.settings, eval_every=1)), threads=1)
    assert plain.test_losses == []
    assert len(curves.test_losses) == data.settings.epochs
    assert curves.losses == plain.losses and curves.proba == plain.proba


def test_record_test_curve_leaves_the_honest_predictions_identical():
    from dataclasses import replace

    from microexpr.evaluation.inflation import picked_scores
    from microexpr.evaluation.metrics import pooled_scores

    data = tiny_data(n_subjects=3, clips=4, epochs=4)
    jobs = make_jobs(data.variants, data.folds, [0])
    curved = replace(data, settings=replace(data.settings, record_test_curve=True))
    # run_fold here; the stacked path records the same curve (tests/training/test_batched.py)
    plain = [run_fold(j, data, threads=1) for j in jobs]
    recorded = [run_fold(j, curved, threads=1) for j in jobs]
    for a, b in zip(plain, recorded, strict=True):
        assert a.test_curve == []
        assert (a.y_pred, a.proba, a.losses) == (b.y_pred, b.proba, b.losses)
        assert len(b.test_curve) == data.settings.epochs
        assert all(len(row) == len(b.test_indices) for row in b.test_curve)
        assert b.test_curve[-1] == b.y_pred  # the last epoch is the honest model
    t = np.concatenate([r.y_true for r in recorded])
    honest = pooled_scores(t, np.concatenate([r.y_pred for r in recorded]), labels=[0, 1, 2])
    picked = picked_scores(recorded, labels=[0, 1, 2])
    # per fold the best epoch is at least as accurate as the last: pooled accuracy cannot drop;
    # UF1 is not bound to follow, but does on this run
    assert picked["accuracy"] >= honest["accuracy"]
    assert picked["uf1"] >= honest["uf1"] and picked["uar"] >= honest["uar"]


def test_fold_result_without_test_curve_field_still_loads(data):
    import json

    res = run_fold(make_jobs(data.variants, data.folds, [0])[0], data)
    old = json.loads(res.to_json())
    del old["test_curve"], old["test_losses"]  # a fold file written before both existed
    loaded = FoldResult.from_json(json.dumps(old))
    assert loaded.test_curve == [] and loaded.y_pred == res.y_pred
