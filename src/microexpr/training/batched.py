"""All folds (and seeds) of one model trained as one program: stacked training.

The F fold jobs of one variant share its architecture, so
:func:`~microexpr.training.stacking.stack_models` turns their F models into
one network whose every layer computes all F at once (grouped convolutions,
batched matrix products, per-member BatchNorm statistics). :func:`fit_stacked`
then trains that network so that each member gets exactly what
:func:`~microexpr.training.trainer.fit` gives it alone:

- its initial weights (each built after seeding with its job's seed);
- its shuffling: one generator per member seeded like ``fit``'s, so the same
  permutation each epoch and the same batch bounds;
- its dropout masks: drawn from a copy of the global generator state that
  the member's own run would have had after building its model;
- its BatchNorm statistics and running averages, over its own real rows;
- its loss: the mean over its own batch; members with fewer clips in a step
  are padded with copies of their rows, which are masked out of the loss and
  of every batch statistic;
- its Adam state and step count: a member with no batch left in an epoch
  does not step.

The result equals sequential training up to floating-point rounding (grouped
convolutions sum in another order). A stack whose activations would not fit
in memory is split into chunks of members (:func:`stack_chunk_size`). The
stacked state is saved atomically every ``checkpoint_seconds`` and at the end
of training, so a killed run resumes from its last checkpoint.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from microexpr._io import atomic_torch_save
from microexpr.training.stacking import StackedNet, stack_models, supports_stacking
from microexpr.training.trainer import TrainSettings, _batch_bounds, epoch_lr

__all__ = [
    "STACK_MAX_CONV_OUTPUTS",
    "conv_outputs_per_clip",
    "fit_stacked",
    "fold_memory",
    "predict_stacked",
    "stack_chunk_size",
    "stacks_folds",
    "supports_stacking",
]

#: On the CPU, stack a model's folds when a training step of one fold writes
#: at most this many convolution outputs (batch size x convolution output
#: elements per clip). Measured on the MEGC2019 flows, one thread
#: (benchmarks/results/stacked_training.md): stacked over sequential 1.57x for
#: Off-ApexNet at batch 64 (1.0e6 outputs a step) and 1.29x for
#: Dual-Inception at batch 3, but 0.35x for STSTNet at batch 256 (3.7e6):
#: oneDNN's grouped convolutions on large maps cost more than the per-call
#: overhead that stacking saves.
STACK_MAX_CONV_OUTPUTS = 2e6


class _StackedAdam:
    """Adam (as :class:`torch.optim.Adam`, no amsgrad) over stacked (F, ...) parameters.

    Only the active members are updated at a step, each with its own step
    count and hence its own bias correction.
    """

    def __init__(
        self,
        params: Sequence[torch.Tensor],
        n_members: int,
        *,
        lr: float,
        weight_decay: float,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
    ) -> None:
        self.params = list(params)
        self.lr, self.weight_decay, self.betas, self.eps = lr, weight_decay, betas, eps
        self.exp_avg = [torch.zeros_like(p) for p in self.params]
        self.exp_avg_sq = [torch.zeros_like(p) for p in self.params]
        self.steps = np.zeros(n_members, dtype=np.int64)
        self._buffers: dict[int, torch.Tensor] = {}

    def state_dict(self) -> dict[str, object]:
        """Moments and step counts."""
        return {"exp_avg": self.exp_avg, "exp_avg_sq": self.exp_avg_sq, "steps": self.steps}

    def load_state_dict(self, state: dict[str, object]) -> None:
        """Restore what :meth:`state_dict` returned."""
        for mine, saved in zip(self.exp_avg, state["exp_avg"], strict=True):  # type: ignore[call-overload]
            mine.copy_(saved)
        for mine, saved in zip(self.exp_avg_sq, state["exp_avg_sq"], strict=True):  # type: ignore[call-overload]
            mine.copy_(saved)
        self.steps = np.asarray(state["steps"], dtype=np.int64).copy()

    @torch.no_grad()
    def step(self, active: Sequence[int]) -> None:
        """Update the members ``active`` (indices into the leading dimension)."""
        idx = np.asarray(active, dtype=np.int64)
        self.steps[idx] += 1
        beta1, beta2 = self.betas
        steps = self.steps[idx].astype(np.float64)
        step_size = self.lr / (1 - beta1**steps)
        bias2_sqrt = np.sqrt(1 - beta2**steps)
        every = len(idx) == len(self.steps)
        sel = torch.as_tensor(idx)
        for i, (param, m_all, v_all) in enumerate(
            zip(self.params, self.exp_avg, self.exp_avg_sq, strict=True)
        ):
            if param.grad is None:
                continue
            shape = (len(idx),) + (1,) * (param.ndim - 1)
            size = torch.as_tensor(step_size, dtype=param.dtype).view(shape).to(param.device)
            b2 = torch.as_tensor(bias2_sqrt, dtype=param.dtype).view(shape).to(param.device)
            if every:  # the common case: in place, into preallocated buffers
                p, g, m, v = param, param.grad, m_all, v_all
                if self.weight_decay:
                    g = g.add(p, alpha=self.weight_decay)
                m.lerp_(g, 1 - beta1)
                v.mul_(beta2).addcmul_(g, g, value=1 - beta2)
                buf = self._buffer(i, param)
                torch.sqrt(v, out=buf)
                buf.div_(b2).add_(self.eps)
                torch.div(m, buf, out=buf)
                p.sub_(buf.mul_(size))
                continue
            sel = sel.to(param.device)
            p, g, m, v = param[sel], param.grad[sel], m_all[sel], v_all[sel]
            if self.weight_decay:
                g = g.add(p, alpha=self.weight_decay)
            m.lerp_(g, 1 - beta1)
            v.mul_(beta2).addcmul_(g, g, value=1 - beta2)
            denom = (v.sqrt() / b2).add_(self.eps)
            param[sel] = p - size * m / denom
            m_all[sel] = m
            v_all[sel] = v

    def _buffer(self, i: int, param: torch.Tensor) -> torch.Tensor:
        buf = self._buffers.get(i)
        if buf is None:
            buf = self._buffers[i] = torch.empty_like(param)
        return buf


def _key(
    settings: TrainSettings, seeds: Sequence[int], train_indices: Sequence[torch.Tensor], n: int
) -> str:
    digest = hashlib.sha256()
    digest.update(repr((settings, list(seeds), n)).encode())
    for idx in train_indices:
        digest.update(idx.numpy().tobytes())
    return digest.hexdigest()[:16]


def fit_stacked(
    models: Sequence[nn.Module],
    inputs: torch.Tensor,
    labels: torch.Tensor,
    train_indices: Sequence[torch.Tensor],
    settings: TrainSettings,
    *,
    seeds: Sequence[int],
    rng_states: Sequence[torch.Tensor] | None = None,
    checkpoint: str | Path | None = None,
    checkpoint_seconds: float = 60.0,
    on_epoch: Callable[[int, StackedNet, list[float]], None] | None = None,
    extra_state: list | None = None,
) -> list[list[float]]:
    """Train ``models`` in place, member f on ``inputs[train_indices[f]]``.

    Parameters
    ----------
    models : sequence of nn.Module
        F freshly initialised models of one architecture.
    inputs : Tensor of shape (n_clips, C, H, W)
        Every clip any member trains on.
    labels : Tensor of shape (n_clips,), int64
    train_indices : sequence of 1-D int64 Tensors
        Member f's training clips (rows of ``inputs``).
    settings : TrainSettings
    seeds : sequence of int
        Member f's shuffling seed (as ``fit(seed=...)``).
    rng_states : sequence of Tensor, optional
        Member f's global torch RNG state when its training would start
        alone (``torch.get_rng_state()`` after building it): its dropout
        masks are drawn from it. Defaults to the current state for all.
    checkpoint : path, optional
        File for the stacked state: loaded if it holds this very training
        (same settings, seeds and clips), written atomically every
        ``checkpoint_seconds`` and after the last epoch.
    on_epoch : callable, optional
        ``on_epoch(epoch, stacked_net, mean_losses)`` after each epoch.
    extra_state : list, optional
        The caller's per-epoch records (e.g. what ``on_epoch`` appends to):
        saved with each checkpoint and restored in place on resume.

    Returns
    -------
    list of list of float
        Member f's mean training loss of each epoch.
    """
    n_members = len(models)
    if not (len(train_indices) == len(seeds) == n_members):
        raise ValueError("models, train_indices and seeds differ in length")
    if any(len(t) == 0 for t in train_indices):
        raise ValueError("a member has no training clips")
    device = torch.device(settings.device)
    for model in models:
        model.to(device).train()
    stacked = stack_models(models).to(device).train()
    x, y = inputs.to(device), labels.to(device)
    params = list(stacked.parameters())
    optimizer = _StackedAdam(params, n_members, lr=settings.lr, weight_decay=settings.weight_decay)
    shufflers = [torch.Generator().manual_seed(int(s)) for s in seeds]
    state = torch.get_rng_state()
    droppers = []
    for f in range(n_members):
        gen = torch.Generator()
        gen.set_state(rng_states[f] if rng_states is not None else state)
        droppers.append(gen)
    stacked.set_generators(droppers)
    train = [t.to(torch.long) for t in train_indices]
    bounds = [_batch_bounds(len(t), settings.batch_size) for t in train]
    n_steps = max(len(b) for b in bounds)
    losses: list[list[float]] = [[] for _ in range(n_members)]
    start_epoch = 0
    key = _key(settings, seeds, train, len(inputs))
    path = Path(checkpoint) if checkpoint is not None else None
    if path is not None and path.is_file():
        saved = _load(path)
        if saved is not None and saved.get("key") == key:
            stacked.load_state_dict(saved["net"])
            optimizer.load_state_dict(saved["adam"])
            for gen, st in zip(shufflers, saved["shufflers"], strict=True):
                gen.set_state(st)
            for gen, st in zip(droppers, saved["droppers"], strict=True):
                gen.set_state(st)
            losses = saved["losses"]
            if extra_state is not None:
                extra_state[:] = saved.get("extra", [])
            start_epoch = int(saved["epoch"]) + 1
    last_save = time.monotonic()
    criterion = nn.CrossEntropyLoss(reduction="none")
    for epoch in range(start_epoch, settings.epochs):
        optimizer.lr = epoch_lr(settings, epoch)  # from the epoch alone: a resume gets it right
        orders = [
            train[f][torch.randperm(len(train[f]), generator=shufflers[f])]
            for f in range(n_members)
        ]
        totals = torch.zeros(n_members, dtype=torch.float64)
        for step in range(n_steps):
            counts = [(b[step][1] - b[step][0]) if step < len(b) else 0 for b in bounds]
            batch = max(counts)
            rows = torch.empty((batch, n_members), dtype=torch.long)
            for f, count in enumerate(counts):
                if count:
                    lo, hi = bounds[f][step]
                    rows[:count, f] = orders[f][lo:hi]
                    if count < batch:  # padding: copies of the member's own rows
                        rows[count:, f] = orders[f][lo]
                else:
                    rows[:, f] = train[f][0]
            stacked.set_rows(counts, batch)
            rows = rows.to(device)
            for p in params:
                p.grad = None
            logits = stacked(x[rows.view(-1)])
            per_row = criterion(logits, y[rows.view(-1)]).view(batch, n_members)
            count_t = torch.tensor(counts, dtype=per_row.dtype, device=device)
            if stacked._rows.full:
                member_loss = per_row.mean(dim=0)
            else:
                member_loss = (per_row * stacked._rows.mask).sum(dim=0) / count_t.clamp(min=1)
            member_loss.sum().backward()
            active = [f for f, c in enumerate(counts) if c]
            optimizer.step(active)
            totals += (member_loss.detach() * count_t).double().cpu()
        epoch_losses = [float(totals[f]) / len(train[f]) for f in range(n_members)]
        for f in range(n_members):
            losses[f].append(epoch_losses[f])
        if on_epoch is not None:
            on_epoch(epoch, stacked, epoch_losses)
            stacked.train()
        last = epoch == settings.epochs - 1
        if path is not None and (last or time.monotonic() - last_save >= checkpoint_seconds):
            _save(path, key, epoch, stacked, optimizer, shufflers, droppers, losses, extra_state)
            last_save = time.monotonic()
    stacked.unstack_into(models)
    return losses


@torch.no_grad()
def predict_stacked(
    stacked: StackedNet, inputs: torch.Tensor, indices: Sequence[Sequence[int]]
) -> list[np.ndarray]:
    """Class probabilities of member f on ``inputs[indices[f]]``, in eval mode.

    The members' clip lists may differ in length (shorter ones are padded
    with copies of their own first clip); eval mode draws no random numbers
    and updates no statistics, so training is unchanged by the call.
    """
    stacked.eval()
    n_f = stacked.n_members
    longest = max(len(i) for i in indices)
    if longest == 0:
        return [np.zeros((0, 0), dtype=np.float32) for _ in indices]
    rows = torch.zeros((longest, n_f), dtype=torch.long)
    for f, idx in enumerate(indices):
        if len(idx):
            rows[: len(idx), f] = torch.as_tensor(list(idx))
            rows[len(idx) :, f] = int(idx[0])
    device = next(stacked.parameters()).device
    logits = stacked(inputs[rows.view(-1).to(inputs.device)].to(device))
    proba = torch.softmax(logits.float(), dim=1).view(longest, n_f, -1).cpu().numpy()
    return [proba[: len(idx), f] for f, idx in enumerate(indices)]


def _save(
    path: Path,
    key: str,
    epoch: int,
    stacked: StackedNet,
    optimizer: _StackedAdam,
    shufflers: Sequence[torch.Generator],
    droppers: Sequence[torch.Generator],
    losses: list[list[float]],
    extra: list | None,
) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_torch_save(
        path,
        {
            "key": key,
            "epoch": epoch,
            "net": stacked.state_dict(),
            "adam": optimizer.state_dict(),
            "shufflers": [g.get_state() for g in shufflers],
            "droppers": [g.get_state() for g in droppers],
            "losses": losses,
            "extra": extra if extra is not None else [],
        },
    )


def _load(path: Path) -> dict | None:
    try:
        return torch.load(path, map_location="cpu", weights_only=False)
    except Exception:  # noqa: BLE001 - a torn or foreign file is simply not resumed from
        return None


def conv_outputs_per_clip(model: nn.Module, input_shape: Sequence[int]) -> int:
    """Elements written by ``model``'s convolutions for one clip of ``input_shape``."""
    total = 0

    def count(_m: nn.Module, _i: object, out: torch.Tensor) -> None:
        nonlocal total
        total += out[0].numel()

    hooks = [m.register_forward_hook(count) for m in model.modules() if isinstance(m, nn.Conv2d)]
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            model(torch.zeros((1, *input_shape)))
    finally:
        for hook in hooks:
            hook.remove()
        model.train(was_training)
    return total


def stacks_folds(settings: TrainSettings, model: nn.Module, input_shape: Sequence[int]) -> bool:
    """Whether the folds of ``model`` are trained stacked under ``settings``.

    ``fold_batching: always`` stacks whenever the model can be stacked
    exactly, ``never`` never; ``auto`` stacks on a GPU, and on the CPU where
    it measured faster: when a step of one fold writes at most
    :data:`STACK_MAX_CONV_OUTPUTS` convolution outputs, so that its time is
    the per-call overhead of small operators (paid once per fold when folds
    are trained alone) rather than the convolutions themselves. The rule
    depends only on the model and the settings, never on timing, so every
    executor and every resumed run takes the same path.
    """
    if not settings.batches_folds() or not supports_stacking(model):
        return False
    if settings.fold_batching == "always" or torch.device(settings.device).type != "cpu":
        return True
    outputs = conv_outputs_per_clip(model, input_shape) * settings.batch_size
    return outputs <= STACK_MAX_CONV_OUTPUTS


def fold_memory(model: nn.Module, input_shape: Sequence[int], batch_size: int) -> int:
    """Bytes one member holds for a training step: saved activations, parameters, grads, Adam.

    Measured by running one forward pass of ``model`` on a batch of
    ``batch_size`` zero inputs of ``input_shape`` and summing the tensors
    autograd saves for the backward pass.
    """
    saved = 0

    def pack(t: torch.Tensor) -> torch.Tensor:
        nonlocal saved
        saved += t.numel() * t.element_size()
        return t

    was_training = model.training
    model.train()
    x = torch.zeros((batch_size, *input_shape))
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = model(x)
    del out
    model.train(was_training)
    weights = sum(p.numel() * p.element_size() for p in model.parameters())
    # gradients of activations during backward roughly double the saved
    # activations; parameters, gradients and two Adam moments: 4x the weights
    return 2 * saved + 4 * weights


def available_memory() -> int:
    """Bytes of memory this process can still use (cgroup limit or MemAvailable)."""
    avail = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                avail = int(line.split()[1]) * 1024
    except OSError:
        pass
    for limit_file, usage_file in [
        ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
        (
            "/sys/fs/cgroup/memory/memory.limit_in_bytes",
            "/sys/fs/cgroup/memory/memory.usage_in_bytes",
        ),
    ]:
        try:
            limit = Path(limit_file).read_text().strip()
            usage = int(Path(usage_file).read_text().strip())
        except (OSError, ValueError):
            continue
        if limit.isdigit() and int(limit) < 1 << 60:
            room = int(limit) - usage
            avail = room if avail is None else min(avail, room)
    if avail is None:
        avail = (os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")) // 2
    return max(avail, 0)


def stack_chunk_size(
    model: nn.Module, input_shape: Sequence[int], batch_size: int, *, budget: float = 0.6
) -> int:
    """How many members of ``model`` fit in one stack in ``budget`` of the free memory."""
    per_member = max(fold_memory(model, input_shape, batch_size), 1)
    return max(1, int(budget * available_memory()) // per_member)
