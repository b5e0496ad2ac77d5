"""``microexpr spot``: the MEGC spotting protocol over a long-video dataset you own."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from microexpr.cli._common import handle_errors

__all__ = ["spot"]


@handle_errors
def spot(
    dataset: Annotated[
        str,
        typer.Option(
            help="casme_sq (CAS(ME)^2: CAS(ME)^2code_final.xlsx + rawpic/, 30 fps) or samm_lv "
            "(SAMM Long Videos: SAMM_LongVideos_V3_Release.xlsx + SAMM_longvideos/, 200 fps)."
        ),
    ],
    root: Annotated[Path, typer.Option(help="Your copy of the dataset (the sheet's folder).")],
    out: Annotated[
        Path, typer.Option(help="Output folder: report.md, metrics.json, per_video.csv.")
    ] = Path("runs/spot"),
    sheet: Annotated[
        Optional[Path],  # noqa: UP045 (typer needs Optional on 3.10)
        typer.Option(help="The annotation sheet, if not in --root under its published name."),
    ] = None,
    videos: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(help="Only videos whose SUBJECT/VIDEO matches this pattern (s15/*, 006/*)."),
    ] = None,
    limit: Annotated[
        Optional[int],  # noqa: UP045
        typer.Option(help="At most this many videos (a quick first look)."),
    ] = None,
    iou: Annotated[float, typer.Option(help="Temporal IoU of a hit (MEGC: 0.5).")] = 0.5,
    min_face: Annotated[
        int, typer.Option(help="Narrowest face analysed, in pixels (smaller: no face).")
    ] = 48,
    check: Annotated[
        bool,
        typer.Option(
            "--check",
            help="Only read the sheet and the folders: print the videos, intervals and every "
            "bad row, spot nothing.",
        ),
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No line per video.")] = False,
) -> None:
    """Spot micro- and macro-expressions over every long video of CAS(ME)^2 or SAMM Long Videos.

    Reads the dataset's annotation sheet (bad rows are listed with their
    reason and skipped), runs the spotter over the frames of every video,
    and scores with the MEGC rule: a spotted interval is a hit when its
    temporal IoU with an annotated interval of the same kind is >= 0.5, one
    to one. Micro predictions are the spotter's candidates (at most 0.5 s),
    macro predictions the movements it rejects as not micro-expressions. Writes report.md,
    metrics.json, per_video.csv and intervals.csv to --out: F1, precision
    and recall for micro, macro and overall intervals, pooled over videos
    and per video. --check reads the copy and lists its problems without
    spotting (a long run's first step).
    """
    if check:
        from microexpr.data import load_long_videos

        data = load_long_videos(dataset, root, sheet=sheet)
        counts = data.counts()
        skipped = sum(1 for i in data.issues if i.reason.endswith("skipped"))
        for issue in data.issues:
            typer.echo(f"[{issue.kind}] {issue.key}: {issue.reason}")
        typer.echo(
            f"{data.title} at {root}: {counts['videos']} videos with frames, "
            f"{counts['micro']} micro and {counts['macro']} macro intervals usable; "
            f"{skipped} sheet rows skipped, {len(data.issues) - skipped} kept with a remark"
        )
        return
    from microexpr.inference.spot_dataset import spot_long_videos

    run = spot_long_videos(
        dataset,
        root,
        out,
        sheet=sheet,
        videos=videos,
        limit=limit,
        iou=iou,
        min_face=min_face,
        progress=not quiet,
    )
    parts = []
    for kind in ("micro", "macro", "overall"):
        c = run.pooled(kind)
        # undefined (nothing annotated, nothing spotted) is not a score of 0
        f1 = f"{c.f1():.3f}" if c.n_true + c.n_pred else "undefined"
        parts.append(f"{kind} F1 {f1} ({c.tp}/{c.n_true} hit, {c.n_pred} spotted)")
    typer.echo(
        f"videos: {len(run.videos)}; " + "; ".join(parts) + f"; report: {run.out / 'report.md'}"
    )
