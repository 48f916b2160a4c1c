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
# # DDPM: sampling
#
# Lesson 05 trained a network $\epsilon_\theta(x_t, t)$ to predict the noise in a noisy image.
# This lesson turns it into a generator: start from pure noise $x_T \sim \mathcal{N}(0, I)$ and
# apply the learned reverse step $T$ times, down to an image $x_0$.
#
# **Learning objectives.** By the end of this lesson you can
#
# - write the DDPM reverse step (Ho et al. 2020, Algorithm 2) and say where each term comes from;
# - sample digits from the course's pretrained model and watch the denoising trajectory;
# - recognise the classic mistake of leaving out the noise term, and measure what it does;
# - explain why the same seed gives the same images, and use that to make experiments repeatable.
#
# **Estimated time:** 60 minutes (35 of reading and running, 25 for the exercises).

# %% slideshow={"slide_type": "skip"}
import inspect
import time

import matplotlib.pyplot as plt
import torch

from course_lib import DDPMSampler, load_pretrained, predict_noise, sample
from course_lib.classifier import predict
from course_lib.config import fast_or_full, get_device, seed_everything
from course_lib.data import load_digits
from course_lib.metrics import class_entropy, confident_fraction, frechet_distance
from course_lib.plotting import animate_trajectory, show_images

seed_everything(0)
device = get_device()
model, schedule = load_pretrained("digits", device=device)  # unconditional UNet, T = 500, linear schedule
judge, _ = load_pretrained("classifier-digits")
train_images = load_digits(16, "train").tensors[0]
test_images = load_digits(16, "test").tensors[0]
T = schedule.num_timesteps
print(f"pretrained digits model on {device}, T = {T}")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 1. The reverse step
#
# The forward step $q(x_t \mid x_{t-1})$ is a small Gaussian. For small $\beta_t$ the reverse
# step is close to Gaussian too (Sohl-Dickstein et al. 2015), and given $x_0$ it is exactly the
# Gaussian posterior $q(x_{t-1} \mid x_t, x_0) = \mathcal{N}(\tilde\mu_t, \tilde\beta_t I)$ with
# $\tilde\beta_t = \frac{1 - \bar\alpha_{t-1}}{1 - \bar\alpha_t} \beta_t$ (Ho et al. 2020, eq. 7).
# We do not know $x_0$, but the network's noise estimate gives one. Substituting it, one step
# of **ancestral sampling** is (Ho et al. 2020, Algorithm 2)
#
# $$
# x_{t-1} = \frac{1}{\sqrt{\alpha_t}} \left( x_t - \frac{\beta_t}{\sqrt{1 - \bar\alpha_t}}\, \epsilon_\theta(x_t, t) \right) + \sigma_t z,
# \qquad z \sim \mathcal{N}(0, I),
# $$
#
# with $z = 0$ at the last step. The first term removes a little of the predicted noise; the
# second adds fresh noise of variance $\sigma_t^2$. Ho et al. found $\sigma_t^2 = \beta_t$ and
# $\sigma_t^2 = \tilde\beta_t$ to work about equally well; the course uses $\tilde\beta_t$, as diffusers does.

# %% [markdown] slideshow={"slide_type": "subslide"}
# The key lines of `DDPMSampler.step`. It computes the same mean in the equivalent form of
# eq. 7, through the predicted $\hat x_0$, which also allows clipping $\hat x_0$ to $[-1, 1]$
# (diffusers' `clip_sample`; off here, as in the paper):

# %%
source = inspect.getsource(DDPMSampler.step)
print(source[source.index("        x0 = _predict_x0"):])

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 2. Sampling from the pretrained model
#
# `sample` draws $x_T$ from the generator, then calls the model and `sampler.step` for
# $t = T-1, \dots, 0$ (the course counts timesteps from 0, like diffusers). With
# `return_trajectory=True` it also keeps every intermediate $x_t$.

# %%
num_samples = fast_or_full(64, 256)
sampler = DDPMSampler(schedule)
start = time.perf_counter()
samples, trajectory = sample(model, sampler, (num_samples, 1, 16, 16), generator=torch.Generator().manual_seed(0),
                             return_trajectory=True, progress=False)
seconds = time.perf_counter() - start
samples = samples.cpu()
print(f"{num_samples} samples, {T} network calls, {seconds:.1f} s on {device}")
show_images(samples[:64], nrow=16, title=f"DDPM ancestral sampling, {T} steps, pretrained digits model")
plt.show()

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 3. Watching the noise turn into digits
#
# The trajectory holds $T + 1$ batches, $x_T$ (pure noise) to $x_0$. Forty evenly spaced frames
# of the first 48 samples make a small animation (press play):

# %%
labels = [T, *sampler.timesteps.tolist()]  # x_T, then x_{t} after each step, down to x_0
animation = animate_trajectory([x[:48] for x in trajectory], nrow=12, num_frames=40, timesteps=labels, scale=4)
print(f"animation size: {len(animation.data) / 1e6:.2f} MB")
animation

# %% [markdown] slideshow={"slide_type": "subslide"}
# The same trajectory as a still, with the model's current guess $\hat x_0$ of the final image
# below each $x_t$, computed from the predicted noise (Ho et al. 2020, eq. 15):
# $\hat x_0 = (x_t - \sqrt{1 - \bar\alpha_t}\, \epsilon_\theta(x_t, t)) / \sqrt{\bar\alpha_t}$.

# %%
shown_t = [499, 400, 300, 200, 150, 100, 50, 0]
rows_xt, rows_x0 = [], []
with torch.no_grad():
    for t in shown_t:
        x_t = trajectory[T - 1 - t][:6].to(device)  # trajectory[k] is the model's input at timestep T - 1 - k
        abar = schedule.alphas_cumprod[t]
        eps = predict_noise(model, x_t, t)
        rows_xt.append(x_t.cpu())
        rows_x0.append(((x_t - (1 - abar).sqrt() * eps) / abar.sqrt()).clamp(-1, 1).cpu())
fig, axes = plt.subplots(2, 1, figsize=(8, 6), layout="constrained")
show_images(torch.stack(rows_xt, 1).flatten(0, 1), nrow=len(shown_t), ax=axes[0],
            title="$x_t$, the model's input at t = " + ", ".join(map(str, shown_t)))
show_images(torch.stack(rows_x0, 1).flatten(0, 1), nrow=len(shown_t), ax=axes[1],
            title=r"the model's guess $\hat x_0$ at the same t")
plt.show()

# %% [markdown]
# The guess $\hat x_0$ already shows the rough shape of the final digit while $x_t$ still looks
# like noise; the later steps mostly sharpen strokes. Exercise 2 measures when the class is settled.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 4. The classic mistake: forgetting the noise term
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

# %% [markdown] slideshow={"slide_type": "subslide"}
# **Measured.** Diversity is the per-pixel standard deviation across the samples, averaged over
# pixels; "contrast" the standard deviation within each image; the judge (the course's digit
# classifier) gives the share of confidently recognised digits, the entropy of the predicted
# classes ($\log 10 = 2.30$ when all ten digits are equally frequent) and the Fréchet distance
# (FID) of its features to the training digits. Real held-out digits, as many, are the yardstick.

# %%
_, train_features = predict(judge, train_images)
rows = {"DDPM, correct": samples, "DDPM, no noise term": no_noise_samples, "real held-out digits": test_images[:num_samples]}
measured = {}
print(f"{num_samples} images each  {'diversity':>9} {'contrast':>8} {'confident':>9} {'class entropy':>13} {'FID':>6}")
for name, images in rows.items():
    probs, features = predict(judge, images)
    measured[name] = dict(diversity=images.std(0).mean().item(), contrast=images.flatten(1).std(1).mean().item(),
                          confident=confident_fraction(probs), entropy=class_entropy(probs),
                          fid=frechet_distance(features, train_features))
    m = measured[name]
    print(f"{name:>21} {m['diversity']:9.3f} {m['contrast']:8.3f} {m['confident']:9.2f} {m['entropy']:13.2f} {m['fid']:6.2f}")
counts = torch.bincount(predict(judge, no_noise_samples)[0].argmax(1), minlength=10)
print("judge's classes of the no-noise samples, digits 0-9:", counts.tolist())

# %% [markdown] slideshow={"slide_type": "subslide"}
# Without the noise term the images are not noisy, and one by one they are not even bad: each
# has the contrast of a real digit and the judge recognises it. The damage is to the
# *collection*: the samples collapse onto a few very regular, typical digits (the judge's
# counts above show which), so the spread across samples and the class entropy drop and the
# FID, which compares whole distributions, rises several-fold.
#
# Why: each step without noise moves $x_t$ to the *mean* of $p(x_{t-1} \mid x_t)$. At large $t$ that
# mean is an average over very many digits still compatible with $x_t$, a smooth blob near the
# centre of the data, and the variance that ancestral sampling re-injects at every step is never
# put back. The spread of $x_t$ falls below what the model saw in training at that $t$:

# %%
t_axis = sampler.timesteps  # trajectory[k] is the model's input at timestep t_axis[k], k < T
fig, ax = plt.subplots(figsize=(6, 3.5), layout="constrained")
ax.plot(t_axis, [trajectory[k].std().item() for k in range(T)], label="sampling with $\\sigma_t z$")
ax.plot(t_axis, [no_noise_trajectory[k].std().item() for k in range(T)], label="sampling without $\\sigma_t z$")
abar, data_var = schedule.alphas_cumprod[t_axis], train_images.var().item()
ax.plot(t_axis, (abar * data_var + 1 - abar).sqrt(), "k:", label="forward process on real digits")  # Ho et al. 2020, eq. 4
ax.set_xlabel("timestep t")
ax.set_ylabel("standard deviation of $x_t$")
ax.set_title("Spread of $x_t$ during sampling")
ax.invert_xaxis()
ax.grid(alpha=0.3)
ax.legend()
plt.show()

forward_std = (abar * data_var + 1 - abar).sqrt()
ratio = torch.tensor([no_noise_trajectory[k].std().item() for k in range(T)]) / forward_std
lowest = int(ratio.argmin())
print(f"without the noise term the spread of x_t falls to {ratio[lowest]:.0%} of the forward process's, "
      f"at t = {int(t_axis[lowest])}, after {lowest + 1} steps")

# %% [markdown] slideshow={"slide_type": "subslide"}
# With the noise term, the spread of $x_t$ follows the forward process all the way, as it
# should: the reverse process must visit the same distributions $q(x_t)$ as the forward one.
# Without it, the spread of $x_t$ collapses within the first couple of hundred steps to a fraction
# of what it should be (printed above): the network is fed inputs unlike anything it was trained on at that $t$, and
# the chain drifts towards the centre of the data. The last steps restore the contrast of a
# digit (the curves meet again near $t = 0$), but by then most of the diversity is gone.
# (DDIM, lesson 08, is a *correct* deterministic sampler: it rescales the update so that no
# variance is lost.)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 5. Same seed, same images
#
# DDPM is random, but all its randomness comes from the generator we pass: the initial $x_T$
# and the $T - 1$ noises $z$. The same seed gives the same images, bit for bit on the CPU; a
# different seed gives different ones.

# %%
small = (8, 1, 16, 16)
first = sample(model, sampler, small, generator=torch.Generator().manual_seed(7), progress=False).cpu()
again = sample(model, sampler, small, generator=torch.Generator().manual_seed(7), progress=False).cpu()
other = sample(model, sampler, small, generator=torch.Generator().manual_seed(8), progress=False).cpu()
print(f"seed 7 twice: identical = {torch.equal(first, again)}, largest difference {(first - again).abs().max():.1e}")
print(f"seed 7 vs seed 8: largest difference {(first - other).abs().max():.2f}")
show_images(torch.cat([first, again, other]), nrow=8, title="seed 7 (row 1), seed 7 again (row 2), seed 8 (row 3)")
plt.show()

# %% [markdown]
# On a GPU some operations are not bit-for-bit reproducible, so images from the same seed may
# differ in the last digits; they still agree to the eye. `sample` draws the noise on the CPU
# to keep it the same on every device.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Exercises
#
# ### Exercise 1: Algorithm 2 by hand
#
# Implement the reverse step exactly as written in Algorithm 2,
# $x_{t-1} = \frac{1}{\sqrt{\alpha_t}}\left(x_t - \frac{\beta_t}{\sqrt{1 - \bar\alpha_t}} \epsilon\right) + \sigma_t z$
# with $\sigma_t^2 = \tilde\beta_t$, for a random $x_t$, $\epsilon$ and $z$ at $t = 300$, and check it
# against `sampler.step(eps, 300, x_t, noise=z)`.

# %%
# your code here

# %% tags=["solution"]
g = torch.Generator().manual_seed(5)
x_t, eps, z = (torch.randn(4, 1, 16, 16, generator=g) for _ in range(3))
t = 300
alpha, beta, abar, abar_prev = schedule.alphas[t], schedule.betas[t], schedule.alphas_cumprod[t], schedule.alphas_cumprod[t - 1]
sigma = ((1 - abar_prev) / (1 - abar) * beta).sqrt()  # beta-tilde_t, Ho et al. 2020, eq. 7
by_hand = (x_t - beta / (1 - abar).sqrt() * eps) / alpha.sqrt() + sigma * z  # Ho et al. 2020, Algorithm 2
from_sampler = sampler.step(eps, t, x_t, noise=z)
print(f"largest difference: {(by_hand - from_sampler).abs().max():.1e}")
assert torch.allclose(by_hand, from_sampler, atol=1e-5)

# %% [markdown] tags=["solution"]
# <details class="solution"><summary>Why they agree</summary>
#
# The two agree to float32 rounding: eq. 7's form through $\hat x_0$ and Algorithm 2's form are
# the same mean, written differently.
#
# </details>

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 2: when is the digit decided?
#
# For each $t \in \{450, 400, 350, 300, 250, 200, 100, 50\}$, compute the model's guess
# $\hat x_0$ from the trajectory's $x_t$ (section 3) for all samples, and
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
        same_class = (predict(judge, x0_hat.clamp(-1, 1))[0].argmax(1) == final_classes).float().mean().item()
        print(f"t = {t:3d}: RMS distance to the final sample {rms:.3f}, same class {same_class:.0%}")

# %% [markdown] tags=["solution"]
# <details class="solution"><summary>What it shows</summary>
#
# The guess $\hat x_0$ moves towards the final sample as $t$ falls. At $t = 450$ its class is
# close to chance; between $t \approx 300$ and $t \approx 200$ most classes are settled (compare the
# printed shares), although $x_t$ there is still mostly noise. Diffusion models decide the
# coarse structure first and the details last.
#
# </details>

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Summary
#
# - A DDPM generates by running the learned reverse step $T$ times from pure noise (Ho et al.
#   2020, Algorithm 2): remove a little of the predicted noise, then add fresh noise $\sigma_t z$.
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
