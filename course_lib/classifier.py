"""The course's judge: a small CNN classifier for digits and sprites.

Lessons use it to measure generated images: the fraction it labels with confidence, the
accuracy of conditional samples, and FID on its penultimate-layer features (the approach
fastai's course takes for Fashion-MNIST, in place of an Inception network that would need
a download).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset

from .training import fit
from .validation import InvalidArgument, check_int, check_seed, check_tensor


class Classifier(nn.Module):
    """Three conv blocks, global average pooling, a feature layer and a linear head.

    Input: images (N, in_channels, H, W) in [-1, 1], H and W multiples of 4.
    ``forward`` returns logits (N, num_outputs); ``features`` the (N, feature_dim)
    penultimate activations that FID is computed on.
    """

    def __init__(self, in_channels: int = 1, num_outputs: int = 10, width: int = 32, feature_dim: int = 64) -> None:
        super().__init__()
        for name, value in [("in_channels", in_channels), ("num_outputs", num_outputs), ("feature_dim", feature_dim)]:
            check_int(name, value)
        if check_int("width", width) % 8:
            raise InvalidArgument("width", f"width must be a multiple of 8 (GroupNorm's 8 groups); got {width!r}")
        self.config = dict(in_channels=in_channels, num_outputs=num_outputs, width=width, feature_dim=feature_dim)

        def block(c_in: int, c_out: int) -> nn.Sequential:
            return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1), nn.GroupNorm(8, c_out), nn.SiLU())

        self.body = nn.Sequential(
            block(in_channels, width),
            nn.MaxPool2d(2),
            block(width, 2 * width),
            nn.MaxPool2d(2),
            block(2 * width, 2 * width),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Linear(2 * width, feature_dim),
            nn.SiLU(),
        )
        self.head = nn.Linear(feature_dim, num_outputs)

    def features(self, x: Tensor) -> Tensor:
        """Penultimate-layer features, (N, feature_dim)."""
        check_tensor("x", x, floating=True)
        if x.ndim != 4 or x.shape[1] != self.config["in_channels"]:
            raise ValueError(
                f"x must have shape (N, {self.config['in_channels']}, H, W); got {tuple(x.shape)}"
            )
        return self.body(x)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x))


def train_classifier(
    model: Classifier,
    dataset: Dataset,
    *,
    steps: int,
    batch_size: int = 128,
    lr: float = 2e-3,
    multi_label: bool = False,
    seed: int = 0,
    device: torch.device | str = "cpu",
    progress: bool = True,
) -> list[float]:
    """Train on (image, target) pairs; returns the loss per step.

    Targets are int64 class indices (cross-entropy) or, with ``multi_label=True``, float
    multi-hot vectors (binary cross-entropy per attribute). Small random shifts of up to one
    pixel make the judge robust to the small misalignments of generated images. The learning
    rate follows a one-cycle schedule peaking at ``lr``.
    """
    generator = torch.Generator().manual_seed(check_seed("seed", seed))
    loader = DataLoader(dataset, batch_size=check_int("batch_size", batch_size), shuffle=True, generator=generator,
                        drop_last=True)

    def loss_fn(batch: list[Tensor]) -> Tensor:
        images, targets = batch
        shift = torch.randint(-1, 2, (2,), generator=generator).tolist()
        logits = model(torch.roll(images, shifts=shift, dims=(2, 3)).to(device))
        if multi_label:
            return F.binary_cross_entropy_with_logits(logits, targets.to(device).float())
        return F.cross_entropy(logits, targets.to(device))

    model.to(device)
    return fit(model, loss_fn, loader, steps=steps, lr=lr, lr_schedule="one_cycle", progress=progress, desc="classifier")


@torch.no_grad()
def predict(model: Classifier, images: Tensor, batch_size: int = 512) -> tuple[Tensor, Tensor]:
    """Class probabilities (N, num_outputs) and features (N, feature_dim) on the CPU, in batches."""
    check_int("batch_size", batch_size)
    model.eval()
    device = next(model.parameters()).device
    probs, feats = [], []
    for chunk in images.split(batch_size):
        f = model.features(chunk.to(device))
        probs.append(model.head(f).softmax(dim=1).cpu())
        feats.append(f.cpu())
    return torch.cat(probs), torch.cat(feats)
