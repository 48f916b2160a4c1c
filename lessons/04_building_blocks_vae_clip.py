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
# # Building blocks II: VAEs and CLIP
#
# Stable Diffusion is three networks: a **VAE** that squeezes images into a small latent space,
# a **UNet** that runs diffusion there, and a CLIP **text encoder** that turns the prompt into
# the conditioning.
#
# Today, small versions of the other two: a VAE on handwritten digits, a tiny CLIP on sprites
# and their captions.

# %% [markdown] slideshow={"slide_type": "notes"}
# # Building blocks II: VAEs and CLIP
#
# Stable Diffusion is three networks working together: a **VAE** that squeezes images into
# a small latent space, a **UNet** that runs diffusion in that space (lesson 03 and the
# lessons after this one), and a **text encoder** from CLIP that turns the prompt into the
# conditioning vector. This lesson builds small versions of the other two and trains them
# on the course's offline data: a VAE on handwritten digits, and a tiny CLIP on sprites and
# their captions.
#
# **Learning objectives.** By the end you can
#
# - train an autoencoder and explain why decoding random codes from it gives poor images;
# - derive the evidence lower bound (ELBO) of a VAE and name its two terms;
# - write the reparameterisation trick, the closed-form Gaussian KL and the VAE loss, and
#   check them against the library and a Monte Carlo estimate;
# - sample from a VAE's prior and interpolate in its latent space;
# - compute how much a latent space saves Stable Diffusion;
# - write CLIP's symmetric InfoNCE loss, train a CLIP-style model with it and use it for
#   zero-shot classification of captions it never saw.
#
# **Estimated time:** 75 minutes (45 of reading and running, 30 for the exercises).

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### Learning objectives
#
# - an autoencoder, and why decoding its random codes gives poor images
# - the ELBO, the reparameterisation trick and the closed-form Gaussian KL, each checked
# - sampling and interpolating in a VAE's latent space; what latents save Stable Diffusion
# - CLIP's symmetric InfoNCE loss, and zero-shot classification of captions never seen
#
# 75 minutes: 45 of reading and running, 30 for the exercises.

# %% slideshow={"slide_type": "skip"}
import math
import warnings

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from tqdm import TqdmWarning
# diffusers imports tqdm.auto, which warns in a notebook without ipywidgets (lesson 09).
warnings.filterwarnings("ignore", category=TqdmWarning)
from diffusers.models.autoencoders.vae import DiagonalGaussianDistribution  # noqa: E402
from course_lib.clip import (TinyCLIP, Vocabulary, clip_loss, train_clip,  # noqa: E402
                             zero_shot_classify)
from course_lib.config import fast_or_full, get_device, seed_everything  # noqa: E402
from course_lib.data.digits import load_digits  # noqa: E402
from course_lib.data.sprites import (COLOURS, FACINGS, SHAPES,  # noqa: E402
                                     attributes_to_context, caption, make_sprites)
from course_lib.exercises import check  # noqa: E402
from course_lib.metrics import nearest_neighbour_distance  # noqa: E402
from course_lib.plotting import plot_losses, show_images  # noqa: E402
from course_lib.vae import VAE, kl_divergence, reparameterise, train_vae, vae_loss  # noqa: E402

# %% slideshow={"slide_type": "skip"}
generator = seed_everything(0)
device = get_device()
print(f"running on {device}")

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "slide"}
# ## Part 1: compressing images with an autoencoder
#
# - an **encoder** maps an image $x$ to a short code $z$, a **decoder** maps $z$ back to
#   $\hat x$; trained together to minimise $\lVert x - \hat x \rVert^2$
# - $z$ is much smaller than $x$: the pair must discover what digit images have in common
# - our digits: $16 \times 16 = 256$ pixels in $[-1, 1]$; the code: 8 numbers
# - the decoder upsamples by resize + conv (lesson 03), ending in a tanh

# %% [markdown] slideshow={"slide_type": "notes"}
# ## Part 1: compressing images with an autoencoder
#
# An **autoencoder** is two networks trained together: an encoder that maps an image $x$ to
# a short code $z$, and a decoder that maps $z$ back to an image $\hat x$. Training
# minimises the reconstruction error $\lVert x - \hat x \rVert^2$. Because $z$ is much
# smaller than $x$, the pair must discover what digit images have in common.
#
# Our digits are $16 \times 16 = 256$ pixels in $[-1, 1]$; the code has 8 numbers. The
# encoder is three convolutions (two of them with stride 2, down to $4 \times 4$) and a
# linear layer; the decoder mirrors it with nearest-neighbour upsampling and convolutions
# (the recipe from lesson 03), ending in a tanh so that its output lies in $[-1, 1]$.

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### Training the autoencoder: 8 numbers per digit

# %%
train_digits = load_digits(16, "train")
test_digits = load_digits(16, "test")
test_images, test_labels = test_digits.tensors
print(f"{len(train_digits)} training and {len(test_images)} held-out digits of shape"
      f" {tuple(test_images.shape[1:])}")

latent_dim = 8
steps = fast_or_full(200, 3000)
seed_everything(0)
autoencoder = VAE(latent_dim=latent_dim, base_channels=16, variational=False)
ae_losses = train_vae(autoencoder, train_digits, steps=steps, batch_size=64, seed=0, device=device)
fig, ax = plt.subplots(figsize=(9.5, 3.2), layout="constrained")  # wide: it reads on a slide too
plot_losses(ae_losses, smooth=20, ax=ax, title="Autoencoder: squared error per image")
plt.show()

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### Reconstructing digits it never saw

# %% [markdown]
# How good are the reconstructions of digits the model never saw? We report the mean
# squared error per pixel on the held-out digits, next to the simplest possible "model":
# answering the average training digit whatever the input.

# %%
@torch.no_grad()
def reconstruct(model: VAE, images: torch.Tensor) -> torch.Tensor:
    """Encode, keep the mean code (no sampling), decode."""
    mu, _ = model.encode(images.to(device))
    return model.decode(mu).cpu()


def mse_per_pixel(a: torch.Tensor, b: torch.Tensor) -> float:
    return (a - b).pow(2).mean().item()


mean_image = train_digits.tensors[0].mean(dim=0, keepdim=True)
baseline_error = mse_per_pixel(mean_image.expand_as(test_images), test_images)
ae_error = mse_per_pixel(reconstruct(autoencoder, test_images), test_images)
print("held-out reconstruction error (MSE per pixel, images in [-1, 1]):")
print(f"  average training digit  {baseline_error:.4f}")
print(f"  autoencoder ({latent_dim} numbers) {ae_error:.4f}")
show_images(torch.cat([test_images[:10], reconstruct(autoencoder, test_images[:10])]), nrow=10,
            title="held-out digits (top) and their autoencoder reconstructions")
plt.show()

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Can we generate with it?
#
# If the decoder turns codes into digits, why not decode *random* codes? Because nothing
# told the encoder where to put its codes. Below are the statistics of the codes of the
# held-out digits, and what the decoder makes of codes drawn from a standard normal.

# %%
with torch.no_grad():
    ae_codes, _ = autoencoder.encode(test_images.to(device))
print("autoencoder codes, per dimension:")
print("  mean", [round(v, 2) for v in ae_codes.mean(0).tolist()])
print("  std ", [round(v, 2) for v in ae_codes.std(0).tolist()])
prior_z = torch.randn(20, latent_dim, generator=torch.Generator().manual_seed(1))
with torch.no_grad():
    ae_random = autoencoder.decode(prior_z.to(device)).cpu()
show_images(ae_random, nrow=10, title="autoencoder decoding z ~ N(0, I)")
plt.show()

# %% [markdown]
# The codes occupy some region of an unknown shape and scale, and random codes mostly land
# outside it, where the decoder was never trained. A **variational** autoencoder fixes this
# by asking the codes to follow a known distribution that we can sample from.

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "slide"}
# ## The VAE and its evidence lower bound
#
# Draw $z \sim \mathcal N(0, I)$, then $x \sim p_\theta(x \mid z)$; the encoder proposes
# $q_\phi(z \mid x)$ (Kingma & Welling 2013; Rezende, Mohamed & Wierstra 2014):
#
# $$\log p_\theta(x) = \underbrace{\mathbb E_{q_\phi(z \mid x)}\big[\log p_\theta(x \mid z)\big] - \mathrm{KL}\big(q_\phi(z \mid x)\,\Vert\, p(z)\big)}_{\text{ELBO}} + \underbrace{\mathrm{KL}\big(q_\phi(z \mid x)\,\Vert\, p_\theta(z \mid x)\big)}_{\ge 0}$$
#
# - **reconstruction**: codes drawn from $q(z \mid x)$ must decode back to $x$
# - **KL to the prior**: each posterior stays close to $\mathcal N(0, I)$, so that samples
#   from the prior decode to digits

# %% [markdown] slideshow={"slide_type": "notes"}
# ## The VAE and its evidence lower bound
#
# A VAE (Kingma & Welling 2013; Rezende, Mohamed & Wierstra 2014) is a latent-variable model:
# draw $z \sim p(z) = \mathcal N(0, I)$, then $x \sim p_\theta(x \mid z)$ from the decoder. We
# would like to maximise $\log p_\theta(x)$, but that needs an integral over all $z$. The
# encoder proposes instead an approximate posterior
# $q_\phi(z \mid x) = \mathcal N\big(\mu_\phi(x), \operatorname{diag}\sigma^2_\phi(x)\big)$, and for any $q$:
#
# $$\log p_\theta(x) = \underbrace{\mathbb E_{q_\phi(z \mid x)}\big[\log p_\theta(x \mid z)\big] - \mathrm{KL}\big(q_\phi(z \mid x)\,\Vert\, p(z)\big)}_{\text{ELBO}} + \mathrm{KL}\big(q_\phi(z \mid x)\,\Vert\, p_\theta(z \mid x)\big).$$
#
# The last KL is never negative, so the ELBO is a lower bound on $\log p_\theta(x)$;
# maximising it over $\theta$ and $\phi$ both fits the data and pulls $q$ towards the true
# posterior. The two terms have clear jobs:
#
# - **reconstruction**: codes drawn from $q(z \mid x)$ must decode back to $x$;
# - **KL to the prior**: each posterior must stay close to $\mathcal N(0, I)$, so that the
#   codes of all images together fill the prior, and samples from it decode to digits.

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### From the ELBO to a loss we can compute
#
# With a Gaussian decoder of fixed variance $s^2$,
# $-\log p_\theta(x \mid z) = \lVert x - \hat x(z) \rVert^2 / (2s^2) + \text{const}$, and for two
# Gaussians the KL has a closed form (Kingma & Welling 2013, appendix B):
#
# $$\mathrm{KL}\big(\mathcal N(\mu, \operatorname{diag}\sigma^2)\,\Vert\,\mathcal N(0, I)\big) = \tfrac12 \sum_j \big(\mu_j^2 + \sigma_j^2 - 1 - \log \sigma_j^2\big).$$
#
# Multiplying the negative ELBO by $2s^2$ and dropping the constant gives the loss of
# `course_lib.vae.vae_loss`:
#
# $$\mathcal L = \lVert x - \hat x \rVert^2 + \beta\, \mathrm{KL}, \qquad \beta = 2s^2.$$
#
# A small $\beta$ trusts the pixels (sharp reconstructions, codes that may stray from the
# prior); a large $\beta$ trusts the prior. We use $\beta = 1$.

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### The closed-form KL against a Monte Carlo estimate

# %% [markdown]
# The KL term in code, checked against a Monte Carlo estimate $\mathbb E_q[\log q(z) - \log p(z)]$
# from samples of $q$:

# %%
def gaussian_kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, diag exp(logvar)) || N(0, I)) per row: mu, logvar (N, L) -> (N,), >= 0."""
    # Kingma & Welling 2013, appendix B
    return 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).sum(dim=1)


mu = torch.tensor([[0.8, -0.5, 1.5]])  # (1, 3)
logvar = torch.tensor([[0.3, -1.0, 0.0]])
q = torch.distributions.Normal(mu, (0.5 * logvar).exp())
z = q.sample((100_000,))  # (100000, 1, 3)
monte_carlo = (q.log_prob(z) - torch.distributions.Normal(0.0, 1.0).log_prob(z)).sum(-1).mean()
print(f"KL closed form {gaussian_kl(mu, logvar).item():.4f}, Monte Carlo {monte_carlo.item():.4f}")
assert abs(gaussian_kl(mu, logvar).item() - monte_carlo.item()) < 0.02

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "slide"}
# ## The reparameterisation trick
#
# Sampling $z \sim q_\phi(z \mid x)$ is not differentiable; the same sample written as a
# function of $\mu$, $\sigma$ and independent noise is (Kingma & Welling 2013, eq. 10):
#
# $$z = \mu + \sigma \odot \varepsilon, \qquad \varepsilon \sim \mathcal N(0, I)$$
#
# - gradients flow through $z$ into $\mu$ and $\sigma$
# - the encoder outputs $\log \sigma^2$, so any real number is valid

# %% [markdown] slideshow={"slide_type": "notes"}
# ## The reparameterisation trick
#
# The reconstruction term is an expectation over $z \sim q_\phi(z \mid x)$, and we need its
# gradient with respect to $\phi$. Sampling is not differentiable, but we can write the same
# sample as a differentiable function of $\mu, \sigma$ and noise that does not depend on
# them (Kingma & Welling 2013, eq. 10):
#
# $$z = \mu + \sigma \odot \varepsilon, \qquad \varepsilon \sim \mathcal N(0, I).$$
#
# Now gradients flow through $z$ into $\mu$ and $\sigma$. The encoder outputs
# $\log \sigma^2$ rather than $\sigma$, so any real number is a valid output, and
# $\sigma = \exp(\tfrac12 \log \sigma^2)$.

# %%
def reparameterised_sample(mu: torch.Tensor, logvar: torch.Tensor,
                           generator: torch.Generator | None = None) -> torch.Tensor:
    """z ~ N(mu, diag exp(logvar)) as a differentiable function of mu and logvar: (N, L), (N, L) ->
    (N, L)."""
    eps = torch.randn(mu.shape, generator=generator)  # (N, L), independent of mu and logvar
    return mu + (0.5 * logvar).exp() * eps  # Kingma & Welling 2013, eq. 10


# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### A check through the gradient: $\partial\, \mathbb E[z^2] / \partial \mu = 2\mu$

# %% [markdown]
# A check: for $\mathbb E[z^2] = \mu^2 + \sigma^2$, the exact gradient with respect to
# $\mu$ is $2\mu$; the average over samples, differentiated through $z$, should agree.

# %%
mu = torch.tensor([[1.5]], requires_grad=True)
logvar = torch.tensor([[math.log(0.5)]], requires_grad=True)
z = reparameterised_sample(mu.expand(100_000, 1), logvar.expand(100_000, 1),
                           torch.Generator().manual_seed(0))
z.pow(2).mean().backward()
print(f"gradient of E[z^2] with respect to mu: reparameterised estimate {mu.grad.item():.3f}, exact"
      f" {2 * mu.item():.3f}")
assert abs(mu.grad.item() - 2 * mu.item()) < 0.02

# %% slideshow={"slide_type": "skip"}
# (8, 2) each
mu, logvar = torch.randn(8, 4, generator=torch.Generator().manual_seed(3)).chunk(2, dim=1)
# diffusers: (N, 2L, H, W)
posterior = DiagonalGaussianDistribution(torch.cat([mu, logvar], dim=1)[:, :, None, None])
mine = reparameterised_sample(mu, logvar, torch.Generator().manual_seed(1))
assert torch.equal(mine, reparameterise(mu, logvar, torch.Generator().manual_seed(1)))  # course_lib
# diffusers
assert torch.allclose(mine, posterior.sample(torch.Generator().manual_seed(1))[:, :, 0, 0])
assert torch.allclose(gaussian_kl(mu, logvar), kl_divergence(mu, logvar))  # course_lib
assert torch.allclose(gaussian_kl(mu, logvar), posterior.kl())  # diffusers
print("reparameterised_sample and gaussian_kl equal course_lib's reparameterise and kl_divergence, "
      "and diffusers' DiagonalGaussianDistribution.sample and .kl")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Training the VAE
#
# The network is the autoencoder's, except that the encoder now outputs $2 \times 8$
# numbers, $\mu$ and $\log \sigma^2$, and the decoder sees a *sample* $z$ instead of the mean.
# The loss it minimises, written with the two functions above:

# %%
def negative_elbo(x: torch.Tensor, x_hat: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor,
                  beta: float = 1.0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Images x, x_hat (N, C, H, W), latents mu, logvar (N, L) -> (total, reconstruction, KL), batch
    means."""
    # squared error summed over pixels
    reconstruction = (x - x_hat).pow(2).flatten(1).sum(dim=1).mean()
    kl = gaussian_kl(mu, logvar).mean()  # nats per image
    return reconstruction + beta * kl, reconstruction, kl


# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### The loss of an untrained VAE, equal to the library's

# %%
seed_everything(0)
vae = VAE(latent_dim=latent_dim, base_channels=16)
batch = train_digits.tensors[0][:64]  # (64, 1, 16, 16)
with torch.no_grad():
    # z by the reparameterisation
    x_hat, mu, logvar = vae(batch, generator=torch.Generator().manual_seed(0))
    total, reconstruction, kl = negative_elbo(batch, x_hat, mu, logvar, beta=1.0)
    library = vae_loss(batch, x_hat, mu, logvar, beta=1.0)
print(f"untrained VAE, 64 digits: loss {total:.2f} = reconstruction {reconstruction:.2f} + KL"
      f" {kl:.4f} nats")
assert all(torch.allclose(mine, theirs) for mine,
           theirs in zip((total, reconstruction, kl), library))
print("equal to course_lib.vae.vae_loss (total, reconstruction, kl)")

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### Training the VAE: a latent space we can sample from

# %%
vae_losses = train_vae(vae, train_digits, steps=steps, batch_size=64, beta=1.0, seed=0,
                       device=device)
fig, ax = plt.subplots(figsize=(9.5, 3.2), layout="constrained")  # wide: it reads on a slide too
plot_losses(vae_losses, smooth=20, ax=ax,
            title="VAE: squared error + KL per image (negative ELBO, rescaled)")
plt.show()

with torch.no_grad():
    vae_mu, vae_logvar = vae.encode(test_images.to(device))
vae_error = mse_per_pixel(reconstruct(vae, test_images), test_images)
print("held-out reconstruction error (MSE per pixel):")
print(f"  average training digit  {baseline_error:.4f}")
print(f"  autoencoder             {ae_error:.4f}")
print(f"  VAE                     {vae_error:.4f}")
print("mean KL(q(z|x) || p(z)) on held-out digits:"
      f" {gaussian_kl(vae_mu, vae_logvar).mean().item():.2f} nats")
assert ae_error < vae_error < baseline_error

# %% [markdown] slideshow={"slide_type": "notes"}
# The VAE reconstructs a little less precisely than the plain autoencoder: it pays for
# keeping its codes near the prior. What it buys is a latent space we can sample from.

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "slide"}
# ## Samples from the prior
#
# - to generate: draw $z \sim \mathcal N(0, I)$ and decode; the same 20 codes as for the
#   autoencoder
# - "looks like a digit" as a number: each image's RMS pixel distance to its nearest training
#   digit, next to that of real held-out digits

# %% [markdown] slideshow={"slide_type": "notes"}
# ## Samples from the prior
#
# To generate, draw $z \sim \mathcal N(0, I)$ and decode. We decode the same 20 random
# codes with both models. To put a number on "looks like a digit", we measure each image's
# root-mean-square pixel distance to its nearest training digit, next to the same distance
# for real held-out digits.

# %%
with torch.no_grad():
    vae_samples = vae.decode(prior_z.to(device)).cpu()
show_images(vae_samples, nrow=10, title="VAE decoding z ~ N(0, I): the same codes as above")
plt.show()

many_z = torch.randn(500, latent_dim, generator=torch.Generator().manual_seed(2)).to(device)
with torch.no_grad():
    candidates = {"held-out real digits": test_images[:500],
                  "VAE samples": vae.decode(many_z).cpu(),
                  "autoencoder, random codes": autoencoder.decode(many_z).cpu()}
print("RMS distance to the nearest training digit (lower = closer to real digits):")
for name, images in candidates.items():
    distance, _ = nearest_neighbour_distance(images, train_digits.tensors[0])
    print(f"  {name:<26} {distance.mean().item():.3f}")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Walking through the latent space
#
# Because the KL term packs the codes of all digits into one smooth cloud, the straight line
# between the codes of two digits passes through codes that also decode to plausible images.

# %%
start, end = (test_labels == 0).nonzero()[0].item(), (test_labels == 6).nonzero()[0].item()
weights = torch.linspace(0, 1, 10)[:, None]
rows = []
for model in (vae, autoencoder):
    with torch.no_grad():
        codes, _ = model.encode(test_images[[start, end]].to(device))
        rows.append(
            model.decode((1 - weights.to(device)) * codes[0] + weights.to(device) * codes[1]).cpu()
        )
show_images(torch.cat(rows), nrow=10, title="from a 0 to a 6: VAE (top), autoencoder (bottom)")
plt.show()

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "slide"}
# ## Why Stable Diffusion works in a VAE's latent space
#
# - a diffusion model calls its UNet tens to hundreds of times per image, and every
#   convolution costs more with more pixels
# - Rombach et al. (2022): an autoencoder maps a $512 \times 512 \times 3$ image to a
#   $64 \times 64 \times 4$ latent ($f = 8$); diffusion runs on latents, the decoder runs once

# %% [markdown] slideshow={"slide_type": "notes"}
# ## Why Stable Diffusion works in a VAE's latent space
#
# A diffusion model calls its UNet tens to hundreds of times per image, and the cost of
# every convolution grows with the number of pixels. Rombach et al. (2022) first train an
# autoencoder (a VAE with a very small KL weight, plus perceptual and adversarial losses)
# that maps a $512 \times 512 \times 3$ image to a $64 \times 64 \times 4$ latent, a
# downsampling factor $f = 8$, and then run diffusion on the latents. The decoder turns the
# final latent into pixels once.

# %%
pixels = 512 * 512 * 3
latents = 64 * 64 * 4
print(f"image:  512 x 512 x 3 = {pixels:,} numbers")
print(f"latent:  64 x  64 x 4 = {latents:,} numbers")
print(f"compression: {pixels / latents:.0f}x fewer numbers, {(512 * 512) / (64 * 64):.0f}x fewer"
      " positions per conv layer")
print(f"our digit VAE: {16 * 16} pixels -> {latent_dim} numbers, {16 * 16 / latent_dim:.0f}x")
assert pixels / latents == 48

# %% [markdown] slideshow={"slide_type": "notes"}
# The autoencoder removes imperceptible detail that a pixel-space diffusion model would
# spend most of its capacity on, and the diffusion model spends its steps on what the image
# is about. A mild KL term keeps the latent space smooth and well scaled without forcing the
# blurriness that a strongly regularised VAE like ours shows.

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "slide"}
# ## Part 2: a tiny CLIP
#
# CLIP (Radford et al. 2021) trains an image and a text encoder together, so that matching
# pairs land close. Logits $L_{ij} = u_i \cdot v_j / \tau$: unit embeddings, learnt
# temperature $\tau$. **Symmetric InfoNCE** (van den Oord et al. 2018): each image picks its
# caption among $N$, each caption its image:
#
# $$\mathcal L = \frac{1}{2N}\sum_{i=1}^N\Big[-\log \frac{e^{L_{ii}}}{\sum_j e^{L_{ij}}} - \log \frac{e^{L_{ii}}}{\sum_j e^{L_{ji}}}\Big]$$

# %% [markdown] slideshow={"slide_type": "notes"}
# ## Part 2: a tiny CLIP
#
# CLIP (Radford et al. 2021) trains an image encoder and a text encoder together, on pairs
# of images and their captions, so that matching pairs land close in one embedding space.
# For a batch of $N$ pairs, with unit-length image embeddings $u_i$ and text embeddings
# $v_j$, the logits are scaled cosine similarities $L_{ij} = u_i \cdot v_j / \tau$ with a
# learnt temperature $\tau$. The **symmetric InfoNCE** loss (van den Oord et al. 2018) asks
# each image to pick out its own caption among the $N$, and each caption its own image:
#
# $$\mathcal L = \frac{1}{2N}\sum_{i=1}^N\Big[-\log \frac{e^{L_{ii}}}{\sum_j e^{L_{ij}}} - \log \frac{e^{L_{ii}}}{\sum_j e^{L_{ji}}}\Big].$$
#
# These are two ordinary cross-entropies with target "the diagonal": one over each row
# (which caption goes with image $i$?), one over each column (which image goes with caption $j$?).

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### InfoNCE in code: two cross-entropies whose target is the diagonal

# %%
def symmetric_info_nce(logits: torch.Tensor) -> torch.Tensor:
    """(N, N) logits with the matching pairs on the diagonal -> scalar loss >= 0 (Radford et al.
    2021, figure 3)."""
    # (N,) log-softmax of each row at its diagonal
    image_to_caption = logits.diag() - logits.logsumexp(dim=1)
    caption_to_image = logits.diag() - logits.logsumexp(dim=0)  # (N,) the same down each column
    return -(image_to_caption.mean() + caption_to_image.mean()) / 2

logits = torch.tensor([[3.0, 0.5, -1.0], [0.2, 2.0, 0.1], [1.0, 0.0, 1.5]])  # 3 images x 3 captions
print(f"symmetric InfoNCE {symmetric_info_nce(logits).item():.5f}, course_lib clip_loss"
      f" {clip_loss(logits).item():.5f}")
print("equal logits (no idea which caption fits) give log N ="
      f" {symmetric_info_nce(torch.zeros(3, 3)).item():.5f}")

# %% slideshow={"slide_type": "skip"}
random_logits = torch.randn(16, 16, generator=torch.Generator().manual_seed(4)) * 5
assert torch.allclose(symmetric_info_nce(random_logits), clip_loss(random_logits))
assert torch.allclose(symmetric_info_nce(logits), clip_loss(logits))
assert math.isclose(symmetric_info_nce(torch.zeros(3, 3)).item(), math.log(3), rel_tol=1e-6)

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "slide"}
# ## Sprites and their captions
#
# - shape, colour and facing, in words: $4 \times 4 \times 2 = 32$ possible captions
# - **zero-shot** test: 8 of the 32 combinations are held out from training entirely
# - each held-out caption is a new sentence, but each of its pairs of attributes appears in
#   some training caption: only the combination is new

# %% [markdown] slideshow={"slide_type": "notes"}
# ## Sprites and their captions
#
# Every sprite has a shape, a colour and a facing, and `caption` writes them in words:
# $4 \times 4 \times 2 = 32$ possible captions. To test **zero-shot** generalisation we
# hold out 8 of the 32 combinations from training entirely. Each held-out caption is a new
# sentence, but each of its pairs of attributes (say "red circle", or "red ... facing left")
# appears in some training caption; only the combination is new.

# %%
def held_out(labels: dict[str, torch.Tensor]) -> torch.Tensor:
    """True for the 8 held-out combinations: shape + colour = 0 (mod 4) facing left, = 2 (mod 4)
    facing right."""
    pair = (labels["shape"] + labels["colour"]) % 4
    left = labels["facing"] == FACINGS.index("left")
    return ((pair == 0) & left) | ((pair == 2) & ~left)


# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### The vocabulary, and the 8 held-out captions

# %%
all_captions = [caption(attributes_to_context(shape=s, colour=c, facing=f))
                for s in SHAPES
                for c in COLOURS
                for f in FACINGS]
assert len(set(all_captions)) == 4 * 4 * 2 == 32
caption_index = {text: i for i, text in enumerate(all_captions)}
vocab = Vocabulary.from_captions(all_captions)

sprites = make_sprites(fast_or_full(3000, 20000), size=16, seed=1)
train_mask = ~held_out(sprites.labels)
train_captions = [caption(row) for row in sprites.attributes[train_mask]]
held_out_captions = sorted(set(all_captions) - set(train_captions))
print(f"vocabulary ({len(vocab) - 1} words + padding): {vocab.words[1:]}")
print(f"{int(train_mask.sum())} training pairs, {len(set(train_captions))} distinct captions; held"
      " out:")
for text in held_out_captions:
    print("  ", text)
assert len(held_out_captions) == 8 and len(set(train_captions)) == 24

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Training the tiny CLIP
#
# The image encoder is the course's small CNN (three conv blocks, global average pooling,
# two linear layers); the text encoder embeds each word, adds a position embedding, runs one
# transformer layer and averages over the words. Both end in a 32-dimensional space.

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### Training the tiny CLIP: why the loss stays above zero

# %%
seed_everything(0)
clip = TinyCLIP(vocab_size=len(vocab), embed_dim=32, width=32)
clip_losses = train_clip(clip, sprites.images[train_mask], vocab.encode(train_captions),
                         steps=fast_or_full(200, 2000), batch_size=64, seed=0, device=device)
fig, ax = plt.subplots(figsize=(9.5, 3.2), layout="constrained")  # wide: it reads on a slide too
plot_losses(clip_losses, smooth=20, ax=ax, title="Tiny CLIP: symmetric InfoNCE loss")
plt.show()
print(f"learnt temperature tau = {1 / clip.logit_scale().item():.4f}")

# %% [markdown] slideshow={"slide_type": "notes"}
# The loss does not go to zero, and cannot: a batch of 64 pairs drawn from 24 captions
# holds several sprites with the same caption, and InfoNCE asks each image to prefer its own
# copy of the caption over identical copies. Real CLIP batches have the same problem, more
# mildly.

# %% [markdown] tags=["slides-only"]
# A batch of 64 pairs from 24 captions holds several sprites with the same caption, and
# InfoNCE asks each image to prefer its own copy of it.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Zero-shot classification
#
# To classify, embed every candidate caption once, and give each image the caption with
# the most similar embedding. No classifier was trained; the "classes" are just sentences.
# We test on new sprites and choose among all 32 captions, so chance is $1/32$.

# %%
test_sprites = make_sprites(fast_or_full(1000, 4000), size=16, seed=2)
truth = torch.tensor([caption_index[caption(row)] for row in test_sprites.attributes])
prediction = zero_shot_classify(clip, test_sprites.images, vocab.encode(all_captions))
correct = (prediction == truth).float()
unseen = held_out(test_sprites.labels)
chance = 1 / len(all_captions)
print(f"zero-shot accuracy among {len(all_captions)} captions (chance {chance:.3f}):")
print(f"  captions seen in training:   {correct[~unseen].mean().item():.3f} on "
      f"{int((~unseen).sum())} sprites")
print(f"  captions never seen:         {correct[unseen].mean().item():.3f} on {int(unseen.sum())}"
      " sprites")
assert correct[unseen].mean() > 5 * chance

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### Captions it never saw, on sprites it never saw
#
# It never saw, say, "a red circle facing left", yet places that sentence next to red circles
# facing left: prompts describe combinations that no training caption contained.

# %%
examples = unseen.nonzero().squeeze(1)[:8]
fig, axes = plt.subplots(2, 4, figsize=(9.5, 4.6), layout="constrained")
for ax, i in zip(axes.flat, examples.tolist()):
    ax.imshow((test_sprites.images[i].permute(1, 2, 0) + 1) / 2, interpolation="nearest")
    right = prediction[i] == truth[i]
    ax.set_title(all_captions[prediction[i]].replace(" facing", "\nfacing"), fontsize=14,
                 color="darkgreen" if right else "darkred")
    ax.set(xticks=[], yticks=[])
fig.suptitle("held-out combinations: CLIP's caption (green = right, red = wrong)", fontsize=14)
plt.show()

# %% [markdown] slideshow={"slide_type": "notes"}
# The model never saw, say, "a red circle facing left", yet it places the embedding of
# that new sentence close to the embeddings of red circles facing left. This is the
# property diffusion models rely on when a CLIP text encoder conditions them: prompts
# describe combinations that no training caption contained.

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "slide"}
# ### Exercise 1: write it yourself, CLIP's training loss
#
# Write `clip_training_loss` from the two encoders' raw outputs (Radford et al. 2021, figure 3):
#
# - normalise both feature matrices to unit rows
# - logits: cosine similarities times the logit scale $1/\tau$
# - average the cross-entropies of the rows and of the columns, whose targets are "the diagonal"

# %% [markdown] slideshow={"slide_type": "notes"}
# ### Exercise 1: write it yourself, CLIP's training loss
#
# Radford et al. (2021, figure 3) give CLIP's loss as a few lines of pseudocode that start
# from the two encoders' raw outputs. Write `clip_training_loss`: normalise both feature
# matrices to unit rows, form the logits (cosine similarities times the logit scale
# $1/\tau$), and average the cross-entropies of the rows and of the columns, whose targets
# are "the diagonal". The check cell compares it with `clip_loss` of our trained model on a
# batch of training pairs, and names the usual mistakes.

# %%
def clip_training_loss(image_features: torch.Tensor, text_features: torch.Tensor,
                       logit_scale: torch.Tensor) -> torch.Tensor:
    """Raw features (N, D) of N matching images and captions, scale 1/tau -> symmetric InfoNCE, a
    scalar."""
    raise NotImplementedError  # your code here


# %% slideshow={"slide_type": "subslide"}
pairs = train_mask.nonzero().squeeze(1)[:64]  # 64 training pairs
with torch.no_grad():
    pair_images = sprites.images[pairs].to(device)
    pair_tokens = vocab.encode(train_captions[:64]).to(device)
    image_features = clip.image_encoder(pair_images)  # (64, 32), not yet unit length
    text_features = clip.text_encoder(pair_tokens)  # (64, 32)
    scale = clip.logit_scale()  # 1 / tau
    expected = clip_loss(clip(pair_images, pair_tokens))
    unit_images, unit_texts = F.normalize(image_features, dim=1), F.normalize(text_features, dim=1)
    rows_only = F.cross_entropy(scale * unit_images @ unit_texts.T, torch.arange(64, device=device))
    not_normalised = clip_loss(scale * image_features @ text_features.T)
    likely_mistakes = {
        "one direction only (the rows: images to captions)": rows_only,
        "the loss without the temperature (logit scale 1)": clip_loss(unit_images @ unit_texts.T),
        "the loss of features that were not normalised": not_normalised,
    }
check(lambda: clip_training_loss(image_features, text_features, scale), expected,
      name="clip_training_loss", mistakes=likely_mistakes)

# %% tags=["solution"]
def clip_training_loss(image_features: torch.Tensor, text_features: torch.Tensor,
                       logit_scale: torch.Tensor) -> torch.Tensor:
    """Raw features (N, D) of N matching images and captions, scale 1/tau -> symmetric InfoNCE, a
    scalar."""
    # unit rows
    images, texts = F.normalize(image_features, dim=1), F.normalize(text_features, dim=1)
    logits = logit_scale * images @ texts.T  # (N, N): cosine similarity / tau
    targets = torch.arange(len(logits), device=logits.device)  # image i goes with caption i
    return (F.cross_entropy(logits, targets) + F.cross_entropy(logits.T, targets)) / 2

with torch.no_grad():
    assert check(lambda: clip_training_loss(image_features, text_features, scale), expected,
                 name="clip_training_loss")

# %% [markdown] slideshow={"slide_type": "slide"}
# ### Exercise 2: how much does the code know about the digit?
#
# The VAE was never told which digit it saw. Compute the mean code $\mu$ of each digit
# class on the *training* digits, then label every held-out digit with the class whose mean
# code is nearest to its own $\mu$. What accuracy do you get, against a chance level of
# $1/10$? What does that say about what the 8 numbers store?

# %%
# Your nearest-class-mean classifier here.

# %% tags=["solution"]
train_images, train_labels = train_digits.tensors
with torch.no_grad():
    train_mu, _ = vae.encode(train_images.to(device))
# (10, latent_dim)
class_means = torch.stack([train_mu[train_labels.to(device) == k].mean(0) for k in range(10)])
nearest_class = torch.cdist(vae_mu, class_means).argmin(dim=1).cpu()
accuracy = (nearest_class == test_labels).float().mean().item()
print(f"nearest-class-mean accuracy on held-out digits: {accuracy:.3f} (chance 0.100)")
assert accuracy > 5 * 0.1

# %% [markdown]
# <details class="solution"><summary>Solution</summary>
#
# Far above chance (the accuracy is printed above): without ever seeing a label, the VAE
# arranges its codes so that digits of one class sit together. Digit identity is the
# largest source of variation between the images, so a code that must reconstruct them
# keeps it. (The rest of the code stores style: slant, thickness, size.)
#
# </details>

# %% [markdown] slideshow={"slide_type": "slide"}
# ### Exercise 3: zero-shot colour recognition with prompt ensembling
#
# CLIP's authors classified images with several prompts per class and averaged their
# text embeddings ("prompt ensembling"). Build one text embedding per colour by averaging
# (then renormalising) the embeddings of all 8 captions with that colour, and classify the
# colour of every test sprite. Report the accuracy against chance ($1/4$), separately for
# sprites with seen and with held-out captions.

# %%
# Your colour classifier here.

# %% tags=["solution"]
with torch.no_grad():
    text = clip.encode_text(vocab.encode(all_captions).to(device))  # (32, D), unit length
    colour_of_caption = torch.tensor(
        [COLOURS.index(sentence.split()[1]) for sentence in all_captions], device=device
    )
    colour_embeddings = F.normalize(
        torch.stack([text[colour_of_caption == k].mean(0) for k in range(len(COLOURS))]), dim=1
    )
    image_embeddings = clip.encode_image(test_sprites.images.to(device))
colour_prediction = (image_embeddings @ colour_embeddings.T).argmax(dim=1).cpu()
colour_correct = (colour_prediction == test_sprites.labels["colour"]).float()
print(f"colour accuracy (chance {1 / len(COLOURS):.2f}): seen captions"
      f" {colour_correct[~unseen].mean().item():.3f}, held-out captions"
      f" {colour_correct[unseen].mean().item():.3f}")

# %% [markdown] slideshow={"slide_type": "slide"}
# ### Exercise 4: when the held-out combination is too new
#
# Our held-out captions only combine pairs that training had seen. Make the task harder:
# hold out *every* red circle (both facings) and every green square, train a new tiny CLIP
# with the same budget, and measure its zero-shot accuracy on red circles and green squares.
# Look at which captions it picks instead. Why does it fail?

# %%
# Your experiment here.

# %% tags=["solution"]
def unseen_pair(labels: dict[str, torch.Tensor]) -> torch.Tensor:
    red_circle = (labels["colour"] == COLOURS.index("red")) & (
        labels["shape"] == SHAPES.index("circle")
    )
    green_square = (labels["colour"] == COLOURS.index("green")) & (
        labels["shape"] == SHAPES.index("square")
    )
    return red_circle | green_square


# %% tags=["solution"]
keep = ~unseen_pair(sprites.labels)
seed_everything(0)
clip_pairs = TinyCLIP(vocab_size=len(vocab), embed_dim=32, width=32)
train_clip(clip_pairs, sprites.images[keep],
           vocab.encode([caption(row) for row in sprites.attributes[keep]]),
           steps=fast_or_full(200, 2000), batch_size=64, seed=0, device=device, progress=False)
new_pair = unseen_pair(test_sprites.labels)
guess = zero_shot_classify(clip_pairs, test_sprites.images[new_pair], vocab.encode(all_captions))
print("accuracy on red circles and green squares:"
      f" {(guess == truth[new_pair]).float().mean().item():.3f} (chance {chance:.3f})")
guessed_words = [all_captions[g].split() for g in guess.tolist()]
true_words = [all_captions[t].split() for t in truth[new_pair].tolist()]
share_right = {}
for position, name in [(1, "colour"), (2, "shape"), (4, "facing")]:
    share_right[name] = sum(
        g[position] == t[position] for g, t in zip(guessed_words, true_words)
    ) / len(true_words)
    print(f"  {name} right in {share_right[name]:.0%} of them")
assert min(share_right["colour"], share_right["facing"]) > 0.8 > 0.5 > share_right["shape"]

# %% [markdown]
# <details class="solution"><summary>Solution</summary>
#
# Colour and facing are still read correctly, but the shape mostly is not (the shares are
# printed above). In training, a red sprite was never a circle, so "red" became evidence
# for "not a circle": the image encoder could lean on colour as a shortcut instead of
# learning circle-ness independently of colour. Compositional generalisation needs training
# data in which attributes vary independently enough; large CLIP models get it,
# imperfectly, from hundreds of millions of varied captions.
#
# </details>

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "slide"}
# ## Summary
#
# - an autoencoder compresses digits well, but its random codes decode to poor images
# - a VAE maximises the ELBO by minimising squared error plus $\beta$ times a closed-form KL,
#   trained through $z = \mu + \sigma \odot \varepsilon$; its samples and interpolations work
# - latent diffusion: 48 times fewer numbers at $512 \times 512$
# - CLIP's symmetric InfoNCE aligns images and captions; its text encoder handles unseen captions

# %% [markdown] slideshow={"slide_type": "notes"}
# ## Summary
#
# - An autoencoder compresses digits well, but its codes have no known distribution, so
#   random codes decode to poor images.
# - A VAE maximises the ELBO: reconstruction minus the KL from each posterior to
#   $\mathcal N(0, I)$. With a Gaussian decoder this is squared error plus $\beta$ times a
#   closed-form KL; the reparameterisation trick, $z = \mu + \sigma \odot \varepsilon$, makes
#   it trainable by backpropagation. Each is a line or two of code, equal to the library's.
# - Decoding prior samples and interpolating codes works with the VAE, not the autoencoder.
# - Latent diffusion runs the expensive diffusion in a compressed space: 48 times fewer
#   numbers for Stable Diffusion's $512 \times 512$ images.
# - CLIP aligns images and captions with the symmetric InfoNCE loss, two cross-entropies
#   over one matrix of scaled cosine similarities; its text encoder
#   generalises to captions never seen in training, which is what lets text steer a
#   diffusion model.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## References
#
# - Kingma, D. P. & Welling, M. (2013). *Auto-encoding variational Bayes.* [arXiv:1312.6114](https://arxiv.org/abs/1312.6114)
# - Kingma, D. P. & Welling, M. (2019). *An introduction to variational autoencoders.* [arXiv:1906.02691](https://arxiv.org/abs/1906.02691)
# - Radford, A. et al. (2021). *Learning transferable visual models from natural language supervision.* ICML. [arXiv:2103.00020](https://arxiv.org/abs/2103.00020)
# - Rezende, D. J., Mohamed, S. & Wierstra, D. (2014). *Stochastic backpropagation and approximate inference in deep generative models.* ICML. [arXiv:1401.4082](https://arxiv.org/abs/1401.4082)
# - Rombach, R., Blattmann, A., Lorenz, D., Esser, P. & Ommer, B. (2022). *High-resolution image synthesis with latent diffusion models.* CVPR. [arXiv:2112.10752](https://arxiv.org/abs/2112.10752)
# - van den Oord, A., Li, Y. & Vinyals, O. (2018). *Representation learning with contrastive predictive coding.* [arXiv:1807.03748](https://arxiv.org/abs/1807.03748)
