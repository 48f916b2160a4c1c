"""Binary segmentation with a UNet: training on (image, mask) pairs, prediction and IoU.

The UNet (``course_lib.models.UNet`` with ``time_embedding=False`` and ``out_channels=1``)
outputs one logit per pixel; the loss is the per-pixel binary cross-entropy, and a pixel is
predicted foreground when its logit is positive (probability > 1/2).
"""

from __future__ import annotations

import itertools

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .training import fit
from .validation import check_number


def iou(predicted: Tensor, target: Tensor) -> Tensor:
    """Intersection over union of binary masks, per image: |P and T| / |P or T| (1 when both are empty).

    Args:
        predicted, target: (N, ...) masks of the same shape, bool or with values in {0, 1}.

    Returns:
        float32 (N,) in [0, 1].
    """
    p, t = _as_mask(predicted, "predicted"), _as_mask(target, "target")
    if p.shape != t.shape or p.ndim < 2:
        raise ValueError(f"predicted and target must have the same shape (N, ...); got {tuple(p.shape)} and {tuple(t.shape)}")
    intersection = (p & t).flatten(1).sum(dim=1).float()
    union = (p | t).flatten(1).sum(dim=1).float()
    return torch.where(union > 0, intersection / union.clamp(min=1), torch.ones_like(union))


def train_segmentation(
    model: nn.Module,
    images: Tensor,
    masks: Tensor,
    *,
    steps: int,
    batch_size: int = 64,
    lr: float = 2e-3,
    noise_std: float = 0.0,
    seed: int = 0,
    device: torch.device | str = "cpu",
    progress: bool = True,
) -> list[float]:
    """Train ``model`` (images -> per-pixel logits) with binary cross-entropy; returns the loss of each step.

    Args:
        model: maps (B, C, H, W) images to (B, 1, H, W) logits.
        images: (N, C, H, W) in [-1, 1]; masks: (N, 1, H, W) in {0, 1}.
        noise_std: standard deviation of Gaussian noise added to every batch, drawn afresh each
            step (0 trains on the clean images).
        seed: seeds the batches and the noise.
    """
    check_number("noise_std", noise_std, 0)
    if images.ndim != 4 or masks.shape != (images.shape[0], 1, *images.shape[2:]):
        raise ValueError(
            f"images must be (N, C, H, W) and masks (N, 1, H, W) with the same N, H, W; "
            f"got {tuple(images.shape)} and {tuple(masks.shape)}"
        )
    if not 1 <= batch_size <= len(images):
        raise ValueError(f"batch_size must lie in [1, {len(images)}] (the number of images); got {batch_size}")
    targets = _as_mask(masks, "masks").float()
    generator = torch.Generator().manual_seed(seed)
    batches = (torch.randperm(len(images), generator=generator)[:batch_size] for _ in itertools.count())

    def loss_fn(batch: Tensor) -> Tensor:
        x = images[batch]
        x = x + noise_std * torch.randn(x.shape, generator=generator)
        return F.binary_cross_entropy_with_logits(model(x.to(device)), targets[batch].to(device))

    model.to(device)
    return fit(model, loss_fn, batches, steps=steps, lr=lr, progress=progress, desc="segmentation")


@torch.no_grad()
def predict_masks(model: nn.Module, images: Tensor, batch_size: int = 256) -> Tensor:
    """Bool masks (N, 1, H, W) on the CPU: True where the model's logit is positive."""
    model.eval()
    device = next(model.parameters()).device
    return torch.cat([(model(chunk.to(device)) > 0).cpu() for chunk in images.split(batch_size)])


def _as_mask(mask: Tensor, name: str) -> Tensor:
    """A bool tensor from a bool or {0, 1}-valued tensor; anything else raises ValueError naming ``name``."""
    if not isinstance(mask, Tensor):
        raise TypeError(f"{name} must be a tensor; got {type(mask).__name__}")
    if mask.dtype == torch.bool:
        return mask
    if not ((mask == 0) | (mask == 1)).all():
        raise ValueError(f"{name} must be a binary mask (bool or values in {{0, 1}}); got other values")
    return mask.bool()
