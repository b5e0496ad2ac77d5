"""The LOSO experiment engine: a grid of (variant, fold, seed) jobs.

:func:`run_grid` turns model variants x LOSO folds x seeds into
:class:`FoldJob` s, runs the ones not yet finished through an executor and
persists each :class:`FoldResult` atomically in the run folder as it
arrives, so a killed run resumes where it stopped. A fold trains a freshly
seeded model on every subject but the held-out one for a fixed number of
epochs and predicts the held-out clips with the model of the last epoch.

Executors (:mod:`microexpr.training.executors`: ``serial``, ``local``,
``ray``) run :func:`plan_units`' units of work: one fold each, or on a GPU
all folds of a (variant, seed) trained at once (:mod:`.batched`), which are
saved together when the unit finishes.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch

from microexpr._io import atomic_write_text
from microexpr.data.loso import Fold
from microexpr.errors import RunFolderError
from microexpr.models import ModelSpec  # re-exported: it was defined here
from microexpr.preprocess.cache import settings_key
from microexpr.training.trainer import (
    TrainSettings,
    check_device,
    fit,
    predict_proba,
    seed_everything,
)

__all__ = [
    "EngineData",
    "Executor",
    "FoldJob",
    "FoldResult",
    "ModelSpec",
    "RunStore",
    "SerialExecutor",
    "make_jobs",
    "plan_units",
    "run_fold",
    "run_grid",
    "run_unit",
]


@dataclass(frozen=True)
class FoldJob:
    """One unit of work: train ``variant`` on fold ``fold`` with ``seed``."""

    variant: str
    fold: int
    test_subject: str
    seed: int

    @property
    def name(self) -> str:
        """File-safe name of the job."""
        subject = self.test_subject.replace("/", "-")
        return f"{self.variant}/seed{self.seed}/fold{self.fold:03d}_{subject}"


@dataclass
class FoldResult:
    """Predictions of one fold job on its held-out subject.

    ``y_pred`` and ``proba`` come from the last epoch's model, the only
    honest figure. ``test_curve`` (filled only with
    ``TrainSettings.record_test_curve``) holds, for every epoch in order,
    the predicted class of each test clip in ``test_indices`` order:
    ``test_curve[e]`` is after epoch ``e + 1``, so ``test_curve[-1] ==
    y_pred``. It is read only by :mod:`microexpr.evaluation.inflation`
    (the inflated "test-picked" figure); empty when not recorded, and fold
    files written before it existed load with it empty.
    """

    variant: str
    fold: int
    test_subject: str
    seed: int
    test_indices: list[int]
    y_true: list[int]
    y_pred: list[int]
    proba: list[list[float]]
    losses: list[float]
    seconds: float
    test_losses: list[float] = field(default_factory=list)
    test_curve: list[list[int]] = field(default_factory=list)

    def to_json(self) -> str:
        """Serialise to JSON."""
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> FoldResult:
        """Parse :meth:`to_json` output."""
        return cls(**json.loads(text))


@dataclass
class EngineData:
    """Everything a fold job needs, shipped once to each worker.

    Attributes
    ----------
    inputs : dict of str to ndarray
        Model inputs per input kind, each (n_clips, C, H, W) float32.
    labels : ndarray of shape (n_clips,)
    folds : list of Fold
    variants : dict of str to ModelSpec
    settings : TrainSettings
    checkpoint_dir : str, optional
        Where stacked training keeps its resumable state (set by
        :func:`run_grid` to ``<run>/folds/stacked``).
    checkpoint_seconds : float
        Stacked training saves its state at the end of an epoch when this
        many seconds have passed since the last save (and after the last).
    """

    inputs: dict[str, np.ndarray]
    labels: np.ndarray
    folds: list[Fold]
    variants: dict[str, ModelSpec]
    settings: TrainSettings
    checkpoint_dir: str | None = None
    checkpoint_seconds: float = 60.0


def run_fold(job: FoldJob, data: EngineData, *, threads: int | None = None) -> FoldResult:
    """Train and test one fold job; deterministic for a given job and data.

    The model is built after seeding with ``job.seed`` so its initial weights
    depend only on the seed, then trained on the fold's training clips for
    the configured epochs; the last epoch's model predicts the test clips.
    """
    if threads is not None:
        torch.set_num_threads(threads)
    start = time.perf_counter()
    spec = data.variants[job.variant]
    fold = data.folds[job.fold]
    seed_everything(job.seed)
    model = spec.build()
    kind = spec.input_kind()
    # index in NumPy: copies, so arrays read-only in Ray's object store are fine
    train, test = list(fold.train_indices), list(fold.test_indices)
    x, y = data.inputs[kind], data.labels
    x_test = torch.from_numpy(x[test])
    test_losses: list[float] = []
    test_curve: list[list[int]] = []
    every = data.settings.eval_every
    curve = data.settings.record_test_curve

    def held_out_loss(epoch: int, _loss: float) -> None:
        # eval mode draws no random numbers and updates no statistics: training is unchanged
        loss_due = bool(every) and (epoch + 1) % every == 0
        if loss_due or curve:
            p = predict_proba(model, x_test, device=data.settings.device)
            if loss_due:
                nll = -np.log(np.clip(p[np.arange(len(test)), y[test]], 1e-12, None)).mean()
                test_losses.append(round(float(nll), 6))
            if curve:
                test_curve.append(p.argmax(axis=1).tolist())
            model.train()

    losses = fit(
        model,
        torch.from_numpy(x[train]),
        torch.from_numpy(y[train]),
        data.settings,
        seed=job.seed,
        on_epoch=held_out_loss if every or curve else None,
    )
    proba = predict_proba(model, x_test, device=data.settings.device)
    return FoldResult(
        variant=job.variant,
        fold=job.fold,
        test_subject=job.test_subject,
        seed=job.seed,
        test_indices=list(fold.test_indices),
        y_true=data.labels[list(fold.test_indices)].tolist(),
        y_pred=proba.argmax(axis=1).tolist(),
        proba=np.round(proba.astype(np.float64), 6).tolist(),
        losses=[round(v, 6) for v in losses],
        seconds=round(time.perf_counter() - start, 3),
        test_losses=test_losses,
        test_curve=test_curve,
    )


def plan_units(jobs: Sequence[FoldJob], data: EngineData) -> list[list[FoldJob]]:
    """Group jobs into units of work, each run by :func:`run_unit`.

    One job per unit, unless ``data.settings`` stacks folds
    (:meth:`TrainSettings.batches_folds`): then all folds and seeds of a
    variant form one unit, trained together as one stacked program
    (:mod:`.batched`), split into chunks of members when the stack would
    not fit in memory (or into ``max_batched_folds``), with one line saying
    so. Variants whose layers cannot be stacked exactly run one job a unit.
    """
    if not data.settings.batches_folds():
        return [[job] for job in jobs]
    from microexpr.training.batched import stacks_folds

    groups: dict[str, list[FoldJob]] = {}
    units: list[list[FoldJob]] = []
    for job in jobs:
        groups.setdefault(job.variant, []).append(job)
    for variant, group in groups.items():
        spec = data.variants[variant]
        model = spec.build()
        shape = data.inputs[spec.input_kind()].shape[1:]
        if not stacks_folds(data.settings, model, shape):
            units += [[job] for job in group]
            continue
        size = _chunk_size(model, spec, data, len(group))
        units += [group[i : i + size] for i in range(0, len(group), size)]
    return units


def _chunk_size(model: torch.nn.Module, spec: ModelSpec, data: EngineData, n_jobs: int) -> int:
    from microexpr.training.batched import stack_chunk_size

    size = n_jobs
    if data.settings.max_batched_folds:
        size = min(size, data.settings.max_batched_folds)
    shape = data.inputs[spec.input_kind()].shape[1:]
    fits = stack_chunk_size(model, shape, data.settings.batch_size)
    if fits < size:
        print(
            f"{spec.name}: {n_jobs} fold jobs do not fit in memory as one stack; "
            f"training them in stacks of {fits}",
            flush=True,
        )
        size = fits
    return max(1, size)


def run_unit(
    unit: Sequence[FoldJob], data: EngineData, *, threads: int | None = None
) -> list[FoldResult]:
    """Run a unit of :func:`plan_units`: one fold, or several stacked folds."""
    if len(unit) == 1:
        return [run_fold(unit[0], data, threads=threads)]
    return run_folds_stacked(unit, data, threads=threads)


def run_folds_stacked(
    jobs: Sequence[FoldJob], data: EngineData, *, threads: int | None = None
) -> list[FoldResult]:
    """Train the fold jobs ``jobs`` of one variant as one stacked program.

    Each member is seeded and built as :func:`run_fold` builds it, so the
    results equal :func:`run_fold`'s up to floating-point rounding. The
    stacked state is checkpointed under ``data.checkpoint_dir`` (when set),
    so a killed unit resumes from its last checkpoint.
    """
    from microexpr.training.batched import fit_stacked, predict_stacked

    if len({job.variant for job in jobs}) != 1:
        raise ValueError("stacked folds must all belong to one variant")
    if threads is not None:
        torch.set_num_threads(threads)
    start = time.perf_counter()
    spec = data.variants[jobs[0].variant]
    models, rng_states = [], []
    for job in jobs:
        seed_everything(job.seed)  # the initial weights and dropout stream of run_fold
        models.append(spec.build())
        rng_states.append(torch.get_rng_state())
    x = torch.tensor(data.inputs[spec.input_kind()])  # a copy: the array may be read-only
    y = torch.tensor(data.labels)
    train = [torch.tensor(data.folds[job.fold].train_indices, dtype=torch.long) for job in jobs]
    checkpoint = None
    if data.checkpoint_dir is not None:
        name = f"{jobs[0].variant}_{settings_key([j.name for j in jobs])}.pt"
        checkpoint = Path(data.checkpoint_dir) / name
    tests = [list(data.folds[job.fold].test_indices) for job in jobs]
    curves: list[list[list[int]]] = [[] for _ in jobs]

    def record_curve(_epoch: int, net: torch.nn.Module, _losses: list[float]) -> None:
        # TrainSettings.record_test_curve: the held-out classes after every epoch,
        # for the test-picked figure only (evaluation.inflation); never used to train
        for f, p in enumerate(predict_stacked(net, x, tests)):
            curves[f].append(p.argmax(axis=1).tolist())

    losses = fit_stacked(
        models,
        x,
        y,
        train,
        data.settings,
        seeds=[job.seed for job in jobs],
        rng_states=rng_states,
        checkpoint=checkpoint,
        checkpoint_seconds=data.checkpoint_seconds,
        on_epoch=record_curve if data.settings.record_test_curve else None,
        extra_state=curves,
    )
    seconds = (time.perf_counter() - start) / len(jobs)
    results = []
    for job, model, fold_losses, curve in zip(jobs, models, losses, curves, strict=True):
        fold = data.folds[job.fold]
        test = list(fold.test_indices)
        proba = predict_proba(model, x[test], device=data.settings.device)
        results.append(
            FoldResult(
                variant=job.variant,
                fold=job.fold,
                test_subject=job.test_subject,
                seed=job.seed,
                test_indices=test,
                y_true=data.labels[test].tolist(),
                y_pred=proba.argmax(axis=1).tolist(),
                proba=np.round(proba.astype(np.float64), 6).tolist(),
                losses=[round(v, 6) for v in fold_losses],
                seconds=round(seconds, 3),
                test_curve=curve,
            )
        )
    if checkpoint is not None:
        checkpoint.unlink(missing_ok=True)
    return results


class Executor(Protocol):
    """Runs fold jobs and yields their results as they finish (any order).

    ``workdir`` is the run folder, where an executor may keep scratch files
    (Ray's session folder); None when the run is not persisted.
    """

    def run(
        self, jobs: Sequence[FoldJob], data: EngineData, *, workdir: Path | None = None
    ) -> Iterator[FoldResult]:
        """Run ``jobs`` against ``data``."""
        ...


class SerialExecutor:
    """Runs jobs one after another in this process.

    Parameters
    ----------
    threads : int
        Torch intra-op threads of each job (default 1, as every executor:
        the thread count changes the rounding of sums, and so the results).
    """

    def __init__(self, threads: int = 1) -> None:
        self.threads = threads

    def run(
        self, jobs: Sequence[FoldJob], data: EngineData, *, workdir: Path | None = None
    ) -> Iterator[FoldResult]:
        """Run ``jobs`` in order."""
        if jobs:
            check_device(data.settings.device)
        for unit in plan_units(jobs, data):
            yield from run_unit(unit, data, threads=self.threads)


def make_jobs(
    variants: Iterable[str], folds: Sequence[Fold], seeds: Iterable[int]
) -> list[FoldJob]:
    """The grid variants x seeds x folds, in that order."""
    return [FoldJob(v, f.index, f.test_subject, s) for v in variants for s in seeds for f in folds]


class RunStore:
    """A run folder holding one JSON file per finished fold job.

    ``run.json`` records a fingerprint of the experiment; a folder written by
    another experiment is refused unless ``fresh`` is set, in which case its
    fold results are deleted.
    """

    def __init__(
        self, folder: str | Path, fingerprint: Mapping[str, Any], *, fresh: bool = False
    ) -> None:
        self.folder = Path(folder)
        self.fingerprint = settings_key(fingerprint)
        manifest = self.folder / "run.json"
        if manifest.exists():
            try:
                old = json.loads(manifest.read_text()).get("fingerprint")
            except (OSError, ValueError) as exc:
                raise RunFolderError(f"{manifest}: unreadable run manifest ({exc})") from exc
            if old != self.fingerprint:
                if not fresh:
                    raise RunFolderError(
                        f"{self.folder} holds results of another configuration "
                        f"(fingerprint {old}, this run {self.fingerprint}); "
                        "use another --out folder or pass --fresh to discard them"
                    )
                self.clear()
        elif fresh:
            self.clear()
        self.folder.mkdir(parents=True, exist_ok=True)
        # left by a process killed while writing a result, or while its workers ran
        for stale in [
            *(self.folder / "folds").glob("**/.*.tmp"),
            *self.folder.glob(".engine-data-*"),
        ]:
            stale.unlink(missing_ok=True)
        atomic_write_text(
            manifest,
            json.dumps(
                {"fingerprint": self.fingerprint, "experiment": dict(fingerprint)},
                indent=2,
                default=str,
            ),
        )

    def clear(self) -> None:
        """Delete stored fold results."""
        folds = self.folder / "folds"
        if folds.exists():
            for path in sorted(folds.rglob("*.json"), reverse=True):
                path.unlink()
            for path in folds.glob("stacked/*.pt"):
                path.unlink()

    def path(self, job: FoldJob) -> Path:
        """File of a job's result."""
        return self.folder / "folds" / f"{job.name}.json"

    def load(self, job: FoldJob) -> FoldResult | None:
        """The stored result of ``job``, or None."""
        path = self.path(job)
        if not path.is_file():
            return None
        try:
            return FoldResult.from_json(path.read_text())
        except (OSError, ValueError, TypeError):
            return None

    def save(self, result: FoldResult) -> None:
        """Persist a result atomically."""
        job = FoldJob(result.variant, result.fold, result.test_subject, result.seed)
        atomic_write_text(self.path(job), result.to_json())


def run_grid(
    jobs: Sequence[FoldJob],
    data: EngineData,
    executor: Executor,
    *,
    store: RunStore | None = None,
    on_result: Callable[[FoldResult, int, int], None] | None = None,
) -> list[FoldResult]:
    """Run the jobs not yet in ``store`` and return all results in job order.

    Parameters
    ----------
    jobs : sequence of FoldJob
    data : EngineData
    executor : Executor
    store : RunStore, optional
        Where finished results are persisted and looked up (resume).
    on_result : callable, optional
        Called as ``on_result(result, done, total)`` for each finished job,
        including those loaded from the store.

    Returns
    -------
    list of FoldResult
        In the order of ``jobs``.
    """
    results: dict[FoldJob, FoldResult] = {}
    pending = []
    for job in jobs:
        cached = store.load(job) if store is not None else None
        if cached is not None:
            results[job] = cached
            if on_result is not None:
                on_result(cached, len(results), len(jobs))
        else:
            pending.append(job)
    workdir = store.folder if store is not None else None
    if store is not None and data.checkpoint_dir is None:
        data.checkpoint_dir = str(store.folder / "folds" / "stacked")
    for result in executor.run(pending, data, workdir=workdir):
        job = FoldJob(result.variant, result.fold, result.test_subject, result.seed)
        if store is not None:
            store.save(result)
        results[job] = result
        if on_result is not None:
            on_result(result, len(results), len(jobs))
    return [results[job] for job in jobs]
