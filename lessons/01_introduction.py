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
# # Generative models and where diffusion comes from
#
# - What a generative model is, and how it differs from a classifier
# - From VAEs and GANs to diffusion, and the four families of diffusion model
# - 64 new digits from the course's diffusion model, in one cell
# - The equation the course builds on:
#   $x_t = \sqrt{\bar\alpha_t}\, x_0 + \sqrt{1 - \bar\alpha_t}\, \epsilon$

# %% [markdown] slideshow={"slide_type": "notes"}
# # Generative models and where diffusion comes from
#
# Welcome! This first lesson sets the scene: what a generative model is, how diffusion models
# arrived after a decade of other ideas, and what the different "kinds" of diffusion model you
# will read about have in common. Then you generate your first images with a diffusion model,
# and take apart the one equation that everything else in the course builds on.
#
# **Learning objectives.** By the end of this lesson you can
#
# - say what a generative model is and how it differs from a classifier;
# - place VAEs, GANs and diffusion models on a timeline, with the key papers;
# - name the four families of diffusion models (DDPM, score-based, latent, continuous-time);
# - generate digits with the course's pretrained diffusion model in one cell;
# - noise a real image step by step, and explain the roles of $\sqrt{\bar\alpha_t}$ and $\sqrt{1 - \bar\alpha_t}$.
#
# **Estimated time:** 45 minutes (30 of reading and running, 15 for the exercises).

# %% slideshow={"slide_type": "skip"}
import time

import matplotlib.pyplot as plt
import torch

from course_lib import DDIMSampler, NoiseSchedule, load_pretrained, sample, seed_everything
from course_lib.data import load_digits
from course_lib.plotting import show_images

generator = seed_everything(0)

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "slide"}
# ## 1. What is a generative model?
#
# - A **classifier** models $p(y \mid x)$: which digit is this image?
# - A **generative model** learns from examples of an unknown $p_\text{data}(x)$ a model
#   $p_\theta(x)$ that we can **sample**: new $x$ that look as if they came from the same pile
# - A 16×16 image is a point in 256 dimensions; the digits fill a tiny, oddly shaped region of it

# %% [markdown] slideshow={"slide_type": "notes"}
# ## 1. What is a generative model?
#
# A **classifier** answers a question about an input: given an image $x$, which digit is it?
# It models $p(y \mid x)$. A **generative model** learns the data themselves: from a pile of
# examples $x^{(1)}, \dots, x^{(N)}$ drawn from an unknown distribution $p_\text{data}(x)$, it
# builds a model $p_\theta(x)$ that we can **sample**, producing new $x$ that look as if they came
# from the same pile. (Some generative models can also *evaluate* $p_\theta(x)$; all of them can
# sample.)
#
# "Looks as if it came from the same pile" is a demanding goal: a 16×16 image is a point in a
# 256-dimensional space, and the digits occupy a tiny, oddly shaped region of it. The model
# has to learn that region, with all its variety (thick and thin strokes, slanted and upright
# digits), without just copying the training examples.

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### Our training data: handwritten digits

# %% [markdown]
# Here is the pile we will learn from in this course's first models: scikit-learn's handwritten
# digits, shipped with the library, enlarged to 16×16 and scaled to $[-1, 1]$.

# %%
digits = load_digits(16, "train")
images, labels = digits.tensors
print(f"{len(digits)} training images of shape {tuple(images.shape[1:])}, pixel values in "
      f"[{images.min().item():.0f}, {images.max().item():.0f}]")
show_images(images[:24], nrow=12, scale=2.5, title="Training data: handwritten digits (16x16)",
            labels=[str(y) for y in labels[:24].tolist()])
plt.show()

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "slide"}
# ## 2. A short history
#
# | year | model |
# |---|---|
# | 2013 | variational autoencoder (VAE) |
# | 2014 | generative adversarial network (GAN) |
# | 2015 | diffusion probabilistic model |
# | 2019 | noise-conditional score network |
# | 2020 | DDPM: predict the added noise |
# | 2021 | score SDEs: diffusion in continuous time |
# | 2022 | latent diffusion, the basis of Stable Diffusion |

# %% [markdown] slideshow={"slide_type": "notes"}
# ## 2. A short history
#
# | year | model | the idea in one line |
# |---|---|---|
# | 2013 | **Variational autoencoder** (VAE), Kingma & Welling | encode an image into a small random code, decode it back; sample codes to generate |
# | 2014 | **Generative adversarial network** (GAN), Goodfellow et al. | a generator learns to fool a discriminator that tells real from fake |
# | 2015 | **Diffusion probabilistic model**, Sohl-Dickstein et al. | destroy the data slowly with noise, as in physical diffusion, and learn to undo each small step |
# | 2019 | **Noise-conditional score network**, Song & Ermon | learn the gradient of the log-density (the *score*) of noised data, sample with Langevin dynamics |
# | 2020 | **DDPM**, Ho, Jain & Abbeel | a simple loss (predict the added noise) makes diffusion rival GANs in image quality |
# | 2021 | **Score SDEs**, Song et al. | diffusion in continuous time: DDPM and score networks are two views of one stochastic differential equation |
# | 2022 | **Latent diffusion**, Rombach et al. | run diffusion in the small latent space of an autoencoder; the basis of Stable Diffusion |

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### Why diffusion took over
#
# - **GANs**: the sharpest images of the late 2010s, but hard to train, and only part of the
#   data's variety
# - **VAEs**: stable, but blurry samples
# - **Diffusion**: a stable, simple objective *and* excellent samples; the price is slow
#   sampling (lesson 08)
# - 2021: beats GANs on ImageNet; 2022: DALL·E 2, Imagen, Stable Diffusion with open weights

# %% [markdown] slideshow={"slide_type": "notes"}
# GANs gave the sharpest images of the late 2010s but are notoriously hard to train (the two
# networks can chase each other without settling) and tend to cover only part of the data's
# variety. VAEs are stable but their samples tend to be blurry. Diffusion models combine a
# stable, simple training objective with excellent samples; their price is slow sampling (many
# network evaluations per image), which lesson 08 attacks.
#
# By 2021 diffusion models beat GANs on ImageNet (Dhariwal & Nichol 2021), and in 2022 came
# text-to-image systems: DALL·E 2 (Ramesh et al.), Imagen (Saharia et al.) and Stable
# Diffusion, a latent diffusion model released with open weights in August 2022. Lesson 11
# discusses what that openness enabled, and the questions it raised.

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "slide"}
# ## 3. Four families, one idea
#
# Each one **learns to undo a gradual noising process**:
#
# - **DDPM**: $T$ discrete steps; a network $\epsilon_\theta(x_t, t)$ predicts the noise
#   (lessons 05, 06, 08)
# - **Score-based**: a network estimates the score $\nabla_x \log p_t(x)$, the noise up to a
#   scale (lesson 02)
# - **Latent**: diffuse in an autoencoder's small latent space (lessons 04, 12)
# - **Continuous-time**: noising is an SDE, sampling solves a differential equation (lessons 02, 08)

# %% [markdown] slideshow={"slide_type": "notes"}
# ## 3. Four families, one idea
#
# You will meet diffusion models under several names. They differ in emphasis, not in essence:
# every one of them **learns to undo a gradual noising process**.
#
# - **DDPM** (Ho et al. 2020): a fixed number $T$ of discrete noising steps; a network
#   $\epsilon_\theta(x_t, t)$ predicts the noise in $x_t$; sampling undoes one step at a time.
#   *Lessons 05, 06 and 08.*
# - **Score-based models** (Song & Ermon 2019; Song et al. 2021): a network estimates the score
#   $\nabla_x \log p_t(x)$ of the noised data and sampling follows it (Langevin dynamics, or the
#   reverse-time SDE). Predicting the noise and estimating the score are the same thing up to a
#   scale factor. *Lesson 02.*
# - **Latent diffusion** (Rombach et al. 2022): first compress images with an autoencoder, then
#   diffuse in its small latent space; far cheaper for large images. *Lessons 04 and 12
#   ([A Stable Diffusion of our own](../../lessons/12_stable_diffusion/)).*
# - **Continuous-time models** (Song et al. 2021; Karras et al. 2022): time (or the noise level)
#   is a continuous variable instead of $T$ discrete steps, noising is an SDE, and sampling means
#   solving a differential equation, stochastic or deterministic (the "probability flow ODE"),
#   so that any good solver can take big steps.
#   *Lessons 02 and 08.*

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 4. Hello, diffusion: digits in one cell
#
# The course ships a small diffusion model, a UNet, trained on the digits above. One cell loads
# it, starts from pure noise and denoises it in 25 steps into 64 brand-new digits.

# %%
start = time.perf_counter()
model, schedule = load_pretrained("digits")
samples = sample(model, DDIMSampler(schedule, 25), (64, 1, 16, 16), generator=seed_everything(0))
show_images(samples, nrow=16,
            title="64 digits generated by the course's diffusion model (25 DDIM steps)")
plt.show()
print(f"a UNet with {sum(p.numel() for p in model.parameters()):,} parameters; loaded and sampled "
      f"in {time.perf_counter() - start:.1f} s on {next(model.parameters()).device}")

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### What the cell did
#
# - `load_pretrained("digits")`: the network, and the **noise schedule** it was trained with
# - `DDIMSampler(schedule, 25)`: the rule that makes a noisy image a little cleaner, visiting
#   25 of the 500 noise levels
# - `sample(...)`: 64 images of pure noise, cleaned 25 times by asking the network "what noise
#   is in this image?"
# - Same seed, same digits

# %% [markdown] slideshow={"slide_type": "notes"}
# What happened, line by line:
#
# - `load_pretrained("digits")` reads the shipped weights (after checking their SHA-256 digest)
#   and returns the network together with the **noise schedule** it was trained with.
# - `DDIMSampler(schedule, 25)` is a sampler: the rule that turns a noisy image into a slightly
#   cleaner one, here visiting 25 of the 500 noise levels (DDIM, Song, Meng & Ermon 2020; lesson 08).
# - `sample(...)` draws 64 images of pure Gaussian noise of shape $1 \times 16 \times 16$ and applies
#   the sampler 25 times, asking the network each time "what noise is in this image?".
#
# Same seed, same digits: run the cell again and you get exactly these 64 images.

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### The same with Hugging Face `diffusers`
#
# ```python
# from diffusers import DDPMPipeline
#
# pipeline = DDPMPipeline.from_pretrained("google/ddpm-cifar10-32")  # downloads the weights
# image = pipeline().images[0]  # a PIL image, after 1000 denoising steps by default
# ```
#
# Not run here: it needs the network and the Hub, and 1000 steps are slow on a CPU. Lesson 09
# maps the course's pieces onto `diffusers`' and shows that they compute the same numbers.

# %% [markdown] slideshow={"slide_type": "notes"}
# ### The same with Hugging Face `diffusers`
#
# The classic first demo of the `diffusers` library does the same with a model downloaded from
# the Hugging Face Hub (here the DDPM of Ho et al. trained on CIFAR-10 images):
#
# ```python
# from diffusers import DDPMPipeline
#
# pipeline = DDPMPipeline.from_pretrained("google/ddpm-cifar10-32")  # downloads the weights
# image = pipeline().images[0]  # a PIL image, after 1000 denoising steps by default
# image.save("ddpm_sample.png")
# ```
#
# We do not run it here: it needs a network connection and the Hub model to still exist, and
# 1000 steps of a CIFAR-10 network are slow on a CPU. Our cell above is its offline counterpart;
# lesson 09 shows how the course's own pieces map onto `diffusers`' (`UNet2DModel`,
# `DDPMScheduler`, `DDIMScheduler`, pipelines) and proves they compute the same numbers.

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "slide"}
# ## 5. Noising a real digit, step by step
#
# Each step shrinks the image a little and adds Gaussian noise of variance $\beta_t$; many steps
# add up to one jump (Ho et al. 2020, eq. 4):
#
# $$
# x_t = \sqrt{\bar\alpha_t}\, x_0 + \sqrt{1 - \bar\alpha_t}\, \epsilon, \qquad \bar\alpha_t = \prod_{s=1}^{t} (1 - \beta_s)
# $$
#
# - $\sqrt{\bar\alpha_t}$: how much of the image survives, from $1$ down to almost $0$
# - $\sqrt{1 - \bar\alpha_t}$: the noise's standard deviation, from $0$ up to almost $1$
# - Square roots, because variances add: $\bar\alpha_t + (1 - \bar\alpha_t) = 1$

# %% [markdown] slideshow={"slide_type": "notes"}
# ## 5. Noising a real digit, step by step
#
# The model learned to undo a **forward process** that turns an image $x_0$ into noise over $T$
# steps. Each step shrinks the image a little and adds a little Gaussian noise of variance
# $\beta_t$. The noise of many steps adds up to one Gaussian, so we can jump straight to any step
# $t$ (Ho et al. 2020, eq. 4):
#
# $$
# x_t = \sqrt{\bar\alpha_t}\, x_0 + \sqrt{1 - \bar\alpha_t}\, \epsilon, \qquad \epsilon \sim \mathcal{N}(0, I), \qquad \bar\alpha_t = \prod_{s=1}^{t} (1 - \beta_s).
# $$
#
# - $\sqrt{\bar\alpha_t}$ is how much of the image survives: it starts at $1$ and decays to almost $0$.
# - $\sqrt{1 - \bar\alpha_t}$ is the standard deviation of the noise: it grows from $0$ to almost $1$.
#
# Both are **square roots** because variances, not standard deviations, add: if $x_0$ has unit
# variance then $x_t$ has variance $\bar\alpha_t + (1 - \bar\alpha_t) = 1$ at every step.

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### One "3", noised to step $t$

# %%
# the course's default, the one the model above was trained with
schedule = NoiseSchedule.linear(500, 1e-4, 0.02)
x0 = images[labels == 3][:1]  # one real "3", shape (1, 1, 16, 16)
steps = [0, 25, 50, 100, 200, 300, 499]
# the same noise at every t
noise = torch.randn(x0.shape, generator=generator).expand(len(steps), -1, -1, -1)
x_t = schedule.add_noise(x0.expand(len(steps), -1, -1, -1), noise, torch.tensor(steps))

show_images(x_t, nrow=len(steps), title="One digit noised to step t (0-based, as in code)",
            labels=[f"t={t}" for t in steps], scale=5)
plt.show()

alpha_bar = schedule.alphas_cumprod
print(f"{'t':>4} {'alpha_bar_t':>12} {'sqrt(alpha_bar_t)':>18} {'sqrt(1-alpha_bar_t)':>20}")
for t in steps:
    print(f"{t:4d} {alpha_bar[t].item():12.5f} {alpha_bar[t].sqrt().item():18.4f}"
          f" {(1 - alpha_bar[t]).sqrt().item():20.4f}")

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### The image fades, the noise grows
#
# - $t = 100$: grainy but readable; $t = 200$: the noise's weight has overtaken the image's
# - The last step still holds 8% of the image's amplitude ($\sqrt{\bar\alpha_T} \approx 0.08$),
#   while sampling starts from pure noise: a small mismatch of this schedule (lesson 05)

# %% [markdown] slideshow={"slide_type": "notes"}
# At $t = 100$ the "3" is grainy but still readable; by $t = 200$, where the noise's weight has
# overtaken the image's, it is hard to make out; at the last step it is gone to the eye. It is
# not *exactly* pure noise, though: the table's last row shows $\sqrt{\bar\alpha_T} \approx 0.08$, so
# $x_T$ still holds 8% of the image's amplitude, while sampling starts from pure noise
# $\mathcal{N}(0, I)$, a small mismatch of this schedule (lesson 05). The two coefficients across all 500 steps:

# %%
fig, ax = plt.subplots(figsize=(6, 3), layout="constrained")
ax.plot(alpha_bar.sqrt(), label=r"$\sqrt{\bar\alpha_t}$: scale of the image")
ax.plot((1 - alpha_bar).sqrt(), label=r"$\sqrt{1-\bar\alpha_t}$: std of the noise")
ax.set_xlabel("timestep t")
ax.set_ylabel("coefficient")
ax.set_title("Linear schedule, T = 500, beta from 1e-4 to 0.02")
ax.grid(alpha=0.3)
ax.legend()
plt.show()

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### Why square roots: a check
#
# - A common bug writes $(1 - \bar\alpha_t)$ instead of $\sqrt{1 - \bar\alpha_t}$ as the noise scale
# - Only the square root keeps $\operatorname{Var}(x_t) = 1$ at every step: *variance-preserving*
# - The bug's noise is too small by $1 / \sqrt{1 - \bar\alpha_t}$: about 4 times at $t = 50$

# %% [markdown] slideshow={"slide_type": "notes"}
# ### Why square roots: a check
#
# A common bug (in earlier courses, too) writes $(1 - \bar\alpha_t)$ instead of
# $\sqrt{1 - \bar\alpha_t}$ as the noise scale. Take data with unit variance and measure the
# variance of $x_t$ both ways: only the square root keeps it at $1$ at every step, the
# *variance-preserving* property. The noise's standard deviation tells more: the bug makes it
# too small by the factor $\sqrt{1 - \bar\alpha_t} / (1 - \bar\alpha_t) = 1 / \sqrt{1 - \bar\alpha_t}$,
# which is close to 1 only at the end of the schedule, where $\bar\alpha_t \to 0$. Near
# $\bar\alpha_t \to 1$ it is worst, although the variance of $x_t$ hardly shows it (the image
# dominates there): at $t = 50$ the network would be trained with about 4 times too little noise.

# %%
unit = torch.randn(20_000, 16, generator=generator)  # data with variance 1
eps = torch.randn(unit.shape, generator=generator)
print(f"{'t':>4} {'Var(x_t), sqrt(1-alpha_bar)':>28} {'Var(x_t), (1-alpha_bar)  [bug]':>32}"
      f" {'noise std too small by':>23}")
for t in [10, 50, 200, 499]:
    right = alpha_bar[t].sqrt() * unit + (1 - alpha_bar[t]).sqrt() * eps
    wrong = alpha_bar[t].sqrt() * unit + (1 - alpha_bar[t]) * eps
    too_small_by = (1 - alpha_bar[t]).sqrt() / (1 - alpha_bar[t])  # sqrt(1 - abar) / (1 - abar)
    print(f"{t:4d} {right.var().item():28.3f} {wrong.var().item():32.3f} "
          f"{too_small_by.item():22.1f}x")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Exercises
#
# ### Exercise 1: the simplest generative model
#
# Fit a single Gaussian to the digits: compute the mean image and the $256 \times 256$ covariance
# of the flattened training images, draw 16 samples from $\mathcal{N}(\text{mean}, \text{cov})$ and
# show them. Do they look like digits? What does this model get right, and what is it missing?

# %%
flat = images.flatten(1)  # (N, 256)
# Your code here.

# %% tags=["solution"]
mean = flat.mean(0)
# a little jitter: the border pixels barely vary
cov = torch.cov(flat.T) + 1e-4 * torch.eye(flat.shape[1])
gaussian = torch.distributions.MultivariateNormal(mean, covariance_matrix=cov)
torch.manual_seed(0)  # MultivariateNormal.sample takes no generator
gaussian_samples = gaussian.sample((16,)).reshape(16, 1, 16, 16)
show_images(gaussian_samples, title="Samples of a Gaussian fitted to the digits")
plt.show()
print(f"mean pixel value: data {flat.mean().item():.3f}, Gaussian samples"
      f" {gaussian_samples.mean().item():.3f}")

# %% [markdown] tags=["solution"]
# <details class="solution"><summary>Discussion</summary>
#
# The Gaussian gets the average brightness and which pixels tend to be lit together right, so
# the samples are blotchy strokes in the right places. But a digit is not "average plus
# correlated noise": a sample is a blend of all ten digits at once, never a crisp 3 or 7. The
# data's distribution has many separate clusters and sharp, thin strokes that one Gaussian
# cannot represent. A generative model has to capture that structure, which is what the deep
# models of the timeline do.
#
# </details>

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 2: when are signal and noise equal?
#
# Find the timestep $t$ at which $\sqrt{\bar\alpha_t} = \sqrt{1 - \bar\alpha_t}$ (signal and noise
# have equal weight, $\bar\alpha_t = 0.5$), for the linear schedule above and for the cosine
# schedule of Nichol & Dhariwal (2021), `NoiseSchedule.cosine(500)`. Show the "3" noised by both
# schedules at a few timesteps, including these two. Which schedule destroys the image faster?

# %%
cosine = NoiseSchedule.cosine(500)
# Your code here.

# %% tags=["solution"]
halfway = {}
for name, s in [("linear", schedule), ("cosine", cosine)]:
    halfway[name] = int((s.alphas_cumprod - 0.5).abs().argmin())
    print(f"{name}: alpha_bar = 0.5 at t = {halfway[name]} (alpha_bar_t ="
          f" {s.alphas_cumprod[halfway[name]].item():.4f})")

compare = sorted({100, halfway["linear"], halfway["cosine"], 300})
rows = [
    s.add_noise(x0.expand(len(compare), -1, -1, -1), noise[: len(compare)], torch.tensor(compare))
    for s in (schedule, cosine)
]
show_images(torch.cat(rows), nrow=len(compare),
            title="Same digit, same noise: linear (top) vs cosine (bottom)",
            labels=[f"{name} t={t}" for name in ("linear", "cosine") for t in compare], scale=5)
plt.show()

# %% [markdown] tags=["solution"]
# <details class="solution"><summary>Discussion</summary>
#
# The linear schedule reaches the halfway point much earlier: it destroys the image fast and
# then spends many steps on images that are already almost pure noise. The cosine schedule was
# designed to spread the destruction more evenly over the steps (Nichol & Dhariwal 2021,
# section 3.2). Lesson 05 compares the two in training.
#
# </details>

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 3: one jump equals many small steps
#
# The closed form says that $t + 1$ small steps $x_{s} = \sqrt{1 - \beta_s}\, x_{s-1} + \sqrt{\beta_s}\, \epsilon_s$
# give the same distribution as one jump with $\sqrt{\bar\alpha_t}$ and $\sqrt{1 - \bar\alpha_t}$. Check it
# numerically: noise 5,000 copies of the "3" step by step up to $t = 200$ and compare, pixel by
# pixel, the mean and the standard deviation across copies with $\sqrt{\bar\alpha_{200}}\, x_0$ and
# $\sqrt{1 - \bar\alpha_{200}}$.

# %%
# Your code here.

# %% tags=["solution"]
t_target, copies = 200, 5000
x = x0.expand(copies, -1, -1, -1).clone()
# code's steps 0..t_target, i.e. q(x_1 | x_0) ... q(x_{t+1} | x_t) of the paper
for s in range(t_target + 1):
    x = (1 - schedule.betas[s]).sqrt() * x + schedule.betas[s].sqrt() * torch.randn(
        x.shape, generator=generator
    )

expected_mean = alpha_bar[t_target].sqrt() * x0[0]
expected_std = (1 - alpha_bar[t_target]).sqrt()
mean_error = (x.mean(0) - expected_mean).abs().max().item()
std_error = (x.std(0) - expected_std).abs().max().item()
print(f"largest pixel error of the mean: {mean_error:.4f}  (standard error of a mean:"
      f" {expected_std.item() / copies**0.5:.4f})")
print(f"largest pixel error of the std:  {std_error:.4f}  (expected std {expected_std.item():.4f})")

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "slide"}
# ## Summary
#
# - A generative model learns $p_\text{data}$ from samples and makes new ones
# - VAEs (2013) and GANs (2014) came first; diffusion (2015) became competitive with DDPM (2020)
#   and went mainstream with Stable Diffusion (2022)
# - Four families, one idea: learn to undo gradual noising
# - $x_t = \sqrt{\bar\alpha_t}\, x_0 + \sqrt{1-\bar\alpha_t}\,\epsilon$: square roots, because
#   variances add
#
# Next: the physics of diffusion, from random walks to the score.

# %% [markdown] slideshow={"slide_type": "notes"}
# ## Summary
#
# - A generative model learns $p_\text{data}$ from samples and produces new samples from it.
# - VAEs (2013) and GANs (2014) came first; diffusion (2015) became competitive with DDPM (2020)
#   and went mainstream with latent diffusion / Stable Diffusion (2022).
# - DDPM, score-based, latent and continuous-time models are variations on one idea: learn to
#   undo gradual noising. Predicting the noise is estimating the score.
# - The course's pretrained model generates digits in one cell, offline.
# - The forward process has a closed form, $x_t = \sqrt{\bar\alpha_t}\, x_0 + \sqrt{1-\bar\alpha_t}\,\epsilon$: square
#   roots, because variances add.
#
# Next: the physics of diffusion, from random walks to the score.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## References
#
# - Diederik P. Kingma and Max Welling (2013). *Auto-Encoding Variational Bayes.*
#   [arXiv:1312.6114](https://arxiv.org/abs/1312.6114)
# - Ian J. Goodfellow, Jean Pouget-Abadie, Mehdi Mirza, Bing Xu, David Warde-Farley, Sherjil Ozair,
#   Aaron Courville and Yoshua Bengio (2014). *Generative Adversarial Networks.*
#   [arXiv:1406.2661](https://arxiv.org/abs/1406.2661)
# - Jascha Sohl-Dickstein, Eric A. Weiss, Niru Maheswaranathan and Surya Ganguli (2015). *Deep
#   Unsupervised Learning using Nonequilibrium Thermodynamics.* [arXiv:1503.03585](https://arxiv.org/abs/1503.03585)
# - Yang Song and Stefano Ermon (2019). *Generative Modeling by Estimating Gradients of the Data
#   Distribution.* [arXiv:1907.05600](https://arxiv.org/abs/1907.05600)
# - Jonathan Ho, Ajay Jain and Pieter Abbeel (2020). *Denoising Diffusion Probabilistic Models.*
#   [arXiv:2006.11239](https://arxiv.org/abs/2006.11239)
# - Jiaming Song, Chenlin Meng and Stefano Ermon (2020). *Denoising Diffusion Implicit Models.*
#   [arXiv:2010.02502](https://arxiv.org/abs/2010.02502)
# - Yang Song, Jascha Sohl-Dickstein, Diederik P. Kingma, Abhishek Kumar, Stefano Ermon and Ben Poole
#   (2021). *Score-Based Generative Modeling through Stochastic Differential Equations.*
#   [arXiv:2011.13456](https://arxiv.org/abs/2011.13456)
# - Alex Nichol and Prafulla Dhariwal (2021). *Improved Denoising Diffusion Probabilistic Models.*
#   [arXiv:2102.09672](https://arxiv.org/abs/2102.09672)
# - Prafulla Dhariwal and Alex Nichol (2021). *Diffusion Models Beat GANs on Image Synthesis.*
#   [arXiv:2105.05233](https://arxiv.org/abs/2105.05233)
# - Robin Rombach, Andreas Blattmann, Dominik Lorenz, Patrick Esser and Björn Ommer (2022).
#   *High-Resolution Image Synthesis with Latent Diffusion Models.* [arXiv:2112.10752](https://arxiv.org/abs/2112.10752)
# - Aditya Ramesh, Prafulla Dhariwal, Alex Nichol, Casey Chu and Mark Chen (2022). *Hierarchical
#   Text-Conditional Image Generation with CLIP Latents* (DALL·E 2). [arXiv:2204.06125](https://arxiv.org/abs/2204.06125)
# - Chitwan Saharia, William Chan, Saurabh Saxena, Lala Li, Jay Whang, Emily Denton, Seyed Kamyar
#   Seyed Ghasemipour, Burcu Karagol Ayan, S. Sara Mahdavi, Rapha Gontijo Lopes, Tim Salimans,
#   Jonathan Ho, David J. Fleet and Mohammad Norouzi (2022). *Photorealistic Text-to-Image
#   Diffusion Models with Deep Language Understanding* (Imagen). [arXiv:2205.11487](https://arxiv.org/abs/2205.11487)
# - Tero Karras, Miika Aittala, Timo Aila and Samuli Laine (2022). *Elucidating the Design Space
#   of Diffusion-Based Generative Models.* [arXiv:2206.00364](https://arxiv.org/abs/2206.00364)
# - Hugging Face `diffusers` documentation: [DDPM pipeline](https://huggingface.co/docs/diffusers/api/pipelines/ddpm)
