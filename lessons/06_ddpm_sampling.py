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
# # DDPM: sampling
#
# - lesson 05 trained $\epsilon_\theta(x_t, t)$ to predict the noise in a noisy image
# - now it becomes a generator: start from pure noise $x_T \sim \mathcal{N}(0, I)$
# - apply the learned reverse step $T$ times, down to an image $x_0$

# %% [markdown] slideshow={"slide_type": "notes"}
# # DDPM: sampling
#
# Lesson 05 trained a network $\epsilon_\theta(x_t, t)$ to predict the noise in a noisy image.
# This lesson turns it into a generator: start from pure noise $x_T \sim \mathcal{N}(0, I)$ and
# apply the learned reverse step $T$ times, down to an image $x_0$.

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ## Learning objectives
#
# - derive the posterior $q(x_{t-1} \mid x_t, x_0)$ and the sampler's mean; check both
# - write Algorithm 2 as a loop that gives the numbers of `course_lib` and diffusers
# - sample digits and watch the trajectory
# - measure what leaving out the noise term does
# - make experiments repeatable with seeds

# %% [markdown] slideshow={"slide_type": "notes"}
# **Learning objectives.** By the end of this lesson you can
#
# - derive the posterior $q(x_{t-1} \mid x_t, x_0)$ (Ho et al. 2020, eq. 7) and, by substituting the
#   noise for $x_0$, the mean that the sampler uses (eq. 11), and check both numerically;
# - write the DDPM sampler (Algorithm 2) as a loop, and show it gives the numbers of
#   `course_lib` and of diffusers' `DDPMScheduler`;
# - sample digits from the course's pretrained model and watch the denoising trajectory;
# - recognise the classic mistake of leaving out the noise term, and measure what it does;
# - explain why the same seed gives the same images, and use that to make experiments repeatable.
#
# **Estimated time:** 75 minutes (45 of reading and running, 30 for the exercises).

# %% slideshow={"slide_type": "skip"}
import time
import warnings

import matplotlib.pyplot as plt
import torch
from torch import nn
from tqdm import TqdmWarning

# diffusers imports tqdm.auto, which warns in a notebook without ipywidgets; its bars are not used
# here.
warnings.filterwarnings("ignore", category=TqdmWarning)
from diffusers import DDPMScheduler  # noqa: E402

from course_lib import DDPMSampler, load_pretrained, predict_noise, sample  # noqa: E402
from course_lib.classifier import predict  # noqa: E402
from course_lib.config import fast_or_full, get_device, seed_everything  # noqa: E402
from course_lib.data import load_digits  # noqa: E402
from course_lib.evaluation import judge_images, print_table  # noqa: E402
from course_lib.exercises import check  # noqa: E402
from course_lib.plotting import animate_trajectory, show_images  # noqa: E402

# %% slideshow={"slide_type": "skip"}
seed_everything(0)
device = get_device()
# unconditional UNet, T = 500, linear schedule
model, schedule = load_pretrained("digits", device=device)
judge, _ = load_pretrained("classifier-digits")
train_images = load_digits(16, "train").tensors[0]
test_images = load_digits(16, "test").tensors[0]
T = schedule.num_timesteps
# (T,) each, 0-based t
betas, alphas, alphas_cumprod = schedule.betas, schedule.alphas, schedule.alphas_cumprod
print(f"pretrained digits model on {device}, T = {T}")

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "slide"}
# ## 1. The reverse step, derived
#
# - for small $\beta_t$ the reverse step is close to Gaussian; *given* $x_0$ it is exactly Gaussian
# - Bayes' rule, and the forward process is Markov:
#   $q(x_{t-1} \mid x_t, x_0) \propto q(x_t \mid x_{t-1})\, q(x_{t-1} \mid x_0)$
# - both factors are Gaussians in $x_{t-1}$: the precisions add, the mean is the
#   precision-weighted sum of the two means

# %% [markdown] slideshow={"slide_type": "notes"}
# ## 1. The reverse step, derived
#
# The forward step $q(x_t \mid x_{t-1})$ is a small Gaussian. For small $\beta_t$ the reverse
# step is close to Gaussian too (Sohl-Dickstein et al. 2015), and *given* $x_0$ it is exactly
# Gaussian. By Bayes' rule, and because the forward process is Markov,
#
# $$
# q(x_{t-1} \mid x_t, x_0) \propto q(x_t \mid x_{t-1})\, q(x_{t-1} \mid x_0)
# \propto \exp\!\Big(-\frac{(x_t - \sqrt{\alpha_t}\, x_{t-1})^2}{2 \beta_t}\Big)\,
# \exp\!\Big(-\frac{(x_{t-1} - \sqrt{\bar\alpha_{t-1}}\, x_0)^2}{2 (1 - \bar\alpha_{t-1})}\Big).
# $$
#
# Both factors are Gaussians in $x_{t-1}$, so their product is one: the precisions add, and the
# mean is the precision-weighted sum of the two means.

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### The posterior (Ho et al. 2020, eqs. 6-7)
#
# $$
# q(x_{t-1} \mid x_t, x_0) = \mathcal{N}\big(\tilde\mu_t, \tilde\beta_t I\big), \quad
# \tilde\mu_t = \frac{\sqrt{\bar\alpha_{t-1}}\, \beta_t}{1 - \bar\alpha_t}\, x_0 + \frac{\sqrt{\alpha_t}\, (1 - \bar\alpha_{t-1})}{1 - \bar\alpha_t}\, x_t, \quad
# \tilde\beta_t = \frac{1 - \bar\alpha_{t-1}}{1 - \bar\alpha_t}\, \beta_t
# $$
#
# Checked by least squares: for a fixed $x_0$, the line fitted to a million pairs
# $(x_t, x_{t-1})$ recovers both coefficients and $\tilde\beta_t$.

# %% [markdown] slideshow={"slide_type": "notes"}
# The precision is $\frac{\alpha_t}{\beta_t} + \frac{1}{1 - \bar\alpha_{t-1}} = \frac{1 - \bar\alpha_t}{\beta_t (1 - \bar\alpha_{t-1})}$
# (use $\alpha_t (1 - \bar\alpha_{t-1}) + \beta_t = 1 - \bar\alpha_t$), which gives Ho et al.'s eqs. 6-7:
#
# $$
# q(x_{t-1} \mid x_t, x_0) = \mathcal{N}\big(\tilde\mu_t(x_t, x_0), \tilde\beta_t I\big), \quad
# \tilde\mu_t = \frac{\sqrt{\bar\alpha_{t-1}}\, \beta_t}{1 - \bar\alpha_t}\, x_0 + \frac{\sqrt{\alpha_t}\, (1 - \bar\alpha_{t-1})}{1 - \bar\alpha_t}\, x_t, \quad
# \tilde\beta_t = \frac{1 - \bar\alpha_{t-1}}{1 - \bar\alpha_t}\, \beta_t .
# $$
#
# **A numerical check.** Draw many pairs $(x_{t-1}, x_t)$ from the forward process for a fixed
# $x_0$. Since they are jointly Gaussian, the mean of $x_{t-1}$ given $x_t$ is a straight line in
# $x_t$: a least-squares fit must recover the two coefficients, and its residual variance $\tilde\beta_t$.

# %%
t, x0_value, num_pairs = 300, 0.5, 1_000_000  # one pixel, x_0 = 0.5
abar, abar_prev, alpha, beta = (v.double() for v in (alphas_cumprod[t], alphas_cumprod[t - 1],
                                                     alphas[t], betas[t]))
g = torch.Generator().manual_seed(1)
prev_noise = torch.randn(num_pairs, generator=g, dtype=torch.float64)
x_prev = abar_prev.sqrt() * x0_value + (1 - abar_prev).sqrt() * prev_noise
step_noise = torch.randn(num_pairs, generator=g, dtype=torch.float64)
x_t = alpha.sqrt() * x_prev + beta.sqrt() * step_noise  # q(x_t | x_{t-1})
design = torch.stack([x_t, torch.ones_like(x_t)], dim=1)  # (num_pairs, 2): fit x_prev = a x_t + b
slope, intercept = torch.linalg.lstsq(design, x_prev[:, None]).solution.flatten()
fitted = {"coefficient of x_t": slope, "x_0 term": intercept,
          "variance": (x_prev - slope * x_t - intercept).var()}
eq_7 = {"coefficient of x_t": alpha.sqrt() * (1 - abar_prev) / (1 - abar),
        "x_0 term": abar_prev.sqrt() * beta / (1 - abar) * x0_value,
        "variance": (1 - abar_prev) / (1 - abar) * beta}
print_table({"least squares": fitted, "Ho et al. eq. 7": eq_7},
            label=f"t = {t}, {num_pairs:,} pairs", formats=dict.fromkeys(fitted, ".5f"))
# the fit's standard errors are about 1e-4
assert all(abs(fitted[k] - eq_7[k]) < 2e-3 for k in eq_7)

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### From $x_0$ to the noise (eq. 11)
#
# When sampling we do not know $x_0$, but the network predicts the noise, and eq. 4 solved for
# $x_0$ gives $x_0 = (x_t - \sqrt{1 - \bar\alpha_t}\, \epsilon) / \sqrt{\bar\alpha_t}$. Substituted into $\tilde\mu_t$, with
# $\bar\alpha_t = \alpha_t \bar\alpha_{t-1}$, the coefficient of $x_t$ becomes
# $\frac{\beta_t + \alpha_t (1 - \bar\alpha_{t-1})}{\sqrt{\alpha_t}\, (1 - \bar\alpha_t)} = \frac{1}{\sqrt{\alpha_t}}$ and
# that of $\epsilon$ becomes $-\frac{\beta_t}{\sqrt{\alpha_t}\sqrt{1 - \bar\alpha_t}}$:
#
# $$
# \tilde\mu_t = \frac{1}{\sqrt{\alpha_t}} \Big( x_t - \frac{\beta_t}{\sqrt{1 - \bar\alpha_t}}\, \epsilon \Big) \qquad \text{(Ho et al. 2020, eq. 11, with } \epsilon_\theta \text{ for } \epsilon\text{)}.
# $$
#
# Checked below for random $x_t$ and $\epsilon$ at every $t \ge 1$, in double precision:

# %%
# (T - 1,): t = 1..T-1 and t - 1
ab, ab_prev = alphas_cumprod[1:].double(), alphas_cumprod[:-1].double()
alpha_each_t, beta_each_t = ab / ab_prev, 1 - ab / ab_prev  # from the alpha-bars, (T - 1,)
# one 16x16 image per t, flattened
x_t, eps = torch.randn(2, T - 1, 256, generator=g, dtype=torch.float64)
x0 = (x_t - (1 - ab).sqrt()[:, None] * eps) / ab.sqrt()[:, None]  # eq. 4 solved for x_0
mean_eq_7 = (ab_prev.sqrt() * beta_each_t / (1 - ab))[:, None] * x0 \
    + (alpha_each_t.sqrt() * (1 - ab_prev) / (1 - ab))[:, None] * x_t
mean_eq_11 = (x_t - (beta_each_t / (1 - ab).sqrt())[:, None] * eps) / alpha_each_t.sqrt()[:, None]
print(f"largest |eq. 7 - eq. 11| over all t and pixels: {(mean_eq_7 - mean_eq_11).abs().max():.1e}")
assert torch.allclose(mean_eq_7, mean_eq_11, rtol=0, atol=1e-9)

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "slide"}
# ## 2. Algorithm 2, written out
#
# $$
# x_{t-1} = \frac{1}{\sqrt{\alpha_t}} \left( x_t - \frac{\beta_t}{\sqrt{1 - \bar\alpha_t}}\, \epsilon_\theta(x_t, t) \right) + \sigma_t z,
# \qquad z \sim \mathcal{N}(0, I)
# $$
#
# - remove a little of the predicted noise, then add fresh noise of variance $\sigma_t^2$;
#   $z = 0$ at the last step
# - $\sigma_t^2 = \beta_t$ and $\tilde\beta_t$ work about equally well; the course uses
#   $\tilde\beta_t$ (diffusers' `fixed_small`)

# %% [markdown] slideshow={"slide_type": "notes"}
# ## 2. Algorithm 2, written out
#
# The network replaces $\epsilon$ in eq. 11, and one step of **ancestral sampling** draws from
# the Gaussian with that mean (Ho et al. 2020, Algorithm 2):
#
# $$
# x_{t-1} = \frac{1}{\sqrt{\alpha_t}} \left( x_t - \frac{\beta_t}{\sqrt{1 - \bar\alpha_t}}\, \epsilon_\theta(x_t, t) \right) + \sigma_t z,
# \qquad z \sim \mathcal{N}(0, I),
# $$
#
# with $z = 0$ at the last step. The first term removes a little of the predicted noise; the
# second adds fresh noise of variance $\sigma_t^2$. Ho et al. found $\sigma_t^2 = \beta_t$ and
# $\sigma_t^2 = \tilde\beta_t$ to work about equally well; the course uses $\tilde\beta_t$, the
# posterior's variance, as diffusers' `variance_type="fixed_small"` does. The whole sampler:

# %%
@torch.no_grad()
def ddpm_sample_by_hand(
    model: nn.Module, shape: tuple[int, ...], generator: torch.Generator
) -> torch.Tensor:
    """Ho et al. 2020, Algorithm 2 with sigma_t^2 = beta-tilde_t; x_0 of `shape`, e.g. (N, 1, 16,
    16), on the CPU."""
    x = torch.randn(shape, generator=generator)  # x_T ~ N(0, I)
    for t in range(T - 1, -1, -1):  # t = T-1, ..., 0 (0-based, as in course_lib and diffusers)
        # eps_theta(x_t, t), like x
        eps = model(x.to(device), torch.full((shape[0],), t, device=device)).cpu()
        alpha, abar = alphas[t], alphas_cumprod[t]
        x = (x - (1 - alpha) / (1 - abar).sqrt() * eps) / alpha.sqrt()  # the mean, eq. 11
        if t > 0:  # no noise at the last step
            beta_tilde = (1 - alphas_cumprod[t - 1]) / (1 - abar) * (1 - alpha)  # eq. 7
            x = x + beta_tilde.sqrt() * torch.randn(shape, generator=generator)  # sigma_t z
    return x


# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### Our loop samples digits

# %%
small = (8, 1, 16, 16)
by_hand = ddpm_sample_by_hand(model, small, torch.Generator().manual_seed(7))
show_images(by_hand, nrow=8,
            title=f"Eight digits from our own loop: {T} steps of Algorithm 2, seed 7")
plt.show()

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### The same numbers from `course_lib` and diffusers
#
# - `course_lib.sample` with a `DDPMSampler`, and diffusers' `DDPMScheduler`, from seed 7: the
#   same $x_T$ and $z$ for all three
# - the library and diffusers agree bit for bit on the CPU
# - our loop agrees to float32 rounding over 500 steps: it computes the mean in eq. 11's form,
#   they in eq. 7's

# %% [markdown] slideshow={"slide_type": "notes"}
# **The same numbers from the library and from diffusers.** `course_lib.sample` with a
# `DDPMSampler`, and diffusers' `DDPMScheduler` in the loop every diffusers pipeline runs, from
# the same seed: the generator gives the same $x_T$ and the same $z$ at every step to all three.

# %% slideshow={"slide_type": "skip"}
library = sample(model, DDPMSampler(schedule), small, generator=torch.Generator().manual_seed(7),
                 progress=False).cpu()
scheduler = DDPMScheduler(num_train_timesteps=T, beta_start=1e-4, beta_end=0.02,
                          beta_schedule="linear", variance_type="fixed_small",
                          clip_sample=False)  # sigma_t^2 = beta-tilde_t, no clipping
diffusers_generator = torch.Generator().manual_seed(7)
x = torch.randn(small, generator=diffusers_generator)
with torch.no_grad():
    for timestep in scheduler.timesteps:  # T-1, ..., 0
        eps = model(x.to(device), timestep.expand(len(x)).to(device)).cpu()
        x = scheduler.step(eps, timestep, x, generator=diffusers_generator).prev_sample
print(f"our loop vs course_lib.sample: largest difference {(by_hand - library).abs().max():.1e}")
print(f"our loop vs diffusers' DDPMScheduler: largest difference {(by_hand - x).abs().max():.1e}")
print(f"course_lib.sample vs diffusers: largest difference {(library - x).abs().max():.1e}")
# float32 rounding, compounded over 500 steps (on a GPU the library's arithmetic runs there);
# images span about [-1, 1]
assert torch.allclose(by_hand, library, atol=1e-3) and torch.allclose(library, x, atol=1e-3)

# %% [markdown] slideshow={"slide_type": "notes"}
# The library and diffusers agree bit for bit on the CPU, and our loop agrees with both to
# float32 rounding compounded over 500 steps (the differences are printed in the check cell,
# on the page). The library and diffusers compute the mean in eq. 7's form, through the predicted
# $\hat x_0$ (which also allows clipping $\hat x_0$ to $[-1, 1]$, diffusers' `clip_sample`; off here,
# as in the paper); our loop computes it in eq. 11's form, so the last digits differ.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 3. Sampling from the pretrained model
#
# From now on we use the library's loop. `sample` draws $x_T$ from the generator, then calls the
# model and `sampler.step` for $t = T-1, \dots, 0$. With `return_trajectory=True` it also keeps
# every intermediate $x_t$.

# %%
num_samples = fast_or_full(64, 256)
sampler = DDPMSampler(schedule)
start = time.perf_counter()
samples, trajectory = sample(model, sampler, (num_samples, 1, 16, 16),
                             generator=torch.Generator().manual_seed(0), return_trajectory=True,
                             progress=False)
seconds = time.perf_counter() - start
samples = samples.cpu()
print(f"{num_samples} samples, {T} network calls, {seconds:.1f} s on {device}")
show_images(samples[:64], nrow=16,
            title=f"DDPM ancestral sampling, {T} steps, pretrained digits model")
plt.show()

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "slide"}
# ## 4. Watching the noise turn into digits
#
# 32 frames of 36 samples, from $x_T$ to $x_0$ (press play)

# %% [markdown] slideshow={"slide_type": "notes"}
# ## 4. Watching the noise turn into digits
#
# The trajectory holds $T + 1$ batches, $x_T$ (pure noise) to $x_0$. Thirty-two evenly spaced
# frames of the first 36 samples make a small animation (press play):

# %%
labels = [T, *sampler.timesteps.tolist()]  # x_T, then x_{t} after each step, down to x_0
animation = animate_trajectory([x[:36] for x in trajectory], nrow=12, num_frames=32,
                               timesteps=labels, scale=4)
print(f"animation size: {len(animation.data) / 1e6:.2f} MB")
animation

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### The guess $\hat x_0$ shows the digit while $x_t$ still looks like noise
#
# $\hat x_0 = (x_t - \sqrt{1 - \bar\alpha_t}\, \epsilon_\theta(x_t, t)) / \sqrt{\bar\alpha_t}$ (Ho et al. 2020, eq. 15)

# %% [markdown] slideshow={"slide_type": "notes"}
# The same trajectory as a still, with the model's current guess $\hat x_0$ of the final image
# below each $x_t$, computed from the predicted noise (Ho et al. 2020, eq. 15):
# $\hat x_0 = (x_t - \sqrt{1 - \bar\alpha_t}\, \epsilon_\theta(x_t, t)) / \sqrt{\bar\alpha_t}$.

# %%
shown_t = [499, 400, 300, 200, 150, 100, 50, 0]
rows_xt, rows_x0 = [], []
with torch.no_grad():
    for t in shown_t:
        # trajectory[k] is the model's input at timestep T - 1 - k
        x_t = trajectory[T - 1 - t][:6].to(device)
        abar = schedule.alphas_cumprod[t]
        eps = predict_noise(model, x_t, t)
        rows_xt.append(x_t.cpu())
        rows_x0.append(((x_t - (1 - abar).sqrt() * eps) / abar.sqrt()).clamp(-1, 1).cpu())
fig, axes = plt.subplots(1, 2, figsize=(9.3, 4), layout="constrained")  # wide: fits a slide
show_images(torch.stack(rows_xt, 1).flatten(0, 1), nrow=len(shown_t), ax=axes[0],
            title="$x_t$, the model's input\nat t = " + ", ".join(map(str, shown_t)))
show_images(torch.stack(rows_x0, 1).flatten(0, 1), nrow=len(shown_t), ax=axes[1],
            title="the model's guess $\\hat x_0$\nat the same t")
plt.show()

# %% [markdown] slideshow={"slide_type": "notes"}
# The guess $\hat x_0$ already shows the rough shape of the final digit while $x_t$ still looks
# like noise; the later steps mostly sharpen strokes. Exercise 2 measures when the class is settled.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 5. The classic mistake: forgetting the noise term
#
# It is tempting to think of sampling as "remove the predicted noise, step by step", and to
# drop $\sigma_t z$. `DDPMSampler(schedule, add_noise=False)` does exactly that. We sample the
# same starting noise both ways and compare with real held-out digits.

# %%
no_noise_sampler = DDPMSampler(schedule, add_noise=False)
no_noise_samples, no_noise_trajectory = sample(model, no_noise_sampler, (num_samples, 1, 16, 16),
                                               generator=torch.Generator().manual_seed(0),
                                               return_trajectory=True, progress=False)
no_noise_samples = no_noise_samples.cpu()
fig, axes = plt.subplots(1, 2, figsize=(8, 4), layout="constrained")
show_images(samples[:32], nrow=8, ax=axes[0], title="correct: with $\\sigma_t z$")
show_images(no_noise_samples[:32], nrow=8, ax=axes[1], title="mistake: without $\\sigma_t z$")
plt.show()

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### Measured against real digits
#
# - **diversity**: per-pixel spread across the samples; **contrast**: spread within each image
# - **the judge**: share of confident digits, entropy of its classes ($\log 10 = 2.30$ when all
#   ten are equally frequent), FID on its features
# - the yardstick: as many real held-out digits

# %% [markdown] slideshow={"slide_type": "notes"}
# **Measured.** Diversity is the per-pixel standard deviation across the samples, averaged over
# pixels; "contrast" the standard deviation within each image; the judge (the course's digit
# classifier) gives the share of confidently recognised digits, the entropy of the predicted
# classes ($\log 10 = 2.30$ when all ten digits are equally frequent) and the Fréchet distance
# of its features to the training digits: FID on the course judge's features (lesson 05; not
# comparable with the Inception FID of papers). Real held-out digits, as many, are the yardstick.

# %%
train_features = predict(judge, train_images)[1]
rows = {"DDPM, correct": samples, "DDPM, no noise term": no_noise_samples,
        "real held-out digits": test_images[:num_samples]}
measured = {name: {"diversity": images.std(0).mean().item(),
                   "contrast": images.flatten(1).std(1).mean().item(),
                   **judge_images(judge, images, train_features).as_row()}
            for name, images in rows.items()}
print_table(measured, label=f"{num_samples} images each",
            formats={"diversity": ".3f", "contrast": ".3f"})
counts = torch.bincount(predict(judge, no_noise_samples)[0].argmax(1), minlength=10)
print("judge's classes of the no-noise samples, digits 0-9:", counts.tolist())
correct, no_noise = measured["DDPM, correct"], measured["DDPM, no noise term"]
fid_factor = no_noise["FID"] / correct["FID"]
print(f"without the noise term: diversity x{no_noise['diversity'] / correct['diversity']:.2f}, "
      f"class entropy {correct['class entropy']:.2f} -> {no_noise['class entropy']:.2f}, "
      f"FID x{fid_factor:.1f}")
assert fid_factor > 3 and no_noise["diversity"] < correct["diversity"]

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### Each image is fine; the collection is not
#
# - each no-noise sample has a real digit's contrast, and the judge recognises it
# - but they collapse onto a few regular digits: diversity and class entropy drop, FID rises
#   (more than 3 times, asserted)
# - why: each step goes to the *mean* of $p(x_{t-1} \mid x_t)$, a blob at large $t$; the variance
#   is never put back

# %% [markdown] slideshow={"slide_type": "notes"}
# Without the noise term the images are not noisy, and one by one they are not even bad: each
# has the contrast of a real digit and the judge recognises it. The damage is to the
# *collection*: the samples collapse onto a few very regular, typical digits (the judge's
# counts above show which), so the spread across samples and the class entropy drop and the
# FID, which compares whole distributions, rises by the factor printed (more than 3, asserted).
#
# Why: each step without noise moves $x_t$ to the *mean* of $p(x_{t-1} \mid x_t)$. At large $t$ that
# mean is an average over very many digits still compatible with $x_t$, a smooth blob near the
# centre of the data, and the variance that ancestral sampling re-injects at every step is never
# put back. The spread of $x_t$ falls below what the model saw in training at that $t$:

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### The spread of $x_t$, with and without $\sigma_t z$

# %%
t_axis = sampler.timesteps  # trajectory[k] is the model's input at timestep t_axis[k], k < T
fig, ax = plt.subplots(figsize=(6, 3.5), layout="constrained")
ax.plot(t_axis, [trajectory[k].std().item() for k in range(T)], label="sampling with $\\sigma_t z$")
ax.plot(t_axis, [no_noise_trajectory[k].std().item() for k in range(T)],
        label="sampling without $\\sigma_t z$")
abar, data_var = schedule.alphas_cumprod[t_axis], train_images.var().item()
# Ho et al. 2020, eq. 4
ax.plot(t_axis, (abar * data_var + 1 - abar).sqrt(), "k:", label="forward process on real digits")
ax.set_xlabel("timestep t")
ax.set_ylabel("standard deviation of $x_t$")
ax.set_title("Spread of $x_t$ during sampling")
ax.invert_xaxis()
ax.grid(alpha=0.3)
ax.legend()
plt.show()

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### Without $\sigma_t z$ the spread collapses

# %%
forward_std = (abar * data_var + 1 - abar).sqrt()
ratio = torch.tensor([no_noise_trajectory[k].std().item() for k in range(T)]) / forward_std
lowest = int(ratio.argmin())
print(f"without the noise term the spread of x_t falls to {ratio[lowest]:.0%} of the forward"
      f" process's, at t = {int(t_axis[lowest])}, after {lowest + 1} steps")
with_noise = torch.tensor([trajectory[k].std().item() for k in range(T)]) / forward_std
print(f"with it, the spread stays within {(with_noise - 1).abs().max():.0%} of the forward "
      "process's at every t")

# %% [markdown] tags=["slides-only"]
# - with $\sigma_t z$ the spread follows the forward process: the reverse process visits the same $q(x_t)$
# - without it, the network gets inputs unlike its training at that $t$; the last steps restore
#   the contrast, not the diversity
# - DDIM (lesson 08) is a *correct* deterministic sampler: no variance is lost

# %% [markdown] slideshow={"slide_type": "notes"}
# With the noise term, the spread of $x_t$ follows the forward process all the way, as it
# should: the reverse process must visit the same distributions $q(x_t)$ as the forward one.
# Without it, the spread of $x_t$ collapses within the first couple of hundred steps to a fraction
# of what it should be (printed above): the network is fed inputs unlike anything it was trained on at that $t$, and
# the chain drifts towards the centre of the data. The last steps restore the contrast of a
# digit (the curves meet again near $t = 0$), but by then most of the diversity is gone.
# (DDIM, lesson 08, is a *correct* deterministic sampler: it rescales the update so that no
# variance is lost.)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 6. Same seed, same images
#
# DDPM is random, but all its randomness comes from the generator we pass: the initial $x_T$
# and the $T - 1$ noises $z$. The same seed gives the same images, bit for bit on the CPU; a
# different seed gives different ones. Section 2 already sampled seed 7 with `sample` (`library`);
# we sample it again, and seed 8.

# %%
first = library  # seed 7, section 2
again = sample(
    model, sampler, small, generator=torch.Generator().manual_seed(7), progress=False
).cpu()
other = sample(
    model, sampler, small, generator=torch.Generator().manual_seed(8), progress=False
).cpu()
print(f"seed 7 twice: identical = {torch.equal(first, again)}, largest difference"
      f" {(first - again).abs().max():.1e}")
print(f"seed 7 vs seed 8: largest difference {(first - other).abs().max():.2f}")
show_images(torch.cat([first, again, other]), nrow=8,
            title="seed 7 (row 1), seed 7 again (row 2), seed 8 (row 3)")
plt.show()

# %% [markdown]
# On a GPU some operations are not bit-for-bit reproducible, so images from the same seed may
# differ in the last digits; they still agree to the eye. `sample` draws the noise on the CPU
# to keep it the same on every device.

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "slide"}
# ## Exercises
#
# ### Exercise 1: write it yourself, one reverse step
#
# Fill in `my_reverse_step`: one step of Algorithm 2 from $x_t$, $\epsilon$ and $z$, with
# $\sigma_t^2 = \tilde\beta_t$. The check cell names the usual mistakes: $\sigma_t^2 = \beta_t$, no
# noise term, an off-by-one timestep.

# %% [markdown] slideshow={"slide_type": "notes"}
# ## Exercises
#
# ### Exercise 1: write it yourself, one reverse step
#
# Fill in `my_reverse_step`: one step of Algorithm 2 from $x_t$, the predicted noise $\epsilon$
# and a fresh noise $z$, with $\sigma_t^2 = \tilde\beta_t$, using `alphas`, `betas` and
# `alphas_cumprod` (tensors of $T$ values, index $t$ for the 0-based timestep $t$). The check
# cell compares it with `DDPMSampler.step` and names the usual mistakes: $\sigma_t^2 = \beta_t$,
# a forgotten noise term, an off-by-one timestep.

# %%
def my_reverse_step(x_t: torch.Tensor, eps: torch.Tensor, t: int, z: torch.Tensor) -> torch.Tensor:
    """x_{t-1} for x_t, eps and z of shape (N, 1, 16, 16) and an int t in [1, T-1]."""
    raise NotImplementedError  # your code here


# %%
g = torch.Generator().manual_seed(5)
x_check, eps_check, z_check = (torch.randn(4, 1, 16, 16, generator=g) for _ in range(3))
# early, where beta_t and beta-tilde_t differ most
t_check, library_sampler = 20, DDPMSampler(schedule)

def library_step(t: int, z: torch.Tensor) -> torch.Tensor:
    """DDPMSampler's x_{t-1} = mean + sqrt(beta-tilde_t) z for the check inputs."""
    return library_sampler.step(eps_check, t, x_check, noise=z)

beta_tilde_check = ((1 - alphas_cumprod[t_check - 1]) / (1 - alphas_cumprod[t_check])
                    * betas[t_check])
beta_instead = (betas[t_check] / beta_tilde_check).sqrt() * z_check  # sigma_t = sqrt(beta_t)
mistakes = {
    "sigma_t^2 = beta_t (diffusers' 'fixed_large') instead of beta-tilde_t":
        library_step(t_check, beta_instead),
    "the step without its noise term sigma_t z": library_step(t_check, torch.zeros_like(z_check)),
    "the step for t + 1, an off-by-one timestep": library_step(t_check + 1, z_check),
    "the step for t - 1, an off-by-one timestep": library_step(t_check - 1, z_check),
}

# %%
expected_check = library_step(t_check, z_check)  # DDPMSampler's x_{t-1}, (4, 1, 16, 16)
check(
    lambda: my_reverse_step(x_check, eps_check, t_check, z_check),
    expected_check,
    name="my_reverse_step",
    atol=1e-4,
    mistakes=mistakes,
)  # float32 rounding differs between equal formulas, up to about 1e-5

# %% tags=["solution"]
def my_reverse_step(x_t: torch.Tensor, eps: torch.Tensor, t: int, z: torch.Tensor) -> torch.Tensor:
    """x_{t-1} for x_t, eps and z of shape (N, 1, 16, 16) and an int t in [1, T-1]."""
    # Ho et al. 2020, eq. 11
    mean = (x_t - betas[t] / (1 - alphas_cumprod[t]).sqrt() * eps) / alphas[t].sqrt()
    beta_tilde = (1 - alphas_cumprod[t - 1]) / (1 - alphas_cumprod[t]) * betas[t]  # eq. 7
    return mean + beta_tilde.sqrt() * z  # Algorithm 2, line 4

assert check(lambda: my_reverse_step(x_check, eps_check, t_check, z_check), expected_check,
             name="my_reverse_step", atol=1e-4, mistakes=mistakes)

# %% [markdown] tags=["solution"]
# <details class="solution"><summary>Why it agrees only to rounding</summary>
#
# `DDPMSampler.step` computes the same mean in eq. 7's form, through $\hat x_0$, and takes
# $\beta_t$ as $1 - \bar\alpha_t / \bar\alpha_{t-1}$; the two forms are equal (section 1) but round
# differently in float32 (by up to about $10^{-5}$ at $t = 20$), so the check allows $10^{-4}$.
#
# </details>

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 2: when is the digit decided?
#
# For each $t \in \{450, 400, 350, 300, 250, 200, 100, 50\}$, compute the model's guess
# $\hat x_0$ from the trajectory's $x_t$ (section 4) for all samples, and
# (a) the root-mean-square pixel distance between $\hat x_0$ and the final sample,
# (b) the share of samples where the judge gives $\hat x_0$ the same class as the final sample.
# From which $t$ on is the class fixed?

# %%
# your code here

# %% tags=["solution"]
final_classes = predict(judge, samples)[0].argmax(1)
with torch.no_grad():
    for t in [450, 400, 350, 300, 250, 200, 100, 50]:
        x_t = trajectory[T - 1 - t].to(device)
        abar = schedule.alphas_cumprod[t]
        x0_hat = ((x_t - (1 - abar).sqrt() * predict_noise(model, x_t, t)) / abar.sqrt()).cpu()
        rms = (x0_hat - samples).pow(2).mean(dim=(1, 2, 3)).sqrt().mean().item()
        classes_now = predict(judge, x0_hat.clamp(-1, 1))[0].argmax(1)
        same_class = (classes_now == final_classes).float().mean().item()
        print(f"t = {t:3d}: RMS distance to the final sample {rms:.3f}, same class "
              f"{same_class:.0%}")

# %% [markdown] tags=["solution"]
# <details class="solution"><summary>What it shows</summary>
#
# The guess $\hat x_0$ moves towards the final sample as $t$ falls. At $t = 450$ its class is
# close to chance; between $t \approx 300$ and $t \approx 200$ most classes are settled (compare the
# printed shares), although $x_t$ there is still mostly noise. Diffusion models decide the
# coarse structure first and the details last.
#
# </details>

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "slide"}
# ## Summary
#
# - given $x_0$, the reverse step is the Gaussian posterior of eq. 7; the noise in place of $x_0$
#   gives eq. 11's mean
# - Algorithm 2: remove a little predicted noise, add fresh $\sigma_t z$, $T$ times; our loop
#   gives the numbers of `course_lib` and diffusers
# - coarse structure first, details last
# - leaving out $\sigma_t z$ collapses the diversity
# - same seed, same images

# %% [markdown] slideshow={"slide_type": "notes"}
# ## Summary
#
# - Given $x_0$, the reverse step is the Gaussian posterior of eq. 7 (Bayes' rule, checked by a
#   least-squares fit); putting the noise in place of $x_0$ gives the mean of eq. 11.
# - A DDPM generates by running the learned reverse step $T$ times from pure noise (Ho et al.
#   2020, Algorithm 2): remove a little of the predicted noise, then add fresh noise $\sigma_t z$
#   with $\sigma_t^2 = \tilde\beta_t$. Our twelve-line loop gives the numbers of `course_lib.sample`
#   and of diffusers' `DDPMScheduler` to float32 rounding.
# - The trajectory shows coarse structure appearing first and details last.
# - Leaving out $\sigma_t z$ is a real bug, not a shortcut: the spread of $x_t$ collapses, and the
#   samples lose their diversity (measured above with pixel statistics, the judge and FID).
# - All the randomness comes from one generator: same seed, same images.
#
# Next: conditioning and guidance (lesson 07), and sampling in far fewer steps (lesson 08).

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
