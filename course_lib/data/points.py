"""Two-dimensional toy distributions: two moons, a Swiss roll and Gaussian mixtures.

The moons and the roll are shifted and scaled by fixed constants (not by the sample's own
statistics) to zero mean and a variance of about 1, so one noise schedule suits both and
point i does not depend on how many points are drawn. The Gaussian mixture has a
closed-form density and score, the reference that learned scores are checked against.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ..validation import check_int, check_number, check_seed

# Noise-free moons: x has mean 0.5 and variance 0.75, y has mean 0.25 and variance 0.244;
# one common scale keeps their shape and makes the variance averaged over the axes about 1.
_MOONS_CENTRE = (0.5, 0.25)
_MOONS_SCALE = 0.705
# Noise-free roll (t cos t, t sin t), t uniform on [1.5 pi, 4.5 pi]: mean (2, 2/(3 pi)) and
# E|x - mean|^2 = E[t^2] - |mean|^2 = 92.1, so about 6.8 per axis.
_ROLL_CENTRE = (2.0, 2.0 / (3.0 * math.pi))
_ROLL_SCALE = 6.8


def _check_points_args(n: int, noise: float, seed: int) -> None:
    check_int("n", n)
    check_number("noise", noise, 0)  # a standard deviation
    check_seed("seed", seed)


def make_moons(n: int, noise: float = 0.05, seed: int = 0) -> Tensor:
    """Two interleaving half circles, float32 (n, 2), mean about 0, variance about 1.5 along x and 0.5 along y.

    ``noise`` is the standard deviation of the Gaussian noise on each coordinate, in the
    units of the returned points.
    """
    from sklearn.datasets import make_moons as sklearn_moons  # slow to import; only here

    _check_points_args(n, noise, seed)
    points, _ = sklearn_moons(n_samples=n, noise=noise * _MOONS_SCALE, random_state=seed)
    return ((torch.from_numpy(points) - torch.tensor(_MOONS_CENTRE, dtype=torch.float64)) / _MOONS_SCALE).float()


def make_swiss_roll(n: int, noise: float = 0.05, seed: int = 0) -> Tensor:
    """A 2-D Swiss roll (a spiral), float32 (n, 2), mean about 0 and variance about 1 per axis.

    scikit-learn's 3-D roll seen along its axis: the points (t cos t, t sin t). ``noise``
    is the standard deviation of the Gaussian noise on each coordinate, in returned units.
    """
    from sklearn.datasets import make_swiss_roll as sklearn_roll  # slow to import; only here

    _check_points_args(n, noise, seed)
    points, _ = sklearn_roll(n_samples=n, noise=noise * _ROLL_SCALE, random_state=seed)
    centred = torch.from_numpy(points[:, [0, 2]]) - torch.tensor(_ROLL_CENTRE, dtype=torch.float64)
    return (centred / _ROLL_SCALE).float()


class GaussianMixture:
    """p(x) = sum_k w_k N(x; mu_k, sigma_k^2 I) in D dimensions, with exact log density and score.

    Args:
        means: (K, D) component means mu_k.
        stds: (K,) positive standard deviations sigma_k (each component is isotropic).
        weights: (K,) non-negative mixing weights w_k summing to 1; uniform if None.
    """

    def __init__(self, means: Tensor, stds: Tensor, weights: Tensor | None = None) -> None:
        means = torch.as_tensor(means, dtype=torch.float32)
        stds = torch.as_tensor(stds, dtype=torch.float32)
        if means.ndim != 2 or means.shape[0] < 1:
            raise ValueError(f"means must have shape (K, D) with K >= 1; got {tuple(means.shape)}")
        k = means.shape[0]
        weights = torch.full((k,), 1.0 / k) if weights is None else torch.as_tensor(weights, dtype=torch.float32)
        if stds.shape != (k,) or not (stds > 0).all():
            raise ValueError(f"stds must be {k} positive numbers, shape ({k},); got {stds.tolist()}")
        if weights.shape != (k,) or (weights < 0).any() or abs(weights.sum().item() - 1.0) > 1e-5:
            raise ValueError(f"weights must be {k} non-negative numbers summing to 1; got {weights.tolist()}")
        self.means, self.stds, self.weights = means, stds, weights

    @classmethod
    def ring(cls, k: int = 8, radius: float = 1.4, std: float = 0.15) -> GaussianMixture:
        """The course's standard mixture: ``k`` equal components evenly spaced on a circle.

        With the defaults the variance per axis is radius^2 / 2 + std^2, about 1, and
        neighbouring modes are 7 standard deviations apart.
        """
        check_int("k", k)
        check_number("radius", radius, 0)
        check_number("std", std, 0, low_open=True)
        angles = 2 * math.pi * torch.arange(k) / k
        means = radius * torch.stack([torch.cos(angles), torch.sin(angles)], dim=1)
        return cls(means, torch.full((k,), float(std)))

    @property
    def dim(self) -> int:
        """D, the dimension of the points."""
        return self.means.shape[1]

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """n points, float32 (n, D): pick component k with probability w_k, then mu_k + sigma_k z."""
        check_int("n", n)
        component = torch.multinomial(self.weights, n, replacement=True, generator=generator)
        noise = torch.randn(n, self.dim, generator=generator)
        return self.means[component] + self.stds[component, None] * noise

    def _component_log_probs(self, x: Tensor) -> Tensor:
        """log(w_k N(x; mu_k, sigma_k^2 I)) for each point and component, (N, K)."""
        if x.ndim != 2 or x.shape[1] != self.dim:
            raise ValueError(f"x must have shape (N, {self.dim}); got {tuple(x.shape)}")
        means, stds, weights = (t.to(x.device, x.dtype) for t in (self.means, self.stds, self.weights))
        squared_distance = ((x[:, None, :] - means[None]) ** 2).sum(dim=-1)
        return (
            weights.log()
            - self.dim * (stds.log() + 0.5 * math.log(2 * math.pi))
            - squared_distance / (2 * stds**2)
        )

    def log_prob(self, x: Tensor) -> Tensor:
        """log p(x), shape (N,), for points x of shape (N, D)."""
        return torch.logsumexp(self._component_log_probs(x), dim=1)

    def score(self, x: Tensor) -> Tensor:
        """The score grad_x log p(x), shape (N, D), in closed form (no autograd).

        grad log p(x) = sum_k r_k(x) (mu_k - x) / sigma_k^2, where r_k(x) is the posterior
        probability that x came from component k (the softmax of the component log-densities).
        """
        responsibilities = torch.softmax(self._component_log_probs(x), dim=1)
        means, stds = self.means.to(x.device, x.dtype), self.stds.to(x.device, x.dtype)
        pull = (means[None] - x[:, None, :]) / stds[None, :, None] ** 2
        return (responsibilities[..., None] * pull).sum(dim=1)

    def noised(self, scale: float = 1.0, noise_std: float = 0.0) -> GaussianMixture:
        """The law of scale * x + noise_std * z for x from this mixture and z ~ N(0, I).

        It is again a mixture, with means scale * mu_k and stds sqrt(scale^2 sigma_k^2 +
        noise_std^2): the exact noised data distribution of a diffusion. For DDPM's
        q(x_t | x_0), scale = sqrt(alpha_bar_t) and noise_std = sqrt(1 - alpha_bar_t)
        (Ho et al. 2020, eq. 4).
        """
        if not noise_std >= 0:
            raise ValueError(f"noise_std must be non-negative; got {noise_std!r}")
        stds = torch.sqrt(scale**2 * self.stds**2 + noise_std**2)
        return GaussianMixture(scale * self.means, stds, self.weights)
