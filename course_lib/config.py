"""Course-wide settings: fast mode, device choice and seeding.

``COURSE_FAST`` is read here, once, and nowhere else. ``COURSE_FAST=1`` shrinks training
and sampling budgets so that every lesson runs on a 2-core CPU in CI; unset (or ``0``) is
the full mode that a learner with a GPU gets.
"""

from __future__ import annotations

import os
import random
from typing import TypeVar

import numpy as np
import torch

from .validation import check_seed

T = TypeVar("T")

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}


def _read_fast_flag() -> bool:
    raw = os.environ.get("COURSE_FAST", "").strip().lower()
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise ValueError(f"COURSE_FAST must be one of 1/0, true/false, yes/no, on/off; got {raw!r}")


FAST: bool = _read_fast_flag()
"""True when ``COURSE_FAST=1``: small budgets for CI and laptops."""


def fast_or_full(fast: T, full: T) -> T:
    """Return ``fast`` in fast mode and ``full`` otherwise, e.g. ``fast_or_full(300, 4000)`` steps."""
    return fast if FAST else full


_DEVICES = ("cpu", "cuda", "mps")


def get_device(override: str | None = None) -> torch.device:
    """Pick the device to run on.

    Order: ``override`` if given, else the ``COURSE_DEVICE`` environment variable, else
    CUDA if available, else Apple's MPS if available, else the CPU. An explicit choice
    that is not available raises ``RuntimeError`` rather than falling back silently.
    """
    choice = override if override is not None else os.environ.get("COURSE_DEVICE") or None
    if choice is None:
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    kind = str(choice).split(":")[0]
    if kind not in _DEVICES:
        raise ValueError(f"device must be one of {', '.join(_DEVICES)} (optionally 'cuda:N'); got {choice!r}")
    if kind == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"device {choice!r} was asked for but torch sees no CUDA GPU")
    if kind == "mps" and not torch.backends.mps.is_available():
        raise RuntimeError(f"device {choice!r} was asked for but MPS is not available on this machine")
    return torch.device(choice)


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and torch so that a CPU run repeats bit for bit.

    Returns a fresh CPU ``torch.Generator`` seeded with ``seed`` for code that takes an
    explicit generator (the samplers do).
    """
    seed = check_seed("seed", seed)  # in [0, 2**64 - 1], the seeds torch takes without wrapping
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)
