"""Non-leaky augmentation for diffusion training (Karras et al. 2022, "EDM", appendix C).

A generative model trained on shifted images learns to generate shifted images: the augmentation
*leaks* into its samples. EDM's remedy is to tell the network which augmentation each training
image received (its augmentation labels) and to ask for "no augmentation" (labels zero) when
sampling. The network then sees each training image in many versions, so it cannot simply
store the few originals, while its samples keep the data's own framing.

:func:`random_shift` is the augmentation the course uses for its 16x16 digits: a whole-pixel
translation, the border filled with background. A UNet takes the labels through its
``augment_dim`` input (:class:`~course_lib.models.UNet`); :func:`~course_lib.training.train_diffusion`
applies it with ``augment_shift``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from .validation import check_int, check_number, check_tensor

SHIFT_LABELS = 2
"""Augmentation labels of a shift: (dx, dy) / max_shift, each in [-1, 1]."""


def random_shift(
    images: Tensor,
    max_shift: int,
    generator: torch.Generator | None = None,
    probability: float = 0.5,
    fill: float | str = -1.0,
) -> tuple[Tensor, Tensor]:
    """Shift each image, with ``probability``, by whole pixels (dx, dy) drawn uniformly from [-max_shift, max_shift].

    Draws the shifts (first) and which images are shifted (second) from ``generator`` on the CPU.

    Args:
        images: (N, C, H, W) float images, e.g. in [-1, 1].
        max_shift: the largest shift along each axis in pixels, 1 <= max_shift < min(H, W).
        generator: CPU generator (same state, same shifts).
        probability: the chance that an image is shifted at all, in [0, 1]; the others are left as they are.
        fill: the value of the pixels shifted in from outside (-1: black background in [-1, 1]),
            or "edge" to repeat each image's border pixels (for backgrounds of any colour).

    Returns:
        ``(shifted, labels)``: the images, same shape and dtype, where pixel (y, x) of a shifted
        image is pixel (y - dy, x - dx) of the original (positive dx moves the content right,
        positive dy down), and the (N, 2) float labels (dx, dy) / max_shift, zero for an unshifted image.
    """
    check_tensor("images", images, ndim=4, floating=True)
    n, channels, height, width = images.shape
    max_shift = check_int("max_shift", max_shift, 1, min(height, width) - 1)
    probability = check_number("probability", probability, 0.0, 1.0)
    if fill != "edge":
        fill = check_number("fill", fill)
    shift = torch.randint(-max_shift, max_shift + 1, (n, 2), generator=generator)
    shift = shift * (torch.rand(n, 1, generator=generator) < probability)
    padded = (F.pad(images, (max_shift,) * 4, mode="replicate") if fill == "edge"
              else F.pad(images, (max_shift,) * 4, value=fill))
    rows = (max_shift - shift[:, 1, None] + torch.arange(height)).to(images.device)
    cols = (max_shift - shift[:, 0, None] + torch.arange(width)).to(images.device)
    index = torch.arange(n, device=images.device)[:, None, None, None]
    channel = torch.arange(channels, device=images.device)[None, :, None, None]
    shifted = padded[index, channel, rows[:, None, :, None], cols[:, None, None, :]]
    return shifted, (shift.float() / max_shift).to(device=images.device, dtype=images.dtype)
