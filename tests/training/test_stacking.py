"""Every registered model stacks exactly: one stacked pass equals its members' own passes."""

import pytest
import torch
from torch import nn

from microexpr.errors import ConfigError
from microexpr.models import create_model, get_model_cfg, list_models
from microexpr.training.stacking import stack_models

# Small versions of each model, so that every registered model is tested fast:
# the first of these option sets that the model's registry entry accepts.
CANDIDATES = [
    {"input_size": 32, "head": [16]},
    {"input_size": 32, "widths": [8, 8, 8], "stem_channels": 8, "hidden": 32},
    {"input_size": 32, "widths": [8, 8, 8, 8], "hidden": 32},
    {"input_size": 32},
    {},
]


def _options(name):
    for opts in CANDIDATES:
        try:
            create_model(name, **opts)
        except ConfigError:
            continue
        return opts
    raise AssertionError(f"no small option set for {name}")


@pytest.mark.parametrize("name", list_models())
@pytest.mark.parametrize("counts", [(3, 3), (3, 2)], ids=["full", "padded"])
def test_stacked_pass_equals_members(name, counts):
    opts = _options(name)
    shape = get_model_cfg(name, **opts)["input_size"]
    members = []
    for seed in (0, 1):
        torch.manual_seed(seed)
        members.append(create_model(name, **opts).train())
    batch = max(counts)
    torch.manual_seed(7)
    x = torch.randn(batch, len(members), *shape)  # batch-major rows: b * F + f
    y = torch.randint(0, 3, (batch, len(members)))
    states = [torch.Generator().manual_seed(10 + f).get_state() for f in range(len(members))]

    ref_out, ref_grads = [], []
    for f, model in enumerate(members):
        torch.set_rng_state(states[f])  # the member's dropout stream
        n = counts[f]
        out = model(x[:n, f])
        nn.functional.cross_entropy(out, y[:n, f]).backward()
        ref_out.append(out.detach())
        ref_grads.append({k: p.grad.clone() for k, p in model.named_parameters()})
        model.zero_grad()

    stacked = stack_models(members)
    gens = []
    for st in states:
        g = torch.Generator()
        g.set_state(st)
        gens.append(g)
    stacked.set_generators(gens)
    stacked.set_rows(list(counts), batch)
    out = stacked(x.reshape(batch * len(members), *shape)).view(batch, len(members), -1)
    per_row = nn.functional.cross_entropy(
        out.reshape(-1, out.shape[-1]), y.reshape(-1), reduction="none"
    ).view(batch, len(members))
    mask = torch.tensor([[b < c for c in counts] for b in range(batch)], dtype=out.dtype)
    ((per_row * mask).sum(0) / torch.tensor(counts, dtype=out.dtype)).sum().backward()

    for f, n in enumerate(counts):
        torch.testing.assert_close(out[:n, f].detach(), ref_out[f], atol=2e-4, rtol=1e-3)
    # gradients, read back through unstack: copy the grads as weights into fresh members
    grads = [create_model(name, **opts) for _ in members]
    with torch.no_grad():
        for p in stacked.parameters():
            p.copy_(p.grad)
    stacked.unstack_into(grads)
    for f, model in enumerate(grads):
        for k, p in model.named_parameters():
            torch.testing.assert_close(p, ref_grads[f][k], atol=2e-4, rtol=2e-3, msg=f"{name} {k}")
