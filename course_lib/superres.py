"""Super-resolution by a diffusion model conditioned on the low-resolution image (SR3, Saharia et al. 2021).

SR3 feeds the denoiser the noisy high-resolution image x_t and, as extra input channels, the
low-resolution image upsampled (bicubic) to the same size: eps_theta(concat(x_t, up(y)), t).
The course's denoisers are called ``model(x_t, t, context)`` with a flat context vector, so
:class:`ConcatConditioned` takes the low-resolution image flattened as its context: then the
course's training loop and samplers work unchanged.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .validation import check_int, check_shape


def _check_images(name: str, images: Tensor) -> None:
    if not isinstance(images, Tensor) or images.ndim != 4:
        shape = tuple(images.shape) if isinstance(images, Tensor) else type(images).__name__
        raise ValueError(f"{name} must be images of shape (N, C, H, W); got {shape}")


def downsample(images: Tensor, factor: int) -> Tensor:
    """Average over factor x factor blocks: (N, C, H, W) -> (N, C, H / factor, W / factor), same value range."""
    _check_images("images", images)
    check_int("factor", factor)
    if images.shape[-1] % factor or images.shape[-2] % factor:
        raise ValueError(f"factor {factor} must divide the height and width of images {tuple(images.shape)}")
    return F.avg_pool2d(images, factor)


def upsample_bicubic(images: Tensor, size: int) -> Tensor:
    """Bicubic interpolation to size x size: (N, C, h, w) -> (N, C, size, size).

    Bicubic weights can be negative, so the result may overshoot the input's range slightly;
    it is not clipped.
    """
    _check_images("images", images)
    check_int("size", size)
    return F.interpolate(images, size=(size, size), mode="bicubic", align_corners=False)


class ConcatConditioned(nn.Module):
    """A denoiser conditioned on a low-resolution image by channel concatenation (SR3).

    Args:
        denoiser: an unconditional image denoiser (``context_dim`` 0, e.g. a course UNet) with
            ``in_channels`` = C + c: the C channels of x_t and the c of the low-resolution image.
        low_res_shape: (c, h, w) of the low-resolution images.

    Call ``model(x_t, t, context)`` with x_t (N, C, H, W), t (N,) long and context (N, c * h * w),
    the low-resolution images flattened (``y.flatten(1)``). The context is reshaped to
    (N, c, h, w), upsampled bicubically to H x W and concatenated to x_t. Unlike the course's
    class-conditioned models there is no unconditional mode: a missing context is an error.
    """

    def __init__(self, denoiser: nn.Module, low_res_shape: tuple[int, int, int]) -> None:
        super().__init__()
        low_res_shape = check_shape("low_res_shape", low_res_shape, 3)  # (c, h, w)
        if getattr(denoiser, "context_dim", 0) != 0:
            raise ValueError("denoiser must be unconditional (context_dim 0): the condition enters as channels")
        if low_res_shape[1] != low_res_shape[2]:
            raise ValueError(f"low_res_shape must be square (h == w); got {low_res_shape!r}")
        self.denoiser = denoiser
        self.low_res_shape = tuple(low_res_shape)
        self.context_dim = math.prod(low_res_shape)

    def forward(self, x: Tensor, t: Tensor, context: Tensor | None = None) -> Tensor:
        """x (N, C, H, W), t (N,), context (N, c * h * w) -> predicted noise (N, C, H, W)."""
        _check_images("x", x)
        if context is None:
            raise ValueError(
                f"context is required: the low-resolution images flattened, shape ({x.shape[0]}, {self.context_dim})"
            )
        if context.shape != (x.shape[0], self.context_dim):
            raise ValueError(
                f"context must have shape ({x.shape[0]}, {self.context_dim}) (the low-resolution images "
                f"{self.low_res_shape} flattened); got {tuple(context.shape)}"
            )
        if x.shape[-1] != x.shape[-2]:
            raise ValueError(f"x must be square; got {tuple(x.shape)}")
        low_res = context.reshape(-1, *self.low_res_shape).to(x.dtype)
        return self.denoiser(torch.cat([x, upsample_bicubic(low_res, x.shape[-1])], dim=1), t)
