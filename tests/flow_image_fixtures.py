"""Tiny on-disk flow-image sets in the MEGC2019 layout, for reader and evaluation tests.

``write_flow_set`` writes ``labels.csv``, ``whole/`` and ``loso_test/<fold>/<label>/``
with random 8-bit images; ``write_fold_weights`` saves one state dict per fold.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import torch

#: subject -> (dataset, labels of its clips)
DEFAULT_SUBJECTS: dict[str, tuple[str, list[int]]] = {
    "006": ("samm", [0, 0, 2]),
    "s01": ("smic", [1, 2]),
    "sub01": ("casme2", [0, 1, 1]),
}


def write_flow_set(
    root: Path,
    subjects: dict[str, tuple[str, list[int]]] | None = None,
    *,
    size: int = 28,
    seed: int = 0,
) -> Path:
    rng = np.random.default_rng(seed)
    subjects = subjects or DEFAULT_SUBJECTS
    (root / "whole").mkdir(parents=True, exist_ok=True)
    lines = ["dataset,subject,clip,label,image"]
    for subject, (dataset, labels) in subjects.items():
        for i, label in enumerate(labels):
            clip = f"{subject}_{i}"
            image = f"{subject}_{clip}.png"
            lines.append(f"{dataset},{subject},{clip},{label},{image}")
            img = rng.integers(0, 256, size=(size, size, 3), dtype=np.uint8)
            cv2.imwrite(str(root / "whole" / image), img)
            fold_dir = root / "loso_test" / subject / str(label)
            fold_dir.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(fold_dir / image), img)
    (root / "labels.csv").write_text("\n".join(lines) + "\n")
    return root


def write_fold_weights(weights_dir: Path, folds: list[str], model: torch.nn.Module) -> Path:
    weights_dir.mkdir(parents=True, exist_ok=True)
    for fold in folds:
        torch.save(model.state_dict(), weights_dir / f"{fold}.pth")
    return weights_dir
