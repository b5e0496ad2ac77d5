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
from sklearn.metrics import confusion_matrix

from microexpr._io import atomic_write_text
from microexpr.data.records import ClipIssue, ClipRecord
from microexpr.evaluation.metrics import per_fold_mean_scores, pooled_scores
from microexpr.reports.plots import plot_confusion_matrix, plot_training_curves
from microexpr.training.engine import FoldResult

__all__ = ["predictions_table", "summarize", "write_loso_report", "render_markdown"]


def predictions_table(
    results: Sequence[FoldResult], records: Sequence[ClipRecord], class_names: Sequence[str]
) -> pd.DataFrame:
    """One row per test clip per (variant, seed), with class probabilities."""
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
                "true": class_names[t],
                "predicted": class_names[p],
            }
            row.update(
                {f"p_{c}": round(float(v), 6) for c, v in zip(class_names, prob, strict=True)}
            )
            rows.append(row)
    return pd.DataFrame(rows)


def _scores(
    frame: pd.DataFrame, class_names: Sequence[str], *, present_only: bool = False
) -> dict[str, float]:
    idx = {c: i for i, c in enumerate(class_names)}
    t = frame["true"].map(idx).to_numpy()
    p = frame["predicted"].map(idx).to_numpy()
    # one subject rarely shows every class: score it on the classes it shows
    labels = np.unique(np.concatenate([t, p])) if present_only else list(range(len(class_names)))
    return pooled_scores(t, p, labels=labels)


def summarize(
    table: pd.DataFrame, class_names: Sequence[str], *, main_variant: str
) -> dict[str, Any]:
    """Metrics of every variant from a predictions table.

    For each variant and seed: pooled UF1/UAR (MEGC2019 rule), the per-fold
    mean (labelled ``per_fold_mean``, not comparable with pooled figures),
    per-dataset and per-subject pooled scores, and the confusion matrix.
    Across seeds: mean and standard deviation of the pooled scores.
    """
    idx = {c: i for i, c in enumerate(class_names)}
    labels = list(range(len(class_names)))
    out: dict[str, Any] = {
        "main_variant": main_variant,
        "class_names": list(class_names),
        "variants": {},
    }
    for variant, vframe in table.groupby("variant", sort=False):
        seeds: dict[str, Any] = {}
        for seed, frame in vframe.groupby("seed", sort=True):
            t = frame["true"].map(idx).to_numpy()
            p = frame["predicted"].map(idx).to_numpy()
            seeds[str(seed)] = {
                "pooled": pooled_scores(t, p, labels=labels),
                "per_fold_mean": per_fold_mean_scores(
                    t, p, frame["fold"].to_numpy(), labels=labels
                ),
                "per_dataset": {
                    str(d): _scores(g, class_names) for d, g in frame.groupby("dataset", sort=True)
                },
                "per_subject": {
                    str(s): _scores(g, class_names, present_only=True)
                    for s, g in frame.groupby("fold", sort=True)
                },
                "confusion_matrix": confusion_matrix(t, p, labels=labels).tolist(),
            }
        uf1 = np.array([s["pooled"]["uf1"] for s in seeds.values()])
        uar = np.array([s["pooled"]["uar"] for s in seeds.values()])
        out["variants"][str(variant)] = {
            "uf1": float(uf1.mean()),
            "uar": float(uar.mean()),
            "uf1_std": float(uf1.std()),
            "uar_std": float(uar.std()),
            "n_seeds": len(seeds),
            "seeds": seeds,
        }
    return out


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
    lines = [f"# {title}", ""]
    lines += [
        f"{n_clips} clips, {n_subjects} subjects, leave-one-subject-out; "
        f"model `{main}`, {config['training']['epochs']} epochs, the last epoch's model "
        f"evaluated (no test-fold picking). Wall time {seconds:.0f} s.",
        "",
        "UF1 and UAR are pooled over all folds (TP/FP/FN summed over folds first, the MEGC2019 "
        "rule). The per-fold mean is another, non-comparable figure, shown labelled.",
        "",
        "| variant | UF1 (pooled) | UAR (pooled) | accuracy "
        "| UF1 (per-fold mean) | UAR (per-fold mean) | seeds |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, v in summary["variants"].items():
        first = next(iter(v["seeds"].values()))
        pm = first["per_fold_mean"]
        std = f" ± {v['uf1_std']:.4f}" if v["n_seeds"] > 1 else ""
        lines.append(
            f"| {name} | {v['uf1']:.4f}{std} | {v['uar']:.4f} "
            f"| {first['pooled']['accuracy']:.4f} | {pm['uf1']:.4f} | {pm['uar']:.4f} "
            f"| {v['n_seeds']} |"
        )
    first = next(iter(summary["variants"][main]["seeds"].values()))
    lines += [
        "",
        f"## Per dataset (`{main}`)",
        "",
        "| dataset | clips | UF1 | UAR |",
        "| --- | --- | --- | --- |",
    ]
    for d, s in first["per_dataset"].items():
        lines.append(f"| {d} | {s['n']} | {s['uf1']:.4f} | {s['uar']:.4f} |")
    names = summary["class_names"]
    lines += ["", f"## Confusion matrix (`{main}`, rows true, columns predicted)", ""]
    lines.append("| true \\ predicted | " + " | ".join(names) + " |")
    lines.append("| --- |" + " --- |" * len(names))
    for n, row in zip(names, first["confusion_matrix"], strict=True):
        lines.append(f"| {n} | " + " | ".join(str(v) for v in row) + " |")
    lines += [
        "",
        f"## Per subject (`{main}`; UF1/UAR over the classes each subject shows)",
        "",
        "| subject | clips | accuracy | UF1 | UAR |",
        "| --- | --- | --- | --- | --- |",
    ]
    for s, sc in first["per_subject"].items():
        lines.append(
            f"| {s} | {sc['n']} | {sc['accuracy']:.3f} | {sc['uf1']:.3f} | {sc['uar']:.3f} |"
        )
    lines += ["", f"## Skipped clips ({len(issues)})", ""]
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
) -> dict[str, Any]:
    """Write predictions.csv, metrics.json, report.md and the PNG plots; return the metrics."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    table = predictions_table(results, records, class_names)
    atomic_write_text(out / "predictions.csv", table.to_csv(index=False))
    summary = summarize(table, class_names, main_variant=main_variant)
    summary["n_clips"] = len(records)
    summary["n_subjects"] = len({r.group for r in records})
    summary["skipped"] = [
        {"clip": i.key, "reason": i.reason, "stage": i.stage, "path": i.path} for i in issues
    ]
    summary["seconds"] = round(seconds, 1)
    atomic_write_text(out / "metrics.json", json.dumps(summary, indent=2))
    main_first = next(iter(summary["variants"][main_variant]["seeds"].values()))
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
