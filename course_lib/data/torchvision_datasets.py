"""MNIST and Fashion-MNIST through torchvision, for learners who are online.

Nothing in the course calls this on its default path. When torchvision cannot load or
download the data (offline, a mirror refusing the request), :func:`load_mnist` says so in
one line and returns the offline scikit-learn digits in the same format instead.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.data import TensorDataset

from .digits import check_image_size, check_split, load_digits

_DATASETS = {"mnist": "MNIST", "fashion_mnist": "FashionMNIST"}


def load_mnist(
    name: str = "mnist",
    size: int = 16,
    split: str = "train",
    root: str | Path | None = None,
    download: bool = True,
) -> TensorDataset:
    """MNIST or Fashion-MNIST as a ``TensorDataset`` of ``(images, labels)``, like :func:`load_digits`.

    Args:
        name: "mnist" or "fashion_mnist".
        size: side of the returned images, a positive multiple of 8; the 28x28 originals
            are resized with antialiased bilinear interpolation.
        split: "train" (60,000 images), "test" (10,000) or "all" (both).
        root: folder for the downloaded files; ``~/.cache/torchvision`` if None.
        download: let torchvision download the files when they are missing.

    Returns:
        images: float32 (N, 1, size, size) in [-1, 1]; labels: int64 (N,) in 0..9.
        If the data cannot be had, ``load_digits(size, split)`` instead, after a one-line message.
    """
    if name not in _DATASETS:
        raise ValueError(f"name must be one of {', '.join(map(repr, _DATASETS))}; got {name!r}")
    check_image_size(size)
    check_split(split)
    root = Path(root) if root is not None else Path.home() / ".cache" / "torchvision"
    try:
        import torchvision

        dataset_class = getattr(torchvision.datasets, _DATASETS[name])
        train_flags = {"train": [True], "test": [False], "all": [True, False]}[split]
        parts = [dataset_class(root, train=train, download=download) for train in train_flags]
    except Exception as error:  # offline, blocked mirror, corrupt file: all end in the same fallback
        reason = f"{type(error).__name__}: {error}".splitlines()[0][:120]
        print(f"{_DATASETS[name]} is not available offline ({reason}); using the scikit-learn digits instead")
        return load_digits(size=size, split=split)

    images = torch.cat([part.data for part in parts]).float().unsqueeze(1) / 127.5 - 1.0  # 0..255 -> -1..1
    images = F.interpolate(images, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
    labels = torch.cat([part.targets for part in parts]).long()
    return TensorDataset(images, labels)

