"""Experiments end to end: clips -> features -> LOSO engine -> report files.

This module ties the layers together for the command line and for scripts:
:func:`load_clips` reads the configured dataset or protocol,
:func:`load_features` preprocesses it through the feature cache,
:func:`run_loso` runs leave-one-subject-out training and evaluation of every
configured variant and writes the report, :func:`run_demo` does all of
it on the built-in synthetic dataset, and :func:`train_final_model` trains
the model used for prediction on every clip (the LOSO results of the same
configuration are the figures to quote for it).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, TextIO

import torch
from tqdm.auto import tqdm

from microexpr import __version__
from microexpr._experiment import LosoRun, check_output_folder, load_clips, load_features
from microexpr._io import atomic_write_text
from microexpr._validation import check_choice
from microexpr.config import ExperimentConfig
from microexpr.data.loso import loso_folds
from microexpr.data.records import ClipRecord
from microexpr.errors import MicroexprError
from microexpr.preprocess.flow_image_inputs import (
    FlowImageFeatures,
)
from microexpr.reports.loso_report import write_loso_report
from microexpr.reports.plots import plot_training_curves
from microexpr.training.engine import EngineData, FoldResult, RunStore, make_jobs, run_grid
from microexpr.training.executors import EXECUTORS, make_executor
from microexpr.training.trainer import (
    check_device,
    fit,
    seed_everything,
    stable_training_dict,
)

__all__ = [
    "DEMO_FOLDERS",
    "LosoRun",
    "TrainResult",
    "demo_config",
    "load_clips",
    "check_output_folder",
    "load_features",
    "resolve_executor",
    "run_demo",
    "run_loso",
    "train_final_model",
]


def _fingerprint(config: ExperimentConfig, records: list[ClipRecord]) -> dict[str, Any]:
    cfg = config.to_dict()
    cfg["training"].pop("device", None)  # the device does not change what is computed
    cfg["training"] = stable_training_dict(cfg["training"])
    if not cfg["training"].get("record_test_curve"):
        # off, folders written before the option existed keep resuming
        cfg["training"].pop("record_test_curve", None)
    return {"config": cfg, "clips": [r.key for r in records]}


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def resolve_executor(executor: str, config: ExperimentConfig) -> str:
    """The executor ``auto`` stands for: ``local`` on a CPU with several cores, else ``serial``.

    Fold jobs on the CPU run one torch thread each on every executor, so the
    results are the same whichever is chosen; ``local`` runs one job per
    core. On a GPU the folds share the device in one process (``serial``,
    which batches them).
    """
    if executor != "auto":
        return executor
    on_cpu = config.training.device == "cpu"
    return "local" if on_cpu and _cores() > 1 else "serial"


def run_loso(
    config: ExperimentConfig,
    out: str | Path,
    *,
    executor: str = "auto",
    executor_options: dict[str, Any] | None = None,
    fresh: bool = False,
    progress: bool = True,
    stream: TextIO | None = None,
) -> LosoRun:
    """Leave-one-subject-out training and evaluation of every configured variant.

    Parameters
    ----------
    config : ExperimentConfig
    out : str or Path
        Run folder: config.yaml, fold results (for resume), report files.
    executor : str
        ``auto`` (default: see :func:`resolve_executor`), ``serial``,
        ``local`` or ``ray``.
    executor_options : dict, optional
        Options of the executor (workers, address...).
    fresh : bool
        Discard results in ``out`` written by another configuration.
    progress : bool
        Progress bar while preprocessing and a line per finished fold.
    stream : TextIO, optional
        Where fold lines go (stderr by default).

    Returns
    -------
    LosoRun
    """
    import yaml

    if config.nested:  # every choice by an inner LOSO on the training subjects
        from microexpr.nested_experiment import run_nested_loso

        return run_nested_loso(config, out, progress=progress, stream=stream)
    stream = stream or sys.stderr
    out = Path(out)
    start = time.perf_counter()
    # built first: a bad executor option or an unreachable Ray address fails before preprocessing
    engine_executor = make_executor(resolve_executor(executor, config), **(executor_options or {}))
    check_device(config.training.device)
    check_output_folder(out)
    features = load_features(config, progress=progress)
    records = features.records
    class_names = records[0].class_names
    folds = loso_folds(features.groups)
    if len(folds) < 2:
        raise MicroexprError(f"LOSO needs at least 2 subjects, found {len(folds)}")
    variants = config.all_variants()
    if isinstance(features, FlowImageFeatures):
        # inputs arranged as each model's default_cfg declares; loso_test shifts test rows
        cfgs = {name: spec.cfg() for name, spec in variants.items()}
        inputs, labels, folds = features.engine_arrays(cfgs)
    else:
        kinds = {spec.input_kind() for spec in variants.values()}
        inputs, labels = {k: features.inputs(k) for k in sorted(kinds)}, features.labels
    data = EngineData(
        inputs=inputs,
        labels=labels,
        folds=folds,
        variants=variants,
        settings=config.training,
    )
    store = RunStore(out, _fingerprint(config, records), fresh=fresh)
    atomic_write_text(out / "config.yaml", yaml.safe_dump(config.to_dict(), sort_keys=False))
    jobs = make_jobs(variants, folds, config.evaluation.seeds)

    def on_result(res: FoldResult, done: int, total: int) -> None:
        if not progress:
            return
        correct = sum(int(t == p) for t, p in zip(res.y_true, res.y_pred, strict=True))
        print(
            f"[{done:>3}/{total}] {res.variant} seed {res.seed} fold {res.test_subject}: "
            f"{correct}/{len(res.y_true)} correct, "
            f"final loss {res.losses[-1]:.3f}, {res.seconds:.1f} s",
            file=stream,
            flush=True,
        )

    results = run_grid(jobs, data, engine_executor, store=store, on_result=on_result)
    if isinstance(features, FlowImageFeatures):
        results = [
            replace(r, test_indices=[features.clip_index(i) for i in r.test_indices])
            for r in results
        ]
    seconds = time.perf_counter() - start
    metrics = write_loso_report(
        out,
        results=results,
        records=records,
        issues=features.issues,
        class_names=class_names,
        config=config.to_dict(),
        main_variant=config.model.name,
        seconds=seconds,
        title=f"{config.name}: leave-one-subject-out evaluation",
        average=config.evaluation.average,
    )
    return LosoRun(out, metrics, results, features)


def demo_config(
    data_root: str | Path, *, paper: bool = False, cache_dir: str | Path
) -> ExperimentConfig:
    """The demo's experiment: ATSCNN on the synthetic set.

    The reduced setting (default) trains 25 epochs with batch 16 and Adam
    learning rate 1e-3 so that it runs in a few minutes on 2 cores;
    ``paper=True`` uses the paper's 200 epochs, batch 64, learning rate 1e-4.
    """
    training: dict[str, Any] = (
        {"epochs": 200, "batch_size": 64, "lr": 1e-4}
        if paper
        else {"epochs": 25, "batch_size": 16, "lr": 1e-3}
    )
    return ExperimentConfig.from_dict(
        {
            "name": "demo-paper" if paper else "demo",
            "data": {"dataset": "synthetic", "root": str(data_root)},
            "model": {"name": "atscnn"},
            "training": training,
            "cache_dir": str(cache_dir),
        },
        source="demo",
    )


#: What the demo keeps in its run folder between runs (``fresh`` discards them).
DEMO_FOLDERS = ("synthetic-data", "cache", "folds")


def run_demo(
    out: str | Path,
    *,
    paper: bool = False,
    n_subjects: int | None = None,
    epochs: int | None = None,
    seed: int = 0,
    device: str | None = None,
    executor: str = "auto",
    executor_options: dict[str, Any] | None = None,
    fresh: bool = False,
    progress: bool = True,
) -> LosoRun:
    """Synthesize the built-in dataset, preprocess it, run LOSO with ATSCNN, report.

    Writes the dataset to ``out/synthetic-data``, the feature cache to
    ``out/cache`` and the report files to ``out``. Rerunning reuses all three
    and the finished folds; ``fresh=True`` deletes them first, so the run
    starts from nothing (what a first run on a new machine does).

    The fold jobs run on every core by default (``executor="auto"``); the
    result does not depend on the executor.
    """
    from microexpr.synthetic import SyntheticSettings, generate_synthetic_dataset

    out = check_output_folder(out)
    if fresh:
        for name in DEMO_FOLDERS:
            if (out / name).is_dir():
                shutil.rmtree(out / name)
    settings = SyntheticSettings(seed=seed)
    if n_subjects is not None:
        settings = replace(settings, n_subjects=n_subjects)
    config = demo_config(out / "synthetic-data", paper=paper, cache_dir=out / "cache")
    if epochs is not None or device is not None:
        training = config.training
        config = config.replace(
            training=replace(
                training,
                epochs=training.epochs if epochs is None else epochs,
                device=training.device if device is None else device,
            )
        )
    # checked before the data are rendered: a bad option fails at once
    check_device(config.training.device)
    check_choice(resolve_executor(executor, config), "executor", sorted(EXECUTORS))
    generate_synthetic_dataset(out / "synthetic-data", settings, progress=progress)
    return run_loso(
        config,
        out,
        executor=executor,
        executor_options=executor_options,
        fresh=fresh,
        progress=progress,
    )


# ------------------------------------------------------------ final model


@dataclass(frozen=True)
class TrainResult:
    """Outcome of :func:`train_final_model`.

    Attributes
    ----------
    out : Path
        Model folder.
    checkpoint : Path
        ``checkpoint.pt``.
    n_clips : int
        Clips trained on.
    n_skipped : int
        Clips left out (with reasons in ``skipped.json``).
    class_counts : dict of str to int
    losses : list of float
        Training loss per epoch.
    seconds : float
    """

    out: Path
    checkpoint: Path
    n_clips: int
    n_skipped: int
    class_counts: dict[str, int]
    losses: list[float]
    seconds: float


def train_final_model(
    config: ExperimentConfig,
    out_dir: str | Path,
    *,
    device: str | None = None,
    progress: bool = True,
) -> TrainResult:
    """Train ``config.model`` on all usable clips and save a checkpoint.

    Parameters
    ----------
    config : ExperimentConfig
        Data, preprocessing, model and training settings; the first seed of
        ``config.evaluation.seeds`` seeds the training.
    out_dir : str or Path
        Model folder: ``checkpoint.pt``, ``model.json``,
        ``training_curve.png``, ``skipped.json``.
    device : str, optional
        Overrides ``config.training.device``.
    progress : bool
        Progress bars for preprocessing and epochs.

    Returns
    -------
    TrainResult

    Raises
    ------
    MicroexprError
        If the dataset has no usable clip.
    """
    # the checkpoint format belongs to inference, the layer after this one
    from microexpr.inference.checkpoint import save_checkpoint

    start = time.perf_counter()
    out = check_output_folder(out_dir)
    settings = config.training
    if device is not None:
        settings = replace(settings, device=device)
    check_device(settings.device)
    features = load_features(config, progress=progress)
    if not features.records:
        raise MicroexprError("no usable clips to train on")
    seed = config.evaluation.seeds[0]
    seed_everything(seed)
    model = config.model.build()
    kind = config.model.input_kind()
    representation = None
    if isinstance(features, FlowImageFeatures):
        # a flow-image set: inputs as the model declares; predict rebuilds the representation
        inputs = torch.from_numpy(
            features.model_inputs(config.model.cfg(), model=config.model.name)
        )
        representation = features.representation().to_dict()
    else:
        inputs = torch.from_numpy(features.inputs(kind))
    labels = torch.from_numpy(features.labels)
    class_names = tuple(features.records[0].class_names)
    counts = {name: int((labels == i).sum()) for i, name in enumerate(class_names)}

    bar = tqdm(total=settings.epochs, desc="train", unit="epoch", disable=not progress)

    def on_epoch(epoch: int, loss: float) -> None:
        bar.update(1)
        bar.set_postfix(loss=f"{loss:.3f}")

    try:
        losses = fit(model, inputs, labels, settings, seed=seed, on_epoch=on_epoch)
    finally:
        bar.close()
    model.cpu()
    seconds = time.perf_counter() - start
    extra = {
        "config_name": config.name,
        "data": asdict(config.data),
        "training": asdict(settings),
        "seed": seed,
        "n_clips": len(features.records),
        "class_counts": counts,
        "clips": [r.key for r in features.records],
        "final_loss": losses[-1],
        "losses": losses,
        "seconds": round(seconds, 2),
    }
    if representation is not None:
        extra["input_representation"] = representation
    checkpoint = save_checkpoint(
        out,
        model,
        model_name=config.model.name,
        model_options=config.model.options,
        preprocess=config.preprocess,
        class_names=class_names,
        extra=extra,
    )
    plot_training_curves(
        {config.model.name: [losses]},
        out / "training_curve.png",
        title=f"{config.model.name} on {len(features.records)} clips (microexpr {__version__})",
    )
    skipped = (
        [{"clip": i.key, "reason": i.reason} for i in features.issues] if features.issues else []
    )
    atomic_write_text(out / "skipped.json", json.dumps(skipped, indent=2) + "\n")
    return TrainResult(
        out=out,
        checkpoint=checkpoint,
        n_clips=len(features.records),
        n_skipped=len(features.issues),
        class_counts=counts,
        losses=losses,
        seconds=seconds,
    )
