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
# # Diffusion in physics
#
# Diffusion models borrowed their name, and most of their mathematics, from physics:
#
# - a drop of ink spreading in water: random walks and the heat equation
# - SDEs and the Fokker–Planck equation: the forward process
# - the score: running diffusion backwards, and Langevin sampling
# - charges and field lines: Poisson flow

# %% [markdown] slideshow={"slide_type": "notes"}
# # Diffusion in physics
#
# Diffusion models borrowed their name, and most of their mathematics, from physics: a drop
# of ink spreading in water, a grain of pollen jiggling under a microscope, the heat flowing
# through a metal bar. This lesson walks through that physics with small simulations you can
# run on a laptop, and at each step points at the piece of a diffusion model it becomes.
#
# **Learning objectives.** By the end of this lesson you can
#
# - explain Brownian motion as a random walk, and why its variance grows as $2Dt$;
# - connect a cloud of random walkers to the heat equation and its Gaussian solution;
# - read a stochastic differential equation (SDE) and its Fokker–Planck equation in one dimension;
# - say what the score $\nabla_x \log p(x)$ is and why running diffusion backwards needs it;
# - sample a distribution with Langevin dynamics, given only its score;
# - describe the electrostatics behind Poisson flow generative models.
#
# **Estimated time:** 75 minutes (45 of reading and running, 30 for the exercises).

# %% slideshow={"slide_type": "skip"}
import math

import matplotlib.pyplot as plt
import torch

from course_lib.config import fast_or_full, seed_everything
from course_lib.data import GaussianMixture
from course_lib.metrics import energy_distance
from course_lib.physics import (electric_field_2d, euler_maruyama, follow_field_lines,
                                heat_kernel, langevin_sample, random_walk)
from course_lib.plotting import plot_points, plot_vector_field

generator = seed_everything(0)

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "slide"}
# ## 1. Brownian motion is a random walk
#
# - Brown (1827) saw pollen particles dance in water; Einstein (1905): molecules kick them, and
#   the kicks add up to a **random walk**
# - Independent steps of variance $a^2$: $\operatorname{Var}(x_k) = k\, a^2$
# - One step every $\mathrm{d}t$: $\operatorname{Var}(x_t) = 2Dt$, with $D = a^2 / (2\, \mathrm{d}t)$
# - The spread grows like $\sqrt{t}$: a walker wanders, it does not travel

# %% [markdown] slideshow={"slide_type": "notes"}
# ## 1. Brownian motion is a random walk
#
# In 1827 the botanist Robert Brown watched tiny particles from pollen grains dance in water
# under his microscope, without ever settling. In 1905 Einstein explained the dance: the
# particle is kicked by water molecules an enormous number of times every second, and the
# kicks add up to a **random walk**.
#
# Take steps $\xi_1, \xi_2, \dots$ that are independent, with mean $0$ and variance $a^2$. After
# $k$ steps the position is $x_k = \xi_1 + \dots + \xi_k$, and because variances of independent
# steps add,
#
# $$
# \operatorname{Var}(x_k) = k\, a^2 .
# $$
#
# With one step every $\mathrm{d}t$ seconds, $t = k\, \mathrm{d}t$ and
# $\operatorname{Var}(x_t) = (a^2 / \mathrm{d}t)\, t = 2 D t$, where $D = a^2 / (2\, \mathrm{d}t)$ is
# the **diffusion coefficient**. The *spread* grows like $\sqrt{t}$, not like $t$: a walker
# wanders, it does not travel. Jean Perrin measured exactly this in 1908 to count atoms
# (Avogadro's number), and won a Nobel prize for it.

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### Five walkers in the plane

# %% [markdown]
# `random_walk` simulates many independent walkers. Each step adds a Gaussian increment of
# variance $2 D\, \mathrm{d}t$ per coordinate, or, with `lattice=True`, a coin flip
# $\pm\sqrt{2 D\, \mathrm{d}t}$. Here are five walkers in the plane, with the two kinds of steps.

# %%
D, dt = 0.5, 0.01
num_steps = 1000  # 10 seconds
fig, axes = plt.subplots(1, 2, figsize=(8, 3.2), sharex=True, sharey=True, layout="constrained")
for ax, lattice in zip(axes, [False, True]):
    # (K+1, N, 2)
    paths = random_walk(5, num_steps, dt, D, dim=2, lattice=lattice, generator=generator)
    for i in range(paths.shape[1]):
        ax.plot(paths[:, i, 0], paths[:, i, 1], linewidth=0.8)
        ax.plot(paths[-1, i, 0], paths[-1, i, 1], "o", color=ax.lines[-1].get_color())
    ax.plot(0, 0, "k+", markersize=12)
    ax.set_title("coin-flip steps" if lattice else "Gaussian steps")
    ax.set_xlabel("$x_1$")
    ax.set_aspect("equal")
axes[0].set_ylabel("$x_2$")
fig.suptitle(f"Five random walkers, {num_steps} steps each, from the origin (+)")
plt.show()

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "slide"}
# ## 2. The heat equation: an ink drop spreading
#
# The density of many coin-flip walkers:
# $p(x, t + \mathrm{d}t) = \tfrac12\, p(x - a, t) + \tfrac12\, p(x + a, t)$. A Taylor expansion
# gives the **heat equation** (Fourier 1822, Fick 1855):
#
# $$
# \frac{\partial p}{\partial t} = D\, \frac{\partial^2 p}{\partial x^2}
# $$
#
# From a point, its solution is the **heat kernel** $\mathcal{N}(x;\, 0,\, 2Dt)$: a Gaussian whose
# variance grows as $2Dt$.

# %% [markdown] slideshow={"slide_type": "notes"}
# ## 2. The heat equation: an ink drop spreading
#
# Follow not one walker but the **density** $p(x, t)$ of a huge number of them, like the ink
# molecules of a drop. For the coin-flip walk on a line, a walker at $x$ at time $t + \mathrm{d}t$
# came from $x - a$ or $x + a$ with probability $\tfrac12$ each:
#
# $$
# p(x, t + \mathrm{d}t) = \tfrac12\, p(x - a, t) + \tfrac12\, p(x + a, t).
# $$
#
# Expand both sides in Taylor series ($p(x \pm a) \approx p \pm a\, \partial_x p + \tfrac{a^2}{2} \partial_x^2 p$)
# and the first-order terms cancel:
#
# $$
# \frac{\partial p}{\partial t} = D\, \frac{\partial^2 p}{\partial x^2}, \qquad D = \frac{a^2}{2\, \mathrm{d}t}.
# $$
#
# This is the **heat (or diffusion) equation** (Fourier 1822, Fick 1855). Started from a point
# (all the ink at $x = 0$), its solution is the **heat kernel**, a Gaussian whose variance grows as $2Dt$:
#
# $$
# p(x, t) = \frac{1}{\sqrt{4 \pi D t}} \exp\!\left(-\frac{x^2}{4 D t}\right) = \mathcal{N}(x;\, 0,\, 2Dt).
# $$

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### Check: the walkers' variance is $2Dt$

# %% [markdown]
# Let us check it. We release many walkers at $0$ and compare the variance of their positions
# with $2Dt$. A sample variance from $N$ Gaussian draws has a standard error of
# $2Dt\,\sqrt{2/(N-1)}$, so we ask for agreement within 5 standard errors.

# %%
num_particles = fast_or_full(20_000, 100_000)
times = [0.1, 0.5, 1.0, 2.0]
paths = random_walk(num_particles, 200, dt, D, generator=generator)  # (201, N, 1): up to t = 2
coin_paths = random_walk(num_particles, 200, dt, D, lattice=True, generator=generator)

print(f"{num_particles} walkers, D = {D}, dt = {dt}")
print(f"{'t':>5} {'2Dt':>7} {'var, Gaussian steps':>20} {'var, coin flips':>16} {'std. error':>11}")
for t in times:
    k = round(t / dt)
    expected = 2 * D * t
    var_gauss, var_coin = paths[k].var().item(), coin_paths[k].var().item()
    std_error = expected * math.sqrt(2 / (num_particles - 1))
    print(f"{t:5.1f} {expected:7.3f} {var_gauss:20.4f} {var_coin:16.4f} {std_error:11.4f}")
    assert abs(var_gauss - expected) < 5 * std_error and abs(var_coin - expected) < 5 * std_error

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### Walkers against the heat kernel

# %% [markdown]
# The histograms of the positions against the heat kernel $\mathcal{N}(0, 2Dt)$:

# %%
fig, axes = plt.subplots(1, len(times), figsize=(10, 3), sharey=True, layout="constrained")
grid = torch.linspace(-4, 4, 200)
for ax, t in zip(axes, times):
    ax.hist(paths[round(t / dt), :, 0].numpy(), bins=60, range=(-4, 4), density=True, alpha=0.5,
            label="walkers")
    ax.plot(grid, heat_kernel(grid, t, D), "k", label="heat kernel")
    ax.set_title(f"t = {t}")
    ax.set_xlabel("position x")
axes[0].set_ylabel("density p(x, t)")
axes[-1].legend(loc="upper right")
fig.suptitle("An ink drop spreading: simulated walkers vs the solution of the heat equation")
plt.show()

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### In two dimensions: the drop stays round

# %% [markdown]
# The same in two dimensions: a drop of ink seen from above. The peak falls as $1/t$ (the mass
# is shared by an area $\propto 2Dt$) and the drop stays round, because each coordinate diffuses
# independently.

# %%
ink = random_walk(num_particles, 200, dt, D, dim=2, generator=generator)
fig, axes = plt.subplots(1, 3, figsize=(9, 3.2), sharey=True, layout="constrained")
for ax, t in zip(axes, [0.1, 0.5, 2.0]):
    xy = ink[round(t / dt)]
    ax.hist2d(xy[:, 0].numpy(), xy[:, 1].numpy(), bins=60, range=[[-4, 4], [-4, 4]], cmap="Blues")
    ax.set_title(f"t = {t}")
    ax.set_xlabel("$x_1$")
    ax.set_aspect("equal")
axes[0].set_ylabel("$x_2$")
fig.suptitle("A 2-D ink drop: histogram of the walkers' positions")
plt.show()

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "slide"}
# ## 3. SDEs and the Fokker–Planck equation
#
# One particle: a drift $f$ and random kicks of size $g$, with $\mathrm{d}w \sim \mathcal{N}(0, \mathrm{d}t)$,
#
# $$
# \mathrm{d}x = f(x, t)\, \mathrm{d}t + g(t)\, \mathrm{d}w ,
# $$
#
# simulated by **Euler–Maruyama**: $x_{k+1} = x_k + f\, \mathrm{d}t + g \sqrt{\mathrm{d}t}\, z_k$.
# Its density obeys the **Fokker–Planck equation**: the drift moves it, the noise spreads it,
#
# $$
# \partial_t p = -\partial_x \big[f\, p\big] + \tfrac12 g^2\, \partial_x^2 p .
# $$
#
# With $f = 0$ and $g^2 = 2D$: the heat equation again.

# %% [markdown] slideshow={"slide_type": "notes"}
# ## 3. SDEs and the Fokker–Planck equation
#
# A **stochastic differential equation** describes one particle's path, with a deterministic
# pull $f$ (the *drift*) and random kicks of size $g$ (the *diffusion*):
#
# $$
# \mathrm{d}x = f(x, t)\, \mathrm{d}t + g(t)\, \mathrm{d}w ,
# $$
#
# where $\mathrm{d}w$ is a Brownian increment, $\mathcal{N}(0, \mathrm{d}t)$. Read it as the recipe
# $x_{k+1} = x_k + f(x_k, t_k)\, \mathrm{d}t + g(t_k) \sqrt{\mathrm{d}t}\, z_k$ with $z_k \sim \mathcal{N}(0, 1)$:
# that recipe is the **Euler–Maruyama** method (`euler_maruyama` in `course_lib.physics`). The
# random walk is the case $f = 0$, $g = \sqrt{2D}$.
#
# The density $p(x, t)$ of many such particles obeys the **Fokker–Planck equation** (in 1-D):
#
# $$
# \frac{\partial p}{\partial t} = -\frac{\partial}{\partial x}\big[f(x, t)\, p\big] + \frac{g(t)^2}{2}\, \frac{\partial^2 p}{\partial x^2}.
# $$
#
# The first term moves probability along the drift, the second spreads it. With $f = 0$ and
# $g^2 = 2D$ it is the heat equation again.

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### The SDE of a diffusion model
#
# The **variance-preserving SDE** (Song et al. 2021), an Ornstein–Uhlenbeck process, and its
# solution:
#
# $$
# \mathrm{d}x = -\tfrac12 \beta\, x\, \mathrm{d}t + \sqrt{\beta}\, \mathrm{d}w
# \quad\Longrightarrow\quad x_t = e^{-\beta t/2}\, x_0 + \sqrt{1 - e^{-\beta t}}\; \epsilon
# $$
#
# - DDPM's $x_t = \sqrt{\bar\alpha_t}\, x_0 + \sqrt{1 - \bar\alpha_t}\,\epsilon$, with $\bar\alpha_t = e^{-\beta t}$
# - Data a mixture of Gaussians: $p_t$ is again a mixture, known exactly, to check a simulation

# %% [markdown] slideshow={"slide_type": "notes"}
# ### The SDE of a diffusion model
#
# Diffusion models add a gentle pull towards the origin so that the spreading stops at a
# standard Gaussian instead of going on forever: the **variance-preserving SDE** of Song et al.
# (2021), here with a constant rate $\beta$. Physicists know it as the Ornstein–Uhlenbeck process:
#
# $$
# \mathrm{d}x = -\tfrac12 \beta\, x\, \mathrm{d}t + \sqrt{\beta}\, \mathrm{d}w .
# $$
#
# Its solution from a starting point $x_0$ is known in closed form:
#
# $$
# x_t = e^{-\beta t/2}\, x_0 + \sqrt{1 - e^{-\beta t}}\; \epsilon, \qquad \epsilon \sim \mathcal{N}(0, 1).
# $$
#
# This has exactly the form of DDPM's $x_t = \sqrt{\bar\alpha_t}\, x_0 + \sqrt{1 - \bar\alpha_t}\,\epsilon$
# (Ho et al. 2020, eq. 4), with $\bar\alpha_t = e^{-\beta t}$ (with a rate that changes over time,
# $\bar\alpha_t = e^{-\int_0^t \beta(s)\, \mathrm{d}s}$: DDPM is a discretisation of this SDE, Song et al.
# 2021, section 3.4). So when the data are a mixture of Gaussians, the
# Fokker–Planck solution $p_t$ is again a mixture of Gaussians, with scaled means and widened
# variances (`GaussianMixture.noised`), and we can compare a simulation with the exact answer.

# %%
data_1d = GaussianMixture(means=[[-2.0], [1.5]], stds=[0.4, 0.6], weights=[0.7, 0.3])
beta, T_end, dt_sde = 1.0, 8.0, 0.01
num_sde_steps = round(T_end / dt_sde)
n_sde = 4000  # the energy distance below compares all pairs: keep it modest

def noised_data(t: float) -> GaussianMixture:
    """p_t, the exact law of x_t under the VP SDE started from data_1d."""
    keep = math.exp(-beta * t / 2)
    return data_1d.noised(scale=keep, noise_std=math.sqrt(1 - keep**2))

x0 = data_1d.sample(n_sde, generator=generator)  # (N, 1)
forward = euler_maruyama(lambda x, t: -0.5 * beta * x, math.sqrt(beta), x0, dt_sde, num_sde_steps,
                         generator=generator, return_trajectory=True)  # (K+1, N, 1)

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### Simulated variance against Fokker–Planck

# %% [markdown]
# The variance of the simulated particles against the exact variance of $p_t$:

# %%
def mixture_variance(mixture: GaussianMixture) -> float:
    """Variance of a 1-D mixture: E[x^2] - E[x]^2, from its weights, means and stds."""
    w, m, s = mixture.weights, mixture.means[:, 0], mixture.stds
    return ((w * (s**2 + m**2)).sum() - (w * m).sum() ** 2).item()

def std_error_of_variance(x: torch.Tensor) -> float:
    """Standard error of the sample variance, sqrt((m4 - var^2) / N), estimated from the sample
    itself."""
    centred = x - x.mean()
    return math.sqrt(((centred**4).mean() - centred.var() ** 2).item() / x.numel())

print(f"{'t':>5} {'simulated variance':>19} {'std. error':>11} {'Fokker-Planck (exact)':>22}")
for t in [0.0, 0.5, 1.0, 2.0, 8.0]:
    x_t = forward[round(t / dt_sde)]
    print(f"{t:5.1f} {x_t.var().item():19.3f} {std_error_of_variance(x_t):11.3f}"
          f" {mixture_variance(noised_data(t)):22.3f}")

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### The forward process, simulated and exact

# %% [markdown]
# The histograms: the two bumps of the data slide towards each other and melt into one
# standard Gaussian. That is the *forward process* of a diffusion model.

# %%
fig, axes = plt.subplots(1, 5, figsize=(11, 2.8), sharey=True, layout="constrained")
grid = torch.linspace(-4.5, 4.5, 300)[:, None]
for ax, t in zip(axes, [0.0, 0.25, 1.0, 2.0, 8.0]):
    ax.hist(forward[round(t / dt_sde), :, 0].numpy(), bins=60, range=(-4.5, 4.5), density=True,
            alpha=0.5)
    ax.plot(grid[:, 0], noised_data(t).log_prob(grid).exp(), "k")
    ax.set_title(f"t = {t}")
    ax.set_xlabel("x")
axes[0].set_ylabel("$p_t(x)$")
fig.suptitle("Forward VP SDE: simulated particles (bars) and the exact Fokker-Planck solution "
             "(line)")
plt.show()

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "slide"}
# ## 4. The score, and running the film backwards
#
# The **score** of a density: $s(x) = \nabla_x \log p(x)$.
#
# - It points uphill, towards likelier $x$
# - It ignores the normalising constant of $p$
# - For $\mathcal{N}(\mu, \sigma^2)$ it is $-(x - \mu)/\sigma^2$: a spring back to the mean, harder
#   the narrower the Gaussian

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### Running the film backwards
#
# Anderson (1982): the time-reversed diffusion is again an SDE (Song et al. 2021, eq. 6),
#
# $$
# \mathrm{d}x = \big[f(x, t) - g(t)^2\, \nabla_x \log p_t(x)\big]\, \mathrm{d}t + g(t)\, \mathrm{d}\bar w .
# $$
#
# - Everything in it is known except the score of the noised data $p_t$
# - **Learn the score, and you can generate data**
# - DDPM: $\nabla_x \log p_t(x_t) \approx -\epsilon_\theta(x_t, t) / \sqrt{1 - \bar\alpha_t}$

# %% [markdown] slideshow={"slide_type": "notes"}
# ## 4. The score, and running the film backwards
#
# The **score** of a density is the gradient of its logarithm:
#
# $$
# s(x) = \nabla_x \log p(x).
# $$
#
# It points uphill, towards likelier $x$, and it does not care about the normalising constant
# of $p$ (a constant disappears in the gradient of the log). For a Gaussian
# $\mathcal{N}(\mu, \sigma^2)$ it is $-(x - \mu)/\sigma^2$: a spring pulling back to the mean, harder
# the narrower the Gaussian.
#
# Diffusion destroys information: every density ends up as the same Gaussian. Can we run the
# film backwards? Anderson (1982) showed that the time-reversed process is again an SDE,
#
# $$
# \mathrm{d}x = \big[f(x, t) - g(t)^2\, \nabla_x \log p_t(x)\big]\, \mathrm{d}t + g(t)\, \mathrm{d}\bar w ,
# $$
#
# run from $t = T$ down to $0$ (so $\mathrm{d}t < 0$), with fresh noise $\mathrm{d}\bar w$ (Song et al.
# 2021, eq. 6). Everything in it is known except the score of the noised data $p_t$. **Learn the
# score, and you can generate data**: that is what a diffusion model's network does. (For DDPM,
# $\nabla_x \log p_t(x_t) \approx -\epsilon_\theta(x_t, t) / \sqrt{1 - \bar\alpha_t}$: predicting the noise *is*
# estimating the score.)

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### Backwards with the exact score
#
# - Our mixture's $p_t$ is known: run the reverse SDE with the true score, and without it
# - Distance to the data: the **energy distance**, $0$ for identical distributions
# - Its noise floor: two independent data samples

# %% [markdown] slideshow={"slide_type": "notes"}
# For our mixture we know $p_t$ exactly, so we can run the reverse SDE with the true score.
# Writing $\tau = T - t$ for the time that runs forward in the simulation, the reverse SDE has drift
# $\tfrac12 \beta x + \beta\, \nabla_x \log p_{T-\tau}(x)$. As a control we also drop the score term.
# We measure how far each result is from the data with the **energy distance** (Székely & Rizzo
# 2013), which is $0$ for identical distributions. Finite samples never give exactly $0$: two
# independent data samples of the same size give the *noise floor*, and anything of that size
# is as close to the data as a fresh data sample is.

# %%
def reverse_drift(x: torch.Tensor, tau: float) -> torch.Tensor:
    t = T_end - tau
    return 0.5 * beta * x + beta * noised_data(t).score(x)

x_T = torch.randn(n_sde, 1, generator=generator)  # start from the standard Gaussian
with_score = euler_maruyama(reverse_drift, math.sqrt(beta), x_T, dt_sde, num_sde_steps,
                            generator=generator)
without_score = euler_maruyama(lambda x, tau: 0.5 * beta * x, math.sqrt(beta), x_T, dt_sde,
                               num_sde_steps, generator=generator)

# %%
reference = data_1d.sample(n_sde, generator=generator)
distances = {
    "reverse SDE with the score": energy_distance(with_score, reference),
    "reverse SDE without the score": energy_distance(without_score, reference),
    "the starting noise x_T": energy_distance(x_T, reference),
    "noise floor (fresh data)": energy_distance(data_1d.sample(n_sde, generator=generator),
                                                reference),
}
print(f"energy distance to the data ({n_sde} samples each):")
for name, value in distances.items():
    print(f"  {name:30s} {value:.4f}")
print(f"share of samples in the left bump: {(with_score < 0).float().mean().item():.3f} (data:"
      f" {data_1d.weights[0].item():.1f})")
assert distances["reverse SDE with the score"] < 0.01 < distances["reverse SDE without the score"]

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### The score turns noise into the data
#
# Without the score term, the reversed drift only pushes the particles outwards: the cloud
# explodes instead of sharpening into the data.

# %%
fig, ax = plt.subplots(figsize=(6, 3), layout="constrained")
ax.hist(with_score[:, 0].numpy(), bins=80, range=(-4.5, 4.5), density=True, alpha=0.5,
        label="reverse SDE with the score")
ax.hist(x_T[:, 0].numpy(), bins=80, range=(-4.5, 4.5), density=True, histtype="step",
        label="starting noise $x_T$")
ax.plot(grid[:, 0], data_1d.log_prob(grid).exp(), "k", label="data density $p_0$")
ax.set_xlabel("x")
ax.set_ylabel("density")
ax.set_title("Running diffusion backwards with the exact score")
ax.legend()
plt.show()

# %% [markdown] slideshow={"slide_type": "notes"}
# Without the score the reversed drift $+\tfrac12\beta x$ only pushes particles outwards while the
# noise keeps spreading them: the cloud explodes instead of sharpening into the data. The score
# term is what pulls each particle towards the regions where the data were.

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "slide"}
# ## 5. Langevin dynamics: sampling with the score alone
#
# The **Langevin SDE** $\mathrm{d}x = \nabla_x \log p(x)\, \mathrm{d}t + \sqrt{2}\, \mathrm{d}w$ has $p$ as
# its stationary density:
#
# - Fokker–Planck: $-(p' p / p)' + p'' = 0$, so $p$ does not change
# - The drift climbs towards likely regions; the noise keeps the particles from collapsing onto
#   the peaks
# - With a step $\varepsilon$ (Song & Ermon 2019):
#   $x_{k+1} = x_k + \frac{\varepsilon}{2}\, \nabla_x \log p(x_k) + \sqrt{\varepsilon}\, z_k$

# %% [markdown] slideshow={"slide_type": "notes"}
# ## 5. Langevin dynamics: sampling with the score alone
#
# The score is also enough to sample a *fixed* density $p$. The **Langevin SDE**
#
# $$
# \mathrm{d}x = \nabla_x \log p(x)\, \mathrm{d}t + \sqrt{2}\, \mathrm{d}w
# $$
#
# has $p$ as its stationary density. Check it with Fokker–Planck in 1-D: with $f = p'/p$ and
# $g^2 = 2$, the right-hand side is $-(p' p / p)' + p'' = -p'' + p'' = 0$, so $p$ does not change.
# The drift climbs towards likely regions, the noise keeps the particles from collapsing
# onto the peaks. Discretised with a step $\varepsilon$ (Song & Ermon 2019, section 2.2):
#
# $$
# x_{k+1} = x_k + \frac{\varepsilon}{2}\, \nabla_x \log p(x_k) + \sqrt{\varepsilon}\, z_k, \qquad z_k \sim \mathcal{N}(0, I).
# $$

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### Langevin on a ring of eight Gaussians

# %% [markdown]
# This is `langevin_sample(score_fn, x_init, step_size, num_steps, generator)`. Let us sample the
# course's ring of eight Gaussians, whose score `GaussianMixture.score` knows in closed form.

# %%
ring = GaussianMixture.ring()
n_langevin = 2000
x_init = 2 * torch.randn(n_langevin, 2, generator=generator)  # a broad cloud of noise
step_size = 0.002
langevin = langevin_sample(ring.score, x_init, step_size, 500, generator)
too_short = langevin_sample(ring.score, x_init, step_size, 20, generator)

exact = ring.sample(n_langevin, generator=generator)
exact_again = ring.sample(n_langevin, generator=generator)
distances = {"Langevin, 500 steps": energy_distance(langevin, exact),
             "Langevin, only 20 steps": energy_distance(too_short, exact),
             "the initial noise (baseline)": energy_distance(x_init, exact),
             "noise floor (exact vs exact)": energy_distance(exact_again, exact)}
print(f"energy distance to exact samples of the mixture ({n_langevin} points each):")
for name, value in distances.items():
    print(f"  {name:30s} {value:.4f}")
ranked = list(distances.values())
assert ranked[0] < ranked[1] < ranked[2]  # 500 steps < 20 steps < the initial noise

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### After 20 and after 500 Langevin steps

# %%
fig, axes = plt.subplots(1, 3, figsize=(11, 3.8), layout="constrained")
plot_points(exact, ax=axes[0], color="lightgray")
plot_vector_field(ring.score, (-2.5, 2.5), (-2.5, 2.5), n=15, ax=axes[0],
                  title="score (arrows), data (grey)", normalize=True)
plot_points(too_short, ax=axes[1], title="Langevin, 20 steps", color="tab:orange")
plot_points(langevin, ax=axes[2], title="Langevin, 500 steps", color="tab:green")
for ax in axes[1:]:
    ax.set_xlim(-2.5, 2.5)
    ax.set_ylim(-2.5, 2.5)
plt.show()

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### Two weaknesses of Langevin (Song & Ermon 2019)
#
# - Far from the data the score is poorly known: a learned score is only trained where data are
# - Langevin rarely jumps between separated modes, so it cannot fix wrong *proportions*
# - The cure: sample ever less noisy versions of the data, as the reverse SDE does (Exercise 2)

# %% [markdown] slideshow={"slide_type": "notes"}
# Two weaknesses show up with harder targets, and both shaped the design of diffusion models
# (Song & Ermon 2019): far from the data the score is poorly known (a learned score is only
# trained where data are), and Langevin rarely jumps between well-separated modes, so it cannot
# fix wrong *proportions* between them. The cure is to sample a sequence of ever less noisy
# versions of the data, the same idea as the reverse SDE above. Exercise 2 shows the second
# problem, and that cure, at work.

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "slide"}
# ## 6. Charges and fields: Poisson flow
#
# Charges $\rho$ make a field $E = -\nabla\varphi$, with $\nabla^2 \varphi = -\rho / \varepsilon_0$
# (**Poisson's equation**). In a two-dimensional world, Gauss's law around a point charge $q$, on a
# circle of length $2\pi r$, gives
#
# $$
# E(x) = \frac{q}{2 \pi \varepsilon_0}\, \frac{\hat r}{r}, \qquad |E| \propto \frac{1}{r}
# $$
#
# ($1/r^{d-1}$ in $d$ dimensions). A check of `electric_field_2d` for one charge:

# %% [markdown] slideshow={"slide_type": "notes"}
# ## 6. Charges and fields: Poisson flow
#
# Electrostatics gives another way to move noise onto data. A charge density $\rho$ creates a
# potential $\varphi$ through **Poisson's equation** $\nabla^2 \varphi = -\rho / \varepsilon_0$, and the
# electric field is $E = -\nabla\varphi$. Gauss's law says that the flux of $E$ out of a closed curve
# equals the enclosed charge over $\varepsilon_0$. In a two-dimensional world the "closed curve"
# around a point charge $q$ is a circle of length $2\pi r$, so
#
# $$
# E(x) = \frac{q}{2 \pi \varepsilon_0}\, \frac{\hat r}{r}, \qquad |E| \propto \frac{1}{r} ,
# $$
#
# not $1/r^2$ as in our three-dimensional world. (In $d$ dimensions the field falls as
# $1/r^{d-1}$.) We use units with $\varepsilon_0 = 1$. First, a check of `electric_field_2d` for a
# single charge against this formula:

# %%
q, eps0 = 1.0, 1.0
charge_at = torch.tensor([[0.5, -0.25]])
angles = torch.rand(5, generator=generator) * 2 * math.pi
radii = torch.tensor([0.25, 0.5, 1.0, 2.0, 4.0])
probes = charge_at + radii[:, None] * torch.stack([angles.cos(), angles.sin()], dim=1)
E = electric_field_2d(probes, charge_at, torch.tensor([q]), epsilon0=eps0)

r_hat = (probes - charge_at) / radii[:, None]
print(f"{'r':>5} {'|E| computed':>13} {'q/(2 pi eps0 r)':>16} {'|E| * r':>8} {'cos(E, r_hat)':>14}")
for r, e, u in zip(radii, E, r_hat):
    print(f"{r.item():5.2f} {e.norm().item():13.5f} {q / (2 * math.pi * eps0 * r.item()):16.5f} "
          f"{(e.norm() * r).item():8.5f} {(e @ u / e.norm()).item():14.6f}")
assert torch.allclose(E.norm(dim=1) * radii, torch.full((5,), q / (2 * math.pi * eps0)), rtol=1e-5)

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### The Poisson flow idea (Xu et al. 2022)
#
# Data points are charges on the axis $z = 0$. Far away they look like one charge: the field
# lines leave radially, evenly spread in angle.
#
# 1. pick points evenly spread in angle on a huge half-circle
# 2. follow the field lines *backwards* down to $z = 0$
# 3. they land distributed like the charges: like the data

# %% [markdown] slideshow={"slide_type": "notes"}
# ### The Poisson flow idea (Xu et al. 2022)
#
# Put the data points, here numbers on a line, as positive charges on the axis $z = 0$ of a
# plane with an extra coordinate $z$. Far away, the charges look like a single point charge, so
# the field lines leave **radially, evenly spread in angle**. Field lines never cross, and each
# charge sends out a share of the lines proportional to its charge. So:
#
# 1. pick points evenly spread in angle on a huge half-circle (noise that knows nothing about the data);
# 2. follow the field lines *backwards* down to $z = 0$;
# 3. where they land is distributed like the charges, that is, like the data.

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### Check: one charge, straight rays

# %% [markdown]
# `follow_field_lines` integrates $\mathrm{d}x/\mathrm{d}z = E_x / E_z$, the backward ODE of PFGM,
# with $z$ as the clock. We start on the line $z = z_{\max}$, where a uniform angle $\theta$ becomes
# $x = z_{\max} \cot\theta$ (a Cauchy distribution, PFGM's prior in two dimensions).
#
# First a known case: for one charge the field lines are straight rays, so $x/z$ must stay constant.

# %%
single = torch.tensor([[0.0, 0.0]])
z_max = 40.0
theta = torch.tensor([0.3, 1.0, 1.5, 2.5])
start = torch.stack([z_max / theta.tan(), torch.full_like(theta, z_max)], dim=1)
ray = follow_field_lines(lambda p: electric_field_2d(p, single, torch.tensor([1.0])), start, 1e-3,
                         40, return_trajectory=True)
slope = ray[..., 0] / ray[..., 1]  # x/z at every step of every path
relative_change = ((slope - slope[0]).abs() / slope[0].abs()).max().item()
print(f"largest relative change of x/z along the four paths: {relative_change:.1e}")
print("distance of the end points from the charge:"
      f" {[f'{d:.4f}' for d in ray[-1].norm(dim=1).tolist()]} (they stop at z = 0.001, on the ray)")

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### Check: two charges split the lines 75 : 25

# %% [markdown]
# Now two charges, $0.75$ and $0.25$. Lines spread evenly in angle far away should split
# 75 : 25 between them. The dividing line (the separatrix) meets the axis where the field
# vanishes, at $x = 0.5$ (solve $0.75/(x+1) = 0.25/(1-x)$).

# %%
pair = torch.tensor([[-1.0, 0.0], [1.0, 0.0]])
pair_charges = torch.tensor([0.75, 0.25])
n_lines = 400
theta = (torch.arange(n_lines) + 0.5) / n_lines * math.pi  # evenly spread angles
start = torch.stack([z_max / theta.tan(), torch.full((n_lines,), z_max)], dim=1)
landed = follow_field_lines(lambda p: electric_field_2d(p, pair, pair_charges), start, 1e-3, 40)
share_left = (landed[:, 0] < 0.5).float().mean().item()
print(f"share of field lines ending on the left charge: {share_left:.4f} (its share of the charge:"
      " 0.75)")
assert abs(share_left - 0.75) < 0.01

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### Generation: 300 data points as charges

# %% [markdown]
# And now generation: the charges are 300 samples of our 1-D mixture (each with charge $1/300$),
# and the noise is random angles.

# %%
n_charges, n_pfgm = 300, fast_or_full(1000, 3000)
charge_x = data_1d.sample(n_charges, generator=generator)[:, 0]
charges_xy = torch.stack([charge_x, torch.zeros(n_charges)], dim=1)
charges_q = torch.full((n_charges,), 1.0 / n_charges)

def data_field(points: torch.Tensor) -> torch.Tensor:
    return electric_field_2d(points, charges_xy, charges_q)

theta = torch.rand(n_pfgm, generator=generator) * math.pi
start = torch.stack([z_max / theta.tan(), torch.full((n_pfgm,), z_max)], dim=1)
flow = follow_field_lines(data_field, start, 1e-3, 40, return_trajectory=True)
generated = flow[-1, :, :1]

reference = data_1d.sample(n_pfgm, generator=generator)
print(f"energy distance to fresh data ({n_pfgm} samples):")
print(f"  Poisson flow samples          {energy_distance(generated, reference):.4f}")
print(f"  the charges themselves        {energy_distance(charge_x[:, None], reference):.4f}")
print("  noise floor (fresh data)     "
      f" {energy_distance(data_1d.sample(n_pfgm, generator=generator), reference):.4f}")

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### Where the field lines land

# %%
fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), layout="constrained")
plot_vector_field(data_field, (-5, 5), (0.05, 5), n=20, ax=axes[0],
                  title="field of the data charges, and field lines", normalize=True)
for i in range(0, n_pfgm, max(1, n_pfgm // 25)):
    axes[0].plot(flow[:, i, 0], flow[:, i, 1], color="tab:red", linewidth=0.8)
axes[0].plot(charge_x, torch.zeros(n_charges), "|", color="k", markersize=4)
axes[0].set_xlim(-5, 5)
axes[0].set_ylim(0, 5)
axes[0].set_xlabel("x (the data coordinate)")
axes[0].set_ylabel("z (the extra coordinate)")
axes[1].hist(generated[:, 0].numpy(), bins=60, range=(-4.5, 4.5), density=True, alpha=0.5,
             label="Poisson flow samples")
axes[1].plot(grid[:, 0], data_1d.log_prob(grid).exp(), "k", label="data density")
axes[1].set_xlabel("x")
axes[1].set_ylabel("density")
axes[1].legend()
axes[1].set_title("where the field lines land")
plt.show()

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### The exact field gives back the training data
#
# - Every line ends *on* one of the 300 charges
# - A real PFGM trains a network to estimate the field from the data: its smooth estimate makes
#   new samples, as a learned score does
# - PFGM works in $N + 1$ dimensions for $N$-dimensional data

# %% [markdown] slideshow={"slide_type": "notes"}
# Every line ends *on* one of the 300 charges: with the exact field of the training points,
# Poisson flow can only give back the training data. A real PFGM instead trains a network to
# estimate the (normalised) field from the data; its smooth estimate is what lets it make new
# samples, just as a diffusion model learns a smooth score. PFGM works in $N + 1$ dimensions
# for $N$-dimensional data, where the field falls as $1/r^N$.

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "slide"}
# ## Exercises
#
# ### Exercise 1: measure D like Perrin
#
# Estimate the hidden $D$ of 2-D walkers from their **mean squared displacement**, with a
# straight-line fit through the origin:
#
# - per coordinate, $\langle x_t^2 \rangle = 2Dt$
# - squared distance, $\langle |r_t|^2 \rangle = 4Dt$ in two dimensions
#
# Both fits must give the same $D$.

# %% [markdown] slideshow={"slide_type": "notes"}
# ## Exercises
#
# ### Exercise 1: measure D like Perrin
#
# Perrin did not know $D$: he measured it from the paths of particles. The walkers below move
# in two dimensions, with a diffusion coefficient we pretend not to know. Estimate it from their
# **mean squared displacement** by fitting a straight line through the origin. Careful with the
# dimension: $2Dt$ is the variance *per coordinate*, $\langle x_t^2 \rangle = \langle y_t^2 \rangle = 2Dt$, so the squared
# distance from the start, $\langle |r_t|^2 \rangle = \langle x_t^2 + y_t^2 \rangle$, grows as $4Dt$ in two dimensions
# ($2dDt$ in $d$ dimensions). Fit both and check that they give the same $D$.

# %%
mystery_D = 0.37  # pretend you cannot see this line
# (101, 2000, 2), one row per dt
mystery = random_walk(2000, 100, dt, mystery_D, dim=2, generator=generator)
# Your code here: estimate D from `mystery` and `dt`.

# %% tags=["solution"]
t_grid = torch.arange(mystery.shape[0]) * dt  # (101,)
# per-coordinate mean squared displacement at each time, (101,)
msd = (mystery**2).mean(dim=1).mean(dim=1)
r2 = (mystery**2).sum(dim=2).mean(dim=1)  # mean squared distance |r|^2 = x^2 + y^2, (101,)
# Least squares through the origin for msd = (2 D) t: slope = sum(t * msd) / sum(t^2).
slope = (t_grid * msd).sum() / (t_grid**2).sum()
slope_r2 = (t_grid * r2).sum() / (t_grid**2).sum()  # |r|^2 = (4 D) t in two dimensions
D_estimate, D_from_r2 = slope.item() / 2, slope_r2.item() / 4
print(f"estimated D = {D_estimate:.4f} per coordinate (2Dt), {D_from_r2:.4f} from |r|^2 (4Dt); "
      f"true D = {mystery_D}; |r|^2 / msd = {slope_r2.item() / slope.item():.2f}")
assert (math.isclose(D_estimate, D_from_r2, rel_tol=1e-5)
        and abs(D_estimate - mystery_D) < 0.1 * mystery_D)

fig, ax = plt.subplots(figsize=(5, 3), layout="constrained")
ax.plot(t_grid, msd, label="measured")
ax.plot(t_grid, slope * t_grid, "--", label=f"fit: 2 D t with D = {D_estimate:.3f}")
ax.set_xlabel("time t")
ax.set_ylabel("mean squared displacement per coordinate")
ax.legend()
plt.show()

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### Exercise 2: Langevin and the mixing proportions
#
# Two Gaussians with weights $0.8$ and $0.2$:
#
# - (a) plain Langevin from broad noise: what share lands in the left mode?
# - (b) **annealed** Langevin (Song & Ermon 2019): a few steps on `mixture.noised(1.0, sigma)` for
#   a decreasing `sigma`, each stage starting where the last stopped; step
#   $\varepsilon = c\,(\sigma^2 + 0.4^2)$

# %% [markdown] slideshow={"slide_type": "notes"}
# ### Exercise 2: Langevin and the mixing proportions
#
# Take a mixture of two Gaussians with weights $0.8$ and $0.2$. (a) Run plain Langevin dynamics
# from broad noise and measure the share of samples in the left mode. (b) Then try **annealed**
# Langevin (Song & Ermon 2019): run a few Langevin steps on the *noised* mixture
# `mixture.noised(1.0, sigma)` for a decreasing sequence of `sigma`, starting each stage where the
# previous one stopped. Hint: use a step size proportional to the variance of a noised component,
# $\varepsilon = c\,(\sigma^2 + 0.4^2)$.

# %%
two_modes = GaussianMixture(means=[[-2.0, 0.0], [2.0, 0.0]], stds=[0.4, 0.4], weights=[0.8, 0.2])
# Your code here.

# %% tags=["solution"]
n = 2000
target = two_modes.sample(n, generator=generator)

plain = langevin_sample(two_modes.score, 2 * torch.randn(n, 2, generator=generator), 0.01, 500,
                        generator)

sigmas = torch.logspace(math.log10(5.0), math.log10(0.01), 10).tolist()  # from 5 down to 0.01
# noise as broad as the noisiest level
annealed = sigmas[0] * torch.randn(n, 2, generator=generator)
for sigma in sigmas:
    annealed = langevin_sample(two_modes.noised(1.0, sigma).score, annealed,
                               0.1 * (sigma**2 + 0.4**2), 100, generator)

for name, x in [("plain Langevin", plain), ("annealed Langevin", annealed)]:
    print(f"{name:18s} share in the left mode {(x[:, 0] < 0).float().mean().item():.3f} (true "
          f"0.8), energy distance {energy_distance(x, target):.4f}")

# %% [markdown] tags=["solution"]
# <details class="solution"><summary>Why</summary>
#
# Plain Langevin keeps whatever share of the starting cloud fell into each basin, about half
# each here: the barrier between the modes is too high to cross in any reasonable number of
# steps. At large noise the two modes merge into one bump and particles move freely between
# them, so the proportions come right; as the noise shrinks they are frozen in. They freeze a
# little early (while the noised bumps still overlap), which is why annealing gets close to
# $0.8$ but not all the way; slower annealing gets closer.
#
# </details>

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 3: how far away must the noise start?
#
# The Poisson flow argument needs the starting half-circle to be *far* from the charges, where the
# field lines are radial. Repeat the generation of section 6 with $z_{\max} \in \{1, 3, 10, 40\}$ and
# report the energy distance to the data. What happens when you start too close?

# %%
# Your code here.

# %% tags=["solution"]
for z_start in [1.0, 3.0, 10.0, 40.0]:
    begin = torch.stack([z_start / theta.tan(), torch.full((n_pfgm,), z_start)], dim=1)
    landed = follow_field_lines(data_field, begin, 1e-3, 40)
    print(f"z_max = {z_start:4.0f}: energy distance to the data"
          f" {energy_distance(landed[:, :1], reference):.4f}")

# %% [markdown] tags=["solution"]
# <details class="solution"><summary>Why</summary>
#
# Close to the charges the field is not radial: it already bends towards the nearby charges, so
# evenly spread angles no longer carry equal shares of the flux, and the samples pile up in the
# wrong places. The error shrinks as $z_{\max}$ grows. PFGM starts from a large radius for the same
# reason. Its follow-up, PFGM++ (Xu et al. 2023), adds $D$ extra dimensions instead of one, and
# becomes a diffusion model as $D \to \infty$: the two physical pictures of this lesson meet.
#
# </details>

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "slide"}
# ## Summary
#
# - Random walk: variance $2Dt$ per coordinate; the density obeys the heat equation
# - An SDE moves a particle, Fokker–Planck its density; the VP SDE is DDPM in continuous time
# - With the score $\nabla_x \log p$, the reverse SDE and Langevin turn noise into data
# - Poisson flow: data are charges; field lines lead noise to data
#
# Next: the UNet, the network that learns the score.

# %% [markdown] slideshow={"slide_type": "notes"}
# ## Summary
#
# - A random walk with steps of variance $2D\,\mathrm{d}t$ has variance $2Dt$ at time $t$ (we measured it),
#   per coordinate: in $d$ dimensions the squared distance from the start grows as $\langle |r_t|^2 \rangle = 2dDt$.
# - The density of many walkers obeys the heat equation; from a point, its solution is $\mathcal{N}(0, 2Dt)$.
# - An SDE $\mathrm{d}x = f\,\mathrm{d}t + g\,\mathrm{d}w$ moves one particle; the Fokker–Planck equation moves its density.
#   The variance-preserving SDE is the continuous-time version of DDPM's forward process.
# - The score $\nabla_x \log p$ points to likelier data. With it, Anderson's reverse SDE turns noise
#   back into data, and Langevin dynamics samples a fixed density. Diffusion models learn the score.
# - In Poisson flow, data are charges; following the electric field backwards from a far
#   half-circle lands on the data distribution.
#
# Next: the building blocks (convolutions and the UNet) of the network that learns the score.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## References
#
# - Albert Einstein (1905). *Über die von der molekularkinetischen Theorie der Wärme geforderte
#   Bewegung von in ruhenden Flüssigkeiten suspendierten Teilchen.* Annalen der Physik 17, 549–560.
#   [doi:10.1002/andp.19053220806](https://doi.org/10.1002/andp.19053220806)
# - Brian D. O. Anderson (1982). *Reverse-time diffusion equation models.* Stochastic Processes
#   and their Applications 12(3), 313–326. [doi:10.1016/0304-4149(82)90051-5](https://doi.org/10.1016/0304-4149(82)90051-5)
# - Yang Song and Stefano Ermon (2019). *Generative Modeling by Estimating Gradients of the Data
#   Distribution.* [arXiv:1907.05600](https://arxiv.org/abs/1907.05600)
# - Jonathan Ho, Ajay Jain and Pieter Abbeel (2020). *Denoising Diffusion Probabilistic Models.*
#   [arXiv:2006.11239](https://arxiv.org/abs/2006.11239)
# - Yang Song, Jascha Sohl-Dickstein, Diederik P. Kingma, Abhishek Kumar, Stefano Ermon and Ben
#   Poole (2021). *Score-Based Generative Modeling through Stochastic Differential Equations.*
#   [arXiv:2011.13456](https://arxiv.org/abs/2011.13456)
# - Yilun Xu, Ziming Liu, Max Tegmark and Tommi Jaakkola (2022). *Poisson Flow Generative Models.*
#   [arXiv:2209.11178](https://arxiv.org/abs/2209.11178)
# - Yilun Xu, Ziming Liu, Yonglong Tian, Shangyuan Tong, Max Tegmark and Tommi Jaakkola (2023).
#   *PFGM++: Unlocking the Potential of Physics-Inspired Generative Models.*
#   [arXiv:2302.04265](https://arxiv.org/abs/2302.04265)
# - Gábor J. Székely and Maria L. Rizzo (2013). *Energy statistics: A class of statistics based on
#   distances.* Journal of Statistical Planning and Inference 143(8), 1249–1272.
#   [doi:10.1016/j.jspi.2013.03.018](https://doi.org/10.1016/j.jspi.2013.03.018)
