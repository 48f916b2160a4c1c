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

# %% [markdown] slideshow={"slide_type": "slide"}
# # DDPM: the forward process and training
#
# A denoising diffusion probabilistic model (DDPM, Ho, Jain & Abbeel 2020) has two halves. The
# **forward process** destroys an image by adding a little Gaussian noise at each of $T$ steps;
# it has no parameters and we can write it down exactly. The **reverse process** undoes one
# step at a time with a neural network that has learned to predict the noise. This lesson is
# about the first half and about training the network; lesson 06 is about sampling with it.
#
# **Learning objectives.** By the end of this lesson you can
#
# - describe the forward process and noise real digits to any timestep in one line;
# - compare the linear and cosine noise schedules through $\bar\alpha_t$, and say why Nichol &
#   Dhariwal (2021) preferred the cosine one for small images;
# - derive and check numerically the closed form $q(x_t \mid x_0) = \mathcal{N}(\sqrt{\bar\alpha_t}\, x_0, (1 - \bar\alpha_t) I)$,
#   and spot the classic bug of using $1 - \bar\alpha_t$ as the noise *scale*;
# - write the simplified DDPM loss (predict the noise, mean squared error);
# - train the course UNet from scratch, read its loss curve, and measure how its samples improve.
#
# **Estimated time:** 75 minutes (45 of reading and running, 30 for the exercises).

# %% slideshow={"slide_type": "skip"}
import inspect
import math

import matplotlib.pyplot as plt
import torch

from course_lib import DDIMSampler, NoiseSchedule, UNet, diffusion_loss, load_pretrained, sample, train_diffusion
from course_lib.classifier import predict
from course_lib.config import fast_or_full, get_device, seed_everything
from course_lib.data import load_digits
from course_lib.metrics import confident_fraction, frechet_distance
from course_lib.models import count_parameters
from course_lib.plotting import plot_losses, plot_schedules, show_images

generator = seed_everything(0)
device = get_device()
train_set = load_digits(16, "train")
test_images = load_digits(16, "test").tensors[0]
digits = train_set.tensors[0][:6]  # six real digits, (6, 1, 16, 16) in [-1, 1]
schedule = NoiseSchedule.linear(500, 1e-4, 0.02)  # the course's image schedule
print(f"{len(train_set)} training digits, {len(test_images)} held out, images {tuple(digits.shape[1:])}, device {device}")

# %% [markdown] slideshow={"slide_type": "slide"}
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
# process): after enough steps, whatever image we started from, $x_T$ is indistinguishable from
# pure noise $\mathcal{N}(0, I)$, the distribution we will later sample from.

# %% [markdown] slideshow={"slide_type": "subslide"}
# The course uses $T = 500$ and $\beta_t$ rising linearly from $10^{-4}$ to $0.02$, with images in
# $[-1, 1]$. Below: six training digits noised to several timesteps with `schedule.add_noise`.

# %%
timesteps_shown = [0, 25, 50, 100, 200, 300, 400, 499]
noise = torch.randn((len(timesteps_shown), *digits.shape), generator=generator)
rows = [schedule.add_noise(digits, noise[i], torch.full((len(digits),), t)) for i, t in enumerate(timesteps_shown)]
grid = torch.stack(rows, dim=1).flatten(0, 1)  # digit by digit, one column per timestep
show_images(grid, nrow=len(timesteps_shown), labels=[f"t={t}" for t in timesteps_shown] * len(digits),
            title="Real digits noised by the forward process")
plt.show()

# %% [markdown]
# The digit fades as $t$ grows: around $t \approx 200$ the noise is as strong as the image
# (the table in section 2 puts a number on it), and by $t \approx 400$ little is
# left. The network will have to learn to undo every one of these steps.

# %% [markdown] slideshow={"slide_type": "slide"}
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

# %% slideshow={"slide_type": "subslide"}
schedules = {"linear": schedule, "cosine": NoiseSchedule.cosine(500)}
fig, axes = plt.subplots(1, 2, figsize=(10, 3.5), layout="constrained")
plot_schedules(schedules, ax=axes[0], sqrt=True, title=r"$\bar\alpha_t$ for T = 500")
cosine_row = [schedules["cosine"].add_noise(digits[:1], noise[i, :1], torch.tensor([t])) for i, t in enumerate(timesteps_shown)]
show_images(torch.cat([rows[i][:1] for i in range(len(timesteps_shown))] + cosine_row), nrow=len(timesteps_shown),
            ax=axes[1], title="same digit and noise at t = " + ", ".join(map(str, timesteps_shown))
            + "\nlinear schedule (top), cosine (bottom)")
plt.show()

print(f"{'schedule':>18} {'abar(T/2)':>10} {'abar(T)':>9} {'SNR < 1 from':>13} {'steps with abar < 0.01':>23}")
for T in [500, 1000]:
    for name, s in {"linear": NoiseSchedule.linear(T, 1e-4, 0.02), "cosine": NoiseSchedule.cosine(T)}.items():
        abar = s.alphas_cumprod
        snr_below_one = int((abar / (1 - abar) < 1).nonzero()[0]) / T  # the noise's scale exceeds the image's
        noise_only = (abar < 1e-2).float().mean().item()  # less than a tenth of the image's amplitude left
        print(f"{f'{name}, T = {T}':>18} {abar[T // 2]:10.3f} {abar[-1]:9.1e} {snr_below_one:13.0%} {noise_only:23.0%}")

# %% [markdown]
# Ho et al.'s linear schedule ($T = 1000$) spends about a third of its steps with less than a
# tenth of the image's amplitude left, the cosine schedule a few percent, and its signal-to-noise
# ratio $\bar\alpha_t / (1 - \bar\alpha_t)$ drops below 1 later. The course's shorter chain
# ($T = 500$, same $\beta$ range) sums fewer $\beta$s, so it spends few steps on pure noise, but it
# still buries the image earlier than the cosine schedule does. The pretrained models use it.

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

# %% [markdown] slideshow={"slide_type": "subslide"}
# **A numerical check.** Take one digit, draw many noises, and compare the empirical mean and
# standard deviation of $x_t$ (over the draws, per pixel) with the formula. As an independent
# reference we also run the chain of single steps $q(x_t \mid x_{t-1})$ $t$ times.

# %%
num_draws = fast_or_full(4000, 20000)
x0 = digits[0]  # (1, 16, 16)
print(f"{num_draws} draws per timestep; errors are the largest over the 256 pixels")
print(f"{'t':>4} {'sqrt(abar)':>10} {'sqrt(1-abar)':>12} {'mean err (jump)':>16} {'std (jump)':>11} {'std (chain)':>12} {'mean err (chain)':>17}")
chain = x0.expand(num_draws, -1, -1, -1).clone()
done = 0
for t in [50, 150, 300]:
    abar = schedule.alphas_cumprod[t]
    jump = schedule.add_noise(x0.expand(num_draws, -1, -1, -1), torch.randn((num_draws, *x0.shape), generator=generator),
                              torch.full((num_draws,), t))
    while done <= t:  # single steps up to and including betas[t] (timesteps are 0-based)
        beta = schedule.betas[done]
        chain = (1 - beta).sqrt() * chain + beta.sqrt() * torch.randn(chain.shape, generator=generator)
        done += 1
    expected_mean, expected_std = abar.sqrt() * x0, (1 - abar).sqrt()
    errors = [(x.mean(0) - expected_mean).abs().max().item() for x in (jump, chain)]
    stds = [x.std(0).mean().item() for x in (jump, chain)]
    print(f"{t:4d} {abar.sqrt():10.4f} {expected_std:12.4f} {errors[0]:16.4f} {stds[0]:11.4f} {stds[1]:12.4f} {errors[1]:17.4f}")
    # the standard error of a mean of num_draws unit-scale draws is 1/sqrt(num_draws); allow 5 of them
    assert max(errors) < 5 / math.sqrt(num_draws) and all(abs(s - expected_std) < 0.01 for s in stds)

# %% [markdown] slideshow={"slide_type": "subslide"}
# **A known mistake.** Several tutorials have written the noise term as
# $(1 - \bar\alpha_t)\, \epsilon$, forgetting the square root: $1 - \bar\alpha_t$ is the *variance*
# of the noise, its *scale* is $\sqrt{1 - \bar\alpha_t}$. Since $1 - \bar\alpha_t < \sqrt{1 - \bar\alpha_t}$,
# the bug adds too little noise everywhere but at the very end: the model is trained on images
# that are cleaner than the sampler assumes, and the total variance is no longer preserved.

# %%
data_var = train_set.tensors[0].var().item()
print(f"pixel variance of the digits: {data_var:.3f}; noise independent of the image")
print(f"{'t':>4} {'correct noise std':>18} {'buggy noise std':>16} {'Var(x_t) correct':>17} {'Var(x_t) buggy':>15}")
for t in [50, 100, 200, 300, 499]:
    abar = schedule.alphas_cumprod[t].item()
    print(f"{t:4d} {math.sqrt(1 - abar):18.3f} {1 - abar:16.3f} "
          f"{abar * data_var + (1 - abar):17.3f} {abar * data_var + (1 - abar) ** 2:15.3f}")

# %% [markdown]
# With the square root, $\operatorname{Var}(x_t)$ moves smoothly from the data's variance to 1.
# Without it, the variance dips in the middle of the chain, and at $t = 100$ the buggy process
# adds less than half of the intended noise scale.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 4. The training objective: predict the noise
#
# Ho et al. (2020) parameterise the network to predict the noise $\epsilon$ that was mixed into
# $x_t$, and found that a simple unweighted mean squared error trains best (their eq. 14):
#
# $$
# L_\text{simple}(\theta) = \mathbb{E}_{t \sim \mathcal{U}\{1..T\},\ x_0,\ \epsilon \sim \mathcal{N}(0, I)}
# \left\| \epsilon - \epsilon_\theta\!\left(\sqrt{\bar\alpha_t}\, x_0 + \sqrt{1 - \bar\alpha_t}\, \epsilon,\ t\right) \right\|^2 .
# $$
#
# One training step (their Algorithm 1): take a batch of images, a random timestep and a noise
# for each, noise the images in closed form, and regress the noise. Here are the key lines of
# `course_lib.training.diffusion_loss`:

# %%
source = inspect.getsource(diffusion_loss)
print(source[source.index("    n = x0.shape[0]"):])

# %% [markdown] slideshow={"slide_type": "subslide"}
# A useful yardstick: a network that always answers $0$ scores exactly
# $\mathbb{E}\|\epsilon\|^2 / d = 1$ per pixel. A fresh UNet starts near there; learning means going
# well below it.

# %%
model = UNet(in_channels=1).to(device)  # the architecture of the shipped "digits" model
batch = train_set.tensors[0][:256].to(device)
with torch.no_grad():
    untrained_loss = diffusion_loss(model, schedule, batch, generator=torch.Generator().manual_seed(1)).item()
print(f"UNet with {count_parameters(model):,} parameters; loss before training: {untrained_loss:.3f} (predicting 0 scores 1.000)")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 5. Training the UNet from scratch
#
# `train_diffusion` runs Algorithm 1 with AdamW and shows a progress bar. Every
# `callback_every` steps it calls our `snapshot` function, which draws a few samples with the
# current weights. To keep this cheap we sample with DDIM in 25 steps (lesson 08) rather than
# all 500 DDPM steps, from the same starting noise each time, so the snapshots are comparable.
# Fast mode trains for a few hundred steps (under a minute on two CPU cores); the full run
# uses a few thousand. The shipped model was trained for 10,000 steps on a GPU.

# %%
steps = fast_or_full(300, 3000)
num_snapshot_samples = fast_or_full(64, 256)
snapshot_sampler = DDIMSampler(schedule, num_inference_steps=25)
snapshots: dict[int, torch.Tensor] = {}


def snapshot(step: int, current_model: torch.nn.Module) -> None:
    """Sample from the current weights, always from the same noise (seed 2)."""
    snapshots[step] = sample(current_model, snapshot_sampler, (num_snapshot_samples, 1, 16, 16),
                             generator=torch.Generator().manual_seed(2), progress=False).cpu()


snapshot(0, model)
result = train_diffusion(model, schedule, train_set, steps=steps, lr=2e-3, device=device, seed=0,
                         callback=snapshot, callback_every=steps // 3)
last = result.losses[-50:]
print(f"{steps} steps in {result.seconds:.0f} s; mean loss of the last {len(last)} steps: {sum(last) / len(last):.4f}")

# %% slideshow={"slide_type": "subslide"}
plot_losses(result.losses, smooth=25, title=f"Simplified DDPM loss, UNet trained from scratch ({steps} steps)")
plt.show()

# %% [markdown]
# The loss falls fast from about 1 and then creeps down; it stays noisy because each batch
# draws new timesteps, and predicting the noise is much harder at some timesteps than others
# (Exercise 2). A low loss alone does not say the samples are good, so let us look at them.

# %% slideshow={"slide_type": "subslide"}
fig, axes = plt.subplots(1, len(snapshots), figsize=(2.2 * len(snapshots), 2.8), layout="constrained")
for ax, (step, images) in zip(axes, snapshots.items()):
    show_images(images[:16], nrow=4, ax=ax, title=f"after {step} steps")
fig.suptitle("Samples from the same noise as training goes on (DDIM, 25 steps)")
plt.show()

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 6. What long training gives, measured
#
# The course ships a `digits` model of the same architecture, trained for 10,000 steps. To
# compare it with our snapshots, and with real digits, we ask the course's digit classifier (the
# *judge*, trained on real digits) how often it is more than 90% sure of the class of an image,
# and compute the Fréchet distance (FID, Heusel et al. 2017) between the judge's features of
# the images and of the training digits: 0 for identical statistics, lower is better. A
# classifier can be confidently wrong about a blob, so the FID is the more telling number here.
# Real held-out digits are the yardstick.

# %% slideshow={"slide_type": "subslide"}
shipped, _ = load_pretrained("digits", device=device)
judge, _ = load_pretrained("classifier-digits")
shipped_samples = sample(shipped, snapshot_sampler, (num_snapshot_samples, 1, 16, 16),
                         generator=torch.Generator().manual_seed(2), progress=False).cpu()

_, train_features = predict(judge, train_set.tensors[0])
candidates = {f"from scratch, {step} steps": images for step, images in snapshots.items()}
candidates["shipped model, 10,000 steps"] = shipped_samples
candidates["real held-out digits"] = test_images[:num_snapshot_samples]
print(f"{num_snapshot_samples} images each{'confident > 0.9':>20} {'FID':>7}")
for name, images in candidates.items():
    probs, features = predict(judge, images)
    print(f"{name:>30} {confident_fraction(probs):16.2f} {frechet_distance(features, train_features):7.2f}")

show_images(shipped_samples[:32], nrow=16, title="The shipped digits model (same noise, DDIM 25 steps)")
plt.show()

# %% [markdown]
# Both numbers improve quickly over the first hundred steps and then more slowly: a short CPU
# run teaches the network the rough shape of the data (dark background, bright strokes in the
# middle), and the details of each digit take thousands of steps more. The shipped model is as
# close to the training digits as real held-out digits are. Two cautions when reading FIDs:
# with few images the estimate is noisy and biased upwards, so compare only numbers computed
# from the same number of images; and a model that *copied* its training images would beat
# held-out real digits on this measure, which is why lesson 11 audits samples for memorisation.

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
print(f"last step: formula {alpha_bar_formula[-1]:.1e}, schedule {schedules['cosine'].alphas_cumprod[-1]:.1e}")

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

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 3: the square-root bug in code
#
# Noise the training digits to $t = 499$ with the correct formula and with the buggy one,
# $\sqrt{\bar\alpha_t}\, x_0 + (1 - \bar\alpha_t)\, \epsilon$, and print the standard deviation of
# each over all pixels. The sampler starts from $\mathcal{N}(0, I)$: which of the two matches it?
# Repeat at $t = 100$.

# %% tags=["solution"]
images = train_set.tensors[0]
eps = torch.randn(images.shape, generator=torch.Generator().manual_seed(4))
for t in [499, 100]:
    abar = schedule.alphas_cumprod[t]
    correct = schedule.add_noise(images, eps, torch.full((len(images),), t))
    buggy = abar.sqrt() * images + (1 - abar) * eps
    print(f"t = {t}: std correct {correct.std():.3f}, buggy {buggy.std():.3f}")

# %% [markdown] tags=["solution"]
# <details class="solution"><summary>Why it is easy to miss</summary>
#
# At $t = 499$ both are close to 1, because $\bar\alpha_T$ is tiny and the bug only hurts when
# $1 - \bar\alpha_t$ is far from 1; that is why the bug is easy to miss by looking at $x_T$. At
# $t = 100$ the buggy images are far less noisy than the ones the sampler will meet.
#
# </details>

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Summary
#
# - The forward process adds Gaussian noise in $T$ small steps; in closed form
#   $x_t = \sqrt{\bar\alpha_t}\, x_0 + \sqrt{1 - \bar\alpha_t}\, \epsilon$, checked above against the
#   step-by-step chain. The noise *scale* is $\sqrt{1 - \bar\alpha_t}$, not $1 - \bar\alpha_t$.
# - The schedule is best read through $\bar\alpha_t$: the linear one destroys information early
#   and spends its last steps on near-pure noise; the cosine one (Nichol & Dhariwal 2021) is gentler.
# - Training is regression: noise an image to a random $t$, predict the noise, minimise the
#   squared error (Ho et al. 2020, eq. 14 and Algorithm 1).
# - A few hundred steps on a CPU give blurry blobs; thousands of steps give digits that a
#   classifier recognises as often as it does real ones.
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
