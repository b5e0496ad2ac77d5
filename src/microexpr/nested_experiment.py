"""A nested-LOSO experiment end to end: config ``nested`` section -> choices -> report.

``microexpr loso --config FILE`` runs this when the config has a ``nested``
section::

    nested:
      grid:                     # every combination is a candidate
        epochs: [200, 500]
        lr: [5.0e-5, 1.0e-4]
        augment: [none, hflip]
      inner_groups: null        # null: inner LOSO; k: k groups of training subjects
      subjects: null            # outer folds to run (default: all)

For each outer subject, :func:`microexpr.training.nested.nested_loso` chooses a
candidate by pooled UF1 over an inner LOSO on the other subjects only, trains
it on all of them and predicts the held-out subject. The run folder gets the
usual LOSO report (``predictions.csv``, ``metrics.json``, ``report.md``...)
plus ``selection.csv`` (each outer fold's choice and every candidate's inner
UF1) and ``nested/<subject>.json`` per finished outer fold (a killed run
resumes from them when run again with the same config).
"""

from __future__ import annotations

import functools
import json
import sys
import time
from pathlib import Path
from typing import TextIO

import numpy as np
import pandas as pd

from microexpr._experiment import LosoRun, load_features
from microexpr._io import atomic_write_text
from microexpr.config import ExperimentConfig
from microexpr.errors import MicroexprError, RunFolderError
from microexpr.preprocess.cache import settings_key
from microexpr.preprocess.flow_image_inputs import (
    FlowImageFeatures,
    flow_image_scale,
    flow_images_for_model,
)
from microexpr.reports.loso_report import write_loso_report
from microexpr.training.engine import FoldResult
from microexpr.training.nested import (
    NestedFold,
    Selection,
    candidate_grid,
    nested_loso,
    torch_fit_predict,
)
from microexpr.training.trainer import stable_training_dict

__all__ = ["run_nested_loso"]


def _fold_file(out: Path, subject: str) -> Path:
    return out / "nested" / f"{subject.replace('/', '-')}.json"


def run_nested_loso(
    config: ExperimentConfig,
    out: str | Path,
    *,
    progress: bool = True,
    stream: TextIO | None = None,
) -> LosoRun:
    """Run the nested-LOSO experiment of ``config`` and write its report.

    Parameters
    ----------
    config : ExperimentConfig
        With a ``nested`` section (``grid``, optionally ``inner_groups``,
        ``subjects``); ``model`` and ``training`` give the base candidate.
    out : str or Path
        Run folder.
    progress : bool
        A line per finished outer fold.
    stream : TextIO, optional
        Where those lines go (stderr by default).

    Returns
    -------
    LosoRun
    """
    import yaml

    stream = stream or sys.stderr
    out = Path(out)
    start = time.perf_counter()
    nested = config.nested
    features = load_features(config, progress=progress)
    records = features.records
    spec = config.model
    cfg = spec.cfg()  # read without building the model
    x_test = None
    u_max = None
    if isinstance(features, FlowImageFeatures):
        x = features.model_inputs(cfg, model=spec.name)
        if features.test_images is not None:
            x_test = flow_images_for_model(features.test_images, cfg, model=spec.name)
        u_max = 255.0 * flow_image_scale(cfg)
    else:
        x = features.inputs(str(cfg["inputs"]))
    y = features.labels
    groups = features.groups
    candidates = candidate_grid(
        spec.name, config.training, nested["grid"], model_options=spec.options
    )
    subjects = sorted(set(groups))
    if nested.get("subjects"):
        wanted = [str(s) for s in nested["subjects"]]
        subjects = [s for s in subjects if s in wanted or s.split("/", 1)[-1] in wanted]
    if len(set(groups)) < 3:
        raise MicroexprError(f"nested LOSO needs at least 3 subjects, found {len(set(groups))}")
    seed = config.evaluation.seeds[0]
    out.mkdir(parents=True, exist_ok=True)
    plain = config.to_dict()
    plain["training"] = stable_training_dict(plain["training"])  # older folders keep resuming
    key = settings_key({"config": plain, "clips": [r.key for r in records]})
    manifest = out / "run.json"
    if manifest.is_file() and json.loads(manifest.read_text()).get("fingerprint") != key:
        raise RunFolderError(
            f"{out} holds a run of another configuration; use another --out folder"
        )
    atomic_write_text(manifest, json.dumps({"fingerprint": key, "kind": "nested"}, indent=2))
    atomic_write_text(out / "config.yaml", yaml.safe_dump(config.to_dict(), sort_keys=False))
    fit_predict = functools.partial(torch_fit_predict, u_max=u_max)

    done: dict[str, NestedFold] = {}
    for subject in subjects:
        f = _fold_file(out, subject)
        if f.is_file():
            raw = json.loads(f.read_text())
            done[subject] = NestedFold(
                raw["test_subject"],
                raw["test_indices"],
                Selection(**{**raw["selection"], "subjects": tuple(raw["selection"]["subjects"])}),
                raw["candidate"],
                np.asarray(raw["proba"], dtype=np.float32),
            )

    def save(fold: NestedFold) -> None:
        sel = fold.selection
        atomic_write_text(
            _fold_file(out, fold.test_subject),
            json.dumps(
                {
                    "test_subject": fold.test_subject,
                    "test_indices": fold.test_indices,
                    "selection": {**sel.__dict__, "subjects": list(sel.subjects)},
                    "candidate": fold.candidate,
                    "proba": np.round(fold.proba.astype(np.float64), 6).tolist(),
                }
            ),
        )
        if progress:
            print(
                f"[nested] outer fold {fold.test_subject}: chose {fold.candidate} "
                f"(inner UF1 {max(sel.scores):.3f} over {sel.inner_folds} inner folds), "
                f"{time.perf_counter() - start:.0f} s",
                file=stream,
                flush=True,
            )

    todo = [s for s in subjects if s not in done]
    for fold in nested_loso(
        x,
        y,
        groups,
        candidates,
        fit_predict=fit_predict,
        seed=seed,
        labels=list(range(len(records[0].class_names))),
        inner_groups=nested.get("inner_groups"),
        subjects=todo,
        x_test=x_test,
        on_fold=save,
    ):
        done[fold.test_subject] = fold
    folds = [done[s] for s in subjects]
    results = [
        FoldResult(
            variant=spec.name,
            fold=i,
            test_subject=fold.test_subject,
            seed=seed,
            test_indices=fold.test_indices,
            y_true=y[fold.test_indices].tolist(),
            y_pred=fold.proba.argmax(axis=1).tolist(),
            proba=np.round(fold.proba.astype(np.float64), 6).tolist(),
            losses=[float("nan")],
            seconds=0.0,
        )
        for i, fold in enumerate(folds)
    ]
    names = [c.name for c in candidates]
    selection = pd.DataFrame(
        [
            {
                "test_subject": f.test_subject,
                "chosen": f.candidate,
                **{
                    f"inner_uf1[{n}]": round(s, 4)
                    for n, s in zip(names, f.selection.scores, strict=True)
                },
            }
            for f in folds
        ]
    )
    selection.to_csv(out / "selection.csv", index=False)
    metrics = write_loso_report(
        out,
        results=results,
        records=records,
        issues=features.issues,
        class_names=records[0].class_names,
        config=config.to_dict(),
        main_variant=spec.name,
        seconds=time.perf_counter() - start,
        title=f"{config.name}: nested leave-one-subject-out evaluation "
        f"({len(candidates)} candidates chosen per outer fold by inner LOSO)",
    )
    chosen = selection["chosen"].value_counts()
    report = out / "report.md"
    report.write_text(
        report.read_text()
        + "\n## Nested selection\n\n"
        + f"{len(candidates)} candidates (grid {dict(nested['grid'])}); for each outer fold the "
        + "candidate with the best pooled UF1 over an inner LOSO on the other subjects only "
        + "(the epochs above are the base setting, not the chosen one). Times chosen:\n\n"
        + "".join(f"- `{name}`: {count}\n" for name, count in chosen.items())
        + "\nEvery candidate's inner UF1 per outer fold: `selection.csv`.\n"
    )
    return LosoRun(out, metrics, results, features)
