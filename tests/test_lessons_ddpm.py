"""Claims made in lessons 01 and 05 (forward process, training) and 06 (sampling), checked on small budgets."""

import copy
import itertools

import numpy as np
import torch
import torch.nn.functional as F
from diffusers import DDPMScheduler
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from course_lib import DDPMSampler, NoiseSchedule, UNet, load_pretrained, sample, train_diffusion
from course_lib.data import load_digits
from course_lib.pretrained import RECIPES


def _alpha_bar_float64(T=500, beta_start=1e-4, beta_end=0.02):
    """abar_t of the course's linear schedule, computed independently in float64 (Ho et al. 2020, eq. 4)."""
    return np.cumprod(1 - np.linspace(beta_start, beta_end, T))


def test_x_T_keeps_eight_percent_of_the_image():
    # Lessons 01 and 05: sqrt(abar_T) ~ 0.08 for T = 500, beta up to 0.02, so x_T is not exactly pure noise.
    abar = _alpha_bar_float64()
    assert 0.075 < np.sqrt(abar[-1]) < 0.085
    assert abs(NoiseSchedule.linear(500, 1e-4, 0.02).alphas_cumprod[-1].sqrt().item() - np.sqrt(abar[-1])) < 1e-4


def test_the_square_root_bug_is_worst_where_abar_is_near_one():
    # Lessons 01 and 05: the noise std (1 - abar) instead of sqrt(1 - abar) is too small by 1 / sqrt(1 - abar):
    # about 4x at t = 50, 17x at t = 10, and close to 1 only at the end.
    abar = _alpha_bar_float64()
    too_small_by = np.sqrt(1 - abar) / (1 - abar)
    assert 4.0 < too_small_by[50] < 4.5 and 17.0 < too_small_by[10] < 18.0 and too_small_by[499] < 1.01
    assert np.all(np.diff(too_small_by) < 0)  # the factor only shrinks as t grows
    # while the variance of unit-variance data hardly shows it at t = 50
    assert abs(abar[50] + (1 - abar[50]) ** 2 - 1) < 0.06


def test_the_bound_weights_the_first_steps_most():
    # Lesson 05, section 4: lambda_t = beta_t^2 / (2 sigma_t^2 alpha_t (1 - abar_t)) with sigma_t^2 = beta_t (Ho et al. eq. 12)
    betas = np.linspace(1e-4, 0.02, 500)
    abar = np.cumprod(1 - betas)
    weight = betas / (2 * (1 - betas) * (1 - abar))
    assert np.all(np.diff(weight[:240]) < 0) and weight.argmax() == 0
    assert 60 < weight[0] / weight[250] < 80
    assert 0.2 < weight[:10].sum() / weight.sum() < 0.3  # a quarter of the weight on 2% of the steps


def test_train_diffusion_is_a_hand_written_algorithm_1():
    # Lesson 05, section 6: same initial weights and seed -> same losses and weights, bit for bit.
    schedule = NoiseSchedule.linear(500, 1e-4, 0.02)
    dataset = TensorDataset(load_digits(16, "train").tensors[0][:40], torch.zeros(40))
    torch.manual_seed(0)
    model = UNet(in_channels=1, base_channels=8, channel_mults=(1, 2))  # small, for speed; same code path
    by_hand = copy.deepcopy(model)
    loader = DataLoader(dataset, 16, shuffle=True, generator=torch.Generator().manual_seed(0))
    draws = torch.Generator().manual_seed(1)
    optimiser = torch.optim.AdamW(by_hand.parameters(), lr=2e-3)
    losses = []
    for x0, _ in itertools.islice(itertools.chain.from_iterable(itertools.repeat(loader)), 4):  # 3 batches a pass
        t = torch.randint(0, 500, (len(x0),), generator=draws)
        eps = torch.randn(x0.shape, generator=draws)
        loss = F.mse_loss(by_hand(schedule.add_noise(x0, eps, t), t), eps)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    result = train_diffusion(model, schedule, dataset, steps=4, batch_size=16, lr=2e-3, device="cpu", seed=0, progress=False)
    assert result.losses == losses
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), by_hand.state_dict().values()))


def test_shipped_digits_model_recipe():
    # Lesson 05: "30,000 steps", "d = 0.999 to 0.9995", "Min-SNR-5 weighting", "shifted copies", "dropout"
    recipe = RECIPES["digits"]
    assert recipe.steps == 30_000 and recipe.ema_decay == 0.9995 and recipe.min_snr_gamma == 5
    assert recipe.augment_shift > 0 and recipe.model_config["dropout"] > 0
    assert RECIPES["digits-cond"].ema_decay == 0.999


def test_posterior_mean_eq_7_equals_eq_11():
    # Lesson 06, section 1: substituting x_0 = (x_t - sqrt(1 - abar_t) eps) / sqrt(abar_t) into eq. 7 gives eq. 11.
    abar = _alpha_bar_float64()
    rng = np.random.default_rng(0)
    for t in [1, 10, 250, 499]:
        alpha, beta = abar[t] / abar[t - 1], 1 - abar[t] / abar[t - 1]
        x_t, eps = rng.standard_normal((2, 64))
        x0 = (x_t - np.sqrt(1 - abar[t]) * eps) / np.sqrt(abar[t])
        eq_7 = np.sqrt(abar[t - 1]) * beta / (1 - abar[t]) * x0 + np.sqrt(alpha) * (1 - abar[t - 1]) / (1 - abar[t]) * x_t
        eq_11 = (x_t - beta / np.sqrt(1 - abar[t]) * eps) / np.sqrt(alpha)
        np.testing.assert_allclose(eq_7, eq_11, rtol=0, atol=1e-10)


def test_posterior_variance_is_the_least_squares_residual():
    # Lesson 06, section 1: for a fixed x_0, Var(x_{t-1} | x_t) = beta-tilde_t and E[x_{t-1} | x_t] is eq. 7's line.
    abar = _alpha_bar_float64()
    t, x0, n = 100, -0.3, 400_000
    rng = np.random.default_rng(1)
    x_prev = np.sqrt(abar[t - 1]) * x0 + np.sqrt(1 - abar[t - 1]) * rng.standard_normal(n)
    alpha = abar[t] / abar[t - 1]
    x_t = np.sqrt(alpha) * x_prev + np.sqrt(1 - alpha) * rng.standard_normal(n)
    slope, intercept = np.polyfit(x_t, x_prev, 1)
    assert abs(slope - np.sqrt(alpha) * (1 - abar[t - 1]) / (1 - abar[t])) < 2e-3
    assert abs(intercept - np.sqrt(abar[t - 1]) * (1 - alpha) / (1 - abar[t]) * x0) < 2e-3
    beta_tilde = (1 - abar[t - 1]) / (1 - abar[t]) * (1 - alpha)
    assert abs(np.var(x_prev - slope * x_t - intercept) / beta_tilde - 1) < 0.01


class _Toy(nn.Module):
    """A fixed nonlinear stand-in for eps_theta(x_t, t)."""

    def forward(self, x, t):
        return 0.3 * torch.tanh(x) * (1 + t.float().reshape(-1, 1) / 50)


def test_algorithm_2_by_hand_equals_ddpm_sampler_and_diffusers():
    # Lesson 06, section 2, on a toy denoiser and a short chain.
    T = 50
    schedule = NoiseSchedule.linear(T, 1e-4, 0.2)
    model = _Toy()
    shape = (6, 4)
    g = torch.Generator().manual_seed(3)
    x = torch.randn(shape, generator=g)
    for t in range(T - 1, -1, -1):  # Algorithm 2 in eq. 11's form
        alpha, abar = schedule.alphas[t], schedule.alphas_cumprod[t]
        x = (x - (1 - alpha) / (1 - abar).sqrt() * model(x, torch.full((6,), t))) / alpha.sqrt()
        if t > 0:
            x = x + ((1 - schedule.alphas_cumprod[t - 1]) / (1 - abar) * (1 - alpha)).sqrt() * torch.randn(shape, generator=g)
    library = sample(_ContextFree(model), DDPMSampler(schedule), shape, generator=torch.Generator().manual_seed(3), progress=False)
    scheduler = DDPMScheduler(num_train_timesteps=T, beta_start=1e-4, beta_end=0.2, beta_schedule="linear",
                              variance_type="fixed_small", clip_sample=False)
    g = torch.Generator().manual_seed(3)
    y = torch.randn(shape, generator=g)
    for t in scheduler.timesteps:
        y = scheduler.step(model(y, t.expand(6)), t, y, generator=g).prev_sample
    assert torch.allclose(x, library, atol=1e-5) and torch.allclose(library, y, atol=1e-5)
    # and the noise matters: without it the result is different
    assert not torch.allclose(sample(_ContextFree(model), DDPMSampler(schedule, add_noise=False), shape,
                                     generator=torch.Generator().manual_seed(3), progress=False), library, atol=1e-2)


class _ContextFree(nn.Module):
    """Wraps a model(x, t) as the model(x, t, context) that course_lib.sample calls."""

    def __init__(self, model):
        super().__init__()
        self.model = model
        self.dummy = nn.Parameter(torch.zeros(()))  # sample() reads the device from the parameters

    def forward(self, x, t, context=None):
        return self.model(x, t)


def test_closed_form_equals_the_chain_of_single_steps():
    # Lesson 05, section 3: iterating q(x_t | x_{t-1}) t times gives N(sqrt(abar_t) x_0, (1 - abar_t) I).
    schedule = NoiseSchedule.linear(500, 1e-4, 0.02)
    g = torch.Generator().manual_seed(0)
    x0 = torch.rand(16, generator=g) * 2 - 1
    x = x0.expand(20000, -1).clone()
    t = 150
    for beta in schedule.betas[: t + 1]:  # 0-based: betas[0..t] lead to timestep t
        x = (1 - beta).sqrt() * x + beta.sqrt() * torch.randn(x.shape, generator=g)
    abar = schedule.alphas_cumprod[t]
    assert torch.allclose(x.mean(0), abar.sqrt() * x0, atol=0.02)  # 5 standard errors of the mean
    assert torch.allclose(x.std(0), (1 - abar).sqrt().expand(16), rtol=0.03)
    # the classic bug's noise scale, 1 - abar instead of sqrt(1 - abar), is far outside that tolerance
    assert not torch.allclose(x.std(0), (1 - abar).expand(16), rtol=0.3)


def test_forgetting_the_noise_term_shrinks_x_t_and_the_diversity_of_samples():
    # Lesson 06, section 4, on the shipped model with a small sample.
    model, schedule = load_pretrained("digits")
    real = load_digits(16, "test").tensors[0]
    runs = {}
    for add_noise in (True, False):
        samples, trajectory = sample(model, DDPMSampler(schedule, add_noise=add_noise), (16, 1, 16, 16),
                                     generator=torch.Generator().manual_seed(0), return_trajectory=True, progress=False)
        runs[add_noise] = samples, trajectory
    diversity = {k: samples.std(0).mean().item() for k, (samples, _) in runs.items()}
    real_diversity = real.std(0).mean().item()
    # correct ancestral sampling spreads like the real digits; without the noise term the samples are far more alike
    assert abs(diversity[True] - real_diversity) < 0.25 * real_diversity
    assert diversity[False] < 0.75 * diversity[True]

    # the spread of x_t follows the forward process with the noise term, and falls below it without
    t = 250
    k = schedule.num_timesteps - 1 - t  # trajectory[k] is the model's input at timestep t
    abar, data_var = schedule.alphas_cumprod[t], load_digits(16, "train").tensors[0].var()
    forward_std = (abar * data_var + 1 - abar).sqrt().item()
    assert abs(runs[True][1][k].std().item() - forward_std) < 0.1 * forward_std
    assert runs[False][1][k].std().item() < 0.8 * forward_std
