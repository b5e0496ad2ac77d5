"""All folds of a model trained at once, as one batched computation (for GPUs).

The folds of one (variant, seed) share the architecture, so their weights can
be stacked (:func:`torch.func.stack_module_state`) and one vmapped forward
pass (:func:`torch.func.functional_call` under :func:`torch.func.vmap`) runs
a mini-batch of every fold: one large kernel launch instead of one small one
per fold, which keeps a GPU busy. Each fold keeps exactly what it has when
trained alone with :func:`~microexpr.training.trainer.fit`:

- its initial weights (built after seeding with the job's seed);
- its shuffling: one generator per fold seeded like ``fit``'s, so the same
  permutation each epoch, and the same batch bounds;
- its BatchNorm statistics: vmap computes batch statistics per fold, and the
  running mean and variance are stacked buffers updated per fold;
- its Adam state and step count: a fold takes a step only when it has a
  batch (folds differ in size, so in their number and size of batches); at
  each step the folds whose batches have the same size run together.

The result equals sequential training up to floating-point rounding (vmapped
convolutions become grouped convolutions, which sum in another order). On a
2-core CPU this path measured slower than one fold after another, so
:meth:`TrainSettings.batches_folds` selects it on CUDA devices only.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn
from torch.func import functional_call, stack_module_state, vmap

from microexpr.training.engine import EngineData, FoldJob, FoldResult
from microexpr.training.trainer import _batch_bounds, predict_proba, seed_everything

__all__ = ["run_folds_batched", "supports_batching"]

_RANDOM_MODULES = (nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout)


def supports_batching(model: nn.Module) -> bool:
    """Whether ``model`` can be trained batched with unchanged semantics.

    Models with dropout are excluded: their random masks would be drawn
    differently under vmap.
    """
    return not any(isinstance(m, _RANDOM_MODULES) and m.p > 0 for m in model.modules())


class _StackedAdam:
    """Adam (as :class:`torch.optim.Adam`, no amsgrad) over stacked per-fold tensors.

    Only the folds named at each step are updated, each with its own step
    count and hence its own bias correction.
    """

    def __init__(
        self,
        params: dict[str, torch.Tensor],
        n_folds: int,
        *,
        lr: float,
        weight_decay: float,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
    ) -> None:
        self.params = params
        self.lr, self.weight_decay, self.betas, self.eps = lr, weight_decay, betas, eps
        self.exp_avg = {k: torch.zeros_like(p) for k, p in params.items()}
        self.exp_avg_sq = {k: torch.zeros_like(p) for k, p in params.items()}
        self.steps = np.zeros(n_folds, dtype=np.int64)

    @torch.no_grad()
    def step(self, folds: torch.Tensor) -> None:
        """Update the rows ``folds`` (1-D int64 tensor on the parameters' device)."""
        idx = folds.cpu().numpy()
        self.steps[idx] += 1
        beta1, beta2 = self.betas
        steps = self.steps[idx].astype(np.float64)
        step_size = self.lr / (1 - beta1**steps)
        bias2_sqrt = np.sqrt(1 - beta2**steps)
        every = len(idx) == len(self.steps)
        for name, param in self.params.items():
            if param.grad is None:
                continue
            shape = (len(idx),) + (1,) * (param.ndim - 1)
            size = torch.as_tensor(step_size, dtype=param.dtype, device=param.device).view(shape)
            b2 = torch.as_tensor(bias2_sqrt, dtype=param.dtype, device=param.device).view(shape)
            if every:  # the common case: update in place, no gather / scatter
                p, g = param, param.grad
                m, v = self.exp_avg[name], self.exp_avg_sq[name]
            else:
                p, g = param[folds], param.grad[folds]
                m, v = self.exp_avg[name][folds], self.exp_avg_sq[name][folds]
            if self.weight_decay:
                g = g.add(p, alpha=self.weight_decay)
            m.lerp_(g, 1 - beta1)
            v.mul_(beta2).addcmul_(g, g, value=1 - beta2)
            denom = (v.sqrt() / b2).add_(self.eps)
            p = p - size * m / denom if not every else p.sub_(size * m / denom)
            if not every:
                param[folds] = p
                self.exp_avg[name][folds] = m
                self.exp_avg_sq[name][folds] = v


def run_folds_batched(
    jobs: Sequence[FoldJob], data: EngineData, *, threads: int | None = None
) -> list[FoldResult]:
    """Train the folds ``jobs`` of one variant together; results in job order.

    Parameters
    ----------
    jobs : sequence of FoldJob
        Folds of one variant (any seeds; each fold is seeded with its own).
    data : EngineData
    threads : int, optional
        Torch intra-op threads.

    Returns
    -------
    list of FoldResult
        As :func:`~microexpr.training.engine.run_fold` would return them, up to
        floating-point rounding.
    """
    if len({job.variant for job in jobs}) != 1:
        raise ValueError("batched folds must all belong to one variant")
    if threads is not None:
        torch.set_num_threads(threads)
    start = time.perf_counter()
    settings = data.settings
    device = torch.device(settings.device)
    spec = data.variants[jobs[0].variant]
    models = []
    for job in jobs:
        seed_everything(job.seed)  # same initial weights as run_fold
        models.append(spec.build().to(device).train())
    kind = spec.input_kind()
    x = torch.tensor(data.inputs[kind], device=device)  # a copy: the array may be read-only
    y = torch.tensor(data.labels, device=device)
    params, buffers = stack_module_state(models)
    skeleton = copy.deepcopy(models[0]).to("meta")

    def forward(
        p: dict[str, torch.Tensor], b: dict[str, torch.Tensor], xb: torch.Tensor
    ) -> torch.Tensor:
        return functional_call(skeleton, (p, b), (xb,))

    batched_forward = vmap(forward, randomness="error")
    optimizer = _StackedAdam(params, len(jobs), lr=settings.lr, weight_decay=settings.weight_decay)
    criterion = nn.CrossEntropyLoss()

    train = [torch.tensor(data.folds[job.fold].train_indices, dtype=torch.long) for job in jobs]
    generators = [torch.Generator().manual_seed(job.seed) for job in jobs]
    bounds = [_batch_bounds(len(t), settings.batch_size) for t in train]
    losses: list[list[float]] = [[] for _ in jobs]
    for _epoch in range(settings.epochs):
        # the same draws as fit(): one permutation per fold and epoch, on the CPU generator
        orders = [
            train[f][torch.randperm(len(train[f]), generator=generators[f])]
            for f in range(len(jobs))
        ]
        totals = torch.zeros(len(jobs), device=device)
        for step in range(max(len(b) for b in bounds)):
            groups: dict[int, list[int]] = {}
            for f, fold_bounds in enumerate(bounds):
                if step < len(fold_bounds):
                    lo, hi = fold_bounds[step]
                    groups.setdefault(hi - lo, []).append(f)
            for folds in groups.values():
                idx = torch.stack(
                    [orders[f][bounds[f][step][0] : bounds[f][step][1]] for f in folds]
                ).to(device)
                sel = torch.tensor(folds, dtype=torch.long, device=device)
                every = len(folds) == len(jobs)
                p = params if every else {k: v[sel] for k, v in params.items()}
                b = buffers if every else {k: v[sel] for k, v in buffers.items()}
                for param in params.values():
                    param.grad = None
                logits = batched_forward(p, b, x[idx])
                fold_losses = torch.stack(
                    [criterion(logits[i], y[idx[i]]) for i in range(len(folds))]
                )
                fold_losses.sum().backward()
                if not every:
                    with torch.no_grad():
                        for k, v in b.items():
                            buffers[k][sel] = v
                optimizer.step(sel)
                totals[sel] += fold_losses.detach() * idx.shape[1]
        for f, value in enumerate(totals.cpu().tolist()):
            losses[f].append(value / len(train[f]))

    results = []
    seconds = (time.perf_counter() - start) / len(jobs)
    for f, job in enumerate(jobs):
        model = models[f]
        with torch.no_grad():
            for name, param in model.named_parameters():
                param.copy_(params[name][f])
            for name, buf in model.named_buffers():
                buf.copy_(buffers[name][f])
        fold = data.folds[job.fold]
        test = torch.tensor(fold.test_indices, dtype=torch.long, device=device)
        proba = predict_proba(model, x[test], device=settings.device)
        results.append(
            FoldResult(
                variant=job.variant,
                fold=job.fold,
                test_subject=job.test_subject,
                seed=job.seed,
                test_indices=list(fold.test_indices),
                y_true=data.labels[list(fold.test_indices)].tolist(),
                y_pred=proba.argmax(axis=1).tolist(),
                proba=np.round(proba.astype(np.float64), 6).tolist(),
                losses=[round(v, 6) for v in losses[f]],
                seconds=round(seconds, 3),
            )
        )
    return results
