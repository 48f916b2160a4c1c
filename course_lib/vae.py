"""A small convolutional autoencoder / variational autoencoder for 16x16 images.

The VAE (Kingma & Welling 2013) learns an encoder q_phi(z | x) = N(mu_phi(x), diag(sigma_phi(x)^2))
and a decoder p_theta(x | z) by maximising the evidence lower bound (ELBO, their eq. 3)

    log p(x) >= E_{q(z|x)}[log p_theta(x | z)] - KL(q_phi(z | x) || p(z)),   p(z) = N(0, I).

With a Gaussian decoder of fixed variance s^2, -log p_theta(x | z) = |x - x_hat|^2 / (2 s^2) + const,
so minimising  |x - x_hat|^2 + beta * KL  is maximising the ELBO with s^2 = beta / 2 (up to a
positive factor and a constant). ``beta`` therefore trades sharp reconstructions against a
posterior that stays close to the prior.

With ``variational=False`` the same network is a plain autoencoder: z = mu(x), no noise, no KL.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset

from .training import fit
from .validation import check_int, check_number, check_seed


class VAELoss(NamedTuple):
    """Batch means of the per-image terms; ``total = reconstruction + beta * kl``."""

    total: Tensor
    reconstruction: Tensor
    kl: Tensor


def kl_divergence(mu: Tensor, logvar: Tensor) -> Tensor:
    """KL(N(mu, diag(exp(logvar))) || N(0, I)) per sample, in closed form (Kingma & Welling 2013, appendix B).

    KL = 1/2 * sum_j (mu_j^2 + sigma_j^2 - 1 - log sigma_j^2).

    Args:
        mu, logvar: (N, latent_dim), the encoder's mean and log-variance.

    Returns:
        (N,) non-negative.
    """
    _check_latent_pair(mu, logvar)
    return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).sum(dim=1)


def reparameterise(mu: Tensor, logvar: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """Draw z ~ N(mu, diag(exp(logvar))) as z = mu + sigma * eps, eps ~ N(0, I) (Kingma & Welling 2013, eq. 10).

    Writing the sample as a deterministic function of (mu, logvar) and independent noise lets
    gradients flow into mu and logvar: the reparameterisation trick.

    Args:
        mu, logvar: (N, latent_dim).
        generator: optional CPU generator for the noise eps.

    Returns:
        z, (N, latent_dim).
    """
    _check_latent_pair(mu, logvar)
    eps = torch.randn(mu.shape, generator=generator, dtype=mu.dtype).to(mu.device)
    return mu + torch.exp(0.5 * logvar) * eps


def reconstruction_loss(x: Tensor, x_hat: Tensor) -> Tensor:
    """Sum of squared pixel errors per image, averaged over the batch: mean_n |x_n - x_hat_n|^2.

    Args:
        x, x_hat: images (N, C, H, W) of the same shape.

    Returns:
        a scalar tensor.
    """
    if not isinstance(x, Tensor) or not isinstance(x_hat, Tensor):
        raise TypeError(f"x and x_hat must be tensors; got {type(x).__name__} and {type(x_hat).__name__}")
    if x.shape != x_hat.shape or x.ndim < 2:
        raise ValueError(f"x and x_hat must have the same shape (N, ...); got {tuple(x.shape)} and {tuple(x_hat.shape)}")
    return (x - x_hat).pow(2).flatten(1).sum(dim=1).mean()


def vae_loss(x: Tensor, x_hat: Tensor, mu: Tensor, logvar: Tensor, beta: float = 1.0) -> VAELoss:
    """The negative ELBO of a Gaussian-decoder VAE, up to scale and constant (see the module docstring).

    Args:
        x: data (N, C, H, W); x_hat: the decoder's mean for z ~ q(z | x), same shape.
        mu, logvar: (N, latent_dim), the encoder's output for x.
        beta: weight of the KL term, > 0 (beta = 2 s^2 for a decoder of variance s^2; beta = 1 is s^2 = 1/2).

    Returns:
        ``VAELoss(total, reconstruction, kl)``, each a scalar: batch means of
        |x - x_hat|^2, of KL(q(z|x) || p(z)), and of their sum ``reconstruction + beta * kl``.
    """
    check_number("beta", beta, 0, low_open=True)
    if mu.shape[0] != x.shape[0]:
        raise ValueError(f"mu must have one row per image in x ({x.shape[0]}); got shape {tuple(mu.shape)}")
    reconstruction = reconstruction_loss(x, x_hat)
    kl = kl_divergence(mu, logvar).mean()
    return VAELoss(reconstruction + beta * kl, reconstruction, kl)


class VAE(nn.Module):
    """Conv encoder -> (mu, logvar) -> reparameterised z -> conv decoder, for small square images.

    Encoder: 3x3 conv, then two stride-2 3x3 convs (H -> H/4), flatten, linear to 2 * latent_dim.
    Decoder: linear, then twice (nearest x2 upsampling, 3x3 conv), then a 3x3 conv and tanh.

    Args:
        in_channels: image channels (1 for digits).
        image_size: H = W of the images, a multiple of 4 (16 for the course's digits).
        latent_dim: size of z.
        base_channels: channels after the first conv (doubled after the first downsampling).
        variational: ``False`` gives a plain autoencoder (z = mu, ``logvar`` is None).

    ``forward(x)`` takes images (N, in_channels, image_size, image_size) in [-1, 1] and returns
    ``(x_hat, mu, logvar)``: the reconstruction in [-1, 1] and the encoder's (N, latent_dim) outputs.
    """

    def __init__(self, in_channels: int = 1, image_size: int = 16, latent_dim: int = 8, base_channels: int = 32,
                 variational: bool = True) -> None:
        super().__init__()
        for name, value in [("in_channels", in_channels), ("image_size", image_size), ("latent_dim", latent_dim),
                            ("base_channels", base_channels)]:
            check_int(name, value)
        if image_size % 4:
            raise ValueError(f"image_size must be a multiple of 4 (the encoder halves it twice); got {image_size}")
        self.config = dict(in_channels=in_channels, image_size=image_size, latent_dim=latent_dim,
                           base_channels=base_channels, variational=bool(variational))
        self.in_channels, self.image_size, self.latent_dim = in_channels, image_size, latent_dim
        self.variational = bool(variational)
        c1, c2 = base_channels, 2 * base_channels
        self._bottleneck = (c2, image_size // 4, image_size // 4)
        flat = c2 * (image_size // 4) ** 2
        self.encoder = nn.Sequential(
            nn.Conv2d(in_channels, c1, 3, padding=1), nn.SiLU(),
            nn.Conv2d(c1, c2, 3, stride=2, padding=1), nn.SiLU(),
            nn.Conv2d(c2, c2, 3, stride=2, padding=1), nn.SiLU(),
            nn.Flatten(),
            nn.Linear(flat, 2 * latent_dim if variational else latent_dim),
        )
        self.decoder_in = nn.Linear(latent_dim, flat)
        self.decoder = nn.Sequential(
            nn.SiLU(),
            nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(c2, c2, 3, padding=1), nn.SiLU(),
            nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(c2, c1, 3, padding=1), nn.SiLU(),
            nn.Conv2d(c1, in_channels, 3, padding=1), nn.Tanh(),
        )

    def encode(self, x: Tensor) -> tuple[Tensor, Tensor | None]:
        """Images (N, C, H, W) -> (mu, logvar), each (N, latent_dim); logvar is None for a plain autoencoder."""
        expected = (self.in_channels, self.image_size, self.image_size)
        if not isinstance(x, Tensor) or x.ndim != 4 or tuple(x.shape[1:]) != expected:
            shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
            raise ValueError(f"x must have shape (N, {', '.join(map(str, expected))}); got {shape}")
        h = self.encoder(x)
        if not self.variational:
            return h, None
        mu, logvar = h.chunk(2, dim=1)
        return mu, logvar

    def decode(self, z: Tensor) -> Tensor:
        """Latents (N, latent_dim) -> images (N, C, H, W) in [-1, 1]."""
        if not isinstance(z, Tensor) or z.ndim != 2 or z.shape[1] != self.latent_dim:
            shape = tuple(z.shape) if isinstance(z, Tensor) else type(z).__name__
            raise ValueError(f"z must have shape (N, {self.latent_dim}) (latent_dim); got {shape}")
        return self.decoder(self.decoder_in(z).view(-1, *self._bottleneck))

    def forward(self, x: Tensor, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor, Tensor | None]:
        """Encode, sample z (the mean itself for a plain autoencoder), decode: returns (x_hat, mu, logvar)."""
        mu, logvar = self.encode(x)
        z = mu if logvar is None else reparameterise(mu, logvar, generator)
        return self.decode(z), mu, logvar

    @torch.no_grad()
    def sample(self, num_samples: int, generator: torch.Generator | None = None) -> Tensor:
        """Decode z ~ N(0, I): (num_samples, C, H, W) images in [-1, 1]."""
        check_int("num_samples", num_samples)
        device = next(self.parameters()).device
        z = torch.randn(num_samples, self.latent_dim, generator=generator).to(device)
        return self.decode(z)


def train_vae(
    model: VAE,
    dataset: Dataset,
    *,
    steps: int,
    batch_size: int = 128,
    lr: float = 2e-3,
    beta: float = 1.0,
    seed: int = 0,
    device: torch.device | str = "cpu",
    progress: bool = True,
) -> list[float]:
    """Train a VAE (negative ELBO, :func:`vae_loss`) or a plain autoencoder (:func:`reconstruction_loss`).

    Args:
        model: a :class:`VAE`; ``model.variational`` picks the loss.
        dataset: yields images (C, H, W) in [-1, 1] or tuples whose first item is such an image
            (e.g. the (image, label) pairs of the digits dataset).
        steps: optimiser steps, >= 1.
        beta: KL weight of the VAE loss (ignored by a plain autoencoder).
        seed: seeds the shuffling and the reparameterisation noise.

    Returns:
        the loss of each step (per image).
    """
    generator = torch.Generator().manual_seed(check_seed("seed", seed))
    loader = DataLoader(dataset, batch_size=check_int("batch_size", batch_size), shuffle=True, generator=generator,
                        drop_last=True)

    def loss_fn(batch: Tensor | list[Tensor]) -> Tensor:
        x = (batch[0] if isinstance(batch, (list, tuple)) else batch).to(device)
        x_hat, mu, logvar = model(x, generator=generator)
        return vae_loss(x, x_hat, mu, logvar, beta).total if model.variational else reconstruction_loss(x, x_hat)

    model.to(device)
    return fit(model, loss_fn, loader, steps=steps, lr=lr, progress=progress,
               desc="vae" if model.variational else "autoencoder")


def _check_latent_pair(mu: Tensor, logvar: Tensor) -> None:
    for name, value in [("mu", mu), ("logvar", logvar)]:
        if not isinstance(value, Tensor) or not value.dtype.is_floating_point:
            raise TypeError(f"{name} must be a float tensor of shape (N, latent_dim); got {type(value).__name__}")
    if mu.ndim != 2 or mu.shape != logvar.shape:
        raise ValueError(
            f"mu and logvar must both have shape (N, latent_dim); got {tuple(mu.shape)} and {tuple(logvar.shape)}"
        )
