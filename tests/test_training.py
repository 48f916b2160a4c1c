"""The shared training loop, the diffusion loss, the diffusion training loop and the EMA."""

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import TensorDataset

from course_lib.models import MLPDenoiser
from course_lib.schedules import NoiseSchedule
from course_lib.training import EMA, TrainResult, diffusion_loss, fit, train_diffusion

SCHEDULE = NoiseSchedule.linear(100, 1e-4, 0.02)


class Recorder(nn.Module):
    """A fake denoiser eps(x, t, c) = w * x + t / 100 + sum(c) that records what it was given."""

    def __init__(self, context_dim: int = 0) -> None:
        super().__init__()
        self.context_dim = context_dim
        self.w = nn.Parameter(torch.tensor(0.5))
        self.calls = []

    def forward(self, x, t, context=None):
        self.calls.append((x.clone(), t.clone(), None if context is None else context.clone()))
        shift = (t.float() / 100).reshape(-1, *[1] * (x.ndim - 1))
        if context is not None:
            shift = shift + context.sum(1).reshape(-1, *[1] * (x.ndim - 1))
        return self.w * x + shift


def _points(n=64, seed=0, labels=None):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 2, generator=g)
    if labels is None:
        return TensorDataset(x)
    return TensorDataset(x, torch.randint(0, labels, (n,), generator=g))


# --- fit ---------------------------------------------------------------------------------------------


def test_fit_reaches_the_least_squares_solution_of_a_linear_regression():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(64, 3, generator=g)
    y = x @ torch.tensor([[1.5], [-2.0], [0.5]]) + 0.3 + 0.1 * torch.randn(64, 1, generator=g)
    design = torch.cat([x, torch.ones(64, 1)], dim=1)
    solution = torch.linalg.lstsq(design, y).solution.squeeze(1)  # argmin_theta |design @ theta - y|^2
    best = F.mse_loss(design @ solution, y.squeeze(1)).item()
    torch.manual_seed(0)
    model = nn.Linear(3, 1)
    # One full batch, re-used every step (a one-item list: every pass yields the same batch).
    losses = fit(model, lambda batch: F.mse_loss(model(batch[0]), batch[1]), [(x, y)], steps=300, lr=0.1,
                 progress=False)
    theta = torch.cat([model.weight[0], model.bias]).detach()
    assert len(losses) == 300 and all(isinstance(loss, float) for loss in losses) and not model.training
    assert losses[0] > 100 * best
    # AdamW's decoupled weight decay (0.01) pulls the weights slightly towards 0, hence "near".
    torch.testing.assert_close(theta, solution, atol=0.02, rtol=0)
    assert best <= losses[-1] < 1.02 * best


@pytest.mark.parametrize("lr_schedule", ["constant", "cosine", "one_cycle"])
def test_fit_follows_the_learning_rate_schedule(lr_schedule):
    """With loss = w the gradient is 1 every step, so Adam's step is exactly the learning rate
    (m_hat = v_hat = 1) and AdamW's update is w <- w (1 - 0.01 lr_t) - lr_t / (1 + 1e-8): lr_t can be read off."""
    model = nn.Module()
    model.w = nn.Parameter(torch.zeros((), dtype=torch.float64))
    steps, lr, weights = 20, 0.1, [0.0]
    losses = fit(model, lambda batch: 1.0 * model.w, [None], steps=steps, lr=lr, lr_schedule=lr_schedule, progress=False,
                 on_step=lambda step: weights.append(model.w.item()))
    rates = [(w0 - w1) / (0.01 * w0 + 1 / (1 + 1e-8)) for w0, w1 in zip(weights, weights[1:])]
    assert losses == weights[:-1]  # each loss is computed before its step's update
    if lr_schedule == "constant":
        assert rates == pytest.approx([lr] * steps, rel=1e-9)
    elif lr_schedule == "cosine":  # Loshchilov & Hutter 2017, eq. 5 with eta_min = 0
        assert rates == pytest.approx([lr * (1 + math.cos(math.pi * t / steps)) / 2 for t in range(steps)], rel=1e-9)
    else:  # OneCycleLR starts at lr / 25; later steps also cycle Adam's beta1, so only the first is exact
        assert rates[0] == pytest.approx(lr / 25, rel=1e-9)
        assert rates[-1] < lr / 1000


def test_fit_cycles_the_batches_in_order_and_calls_on_step():
    seen, steps = [], []
    model = nn.Linear(1, 1)

    def loss_fn(batch):
        seen.append(batch)
        return model(torch.tensor([[float(batch)]])).sum()

    fit(model, loss_fn, [0, 1, 2], steps=7, lr=1e-3, progress=False, on_step=steps.append)
    assert seen == [0, 1, 2, 0, 1, 2, 0]
    assert steps == [1, 2, 3, 4, 5, 6, 7]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(steps=0), "steps must be a positive int"),
        (dict(steps=2.5), "steps must be a positive int"),
        (dict(steps=True), "steps must be a positive int"),
        (dict(lr=0.0), "lr must be a finite number > 0"),
        (dict(lr=-1e-3), "lr must be a finite number > 0"),
        (dict(lr="1e-3"), "lr must be a finite number > 0"),
        (dict(lr_schedule="step"), "lr_schedule must be one of 'constant', 'cosine', 'one_cycle'"),
        (dict(log_every=0), "log_every must be a positive int"),
        (dict(batches=[]), "batches yielded no batch"),
        (dict(batches=iter([0, 1]), steps=3), "batches yielded no batch"),  # a one-shot iterator runs out
    ],
)
def test_fit_rejects_bad_arguments(kwargs, match):
    model = nn.Linear(1, 1)
    args = dict(batches=[0], steps=1, lr=1e-3, progress=False) | kwargs
    with pytest.raises(ValueError, match=match):
        fit(model, lambda batch: model.weight.sum(), **args)


# --- diffusion_loss -------------------------------------------------------------------------------


def test_diffusion_loss_matches_a_hand_computation():
    x0 = torch.rand(6, 1, 4, 4) * 2 - 1
    context = torch.rand(6, 3)
    model = Recorder(context_dim=3)
    loss = diffusion_loss(model, SCHEDULE, x0, context, generator=torch.Generator().manual_seed(7))

    g = torch.Generator().manual_seed(7)
    t = torch.randint(0, 100, (6,), generator=g)
    eps = torch.randn(6, 1, 4, 4, generator=g)
    alpha_bar = torch.cumprod(1 - torch.linspace(1e-4, 0.02, 100), 0)[t].reshape(6, 1, 1, 1)
    x_t = alpha_bar.sqrt() * x0 + (1 - alpha_bar).sqrt() * eps  # Ho et al. 2020, eq. 4
    pred = 0.5 * x_t + (t.float() / 100 + context.sum(1)).reshape(6, 1, 1, 1)
    expected = ((pred - eps) ** 2).mean()

    torch.testing.assert_close(loss, expected)
    seen_x, seen_t, seen_c = model.calls[0]
    assert torch.equal(seen_t, t) and torch.equal(seen_c, context)
    torch.testing.assert_close(seen_x, x_t)


@pytest.mark.parametrize("gamma", [1.0, 5.0])
def test_min_snr_weighting_matches_a_hand_computation(gamma):
    """Min-SNR-gamma (Hang et al. 2023) for noise prediction: each sample's mean squared error times
    min(SNR_t, gamma) / SNR_t, SNR_t = abar_t / (1 - abar_t), written out here in float64 from the betas."""
    x0 = torch.rand(64, 1, 4, 4) * 2 - 1
    model = Recorder()
    loss = diffusion_loss(model, SCHEDULE, x0, generator=torch.Generator().manual_seed(3), min_snr_gamma=gamma)
    g = torch.Generator().manual_seed(3)
    t = torch.randint(0, 100, (64,), generator=g)
    eps = torch.randn(64, 1, 4, 4, generator=g)
    abar = torch.cumprod(1 - torch.linspace(1e-4, 0.02, 100, dtype=torch.float64), 0)[t]
    x_t = abar.sqrt().reshape(-1, 1, 1, 1) * x0 + (1 - abar).sqrt().reshape(-1, 1, 1, 1) * eps
    per_sample = ((0.5 * x_t + (t / 100).reshape(-1, 1, 1, 1) - eps) ** 2).mean((1, 2, 3))
    snr = abar / (1 - abar)
    weights = torch.minimum(snr, torch.tensor(gamma, dtype=torch.float64)) / snr
    assert 0 < weights.min() < 0.5 and weights.max() == 1  # both regimes are in the batch
    torch.testing.assert_close(loss.double(), (weights * per_sample).mean(), rtol=1e-5, atol=0)
    unweighted = diffusion_loss(Recorder(), SCHEDULE, x0, generator=torch.Generator().manual_seed(3))
    assert loss < unweighted  # every weight is at most 1, some far below


def test_min_snr_weighting_with_a_large_gamma_is_the_plain_loss():
    """With gamma above every SNR_t every weight is 1: the same loss as without weighting."""
    x0 = torch.rand(16, 2)
    big = (SCHEDULE.alphas_cumprod / (1 - SCHEDULE.alphas_cumprod)).max().item() * 2
    weighted = diffusion_loss(Recorder(), SCHEDULE, x0, generator=torch.Generator().manual_seed(1), min_snr_gamma=big)
    plain = diffusion_loss(Recorder(), SCHEDULE, x0, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(weighted, plain)


@pytest.mark.parametrize("gamma", [0.0, -1.0, float("nan")])
def test_min_snr_gamma_must_be_positive(gamma):
    with pytest.raises(ValueError, match="min_snr_gamma"):
        diffusion_loss(Recorder(), SCHEDULE, torch.rand(4, 2), min_snr_gamma=gamma)
    with pytest.raises(ValueError, match="min_snr_gamma"):
        _train(0, steps=1, min_snr_gamma=gamma)


def test_diffusion_loss_is_differentiable_and_a_perfect_model_scores_zero():
    class Oracle(nn.Module):
        """Knows x0, so it can invert eq. 4 exactly: eps = (x_t - sqrt(ab) x0) / sqrt(1 - ab)."""

        def __init__(self, x0):
            super().__init__()
            self.x0 = x0
            self.scale = nn.Parameter(torch.tensor(1.0))

        def forward(self, x_t, t, context=None):
            ab = SCHEDULE.alphas_cumprod[t].reshape(-1, 1)
            return self.scale * (x_t - ab.sqrt() * self.x0) / (1 - ab).sqrt()

    x0 = torch.randn(32, 2)
    oracle = Oracle(x0)
    loss = diffusion_loss(oracle, SCHEDULE, x0, generator=torch.Generator().manual_seed(0))
    assert loss.item() < 1e-8
    loss.backward()
    assert oracle.scale.grad is not None


# --- train_diffusion --------------------------------------------------------------------------------


def _train(seed, steps=15, **kwargs):
    torch.manual_seed(123)  # same initial weights every time
    model = MLPDenoiser(hidden_dim=32, num_layers=2)
    return train_diffusion(model, SCHEDULE, _points(), steps=steps, batch_size=16, seed=seed, progress=False,
                           device="cpu", **kwargs)


def test_train_diffusion_is_deterministic_per_seed():
    a, b, c = _train(seed=0), _train(seed=0), _train(seed=1)
    assert isinstance(a, TrainResult) and len(a.losses) == 15 and a.ema is None and a.seconds > 0
    assert a.losses == b.losses
    assert a.losses != c.losses


def test_train_diffusion_learns_two_clusters():
    """Points at (1, 1) or (-1, -1): the noise becomes predictable, so the loss must fall far below 1."""
    g = torch.Generator().manual_seed(0)
    sign = torch.randint(0, 2, (256, 1), generator=g) * 2.0 - 1.0
    data = TensorDataset(sign * torch.ones(2) + 0.05 * torch.randn(256, 2, generator=g))
    torch.manual_seed(123)
    model = MLPDenoiser(hidden_dim=32, num_layers=2)
    result = train_diffusion(model, SCHEDULE, data, steps=300, batch_size=16, lr=3e-3, progress=False, device="cpu")
    first, last = sum(result.losses[:20]) / 20, sum(result.losses[-50:]) / 50
    assert first > 0.8 and last < 0.6 * first, (first, last)


def test_train_diffusion_cycles_the_data_and_calls_back():
    calls = []
    # 64 points in batches of 16: 4 batches an epoch, so 10 steps need 3 passes over the data.
    result = _train(seed=0, steps=10, callback=lambda step, model: calls.append(step), callback_every=4,
                    ema_decay=0.9, lr_schedule="cosine")
    assert len(result.losses) == 10
    assert calls == [4, 8, 10]
    assert isinstance(result.ema, MLPDenoiser) and not result.ema.training


@pytest.mark.parametrize("p", [0.0, 0.3, 1.0])
def test_context_dropout_rate(p):
    model = Recorder(context_dim=5)
    train_diffusion(model, SCHEDULE, _points(n=200, labels=5), steps=20, batch_size=200, context_dropout=p,
                    progress=False, device="cpu")
    contexts = torch.cat([c for _, _, c in model.calls])
    dropped = (contexts.abs().sum(1) == 0).float()
    assert contexts.shape == (4000, 5)
    # Kept rows are untouched one-hot labels.
    kept = contexts[dropped == 0]
    assert torch.all(kept.sum(1) == 1) and torch.all(kept.max(1).values == 1)
    # 4000 Bernoulli(p) draws: the standard deviation of the rate is at most 0.008.
    assert abs(dropped.mean().item() - p) < 0.035


def test_unconditional_model_ignores_labels_and_bare_tensors_work():
    model = Recorder()
    train_diffusion(model, SCHEDULE, _points(labels=3), steps=2, batch_size=8, progress=False, device="cpu")
    assert all(c is None for _, _, c in model.calls)
    model = Recorder()
    train_diffusion(model, SCHEDULE, list(torch.randn(10, 2)), steps=2, batch_size=4, progress=False, device="cpu")
    assert model.calls[0][0].shape == (4, 2)


def test_multi_hot_attributes_pass_through_as_context():
    attributes = torch.tensor([[1.0, 0.0, 1.0]]).repeat(8, 1)
    model = Recorder(context_dim=3)
    train_diffusion(model, SCHEDULE, TensorDataset(torch.randn(8, 2), attributes), steps=1, batch_size=8,
                    progress=False, device="cpu")
    assert torch.equal(model.calls[0][2], attributes)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(steps=0), "steps must be a positive int"),
        (dict(batch_size=0), "batch_size must be a positive int"),
        (dict(lr=0.0), "lr must be a finite number > 0"),
        (dict(lr_schedule="step"), "lr_schedule must be"),
        (dict(context_dropout=1.5), r"context_dropout must be a finite number in \[0, 1\]"),
        (dict(context_dropout=0.1), "context_dropout > 0 needs a conditional model"),
        (dict(seed=-1), "seed must be a non-negative int"),
        (dict(ema_decay=1.0), r"decay must be a finite number in \(0, 1\)"),
    ],
)
def test_train_diffusion_rejects_bad_arguments(kwargs, match):
    args = dict(steps=1, progress=False, device="cpu") | kwargs
    with pytest.raises(ValueError, match=match):
        train_diffusion(Recorder(), SCHEDULE, _points(), **args)


def test_train_diffusion_needs_labels_for_a_conditional_model():
    with pytest.raises(ValueError, match=r"conditional \(context_dim=4\) but the dataset has no labels"):
        train_diffusion(Recorder(context_dim=4), SCHEDULE, _points(), steps=1, progress=False, device="cpu")


def test_train_diffusion_needs_context_dim():
    with pytest.raises(TypeError, match="context_dim"):
        train_diffusion(nn.Linear(2, 2), SCHEDULE, _points(), steps=1, progress=False, device="cpu")


# --- EMA ----------------------------------------------------------------------------------------------


def _scalar_model(value):
    model = nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        model.weight.fill_(value)
    return model


def test_ema_matches_the_closed_form():
    # Constant target w: e_n = w + (e_0 - w) d^n.
    model = _scalar_model(2.0)
    ema = EMA(model, decay=0.9, warmup=False)
    with torch.no_grad():
        model.weight.fill_(-1.0)
    for _ in range(7):
        ema.update(model)
    assert ema.model.weight.item() == pytest.approx(-1.0 + 3.0 * 0.9**7, rel=1e-6)


def test_ema_of_a_changing_target_is_the_weighted_sum():
    # e_n = d^n e_0 + (1 - d) sum_{k=1..n} d^(n-k) w_k.
    d, targets = 0.8, [1.0, -2.0, 0.5, 3.0]
    model = _scalar_model(0.25)
    ema = EMA(model, decay=d, warmup=False)
    for w in targets:
        with torch.no_grad():
            model.weight.fill_(w)
        ema.update(model)
    n = len(targets)
    expected = d**n * 0.25 + (1 - d) * sum(d ** (n - k) * w for k, w in enumerate(targets, 1))
    assert ema.model.weight.item() == pytest.approx(expected, rel=1e-6)


def test_ema_warmup_decay():
    model = _scalar_model(1.0)
    ema = EMA(model, decay=0.99)
    assert [ema.current_decay()] == [pytest.approx(1 / 10)]
    with torch.no_grad():
        model.weight.fill_(0.0)
    decays = []
    for _ in range(3):
        decays.append(ema.current_decay())
        ema.update(model)
    assert decays == pytest.approx([1 / 10, 2 / 11, 3 / 12])
    assert ema.model.weight.item() == pytest.approx(1 / 10 * 2 / 11 * 3 / 12, rel=1e-6)
    ema.num_updates = 10_000
    assert ema.current_decay() == 0.99


def test_ema_is_a_frozen_copy_and_copies_integer_buffers():
    model = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))
    ema = EMA(model, decay=0.5)
    assert ema.model is not model and not ema.model.training
    assert all(not p.requires_grad for p in ema.model.parameters())
    model(torch.randn(4, 2))  # one BatchNorm update: num_batches_tracked becomes 1
    ema.update(model)
    assert ema.model[1].num_batches_tracked.item() == 1


@pytest.mark.parametrize("decay", [0.0, 1.0, 1.5, -0.1, True, "0.9"])
def test_ema_rejects_bad_decay(decay):
    with pytest.raises(ValueError, match=r"decay must be a finite number in \(0, 1\)"):
        EMA(nn.Linear(1, 1), decay=decay)


def test_ema_rejects_another_architecture():
    ema = EMA(nn.Linear(2, 2), decay=0.9)
    with pytest.raises(ValueError, match="same parameters"):
        ema.update(nn.Linear(2, 3, bias=False))
