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
# # Controlling generation: context and guidance
#
# - Tell the model *what* to draw: a **context** vector $c$
# - One network that follows $c$ and ignores it: **context dropout**
# - Follow $c$ more strictly: **classifier-free guidance**, at a price in diversity
# - Steer without retraining: a **loss** on $\hat x_0$, or a **noise-aware classifier**

# %% [markdown] slideshow={"slide_type": "notes"}
# # Controlling generation: context and guidance
#
# The models of the last two lessons draw *a* digit, whichever one the noise leads to. Most
# uses of generative models need more: *this* digit, *a red circle facing left*, *a photo of
# an astronaut riding a horse*. This lesson shows how a diffusion model is told what to draw
# (a **context** vector fed to the network), how one network learns both to follow the
# context and to ignore it (**context dropout**), and how the two modes are combined at
# sampling time to follow the context more strictly (**classifier-free guidance**), at a
# measurable price in diversity. Then two ways to steer a model **without retraining it**:
# by the gradient of any differentiable loss on the predicted clean image, and by a separate
# noise-aware classifier (**classifier guidance**).

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### Learning objectives
#
# - encode classes (one-hot) and attributes (multi-hot) as contexts
# - write context dropout and the guidance formula
# - measure what the guidance scale trades: accuracy against diversity and FID
# - steer a model with a loss on $\hat x_0$ and with a noise-aware classifier
#
# 105 minutes: 60 of reading and running, 45 for the exercises.

# %% [markdown] slideshow={"slide_type": "notes"}
# **Learning objectives.** By the end of this lesson you can
#
# - encode class labels as one-hot and attributes as multi-hot context vectors, in code;
# - compute the embedding the course UNet adds to every residual block from $t$ and $c$;
# - write context dropout and explain why it gives an unconditional model for free;
# - write the classifier-free guidance formula, in the course's and in diffusers' convention,
#   and say what its reading in terms of scores does and does not promise;
# - measure the trade-off the guidance scale controls: judge accuracy against diversity and FID;
# - predict and check what happens when contexts are mixed (two colours, a missing attribute);
# - steer an unconditional model with a loss on the predicted $\hat x_0$, and with a noise-aware
#   classifier (Dhariwal & Nichol 2021), and compare classifier with classifier-free guidance.
#
# **Estimated time:** 105 minutes (60 of reading and running, 45 for the exercises).

# %% slideshow={"slide_type": "skip"}
import itertools
import math
import time
import matplotlib.pyplot as plt
import torch
from course_lib.checkpoints import WEIGHTS_DIR, load_pretrained, read_manifest
from course_lib.classifier import predict
from course_lib.config import fast_or_full, seed_everything
from course_lib.data import (ATTRIBUTE_NAMES, COLOURS, FACINGS, SHAPES, attributes_to_context,
                             caption, load_digits, make_sprites)
from course_lib.evaluation import print_table
from course_lib.exercises import check
from course_lib.guidance import (ClassifierGuidance, LossGuidance, NoisyClassifier, predicted_x0,
                                 train_noisy_classifier)
from course_lib.metrics import class_entropy, frechet_distance
from course_lib.models import UNet, count_parameters, sinusoidal_embedding, to_context
from course_lib.plotting import show_images
from course_lib.samplers import DDIMSampler, DDPMSampler, predict_noise, sample
from course_lib.training import train_diffusion
seed_everything(0)

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "slide"}
# ## 1. Telling the model what to draw: context vectors
#
# A conditional denoiser predicts $\epsilon_\theta(x_t, t, c)$; the context $c$ is a float vector:
#
# - a class is **one-hot**: digit 3 is $(0,0,0,1,0,0,0,0,0,0)$
# - attributes are **multi-hot**: a sprite's shape, colour and facing, 4 + 4 + 2 = 10
# - **all zeros**, $\varnothing$: no context, draw anything

# %% [markdown] slideshow={"slide_type": "notes"}
# ## 1. Telling the model what to draw: context vectors
#
# A conditional denoiser takes one more input, a **context** $c$: it predicts
# $\epsilon_\theta(x_t, t, c)$. In this course $c$ is a float vector of length `context_dim`:
#
# - **class labels** become **one-hot** vectors: digit 3 is $(0,0,0,1,0,0,0,0,0,0)$;
# - **attributes** become **multi-hot** vectors, with one 1 per attribute that holds. The
#   course's procedural sprites (in the spirit of the sprites of DeepLearning.AI's *How
#   Diffusion Models Work*) have a shape, a colour and a facing, 4 + 4 + 2 = 10 attributes;
# - the **all-zero** vector $\varnothing$ means "no context": draw anything.

# %%
def one_hot(labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Integer labels (N,) in [0, num_classes) -> float one-hot rows (N, num_classes)."""
    context = torch.zeros(len(labels), num_classes)
    context[torch.arange(len(labels)), labels] = 1.0  # row i gets its 1 in column labels[i]
    return context


def multi_hot(*names: str) -> torch.Tensor:
    """Attribute names such as ("circle", "red", "left") -> (10,) float, a 1 at each named
    attribute."""
    return torch.tensor([1.0 if name in names else 0.0 for name in ATTRIBUTE_NAMES])


print("digits 3 and 7 as one-hot contexts:\n", one_hot(torch.tensor([3, 7]), 10))
print("attributes:", ATTRIBUTE_NAMES)
print("a red circle facing left:", multi_hot("circle", "red", "left").int().tolist())

# %% [markdown] slideshow={"slide_type": "skip"}
# The library's versions, `to_context` (labels) and `attributes_to_context` (names), give the
# same vectors, and every training sprite carries the multi-hot vector of its caption:

# %% slideshow={"slide_type": "skip"}
labels = torch.tensor([3, 7, 0, 9])
assert torch.equal(one_hot(labels, 10), to_context(labels, 10))
assert torch.equal(multi_hot("circle", "red", "left"),
                   attributes_to_context("circle", "red", "left"))
sprites = make_sprites(8, seed=0)
for row in sprites.attributes:
    print(row.int().tolist(), "->", caption(row))
    assert torch.equal(row.float(),
                       multi_hot(*caption(row).removeprefix("a ").replace(" facing", "").split()))

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### Training sprites and their context vectors

# %% [markdown]
# Eight training sprites with the caption of their context vector:

# %%
# a caption reads "a <colour> <shape> facing <side>"
caption_words = [caption(a).removeprefix("a ").split() for a in sprites.attributes]
show_images(
    sprites.images,
    nrow=8,
    labels=[f"{shape}\n{colour}, {side}" for colour, shape, _, side in caption_words],
    title="Procedural sprites and their attributes",
    scale=4.25,  # labels as wide as a tile: their 8 pt text stays >= 18 px on a slide
)
plt.show()

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "slide"}
# ## 2. How the UNet uses the context
#
# $$
# e(t, c) = \operatorname{MLP}(\operatorname{sinusoidal}(t)) + W c + b
# $$
#
# - the context enters through **one linear layer**, $W c + b$, added to the time embedding
# - every residual block adds $W_\text{block}\,\operatorname{SiLU}(e)$ to its feature maps, the same
#   value at every pixel

# %% [markdown] slideshow={"slide_type": "notes"}
# ## 2. How the UNet uses the context
#
# The course UNet (`course_lib/models.py`) turns the timestep into a vector with a sinusoidal
# embedding and a small MLP, turns the context into a vector of the same size with **one
# linear layer**, $W c + b$, and adds the two:
#
# $$
# e(t, c) = \operatorname{MLP}(\operatorname{sinusoidal}(t)) + W c + b .
# $$
#
# Every residual block then adds a learned projection of $e$ to its feature maps,
# $h \leftarrow h + W_\text{block}\,\operatorname{SiLU}(e)$, the same value at every pixel (the scheme
# of Ho et al. 2020's time conditioning, and the class conditioning of Dhariwal & Nichol 2021).

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### The embedding $e(t, c)$ in code

# %% [markdown]
# The embedding in code, for the shipped `digits-cond` model (ten classes, $e$ of size 64):

# %%
def unet_embedding(model: UNet, t: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
    """e(t, c), the vector every residual block reads.

    t (N,) long, context (N, K) -> (N, emb_dim)."""
    time_part = model.time_mlp(sinusoidal_embedding(t, model.base_channels))  # MLP(sinusoidal(t))
    context_part = context @ model.context_proj.weight.T + model.context_proj.bias  # W c + b
    return time_part + context_part


digits_model, schedule = load_pretrained("digits-cond")
sprites_model, _ = load_pretrained("sprites")
t, context = torch.tensor([100, 100, 400]), one_hot(torch.tensor([3, 7, 3]), 10)
with torch.no_grad():
    e = unet_embedding(digits_model, t, context)
print(f"e has shape {tuple(e.shape)}; |e(100, 3) - e(100, 7)| = {(e[0] - e[1]).norm():.2f}, "
      f"|e(100, 3) - e(400, 3)| = {(e[0] - e[2]).norm():.2f}")

# %% [markdown] slideshow={"slide_type": "skip"}
# The UNet itself computes the same $e$: we catch what its middle residual block receives.

# %% slideshow={"slide_type": "skip"}
received = []
hook = digits_model.mid.register_forward_pre_hook(lambda block, inputs: received.append(inputs[1]))
with torch.no_grad():
    digits_model(torch.zeros(3, 1, 16, 16), t, context)
hook.remove()
assert torch.allclose(received[0], e, atol=1e-6)

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### One-hot picks a column of $W$, multi-hot adds columns

# %% [markdown]
# A linear layer $W c + b$ applied to a one-hot vector picks one column of $W$: it *is* an
# embedding table, one learned vector per class. Applied to a multi-hot vector it **adds**
# one learned vector per attribute, and to $\varnothing$ it gives the bias $b$ alone. Let us
# check that on the shipped models.

# %%
with torch.no_grad():
    # (emb_dim, 10), (emb_dim,)
    W, b = digits_model.context_proj.weight, digits_model.context_proj.bias
    three = digits_model.context_proj(one_hot(torch.tensor([3]), 10))[0]
    Ws, bs = sprites_model.context_proj.weight, sprites_model.context_proj.bias
    attrs = multi_hot("circle", "red", "left")
    red_circle = sprites_model.context_proj(attrs[None])[0]
    by_hand = Ws[:, attrs.bool()].sum(dim=1) + bs
print("embedding of digit 3 - (column 3 of W + b): max |difference| ="
      f" {(three - (W[:, 3] + b)).abs().max():.1e}")
print("red circle facing left - (sum of 3 columns + b): max |difference| ="
      f" {(red_circle - by_hand).abs().max():.1e}")
assert torch.allclose(three, W[:, 3] + b, atol=1e-5) and torch.allclose(red_circle, by_hand,
                                                                        atol=1e-5)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 3. Context dropout: one network, two models
#
# Training is the usual noise-prediction loss with the context as an extra input, with one
# twist (Ho & Salimans 2022): for each training example, with probability $p_\text{uncond}$
# the context is replaced by $\varnothing$,
#
# $$
# \mathcal{L} = \mathbb{E}_{x_0, c, t, \epsilon, m}\,\big\| \epsilon - \epsilon_\theta(x_t, t, m\,c) \big\|^2,
# \qquad m \sim \text{Bernoulli}(1 - p_\text{uncond}).
# $$
#
# So the same weights learn $\epsilon_\theta(x_t, t, c)$, the denoiser of $p(x \mid c)$, and
# $\epsilon_\theta(x_t, t, \varnothing)$, the denoiser of $p(x)$. In code, one line does the
# work: a row is kept when a uniform draw is at least $p_\text{uncond}$.

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### Context dropout in code: one line

# %%
def drop_context(
    context: torch.Tensor, p_uncond: float, generator: torch.Generator
) -> torch.Tensor:
    """Each row of context (N, K) replaced by zeros with probability p_uncond (Ho & Salimans 2022,
    Algorithm 1)."""
    # (N,) bool, True with probability 1 - p
    keep = torch.rand(context.shape[0], generator=generator) >= p_uncond
    return context * keep[:, None]

batch = drop_context(one_hot(torch.randint(0, 10, (10_000,)), 10), 0.1, seed_everything(0))
print(f"share of a batch of {len(batch):,} trained without context:"
      f" {(batch.sum(dim=1) == 0).float().mean():.3f}")

# %% [markdown] slideshow={"slide_type": "skip"}
# `train_diffusion(..., context_dropout=p)` drops the same rows: it draws the mask first in
# each step, from a generator seeded with `seed + 1`. We watch the contexts a model receives
# during one training step and compare.

# %% slideshow={"slide_type": "skip"}
watched, received = UNet(in_channels=1, context_dim=10), []
hook = watched.register_forward_pre_hook(lambda model, inputs: received.append(inputs[2].cpu()))
train_diffusion(watched, schedule, load_digits(split="train"), steps=1, batch_size=512,
                context_dropout=0.1, seed=5, progress=False)
hook.remove()
dropped_by_library = received[0].sum(dim=1) == 0  # (512,)
kept_or_zeroed = drop_context(torch.ones(512, 1), 0.1, torch.Generator().manual_seed(5 + 1))
dropped_by_us = kept_or_zeroed[:, 0] == 0
assert torch.equal(dropped_by_library, dropped_by_us) and 0 < dropped_by_us.sum() < 512

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### How the shipped models were trained

# %% [markdown]
# How were the shipped conditional models trained? Their manifest says:

# %%
manifest = read_manifest(WEIGHTS_DIR / "manifest.json")
for name in ["digits-cond", "sprites"]:
    recipe = manifest[name]["training"]
    print(f"{name}: context_dropout = {recipe['context_dropout']}, {recipe['steps']:,} steps of"
          f" {recipe['batch_size']} on {recipe['device']}")

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### The unconditional half: all ten digits?

# %% [markdown]
# A check that the unconditional half works: sampled with $c =
# \varnothing$, `digits-cond` should draw all ten digits about equally often, an entropy of
# the judge's class histogram close to $\log 10 \approx 2.30$ nats. (We sample with DDIM in
# 25 steps throughout; lesson 08 explains why that is allowed.)

# %%
judge, _ = load_pretrained("classifier-digits")
num_free = fast_or_full(100, 500)
free = sample(digits_model, DDIMSampler(schedule, 25), (num_free, 1, 16, 16),
              generator=seed_everything(1), progress=False)
free_probs, _ = predict(judge, free)
counts = torch.bincount(free_probs.argmax(dim=1), minlength=10)
print(f"{num_free} samples with no context; judge's class counts 0..9: {counts.tolist()}")
print(f"entropy of the class histogram: {class_entropy(free_probs):.2f} nats (uniform:"
      f" {math.log(10):.2f})")
assert (counts > 0).all() and class_entropy(free_probs) > 2.0

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "slide"}
# ## 4. Classifier-free guidance
#
# $$
# \tilde\epsilon_\theta(x_t, t, c) = (1 + w)\, \epsilon_\theta(x_t, t, c) - w\, \epsilon_\theta(x_t, t, \varnothing)
# $$
#
# - $w = 0$: plain conditional sampling; $w > 0$ pushes *further* along what the context changes
# - by Bayes' rule, at each $t$ it is the score of $p_t(x)\, p_t(c \mid x)^{1 + w}$: an
#   *implicit classifier*, sharpened
# - diffusers' `guidance_scale` is $1 + w$

# %% [markdown] slideshow={"slide_type": "notes"}
# ## 4. Classifier-free guidance
#
# With both denoisers in one network, Ho & Salimans (2022, eq. 6) sample with
#
# $$
# \tilde\epsilon_\theta(x_t, t, c) = (1 + w)\, \epsilon_\theta(x_t, t, c) - w\, \epsilon_\theta(x_t, t, \varnothing)
# = \epsilon_\theta(x_t, t, \varnothing) + (1 + w)\big(\epsilon_\theta(x_t, t, c) - \epsilon_\theta(x_t, t, \varnothing)\big).
# $$
#
# $w = 0$ is plain conditional sampling; $w > 0$ pushes *further* in the direction that the
# context changes the prediction. Why this helps: the noise prediction is a scaled score,
# $\epsilon_\theta \approx -\sqrt{1 - \bar\alpha_t}\, \nabla_x \log p_t$, and by Bayes' rule
# $\nabla_x \log p_t(c \mid x) = \nabla_x \log p_t(x \mid c) - \nabla_x \log p_t(x)$. So, at
# each noise level $t$, $\tilde\epsilon$ is (scaled) the score of
#
# $$
# p_t(x)\; p_t(c \mid x)^{1 + w},
# $$
#
# the noisy data distribution sharpened towards images that an *implicit classifier* finds
# very likely to be of class $c$, without training a classifier (hence "classifier-free", in
# contrast with the classifier guidance of Dhariwal & Nichol 2021). diffusers calls $1 + w$
# the `guidance_scale`.

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### What that does not say
#
# - the score reading holds **one timestep at a time**
# - the sampler does **not** draw from $p(x)\,p(c \mid x)^{1+w}$
# - DDPM and DDIM even give different results (Bradley & Nakkiran 2024)
# - a useful heuristic, not a sampler of a known distribution: we check it on Gaussians

# %% [markdown] slideshow={"slide_type": "notes"}
# **What that does not say.** The statement holds one timestep at a time. The sharpened
# distributions of different $t$ are not noisy versions of one another, so the sampler is
# not reversing any single forward process, and its output is **not** a sample of
# $p(x)\,p(c \mid x)^{1+w}$; DDPM and DDIM even give different results (Bradley & Nakkiran
# 2024). Guidance is a useful heuristic with a per-step reading, not a sampler of a known
# distribution. We check this on Gaussians at the end of this section.

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Guidance in code
#
# The two predictions, then their combination, for eight test digits noised to $t = 200$:

# %%
def guided_noise(model: UNet, x_t: torch.Tensor, t: int, context: torch.Tensor,
                 w: float) -> torch.Tensor:
    """(1 + w) eps(x_t, t, c) - w eps(x_t, t, empty) (Ho & Salimans 2022, eq. 6).

    x_t (N, C, H, W), context (N, K) -> (N, C, H, W)."""
    steps = torch.full((len(x_t),), t)  # (N,): the same timestep for every image
    eps_cond = model(x_t, steps, context)
    eps_uncond = model(x_t, steps, torch.zeros_like(context))  # the empty context (dropout's)
    return (1 + w) * eps_cond - w * eps_uncond


test_images, test_labels = load_digits(split="test").tensors
noise = torch.randn((8, 1, 16, 16), generator=seed_everything(6))
x_t = schedule.add_noise(test_images[:8], noise, torch.full((8,), 200))  # 8 digits at t = 200
context = one_hot(test_labels[:8], 10)  # their true labels
with torch.no_grad():
    guided, plain = (guided_noise(digits_model, x_t, 200, context, w) for w in (3.0, 0.0))
relative_change = (guided - plain).norm() / plain.norm()
print(f"w = 3 moves the noise prediction by {relative_change:.0%} of its size")

# %% [markdown] slideshow={"slide_type": "skip"}
# The same numbers from the library's `predict_noise` (which runs both halves as one batch of
# $2N$), and from diffusers' convention, `noise_pred_uncond + guidance_scale * (noise_pred_text
# - noise_pred_uncond)` in its Stable Diffusion pipeline, with `guidance_scale` $= 1 + w$:

# %% slideshow={"slide_type": "skip"}
with torch.no_grad():
    for w in [0.0, 1.0, 3.0]:
        ours, library = guided_noise(digits_model, x_t, 200, context, w), predict_noise(
            digits_model, x_t, 200, context, w
        )
        eps_cond, eps_uncond = predict_noise(digits_model, x_t, 200, context), predict_noise(
            digits_model, x_t, 200
        )
        guidance_scale = 1 + w
        diffusers_form = eps_uncond + guidance_scale * (eps_cond - eps_uncond)
        assert torch.allclose(ours, library, atol=1e-5) and torch.allclose(ours, diffusers_form,
                                                                           atol=1e-5)

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### Ten digits at three guidance scales

# %% [markdown]
# `sample(..., guidance=w)` calls `predict_noise` with guidance at every step. Ten digits (one per class, the same starting noise in every row) at three
# guidance scales:

# %%
ten = one_hot(torch.arange(10), 10)
fig, axes = plt.subplots(3, 1, figsize=(7, 3.6), layout="constrained")
for ax, w in zip(axes, [0.0, 1.0, 4.0]):
    digits = sample(digits_model, DDIMSampler(schedule, 25), (10, 1, 16, 16), context=ten,
                    guidance=w, generator=seed_everything(2), progress=False)
    show_images(digits, nrow=10, ax=ax, title=f"w = {w:g}")
fig.suptitle("Digits 0-9 from the same noise at three guidance scales")
plt.show()

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### What guidance samples: a check on Gaussians
#
# Take 1-D data, $x \sim \mathcal{N}(0, 1)$ without context and $x \mid c \sim \mathcal{N}(1, 0.5^2)$,
# and the *exact* noise predictions of both (for Gaussian data $\mathbb{E}[\epsilon \mid x_t]$ has a
# closed form), so that no network error gets in the way. The distribution
# $p(x)\,p(c \mid x)^{1+w} \propto p(x \mid c)^{1+w}\,p(x)^{-w}$ is then a Gaussian we can write down.

# %%
alpha_bar = schedule.alphas_cumprod

class GaussianDenoiser(torch.nn.Module):
    """Exact E[eps | x_t] for x ~ N(0, 1) (context 0) or N(1, 0.5^2) (context 1); x (N, 1), context
    (N, 1)."""

    def forward(
        self, x: torch.Tensor, t: torch.Tensor, context: torch.Tensor | None = None
    ) -> torch.Tensor:
        c = context if context is not None else torch.zeros_like(x)
        ab = alpha_bar[t][:, None]  # (N, 1)
        # of x_t = sqrt(ab) x + sqrt(1 - ab) eps
        mean, variance = c * ab.sqrt() * 1.0, ab * (1 - c + c * 0.5**2) + 1 - ab
        return (1 - ab).sqrt() * (x - mean) / variance  # the regression of eps on x_t

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### Neither sampler draws the sharpened Gaussian

# %%
w, n = 2.0, fast_or_full(20_000, 200_000)
precision = (1 + w) / 0.5**2 - w  # of p(x | c)^(1 + w) p(x)^(-w)
rows = {
    f"p(x) p(c|x)^(1+w), w = {w:g}": {"mean": (1 + w) * 1.0 / 0.5**2 / precision,
                                      "std": precision**-0.5}
}
for name, sampler, weight in [("DDIM, no guidance", DDIMSampler(schedule, 500), 0.0),
                              (f"DDIM, w = {w:g}", DDIMSampler(schedule, 500), w),
                              (f"DDPM, w = {w:g}", DDPMSampler(schedule), w)]:
    x = sample(GaussianDenoiser(), sampler, (n, 1), context=torch.ones(n, 1), guidance=weight,
               generator=seed_everything(8), device="cpu", progress=False)
    rows[name] = {"mean": x.mean().item(), "std": x.std().item()}
print_table(rows, label=f"{n:,} samples, 500 steps", formats={"mean": ".3f", "std": ".3f"})

# %% slideshow={"slide_type": "skip"}
target = rows[f"p(x) p(c|x)^(1+w), w = {w:g}"]
assert (abs(rows["DDIM, no guidance"]["mean"] - 1) < 0.06
        and abs(rows["DDIM, no guidance"]["std"] - 0.5) < 0.02)
assert all(abs(rows[f"{s}, w = {w:g}"]["std"] - target["std"]) > 0.05 for s in ["DDIM", "DDPM"])
assert rows[f"DDIM, w = {w:g}"]["std"] < rows[f"DDPM, w = {w:g}"]["std"] - 0.05

# %% [markdown]
# Without guidance the sampler recovers $\mathcal{N}(1, 0.5^2)$ (the row "DDIM, no guidance",
# up to discretisation). With guidance, neither sampler produces the "sharpened" Gaussian of the
# first line, and the two disagree with each other: DDIM comes out narrower than DDPM. The
# per-step score reading explains the direction of guidance (towards the class, narrower), not
# the distribution it ends at.

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "slide"}
# ## 5. Measuring the trade-off
#
# For each $w$: the same number of digits of every class, from the same noise, read by the judge
# (`classifier-digits`):
#
# - **accuracy**, and the judge's mean probability of the asked class
# - **diversity**: mean distance between the judge's features within a class
# - **FID on the judge's features**: not comparable with Inception FID
# - share of pixels outside $[-1, 1]$

# %% [markdown] slideshow={"slide_type": "notes"}
# ## 5. Measuring the trade-off
#
# What does $w$ buy, and what does it cost? For each $w$ we draw the same number of digits of
# every class (from the same starting noise for every $w$) and measure:
#
# - **accuracy**: how often the judge (`classifier-digits`) says the digit is the one asked for,
#   and the judge's mean probability for the asked class;
# - **diversity**: the mean distance between the judge's features of two samples of the same
#   class (features rather than pixels, so that a shifted copy of a digit does not count as
#   "different");
# - the **FID on the course judge's features** against the held-out digits: the Fréchet
#   distance of Heusel et al. (2017) between Gaussians fitted to the judge's penultimate-layer
#   features of the samples and of real digits (lower is closer to real data). Papers use an
#   Inception network's features instead; these numbers are **not comparable with Inception FID**;
# - the fraction of pixels outside the data range $[-1, 1]$ (over-saturated strokes).

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### Five guidance scales, measured

# %%
per_class = fast_or_full(20, 100)
labels = torch.arange(10).repeat_interleave(per_class)
asked_digits = one_hot(labels, 10)
_, held_out_features = predict(judge, load_digits(split="test").tensors[0])
guidance_scales = [0.0, 0.5, 1.0, 2.0, 4.0]
rows, examples = [], {}
for w in guidance_scales:
    images = sample(digits_model, DDIMSampler(schedule, 25), (len(labels), 1, 16, 16),
                    context=asked_digits, guidance=w, generator=seed_everything(3), progress=False)
    probs, features = predict(judge, images)
    per_class_spread = [torch.pdist(features[labels == k]).mean() for k in range(10)]
    diversity = torch.stack(per_class_spread).mean().item()
    rows.append(dict(w=w, accuracy=(probs.argmax(1) == labels).float().mean().item(),
                     p_asked=probs[torch.arange(len(labels)), labels].mean().item(),
                     diversity=diversity, fid=frechet_distance(features, held_out_features),
                     saturated=(images.abs() > 1).float().mean().item()))
    examples[w] = images[labels == 4][:8]

# %%
print_table(
    {
        f"{r['w']:g}": {"accuracy": r["accuracy"], "p(asked)": r["p_asked"],
                        "diversity": r["diversity"], "FID": r["fid"],
                        "|pixel| > 1": r["saturated"]}
        for r in rows
    },
    label="w",
    formats={"accuracy": ".3f", "p(asked)": ".3f", "|pixel| > 1": ".3f"},
    title=(f"{len(labels)} samples per w ({per_class} per class), DDIM 25 steps; "
           f"FID on the judge's features against {len(held_out_features)} held-out digits"),
)

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### Following the context against diversity and FID

# %% [markdown]
# The same numbers as curves, and eight fours at each guidance scale:

# %%
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(8, 3.2), layout="constrained")
ax1.plot(guidance_scales, [r["accuracy"] for r in rows], "o-", label="judge accuracy")
ax1.plot(guidance_scales, [r["p_asked"] for r in rows], "s--", label="mean p(asked class)")
ax1.set(xlabel="guidance scale $w$", ylabel="fraction / probability", title="Following the context")
ax1.legend()
ax2.plot(guidance_scales, [r["diversity"] for r in rows], "o-", color="C2")
ax2.set(xlabel="guidance scale $w$", ylabel="within-class feature distance",
        title="Diversity and FID")
ax2.yaxis.label.set_color("C2")
twin = ax2.twinx()
twin.plot(guidance_scales, [r["fid"] for r in rows], "s--", color="C3")
twin.set_ylabel("FID vs held-out digits", color="C3")
plt.show()

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### Eight fours at each guidance scale

# %%
show_images(
    torch.cat([examples[w] for w in guidance_scales]),
    nrow=8,
    title="Fours at w = " + ", ".join(f"{w:g}" for w in guidance_scales) + " (one row each)",
)
plt.show()

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### The trade-off
#
# - at $w = 0$ the judge already finds almost every digit right; a little guidance removes the
#   last mistakes
# - past that, guidance only sharpens: diversity falls overall, FID rises, more pixels saturate
# - Ho & Salimans (2022) report the same on ImageNet; Stable Diffusion defaults to
#   `guidance_scale=7.5`, $w = 6.5$

# %% [markdown] slideshow={"slide_type": "notes"}
# Read the table from top to bottom. Already at $w = 0$ this small conditional model is right
# almost every time, and a little guidance removes the last mistakes and makes the judge more
# certain. Past that, guidance only sharpens: the fours of one class look more and more
# alike (diversity falls, though not steadily at the largest $w$) and, as a set, less like
# real handwriting (FID rises), with more over-saturated pixels. That is the trade-off Ho &
# Salimans (2022) report on ImageNet (Inception score up with $w$, FID best at small $w$),
# and why text-to-image pipelines expose the guidance scale as a knob (diffusers' Stable
# Diffusion pipeline defaults to `guidance_scale=7.5`, that is $w = 6.5$).

# %% slideshow={"slide_type": "skip"}
accuracies, diversities, fids = ([r[k] for r in rows] for k in ("p_asked", "diversity", "fid"))
assert accuracies[-1] > accuracies[0] and diversities[-1] < diversities[0] and fids[-1] > fids[0]
# right almost always; w = 0.5 no worse
assert rows[0]["accuracy"] > 0.9 and rows[1]["accuracy"] >= rows[0]["accuracy"]
assert rows[-1]["saturated"] > rows[0]["saturated"]  # more over-saturated pixels

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 6. Sprites from attributes
#
# The `sprites` model takes the multi-hot context of section 1. We ask for every combination
# of shape, colour and facing (32 of them) and let the sprite judge (`classifier-sprites`, one
# output per attribute) read each attribute group back: its prediction in a group is the
# attribute with the largest logit.

# %%
sprite_judge, _ = load_pretrained("classifier-sprites")
combos = list(itertools.product(SHAPES, COLOURS, FACINGS))
repeats = fast_or_full(2, 8)
# (32 * repeats, 10)
asked = torch.stack([attributes_to_context(*combo) for combo in combos]).repeat(repeats, 1)
groups = {"shape": slice(0, len(SHAPES)), "colour": slice(len(SHAPES), len(SHAPES) + len(COLOURS)),
          "facing": slice(len(SHAPES) + len(COLOURS), len(ATTRIBUTE_NAMES))}


# %%
def read_attributes(images: torch.Tensor) -> dict[str, torch.Tensor]:
    """The sprite judge's choice in each attribute group, as an index into SHAPES, COLOURS,
    FACINGS."""
    with torch.no_grad():
        logits = sprite_judge(images.to(next(sprite_judge.parameters()).device)).cpu()
    return {group: logits[:, where].argmax(dim=1) for group, where in groups.items()}


# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### All 32 combinations, read back by the sprite judge

# %%
sprite_samples = {}
print(f"{len(asked)} sprites per row ({repeats} per combination), DDIM 25 steps")
print(f"{'w':>4} " + " ".join(f"{g + ' acc.':>12}" for g in groups) + f" {'all three':>10}")
for w in [0.0, 2.0]:
    images = sample(sprites_model, DDIMSampler(schedule, 25), (len(asked), 3, 16, 16),
                    context=asked, guidance=w, generator=seed_everything(4), progress=False)
    read = read_attributes(images)
    correct = {g: read[g] == asked[:, where].argmax(dim=1) for g, where in groups.items()}
    all_three = torch.stack(list(correct.values())).all(dim=0).float().mean()
    print(f"{w:4g} "
          + " ".join(f"{c.float().mean():12.3f}" for c in correct.values())
          + f" {all_three:10.3f}")
    sprite_samples[w] = images

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### The 32 combinations at $w = 2$

# %%
show_images(
    sprite_samples[2.0][:32],
    nrow=8,
    title=(
        "All 32 attribute combinations, w = 2\n(rows: circle, square, triangle, diamond; pairs of"
        " columns: red, green, blue, yellow; left/right)"
    ),
    scale=4,
)
plt.show()

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "slide"}
# ## 7. Mixing contexts
#
# Training saw one attribute per group, or $\varnothing$. The context embedding is a *sum*, so
# any mix is a valid input. Three experiments:
#
# - **a circle, colour not given**
# - **a red + blue circle**
# - **a red circle + square**

# %% [markdown] slideshow={"slide_type": "notes"}
# ## 7. Mixing contexts
#
# The model was only ever trained on contexts with exactly one attribute per group, or on
# $\varnothing$. What does it do with contexts it never saw? Since the context embedding is a
# *sum* of attribute vectors, "red + blue" is a perfectly valid input; the question is what
# the network makes of it. Three experiments:
#
# - **a circle, colour not given**: one attribute group left empty;
# - **a red + blue circle**: two colours at once;
# - **a red circle + square**: two shapes at once.

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### Two measurements on the pixels: body colour and fill

# %% [markdown]
# Besides the judge, two measurements on the pixels: the mean colour of each sprite's body
# (is it a blend, magenta, of red and blue?) and how much of its bounding box the body fills
# (about $\pi/4 \approx 0.79$ for a circle, 1 for a square).

# %%
def body_mask(images: torch.Tensor) -> torch.Tensor:
    """(N, H, W) bool: the sprite's body, i.e. pixels that are neither black background nor the
    white eye."""
    return (images > -0.5).any(dim=1) & ~(images > 0.5).all(dim=1)


def fill_ratio(images: torch.Tensor) -> torch.Tensor:
    """(N,) fraction of the bounding box of the non-background pixels that they fill."""
    ratios = []
    for mask in (images > -0.5).any(dim=1):
        rows, cols = torch.nonzero(mask, as_tuple=True)
        box = (rows.max() - rows.min() + 1) * (cols.max() - cols.min() + 1) if len(rows) else 1
        ratios.append(mask.sum() / box)
    return torch.stack(ratios).float()


# %%
contexts = {"circle, no colour": attributes_to_context("circle"),
            "red+blue circle": attributes_to_context("circle", ["red", "blue"]),
            "red circle+square": attributes_to_context(["circle", "square"], "red"),
            "red circle": attributes_to_context("circle", "red"),  # references for the fill ratio
            "red square": attributes_to_context("square", "red"),}
num_mix = fast_or_full(32, 128)
mix_results, mix_images = {}, {}
for name, mix in contexts.items():
    images = sample(sprites_model, DDIMSampler(schedule, 25), (num_mix, 3, 16, 16),
                    context=mix.repeat(num_mix, 1), guidance=2.0, generator=seed_everything(5),
                    progress=False)
    read = read_attributes(images)
    body = body_mask(images)[:, None]
    # (N, 3) mean body colour
    rgb = (images * body).sum(dim=(2, 3)) / body.sum(dim=(2, 3)).clamp(min=1)
    mix_results[name] = dict(shapes=torch.bincount(read["shape"], minlength=4),
                             colours=torch.bincount(read["colour"], minlength=4),
                             magenta=((rgb[:, 0] > 0) & (rgb[:, 2] > 0)).sum().item(),
                             fill=fill_ratio(images).mean().item())
    mix_images[name] = images

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### What the judge and the pixels report

# %%
for name, r in mix_results.items():
    print(f"{name:>18}: judge's shapes {dict(zip(SHAPES, r['shapes'].tolist()))}; fill ratio"
          f" {r['fill']:.2f}")
    print(f"{'':>18}  judge's colours {dict(zip(COLOURS, r['colours'].tolist()))}; magenta bodies"
          f" {r['magenta']}")

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### Three contexts never seen in training

# %%
fig, axes = plt.subplots(1, 3, figsize=(9, 2.6), layout="constrained")
for ax, name in zip(axes, list(contexts)[:3]):
    show_images(mix_images[name][:16], nrow=4, ax=ax, title=name)
fig.suptitle(f"Contexts never seen in training (w = 2); the judge read {num_mix} samples of each")
plt.show()

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### What the mixes show
#
# - **no colour**: circles as asked, in uneven colours; dropout only ever removed the *whole* context
# - **red + blue**: each body commits to *one* colour, nearly always red; none is magenta
# - **circle + square**: the judge says circle, the fill ratio says between circle and square;
#   a judge trained on pure shapes *must* pick one

# %% [markdown] slideshow={"slide_type": "notes"}
# What the measurements show:
#
# - **A missing colour**: the circles come out as asked (the judge's shape counts), in the
#   colours of the counts above, with nothing to make them an even mix. Context dropout only
#   ever removed the *whole* context, so "a circle and nothing else" was never seen in
#   training: the network receives the circle vector plus the bias and does whatever its
#   weights make of it.
# - **Red + blue**: each body commits to *one* colour (the judge finds almost only red, at most a
#   few blue, no green or yellow, and no body is magenta on average): the context makes modes
#   likely and each sample falls into one of them, and nothing makes the two equally likely.
#   Look at the pictures for what averages hide: the black backgrounds of these circles are
#   tinted blue, which no training sprite's is. The blue went somewhere: the model is off
#   its training distribution.
# - **Circle + square**: the judge calls nearly all of them circles, yet their fill ratio
#   lies between the references of the circle and of the square. The judge was trained on
#   four pure shapes and *must* pick one: it cannot report a blend. A measuring instrument
#   has a training distribution too. (The "red square" reference is off the training
#   distribution as well, with no facing given: the judge calls some of those circles.)
#
# Composing concepts by combining contexts is how text-to-image models are asked for "a red
# cube on a blue sphere", and these tiny experiments show why it is unreliable when the
# combination is unlike anything in the training data (Liu et al. 2022 study better ways to
# compose).

# %% slideshow={"slide_type": "skip"}
red_blue = mix_results["red+blue circle"]
assert red_blue["colours"][[1, 3]].sum() <= 0.1 * num_mix  # almost only red or blue...
assert red_blue["colours"][0] >= 0.9 * num_mix  # ...nearly always red
assert red_blue["magenta"] == 0 and mix_results["circle, no colour"]["shapes"][0] >= 0.9 * num_mix
fills = {
    name: mix_results[name]["fill"] for name in ("red circle", "red circle+square", "red square")
}
assert fills["red circle"] < fills["red circle+square"] < fills["red square"]
# "nearly all circles", says the judge
assert mix_results["red circle+square"]["shapes"][0] >= 0.9 * num_mix
# the red + blue circles' backgrounds are bluer than the red circles'
def background_blue(images):
    return images[:, 2][(images <= -0.5).all(dim=1)].mean()
red_blue_bg, red_bg = (background_blue(mix_images[k]) for k in ("red+blue circle", "red circle"))
assert red_blue_bg > red_bg + 0.05

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "slide"}
# ## 8. Guidance by any differentiable loss
#
# A differentiable loss $L$ on the predicted clean image steers a trained model, no retraining:
#
# $$
# \hat x_0 = \frac{x_t - \sqrt{1 - \bar\alpha_t}\,\epsilon_\theta}{\sqrt{\bar\alpha_t}}, \qquad
# \hat\epsilon = \epsilon_\theta + s\,\sqrt{1 - \bar\alpha_t}\;\nabla_{x_t} L(\hat x_0)
# $$
#
# - $-L$ plays a log-probability, by the score reading of section 4
# - the scale $s$ is the knob

# %% [markdown] slideshow={"slide_type": "notes"}
# ## 8. Guidance by any differentiable loss
#
# Classifier-free guidance needs a model trained with the context. Often we want something
# the model was never trained on: "keep the right half empty", "brighter", "this colour".
# If we can write it as a **differentiable loss** $L$ on an image, we can steer an existing
# model with no retraining. At step $t$ the network's noise prediction gives the predicted
# clean image (Ho et al. 2020, eq. 15)
#
# $$
# \hat x_0(x_t) = \frac{x_t - \sqrt{1 - \bar\alpha_t}\,\epsilon_\theta(x_t, t)}{\sqrt{\bar\alpha_t}},
# $$
#
# on which the loss makes sense even when $x_t$ is mostly noise. Treat $-L(\hat x_0)$ as a
# log-probability to add, and use the score reading of section 4 (as Dhariwal & Nichol 2021,
# eq. 14, do with a classifier): the noise prediction becomes
#
# $$
# \hat\epsilon = \epsilon_\theta(x_t, t) + s\,\sqrt{1 - \bar\alpha_t}\;\nabla_{x_t} L\big(\hat x_0(x_t)\big),
# $$
#
# with a **scale** $s$ as the knob. We hold $\epsilon_\theta$ fixed when differentiating (no
# gradient through the network: cheap), so $\nabla_{x_t} L = \nabla_{\hat x_0} L / \sqrt{\bar\alpha_t}$.

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### The loss: no ink in the right half

# %% [markdown]
# The loss: "no ink in the right half". Digits are $-1$ on the background, so we penalise
# the squared distance of the right half's pixels from $-1$, one value per image, **summed**
# over the batch (each image's gradient is then its own, whatever the batch size).

# %%
def right_half_ink(x0_hat: torch.Tensor) -> torch.Tensor:
    """Scalar loss: sum over images of the mean of (pixel + 1)^2 over the right half; x0_hat (N, 1,
    16, 16)."""
    right = x0_hat[..., 8:]  # (N, 1, 16, 8): columns 8-15
    return ((right + 1) ** 2).mean(dim=(1, 2, 3)).sum()


def left_share(images: torch.Tensor) -> torch.Tensor:
    """(N,) share of each image's ink (pixels mapped from [-1, 1] to [0, 1]) that lies in its left
    half."""
    ink = (images.clamp(-1, 1) + 1) / 2
    return ink[..., :8].sum(dim=(1, 2, 3)) / ink.sum(dim=(1, 2, 3)).clamp(min=1e-6)

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### A loss-guided DDIM loop

# %% [markdown]
# The guided noise prediction, and a DDIM loop that uses it on the **unconditional** model
# `digits` (no context at all):

# %%
def loss_guided_noise(
    x_t: torch.Tensor, t: int, eps: torch.Tensor, loss_fn, scale: float
) -> torch.Tensor:
    """eps + s sqrt(1 - abar_t) grad_{x_t} loss(x0_hat), eps held fixed; x_t, eps (N, C, H, W)."""
    alpha_bar = schedule.alphas_cumprod[t]
    with torch.enable_grad():  # sampling runs without gradients; this one step needs them
        x = x_t.detach().requires_grad_(True)
        x0_hat = (x - (1 - alpha_bar).sqrt() * eps) / alpha_bar.sqrt()  # Ho et al. 2020, eq. 15
        (grad,) = torch.autograd.grad(loss_fn(x0_hat), x)  # (N, C, H, W)
    # Dhariwal & Nichol 2021, eq. 14 with log p = -L
    return eps + scale * (1 - alpha_bar).sqrt() * grad


# %%
def sample_loss_guided(
    model: UNet, loss_fn, scale: float, num: int, generator: torch.Generator
) -> torch.Tensor:
    """num digits (num, 1, 16, 16) by DDIM in 25 steps, each noise prediction loss-guided."""
    sampler = DDIMSampler(schedule, 25)
    x = torch.randn((num, 1, 16, 16), generator=generator)  # x_T
    for t in sampler.timesteps.tolist():
        with torch.no_grad():
            eps = model(x, torch.full((num,), t))  # (num, 1, 16, 16)
        x = sampler.step(loss_guided_noise(x, t, eps, loss_fn, scale), t, x)
    return x

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### Five scales on the unconditional model

# %%
free_model, _ = load_pretrained("digits")
num_guided = fast_or_full(64, 256)
loss_rows, loss_examples = {}, {}
for scale in [0.0, 3.0, 10.0, 30.0, 100.0]:
    images = sample_loss_guided(free_model, right_half_ink, scale, num_guided, seed_everything(9))
    probs, _ = predict(judge, images)
    loss_rows[f"{scale:g}"] = {
        "left share of ink": left_share(images).mean().item(), "mean pixel": images.mean().item(),
        "max |pixel|": images.abs().max().item(),
        "judge conf. > 0.9": (probs.max(dim=1).values > 0.9).float().mean().item(),
        "judged a 1": (probs.argmax(dim=1) == 1).float().mean().item()}
    loss_examples[scale] = images[:8]
print_table(loss_rows, label="scale s", formats={"max |pixel|": ".3g"},
            title=f"{num_guided} digits from the unconditional model per scale, DDIM 25 steps, "
                  "loss: ink in the right half")

# %% [markdown] slideshow={"slide_type": "skip"}
# The library's `LossGuidance` is the same callback, and `sample(..., guidance_fn=...)` runs
# the same loop: equal noise predictions on one batch, and equal samples from the same seed.

# %% slideshow={"slide_type": "skip"}
# eight digits at t = 300
x_probe = schedule.add_noise(test_images[:8], noise, torch.full((8,), 300))
with torch.no_grad():
    eps_probe = free_model(x_probe, torch.full((8,), 300))
ours = loss_guided_noise(x_probe, 300, eps_probe, right_half_ink, 10.0)
assert torch.allclose(ours, LossGuidance(schedule, right_half_ink, 10.0)(x_probe, 300, eps_probe),
                      atol=1e-6)
assert not torch.allclose(ours, eps_probe, atol=1e-3)  # the guidance does move the prediction
library = sample(free_model, DDIMSampler(schedule, 25), (num_guided, 1, 16, 16),
                 generator=seed_everything(9),
                 guidance_fn=LossGuidance(schedule, right_half_ink, 10.0), progress=False)
by_hand = sample_loss_guided(free_model, right_half_ink, 10.0, num_guided, seed_everything(9))
assert torch.allclose(library, by_hand, atol=1e-5)
shares = [row["left share of ink"] for row in loss_rows.values()]
assert abs(shares[0] - 0.5) < 0.1 and shares[2] > 0.85 and shares[1] < shares[2]
assert (loss_rows["0"]["max |pixel|"] < 1.5
        and loss_rows["10"]["max |pixel|"] < 1.5
        and loss_rows["100"]["max |pixel|"] > 10)
assert loss_rows["10"]["judged a 1"] > 0.6 and loss_rows["0"]["judged a 1"] < 0.3

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### Eight samples per scale

# %% [markdown]
# Eight samples per scale, from the same starting noise:

# %%
show_images(torch.cat([loss_examples[s].clamp(-1, 1) for s in [0.0, 3.0, 10.0, 30.0]]), nrow=8,
            title="Loss guidance 'no ink on the right': s = 0, 3, 10, 30 (one row each)")
plt.show()

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### What the table shows
#
# - unguided, about half the ink is on the left; $s = 10$ moves nearly all of it there, pixels in range
# - it obeys **its own way**: most guided samples are judged to be ones
# - at $s = 100$ the pixels run off: the step is largest at the noisiest steps, where
#   $\sqrt{\bar\alpha_t}$ is small

# %% [markdown] slideshow={"slide_type": "notes"}
# What the table shows:
#
# - Without guidance about half the ink is on the left, as in real digits. A modest scale
#   moves nearly all of it there, with pixels still in range: the model was never told
#   about halves, yet it obeys.
# - It obeys **its own way**: most of the guided samples are judged to be ones. Among the
#   images the model can draw, a thin stroke on the left is the cheapest way to leave the
#   right half empty. A loss says what to avoid, not what to draw instead.
# - Too large a scale breaks sampling: at $s = 100$ the pixels run off to huge values. The
#   step $s\sqrt{1 - \bar\alpha_t}/\sqrt{\bar\alpha_t}\,\nabla_{\hat x_0} L$ is largest at the
#   noisiest steps, where $\sqrt{\bar\alpha_t}$ is small, and overshoots.
#
# The Hugging Face diffusion course (unit 2) steers towards a colour with a loss on
# $\hat x_0$ too; Bansal et al. (2023) use any off-the-shelf network as the loss
# ("universal guidance").

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "slide"}
# ## 9. Classifier guidance
#
# Dhariwal & Nichol (2021) steer an **unconditional** model with a classifier $p_\phi(y \mid x_t, t)$:
#
# $$
# \hat\epsilon = \epsilon_\theta(x_t, t) - s\,\sqrt{1 - \bar\alpha_t}\;\nabla_{x_t} \log p_\phi(y \mid x_t, t)
# $$
#
# - section 8 with $\log p_\phi$ in place of $-L$
# - the classifier must read **noisy** images $x_t$: we train a small noise-aware one

# %% [markdown] slideshow={"slide_type": "notes"}
# ## 9. Classifier guidance
#
# Before classifier-free guidance, Dhariwal & Nichol (2021) steered an **unconditional**
# model towards a class $y$ with a separate classifier $p_\phi(y \mid x_t, t)$. Bayes' rule
# again: $\nabla \log p_t(x \mid y) = \nabla \log p_t(x) + \nabla \log p_t(y \mid x)$, so
# (their eq. 14 and Algorithm 2)
#
# $$
# \hat\epsilon = \epsilon_\theta(x_t, t) - s\,\sqrt{1 - \bar\alpha_t}\;\nabla_{x_t} \log p_\phi(y \mid x_t, t).
# $$
#
# The same shape as section 8, with $\log p_\phi$ in place of $-L$. The catch: the classifier
# must read **noisy** images $x_t$, so the course judge (trained on clean digits) will not
# do. We train a small **noise-aware classifier** on digits noised to a random $t$, with $t$
# as a second input (`NoisyClassifier`: three conv blocks, the time embedding added after
# the first).

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### Training the noise-aware classifier

# %%
noisy_classifier = NoisyClassifier(in_channels=1, num_classes=10, width=16)
classifier_losses = train_noisy_classifier(noisy_classifier, schedule, load_digits(split="train"),
                                           steps=fast_or_full(400, 3000), seed=0, progress=False)
noisy_accuracy = {}
with torch.no_grad():
    for t_probe in [0, 100, 200, 300, 400, 499]:
        probe_steps = torch.full((len(test_images),), t_probe)
        probe_noise = torch.randn(test_images.shape, generator=seed_everything(10))
        logits = noisy_classifier(schedule.add_noise(test_images, probe_noise, probe_steps),
                                  probe_steps)
        noisy_accuracy[f"t = {t_probe}"] = (logits.argmax(1) == test_labels).float().mean().item()
print(f"{len(classifier_losses)} training steps; accuracy on the {len(test_images)} held-out digits"
      " noised to t:")
print(", ".join(f"{k}: {v:.2f}" for k, v in noisy_accuracy.items()))

# %% slideshow={"slide_type": "skip"}
assert noisy_accuracy["t = 0"] > 0.85 and noisy_accuracy["t = 499"] < 0.3
assert noisy_accuracy["t = 0"] > noisy_accuracy["t = 300"] > noisy_accuracy["t = 499"]

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### Classifier-guided noise in code

# %% [markdown]
# Near $t = 0$ it reads digits well; at $t = 499$ nothing is left to read and it is near
# chance (0.1), as it should be: there its gradient is gentle. The guided noise prediction
# in code:

# %%
def classifier_guided_noise(classifier: NoisyClassifier, x_t: torch.Tensor, t: int,
                            eps: torch.Tensor, labels: torch.Tensor, scale: float) -> torch.Tensor:
    """eps - s sqrt(1 - abar_t) grad_{x_t} log p(y | x_t, t) (Dhariwal & Nichol 2021, Algorithm 2);
    labels (N,)."""
    alpha_bar = schedule.alphas_cumprod[t]
    with torch.enable_grad():
        x = x_t.detach().requires_grad_(True)
        log_probs = classifier(x, torch.full((len(x),), t)).log_softmax(dim=1)  # (N, 10)
        # sum over images: each gradient is its image's own
        chosen = log_probs[torch.arange(len(x)), labels].sum()
        (grad,) = torch.autograd.grad(chosen, x)  # (N, C, H, W)
    return eps - scale * (1 - alpha_bar).sqrt() * grad

# %% slideshow={"slide_type": "skip"}
ours = classifier_guided_noise(noisy_classifier, x_probe, 300, eps_probe, test_labels[:8], 3.0)
library = ClassifierGuidance(noisy_classifier, schedule, test_labels[:8], 3.0)(x_probe, 300,
                                                                               eps_probe)
assert torch.allclose(ours, library, atol=1e-6) and not torch.allclose(ours, eps_probe, atol=1e-3)

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Classifier guidance against classifier-free guidance
#
# The same ten classes, the same number of samples per class, judged by the same course
# judge: accuracy, FID on the judge's features against held-out digits, and the time per
# sample on this machine. Classifier guidance runs the unconditional `digits` model with
# the library's `ClassifierGuidance` callback; classifier-free guidance runs `digits-cond`.

# %%
per_class_cg = fast_or_full(10, 50)
asked_cg = torch.arange(10).repeat_interleave(per_class_cg)  # (10 * per_class_cg,)
methods = {"unconditional, no guidance": (free_model, {})}
methods |= {f"classifier guidance s = {s:g}": (free_model, {"guidance_fn": ClassifierGuidance(
    noisy_classifier, schedule, asked_cg, s)}) for s in [3.0, 10.0, 30.0]}
methods |= {f"classifier-free w = {w:g}": (digits_model, {"context": one_hot(asked_cg, 10),
                                                          "guidance": w}) for w in [0.0, 1.0]}
cg_rows = {}
for name, (model, options) in methods.items():
    start = time.perf_counter()
    images = sample(model, DDIMSampler(schedule, 25), (len(asked_cg), 1, 16, 16),
                    generator=seed_everything(11), progress=False, **options)
    seconds = time.perf_counter() - start
    probs, features = predict(judge, images)
    cg_rows[name] = {"accuracy": (probs.argmax(dim=1) == asked_cg).float().mean().item(),
                     "FID": frechet_distance(features, held_out_features),
                     "ms / sample": 1000 * seconds / len(asked_cg)}

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### Classifier against classifier-free guidance, measured

# %%
print_table(
    cg_rows,
    label="method",
    formats={"accuracy": ".3f", "FID": ".2f", "ms / sample": ".2f"},
    title=(
        f"{len(asked_cg)} digits per method ({per_class_cg} per class), DDIM 25 steps, the judge's"
        f" FID against {len(held_out_features)} held-out digits"
    ),
)
print(f"Per step, classifier guidance: one UNet pass ({count_parameters(free_model):,} parameters)"
      f" and the classifier's forward and backward passes ({count_parameters(noisy_classifier):,}"
      " parameters); classifier-free: one UNet pass on twice the batch"
      f" ({count_parameters(digits_model):,} parameters).")

# %% slideshow={"slide_type": "skip"}
cg_accuracy = [cg_rows[f"classifier guidance s = {s:g}"]["accuracy"] for s in [3.0, 10.0, 30.0]]
assert cg_rows["unconditional, no guidance"]["accuracy"] < 0.25 < cg_accuracy[0] < cg_accuracy[1]
cg_fid = [cg_rows[f"classifier guidance s = {s:g}"]["FID"] for s in [3.0, 10.0, 30.0]]
assert cg_accuracy[1] < cg_accuracy[2] and max(cg_fid[0], cg_fid[1]) < cg_fid[2]
assert (max(cg_accuracy)
        < cg_rows["classifier-free w = 0"]["accuracy"]
        < cg_rows["classifier-free w = 1"]["accuracy"])
assert max(cg_rows["classifier-free w = 0"]["FID"], cg_rows["classifier-free w = 1"]["FID"]) < min(
    cg_fid
)
assert count_parameters(noisy_classifier) < count_parameters(free_model) / 10

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### Reading the table
#
# - classifier guidance makes the unconditional model conditional, weights untouched:
#   accuracy rises with $s$, and by $s = 30$ the FID too
# - it reaches neither the accuracy nor the FID of the conditional model
# - cost per step: the classifier's forward **and backward** pass
# - its advantage: the classifier can come later, for labels the diffusion model never saw

# %% [markdown] slideshow={"slide_type": "notes"}
# Reading the table:
#
# - Classifier guidance turns an unconditional model into a conditional one without
#   touching its weights: accuracy climbs from chance with the scale $s$, and by $s = 30$
#   the FID has risen too, the same trade-off as $w$ in section 5 (between $s = 3$ and 10 the
#   change is within what a few hundred samples can resolve).
# - On this small problem it reaches neither the accuracy nor the FID of the conditional
#   model, which is right nearly always already at $w = 0$. Our noise-aware classifier was
#   trained for a few hundred steps on a CPU; its gradients are only as good as it is, and a
#   gradient that raises $p_\phi(y \mid x_t)$ need not make a better digit (adversarial
#   directions exist; exercise 4). That weakness, and the need for a second network, is why
#   Ho & Salimans (2022) removed the classifier.
# - Cost: each step adds the classifier's forward **and backward** pass to one UNet pass;
#   classifier-free guidance runs the UNet on twice the batch instead. Here the classifier
#   is more than ten times smaller than the UNet; the times are this machine's, from one
#   run each (a loaded machine makes them noisy: rerun to see).
# - Its advantage remains: the classifier can be trained, or swapped, after the diffusion
#   model, for labels the diffusion model never saw.

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "slide"}
# ## Exercises
#
# ### Exercise 1: write it yourself, guidance as diffusers computes it
#
# Write `my_guided_noise(model, x_t, t, context, guidance_scale)`:
#
# - $\epsilon_\varnothing + s\,(\epsilon_c - \epsilon_\varnothing)$, with $s = 1 + w$
# - **one** forward pass on $2N$ images: `torch.cat` to build the batch, `.chunk(2)` to split it

# %% [markdown] slideshow={"slide_type": "notes"}
# ## Exercises
#
# ### Exercise 1: write it yourself, guidance as diffusers computes it
#
# diffusers' pipelines compute guidance in its other form, with `guidance_scale` $s = 1 + w$,
# $\epsilon_\varnothing + s\,(\epsilon_c - \epsilon_\varnothing)$, and they run the two halves in
# **one** forward pass on a batch of $2N$: the $N$ images twice, with the context and with
# the empty context. Write `my_guided_noise(model, x_t, t, context, guidance_scale)` that
# way (`torch.cat` to build the batch, `.chunk(2)` to split the output). The check compares it
# with `predict_noise(..., guidance=w)` on the batch of section 4 and names the likely mistakes.

# %%
def my_guided_noise(model: UNet, x_t: torch.Tensor, t: int, context: torch.Tensor,
                    guidance_scale: float) -> torch.Tensor:
    """eps_uncond + s (eps_cond - eps_uncond) from one forward pass on 2N images; x_t (N, C, H, W),
    context (N, K)."""
    raise NotImplementedError  # your code here


# %% slideshow={"slide_type": "subslide"}
scale = 4.0  # guidance_scale s = 1 + w, here w = 3
with torch.no_grad():
    expected = predict_noise(digits_model, x_t, 200, context, guidance=scale - 1)
    eps_cond = predict_noise(digits_model, x_t, 200, context)
    eps_uncond = predict_noise(digits_model, x_t, 200)
    s_as_w = predict_noise(digits_model, x_t, 200, context, guidance=scale)
    w_as_s = predict_noise(digits_model, x_t, 200, context, guidance=scale - 2)
swapped = eps_cond + scale * (eps_uncond - eps_cond)
check(lambda: my_guided_noise(digits_model, x_t, 200, context, scale), expected,
      name="my_guided_noise",
      mistakes={"(1 + s) eps_c - s eps_uncond: guidance_scale s used as w": s_as_w,
                "eps_uncond + w (eps_c - eps_uncond): w = s - 1 where 1 + w belongs": w_as_s,
                "w eps_c - w eps_uncond: w instead of 1 + w": (scale - 1) * (eps_cond - eps_uncond),
                "eps_c + s (eps_uncond - eps_c): the conditional and unconditional halves swapped":
                    swapped})

# %% tags=["solution"]
def my_guided_noise(model: UNet, x_t: torch.Tensor, t: int, context: torch.Tensor,
                    guidance_scale: float) -> torch.Tensor:
    """eps_uncond + s (eps_cond - eps_uncond) from one forward pass on 2N images; x_t (N, C, H, W),
    context (N, K)."""
    both = torch.cat([x_t, x_t])  # (2N, C, H, W)
    steps = torch.full((len(both),), t)  # (2N,)
    contexts = torch.cat([context, torch.zeros_like(context)])  # (2N, K): with, then without
    eps_cond, eps_uncond = model(both, steps, contexts).chunk(2)  # two (N, C, H, W)
    return eps_uncond + guidance_scale * (eps_cond - eps_uncond)

assert check(lambda: my_guided_noise(digits_model, x_t, 200, context, scale), expected,
             name="my_guided_noise")
assert check(lambda: my_guided_noise(digits_model, x_t, 200, context, 1 + 3.0),
             guided_noise(digits_model, x_t, 200, context, 3.0),
             name="my_guided_noise against guided_noise")

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 2: a negative context
#
# Text-to-image tools offer a *negative prompt*: guide away from something instead of away
# from "nothing". Replace $\epsilon_\theta(x_t, t, \varnothing)$ in the guidance formula by
# $\epsilon_\theta(x_t, t, c_-)$ with $c_- =$ "red", and sample sprites with $c =$ "a circle"
# (no colour given) at $w = 2$, with your own DDIM loop (`sampler.timesteps` and
# `sampler.step`). Compare the judge's colour counts with plain guidance from the same noise.

# %%
# Your code here.

# %% tags=["solution"]
def sample_with_negative(model: UNet, positive: torch.Tensor, negative: torch.Tensor, w: float,
                         num: int, generator: torch.Generator) -> torch.Tensor:
    """num sprites (num, 3, 16, 16) by DDIM (25 steps) with eps = eps(c_-) + (1 + w) (eps(c) -
    eps(c_-)); contexts (10,)."""
    sampler = DDIMSampler(schedule, 25)
    x = torch.randn((num, 3, 16, 16), generator=generator)
    pos, neg = positive.repeat(num, 1), negative.repeat(num, 1)
    with torch.no_grad():
        for t in sampler.timesteps.tolist():
            steps = torch.full((num,), t)
            eps_pos, eps_neg = model(x, steps, pos), model(x, steps, neg)
            x = sampler.step(eps_neg + (1 + w) * (eps_pos - eps_neg), t, x)
    return x


# %% tags=["solution"]
circle, red = multi_hot("circle"), multi_hot("red")
plain = sample_with_negative(sprites_model, circle, torch.zeros(10), 2.0, num_mix,
                             seed_everything(7))
negative = sample_with_negative(sprites_model, circle, red, 2.0, num_mix, seed_everything(7))
colour_counts = {}
for name, images in [("plain guidance", plain), ("negative 'red'", negative)]:
    colour_counts[name] = dict(
        zip(COLOURS, torch.bincount(read_attributes(images)["colour"], minlength=4).tolist())
    )
    print(f"{name:>15}: judge's colours {colour_counts[name]}")
assert all(colour_counts["negative 'red'"][c] < colour_counts["plain guidance"][c]
           for c in ["red", "yellow"])
show_images(torch.cat([plain[:8], negative[:8]]), nrow=8,
            title="Circles: plain guidance (top), negative context 'red' (bottom)")
plt.show()

# %% [markdown]
# <details class="solution"><summary>Solution</summary>
#
# With $\varnothing$ replaced by "red", the update pushes away from what makes a sprite red:
# fewer red circles (the counts above). Fewer yellow ones too, and that is instructive:
# yellow is red + green light, $(1, 1, -1)$ in our RGB, so "away from red" also means "away
# from yellow". A negative context removes whatever the model associates with it, not a
# dictionary word. The whole idea sits in one line of the loop: guidance moves along the
# difference between two predictions, and which two is our choice.
#
# </details>

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 3: write it yourself, a target brightness
#
# Write the loss `my_brightness_loss(x0_hat, target)` for loss guidance towards a **mean
# brightness**: for each image, the squared difference between its mean pixel value and
# `target`, **summed** over the batch (a scalar). The check compares its value on the eight
# predicted digits of section 8 with the expected one and names the likely mistakes; the
# solution then samples with it.

# %%
def my_brightness_loss(x0_hat: torch.Tensor, target: float) -> torch.Tensor:
    """Scalar: sum over images of (mean pixel of the image - target)^2; x0_hat (N, C, H, W)."""
    raise NotImplementedError  # your code here


# %% slideshow={"slide_type": "subslide"}
# (8, 1, 16, 16), the section 8 batch at t = 300
x0_probe = predicted_x0(schedule, x_probe, 300, eps_probe)
image_means = x0_probe.mean(dim=(1, 2, 3))  # (8,)
check(
    lambda: my_brightness_loss(x0_probe, -0.5),
    ((image_means + 0.5) ** 2).sum(),
    name="my_brightness_loss",
    mistakes={
        "the mean over the batch, not the sum (each image's pull divided by N)": (
            ((image_means + 0.5) ** 2).mean()
        ),
        "the mean of per-pixel squared differences, not the square of the mean": (
            ((x0_probe + 0.5) ** 2).mean(dim=(1, 2, 3)).sum()
        ),
        "|mean - target| instead of its square": (image_means + 0.5).abs().sum(),
    },
)

# %% tags=["solution"]
def my_brightness_loss(x0_hat: torch.Tensor, target: float) -> torch.Tensor:
    """Scalar: sum over images of (mean pixel of the image - target)^2; x0_hat (N, C, H, W)."""
    return ((x0_hat.mean(dim=(1, 2, 3)) - target) ** 2).sum()

assert check(lambda: my_brightness_loss(x0_probe, -0.5), ((image_means + 0.5) ** 2).sum(),
             name="my_brightness_loss")
brightness = {}
for target in [-0.75, -0.25]:
    guide = LossGuidance(schedule, lambda x0_hat: my_brightness_loss(x0_hat, target), scale=30.0)
    images = sample(free_model, DDIMSampler(schedule, 25), (num_guided, 1, 16, 16),
                    guidance_fn=guide, generator=seed_everything(9), progress=False)
    brightness[target] = images.mean().item()
print(f"mean brightness without guidance: {loss_rows['0']['mean pixel']:.3f}")
print(", ".join(f"target {target:g}: mean {mean:.3f}" for target, mean in brightness.items()))
assert brightness[-0.75] < -0.5 < brightness[-0.25]

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### Exercise 4: guiding with the judge
#
# - loss guidance of the unconditional model with $L = -\sum_i \log p_\text{judge}(y_i \mid \hat x_0^{(i)})$,
#   $s = 0.3$ (try 1)
# - measure accuracy twice: by the judge, and by the noise-aware classifier at $t = 0$
# - the same for classifier guidance at $s = 10$
# - what does measuring with the network that steered tell you?

# %% [markdown] slideshow={"slide_type": "notes"}
# ### Exercise 4: guiding with the judge
#
# Why train a noise-aware classifier when the course judge reads digits so well? Guide the
# unconditional model with the judge on the predicted clean image: loss guidance with
# $L = -\sum_i \log p_\text{judge}(y_i \mid \hat x_0^{(i)})$, towards the classes of section 9,
# at a small scale ($s = 0.3$; try 1 too). Measure the accuracy twice: by the judge, and by
# a second opinion, the noise-aware classifier read at $t = 0$. Do the same for the samples
# of classifier guidance at $s = 10$. What do you conclude about measuring a method with the
# network that steered it?

# %%
# Your code here.

# %% tags=["solution"]
def judge_loss(x0_hat: torch.Tensor) -> torch.Tensor:
    """-sum_i log p_judge(y_i | x0_hat_i) for the classes asked_cg; x0_hat (N, 1, 16, 16)."""
    return -judge(x0_hat).log_softmax(dim=1)[torch.arange(len(x0_hat)), asked_cg].sum()

judge.eval()
second_opinion = {}
guides = {"judge on x0_hat, s = 0.3": LossGuidance(schedule, judge_loss, 0.3),
          "judge on x0_hat, s = 1": LossGuidance(schedule, judge_loss, 1.0),
          "noise-aware classifier, s = 10":
              ClassifierGuidance(noisy_classifier, schedule, asked_cg, 10.0)}
for name, guide in guides.items():
    images = sample(free_model, DDIMSampler(schedule, 25), (len(asked_cg), 1, 16, 16),
                    guidance_fn=guide, generator=seed_everything(11), progress=False)
    with torch.no_grad():
        no_noise_steps = torch.zeros(len(images), dtype=torch.long)
        by_noisy = noisy_classifier(images, no_noise_steps).argmax(dim=1)
    by_judge = predict(judge, images)[0].argmax(dim=1)
    second_opinion[name] = {"judge's accuracy": (by_judge == asked_cg).float().mean().item(),
                            "noise-aware's accuracy": (by_noisy == asked_cg).float().mean().item(),
                            "max |pixel|": images.abs().max().item()}

# %% tags=["solution"]
print_table(second_opinion, label="guided by",
            formats={"judge's accuracy": ".3f", "noise-aware's accuracy": ".3f"},
            title=f"{len(asked_cg)} digits each; the noise-aware classifier read at t = 0")
by_judge_row, by_noisy_row = (second_opinion["judge on x0_hat, s = 0.3"],
                              second_opinion["noise-aware classifier, s = 10"])
assert by_judge_row["judge's accuracy"] > by_judge_row["noise-aware's accuracy"] + 0.15
assert by_noisy_row["noise-aware's accuracy"] > by_noisy_row["judge's accuracy"]
assert (  # s = 0.3 stays near [-1, 1] (a stray pixel at most); s = 1 runs off
    by_judge_row["max |pixel|"] < 5 < 10 < second_opinion["judge on x0_hat, s = 1"]["max |pixel|"]
)

# %% [markdown]
# <details class="solution"><summary>Solution</summary>
#
# Each method looks best to the network that steered it. Guided by the judge, the digits
# satisfy the judge far more often than the independent noise-aware classifier agrees; guided
# by the noise-aware classifier, the reverse. Guidance climbs the gradient of *its* network,
# and part of what it finds are directions that fool that network rather than better digits
# (adversarial directions). So a method must be measured by a network it was **not** guided
# by: this lesson's judge never guides, except in this exercise.
#
# The judge also shows why Dhariwal & Nichol train a noise-aware classifier: read on
# $\hat x_0$, which is a blur at the noisiest steps, a clean-image classifier gives large,
# unreliable gradients there: at $s = 1$ sampling already runs off to pixels far outside
# $[-1, 1]$ (the last column).
#
# </details>

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "slide"}
# ## Summary
#
# - a context vector says what to draw: one-hot, multi-hot, or zeros for "anything"
# - context dropout trains the conditional and the unconditional denoiser in one network
# - classifier-free guidance, $\tilde\epsilon = (1 + w)\epsilon(x, c) - w\,\epsilon(x, \varnothing)$:
#   the judge's confidence rises with $w$, diversity falls, FID rises
# - a per-step score reading only: not a sample of $p(x)\,p(c \mid x)^{1+w}$

# %% [markdown] slideshow={"slide_type": "notes"}
# ## Summary
#
# - A context vector tells a conditional denoiser what to draw: one-hot for classes,
#   multi-hot for attributes, all zeros for "anything". The course UNet maps it with one
#   linear layer and adds it to the time embedding, which every residual block reads.
# - Context dropout ($p_\text{uncond} = 0.1$) trains the conditional and the unconditional
#   denoiser in one network; we checked that the unconditional one draws all ten digits.
# - Classifier-free guidance, $\tilde\epsilon = (1 + w)\epsilon(x, c) - w\,\epsilon(x, \varnothing)$
#   (diffusers: `guidance_scale` $= 1 + w$), is at each timestep the scaled score of a
#   sharpened $p_t(x)\,p_t(c \mid x)^{1+w}$. That is a per-step statement only: the sampler does
#   **not** draw from $p(x)\,p(c \mid x)^{1+w}$, as the Gaussian check showed. We measured its
#   trade-off: the judge's confidence rises with $w$ while within-class diversity falls and
#   the FID on the judge's features rises.
#
# - Contexts outside the training distribution (mixed or missing attributes) are valid inputs
#   whose result has to be checked, not assumed.
# - Any differentiable loss on the predicted $\hat x_0$ steers a trained model without
#   retraining: $\hat\epsilon = \epsilon + s\sqrt{1 - \bar\alpha_t}\,\nabla_{x_t} L(\hat x_0)$
#   (`LossGuidance`). It obeys the loss in its own way, and too large a scale diverges.
# - Classifier guidance puts $-\log p_\phi(y \mid x_t, t)$ of a **noise-aware** classifier
#   in place of $L$ (`ClassifierGuidance`). It made our unconditional model conditional, but
#   less accurately and with a worse FID than classifier-free guidance; and a method must be
#   judged by a network it was not guided by.
# - `sample(..., guidance_fn=guide)` accepts any callback `guide(x_t, t, eps) -> eps`.
#
# Next: sampling in 25 steps instead of 500, and why that works (DDIM).

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### Summary: steering without retraining
#
# - mixed or missing attributes are valid contexts whose result has to be checked
# - a loss on $\hat x_0$ steers a trained model (`LossGuidance`); it obeys its own way, and too
#   large a scale diverges
# - classifier guidance (`ClassifierGuidance`): no retraining, but less accurate, worse FID
# - judge a method by a network it was not guided by
#
# Next: DDIM, 25 steps instead of 500.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## References
#
# - Jonathan Ho and Tim Salimans (2022). *Classifier-Free Diffusion Guidance.*
#   [arXiv:2207.12598](https://arxiv.org/abs/2207.12598)
# - Prafulla Dhariwal and Alex Nichol (2021). *Diffusion Models Beat GANs on Image Synthesis.*
#   [arXiv:2105.05233](https://arxiv.org/abs/2105.05233)
# - Jonathan Ho, Ajay Jain and Pieter Abbeel (2020). *Denoising Diffusion Probabilistic Models.*
#   [arXiv:2006.11239](https://arxiv.org/abs/2006.11239)
# - Jiaming Song, Chenlin Meng and Stefano Ermon (2020). *Denoising Diffusion Implicit Models.*
#   [arXiv:2010.02502](https://arxiv.org/abs/2010.02502)
# - Alex Nichol, Prafulla Dhariwal, Aditya Ramesh et al. (2021). *GLIDE: Towards Photorealistic
#   Image Generation and Editing with Text-Guided Diffusion Models.* [arXiv:2112.10741](https://arxiv.org/abs/2112.10741)
# - Arpit Bansal, Hong-Min Chu, Avi Schwarzschild et al. (2023). *Universal Guidance for
#   Diffusion Models.* [arXiv:2302.07121](https://arxiv.org/abs/2302.07121)
# - Hugging Face (2022). *Hugging Face Diffusion Models Course*,
#   unit 2: fine-tuning and guidance.
#   [github.com/huggingface/diffusion-models-class](https://github.com/huggingface/diffusion-models-class)
# - Arwen Bradley and Preetum Nakkiran (2024). *Classifier-Free Guidance is a
#   Predictor-Corrector.* [arXiv:2408.09000](https://arxiv.org/abs/2408.09000)
# - Martin Heusel, Hubert Ramsauer, Thomas Unterthiner, Bernhard Nessler and Sepp Hochreiter
#   (2017). *GANs Trained by a Two Time-Scale Update Rule Converge to a Local Nash Equilibrium*
#   (FID). [arXiv:1706.08500](https://arxiv.org/abs/1706.08500)
# - Nan Liu, Shuang Li, Yilun Du, Antonio Torralba and Joshua B. Tenenbaum (2022).
#   *Compositional Visual Generation with Composable Diffusion Models.*
#   [arXiv:2206.01714](https://arxiv.org/abs/2206.01714)
# - Sharon Zhou (2023). *How Diffusion Models Work* (short course, DeepLearning.AI), whose
#   sprites inspired the course's procedural ones.
#   [deeplearning.ai](https://www.deeplearning.ai/short-courses/how-diffusion-models-work/)
