"""Claims made in lessons 05 (forward process, training) and 06 (sampling), checked on small budgets."""

import torch

from course_lib import DDPMSampler, NoiseSchedule, load_pretrained, sample
from course_lib.data import load_digits


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
