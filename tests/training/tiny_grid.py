"""A tiny engine grid on random tensors, for the engine tests.

Run as a script (``python tiny_grid.py RUN_FOLDER [EPOCHS]``) it runs the
grid serially into RUN_FOLDER through a RunStore and prints the final
metrics as JSON: the resume test kills it mid-run and starts it again.
"""

from __future__ import annotations

import json
import os
import sys

import numpy as np

from microexpr.data.loso import loso_folds
from microexpr.evaluation.metrics import pooled_scores
from microexpr.training.engine import EngineData, ModelSpec, RunStore, make_jobs, run_grid
from microexpr.training.executors import make_executor
from microexpr.training.trainer import TrainSettings

TINY = {"input_size": 32, "head": [16]}


class DyingSpec(ModelSpec):
    """A model spec whose build kills the process, as the kernel's OOM killer would."""

    def build(self):
        os._exit(137)


class DieOnLoad:
    """Kills the process that unpickles it: a worker that dies while starting."""

    def __reduce__(self):
        return (os._exit, (3,))


def tiny_data(
    n_subjects: int = 4,
    clips: int = 6,
    epochs: int = 2,
    variants: tuple[str, ...] = ("atscnn",),
    **settings: object,
) -> EngineData:
    """``n_subjects`` x ``clips`` random (3, 32, 32) clips; subject s has s extra clips."""
    rng = np.random.default_rng(0)
    groups = [f"s{i}" for i in range(n_subjects) for _ in range(clips + i)]
    n = len(groups)
    uvs = rng.normal(size=(n, 3, 32, 32)).astype(np.float32)
    inputs = {"uvs": uvs, "uv": uvs[:, :2].copy(), "apex": uvs[:, :1].copy()}
    labels = rng.integers(0, 3, n).astype(np.int64)
    return EngineData(
        inputs=inputs,
        labels=labels,
        folds=loso_folds(groups),
        variants={v: ModelSpec(v, dict(TINY)) for v in variants},
        settings=TrainSettings(epochs=epochs, batch_size=8, lr=1e-3, **settings),  # type: ignore[arg-type]
    )


def metrics(results) -> dict[str, float]:
    t = np.concatenate([r.y_true for r in results])
    p = np.concatenate([r.y_pred for r in results])
    return pooled_scores(t, p, labels=[0, 1, 2])


def main(folder: str, epochs: int, n_subjects: int, fold_batching: str = "never") -> None:
    data = tiny_data(n_subjects=n_subjects, epochs=epochs, fold_batching=fold_batching)
    data.checkpoint_seconds = 0.0  # stacked training: a checkpoint after every epoch
    store = RunStore(
        folder, {"tiny": True, "epochs": epochs, "subjects": n_subjects, "stack": fold_batching}
    )
    jobs = make_jobs(data.variants, data.folds, [0])
    results = run_grid(jobs, data, make_executor("serial"), store=store)
    print(json.dumps({"metrics": metrics(results), "proba": [r.proba for r in results]}))


if __name__ == "__main__":
    main(
        sys.argv[1],
        int(sys.argv[2]) if len(sys.argv) > 2 else 2,
        int(sys.argv[3]) if len(sys.argv) > 3 else 4,
        sys.argv[4] if len(sys.argv) > 4 else "never",
    )
