"""NoiseSchedule against diffusers' DDPMScheduler, the closed-form formulas and the statistics of q(x_t | x_0)."""

import math

import numpy as np
import pytest
import torch
from diffusers import DDPMScheduler

from course_lib.schedules import NoiseSchedule


def _diffusers(num_timesteps: int, beta_schedule: str, **kwargs) -> DDPMScheduler:
    return DDPMScheduler(num_train_timesteps=num_timesteps, beta_schedule=beta_schedule, **kwargs)


@pytest.mark.parametrize(
    ("num_timesteps", "beta_start", "beta_end"),
    [(1000, 1e-4, 0.02), (500, 1e-4, 0.02), (50, 1e-3, 0.2), (1, 0.01, 0.01)],
)
def test_linear_matches_diffusers(num_timesteps, beta_start, beta_end):
    ours = NoiseSchedule.linear(num_timesteps, beta_start, beta_end)
    ref = _diffusers(num_timesteps, "linear", beta_start=beta_start, beta_end=beta_end)
    assert ours.num_timesteps == num_timesteps
    assert ours.betas.dtype == ours.alphas_cumprod.dtype == torch.float32
    assert ours.betas.shape == ours.alphas.shape == ours.alphas_cumprod.shape == (num_timesteps,)
    torch.testing.assert_close(ours.betas, ref.betas, atol=1e-6, rtol=0)
    torch.testing.assert_close(ours.alphas, ref.alphas, atol=1e-6, rtol=0)
    torch.testing.assert_close(ours.alphas_cumprod, ref.alphas_cumprod, atol=1e-6, rtol=0)


@pytest.mark.parametrize("num_timesteps", [1000, 500, 50, 10])
def test_cosine_matches_diffusers(num_timesteps):
    ours = NoiseSchedule.cosine(num_timesteps)
    ref = _diffusers(num_timesteps, "squaredcos_cap_v2")
    torch.testing.assert_close(ours.betas, ref.betas, atol=1e-6, rtol=0)
    torch.testing.assert_close(ours.alphas_cumprod, ref.alphas_cumprod, atol=1e-6, rtol=0)


def test_linear_formula():
    ours = NoiseSchedule.linear(1000, 1e-4, 0.02)
    betas = np.linspace(1e-4, 0.02, 1000)  # float64 reference
    np.testing.assert_allclose(ours.betas.numpy(), betas, atol=1e-8, rtol=0)
    np.testing.assert_allclose(ours.alphas.numpy(), 1 - betas, atol=1e-7, rtol=0)
    # float32 cumprod over 1000 factors: rounding error of order 1e-7.
    np.testing.assert_allclose(ours.alphas_cumprod.numpy(), np.cumprod(1 - betas), atol=1e-6, rtol=0)


@pytest.mark.parametrize(("num_timesteps", "s", "max_beta"), [(1000, 0.008, 0.999), (100, 0.008, 0.999), (200, 0.02, 0.9)])
def test_cosine_closed_form(num_timesteps, s, max_beta):
    """Nichol & Dhariwal 2021, eq. 17: alpha_bar_t = f(t) / f(0), f(t) = cos^2(((t/T + s) / (1 + s)) pi/2).

    With 0-based index i, alphas_cumprod[i] is the paper's alpha_bar_{i+1}. Every beta is capped at
    max_beta; the cap binds where the uncapped beta would exceed it (the last steps), after which the
    cumulative product follows the capped betas instead of the closed form.
    """
    ours = NoiseSchedule.cosine(num_timesteps, s=s, max_beta=max_beta)

    def f(t):
        return math.cos((t / num_timesteps + s) / (1 + s) * math.pi / 2) ** 2

    alpha_bar = np.array([f(i + 1) / f(0) for i in range(num_timesteps)])
    uncapped = 1 - alpha_bar / np.concatenate([[1.0], alpha_bar[:-1]])
    capped = uncapped >= max_beta
    first_cap = int(np.argmax(capped))
    assert capped[-1] and first_cap > 0.9 * num_timesteps, "the cap should bind only at the very end"

    betas = ours.betas.double().numpy()
    np.testing.assert_allclose(betas, np.minimum(uncapped, max_beta), atol=1e-6, rtol=0)
    assert betas.max() <= max_beta + 1e-7
    np.testing.assert_allclose(ours.alphas_cumprod[:first_cap].double().numpy(), alpha_bar[:first_cap], atol=1e-6, rtol=0)
    # Past the cap: alpha_bar keeps multiplying by (1 - max_beta) instead of falling to 0.
    expected_tail = alpha_bar[first_cap - 1] * np.cumprod(1 - np.minimum(uncapped, max_beta)[first_cap:])
    np.testing.assert_allclose(ours.alphas_cumprod[first_cap:].double().numpy(), expected_tail, rtol=1e-4, atol=1e-12)


def test_custom_betas():
    betas = torch.tensor([0.1, 0.2, 0.5], dtype=torch.float64)
    sched = NoiseSchedule(betas)
    assert sched.betas.dtype == torch.float32
    torch.testing.assert_close(sched.alphas_cumprod, torch.tensor([0.9, 0.72, 0.36]))


@pytest.mark.parametrize("schedule_name", ["linear", "cosine"])
@pytest.mark.parametrize("shape", [(16, 3, 8, 8), (64, 2), (7, 1, 5, 9)])
def test_add_noise_matches_diffusers(schedule_name, shape):
    T = 1000
    ours = getattr(NoiseSchedule, schedule_name)(T)
    ref = _diffusers(T, {"linear": "linear", "cosine": "squaredcos_cap_v2"}[schedule_name])
    gen = torch.Generator().manual_seed(sum(shape))
    x0 = torch.rand(shape, generator=gen) * 2 - 1
    noise = torch.randn(shape, generator=gen)
    timesteps = torch.randint(0, T, (shape[0],), generator=gen)
    timesteps[0], timesteps[1] = 0, T - 1  # both ends of the range
    expected = ref.add_noise(x0, noise, timesteps)
    got = ours.add_noise(x0, noise, timesteps)
    assert got.shape == x0.shape and got.dtype == x0.dtype
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=0)


def test_add_noise_keeps_float64():
    sched = NoiseSchedule.linear(100)
    x0 = torch.linspace(-1, 1, 12, dtype=torch.float64).reshape(6, 2)
    noise = torch.ones_like(x0)
    t = torch.arange(0, 60, 10)
    got = sched.add_noise(x0, noise, t)
    assert got.dtype == torch.float64
    ab = sched.alphas_cumprod.double()[t].unsqueeze(1)
    torch.testing.assert_close(got, ab.sqrt() * x0 + (1 - ab).sqrt() * noise, atol=1e-7, rtol=0)


def _matches_marginal(xt: torch.Tensor, x0: torch.Tensor, alpha_bar: float) -> bool:
    """True when the N samples xt (N, D) are consistent with N(sqrt(alpha_bar) x0, (1 - alpha_bar) I).

    Statistical tolerance: with N iid Gaussian samples of variance v, the sample mean has standard
    error sqrt(v / N) and the sample variance has standard error v sqrt(2 / (N - 1)). We allow 5
    standard errors per coordinate, so a correct implementation fails with probability below 1e-5 over
    all coordinates (and the seed is fixed anyway), while a variance off by more than ~2.5 % is caught.
    """
    n = xt.shape[0]
    v = 1 - alpha_bar
    mean_ok = (xt.mean(0) - math.sqrt(alpha_bar) * x0).abs().max() <= 5 * math.sqrt(v / n)
    var_ok = (xt.var(0) - v).abs().max() <= 5 * v * math.sqrt(2 / (n - 1))
    return bool(mean_ok and var_ok)


@pytest.mark.parametrize("t", [0, 10, 100, 300])
def test_add_noise_marginal_statistics(t):
    """q(x_t | x_0) = N(sqrt(abar_t) x_0, (1 - abar_t) I) (Ho et al. 2020, eq. 4), checked on samples.

    Regression test for the error of earlier courses, noise scaled by (1 - abar) instead of
    sqrt(1 - abar): the same check must reject that formula at every t used here.
    """
    sched = NoiseSchedule.linear(1000)
    n = 100_000
    x0 = torch.tensor([0.8, -0.5, 0.1]).expand(n, 3)
    noise = torch.randn(n, 3, generator=torch.Generator().manual_seed(t))
    timesteps = torch.full((n,), t)
    alpha_bar = sched.alphas_cumprod[t].item()

    assert _matches_marginal(sched.add_noise(x0, noise, timesteps), x0[0], alpha_bar)

    wrong = math.sqrt(alpha_bar) * x0 + (1 - alpha_bar) * noise
    assert not _matches_marginal(wrong, x0[0], alpha_bar)


def test_check_timesteps_returns_long():
    sched = NoiseSchedule.linear(10)
    out = sched.check_timesteps(torch.tensor([0, 9], dtype=torch.int32), batch_size=2)
    assert out.dtype == torch.long and out.tolist() == [0, 9]
    assert sched.check_timesteps(3).item() == 3


@pytest.mark.parametrize(
    ("build", "match"),
    [
        (lambda: NoiseSchedule(torch.tensor([0.1, 1.0])), "betas"),
        (lambda: NoiseSchedule(torch.tensor([0.0, 0.1])), "betas"),
        (lambda: NoiseSchedule(torch.tensor([0.1, float("nan")])), "betas"),
        (lambda: NoiseSchedule(torch.tensor([[0.1, 0.2]])), "betas"),
        (lambda: NoiseSchedule(torch.tensor([])), "betas"),
        (lambda: NoiseSchedule.linear(1000, beta_start=0.02, beta_end=1e-4), "beta_start"),
        (lambda: NoiseSchedule.linear(1000, beta_start=0.0), "beta_start"),
        (lambda: NoiseSchedule.linear(1000, beta_end=1.0), "beta_end"),
        (lambda: NoiseSchedule.linear(0), "num_timesteps"),
        (lambda: NoiseSchedule.linear(-5), "num_timesteps"),
        (lambda: NoiseSchedule.linear(10.0), "num_timesteps"),
        (lambda: NoiseSchedule.cosine(0), "num_timesteps"),
        (lambda: NoiseSchedule.cosine(100, max_beta=1.0), "max_beta"),
        (lambda: NoiseSchedule.cosine(100, max_beta=0.0), "max_beta"),
        (lambda: NoiseSchedule.cosine(100, s=-0.1), "s must"),
    ],
)
def test_bad_schedule_parameters(build, match):
    with pytest.raises(ValueError, match=match):
        build()


@pytest.mark.parametrize(
    ("timesteps", "error"),
    [
        (torch.tensor([0, 1000]), ValueError),  # T is one past the end
        (torch.tensor([-1, 5]), ValueError),
        (torch.tensor([1.0, 5.0]), TypeError),
        (torch.tensor([True, False]), TypeError),
        (torch.tensor([1, 2, 3]), ValueError),  # one per sample: wrong shape
        (torch.tensor([[1, 2]]), ValueError),
    ],
)
def test_add_noise_bad_timesteps(timesteps, error):
    sched = NoiseSchedule.linear(1000)
    x0 = torch.zeros(2, 3)
    with pytest.raises(error, match="timesteps"):
        sched.add_noise(x0, torch.randn(2, 3), timesteps)


def test_add_noise_bad_noise_shape():
    sched = NoiseSchedule.linear(1000)
    with pytest.raises(ValueError, match="noise"):
        sched.add_noise(torch.zeros(2, 3), torch.zeros(2, 4), torch.tensor([1, 2]))
