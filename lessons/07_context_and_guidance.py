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
# # Controlling generation: context and classifier-free guidance
#
# The models of the last two lessons draw *a* digit, whichever one the noise leads to. Most
# uses of generative models need more: *this* digit, *a red circle facing left*, *a photo of
# an astronaut riding a horse*. This lesson shows how a diffusion model is told what to draw
# (a **context** vector fed to the network), how one network learns both to follow the
# context and to ignore it (**context dropout**), and how the two modes are combined at
# sampling time to follow the context more strictly (**classifier-free guidance**), at a
# measurable price in diversity.

# %% [markdown] slideshow={"slide_type": "subslide"}
# **Learning objectives.** By the end of this lesson you can
#
# - encode class labels as one-hot and attributes as multi-hot context vectors, in code;
# - compute the embedding the course UNet adds to every residual block from $t$ and $c$;
# - write context dropout and explain why it gives an unconditional model for free;
# - write the classifier-free guidance formula, in the course's and in diffusers' convention,
#   and say what its reading in terms of scores does and does not promise;
# - measure the trade-off the guidance scale controls: judge accuracy against diversity and FID;
# - predict and check what happens when contexts are mixed (two colours, a missing attribute).
#
# **Estimated time:** 75 minutes (45 of reading and running, 30 for the exercises).

# %% slideshow={"slide_type": "skip"}
import itertools
import math

import matplotlib.pyplot as plt
import torch

from course_lib.checkpoints import WEIGHTS_DIR, load_pretrained, read_manifest
from course_lib.classifier import predict
from course_lib.config import fast_or_full, seed_everything
from course_lib.data import ATTRIBUTE_NAMES, COLOURS, FACINGS, SHAPES, attributes_to_context, caption, load_digits, make_sprites
from course_lib.evaluation import print_table
from course_lib.exercises import check
from course_lib.metrics import class_entropy, frechet_distance
from course_lib.models import UNet, sinusoidal_embedding, to_context
from course_lib.plotting import show_images
from course_lib.samplers import DDIMSampler, DDPMSampler, predict_noise, sample
from course_lib.training import train_diffusion

seed_everything(0)

# %% [markdown] slideshow={"slide_type": "slide"}
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
    """Attribute names such as ("circle", "red", "left") -> (10,) float, a 1 at each named attribute."""
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
assert torch.equal(multi_hot("circle", "red", "left"), attributes_to_context("circle", "red", "left"))
sprites = make_sprites(8, seed=0)
for row in sprites.attributes:
    print(row.int().tolist(), "->", caption(row))
    assert torch.equal(row.float(), multi_hot(*caption(row).removeprefix("a ").replace(" facing", "").split()))

# %% [markdown] slideshow={"slide_type": "subslide"}
# Eight training sprites with the caption of their context vector:

# %%
show_images(sprites.images, nrow=8, labels=[caption(a).removeprefix("a ").replace(" facing ", "\n") for a in sprites.attributes],
            title="Procedural sprites and their attributes", scale=5)
plt.show()

# %% [markdown] slideshow={"slide_type": "slide"}
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

# %% [markdown] slideshow={"slide_type": "subslide"}
# The embedding in code, for the shipped `digits-cond` model (ten classes, $e$ of size 64):

# %%
def unet_embedding(model: UNet, t: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
    """e(t, c), the vector every residual block reads: t (N,) long, context (N, K) -> (N, emb_dim)."""
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

# %% [markdown] slideshow={"slide_type": "subslide"}
# A linear layer $W c + b$ applied to a one-hot vector picks one column of $W$: it *is* an
# embedding table, one learned vector per class. Applied to a multi-hot vector it **adds**
# one learned vector per attribute, and to $\varnothing$ it gives the bias $b$ alone. Let us
# check that on the shipped models.

# %%
with torch.no_grad():
    W, b = digits_model.context_proj.weight, digits_model.context_proj.bias  # (emb_dim, 10), (emb_dim,)
    three = digits_model.context_proj(one_hot(torch.tensor([3]), 10))[0]
    Ws, bs = sprites_model.context_proj.weight, sprites_model.context_proj.bias
    attrs = multi_hot("circle", "red", "left")
    red_circle = sprites_model.context_proj(attrs[None])[0]
    by_hand = Ws[:, attrs.bool()].sum(dim=1) + bs
print(f"embedding of digit 3 - (column 3 of W + b): max |difference| = {(three - (W[:, 3] + b)).abs().max():.1e}")
print(f"red circle facing left - (sum of 3 columns + b): max |difference| = {(red_circle - by_hand).abs().max():.1e}")
assert torch.allclose(three, W[:, 3] + b, atol=1e-5) and torch.allclose(red_circle, by_hand, atol=1e-5)

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

# %% slideshow={"slide_type": "subslide"}
def drop_context(context: torch.Tensor, p_uncond: float, generator: torch.Generator) -> torch.Tensor:
    """Each row of context (N, K) replaced by zeros with probability p_uncond (Ho & Salimans 2022, Algorithm 1)."""
    keep = torch.rand(context.shape[0], generator=generator) >= p_uncond  # (N,) bool, True with probability 1 - p
    return context * keep[:, None]


batch = drop_context(one_hot(torch.randint(0, 10, (10_000,)), 10), 0.1, seed_everything(0))
print(f"share of a batch of {len(batch):,} trained without context: {(batch.sum(dim=1) == 0).float().mean():.3f}")

# %% [markdown] slideshow={"slide_type": "skip"}
# `train_diffusion(..., context_dropout=p)` drops the same rows: it draws the mask first in
# each step, from a generator seeded with `seed + 1`. We watch the contexts a model receives
# during one training step and compare.

# %% slideshow={"slide_type": "skip"}
watched, received = UNet(in_channels=1, context_dim=10), []
hook = watched.register_forward_pre_hook(lambda model, inputs: received.append(inputs[2].cpu()))
train_diffusion(watched, schedule, load_digits(split="train"), steps=1, batch_size=512, context_dropout=0.1, seed=5,
                progress=False)
hook.remove()
dropped_by_library = received[0].sum(dim=1) == 0  # (512,)
dropped_by_us = drop_context(torch.ones(512, 1), 0.1, torch.Generator().manual_seed(5 + 1))[:, 0] == 0
assert torch.equal(dropped_by_library, dropped_by_us) and 0 < dropped_by_us.sum() < 512

# %% [markdown] slideshow={"slide_type": "subslide"}
# How were the shipped conditional models trained? Their manifest says:

# %%
manifest = read_manifest(WEIGHTS_DIR / "manifest.json")
for name in ["digits-cond", "sprites"]:
    recipe = manifest[name]["training"]
    print(f"{name}: context_dropout = {recipe['context_dropout']}, {recipe['steps']:,} steps of {recipe['batch_size']} on {recipe['device']}")

# %% [markdown]
# A check that the unconditional half works: sampled with $c =
# \varnothing$, `digits-cond` should draw all ten digits about equally often, an entropy of
# the judge's class histogram close to $\log 10 \approx 2.30$ nats. (We sample with DDIM in
# 25 steps throughout; lesson 08 explains why that is allowed.)

# %%
judge, _ = load_pretrained("classifier-digits")
num_free = fast_or_full(100, 500)
free = sample(digits_model, DDIMSampler(schedule, 25), (num_free, 1, 16, 16), generator=seed_everything(1), progress=False)
free_probs, _ = predict(judge, free)
counts = torch.bincount(free_probs.argmax(dim=1), minlength=10)
print(f"{num_free} samples with no context; judge's class counts 0..9: {counts.tolist()}")
print(f"entropy of the class histogram: {class_entropy(free_probs):.2f} nats (uniform: {math.log(10):.2f})")
assert (counts > 0).all() and class_entropy(free_probs) > 2.0

# %% [markdown] slideshow={"slide_type": "slide"}
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

# %% [markdown] slideshow={"slide_type": "subslide"}
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
def guided_noise(model: UNet, x_t: torch.Tensor, t: int, context: torch.Tensor, w: float) -> torch.Tensor:
    """(1 + w) eps(x_t, t, c) - w eps(x_t, t, empty) (Ho & Salimans 2022, eq. 6); x_t (N, C, H, W), context (N, K)."""
    steps = torch.full((len(x_t),), t)  # (N,): the same timestep for every image
    eps_cond = model(x_t, steps, context)
    eps_uncond = model(x_t, steps, torch.zeros_like(context))  # the empty context of context dropout
    return (1 + w) * eps_cond - w * eps_uncond


test_images, test_labels = load_digits(split="test").tensors
noise = torch.randn((8, 1, 16, 16), generator=seed_everything(6))
x_t = schedule.add_noise(test_images[:8], noise, torch.full((8,), 200))  # eight digits noised to t = 200
context = one_hot(test_labels[:8], 10)  # their true labels
with torch.no_grad():
    guided, plain = (guided_noise(digits_model, x_t, 200, context, w) for w in (3.0, 0.0))
print(f"w = 3 moves the noise prediction by {(guided - plain).norm() / plain.norm():.0%} of its size")

# %% [markdown] slideshow={"slide_type": "skip"}
# The same numbers from the library's `predict_noise` (which runs both halves as one batch of
# $2N$), and from diffusers' convention, `noise_pred_uncond + guidance_scale * (noise_pred_text
# - noise_pred_uncond)` in its Stable Diffusion pipeline, with `guidance_scale` $= 1 + w$:

# %% slideshow={"slide_type": "skip"}
with torch.no_grad():
    for w in [0.0, 1.0, 3.0]:
        ours, library = guided_noise(digits_model, x_t, 200, context, w), predict_noise(digits_model, x_t, 200, context, w)
        eps_cond, eps_uncond = predict_noise(digits_model, x_t, 200, context), predict_noise(digits_model, x_t, 200)
        guidance_scale = 1 + w
        diffusers_form = eps_uncond + guidance_scale * (eps_cond - eps_uncond)
        assert torch.allclose(ours, library, atol=1e-5) and torch.allclose(ours, diffusers_form, atol=1e-5)

# %% [markdown] slideshow={"slide_type": "subslide"}
# `sample(..., guidance=w)` calls `predict_noise` with guidance at every step. Ten digits (one per class, the same starting noise in every row) at three
# guidance scales:

# %%
ten = one_hot(torch.arange(10), 10)
fig, axes = plt.subplots(3, 1, figsize=(7, 3.6), layout="constrained")
for ax, w in zip(axes, [0.0, 1.0, 4.0]):
    digits = sample(digits_model, DDIMSampler(schedule, 25), (10, 1, 16, 16), context=ten, guidance=w,
                    generator=seed_everything(2), progress=False)
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
    """Exact E[eps | x_t] for x ~ N(0, 1) (context 0) or N(1, 0.5^2) (context 1); x (N, 1), context (N, 1)."""

    def forward(self, x: torch.Tensor, t: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        c = context if context is not None else torch.zeros_like(x)
        ab = alpha_bar[t][:, None]  # (N, 1)
        mean, variance = c * ab.sqrt() * 1.0, ab * (1 - c + c * 0.5**2) + 1 - ab  # of x_t = sqrt(ab) x + sqrt(1 - ab) eps
        return (1 - ab).sqrt() * (x - mean) / variance  # the regression of eps on x_t

# %% slideshow={"slide_type": "subslide"}
w, n = 2.0, fast_or_full(20_000, 200_000)
precision = (1 + w) / 0.5**2 - w  # of p(x | c)^(1 + w) p(x)^(-w)
rows = {f"p(x) p(c|x)^(1+w), w = {w:g}": {"mean": (1 + w) * 1.0 / 0.5**2 / precision, "std": precision**-0.5}}
for name, sampler, weight in [("DDIM, no guidance", DDIMSampler(schedule, 500), 0.0),
                              (f"DDIM, w = {w:g}", DDIMSampler(schedule, 500), w), (f"DDPM, w = {w:g}", DDPMSampler(schedule), w)]:
    x = sample(GaussianDenoiser(), sampler, (n, 1), context=torch.ones(n, 1), guidance=weight, generator=seed_everything(8),
               device="cpu", progress=False)
    rows[name] = {"mean": x.mean().item(), "std": x.std().item()}
print_table(rows, label=f"{n:,} samples, 500 steps", formats={"mean": ".3f", "std": ".3f"})

# %% slideshow={"slide_type": "skip"}
target = rows[f"p(x) p(c|x)^(1+w), w = {w:g}"]
assert abs(rows["DDIM, no guidance"]["mean"] - 1) < 0.06 and abs(rows["DDIM, no guidance"]["std"] - 0.5) < 0.02
assert all(abs(rows[f"{s}, w = {w:g}"]["std"] - target["std"]) > 0.05 for s in ["DDIM", "DDPM"])
assert rows[f"DDIM, w = {w:g}"]["std"] < rows[f"DDPM, w = {w:g}"]["std"] - 0.05

# %% [markdown]
# Without guidance the sampler recovers $\mathcal{N}(1, 0.5^2)$ (the row "DDIM, no guidance",
# up to discretisation). With guidance, neither sampler produces the "sharpened" Gaussian of the
# first line, and the two disagree with each other: DDIM comes out narrower than DDPM. The
# per-step score reading explains the direction of guidance (towards the class, narrower), not
# the distribution it ends at.

# %% [markdown] slideshow={"slide_type": "slide"}
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

# %%
per_class = fast_or_full(20, 100)
labels = torch.arange(10).repeat_interleave(per_class)
asked_digits = one_hot(labels, 10)
_, held_out_features = predict(judge, load_digits(split="test").tensors[0])
guidance_scales = [0.0, 0.5, 1.0, 2.0, 4.0]
rows, examples = [], {}
for w in guidance_scales:
    images = sample(digits_model, DDIMSampler(schedule, 25), (len(labels), 1, 16, 16), context=asked_digits,
                    guidance=w, generator=seed_everything(3), progress=False)
    probs, features = predict(judge, images)
    diversity = torch.stack([torch.pdist(features[labels == k]).mean() for k in range(10)]).mean().item()
    rows.append(dict(w=w, accuracy=(probs.argmax(1) == labels).float().mean().item(),
                     p_asked=probs[torch.arange(len(labels)), labels].mean().item(),
                     diversity=diversity, fid=frechet_distance(features, held_out_features),
                     saturated=(images.abs() > 1).float().mean().item()))
    examples[w] = images[labels == 4][:8]

# %%
print_table({f"{r['w']:g}": {"accuracy": r["accuracy"], "p(asked)": r["p_asked"], "diversity": r["diversity"],
                             "FID": r["fid"], "|pixel| > 1": r["saturated"]} for r in rows},
            label="w", formats={"accuracy": ".3f", "p(asked)": ".3f", "|pixel| > 1": ".3f"},
            title=f"{len(labels)} samples per w ({per_class} per class), DDIM 25 steps; "
                  f"FID on the judge's features against {len(held_out_features)} held-out digits")

# %% [markdown] slideshow={"slide_type": "subslide"}
# The same numbers as curves, and eight fours at each guidance scale:

# %%
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(8, 3.2), layout="constrained")
ax1.plot(guidance_scales, [r["accuracy"] for r in rows], "o-", label="judge accuracy")
ax1.plot(guidance_scales, [r["p_asked"] for r in rows], "s--", label="mean p(asked class)")
ax1.set(xlabel="guidance scale $w$", ylabel="fraction / probability", title="Following the context")
ax1.legend()
ax2.plot(guidance_scales, [r["diversity"] for r in rows], "o-", color="C2")
ax2.set(xlabel="guidance scale $w$", ylabel="within-class feature distance", title="Diversity and FID")
ax2.yaxis.label.set_color("C2")
twin = ax2.twinx()
twin.plot(guidance_scales, [r["fid"] for r in rows], "s--", color="C3")
twin.set_ylabel("FID vs held-out digits", color="C3")
plt.show()
show_images(torch.cat([examples[w] for w in guidance_scales]), nrow=8,
            title="Fours at w = " + ", ".join(f"{w:g}" for w in guidance_scales) + " (one row each)")
plt.show()

# %% [markdown] slideshow={"slide_type": "subslide"}
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
assert rows[0]["accuracy"] > 0.9 and rows[1]["accuracy"] >= rows[0]["accuracy"]  # right almost always; w = 0.5 no worse
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
asked = torch.stack([attributes_to_context(*combo) for combo in combos]).repeat(repeats, 1)  # (32 * repeats, 10)
groups = {"shape": slice(0, len(SHAPES)), "colour": slice(len(SHAPES), len(SHAPES) + len(COLOURS)),
          "facing": slice(len(SHAPES) + len(COLOURS), len(ATTRIBUTE_NAMES))}


# %%
def read_attributes(images: torch.Tensor) -> dict[str, torch.Tensor]:
    """The sprite judge's choice in each attribute group, as an index into SHAPES, COLOURS, FACINGS."""
    with torch.no_grad():
        logits = sprite_judge(images.to(next(sprite_judge.parameters()).device)).cpu()
    return {group: logits[:, where].argmax(dim=1) for group, where in groups.items()}


# %% slideshow={"slide_type": "subslide"}
sprite_samples = {}
print(f"{len(asked)} sprites per row ({repeats} per combination), DDIM 25 steps")
print(f"{'w':>4} " + " ".join(f"{g + ' acc.':>12}" for g in groups) + f" {'all three':>10}")
for w in [0.0, 2.0]:
    images = sample(sprites_model, DDIMSampler(schedule, 25), (len(asked), 3, 16, 16), context=asked, guidance=w,
                    generator=seed_everything(4), progress=False)
    read = read_attributes(images)
    correct = {g: read[g] == asked[:, where].argmax(dim=1) for g, where in groups.items()}
    all_three = torch.stack(list(correct.values())).all(dim=0).float().mean()
    print(f"{w:4g} " + " ".join(f"{c.float().mean():12.3f}" for c in correct.values()) + f" {all_three:10.3f}")
    sprite_samples[w] = images

# %%
show_images(sprite_samples[2.0][:32], nrow=8, title="All 32 attribute combinations, w = 2\n"
            "(rows: circle, square, triangle, diamond; pairs of columns: red, green, blue, yellow; left/right)", scale=4)
plt.show()

# %% [markdown] slideshow={"slide_type": "slide"}
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

# %% [markdown] slideshow={"slide_type": "subslide"}
# Besides the judge, two measurements on the pixels: the mean colour of each sprite's body
# (is it a blend, magenta, of red and blue?) and how much of its bounding box the body fills
# (about $\pi/4 \approx 0.79$ for a circle, 1 for a square).

# %%
def body_mask(images: torch.Tensor) -> torch.Tensor:
    """(N, H, W) bool: the sprite's body, i.e. pixels that are neither black background nor the white eye."""
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
contexts = {
    "circle, no colour": attributes_to_context("circle"),
    "red+blue circle": attributes_to_context("circle", ["red", "blue"]),
    "red circle+square": attributes_to_context(["circle", "square"], "red"),
    "red circle": attributes_to_context("circle", "red"),  # references for the fill ratio
    "red square": attributes_to_context("square", "red"),
}
num_mix = fast_or_full(32, 128)
mix_results, mix_images = {}, {}
for name, mix in contexts.items():
    images = sample(sprites_model, DDIMSampler(schedule, 25), (num_mix, 3, 16, 16), context=mix.repeat(num_mix, 1),
                    guidance=2.0, generator=seed_everything(5), progress=False)
    read = read_attributes(images)
    body = body_mask(images)[:, None]
    rgb = (images * body).sum(dim=(2, 3)) / body.sum(dim=(2, 3)).clamp(min=1)  # (N, 3) mean body colour
    mix_results[name] = dict(shapes=torch.bincount(read["shape"], minlength=4),
                             colours=torch.bincount(read["colour"], minlength=4),
                             magenta=((rgb[:, 0] > 0) & (rgb[:, 2] > 0)).sum().item(), fill=fill_ratio(images).mean().item())
    mix_images[name] = images

# %% slideshow={"slide_type": "subslide"}
for name, r in mix_results.items():
    print(f"{name:>18}: judge's shapes {dict(zip(SHAPES, r['shapes'].tolist()))}; fill ratio {r['fill']:.2f}")
    print(f"{'':>18}  judge's colours {dict(zip(COLOURS, r['colours'].tolist()))}; magenta bodies {r['magenta']}")

# %% slideshow={"slide_type": "subslide"}
fig, axes = plt.subplots(1, 3, figsize=(9, 2.6), layout="constrained")
for ax, name in zip(axes, list(contexts)[:3]):
    show_images(mix_images[name][:16], nrow=4, ax=ax, title=name)
fig.suptitle(f"Contexts never seen in training (w = 2); the judge read {num_mix} samples of each")
plt.show()

# %% [markdown] slideshow={"slide_type": "subslide"}
# What the measurements show:
#
# - **A missing colour**: the circles come out as asked (the judge's shape counts), in the
#   colours of the counts above, with nothing to make them an even mix. Context dropout only
#   ever removed the *whole* context, so "a circle and nothing else" was never seen in
#   training: the network receives the circle vector plus the bias and does whatever its
#   weights make of it.
# - **Red + blue**: each body commits to *one* of the two colours (the judge finds only red and
#   blue, and no body is magenta on average): the context makes two modes likely and each
#   sample falls into one of them. Look at the pictures for what averages hide: tints that
#   no training sprite has would mean the model is off its training distribution.
# - **Circle + square**: the judge calls nearly all of them circles, yet their fill ratio
#   lies between the references of the circle and of the square, and nearer the square's.
#   The judge was trained on four pure shapes and *must* pick one: it cannot report a blend.
#   A measuring instrument has a training distribution too.
#
# Composing concepts by combining contexts is how text-to-image models are asked for "a red
# cube on a blue sphere", and these tiny experiments show why it is unreliable when the
# combination is unlike anything in the training data (Liu et al. 2022 study better ways to
# compose).

# %% slideshow={"slide_type": "skip"}
red_blue = mix_results["red+blue circle"]
assert red_blue["colours"][[1, 3]].sum() <= 0.1 * num_mix and red_blue["colours"][[0, 2]].min() > 0
assert red_blue["magenta"] == 0 and mix_results["circle, no colour"]["shapes"][0] >= 0.9 * num_mix
fills = {name: mix_results[name]["fill"] for name in ("red circle", "red circle+square", "red square")}
assert fills["red circle"] < fills["red circle+square"] <= fills["red square"] + 0.05
assert abs(fills["red circle+square"] - fills["red square"]) < abs(fills["red circle+square"] - fills["red circle"])
assert mix_results["red circle+square"]["shapes"][0] >= 0.9 * num_mix  # "nearly all circles", says the judge

# %% [markdown] slideshow={"slide_type": "slide"}
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
def my_guided_noise(model: UNet, x_t: torch.Tensor, t: int, context: torch.Tensor, guidance_scale: float) -> torch.Tensor:
    """eps_uncond + s (eps_cond - eps_uncond) from one forward pass on 2N images; x_t (N, C, H, W), context (N, K)."""
    raise NotImplementedError  # your code here


# %% slideshow={"slide_type": "subslide"}
scale = 4.0  # guidance_scale s = 1 + w, here w = 3
with torch.no_grad():
    expected = predict_noise(digits_model, x_t, 200, context, guidance=scale - 1)
    eps_cond, eps_uncond = predict_noise(digits_model, x_t, 200, context), predict_noise(digits_model, x_t, 200)
    s_as_w = predict_noise(digits_model, x_t, 200, context, guidance=scale)
    w_as_s = predict_noise(digits_model, x_t, 200, context, guidance=scale - 2)
check(lambda: my_guided_noise(digits_model, x_t, 200, context, scale), expected, name="my_guided_noise",
      mistakes={"(1 + s) eps_c - s eps_uncond: guidance_scale s used as w": s_as_w,
                "eps_uncond + w (eps_c - eps_uncond): w = s - 1 where 1 + w belongs": w_as_s,
                "w eps_c - w eps_uncond: w instead of 1 + w": (scale - 1) * (eps_cond - eps_uncond),
                "eps_c + s (eps_uncond - eps_c): the conditional and unconditional halves swapped":
                    eps_cond + scale * (eps_uncond - eps_cond)})

# %% tags=["solution"]
def my_guided_noise(model: UNet, x_t: torch.Tensor, t: int, context: torch.Tensor, guidance_scale: float) -> torch.Tensor:
    """eps_uncond + s (eps_cond - eps_uncond) from one forward pass on 2N images; x_t (N, C, H, W), context (N, K)."""
    both = torch.cat([x_t, x_t])  # (2N, C, H, W)
    steps = torch.full((len(both),), t)  # (2N,)
    contexts = torch.cat([context, torch.zeros_like(context)])  # (2N, K): with, then without
    eps_cond, eps_uncond = model(both, steps, contexts).chunk(2)  # two (N, C, H, W)
    return eps_uncond + guidance_scale * (eps_cond - eps_uncond)


assert check(lambda: my_guided_noise(digits_model, x_t, 200, context, scale), expected, name="my_guided_noise")
assert check(lambda: my_guided_noise(digits_model, x_t, 200, context, 1 + 3.0),
             guided_noise(digits_model, x_t, 200, context, 3.0), name="my_guided_noise against guided_noise")

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
def sample_with_negative(model: UNet, positive: torch.Tensor, negative: torch.Tensor, w: float, num: int,
                         generator: torch.Generator) -> torch.Tensor:
    """num sprites (num, 3, 16, 16) by DDIM (25 steps) with eps = eps(c_-) + (1 + w) (eps(c) - eps(c_-)); contexts (10,)."""
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
plain = sample_with_negative(sprites_model, circle, torch.zeros(10), 2.0, num_mix, seed_everything(7))
negative = sample_with_negative(sprites_model, circle, red, 2.0, num_mix, seed_everything(7))
colour_counts = {}
for name, images in [("plain guidance", plain), ("negative 'red'", negative)]:
    colour_counts[name] = dict(zip(COLOURS, torch.bincount(read_attributes(images)["colour"], minlength=4).tolist()))
    print(f"{name:>15}: judge's colours {colour_counts[name]}")
assert all(colour_counts["negative 'red'"][c] < colour_counts["plain guidance"][c] for c in ["red", "yellow"])
show_images(torch.cat([plain[:8], negative[:8]]), nrow=8, title="Circles: plain guidance (top), negative context 'red' (bottom)")
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

# %% [markdown] slideshow={"slide_type": "slide"}
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
# - Contexts outside the training distribution (mixed or missing attributes) are valid inputs
#   whose result has to be checked, not assumed.
#
# Next: sampling in 25 steps instead of 500, and why that works (DDIM).

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
