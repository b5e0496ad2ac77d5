"""report.md of the MEGC spotting protocol on a long-video dataset."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from microexpr._markdown import markdown_table

__all__ = ["render_spotting_markdown"]

_TITLES = {"casme_sq": "CAS(ME)^2", "samm_lv": "SAMM Long Videos"}


def _num(value: Any) -> float:
    return float("nan") if value is None else float(value)


def render_spotting_markdown(metrics: Mapping[str, Any]) -> str:
    """Render the ``metrics.json`` dictionary of a spotting run as report.md.

    Sections: the pooled table (micro, macro, overall: annotated, spotted,
    TP, FP, FN, precision, recall, F1), the per-video table, the problems met
    in the videos and the annotation rows skipped or kept with a remark.
    Undefined scores (nothing annotated and nothing spotted) are left empty.
    """
    title = _TITLES.get(metrics["dataset"], metrics["dataset"])
    pooled = pd.DataFrame(
        [
            {
                "intervals": kind,
                "annotated": s["n_true"],
                "spotted": s["n_pred"],
                "TP": s["tp"],
                "FP": s["fp"],
                "FN": s["fn"],
                "precision": _num(s["precision"]),
                "recall": _num(s["recall"]),
                "F1": _num(s["f1"]),
            }
            for kind, s in metrics["pooled"].items()
        ]
    )
    per_video = pd.DataFrame(
        [
            {
                "video": f"{v['subject']}/{v['video']}",
                "frames": v["frames_read"],
                **{
                    f"{kind} TP/annot./spotted": f"{s['tp']}/{s['n_true']}/{s['n_pred']}"
                    for kind, s in v["scores"].items()
                },
                **{f"{kind} F1": _num(s["f1"]) for kind, s in v["scores"].items()},
            }
            for v in metrics["videos"]
        ]
    )
    frames = sum(v["frames_read"] for v in metrics["videos"])
    lines = [f"# Spotting on {title} (MEGC protocol)", ""]
    if metrics["videos_spotted"] < metrics["videos_selected"]:
        lines += [
            f"**Partial: {metrics['videos_spotted']} of {metrics['videos_selected']} videos "
            "spotted so far.**",
            "",
        ]
    lines += [
        f"Videos: {len(metrics['videos'])}, {frames:,} frames, spotted in "
        f"{metrics['seconds']:.0f} s. A spotted interval is a hit when its temporal IoU with "
        f"an annotated interval of the same kind is >= {metrics['iou_threshold']}, each "
        "interval matched once. Precision, recall and F1 are computed from the counts summed "
        "over all videos; overall sums the micro and macro counts. Micro predictions are the "
        "spotter's candidates (<= max_duration_s); macro predictions are the movements it "
        "rejected as not micro-expressions (a by-product, not a macro-expression spotter). "
        "Empty cells: undefined (nothing "
        "annotated and nothing spotted).",
        "",
        "## Pooled over videos",
        "",
        markdown_table(pooled, floatfmt=".3f"),
        "## Per video",
        "",
        markdown_table(per_video, floatfmt=".3f"),
    ]
    problems = [(v, i) for v in metrics["videos"] for i in v["issues"]]
    lines += ["## Problems met in the videos", ""]
    if problems:
        lines += [f"- {v['subject']}/{v['video']}: {issue}" for v, issue in problems]
    else:
        lines.append("None: every frame of every video was read, with a face.")
    lines += ["", "## Annotation rows skipped or kept with a remark", ""]
    if metrics["sheet_issues"]:
        lines += [f"- [{i['kind']}] {i['key']}: {i['reason']}" for i in metrics["sheet_issues"]]
    else:
        lines.append("None.")
    spotter = ", ".join(f"{k}={v}" for k, v in metrics["spotter"].items())
    lines += ["", "## Spotter settings", "", spotter, ""]
    return "\n".join(lines)
