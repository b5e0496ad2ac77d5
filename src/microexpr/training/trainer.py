"""The training loop: cross-entropy, Adam (or SGD), fixed epochs, last epoch kept.

The model after the last epoch is the one evaluated. Nothing here ever looks
at held-out data during training, so no epoch or checkpoint can be chosen on
the test subject (the error that inflates several published figures).
Data are tensors in memory and batches are index slices: no DataLoader, no
per-sample Python work.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, fields

import numpy as np
import torch
from torch import nn

from microexpr._validation import check_choice, check_positive_float, check_positive_int
from microexpr.errors import ConfigError

__all__ = [
    "TrainSettings",
    "channels_last_on_cpu",
    "check_device",
    "epoch_lr",
    "fit",
    "make_optimizer",
    "predict_proba",
    "seed_everything",
    "stable_training_dict",
]


#: Settings added after run folders were first written, at their defaults: left out of
#: fingerprints (:func:`stable_training_dict`, ``repr``) so that those folders keep resuming.
LATER_DEFAULTS: dict[str, object] = {
    "optimizer": "adam",
    "momentum": 0.0,
    "lr_step": 0,
    "lr_gamma": 1.0,
}


def stable_training_dict(training: dict[str, object]) -> dict[str, object]:
    """``training`` (a TrainSettings as a dict) without the later settings at their defaults."""
    return {
        k: v for k, v in training.items() if not (k in LATER_DEFAULTS and v == LATER_DEFAULTS[k])
    }


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
        Learning rate (1e-4); the initial one when ``lr_step`` is set.
    weight_decay : float
        L2 weight decay added to the gradient (0), as torch's Adam and SGD do.
    optimizer : str
        ``adam`` (default: the paper's) or ``sgd`` (some baselines' published
        protocols, e.g. Micro-Attention's). SGD trains one fold after another:
        the stacked path implements Adam only.
    momentum : float
        SGD momentum (0); must stay 0 with Adam.
    lr_step : int
        Multiply the learning rate by ``lr_gamma`` every ``lr_step`` epochs
        (torch's ``StepLR``, stepped after each epoch); 0 (default): constant.
    lr_gamma : float
        Factor of the step schedule (1.0: none).
    device : str
        ``cpu``, ``cuda`` or ``cuda:N``.
    fold_batching : str
        ``auto`` (default): train all folds (and seeds) of a model at once as
        one stacked program (:mod:`microexpr.training.batched`) where that
        is faster: on a GPU, and on the CPU for small models with small
        steps (:func:`~microexpr.training.batched.stacks_folds`); otherwise
        one fold after another. ``never`` or ``always`` force either path;
        both give the same results up to floating-point rounding.
    max_batched_folds : int
        At most this many folds in one batched computation (0: all), to
        bound GPU memory.
    eval_every : int
        Record the held-out subject's loss every this many epochs (0, the
        default: never), for learning curves only: it never selects an
        epoch, and it costs a forward pass over the test clips each time.
    record_test_curve : bool
        Record the held-out clips' predicted classes after every epoch
        (``FoldResult.test_curve``; default False). They feed only the
        "test-picked" figure of :mod:`microexpr.evaluation.inflation`, the
        inflated score a run would publish had it kept the best test-subject
        epoch; nothing in training or selection reads them, and the last
        epoch's model is still the one evaluated.
    """

    epochs: int = 200
    batch_size: int = 64
    lr: float = 1e-4
    weight_decay: float = 0.0
    optimizer: str = "adam"
    momentum: float = 0.0
    lr_step: int = 0
    lr_gamma: float = 1.0
    device: str = "cpu"
    fold_batching: str = "auto"
    max_batched_folds: int = 0
    eval_every: int = 0
    record_test_curve: bool = False

    def __post_init__(self) -> None:
        check_positive_int(self.epochs, "training.epochs")
        check_positive_int(self.batch_size, "training.batch_size")
        check_positive_float(self.lr, "training.lr")
        decay = self.weight_decay
        if isinstance(decay, bool) or not isinstance(decay, (int, float)) or not decay >= 0:
            raise ConfigError(f"training.weight_decay must be a number >= 0, got {decay!r}")
        check_choice(self.optimizer, "training.optimizer", ["adam", "sgd"])
        momentum = self.momentum
        if isinstance(momentum, bool) or not isinstance(momentum, (int, float)):
            raise ConfigError(f"training.momentum must be a number in [0, 1), got {momentum!r}")
        if not 0 <= momentum < 1:
            raise ConfigError(f"training.momentum == {momentum!r}, must be in [0, 1)")
        if momentum and self.optimizer != "sgd":
            raise ConfigError(
                f"training.momentum == {momentum!r} needs training.optimizer: sgd "
                f"(got {self.optimizer!r})"
            )
        check_positive_int(self.lr_step, "training.lr_step", minimum=0)
        check_positive_float(self.lr_gamma, "training.lr_gamma")
        check_choice(self.fold_batching, "training.fold_batching", ["auto", "never", "always"])
        check_positive_int(self.max_batched_folds, "training.max_batched_folds", minimum=0)
        check_positive_int(self.eval_every, "training.eval_every", minimum=0)
        if not isinstance(self.record_test_curve, bool):
            raise ValueError(
                f"training.record_test_curve == {self.record_test_curve!r}, must be true or false"
            )

    def __repr__(self) -> str:
        # as the dataclass repr, less the later settings at their defaults (stacked checkpoints
        # are keyed by it: those written before the settings existed keep resuming)
        shown = stable_training_dict({f.name: getattr(self, f.name) for f in fields(self)})
        return f"TrainSettings({', '.join(f'{k}={v!r}' for k, v in shown.items())})"

    def batches_folds(self) -> bool:
        """Whether folds may be stacked at all (the model decides the rest: ``stacks_folds``)."""
        if self.eval_every:
            return False  # held-out loss curves are recorded by the one-fold loop only
        if self.optimizer != "adam":
            return False  # the stacked path implements Adam only
        return self.fold_batching != "never"


def check_device(device: str) -> torch.device:
    """Return ``device`` as a torch device, raising ConfigError if it is not usable here."""
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ConfigError(f"training.device must be cpu, cuda or cuda:N, got {device!r}") from exc
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(
                f"training.device == {device!r}, but torch sees no CUDA device "
                f"(torch {torch.__version__}); use --device cpu"
            )
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ConfigError(
                f"training.device == {device!r}, but only {torch.cuda.device_count()} "
                "CUDA device(s) are visible"
            )
    elif dev.type == "mps" and not torch.backends.mps.is_available():
        raise ConfigError(f"training.device == {device!r}, but torch sees no MPS device")
    elif dev.type not in ("cpu", "mps"):
        raise ConfigError(f"training.device must be cpu, cuda or cuda:N, got {device!r}")
    return dev


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
    optimizer = make_optimizer(model.parameters(), settings)
    criterion = nn.CrossEntropyLoss()
    generator = torch.Generator().manual_seed(seed)
    losses: list[float] = []
    with _fast_cpu_layout(model, device):
        for epoch in range(settings.epochs):
            for group in optimizer.param_groups:
                group["lr"] = epoch_lr(settings, epoch)
            losses.append(_epoch(model, optimizer, criterion, x, y, generator, settings))
            if on_epoch is not None:
                on_epoch(epoch, losses[-1])
    return losses


def make_optimizer(
    params: Iterator[nn.Parameter] | list[nn.Parameter], settings: TrainSettings
) -> torch.optim.Optimizer:
    """The optimizer ``settings`` names (Adam, or SGD with momentum), at the initial lr."""
    if settings.optimizer == "sgd":
        return torch.optim.SGD(
            params, lr=settings.lr, momentum=settings.momentum, weight_decay=settings.weight_decay
        )
    return torch.optim.Adam(params, lr=settings.lr, weight_decay=settings.weight_decay)


def epoch_lr(settings: TrainSettings, epoch: int) -> float:
    """Learning rate of epoch ``epoch`` (0-based) under the step schedule (torch's StepLR)."""
    if not settings.lr_step:
        return settings.lr
    return settings.lr * settings.lr_gamma ** (epoch // settings.lr_step)


def _epoch(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    criterion: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    generator: torch.Generator,
    settings: TrainSettings,
) -> float:
    """One pass over the shuffled training clips; the mean loss (one sync per epoch)."""
    n = len(x)
    order = torch.randperm(n, generator=generator).to(x.device)
    total = torch.zeros((), device=x.device)
    for start, stop in _batch_bounds(n, settings.batch_size):
        idx = order[start:stop]
        optimizer.zero_grad(set_to_none=True)
        loss = criterion(model(x[idx]), y[idx])
        loss.backward()
        optimizer.step()
        total += loss.detach() * len(idx)
    return float(total) / n


@contextlib.contextmanager
def _fast_cpu_layout(model: nn.Module, device: torch.device) -> Iterator[None]:
    """Channels-last convolution weights, contiguous activations, on the CPU.

    Measured on ATSCNN with one thread (fold-epoch CPU time): oneDNN
    convolutions run 2.5x faster with channels-last weights, but BatchNorm,
    pooling and SELU run slower on channels-last maps with 3 to 16 channels;
    making each convolution's output contiguous again gets both (about 30%
    less time per epoch than either layout alone). Only the memory layout
    changes, not what is computed. A model that measured slower this way
    declares ``cpu_channels_last: False`` in its ``default_cfg`` and keeps
    the plain layout (STSTNet: 1.3-1.5x faster without it,
    ``benchmarks/ststnet_step_alternatives.py``).
    """
    if device.type != "cpu" or not channels_last_on_cpu(model):
        yield
        return
    hooks = []
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            module.to(memory_format=torch.channels_last)
            hooks.append(module.register_forward_hook(_contiguous_output))
    try:
        yield
    finally:
        for hook in hooks:
            hook.remove()


def channels_last_on_cpu(model: nn.Module) -> bool:
    """Whether CPU training and prediction give ``model``'s convolutions channels-last weights.

    True unless the model's ``default_cfg`` says ``cpu_channels_last: False``.
    """
    cfg = getattr(model, "default_cfg", None) or {}
    return bool(cfg.get("cpu_channels_last", True))


def _contiguous_output(_module: nn.Module, _inputs: object, output: torch.Tensor) -> torch.Tensor:
    return output.contiguous()


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
    with _fast_cpu_layout(model, torch.device(device)):
        for start in range(0, len(inputs), batch_size):
            logits = model(inputs[start : start + batch_size].to(device))
            out.append(torch.softmax(logits, dim=1).cpu())
    if not out:
        return np.zeros((0, 0), dtype=np.float32)
    return torch.cat(out).numpy().astype(np.float32)
