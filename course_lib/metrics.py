"""Measures of generated samples: confidence, diversity, FID, nearest-neighbour distance and near-copies.

All functions take tensors on any device and return Python floats or CPU tensors.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy import linalg
from torch import Tensor

from .validation import check_number


def frechet_distance(features_a: Tensor, features_b: Tensor) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets (Heusel et al. 2017, eq. 6).

    d^2 = |mu_a - mu_b|^2 + Tr(C_a + C_b - 2 (C_a C_b)^{1/2}). With classifier features in
    place of Inception features this is the course's FID.

    Args:
        features_a, features_b: (N_a, D) and (N_b, D), each with N > 1.
    """
    a = _as_feature_matrix(features_a, "features_a")
    b = _as_feature_matrix(features_b, "features_b")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"features_a and features_b must have the same width; got {a.shape[1]} and {b.shape[1]}")
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = linalg.sqrtm(cov_a @ cov_b)
    if not np.isfinite(covmean).all():
        # Nearly singular product: regularise both covariances a little (as the reference FID code does).
        eps = 1e-6 * np.eye(cov_a.shape[0])
        covmean = linalg.sqrtm((cov_a + eps) @ (cov_b + eps))
    covmean = covmean.real
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a) + np.trace(cov_b) - 2 * np.trace(covmean))


def confident_fraction(probs: Tensor, threshold: float = 0.9) -> float:
    """Fraction of images whose top class probability exceeds ``threshold``; probs (N, K) rows summing to 1."""
    _check_probs(probs)
    check_number("threshold", threshold, 0, 1, low_open=True, high_open=True)
    return (probs.max(dim=1).values > threshold).float().mean().item()


def class_entropy(probs: Tensor) -> float:
    """Entropy (in nats) of the histogram of predicted classes; log(K) when all K classes are equally frequent."""
    _check_probs(probs)
    counts = torch.bincount(probs.argmax(dim=1), minlength=probs.shape[1]).double()
    p = counts / counts.sum()
    p = p[p > 0]
    return float(-(p * p.log()).sum())


def nearest_neighbour_distance(samples: Tensor, reference: Tensor) -> tuple[Tensor, Tensor]:
    """For each sample, the root-mean-square pixel distance to its nearest reference image and that image's index.

    Args:
        samples: (N, ...) images; reference: (M, ...) images of the same per-image shape.

    Returns:
        distances (N,) float32 and indices (N,) int64, on the CPU.
    """
    if samples.shape[1:] != reference.shape[1:]:
        raise ValueError(
            f"samples and reference must have the same per-image shape; got {tuple(samples.shape[1:])} "
            f"and {tuple(reference.shape[1:])}"
        )
    a = samples.detach().flatten(1).double().cpu()
    b = reference.detach().flatten(1).double().cpu()
    distances = torch.cdist(a, b)
    best, index = distances.min(dim=1)
    return (best / a.shape[1] ** 0.5).float(), index


NEAR_COPY_DISTANCE = 0.08
"""The RMS pixel distance (images in [-1, 1]) below which a sample counts as a near-copy of a training
image. None of the 360 held-out 16x16 digits comes that close to the 1,437 training digits (the
closest is at 0.092), so a generator that copies no more than new real data would show none."""


def near_copy_fraction(distances: Tensor, threshold: float = NEAR_COPY_DISTANCE) -> float:
    """Share of samples closer than ``threshold`` to their nearest training image, in [0, 1].

    Args:
        distances: (N,) nearest-neighbour distances, the first output of :func:`nearest_neighbour_distance`.
        threshold: the near-copy distance, > 0 (default :data:`NEAR_COPY_DISTANCE`).
    """
    if distances.ndim != 1 or len(distances) == 0:
        raise ValueError(f"distances must have shape (N,) with N >= 1; got {tuple(distances.shape)}")
    check_number("threshold", threshold, 0, low_open=True)
    return (distances < threshold).float().mean().item()


def energy_distance(x: Tensor, y: Tensor) -> float:
    """Energy distance between two point sets (Székely & Rizzo 2013): 2 E|X-Y| - E|X-X'| - E|Y-Y'|.

    Zero exactly when the two distributions are equal (in the limit of many samples); used to
    compare, say, Langevin samples of a 2-D mixture with exact samples. Args: (N, D) and (M, D).
    """
    if x.ndim != 2 or y.ndim != 2 or x.shape[1] != y.shape[1]:
        raise ValueError(f"x and y must have shapes (N, D) and (M, D); got {tuple(x.shape)} and {tuple(y.shape)}")
    x, y = x.detach().double().cpu(), y.detach().double().cpu()
    return float(2 * torch.cdist(x, y).mean() - torch.cdist(x, x).mean() - torch.cdist(y, y).mean())


def _as_feature_matrix(features: Tensor, name: str) -> np.ndarray:
    if features.ndim != 2 or features.shape[0] < 2:
        raise ValueError(f"{name} must have shape (N, D) with N >= 2; got {tuple(features.shape)}")
    return features.detach().cpu().double().numpy()


def _check_probs(probs: Tensor) -> None:
    if probs.ndim != 2:
        raise ValueError(f"probs must have shape (N, K); got {tuple(probs.shape)}")
    if not torch.allclose(probs.sum(dim=1), torch.ones(probs.shape[0], dtype=probs.dtype), atol=1e-4):
        raise ValueError("probs must be probabilities: each row must sum to 1 (apply softmax to logits first)")
