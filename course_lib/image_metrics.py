"""Full-reference image quality: PSNR and SSIM (Wang, Bovik, Sheikh & Simoncelli 2004).

Both compare a reconstruction with the true image, one number per image. ``data_range`` is
the span of valid pixel values: 2 for the course's images in [-1, 1].
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from .validation import InvalidArgument, check_int, check_number


def _check_pair(x: Tensor, y: Tensor, data_range: float) -> None:
    if x.shape != y.shape or x.ndim != 4:
        raise ValueError(
            f"x and y must be images of the same shape (N, C, H, W); got {tuple(x.shape)} and {tuple(y.shape)}"
        )
    if not data_range > 0:
        raise ValueError(f"data_range must be > 0; got {data_range!r}")


def psnr(x: Tensor, y: Tensor, data_range: float = 2.0) -> Tensor:
    """Peak signal-to-noise ratio per image, in dB: 10 log10(data_range^2 / MSE), shape (N,).

    Identical images give +inf.
    """
    _check_pair(x, y, data_range)
    mse = (x.double() - y.double()).pow(2).flatten(1).mean(dim=1)
    return (10 * torch.log10(data_range**2 / mse)).float()


def gaussian_window(size: int = 11, sigma: float = 1.5) -> Tensor:
    """Normalised 2-D Gaussian window, float64 (size, size), summing to 1 (Wang et al. 2004, section III.C)."""
    if check_int("size", size) % 2 == 0:
        raise InvalidArgument("size", f"size must be an odd positive int; got {size!r}")
    check_number("sigma", sigma, 0, low_open=True)
    r = torch.arange(size, dtype=torch.float64) - size // 2
    g = torch.exp(-(r**2) / (2 * sigma**2))
    w = g[:, None] * g[None, :]
    return w / w.sum()


def ssim(
    x: Tensor, y: Tensor, data_range: float = 2.0, window_size: int = 11, sigma: float = 1.5,
    k1: float = 0.01, k2: float = 0.03,
) -> Tensor:
    """Mean structural similarity per image, shape (N,), at most 1 (1 for identical images).

    Local means, variances and the covariance are weighted by a Gaussian window and taken at
    every position where the window fits inside the image (no padding); then
    SSIM = (2 mu_x mu_y + C1)(2 sigma_xy + C2) / ((mu_x^2 + mu_y^2 + C1)(sigma_x^2 + sigma_y^2 + C2)),
    with C1 = (k1 L)^2 and C2 = (k2 L)^2 (Wang et al. 2004, eqs. 13, 14 and 17), averaged
    over positions and channels.
    """
    _check_pair(x, y, data_range)
    if window_size > min(x.shape[-2:]):
        raise ValueError(f"window_size {window_size} is larger than the images {tuple(x.shape[-2:])}")
    channels = x.shape[1]
    w = gaussian_window(window_size, sigma).to(x.device)[None, None].expand(channels, 1, -1, -1)
    x, y = x.double(), y.double()

    def local_mean(z: Tensor) -> Tensor:
        return F.conv2d(z, w, groups=channels)

    mu_x, mu_y = local_mean(x), local_mean(y)
    var_x = local_mean(x * x) - mu_x**2
    var_y = local_mean(y * y) - mu_y**2
    cov = local_mean(x * y) - mu_x * mu_y
    c1, c2 = (k1 * data_range) ** 2, (k2 * data_range) ** 2
    ssim_map = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2))
    return ssim_map.flatten(1).mean(dim=1).float()
