"""Noise schedules and the forward process q(x_t | x_0).

A schedule is the sequence beta_1..beta_T of per-step noise variances. Everything else
follows from it (Ho et al. 2020, section 2):

    alpha_t     = 1 - beta_t
    alpha_bar_t = prod_{s<=t} alpha_s
    q(x_t | x_0) = N(sqrt(alpha_bar_t) x_0, (1 - alpha_bar_t) I)        (Ho et al. 2020, eq. 4)

Timesteps are 0-based, as in diffusers: ``t`` runs over 0..T-1 and ``betas[t]`` is the
paper's beta_{t+1}.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from .validation import check_int, check_number, check_tensor


class NoiseSchedule:
    """Betas, alphas and alpha-bars of a discrete diffusion process, all float32 of shape (T,).

    Build one with :meth:`linear` or :meth:`cosine`, or pass any betas in (0, 1).
    """

    def __init__(self, betas: Tensor) -> None:
        try:
            betas = torch.as_tensor(betas, dtype=torch.float32)
        except (TypeError, ValueError, RuntimeError) as e:
            raise ValueError(f"betas must be a 1-D tensor of numbers in (0, 1); got {betas!r:.80}") from e
        if betas.ndim != 1 or betas.numel() < 1:
            raise ValueError(f"betas must be a non-empty 1-D tensor; got shape {tuple(betas.shape)}")
        if not torch.isfinite(betas).all() or (betas <= 0).any() or (betas >= 1).any():
            raise ValueError("betas must all lie in the open interval (0, 1)")
        self.betas = betas
        self.alphas = 1.0 - betas
        self.alphas_cumprod = torch.cumprod(self.alphas, dim=0)

    @property
    def num_timesteps(self) -> int:
        """T, the number of diffusion steps."""
        return self.betas.numel()

    @classmethod
    def linear(cls, num_timesteps: int = 1000, beta_start: float = 1e-4, beta_end: float = 0.02) -> NoiseSchedule:
        """Betas evenly spaced from ``beta_start`` to ``beta_end`` (Ho et al. 2020, section 4)."""
        num_timesteps = check_int("num_timesteps", num_timesteps)
        beta_start = check_number("beta_start", beta_start, 0, 1, low_open=True, high_open=True)
        beta_end = check_number("beta_end", beta_end, 0, 1, low_open=True, high_open=True)
        if not beta_start <= beta_end:
            raise ValueError(
                f"need 0 < beta_start <= beta_end < 1; got beta_start={beta_start}, beta_end={beta_end}"
            )
        return cls(torch.linspace(beta_start, beta_end, num_timesteps, dtype=torch.float32))

    @classmethod
    def cosine(cls, num_timesteps: int = 1000, s: float = 0.008, max_beta: float = 0.999) -> NoiseSchedule:
        """The cosine schedule of Nichol & Dhariwal 2021, eq. 17.

        alpha_bar(t) = cos^2(((t/T + s) / (1 + s)) * pi/2), and beta_t = 1 - alpha_bar(t)/alpha_bar(t-1),
        capped at ``max_beta`` to avoid a singularity at t = T (their section 3.2).
        """
        num_timesteps = check_int("num_timesteps", num_timesteps)
        s = check_number("s", s, 0)
        max_beta = check_number("max_beta", max_beta, 0, 1, low_open=True, high_open=True)

        def alpha_bar(u: float) -> float:
            return math.cos((u + s) / (1 + s) * math.pi / 2) ** 2

        betas = [
            min(1 - alpha_bar((i + 1) / num_timesteps) / alpha_bar(i / num_timesteps), max_beta)
            for i in range(num_timesteps)
        ]
        return cls(torch.tensor(betas, dtype=torch.float32))

    def add_noise(self, original_samples: Tensor, noise: Tensor, timesteps: Tensor) -> Tensor:
        """Draw x_t ~ q(x_t | x_0) given the noise: sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) noise.

        Args:
            original_samples: x_0, shape (N, ...), any float dtype (integer images are refused:
                scale them to floats in [-1, 1] first).
            noise: epsilon ~ N(0, I), a float tensor of the same shape as ``original_samples``.
            timesteps: integer tensor of shape (N,) with values in [0, T-1].

        Returns:
            x_t with the shape and dtype of ``original_samples``. Same name and argument order
            as diffusers' ``DDPMScheduler.add_noise``.
        """
        check_tensor("original_samples", original_samples, floating=True)
        check_tensor("noise", noise, floating=True)
        if noise.shape != original_samples.shape:
            raise ValueError(
                f"noise must have the shape of original_samples {tuple(original_samples.shape)}; "
                f"got {tuple(noise.shape)}"
            )
        coef_x0, coef_noise = self._coefficients(timesteps, original_samples)
        # Ho et al. 2020, eq. 4: the noise scale is the standard deviation sqrt(1 - alpha_bar),
        # not the variance (1 - alpha_bar). The result keeps the dtype of original_samples.
        return (coef_x0 * original_samples + coef_noise * noise.to(original_samples.dtype)).to(original_samples.dtype)

    def _coefficients(self, timesteps: Tensor, like: Tensor) -> tuple[Tensor, Tensor]:
        """sqrt(alpha_bar_t) and sqrt(1 - alpha_bar_t) shaped (N, 1, ..., 1) to broadcast against ``like``."""
        timesteps = self.check_timesteps(timesteps, batch_size=like.shape[0])
        alpha_bar = self.alphas_cumprod.to(like.device)[timesteps.to(like.device)]
        shape = (-1,) + (1,) * (like.ndim - 1)
        return alpha_bar.sqrt().reshape(shape).to(like.dtype), (1 - alpha_bar).sqrt().reshape(shape).to(like.dtype)

    def check_timesteps(self, timesteps: Tensor | int, batch_size: int | None = None) -> Tensor:
        """Return ``timesteps`` as a long tensor after checking dtype, shape and range [0, T-1]."""
        timesteps = torch.as_tensor(timesteps)
        if timesteps.dtype.is_floating_point or timesteps.dtype == torch.bool:
            raise TypeError(f"timesteps must be an integer tensor; got dtype {timesteps.dtype}")
        if batch_size is not None and timesteps.shape != (batch_size,):
            raise ValueError(f"timesteps must have shape ({batch_size},), one per sample; got {tuple(timesteps.shape)}")
        if timesteps.numel() and (timesteps.min() < 0 or timesteps.max() >= self.num_timesteps):
            raise ValueError(
                f"timesteps must lie in [0, {self.num_timesteps - 1}]; "
                f"got values from {int(timesteps.min())} to {int(timesteps.max())}"
            )
        return timesteps.long()

    def __repr__(self) -> str:
        return (
            f"NoiseSchedule(T={self.num_timesteps}, beta from {self.betas[0].item():.2e} "
            f"to {self.betas[-1].item():.2e}, alpha_bar_T={self.alphas_cumprod[-1].item():.2e})"
        )

