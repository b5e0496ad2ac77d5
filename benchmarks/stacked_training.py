"""Stacked (all folds as one program) against sequential LOSO training on the CPU.

For each model at its published protocol on the MEGC2019 flow images
(`whole/`, 442 clips, 68 subjects), in one run on this machine:

- sequential: the engine's one-fold path (`run_fold`, as `fold_batching: never`)
  on the first ``--seq-folds`` folds for ``--epochs`` epochs;
- stacked: `run_folds_stacked` (as `fold_batching: always`) on the first
  ``--stack-folds`` folds for the same epochs;

each in its own process with one torch thread (peak RSS read from that
process), then both projected to all 68 folds at the published epochs on 2
cores (two worker processes, each running half the folds: the engine's
``local`` executor). The ratio column is sequential / stacked time (above 1:
stacking is faster). The equivalence of the two paths (identical classes,
probabilities within 2e-3) is checked on the folds both ran.

    MICROEXPR_MEGC2019=/path/to/megc2019 python benchmarks/stacked_training.py
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shlex
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

OUT = Path(__file__).resolve().parent / "results"
FOLDS = 68

#: (label, model, options, batch, lr, published epochs, source)
CASES = [
    (
        "STSTNet",
        "ststnet",
        {},
        256,
        5e-5,
        500,
        "STSTNet paper (FG 2019) and main.m: Adam 5e-5, batch 256, 500 epochs",
    ),
    (
        "Off-ApexNet",
        "off_apexnet",
        {},
        64,
        1e-4,
        3000,
        "Off-TANet authors' re-implementation (train_arg.py): Adam 1e-4, batch 64, 3000 epochs",
    ),
    (
        "Dual-Inception",
        "dual_inception",
        {},
        3,
        1e-4,
        40,
        "Zhou et al. 2019 / authors' Keras code: Adam 1e-4, batch 3, 40 epochs",
    ),
    (
        "ATSCNN 128x128 (flows resized)",
        "atscnn",
        {},
        64,
        1e-4,
        200,
        "ATSCNN paper: Adam 1e-4, batch 64, 200 epochs",
    ),
    (
        "ATSCNN 28x28",
        "atscnn",
        {"input_size": 28},
        64,
        1e-4,
        200,
        "ATSCNN paper's settings at the flow set's own size",
    ),
]


def _measure(payload: dict) -> dict:
    """Run in a child process: train, time, report predictions and peak RSS."""
    import torch

    from microexpr.data.flow_images import read_megc2019_whole
    from microexpr.data.loso import loso_folds
    from microexpr.models import get_model_cfg
    from microexpr.preprocess.flow_image_inputs import flow_images_for_model
    from microexpr.training.engine import (
        EngineData,
        ModelSpec,
        make_jobs,
        run_fold,
        run_folds_stacked,
    )
    from microexpr.training.trainer import TrainSettings

    torch.set_num_threads(1)
    flows = read_megc2019_whole(payload["root"])
    name, options = payload["model"], payload["options"]
    x = flow_images_for_model(flows.images, get_model_cfg(name, **options), model=name)
    spec = ModelSpec(name, options)
    data = EngineData(
        inputs={spec.input_kind(): x},
        labels=flows.labels,
        folds=loso_folds(flows.subjects.tolist()),
        variants={name: spec},
        settings=TrainSettings(
            epochs=payload["epochs"], batch_size=payload["batch"], lr=payload["lr"]
        ),
    )
    jobs = make_jobs([name], data.folds, [0])[: payload["folds"]]
    start = time.perf_counter()
    if payload["mode"] == "sequential":
        results = [run_fold(job, data, threads=1) for job in jobs]
    else:
        results = run_folds_stacked(jobs, data, threads=1)
    seconds = time.perf_counter() - start
    return {
        "seconds": seconds,
        "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2,
        "pred": [r.y_pred for r in results],
        "proba": [r.proba for r in results],
    }


def _child(payload: dict) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--child", json.dumps(payload)],
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        tail = (out.stderr or out.stdout).strip().splitlines()[-1:] or ["(no output)"]
        return {"error": f"exit {out.returncode}: {tail[0]}"}
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=os.environ.get("MICROEXPR_MEGC2019"))
    parser.add_argument(
        "--epochs",
        type=int,
        default=4,
        help="epochs of the long run (default 4); a 1-epoch run is subtracted",
    )
    parser.add_argument("--seq-folds", type=int, default=4)
    parser.add_argument("--stack-folds", type=int, default=17)
    parser.add_argument("--models", default="", help="comma-separated labels' model names")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(_measure(json.loads(args.child))))
        return 0
    if not args.data or not Path(args.data).is_dir():
        print("set MICROEXPR_MEGC2019 (or --data) to the MEGC2019 flow set", file=sys.stderr)
        return 2
    wanted = {m for m in args.models.split(",") if m}
    rows = []
    args.out.mkdir(parents=True, exist_ok=True)
    command = "python benchmarks/stacked_training.py " + shlex.join(sys.argv[1:])
    for label, name, options, batch, lr, epochs, source in CASES:
        if wanted and name not in wanted and label not in wanted:
            continue
        base = {
            "root": args.data,
            "model": name,
            "options": options,
            "batch": batch,
            "lr": lr,
            "epochs": args.epochs,
        }
        seq = _child({**base, "mode": "sequential", "folds": args.seq_folds})
        stk = _child({**base, "mode": "stacked", "folds": args.stack_folds})
        # the same with one epoch: the difference is the steady-state cost of
        # the extra epochs, without building, warming up and predicting
        seq1 = _child({**base, "epochs": 1, "mode": "sequential", "folds": args.seq_folds})
        stk1 = _child({**base, "epochs": 1, "mode": "stacked", "folds": args.stack_folds})
        row = {"model": label, "protocol": source, "epochs_measured": f"{args.epochs} - 1"}
        for tag, res, one, n in (
            ("seq", seq, seq1, args.seq_folds),
            ("stack", stk, stk1, args.stack_folds),
        ):
            if "error" in res or "error" in one:
                row[f"{tag}_error"] = res.get("error") or one.get("error")
                continue
            # seconds per fold-epoch, one thread, steady state
            per = (res["seconds"] - one["seconds"]) / n / (args.epochs - 1)
            row[f"{tag}_s_per_fold_epoch"] = round(per, 4)
            row[f"{tag}_peak_rss_gb"] = round(res["peak_rss_gb"], 2)
            # all folds at the published epochs, two processes on the two cores
            row[f"{tag}_projected_min"] = round(per * FOLDS * epochs / 2 / 60, 1)
        if "error" not in seq and "error" not in stk:
            row["speedup"] = round(row["seq_s_per_fold_epoch"] / row["stack_s_per_fold_epoch"], 2)
            n = min(args.seq_folds, args.stack_folds)
            row["same_classes"] = seq["pred"][:n] == stk["pred"][:n]
            row["max_proba_diff"] = float(
                max(
                    np.abs(np.array(a) - np.array(b)).max()
                    for a, b in zip(seq["proba"][:n], stk["proba"][:n], strict=True)
                )
            )
        rows.append(row)
        print(json.dumps(row), flush=True)
        _write(rows, args, command)
    return 0


def _write(rows: list[dict], args: argparse.Namespace, command: str) -> None:
    from microexpr._markdown import markdown_table

    frame = pd.DataFrame(rows)
    frame.to_csv(args.out / "stacked_training.csv", index=False)
    load = os.getloadavg()
    text = "\n".join(
        [
            "# Stacked against sequential LOSO training (CPU)",
            "",
            f"Command: `{command}`  ",
            f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
            f"1-min load average at the end: {load[0]:.1f} (other work shared the machine).  ",
            f"Measured: {args.epochs} epochs minus 1 epoch (steady state: building, warm-up and "
            f"prediction subtracted); sequential on {args.seq_folds} folds, stacked on "
            f"{args.stack_folds} folds, one torch thread each, in separate processes. Projected: "
            f"{FOLDS} folds at the published epochs on 2 cores "
            "(two processes, half the folds each).",
            "speedup = sequential / stacked time per fold-epoch (above 1: stacking is faster).",
            "",
            markdown_table(frame),
            "",
        ]
    )
    (args.out / "stacked_training.md").write_text(text)


if __name__ == "__main__":
    raise SystemExit(main())
