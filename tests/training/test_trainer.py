"""The training loop itself (training/trainer.py): settings, seeding, batches, prediction."""

import numpy as np
import pytest
import torch
from torch import nn

from microexpr.errors import ConfigError
from microexpr.training.trainer import (
    TrainSettings,
    _batch_bounds,
    channels_last_on_cpu,
    check_device,
    epoch_lr,
    fit,
    predict_proba,
    seed_everything,
    stable_training_dict,
)


def _tiny_model() -> nn.Module:
    # a convolution (the CPU layout path), BatchNorm (one-clip batches) and a head
    return nn.Sequential(
        nn.Conv2d(2, 4, 3, padding=1),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(4, 3),
    )


def _data(n: int = 20, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 2, 8, 8, generator=g), torch.randint(0, 3, (n,), generator=g)


def _trained(seed: int, settings: TrainSettings) -> tuple[list[float], nn.Module]:
    x, y = _data()
    torch.manual_seed(0)  # the same initial weights
    model = _tiny_model()
    return fit(model, x, y, settings, seed=seed), model


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"epochs": 0}, r"training\.epochs == 0, must be >= 1"),
        ({"batch_size": 2.5}, r"training\.batch_size must be an integer"),
        ({"lr": 0}, r"training\.lr"),
        ({"weight_decay": -0.1}, r"training\.weight_decay must be a number >= 0, got -0\.1"),
        ({"weight_decay": "a lot"}, r"training\.weight_decay must be a number >= 0"),
        ({"fold_batching": "sometimes"}, r"training\.fold_batching must be one of"),
        ({"eval_every": -1}, r"training\.eval_every == -1, must be >= 0"),
        ({"optimizer": "rmsprop"}, r"training\.optimizer must be one of"),
        ({"momentum": 0.9}, r"training\.momentum == 0\.9 needs training\.optimizer: sgd"),
        ({"optimizer": "sgd", "momentum": 1.0}, r"training\.momentum == 1\.0, must be in"),
        ({"lr_step": -1}, r"training\.lr_step == -1, must be >= 0"),
        ({"lr_gamma": 0}, r"training\.lr_gamma == 0, must be > 0"),
    ],
)
def test_settings_are_checked_with_config_errors(options, message):
    with pytest.raises(ConfigError, match=message):
        TrainSettings(**options)


def test_fold_batching_never_and_loss_curves_keep_one_fold_a_unit():
    # auto and always may stack (the model decides: batched.stacks_folds), never does not
    assert TrainSettings(device="cpu").batches_folds()
    assert TrainSettings(device="cuda").batches_folds()
    assert not TrainSettings(device="cpu", fold_batching="never").batches_folds()
    assert TrainSettings(device="cpu", fold_batching="always").batches_folds()
    assert not TrainSettings(device="cuda", fold_batching="never").batches_folds()
    assert not TrainSettings(device="cuda", fold_batching="always", eval_every=5).batches_folds()


def test_check_device():
    assert check_device("cpu") == torch.device("cpu")
    with pytest.raises(ConfigError, match="training.device must be cpu, cuda or cuda:N"):
        check_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="torch sees no CUDA device"):
            check_device("cuda")


def test_fit_returns_one_loss_per_epoch_and_reports_each():
    seen = []
    x, y = _data()
    losses = fit(
        _tiny_model(),
        x,
        y,
        TrainSettings(epochs=3, batch_size=8, lr=1e-2),
        on_epoch=lambda epoch, loss: seen.append((epoch, loss)),
    )
    assert len(losses) == 3 and all(np.isfinite(losses))
    assert seen == list(enumerate(losses))


def test_fit_is_deterministic_for_a_seed_and_the_seed_sets_the_order():
    settings = TrainSettings(epochs=2, batch_size=8, lr=1e-2)
    a, model_a = _trained(0, settings)
    b, model_b = _trained(0, settings)
    c, _ = _trained(1, settings)
    assert a == b
    for pa, pb in zip(model_a.parameters(), model_b.parameters(), strict=True):
        assert torch.equal(pa, pb)
    assert a != c  # another shuffling order, another trajectory


def test_fit_refuses_mismatched_or_empty_data():
    x, y = _data()
    with pytest.raises(ValueError, match=r"inputs \(20\) and labels \(19\) differ"):
        fit(_tiny_model(), x, y[:-1], TrainSettings(epochs=1))
    with pytest.raises(ValueError, match="no training clips"):
        fit(_tiny_model(), x[:0], y[:0], TrainSettings(epochs=1))


def test_fit_lowers_the_training_loss():
    x, y = _data(24)
    losses = fit(_tiny_model(), x, y, TrainSettings(epochs=30, batch_size=8, lr=3e-2))
    assert losses[-1] < 0.8 * losses[0]


def test_batch_bounds_cover_every_clip_once_and_never_leave_one_alone():
    assert _batch_bounds(10, 4) == [(0, 4), (4, 8), (8, 10)]
    assert _batch_bounds(9, 4) == [(0, 4), (4, 9)]  # a one-clip batch joins the previous
    assert _batch_bounds(1, 4) == [(0, 1)]
    for n in range(1, 40):
        bounds = _batch_bounds(n, 8)
        assert bounds[0][0] == 0 and bounds[-1][1] == n
        assert all(b[1] == c[0] for b, c in zip(bounds, bounds[1:], strict=False))
        assert n == 1 or all(stop - start > 1 for start, stop in bounds)


def test_fit_with_one_clip_left_over_trains_batchnorm():
    # 9 clips in batches of 4 would leave one clip alone: BatchNorm cannot train on it
    x, y = _data(9)
    losses = fit(_tiny_model(), x, y, TrainSettings(epochs=2, batch_size=4))
    assert len(losses) == 2


def test_predict_proba_is_softmax_in_eval_mode_whatever_the_batch_size():
    x, _ = _data(10)
    model = _tiny_model()
    fit(model, x, torch.zeros(10, dtype=torch.int64), TrainSettings(epochs=1, batch_size=5))
    whole = predict_proba(model, x, batch_size=256)
    pieces = predict_proba(model, x, batch_size=3)
    assert whole.shape == (10, 3) and whole.dtype == np.float32
    np.testing.assert_allclose(whole.sum(axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(whole, pieces, rtol=1e-5, atol=1e-6)  # eval mode: no batch stats
    assert not model.training
    assert predict_proba(model, x[:0]).shape == (0, 0)


def test_cpu_layout_leaves_no_hooks_and_does_not_change_outputs():
    x, _ = _data(6)
    model = _tiny_model().eval()
    with torch.no_grad():
        before = model(x)
    predict_proba(model, x)  # runs under the channels-last layout
    conv = model[0]
    assert not conv._forward_hooks
    with torch.no_grad():
        np.testing.assert_allclose(model(x).numpy(), before.numpy(), rtol=1e-5, atol=1e-6)


def test_a_model_can_keep_the_plain_cpu_layout_with_the_same_training():
    from microexpr.models import create_model

    assert channels_last_on_cpu(create_model("atscnn", input_size=28))
    plain = create_model("ststnet")
    assert not channels_last_on_cpu(plain)
    forced = create_model("ststnet")
    forced.load_state_dict(plain.state_dict())
    forced.default_cfg = {**forced.default_cfg, "cpu_channels_last": True}
    x = torch.rand(12, 3, 28, 28) * 255
    y = torch.tensor([0, 1, 2] * 4)
    settings = TrainSettings(epochs=2, batch_size=4, lr=1e-3)
    seen = []
    hook = plain.conv1.register_forward_pre_hook(
        lambda m, _i: seen.append(m.weight.is_contiguous())
    )
    torch.manual_seed(0)  # the dropout draws
    losses_plain = fit(plain, x, y, settings, seed=0)
    hook.remove()
    assert seen and all(seen)  # never switched to channels-last
    torch.manual_seed(0)
    losses_forced = fit(forced, x, y, settings, seed=0)
    np.testing.assert_allclose(losses_plain, losses_forced, rtol=1e-4)
    np.testing.assert_allclose(
        predict_proba(plain, x), predict_proba(forced, x), rtol=1e-3, atol=1e-4
    )


def test_seed_everything_seeds_torch_and_numpy():
    g = seed_everything(7)
    a = (torch.rand(3), np.random.rand(3), torch.randperm(5, generator=g))
    g = seed_everything(7)
    b = (torch.rand(3), np.random.rand(3), torch.randperm(5, generator=g))
    assert torch.equal(a[0], b[0]) and np.array_equal(a[1], b[1]) and torch.equal(a[2], b[2])


def test_step_schedule_is_torchs_steplr():
    settings = TrainSettings(lr=1e-3, lr_step=60, lr_gamma=0.3)
    model = nn.Linear(2, 2)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=60, gamma=0.3)
    for epoch in range(200):
        assert epoch_lr(settings, epoch) == pytest.approx(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert epoch_lr(TrainSettings(lr=1e-4), 10_000) == 1e-4


def test_sgd_with_momentum_trains_one_fold_a_unit_and_follows_the_schedule():
    settings = TrainSettings(
        epochs=3, batch_size=8, lr=1e-2, optimizer="sgd", momentum=0.9, lr_step=1, lr_gamma=0.5
    )
    assert not settings.batches_folds()  # the stacked path is Adam only
    x, y = _data()
    seen = []
    losses = fit(_tiny_model(), x, y, settings, on_epoch=lambda e, loss: seen.append(e))
    assert len(losses) == 3 and all(np.isfinite(losses)) and seen == [0, 1, 2]
    # a schedule changes the trajectory; a constant one (gamma 1) does not
    plain, _ = _trained(0, TrainSettings(epochs=3, batch_size=8, lr=1e-2))
    same, _ = _trained(0, TrainSettings(epochs=3, batch_size=8, lr=1e-2, lr_step=1, lr_gamma=1.0))
    decayed, _ = _trained(
        0, TrainSettings(epochs=3, batch_size=8, lr=1e-2, lr_step=1, lr_gamma=0.1)
    )
    assert plain == same and plain[0] == decayed[0] and plain[1:] != decayed[1:]


def test_later_settings_at_their_defaults_leave_run_keys_as_before():
    # stacked checkpoints are keyed by repr(settings), run folders by the config without
    # these: folders written before optimizer/momentum/lr_step/lr_gamma existed keep resuming
    assert repr(TrainSettings()) == (
        "TrainSettings(epochs=200, batch_size=64, lr=0.0001, weight_decay=0.0, device='cpu', "
        "fold_batching='auto', max_batched_folds=0, eval_every=0, record_test_curve=False)"
    )
    assert "optimizer='sgd', momentum=0.9" in repr(TrainSettings(optimizer="sgd", momentum=0.9))
    assert stable_training_dict({"lr": 1e-4, "lr_step": 0, "lr_gamma": 0.5}) == {
        "lr": 1e-4,
        "lr_gamma": 0.5,
    }
