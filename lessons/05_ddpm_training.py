# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "slide"}
# # DDPM: the forward process and training
#
# - **Forward process**: add a little Gaussian noise at each of $T$ steps. No parameters: we
#   write it down exactly.
# - **Reverse process**: a network that predicts the noise undoes one step at a time.
# - This lesson: the forward process and training. Lesson 06: sampling.

# %% [markdown] slideshow={"slide_type": "notes"}
# # DDPM: the forward process and training
#
# A denoising diffusion probabilistic model (DDPM, Ho, Jain & Abbeel 2020) has two halves. The
# **forward process** destroys an image by adding a little Gaussian noise at each of $T$ steps;
# it has no parameters and we can write it down exactly. The **reverse process** undoes one
# step at a time with a neural network that has learned to predict the noise. This lesson is
# about the first half and about training the network; lesson 06 is about sampling with it.

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ## Learning objectives
#
# - noise real digits to any timestep in one line
# - compare the linear and cosine schedules through $\bar\alpha_t$
# - derive and check $q(x_t \mid x_0)$; spot the missing square root
# - say where "predict the noise" comes from
# - write Algorithm 1 as a loop equal to `train_diffusion`
# - measure what an EMA of the weights does
# - weight the loss by timestep: Min-SNR-$\gamma$

# %% [markdown] slideshow={"slide_type": "notes"}
# **Learning objectives.** By the end of this lesson you can
#
# - describe the forward process and noise real digits to any timestep in one line;
# - compare the linear and cosine noise schedules through $\bar\alpha_t$, and say why Nichol &
#   Dhariwal (2021) preferred the cosine one for small images;
# - derive and check numerically the closed form $q(x_t \mid x_0) = \mathcal{N}(\sqrt{\bar\alpha_t}\, x_0, (1 - \bar\alpha_t) I)$,
#   and spot the classic bug of using $1 - \bar\alpha_t$ as the noise *scale*;
# - say where the simplified DDPM loss (predict the noise, mean squared error) comes from, and write it;
# - write Algorithm 1 of Ho et al. as a training loop, run it, and check that `train_diffusion`
#   computes exactly the same thing;
# - explain the exponential moving average (EMA) of the weights and measure what it does to samples;
# - write Min-SNR-$\gamma$ loss weighting (Hang et al. 2023), a third choice of $\lambda_t$ that moves
#   weight even further from the nearly clean steps than $L_\text{simple}$ does.
#
# **Estimated time:** 100 minutes (55 of reading and running, 45 for the exercises).

# %% slideshow={"slide_type": "skip"}
import copy
import itertools
import math

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader

from course_lib import (DDIMSampler, NoiseSchedule, UNet, diffusion_loss, load_pretrained, sample,
                        train_diffusion)
from course_lib.classifier import predict
from course_lib.config import fast_or_full, get_device, seed_everything
from course_lib.data import load_digits
from course_lib.evaluation import judge_images, print_table, sample_and_judge
from course_lib.exercises import check
from course_lib.models import count_parameters
from course_lib.plotting import plot_losses, plot_schedules, show_images
from course_lib.training import EMA, noise_prediction_error

# %% slideshow={"slide_type": "skip"}
import warnings

from tqdm import TqdmWarning

# diffusers imports tqdm.auto, which warns in a notebook without ipywidgets; its bars are not used
# here (exercise 4 compares with diffusers' SNR).
warnings.filterwarnings("ignore", category=TqdmWarning)
from diffusers import DDPMScheduler  # noqa: E402
from diffusers.training_utils import compute_snr  # noqa: E402

# %% slideshow={"slide_type": "skip"}
generator = seed_everything(0)
device = get_device()
# GPU kernels are not bit-reproducible; there "the same" means "the same to rounding"
bit_exact = device.type == "cpu"
train_set = load_digits(16, "train")
test_images = load_digits(16, "test").tensors[0]
digits = train_set.tensors[0][:6]  # six real digits, (6, 1, 16, 16) in [-1, 1]
schedule = NoiseSchedule.linear(500, 1e-4, 0.02)  # the course's image schedule
print(f"{len(train_set)} training digits, {len(test_images)} held out, images"
      f" {tuple(digits.shape[1:])}, device {device}")

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "slide"}
# ## 1. The forward process: adding noise step by step
#
# $$
# q(x_t \mid x_{t-1}) = \mathcal{N}\!\left(\sqrt{1 - \beta_t}\, x_{t-1},\ \beta_t I\right)
# $$
#
# - each step shrinks the image by $\sqrt{1 - \beta_t}$ and adds noise of variance $\beta_t$: the
#   variance stays near 1
# - $x_T$ is close to $\mathcal{N}(0, I)$, where sampling starts (close, not equal: section 2)
# - the course: $T = 500$, $\beta_t$ rising linearly from $10^{-4}$ to $0.02$, images in $[-1, 1]$

# %% [markdown] slideshow={"slide_type": "notes"}
# ## 1. The forward process: adding noise step by step
#
# Pick a **noise schedule** $\beta_1, \dots, \beta_T$ of small variances. One forward step shrinks
# the image a little and adds a little fresh Gaussian noise (Ho et al. 2020, eq. 2):
#
# $$
# q(x_t \mid x_{t-1}) = \mathcal{N}\!\left(\sqrt{1 - \beta_t}\, x_{t-1},\ \beta_t I\right).
# $$
#
# The shrinking by $\sqrt{1-\beta_t}$ is what keeps the variance near 1 (a *variance preserving*
# process): after enough steps, whatever image we started from, $x_T$ is close to pure noise
# $\mathcal{N}(0, I)$, the distribution we will later sample from. Close, not equal: section 2
# computes how much of the image the course's schedule still leaves in $x_T$.

# %% [markdown] slideshow={"slide_type": "notes"}
# The course uses $T = 500$ and $\beta_t$ rising linearly from $10^{-4}$ to $0.02$, with images in
# $[-1, 1]$. Below: four training digits noised to several timesteps with `schedule.add_noise`.

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### The digit fades: noise as strong as the image near $t \approx 200$

# %%
timesteps_shown = [0, 25, 50, 100, 200, 300, 400, 499]
noise = torch.randn((len(timesteps_shown), *digits.shape), generator=generator)
rows = [schedule.add_noise(digits, noise[i], torch.full((len(digits),), t))
        for i, t in enumerate(timesteps_shown)]
num_shown = 4  # digits in the figure: four rows of tiles stay legible on a slide
grid = torch.stack(rows, dim=1)[:num_shown].flatten(0, 1)  # digit by digit, a column per timestep
show_images(grid, nrow=len(timesteps_shown),
            labels=[f"t={t}" for t in timesteps_shown] * num_shown,
            title="Real digits noised by the forward process")
plt.show()

# %% [markdown] slideshow={"slide_type": "notes"}
# The digit fades as $t$ grows: around $t \approx 200$ the noise is as strong as the image
# (the table in section 2 puts a number on it), and by $t \approx 400$ little is
# left. The network will have to learn to undo every one of these steps.

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "slide"}
# ## 2. Linear and cosine schedules
#
# - what matters is $\bar\alpha_t = \prod_{s \le t} (1 - \beta_s)$: $x_t$ keeps $\sqrt{\bar\alpha_t}$
#   of the image
# - linear (Ho et al.): $\bar\alpha_t \approx 0$ well before $t = T$, the last steps are near-pure noise
# - cosine (Nichol & Dhariwal 2021): $\bar\alpha_t = f(t)/f(0)$,
#   $f(t) = \cos^2\!\big(\frac{t/T + s}{1 + s} \cdot \frac{\pi}{2}\big)$, gentle at both ends
# - it matters most for small images: noise drowns them sooner

# %% [markdown] slideshow={"slide_type": "notes"}
# ## 2. Linear and cosine schedules
#
# What matters is not $\beta_t$ itself but the product $\bar\alpha_t = \prod_{s \le t} (1 - \beta_s)$:
# as we will see in section 3, $x_t$ keeps a fraction $\sqrt{\bar\alpha_t}$ of the image and is
# made of a fraction $\sqrt{1 - \bar\alpha_t}$ of noise.
#
# Nichol & Dhariwal (2021, section 3.2) found the linear schedule of Ho et al. fine for large
# images but sub-optimal at 64x64 and 32x32: $\bar\alpha_t$ drops to almost zero well before
# $t = T$, so the end of the forward process is too noisy and contributes little to sample
# quality. (A linear-schedule model barely got worse, in FID, when they skipped up to the first
# 20% of its reverse process.) They proposed the **cosine schedule** (their eq. 17)
#
# $$
# \bar\alpha_t = \frac{f(t)}{f(0)}, \qquad f(t) = \cos^2\!\left(\frac{t/T + s}{1 + s} \cdot \frac{\pi}{2}\right), \quad s = 0.008,
# $$
#
# which is nearly linear in the middle and changes slowly at both ends, so that information
# is destroyed more gradually. Small images are the case where this matters most: they have
# few pixels to spread a signal over, so they are drowned by noise sooner.

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### Same digit, same noise: the linear schedule buries it sooner

# %%
schedules = {"linear": schedule, "cosine": NoiseSchedule.cosine(500)}
fig, axes = plt.subplots(1, 2, figsize=(10, 3.5), layout="constrained")
plot_schedules(schedules, ax=axes[0], sqrt=True, title=r"$\bar\alpha_t$ for T = 500")
axes[0].legend(loc="lower left")  # the empty corner: clear of the curves
cosine_row = [schedules["cosine"].add_noise(digits[:1], noise[i, :1], torch.tensor([t]))
              for i, t in enumerate(timesteps_shown)]
linear_row = [rows[i][:1] for i in range(len(timesteps_shown))]
show_images(torch.cat(linear_row + cosine_row), nrow=len(timesteps_shown), ax=axes[1],
            title="same digit, noise and t as in section 1\nlinear schedule (top), cosine (bottom)")
plt.show()

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### How many steps are spent on noise?

# %%
print(f"{'schedule':>18} {'abar(T/2)':>10} {'abar(T)':>9} {'SNR < 1 from':>13}"
      f" {'steps with abar < 0.01':>23}")
for T in [500, 1000]:
    linear, cosine = NoiseSchedule.linear(T, 1e-4, 0.02), NoiseSchedule.cosine(T)
    for name, s in {"linear": linear, "cosine": cosine}.items():
        abar = s.alphas_cumprod
        # SNR < 1: noise's scale over the image's; abar < 0.01: under a tenth of its amplitude
        snr_below_one = int((abar / (1 - abar) < 1).nonzero()[0]) / T
        noise_only = (abar < 1e-2).float().mean().item()
        print(f"{f'{name}, T = {T}':>18} {abar[T // 2]:10.3f} {abar[-1]:9.1e} {snr_below_one:13.0%}"
              f" {noise_only:23.0%}")
signal_left = schedule.alphas_cumprod[-1].sqrt().item()  # the course's schedule: linear, T = 500
print(f"course schedule: sqrt(abar_T) = {signal_left:.3f}, so x_T = {signal_left:.3f} x_0 +"
      f" {math.sqrt(1 - signal_left**2):.3f} eps")

# %% [markdown] tags=["slides-only"]
# - linear, $T = 1000$: about a third of the steps keep less than a tenth of the image's
#   amplitude; cosine: a few percent
# - the course's linear $T = 500$: few pure-noise steps, but the image is buried earlier than with cosine
# - $\sqrt{\bar\alpha_T} \approx 0.08$: $x_T$ is *not* exactly pure noise (Lin et al. 2024)

# %% [markdown] slideshow={"slide_type": "notes"}
# Ho et al.'s linear schedule ($T = 1000$) spends about a third of its steps with less than a
# tenth of the image's amplitude left, the cosine schedule a few percent, and its signal-to-noise
# ratio $\bar\alpha_t / (1 - \bar\alpha_t)$ drops below 1 later. The course's shorter chain
# ($T = 500$, same $\beta$ range) sums fewer $\beta$s, so it spends few steps on pure noise, but it
# still buries the image earlier than the cosine schedule does. The pretrained models use it.
#
# It also leaves more of the image at the end: $\sqrt{\bar\alpha_T}$, printed last, is about 8% of
# the image's amplitude, so $x_T$ is *not* exactly pure noise. Sampling nevertheless starts from
# $\mathcal{N}(0, I)$, a small mismatch that Lin et al. (2024) show matters for large models
# (they rescale the schedule so that $\bar\alpha_T = 0$); the shipped models are trained and sampled with it.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 3. Jumping to any timestep: $q(x_t \mid x_0)$ in closed form
#
# Write one step as $x_t = \sqrt{\alpha_t}\, x_{t-1} + \sqrt{1 - \alpha_t}\, \epsilon_t$ with
# $\alpha_t = 1 - \beta_t$ and $\epsilon_t \sim \mathcal{N}(0, I)$. Substituting the previous step,
#
# $$
# x_t = \sqrt{\alpha_t \alpha_{t-1}}\, x_{t-2} + \sqrt{\alpha_t (1 - \alpha_{t-1})}\, \epsilon_{t-1} + \sqrt{1 - \alpha_t}\, \epsilon_t .
# $$
#
# The two noise terms are independent Gaussians, so their variances add:
# $\alpha_t(1 - \alpha_{t-1}) + 1 - \alpha_t = 1 - \alpha_t \alpha_{t-1}$. Repeating down to $x_0$
# (Ho et al. 2020, eq. 4):
#
# $$
# q(x_t \mid x_0) = \mathcal{N}\!\left(\sqrt{\bar\alpha_t}\, x_0,\ (1 - \bar\alpha_t) I\right), \qquad
# x_t = \sqrt{\bar\alpha_t}\, x_0 + \sqrt{1 - \bar\alpha_t}\, \epsilon .
# $$
#
# This is what `add_noise` computes, and why training is cheap: to make a training example at
# timestep $t$ we do not run $t$ steps, we draw one $\epsilon$.

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### A numerical check: one jump against $t$ single steps

# %% [markdown]
# **A numerical check.** Take one digit, draw many noises, and compare the empirical mean and
# standard deviation of $x_t$ (over the draws, per pixel) with the formula. As an independent
# reference we also run the chain of single steps $q(x_t \mid x_{t-1})$ $t$ times.

# %%
num_draws, x0 = fast_or_full(4000, 20000), digits[0]  # x0: (1, 16, 16)
print(f"{num_draws} draws per timestep; errors are the largest over the 256 pixels")
print(f"{'t':>4} {'sqrt(abar)':>10} {'sqrt(1-abar)':>12} {'mean err (jump)':>16} {'std (jump)':>11}"
      f" {'std (chain)':>12} {'mean err (chain)':>17}")
chain, done = x0.expand(num_draws, -1, -1, -1).clone(), 0  # steps taken so far
for t in [50, 150, 300]:
    abar = schedule.alphas_cumprod[t]
    jump_noise = torch.randn((num_draws, *x0.shape), generator=generator)
    jump = schedule.add_noise(x0.expand_as(jump_noise), jump_noise, torch.full((num_draws,), t))
    while done <= t:  # single steps up to and including betas[t] (timesteps are 0-based)
        beta, step_noise = schedule.betas[done], torch.randn(chain.shape, generator=generator)
        chain = (1 - beta).sqrt() * chain + beta.sqrt() * step_noise
        done += 1
    expected_mean, expected_std = abar.sqrt() * x0, (1 - abar).sqrt()
    errors = [(x.mean(0) - expected_mean).abs().max().item() for x in (jump, chain)]
    stds = [x.std(0).mean().item() for x in (jump, chain)]
    print(f"{t:4d} {abar.sqrt():10.4f} {expected_std:12.4f} {errors[0]:16.4f} {stds[0]:11.4f}"
          f" {stds[1]:12.4f} {errors[1]:17.4f}")
    # the standard error of a mean of num_draws unit-scale draws is 1/sqrt(num_draws): allow 5
    assert max(errors) < 5 / num_draws**0.5 and all(abs(s - expected_std) < 0.01 for s in stds)

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### A known mistake: $(1 - \bar\alpha_t)\, \epsilon$ for $\sqrt{1 - \bar\alpha_t}\, \epsilon$
#
# $1 - \bar\alpha_t$ is the noise's *variance*; its scale is $\sqrt{1 - \bar\alpha_t}$.

# %% [markdown] slideshow={"slide_type": "notes"}
# **A known mistake.** Several tutorials have written the noise term as
# $(1 - \bar\alpha_t)\, \epsilon$, forgetting the square root: $1 - \bar\alpha_t$ is the *variance*
# of the noise, its *scale* is $\sqrt{1 - \bar\alpha_t}$. Since $1 - \bar\alpha_t < \sqrt{1 - \bar\alpha_t}$,
# the bug adds too little noise everywhere but at the very end, by a factor
# $1 / \sqrt{1 - \bar\alpha_t}$ that is largest where $\bar\alpha_t \to 1$, the first steps: the
# model is trained on images that are cleaner than the sampler assumes, and the total variance
# is no longer preserved.

# %%
data_var = train_set.tensors[0].var().item()
print(f"pixel variance of the digits: {data_var:.3f}; noise independent of the image")
print(f"{'t':>4} {'correct noise std':>18} {'buggy noise std':>16} {'too little by':>14}"
      f" {'Var(x_t) correct':>17} {'Var(x_t) buggy':>15}")
for t in [10, 50, 100, 200, 300, 499]:
    abar = schedule.alphas_cumprod[t].item()
    print(f"{t:4d} {math.sqrt(1 - abar):18.3f} {1 - abar:16.3f} {1 / math.sqrt(1 - abar):13.1f}x "
          f"{abar * data_var + (1 - abar):17.3f} {abar * data_var + (1 - abar) ** 2:15.3f}")

# %% [markdown] tags=["slides-only"]
# - the bug's noise is too small by the factor printed: 17x at $t = 10$, 4x at $t = 50$
# - worst in the first steps; it hides only at the end, where one tends to look at $x_T$

# %% [markdown] slideshow={"slide_type": "notes"}
# With the square root, $\operatorname{Var}(x_t)$ moves smoothly from the data's variance to 1.
# Without it, the variance dips in the middle of the chain, and the noise is too small by the
# factor printed: about 4x at $t = 50$, 17x at $t = 10$. The bug does not hide near
# $\bar\alpha_t \to 1$; it is worst there. It only hides at the end, where $x_T$ is what one
# tends to look at.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 4. The training objective: predict the noise
#
# Ho et al. (2020) parameterise the network to predict the noise $\epsilon$ that was mixed into
# $x_t$, and train it with an unweighted mean squared error (their eq. 14):
#
# $$
# L_\text{simple}(\theta) = \mathbb{E}_{t \sim \mathcal{U}\{1..T\},\ x_0,\ \epsilon \sim \mathcal{N}(0, I)}
# \left\| \epsilon - \epsilon_\theta\!\left(\sqrt{\bar\alpha_t}\, x_0 + \sqrt{1 - \bar\alpha_t}\, \epsilon,\ t\right) \right\|^2 .
# $$
#
# It looks like a heuristic, but it is a reweighted likelihood bound. Where it comes from, in four steps:

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### Where $L_\text{simple}$ comes from
#
# 1. **A bound** on the negative log-likelihood, as in a VAE:
#    $\mathbb{E}[-\log p_\theta(x_0)] \le L$ (eq. 3)
# 2. **One KL per step**: $L_{t-1} = D_\text{KL}\big(q(x_{t-1} \mid x_t, x_0) \,\|\, p_\theta(x_{t-1} \mid x_t)\big)$ (eq. 5)
# 3. **Two Gaussians**: $L_{t-1} = \mathbb{E}\big[\tfrac{1}{2\sigma_t^2} \|\tilde\mu_t - \mu_\theta\|^2\big] + C$ (eq. 8)
# 4. **Predict the noise**: $L_{t-1} - C = \mathbb{E}\big[\lambda_t \|\epsilon - \epsilon_\theta(x_t, t)\|^2\big]$ (eq. 12)
#
# $L_\text{simple}$ sets $\lambda_t = 1$: better samples than the true bound (Ho et al.).

# %% [markdown] slideshow={"slide_type": "notes"}
# 1. **The bound.** Like a VAE, the model is trained on the variational bound of the negative
#    log-likelihood (Ho et al. eq. 3):
#    $\mathbb{E}[-\log p_\theta(x_0)] \le \mathbb{E}_q\!\left[-\log \frac{p_\theta(x_{0:T})}{q(x_{1:T} \mid x_0)}\right] = L$.
# 2. **One term per step.** Regrouping (eq. 5), $L = \mathbb{E}_q\big[L_T + \sum_{t > 1} L_{t-1} + L_0\big]$ with
#    $L_{t-1} = D_\text{KL}\big(q(x_{t-1} \mid x_t, x_0) \,\|\, p_\theta(x_{t-1} \mid x_t)\big)$. $L_T$ has no parameters.

# %% [markdown] slideshow={"slide_type": "notes"}
# 3. **Gaussians.** The posterior $q(x_{t-1} \mid x_t, x_0) = \mathcal{N}(\tilde\mu_t(x_t, x_0), \tilde\beta_t I)$ is
#    known in closed form (eqs. 6-7; lesson 06 derives it). With $p_\theta(x_{t-1} \mid x_t) = \mathcal{N}(\mu_\theta(x_t, t), \sigma_t^2 I)$,
#    each KL is a squared distance between means (eq. 8):
#    $L_{t-1} = \mathbb{E}\big[\tfrac{1}{2\sigma_t^2} \|\tilde\mu_t - \mu_\theta\|^2\big] + C$.
# 4. **Predict the noise.** Writing $x_t = \sqrt{\bar\alpha_t} x_0 + \sqrt{1 - \bar\alpha_t} \epsilon$ turns the
#    posterior mean into $\tilde\mu_t = \frac{1}{\sqrt{\alpha_t}}\big(x_t - \frac{\beta_t}{\sqrt{1 - \bar\alpha_t}} \epsilon\big)$
#    (eqs. 9-10). Give $\mu_\theta$ the same form with $\epsilon_\theta$ in place of $\epsilon$ (eq. 11), and
#    $L_{t-1} - C = \mathbb{E}\big[\lambda_t \|\epsilon - \epsilon_\theta(x_t, t)\|^2\big]$ with
#    $\lambda_t = \frac{\beta_t^2}{2 \sigma_t^2 \alpha_t (1 - \bar\alpha_t)}$ (eq. 12).
#
# $L_\text{simple}$ sets $\lambda_t = 1$. Ho et al. found that this gives better samples than the
# true bound; the cell below shows what it changes (with $\sigma_t^2 = \beta_t$, one of their two choices).

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### What $\lambda_t = 1$ changes

# %%
betas, alphas, alphas_cumprod = schedule.betas, schedule.alphas, schedule.alphas_cumprod
# lambda_t with sigma_t^2 = beta_t, Ho et al. eq. 12
bound_weight = betas / (2 * alphas * (1 - alphas_cumprod))
print("t (0-based):    " + " ".join(f"{t:7d}" for t in [0, 10, 50, 100, 250, 499]))
print("bound's weight: " + " ".join(f"{bound_weight[t]:7.4f}" for t in [0, 10, 50, 100, 250, 499]))
print(f"the bound weighs t = 0 {bound_weight[0] / bound_weight[250]:.0f} times more than t = 250;"
      " L_simple weighs them equally")
print(f"share of the bound's total weight on the first 10 of the {len(bound_weight)} steps:"
      f" {bound_weight[:10].sum() / bound_weight.sum():.0%}")

# %% [markdown]
# The true bound puts a large share of its weight on the first few, least noisy steps (printed
# above), where the task is to remove a trace of noise that hardly changes the image. $L_\text{simple}$ shifts the
# effort to larger $t$, where the network must decide what the image is (Ho et al. 2020, section 3.4).

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### The loss in code

# %% [markdown]
# **The loss in code.** For a batch $x_0$: draw one timestep and one noise per image, noise the
# images in closed form, and regress the noise. The draws come from a generator we pass, timesteps
# first, so that the same generator state gives the same loss.

# %%
def simple_loss(model: nn.Module, x0: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """L_simple on a batch x0 (B, 1, 16, 16) in [-1, 1] (Ho et al. 2020, eq. 14); a scalar
    tensor."""
    # (B,) in [0, T-1]
    t = torch.randint(0, schedule.num_timesteps, (len(x0),), generator=generator)
    eps = torch.randn(x0.shape, generator=generator)  # (B, 1, 16, 16), eps ~ N(0, I)
    t, eps = t.to(x0.device), eps.to(x0.device)
    x_t = schedule.add_noise(x0, eps, t)  # sqrt(abar_t) x0 + sqrt(1 - abar_t) eps, Ho et al. eq. 4
    # mean over the batch and the pixels of (eps_theta - eps)^2
    return F.mse_loss(model(x_t, t), eps)


# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### A yardstick: always answering 0 scores 1

# %% [markdown]
# A useful yardstick: a network that always answers $0$ scores exactly
# $\mathbb{E}\|\epsilon\|^2 / d = 1$ per pixel. A fresh UNet starts near there; learning means going
# well below it. The same loss from the library, with a generator in the same state, is the same number.

# %%
model = UNet(in_channels=1).to(device)  # the shipped "digits" UNet, less two extras (section 8)
batch = train_set.tensors[0][:256].to(device)
with torch.no_grad():
    untrained_loss = simple_loss(model, batch, torch.Generator().manual_seed(1)).item()
    library_loss = diffusion_loss(model, schedule, batch,
                                  generator=torch.Generator().manual_seed(1)).item()
print(f"UNet with {count_parameters(model):,} parameters; loss before training: "
      f"{untrained_loss:.3f} (predicting 0 scores 1.000)")
print(f"course_lib.diffusion_loss on the same batch and seed: {library_loss:.3f}")
assert untrained_loss == library_loss or (
    not bit_exact and abs(untrained_loss - library_loss) < 1e-5
)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 5. Algorithm 1: training, written out
#
# Ho et al.'s Algorithm 1 is the loss above in a loop:
#
# > **repeat** $\quad x_0 \sim q(x_0)$; $\ t \sim \mathcal{U}\{1, \dots, T\}$; $\ \epsilon \sim \mathcal{N}(0, I)$;
# > take a gradient step on $\nabla_\theta \|\epsilon - \epsilon_\theta(\sqrt{\bar\alpha_t} x_0 + \sqrt{1 - \bar\alpha_t} \epsilon, t)\|^2$
# > **until** converged
#
# We take batches of 128 digits in a shuffled order, pass after pass, and AdamW steps (Loshchilov
# & Hutter 2019) with a constant learning rate, a fixed number of times.

# %%
def train_by_hand(model: nn.Module, steps: int, lr: float = 2e-3, batch_size: int = 128,
                  seed: int = 0) -> list[float]:
    """Ho et al. 2020, Algorithm 1 with AdamW, for `steps` steps; returns the loss of each step."""
    loader = DataLoader(train_set, batch_size, shuffle=True,
                        generator=torch.Generator().manual_seed(seed))
    draws = torch.Generator().manual_seed(seed + 1)  # the timesteps and noises of simple_loss
    # pass after pass, reshuffled each time
    batches = itertools.chain.from_iterable(itertools.repeat(loader))
    optimiser = torch.optim.AdamW(model.parameters(), lr=lr)
    losses = []
    model.train()
    for x0, _ in itertools.islice(batches, steps):  # x0: (B, 1, 16, 16) digits; labels unused
        loss = simple_loss(model, x0.to(device), draws)
        optimiser.zero_grad()
        loss.backward()  # the gradient of || eps - eps_theta(x_t, t) ||^2
        optimiser.step()
        losses.append(loss.item())
    return losses


# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### Our loop at work

# %% [markdown]
# Run it on a copy of the fresh UNet (we keep the original for the next step). The loss of each
# batch is noisy, because each batch draws new timesteps, so we print means over windows of steps:

# %%
hand_steps = 50
hand_model = copy.deepcopy(model)  # same initial weights as `model`
hand_losses = train_by_hand(hand_model, hand_steps)
window = hand_steps // 5
for start in range(0, hand_steps, window):
    chunk = hand_losses[start:start + window]
    print(f"steps {start + 1:4d}-{start + window:4d}: mean loss {sum(chunk) / len(chunk):.4f}")

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "slide"}
# ## 6. The same training with `train_diffusion`
#
# - the library's version of the same loop, used by the later lessons
# - adds a progress bar, an EMA of the weights (section 7) and a `callback`
# - our callback keeps the weights after `hand_steps` steps, and samples before training and
#   three times during it (DDIM, 25 steps, same noise)

# %% [markdown] slideshow={"slide_type": "notes"}
# ## 6. The same training with `train_diffusion`
#
# `course_lib.train_diffusion` is the library's version of the same loop, which the later lessons
# use. It adds a progress bar, an EMA of the weights (section 7) and a `callback`, which we use to
# keep the weights after `hand_steps` steps and to draw a few samples with the current weights
# before training and three times during it. To keep these cheap we sample with DDIM in 25 steps (lesson 08)
# rather than all 500 DDPM steps, from the same starting noise each time.

# %%
steps = fast_or_full(300, 3000)  # the shipped model: 30,000 steps (section 8)
num_snapshot_samples = fast_or_full(64, 256)
snapshot_sampler = DDIMSampler(schedule, num_inference_steps=25)
weights_at, snapshots = {}, {}

def snapshot(step: int, current_model: nn.Module) -> None:
    """At `hand_steps` keep the weights; at 0, 1/3, 2/3 and all of the steps also 25-step DDIM
    samples from seed 2."""
    if step == hand_steps or step % (steps // 3) == 0:
        weights_at[step] = copy.deepcopy(current_model.state_dict())
    if step % (steps // 3) == 0:
        snapshots[step] = sample(current_model, snapshot_sampler, (num_snapshot_samples, 1, 16, 16),
                                 generator=torch.Generator().manual_seed(2), progress=False).cpu()

snapshot(0, model)
result = train_diffusion(model, schedule, train_set, steps=steps, lr=2e-3, device=device, seed=0,
                         ema_decay=0.999, callback=snapshot, callback_every=hand_steps)
last = result.losses[-50:]
print(f"{steps} steps in {result.seconds:.0f} s; mean loss of the last {len(last)} steps:"
      f" {sum(last) / len(last):.4f}")

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### Same seed, same numbers as our loop

# %% [markdown]
# Same initial weights, same seed, so the same data order, timesteps, noises and optimiser: the
# first `hand_steps` losses and the weights after them must be *identical* to our loop's (bit for
# bit on a CPU; to rounding on a GPU, whose kernels are not bit-reproducible).

# %%
loss_difference = max(abs(mine - library) for mine,
                      library in zip(hand_losses, result.losses[:hand_steps]))
weight_difference = max((hand_model.state_dict()[name] - value).abs().max().item()
                        for name, value in weights_at[hand_steps].items())
print(f"first {hand_steps} steps: largest loss difference {loss_difference:.1e}, largest weight"
      f" difference {weight_difference:.1e}")
assert loss_difference == weight_difference == 0.0 or (
    not bit_exact and max(loss_difference, weight_difference) < 1e-3
)

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### The loss falls fast from about 1, then creeps down

# %%
plot_losses(result.losses, smooth=25,
            title=f"Simplified DDPM loss, UNet trained from scratch ({steps} steps)")
plt.show()

# %% [markdown] slideshow={"slide_type": "notes"}
# The loss falls fast from about 1 (the windows printed in section 5) and then creeps down; it
# stays noisy because each batch draws new timesteps, and predicting the noise is much harder at
# some timesteps than others (Exercise 2). A low loss alone does not say the samples are good, so
# let us look at them.

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### A low loss is not yet good samples: look at them

# %%
fig, axes = plt.subplots(1, len(snapshots), figsize=(2.2 * len(snapshots), 2.8),
                         layout="constrained")
for ax, (step, images) in zip(axes, snapshots.items()):
    show_images(images[:16], nrow=4, ax=ax, title=f"after {step} steps")
fig.suptitle("Samples from the same noise as training goes on (DDIM, 25 steps)")
plt.show()

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "slide"}
# ## 7. EMA: averaging the weights
#
# $$
# \theta_\text{EMA} \leftarrow d\, \theta_\text{EMA} + (1 - d)\, \theta, \qquad d = 0.999
# $$
#
# - remembers roughly the last $1/(1 - d) = 1000$ steps: smooths out the last updates' noise
# - warm-up $d_n = \min(d, \frac{1 + n}{10 + n})$, as in diffusers' `EMAModel`
# - every shipped model of the course is such an average

# %% [markdown] slideshow={"slide_type": "notes"}
# ## 7. EMA: averaging the weights
#
# Every shipped diffusion model of the course is not the trained network itself but an **exponential
# moving average** (EMA) of its weights, updated after every optimiser step:
#
# $$
# \theta_\text{EMA} \leftarrow d\, \theta_\text{EMA} + (1 - d)\, \theta, \qquad d = 0.999 .
# $$
#
# The average remembers roughly the last $1/(1 - d) = 1000$ steps, and smooths out the noise of
# the last few updates (Polyak & Juditsky 1992; Ho et al. 2020 use $d = 0.9999$). Early on the
# average would be dominated by the random initial weights, so the library ramps the decay up as
# $d_n = \min(d, \frac{1 + n}{10 + n})$ after $n$ updates, as diffusers' `EMAModel` does.

# %%
@torch.no_grad()
def ema_update(
    averaged: nn.Module, current: nn.Module, num_updates: int, decay: float = 0.999
) -> None:
    """theta_EMA <- d theta_EMA + (1 - d) theta for every weight, with the warm-up d_n = min(d, (1 +
    n) / (10 + n))."""
    d = min(decay, (1 + num_updates) / (10 + num_updates))
    for average, weight in zip(averaged.state_dict().values(), current.state_dict().values()):
        average.copy_(d * average + (1 - d) * weight)


# %% slideshow={"slide_type": "skip"}
# ema_update against course_lib.training.EMA: three updates towards the weights kept during training
mine, library = UNet(in_channels=1), EMA(UNet(in_channels=1), decay=0.999)
mine.load_state_dict(weights_at[0])
library.model.load_state_dict(weights_at[0])
current = UNet(in_channels=1)
for n, step in enumerate(list(weights_at)[1:4]):
    current.load_state_dict(weights_at[step])
    ema_update(mine, current, n)
    library.update(current)
difference = max((mine.state_dict()[k] - v).abs().max().item() for k,
                 v in library.model.state_dict().items())
print(f"ema_update vs course_lib's EMA after 3 updates: largest difference {difference:.1e}")
assert difference < 1e-6

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "slide"}
# ## 8. What EMA and long training give, measured
#
# - **the judge**: the course's digit classifier, trained on real digits
# - **confident**: the share of images it is more than 90% sure of
# - **FID on the judge's features**: Fréchet distance to the training digits; 0 means identical,
#   lower is better; not comparable with papers' Inception FIDs
# - the yardstick: real held-out digits

# %% [markdown] slideshow={"slide_type": "notes"}
# ## 8. What EMA and long training give, measured
#
# To compare our snapshots, the EMA of our run, the shipped model (30,000 steps, EMA) and real
# digits, we ask the course's digit classifier (the *judge*, trained on real digits) how often it
# is more than 90% sure of an image's class, and compute the Fréchet distance between the judge's
# features of the images and of the training digits. We call it **FID on the course judge's
# features**: the recipe of FID (Heusel et al. 2017) with a small digit classifier in place of the
# Inception network, so its values are not comparable with the Inception FIDs of papers. 0 means
# identical statistics; lower is better. A classifier can be confidently wrong about a blob, so
# the FID is the more telling number. Real held-out digits are the yardstick.

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### Snapshots, EMA and the shipped model, scored

# %%
shipped, _ = load_pretrained("digits", device=device)
judge, _ = load_pretrained("classifier-digits")
train_features = predict(judge, train_set.tensors[0])[1]
seed_2 = dict(num_samples=num_snapshot_samples, seed=2)  # the snapshots' starting noise
ema_samples, ema_scores = sample_and_judge(result.ema, snapshot_sampler, judge, train_features,
                                           **seed_2)
shipped_samples, shipped_scores = sample_and_judge(shipped, snapshot_sampler, judge,
                                                   train_features, **seed_2)
scores = {f"from scratch, {step} steps": judge_images(judge, images, train_features)
          for step, images in snapshots.items()}
scores[f"from scratch, {steps} steps, EMA"] = ema_scores
scores["shipped model, 30,000 steps, EMA"] = shipped_scores
scores["real held-out digits"] = judge_images(judge, test_images[:num_snapshot_samples],
                                              train_features)
print_table({name: s.as_row() for name, s in scores.items()},
            label=f"{num_snapshot_samples} images each")
show_images(shipped_samples[:32], nrow=16,
            title="The shipped digits model (same noise, DDIM 25 steps)")
plt.show()

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### EMA and long training, in numbers

# %% [markdown] slideshow={"slide_type": "notes"}
# What the table says, in numbers:

# %%
raw, averaged = scores[f"from scratch, {steps} steps"], ema_scores
real, best = scores["real held-out digits"], shipped_scores
last_decay = min(0.999, steps / (9 + steps))  # d_n of the last update, n = steps - 1
print(f"EMA of our {steps}-step run (last decay d = {last_decay:.3f}): FID {raw.fid:.2f} ->"
      f" {averaged.fid:.2f} ({averaged.fid / raw.fid - 1:+.0%}), confident {raw.confident:.2f} ->"
      f" {averaged.confident:.2f}")
print(f"shipped model: FID {best.fid:.2f}, {best.fid / real.fid:.2f} times that of real held-out"
      f" digits ({real.fid:.2f}); confident {best.confident:.2f} (real: {real.confident:.2f})")
# "close to real digits", section 8
assert best.fid < 2 * real.fid and best.confident > real.confident - 0.1

# %% [markdown] tags=["slides-only"]
# - a short CPU run learns the rough shape (dark background, bright strokes); details take
#   thousands of steps more
# - the shipped model scores close to real held-out digits: within a factor 2 in FID (asserted)
# - compare FIDs only at equal image counts; a model that copied its training digits would beat
#   real ones (lesson 11)

# %% [markdown] slideshow={"slide_type": "notes"}
# Both numbers improve quickly over the first hundred steps and then more slowly: a short CPU
# run teaches the network the rough shape of the data (dark background, bright strokes in the
# middle), and the details of each digit take thousands of steps more. The EMA line shows what
# averaging does on a run this short, where the warm-up keeps $d_n$ below 0.999 (the last decay
# is printed) so the average spans only the last few dozen steps; on the shipped models' runs of
# 10,000 steps and more ($d$ = 0.999 to 0.9995) it averages over one to two thousand. The shipped
# digits model is this loop run for 30,000 steps with three refinements: Min-SNR-5 weighting
# (exercise 4), which fits the data better, and two brakes on copying the 1,437 training digits,
# shifted copies of the digits (the network is told the shift) and dropout; the course's model
# card measures what each does. It scores close to real held-out digits (within a factor 2 in FID, asserted). Two cautions when reading FIDs: with few images the estimate is noisy and biased
# upwards, so compare only numbers computed from the same number of images; and a model that
# *copied* its training images would beat held-out real digits on this measure, which is why
# lesson 11 audits samples for memorisation.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Exercises
#
# ### Exercise 1: the cosine schedule from its formula
#
# `NoiseSchedule.cosine` builds betas from $\bar\alpha$ and then multiplies the alphas back
# together. Compute $\bar\alpha_t = f(t)/f(0)$ of Nichol & Dhariwal's eq. 17 yourself for
# $T = 500$ (timesteps are 0-based in the course, so index $i$ holds the paper's $t = i + 1$),
# compare with `schedules["cosine"].alphas_cumprod`, and explain the one place where they differ.

# %%
# your code here

# %% tags=["solution"]
T, s_offset = 500, 0.008

def f(t: torch.Tensor) -> torch.Tensor:
    return torch.cos((t / T + s_offset) / (1 + s_offset) * math.pi / 2) ** 2

t = torch.arange(1, T + 1, dtype=torch.float64)
alpha_bar_formula = f(t) / f(torch.tensor(0.0, dtype=torch.float64))
difference = (schedules["cosine"].alphas_cumprod.double() - alpha_bar_formula).abs()
print(f"largest difference before the last step: {difference[:-1].max():.1e}")
print(f"last step: formula {alpha_bar_formula[-1]:.1e}, schedule"
      f" {schedules['cosine'].alphas_cumprod[-1]:.1e}")

# %% [markdown] tags=["solution"]
# <details class="solution"><summary>Why they differ</summary>
#
# They agree to float32 precision except at the very last step, where the formula gives
# $\bar\alpha_T \approx 0$, that is $\beta_T \approx 1$. Nichol & Dhariwal cap $\beta_t$ at 0.999
# (`max_beta`) to avoid that singularity, which leaves a tiny $\bar\alpha_T$ instead of zero.
#
# </details>

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 2: which timesteps are hard?
#
# The training loss mixes all timesteps. Using the shipped model (`shipped`), compute
# $L_\text{simple}$ separately at $t \in \{0, 10, 50, 100, 250, 499\}$ on the held-out digits, with
# a fixed noise. At which end is predicting the noise harder, and why?

# %%
# your code here

# %% tags=["solution"]
eval_images = test_images[:256].to(device)
eval_noise = torch.randn(eval_images.shape, generator=torch.Generator().manual_seed(3)).to(device)
with torch.no_grad():
    for t in [0, 10, 50, 100, 250, 499]:
        timesteps = torch.full((len(eval_images),), t, device=device)
        x_t = schedule.add_noise(eval_images, eval_noise, timesteps)
        mse = (shipped(x_t, timesteps) - eval_noise).pow(2).mean().item()
        print(f"t = {t:3d}: loss {mse:.4f}")

# %% [markdown] tags=["solution"]
# <details class="solution"><summary>Why</summary>
#
# The loss is largest at small $t$: there is so little noise that telling it apart from the
# fine texture of the digit is hard (and, for the sample, hardly matters). At large $t$,
# $x_t \approx \epsilon$, so "the noise is the input" is nearly the right answer.
#
# </details>

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### Exercise 3: write it yourself, the forward process in closed form
#
# Fill in `my_add_noise`: $x_t = \sqrt{\bar\alpha_t}\, x_0 + \sqrt{1 - \bar\alpha_t}\, \epsilon$ from
# `schedule.alphas_cumprod` only, one timestep per image (broadcast (B,) over (B, 1, 16, 16)). The
# check cell names the classic mistakes.

# %% [markdown] slideshow={"slide_type": "notes"}
# ### Exercise 3: write it yourself, the forward process in closed form
#
# Fill in `my_add_noise` so that it returns $x_t = \sqrt{\bar\alpha_t}\, x_0 + \sqrt{1 - \bar\alpha_t}\, \epsilon$
# (Ho et al. 2020, eq. 4) for a batch with one timestep per image, using only
# `schedule.alphas_cumprod` (a tensor of $T$ values, index $t$ for the 0-based timestep $t$).
# Mind the shapes: `alphas_cumprod[t]` has shape (B,) and must be broadcast over (B, 1, 16, 16).
# Then run the check cell: it compares your function with `schedule.add_noise` and names the
# classic mistakes (the missing square root, an off-by-one timestep) if you make one.

# %%
def my_add_noise(x0: torch.Tensor, eps: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """x_t for x0 and eps of shape (B, 1, 16, 16) and t of shape (B,), ints in [0, T-1]."""
    raise NotImplementedError  # your code here


# %%
x0_check = train_set.tensors[0][:8]  # (8, 1, 16, 16)
eps_check = torch.randn(x0_check.shape, generator=torch.Generator().manual_seed(5))
t_check = torch.tensor([1, 5, 10, 50, 100, 250, 400, 498])

def noised_with(abar: torch.Tensor, noise_scale_of=torch.sqrt) -> torch.Tensor:
    """sqrt(abar) x0 + noise_scale_of(1 - abar) eps, for a (8,) tensor abar: the right answer and
    the mistakes."""
    return (abar.sqrt()[:, None, None, None] * x0_check
            + noise_scale_of(1 - abar)[:, None, None, None] * eps_check)

abar_table = schedule.alphas_cumprod
mistakes = {
    "(1 - abar_t) eps: the noise's variance used as its scale": noised_with(abar_table[t_check],
                                                                            lambda v: v),
    "abar at t + 1, an off-by-one timestep": noised_with(abar_table[t_check + 1]),
    "abar at t - 1, an off-by-one timestep": noised_with(abar_table[t_check - 1]),
    "alpha_t = 1 - beta_t in place of the product abar_t": noised_with(schedule.alphas[t_check]),
}


# %%
# the library's x_t, (8, 1, 16, 16)
expected_check = schedule.add_noise(x0_check, eps_check, t_check)
check(lambda: my_add_noise(x0_check, eps_check, t_check), expected_check, name="my_add_noise",
      mistakes=mistakes)

# %% tags=["solution"]
def my_add_noise(x0: torch.Tensor, eps: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """x_t for x0 and eps of shape (B, 1, 16, 16) and t of shape (B,), ints in [0, T-1]."""
    # (B, 1, 1, 1), broadcasts over the pixels
    abar = schedule.alphas_cumprod[t][:, None, None, None]
    return abar.sqrt() * x0 + (1 - abar).sqrt() * eps  # Ho et al. 2020, eq. 4

assert check(lambda: my_add_noise(x0_check, eps_check, t_check), expected_check,
             name="my_add_noise", mistakes=mistakes)

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### Exercise 4: write it yourself, Min-SNR-$\gamma$ weighting
#
# $$w_t = \frac{\min(\text{SNR}_t, \gamma)}{\text{SNR}_t}, \qquad
# \text{SNR}_t = \frac{\bar\alpha_t}{1 - \bar\alpha_t}$$
#
# A third choice of $\lambda_t$: the nearly clean steps count less.

# %% [markdown] slideshow={"slide_type": "notes"}
# ### Exercise 4: write it yourself, Min-SNR-$\gamma$ weighting
#
# $L_\text{simple}$ gives every timestep the weight 1; the bound gives the first, nearly clean
# steps far more (section 4). Hang et al. (2023) weight each sample's squared error by
# $w_t = \min(\text{SNR}_t, \gamma) / \text{SNR}_t$, with the signal-to-noise ratio
# $\text{SNR}_t = \bar\alpha_t / (1 - \bar\alpha_t)$ and $\gamma = 5$: where the noise is
# strong ($\text{SNR}_t \le \gamma$) the weight stays 1, and the nearly clean steps, whose
# noise is hardest to predict (exercise 2) and matters least to a sample, count less. They
# report faster training. Fill in `my_min_snr_loss`, the weighted mean over the batch of each
# sample's mean squared error, from `schedule.alphas_cumprod`. The check compares it with
# `noise_prediction_error`, the loss `diffusion_loss(..., min_snr_gamma=5)` computes, and names
# the likely slips. The course's recipes take it as `Recipe.min_snr_gamma`, `train-images` as
# `--min-snr-gamma`; the model card measures it on the digits.

# %%
def my_min_snr_loss(prediction: torch.Tensor, eps: torch.Tensor, t: torch.Tensor,
                    gamma: float = 5.0) -> torch.Tensor:
    """Min-SNR-gamma weighted squared error: prediction, eps (B, 1, 16, 16); t (B,); a scalar."""
    raise NotImplementedError  # your code here


# %%
prediction_check = torch.randn(x0_check.shape, generator=torch.Generator().manual_seed(6))
snr_table = schedule.alphas_cumprod / (1 - schedule.alphas_cumprod)  # (T,)
# diffusers' training scripts compute the same SNR for their --snr_gamma option
diffusers_scheduler = DDPMScheduler(num_train_timesteps=500, beta_start=1e-4, beta_end=0.02)
assert torch.allclose(compute_snr(diffusers_scheduler, t_check), snr_table[t_check], rtol=1e-5)

def weighted_with(weight: torch.Tensor) -> torch.Tensor:
    """The batch mean of weight[t] times each sample's squared error: the right answer and
    the slips."""
    errors = (prediction_check - eps_check).pow(2).mean(dim=(1, 2, 3))  # (8,)
    return (weight[t_check] * errors).mean()

inverse_snr = 1 / snr_table
snr_mistakes = {
    "min(SNR_t, gamma) without dividing by SNR_t": weighted_with(snr_table.clamp(max=5)),
    "gamma / SNR_t without the min: weights above 1 at noisy steps": weighted_with(5 / snr_table),
    "SNR_t upside down, (1 - abar_t) / abar_t": weighted_with(inverse_snr.clamp(max=5)
                                                              / inverse_snr),
}
expected_snr_loss = noise_prediction_error(prediction_check, eps_check, t_check, schedule, 5.0)

# %%
print(f"weights w_t at t = {t_check.tolist()}:")
print(" ".join(f"{w:.3f}" for w in (snr_table.clamp(max=5) / snr_table)[t_check].tolist()))
check(lambda: my_min_snr_loss(prediction_check, eps_check, t_check), expected_snr_loss,
      name="my_min_snr_loss", mistakes=snr_mistakes)

# %% tags=["solution"]
def my_min_snr_loss(prediction: torch.Tensor, eps: torch.Tensor, t: torch.Tensor,
                    gamma: float = 5.0) -> torch.Tensor:
    """Min-SNR-gamma weighted squared error: prediction, eps (B, 1, 16, 16); t (B,); a scalar."""
    abar = schedule.alphas_cumprod[t]
    snr = abar / (1 - abar)  # (B,)
    weight = snr.clamp(max=gamma) / snr  # Hang et al. 2023: min(SNR_t, gamma) / SNR_t
    return (weight * (prediction - eps).pow(2).mean(dim=(1, 2, 3))).mean()

assert check(lambda: my_min_snr_loss(prediction_check, eps_check, t_check), expected_snr_loss,
             name="my_min_snr_loss", mistakes=snr_mistakes)

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "slide"}
# ## Summary
#
# - forward process: $x_t = \sqrt{\bar\alpha_t}\, x_0 + \sqrt{1 - \bar\alpha_t}\, \epsilon$; the noise's
#   scale is $\sqrt{1 - \bar\alpha_t}$
# - read schedules through $\bar\alpha_t$: cosine is gentler than linear; here
#   $\sqrt{\bar\alpha_T} \approx 0.08$
# - training is regression: predict the noise ($L_\text{simple}$: the bound with $\lambda_t = 1$)
# - our loop equals `train_diffusion`; the shipped models are an EMA of long runs
# - next, lesson 06: sampling

# %% [markdown] slideshow={"slide_type": "notes"}
# ## Summary
#
# - The forward process adds Gaussian noise in $T$ small steps; in closed form
#   $x_t = \sqrt{\bar\alpha_t}\, x_0 + \sqrt{1 - \bar\alpha_t}\, \epsilon$, checked above against the
#   step-by-step chain. The noise *scale* is $\sqrt{1 - \bar\alpha_t}$, not $1 - \bar\alpha_t$.
# - The schedule is best read through $\bar\alpha_t$: the linear one destroys information early
#   and spends its last steps on near-pure noise; the cosine one (Nichol & Dhariwal 2021) is gentler.
#   $x_T$ is close to, not exactly, pure noise: $\sqrt{\bar\alpha_T} \approx 0.08$ for the course's schedule.
# - Training is regression: noise an image to a random $t$, predict the noise, minimise the
#   squared error (Ho et al. 2020, eq. 14 and Algorithm 1). $L_\text{simple}$ is the variational
#   bound with its per-step weights $\lambda_t$ set to 1, which moves the effort away from the first steps;
#   Min-SNR-$\gamma$ (exercise 4) moves it further still.
# - Our short loop and `train_diffusion` compute the same losses and weights, bit for bit on a CPU.
# - The shipped models are an EMA of the trained weights. A few hundred steps on a CPU give
#   blurry blobs; the shipped model's 30,000 steps give digits the judge scores close to real
#   ones (section 8's table).
#
# Next, lesson 06: the reverse step and sampling.

# %% [markdown]
# ## References
#
# - Jascha Sohl-Dickstein, Eric A. Weiss, Niru Maheswaranathan and Surya Ganguli (2015). *Deep
#   Unsupervised Learning using Nonequilibrium Thermodynamics.* [arXiv:1503.03585](https://arxiv.org/abs/1503.03585)
# - Jonathan Ho, Ajay Jain and Pieter Abbeel (2020). *Denoising Diffusion Probabilistic Models.*
#   [arXiv:2006.11239](https://arxiv.org/abs/2006.11239)
# - Alex Nichol and Prafulla Dhariwal (2021). *Improved Denoising Diffusion Probabilistic Models.*
#   [arXiv:2102.09672](https://arxiv.org/abs/2102.09672)
# - Jiaming Song, Chenlin Meng and Stefano Ermon (2020). *Denoising Diffusion Implicit Models.*
#   [arXiv:2010.02502](https://arxiv.org/abs/2010.02502)
# - Martin Heusel, Hubert Ramsauer, Thomas Unterthiner, Bernhard Nessler and Sepp Hochreiter (2017).
#   *GANs Trained by a Two Time-Scale Update Rule Converge to a Local Nash Equilibrium* (FID).
#   [arXiv:1706.08500](https://arxiv.org/abs/1706.08500)
# - Ilya Loshchilov and Frank Hutter (2019). *Decoupled Weight Decay Regularization* (AdamW).
#   [arXiv:1711.05101](https://arxiv.org/abs/1711.05101)
# - Boris T. Polyak and Anatoli B. Juditsky (1992). *Acceleration of Stochastic Approximation by
#   Averaging.* SIAM Journal on Control and Optimization 30(4), 838-855.
# - Shanchuan Lin, Bingchen Liu, Jiashi Li and Xiao Yang (2024). *Common Diffusion Noise Schedules
#   and Sample Steps are Flawed.* [arXiv:2305.08891](https://arxiv.org/abs/2305.08891)
