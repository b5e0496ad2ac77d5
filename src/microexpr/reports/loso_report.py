"""Tables, metrics and the Markdown report of a LOSO run.

Files written to the run folder: ``predictions.csv`` (one row per clip,
variant and seed: subject, clip, true, predicted, probabilities),
``metrics.json`` (pooled UF1/UAR per variant, the per-fold mean labelled as
such, per-dataset and per-subject breakdowns, confusion matrices, skipped
clips), ``report.md``, ``confusion_matrix.png`` and ``training_curve.png``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from microexpr._io import atomic_write_text
from microexpr.data.records import ClipIssue, ClipRecord
from microexpr.evaluation.scoring import score_predictions
from microexpr.reports.markdown import markdown_table
from microexpr.reports.plots import plot_confusion_matrix, plot_training_curves
from microexpr.training.engine import FoldResult

__all__ = ["predictions_table", "render_markdown", "summarize", "write_loso_report"]


def predictions_table(
    results: Sequence[FoldResult], records: Sequence[ClipRecord], class_names: Sequence[str]
) -> pd.DataFrame:
    """One row per test clip per (variant, seed), with class probabilities.

    ``label`` and ``prediction`` are class indices (what is scored); ``true``
    and ``predicted`` their names, for people reading predictions.csv.
    """
    rows = []
    for res in results:
        for idx, t, p, prob in zip(
            res.test_indices, res.y_true, res.y_pred, res.proba, strict=True
        ):
            rec = records[idx]
            row: dict[str, Any] = {
                "variant": res.variant,
                "seed": res.seed,
                "fold": res.test_subject,
                "dataset": rec.dataset,
                "subject": rec.subject,
                "clip": rec.clip,
                "label": int(t),
                "prediction": int(p),
                "true": class_names[t],
                "predicted": class_names[p],
            }
            row.update(
                {f"p_{c}": round(float(v), 6) for c, v in zip(class_names, prob, strict=True)}
            )
            rows.append(row)
    return pd.DataFrame(rows)


def summarize(
    table: pd.DataFrame,
    class_names: Sequence[str],
    *,
    main_variant: str,
    average: str = "pooled",
) -> dict[str, Any]:
    """Metrics of every variant from a predictions table.

    See :func:`~microexpr.evaluation.scoring.score_predictions`: for each
    variant and seed the pooled UF1/UAR (MEGC2019 rule), the per-fold mean
    (labelled, not comparable with pooled figures), per-dataset and
    per-subject scores and the confusion matrix; across seeds the mean and
    standard deviation of the pooled and per-fold figures and of accuracy.
    """
    return score_predictions(
        table, class_names=class_names, main_variant=main_variant, average=average
    )


def _pm(block: Mapping[str, float], key: str, n_seeds: int) -> str:
    text = f"{block[key]:.4f}"
    return text + (f" ± {block[f'{key}_std']:.4f}" if n_seeds > 1 else "")


def variants_table(summary: Mapping[str, Any]) -> pd.DataFrame:
    """One row per variant: pooled and per-fold-mean UF1/UAR and accuracy (mean ± std)."""
    rows = []
    for name, v in summary["variants"].items():
        n = v["n_seeds"]
        pooled, per_fold = v["pooled"], v["per_fold_mean"]
        rows.append(
            {
                "variant": name,
                "UF1 (pooled)": _pm(pooled, "uf1", n),
                "UAR (pooled)": _pm(pooled, "uar", n),
                "accuracy": _pm(pooled, "accuracy", n),
                "UF1 (per-fold mean)": _pm(per_fold, "uf1", n),
                "UAR (per-fold mean)": _pm(per_fold, "uar", n),
                "seeds": n,
            }
        )
    return pd.DataFrame(rows)


def _first_seed(summary: Mapping[str, Any], variant: str) -> tuple[str, dict[str, Any]]:
    seed, run = next(iter(summary["variants"][variant]["seeds"].items()))
    return seed, run


def render_markdown(
    summary: Mapping[str, Any],
    *,
    title: str,
    config: Mapping[str, Any],
    issues: Sequence[ClipIssue],
    n_clips: int,
    n_subjects: int,
    seconds: float,
) -> str:
    """The run's report as Markdown."""
    main = summary["main_variant"]
    names = list(summary["class_names"])
    n_seeds = summary["variants"][main]["n_seeds"]
    lead = (
        "pooled over all folds (TP/FP/FN summed over folds first, the MEGC2019 rule)"
        if summary["average"] == "pooled"
        else "the mean of per-fold scores (evaluation.average: per_fold; not the MEGC2019 rule)"
    )
    lines = [
        f"# {title}",
        "",
        f"{n_clips} clips, {n_subjects} subjects, leave-one-subject-out; "
        f"model `{main}`, {config['training']['epochs']} epochs, the last epoch's model "
        f"evaluated (no test-fold picking). Wall time {seconds:.0f} s.",
        "",
        f"The headline UF1 and UAR are {lead}. Both figures are given below, labelled; "
        "they are not comparable with each other."
        + (
            f" With {n_seeds} seeds each figure is the mean ± standard deviation over seeds."
            if n_seeds > 1
            else ""
        ),
        "",
        markdown_table(variants_table(summary)),
    ]
    seed, first = _first_seed(summary, main)
    which = f"`{main}`" + (f", seed {seed}" if n_seeds > 1 else "")
    per_dataset = pd.DataFrame(
        [
            {"dataset": d, "clips": s["n"], "UF1": s["uf1"], "UAR": s["uar"]}
            for d, s in first["per_dataset"].items()
        ]
    )
    lines += [f"## Per dataset ({which}, pooled)", "", markdown_table(per_dataset, floatfmt=".4f")]
    matrix = pd.DataFrame(first["confusion_matrix"], columns=names)
    matrix.insert(0, "true \\ predicted", names)
    lines += [
        f"## Confusion matrix ({which}; rows true, columns predicted)",
        "",
        markdown_table(matrix),
    ]
    per_subject = pd.DataFrame(
        [
            {
                "subject": s,
                "clips": sc["n"],
                "accuracy": sc["accuracy"],
                "UF1": sc["uf1"],
                "UAR": sc["uar"],
            }
            for s, sc in first["per_subject"].items()
        ]
    )
    lines += [
        f"## Per subject ({which}; UF1/UAR over the classes each subject shows)",
        "",
        markdown_table(per_subject, floatfmt=".3f"),
    ]
    lines += [f"## Skipped clips ({len(issues)})", ""]
    lines += [f"- {issue}" for issue in issues] or ["None."]
    lines += [
        "",
        "![confusion matrix](confusion_matrix.png)",
        "",
        "![training loss](training_curve.png)",
        "",
    ]
    return "\n".join(lines)


def write_loso_report(
    out: str | Path,
    *,
    results: Sequence[FoldResult],
    records: Sequence[ClipRecord],
    issues: Sequence[ClipIssue],
    class_names: Sequence[str],
    config: Mapping[str, Any],
    main_variant: str,
    seconds: float,
    title: str = "LOSO evaluation",
    average: str = "pooled",
) -> dict[str, Any]:
    """Write predictions.csv, metrics.json, report.md and the PNG plots; return the metrics."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    table = predictions_table(results, records, class_names)
    atomic_write_text(out / "predictions.csv", table.to_csv(index=False))
    summary = summarize(table, class_names, main_variant=main_variant, average=average)
    summary["n_clips"] = len(records)
    summary["n_subjects"] = len({r.group for r in records})
    summary["skipped"] = [
        {"clip": i.key, "reason": i.reason, "stage": i.stage, "path": i.path} for i in issues
    ]
    summary["seconds"] = round(seconds, 1)
    atomic_write_text(out / "metrics.json", json.dumps(summary, indent=2))
    _, main_first = _first_seed(summary, main_variant)
    plot_confusion_matrix(
        np.array(main_first["confusion_matrix"]),
        class_names,
        out / "confusion_matrix.png",
        title=f"{main_variant}: confusion matrix (all folds pooled)",
    )
    curves: dict[str, list[list[float]]] = {}
    for res in results:
        curves.setdefault(res.variant, []).append(res.losses)
    plot_training_curves(curves, out / "training_curve.png")
    text = render_markdown(
        summary,
        title=title,
        config=config,
        issues=issues,
        n_clips=summary["n_clips"],
        n_subjects=summary["n_subjects"],
        seconds=seconds,
    )
    atomic_write_text(out / "report.md", text)
    return summary
