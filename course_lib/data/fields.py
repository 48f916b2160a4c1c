"""Gaussian random fields with a power-law power spectrum P(k) proportional to k^index.

Such maps stand in for the density of the universe or a turbulent flow: a scientist
judges a generative model of them by whether it reproduces their power spectrum.

Conventions, for square maps of ``size`` x ``size`` pixels with periodic edges:

* k is the wavenumber in cycles per map, |k| = sqrt(kx^2 + ky^2) with kx, ky integers
  in -size/2..size/2 (the frequencies of the discrete Fourier transform F).
* The power of a map f at mode k is |F_k|^2 / size^2, so white noise of unit variance
  has P(k) = 1 at every k; by Parseval, the mean of P over all modes is the map's
  mean square.
* Generated fields have P(k) = C |k|^index for k != 0 and P(0) = 0, with C chosen so
  that the mean of P over all size^2 modes is 1: every pixel is exactly N(0, 1) over
  the ensemble, and every single map has spatial mean exactly 0. (A single map's
  spatial variance scatters around 1, the more so for steep spectra, where a few large
  waves carry most of the power.)
* Radial averages are over unit-width shells round k = 1, 2, ..., size // 2.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ..validation import check_int, check_seed


def _check_size(size: int) -> None:
    check_int("size", size, 4)


def _wavenumbers(size: int) -> Tensor:
    """|k| on the size x size grid of DFT frequencies, float64 (size, size)."""
    k = torch.fft.fftfreq(size, d=1.0 / size, dtype=torch.float64)
    return torch.sqrt(k[:, None] ** 2 + k[None, :] ** 2)


def _power_law(size: int, spectral_index: float) -> Tensor:
    """P(k) = C |k|^index on the DFT grid, with P(0) = 0 and mean over all modes 1, float64 (size, size)."""
    if not math.isfinite(spectral_index):
        raise ValueError(f"spectral_index must be a finite number; got {spectral_index!r}")
    k = _wavenumbers(size)
    power = torch.where(k > 0, k.clamp(min=1.0) ** spectral_index, torch.zeros_like(k))
    return power * (size**2 / power.sum())


def _shell_average(power: Tensor, size: int) -> tuple[Tensor, Tensor]:
    """Average a (size, size) map over shells round |k| = 1..size // 2: (mean |k|, mean power), each (size // 2,)."""
    k = _wavenumbers(size).flatten()
    shell = torch.round(k).long()
    keep = (shell >= 1) & (shell <= size // 2)
    counts = torch.bincount(shell[keep], minlength=size // 2 + 1)[1:]
    k_sum = torch.bincount(shell[keep], weights=k[keep], minlength=size // 2 + 1)[1:]
    power_sum = torch.bincount(shell[keep], weights=power.flatten()[keep].double(), minlength=size // 2 + 1)[1:]
    return (k_sum / counts).float(), (power_sum / counts).float()


def gaussian_random_field(n: int, size: int = 32, spectral_index: float = -3.0, seed: int = 0) -> Tensor:
    """``n`` periodic Gaussian random fields, float32 (n, 1, size, size), each pixel N(0, 1).

    White noise is filtered in Fourier space by sqrt(P(k)) with the P(k) of the module
    docstring. The filter is real and symmetric in k, and the transform back is the
    real-input inverse FFT, so the fields are exactly real. Field i does not depend on n.
    """
    check_int("n", n)
    _check_size(size)
    check_seed("seed", seed)
    amplitude = _power_law(size, spectral_index).sqrt()[:, : size // 2 + 1]  # the rfft half of the grid
    noise = torch.randn(n, size, size, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    fields = torch.fft.irfft2(torch.fft.rfft2(noise) * amplitude, s=(size, size))
    return fields.float().unsqueeze(1)


def radial_power_spectrum(fields: Tensor) -> tuple[Tensor, Tensor]:
    """Measured power spectrum of maps (..., size, size), averaged over maps and over k-shells.

    Returns:
        k: float32 (size // 2,), the mean |k| of the modes in each shell (about 1, 2, ...).
        power: float32 (size // 2,), the mean of |F_k|^2 / size^2 over the shell and all maps.
    """
    if fields.ndim < 2 or fields.shape[-1] != fields.shape[-2]:
        raise ValueError(f"fields must have shape (..., size, size); got {tuple(fields.shape)}")
    size = fields.shape[-1]
    _check_size(size)
    power = torch.fft.fft2(fields.detach().cpu().double()).abs() ** 2 / size**2  # on the CPU: MPS has no float64
    return _shell_average(power.reshape(-1, size, size).mean(dim=0), size)


def theoretical_power_spectrum(spectral_index: float = -3.0, size: int = 32) -> tuple[Tensor, Tensor]:
    """The power spectrum that :func:`gaussian_random_field` draws from, averaged over the
    same shells as :func:`radial_power_spectrum`, so the two compare point by point.

    Returns ``(k, power)``, each float32 (size // 2,): the generator's C |k|^index averaged
    over the modes of each shell (at k = 1 this is not C * 1^index, as the shell also
    holds the modes at |k| = sqrt(2)).
    """
    _check_size(size)
    return _shell_average(_power_law(size, spectral_index), size)
