"""GPU check: the full 200-epoch LOSO of ATSCNN (128x128) on the synthetic set,
folds trained one after another vs all folds batched as one computation.

The one prepared script for a lent GPU machine (issue: experiment engine).
It generates the synthetic dataset and its features on the CPU, then runs the
paper's protocol (200 epochs, batch 64, Adam 1e-4, last epoch evaluated)
twice on ``--device`` with ``training.fold_batching`` = ``never`` and
``always``, and prints and writes a table of wall time, pooled UF1/UAR and the
agreement of the two runs' predictions to ``benchmarks/results/gpu_protocol.md``.

    python benchmarks/gpu_protocol.py --device cuda --work /tmp/gpu-run

``--epochs`` and ``--subjects`` shrink it for a smoke test on the CPU.
"""

from __future__ import annotations

import argparse
import dataclasses
import platform
import shutil
import time
from pathlib import Path

import pandas as pd
import torch

from microexpr._markdown import markdown_table
from microexpr.config import ExperimentConfig
from microexpr.experiment import load_features, run_loso
from microexpr.synthetic import SyntheticSettings, generate_synthetic_dataset


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--subjects", type=int, default=12)
    parser.add_argument("--work", type=Path, default=Path("runs/gpu-protocol"))
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args(argv)

    data = args.work / "synthetic-data"
    generate_synthetic_dataset(data, SyntheticSettings(n_subjects=args.subjects), progress=False)
    base = ExperimentConfig.from_dict(
        {
            "name": "gpu-protocol",
            "data": {"dataset": "synthetic", "root": str(data)},
            "model": {"name": "atscnn"},
            "training": {
                "epochs": args.epochs,
                "batch_size": 64,
                "lr": 1e-4,
                "device": args.device,
            },
            "cache_dir": str(args.work / "cache"),
        }
    )
    load_features(base, progress=False)  # fill the feature cache: the runs below time training only
    rows, runs = [], {}
    for mode in ("never", "always"):
        config = base.replace(training=dataclasses.replace(base.training, fold_batching=mode))
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()
        start = time.perf_counter()
        folder = args.work / f"run-{mode}"
        shutil.rmtree(folder, ignore_errors=True)  # time every fold, never reuse old results
        run = run_loso(config, folder, progress=False)
        seconds = time.perf_counter() - start
        runs[mode] = run
        m = run.metrics["variants"]["atscnn"]
        label = "sequential folds" if mode == "never" else "all folds batched"
        rows.append((label, seconds, m["uf1"], m["uar"]))
    same = sum(
        a == b
        for ra, rb in zip(runs["never"].results, runs["always"].results, strict=True)
        for a, b in zip(ra.y_pred, rb.y_pred, strict=True)
    )
    total = sum(len(r.y_pred) for r in runs["never"].results)
    on_gpu = args.device.startswith("cuda")
    device = torch.cuda.get_device_name() if on_gpu else platform.processor() or "cpu"
    lines = [
        "# ATSCNN full LOSO on the synthetic set: sequential vs batched folds",
        "",
        f"Device: {device}; {args.subjects} subjects, {args.epochs} epochs, batch 64, "
        "Adam 1e-4, 128x128, last epoch evaluated (feature extraction excluded: cached first).",
        "",
        markdown_table(
            pd.DataFrame(
                [
                    (
                        label,
                        f"{seconds:.1f}",
                        f"{seconds / rows[0][1]:.2f}",
                        f"{uf1:.4f}",
                        f"{uar:.4f}",
                    )
                    for label, seconds, uf1, uar in rows
                ],
                columns=["method", "wall time (s)", "ratio to sequential", "UF1", "UAR"],
            )
        ).rstrip("\n"),
    ]
    lines += ["", f"Same predicted class for {same}/{total} clips."]
    text = "\n".join(lines) + "\n"
    print(text)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "gpu_protocol.md").write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
