"""The training loop: cross-entropy, Adam, fixed epochs, last epoch kept.

The model after the last epoch is the one evaluated. Nothing here ever looks
at held-out data during training, so no epoch or checkpoint can be chosen on
the test subject (the error that inflates several published figures).
Data are tensors in memory and batches are index slices: no DataLoader, no
per-sample Python work.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from microexpr._validation import check_positive_float, check_positive_int

__all__ = ["TrainSettings", "fit", "predict_proba", "seed_everything"]


@dataclass(frozen=True)
class TrainSettings:
    """Optimisation settings (the paper's by default).

    Attributes
    ----------
    epochs : int
        Passes over the training set (200 in the paper).
    batch_size : int
        Mini-batch size (64).
    lr : float
        Adam learning rate (1e-4).
    weight_decay : float
        Adam weight decay (0).
    device : str
        ``cpu``, ``cuda`` or ``cuda:N``.
    """

    epochs: int = 200
    batch_size: int = 64
    lr: float = 1e-4
    weight_decay: float = 0.0
    device: str = "cpu"

    def __post_init__(self) -> None:
        check_positive_int(self.epochs, "training.epochs")
        check_positive_int(self.batch_size, "training.batch_size")
        check_positive_float(self.lr, "training.lr")
        if self.weight_decay < 0:
            raise ValueError(f"training.weight_decay == {self.weight_decay}, must be >= 0")


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and torch; return a torch Generator for shuffling."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def fit(
    model: nn.Module,
    inputs: torch.Tensor,
    labels: torch.Tensor,
    settings: TrainSettings,
    *,
    seed: int = 0,
    on_epoch: Callable[[int, float], None] | None = None,
) -> list[float]:
    """Train ``model`` in place for ``settings.epochs`` epochs.

    Parameters
    ----------
    model : nn.Module
        Freshly initialised model (initialise it after seeding for
        reproducibility).
    inputs : Tensor of shape (n_clips, C, H, W)
    labels : Tensor of shape (n_clips,), int64
    settings : TrainSettings
    seed : int
        Seeds the shuffling order.
    on_epoch : callable, optional
        Called as ``on_epoch(epoch, mean_loss)`` after each epoch.

    Returns
    -------
    list of float
        Mean training loss of each epoch.
    """
    if len(inputs) != len(labels):
        raise ValueError(f"inputs ({len(inputs)}) and labels ({len(labels)}) differ in length")
    if len(inputs) == 0:
        raise ValueError("no training clips")
    device = torch.device(settings.device)
    model.to(device).train()
    x = inputs.to(device)
    y = labels.to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=settings.lr, weight_decay=settings.weight_decay)
    criterion = nn.CrossEntropyLoss()
    generator = torch.Generator().manual_seed(seed)
    n = len(x)
    losses: list[float] = []
    for epoch in range(settings.epochs):
        order = torch.randperm(n, generator=generator).to(device)
        total = torch.zeros((), device=device)
        for start, stop in _batch_bounds(n, settings.batch_size):
            idx = order[start:stop]
            optimizer.zero_grad(set_to_none=True)
            loss = criterion(model(x[idx]), y[idx])
            loss.backward()
            optimizer.step()
            total += loss.detach() * len(idx)
        mean = float(total) / n
        losses.append(mean)
        if on_epoch is not None:
            on_epoch(epoch, mean)
    return losses


def _batch_bounds(n: int, batch_size: int) -> list[tuple[int, int]]:
    bounds = [(s, min(s + batch_size, n)) for s in range(0, n, batch_size)]
    if len(bounds) > 1 and bounds[-1][1] - bounds[-1][0] == 1:
        # a one-clip batch has no batch statistics for BatchNorm: merge it into the previous one
        bounds[-2:] = [(bounds[-2][0], n)]
    return bounds


@torch.no_grad()
def predict_proba(
    model: nn.Module, inputs: torch.Tensor, *, batch_size: int = 256, device: str = "cpu"
) -> np.ndarray:
    """Class probabilities in eval mode, shape (n_clips, n_classes)."""
    model.to(device).eval()
    out = []
    for start in range(0, len(inputs), batch_size):
        logits = model(inputs[start : start + batch_size].to(device))
        out.append(torch.softmax(logits, dim=1).cpu())
    if not out:
        return np.zeros((0, 0), dtype=np.float32)
    return torch.cat(out).numpy().astype(np.float32)
