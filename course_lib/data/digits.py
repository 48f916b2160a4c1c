"""Handwritten digits from scikit-learn, offline: 1,797 images of 8x8 pixels, 10 classes.

The images ship inside the scikit-learn wheel, so nothing is downloaded. Pixel values
0..16 are mapped linearly to [-1, 1] (0 -> -1, 16 -> 1), the range the course's diffusion
models work in, and the images are enlarged with bilinear interpolation.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import TensorDataset

from ..validation import InvalidArgument, check_number

SPLITS = ("train", "test", "all")


def check_image_size(size: int) -> None:
    """Raise ``ValueError`` unless ``size`` is a positive multiple of 8 (8, 16, 32, ...)."""
    if not isinstance(size, int) or isinstance(size, bool) or size <= 0 or size % 8:
        raise InvalidArgument("size", f"size must be a positive multiple of 8 (8, 16, 32, ...); got {size!r}")


def check_split(split: str) -> None:
    """Raise ``ValueError`` unless ``split`` is one of "train", "test", "all"."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {', '.join(map(repr, SPLITS))}; got {split!r}")


def load_digits(size: int = 16, split: str = "train", test_fraction: float = 0.2, seed: int = 0) -> TensorDataset:
    """The scikit-learn digits as a ``TensorDataset`` of ``(images, labels)``.

    Args:
        size: side of the returned images, a positive multiple of 8. The 8x8 originals are
            only ever enlarged, and bilinear interpolation takes convex combinations of
            neighbouring pixels, so the values stay in [-1, 1] without clipping.
        split: "train", "test" or "all". Train and test come from one stratified, seeded
            split (each digit keeps its share in both), so they never share an image.
        test_fraction: share of the images in the test split, in (0, 1).
        seed: seed of the split; the same seed gives the same split.

    Returns:
        images: float32 (N, 1, size, size) in [-1, 1], dark background at -1.
        labels: int64 (N,) in 0..9.
        N is 1,797 for "all", about 80% of it for "train" and 20% for "test" by default.
    """
    # scikit-learn takes about a second to import, so only the functions that use it import it.
    from sklearn.datasets import load_digits as sklearn_digits
    from sklearn.model_selection import train_test_split

    check_image_size(size)
    check_split(split)
    check_number("test_fraction", test_fraction, 0, 1, low_open=True, high_open=True)

    digits = sklearn_digits()
    index = np.arange(len(digits.target))
    if split != "all":
        train_index, test_index = train_test_split(
            index, test_size=test_fraction, stratify=digits.target, random_state=seed
        )
        index = np.sort(train_index if split == "train" else test_index)

    images = torch.from_numpy(digits.images[index]).float().unsqueeze(1) / 8.0 - 1.0  # 0..16 -> -1..1
    if size != 8:
        images = F.interpolate(images, size=(size, size), mode="bilinear", align_corners=False)
    labels = torch.from_numpy(digits.target[index]).long()
    return TensorDataset(images, labels)
