"""Guidance without retraining: loss guidance on the predicted x_0, and classifier guidance.

A **guidance callback** changes the noise prediction at every step of :func:`course_lib.samplers.sample`::

    guide(x_t: Tensor, t: int, eps: Tensor) -> Tensor

``x_t`` is the current sample (N, C, H, W), ``t`` the timestep in [0, T-1], ``eps`` the
network's noise prediction (N, C, H, W), after classifier-free guidance if any; the callback
returns the noise prediction the sampler should use instead, of the same shape.
``sample(..., guidance_fn=guide)`` calls it between the network and ``sampler.step``; without
it nothing changes. ``sample`` runs under ``torch.no_grad()``, so a callback that needs
gradients turns them on itself (``torch.enable_grad()``), as the two here do.

Both guides follow the score form of Dhariwal & Nichol (2021, eq. 14 and Algorithm 2):
since eps ~ -sqrt(1 - alpha_bar_t) * score, adding a term log p(y | x_t) to the log-density
changes the noise prediction to

    eps_hat = eps - scale * sqrt(1 - alpha_bar_t) * grad_{x_t} log p(y | x_t).

* :class:`ClassifierGuidance` takes log p(y | x_t) from a noise-aware classifier
  (:class:`NoisyClassifier`, trained on noisy images x_t and their timestep t).
* :class:`LossGuidance` takes log p = -loss(x0_hat(x_t)) for any differentiable loss on the
  predicted clean image x0_hat = (x_t - sqrt(1 - alpha_bar_t) eps) / sqrt(alpha_bar_t)
  (Ho et al. 2020, eq. 15), with eps held fixed (no gradient through the network), so that
  grad_{x_t} loss = grad_{x0_hat} loss / sqrt(alpha_bar_t).

Bad input gets a named error, all subclasses of :class:`GuidanceError` (a ``ValueError``): a
loss that is not a scalar (:class:`NonScalarLossError`), a gradient with NaN or infinite values
(:class:`NaNGradientError`), a classifier whose output is not (N, num_classes) or labels it
cannot score (:class:`ClassifierShapeError`).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset

from .models import sinusoidal_embedding
from .samplers import GuidanceCallback
from .schedules import NoiseSchedule
from .training import fit
from .validation import InvalidArgument, check_int, check_number, check_seed

__all__ = [
    "ClassifierGuidance", "ClassifierShapeError", "GuidanceCallback", "GuidanceError", "LossGuidance",
    "NaNGradientError", "NoisyClassifier", "NonScalarLossError", "predicted_x0", "train_noisy_classifier",
]


class GuidanceError(ValueError):
    """A guidance callback received something it cannot guide with."""


class NonScalarLossError(GuidanceError):
    """The guidance loss returned a tensor that is not a scalar (shape ``()``)."""


class NaNGradientError(GuidanceError):
    """The guidance gradient holds NaN or infinite values."""


class ClassifierShapeError(GuidanceError):
    """The classifier's output is not (N, num_classes), or the labels do not fit it."""


def predicted_x0(schedule: NoiseSchedule, x_t: Tensor, t: int, eps: Tensor) -> Tensor:
    """x0_hat = (x_t - sqrt(1 - alpha_bar_t) eps) / sqrt(alpha_bar_t) (Ho et al. 2020, eq. 15); shapes of x_t."""
    alpha_bar = schedule.alphas_cumprod[t].to(x_t.device)
    return (x_t - (1 - alpha_bar).sqrt() * eps) / alpha_bar.sqrt()


def _gradient(value: Tensor, x: Tensor, t: int, what: str) -> Tensor:
    """d value / d x, with the named errors for a non-scalar value and a non-finite gradient."""
    if not isinstance(value, Tensor) or value.ndim != 0:
        shape = tuple(value.shape) if isinstance(value, Tensor) else type(value).__name__
        raise NonScalarLossError(f"the {what} must be a scalar tensor (shape ()); got {shape}: "
                                 "sum the per-image values over the batch")
    if not value.requires_grad:
        raise GuidanceError(f"the {what} does not depend on x_t: it must be computed from its input with torch "
                            "operations (no .detach(), .item() or numpy)")
    (grad,) = torch.autograd.grad(value, x)
    if not torch.isfinite(grad).all():
        raise NaNGradientError(f"the gradient of the {what} holds {int((~torch.isfinite(grad)).sum())} NaN or "
                               f"infinite values at timestep {t}")
    return grad


class LossGuidance:
    """Steer sampling by a differentiable loss on the predicted clean image; a guidance callback.

    Args:
        schedule: the noise schedule the denoiser was trained with.
        loss_fn: ``loss_fn(x0_hat)`` with x0_hat (N, C, H, W) in about [-1, 1], returning a
            scalar: the **sum** over the batch of each image's loss, so that each image's pull
            does not depend on N.
        scale: the knob, >= 0; 0 changes nothing.

    Calling it as ``guide(x_t, t, eps)`` returns
    eps + scale * sqrt(1 - alpha_bar_t) * grad_{x_t} loss(x0_hat(x_t, eps)), eps held fixed.
    """

    def __init__(self, schedule: NoiseSchedule, loss_fn: Callable[[Tensor], Tensor], scale: float) -> None:
        if not callable(loss_fn):
            raise InvalidArgument("loss_fn", f"loss_fn must be callable; got {type(loss_fn).__name__}")
        self.schedule, self.loss_fn = schedule, loss_fn
        self.scale = check_number("scale", scale, 0.0)

    def __call__(self, x_t: Tensor, t: int, eps: Tensor) -> Tensor:
        with torch.enable_grad():
            x = x_t.detach().requires_grad_(True)
            loss = self.loss_fn(predicted_x0(self.schedule, x, t, eps.detach()))
            grad = _gradient(loss, x, t, "guidance loss")  # (N, C, H, W)
        alpha_bar = self.schedule.alphas_cumprod[t].to(x_t.device)
        return eps + self.scale * (1 - alpha_bar).sqrt() * grad  # log p = -loss in Dhariwal & Nichol's eq. 14


class NoisyClassifier(nn.Module):
    """A classifier of noisy images: logits of p(y | x_t, t), as Dhariwal & Nichol (2021) train for guidance.

    Three conv blocks (GroupNorm, SiLU) with two poolings; the timestep's sinusoidal embedding,
    through a linear layer, is added to the second block's feature maps (as in the course UNet).

    Input: x_t (N, in_channels, H, W), H and W multiples of 4; t (N,) long in [0, T-1].
    Output: logits (N, num_classes).
    """

    def __init__(self, in_channels: int = 1, num_classes: int = 10, width: int = 32) -> None:
        super().__init__()
        if check_int("width", width) % 8:
            raise InvalidArgument("width", f"width must be a multiple of 8 (GroupNorm's 8 groups); got {width!r}")
        self.config = dict(in_channels=check_int("in_channels", in_channels),
                           num_classes=check_int("num_classes", num_classes), width=width)

        def block(c_in: int, c_out: int) -> nn.Sequential:
            return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1), nn.GroupNorm(8, c_out), nn.SiLU())

        self.width = width
        self.time_proj = nn.Linear(width, 2 * width)
        self.first = nn.Sequential(block(in_channels, width), nn.MaxPool2d(2), nn.Conv2d(width, 2 * width, 3, padding=1))
        self.rest = nn.Sequential(nn.GroupNorm(8, 2 * width), nn.SiLU(), nn.MaxPool2d(2), block(2 * width, 2 * width),
                                  nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(2 * width, num_classes))

    def forward(self, x_t: Tensor, t: Tensor) -> Tensor:
        time = self.time_proj(sinusoidal_embedding(t, self.width))  # (N, 2 width)
        return self.rest(self.first(x_t) + time[:, :, None, None])  # (N, num_classes)


def train_noisy_classifier(
    model: NoisyClassifier,
    schedule: NoiseSchedule,
    dataset: Dataset,
    *,
    steps: int,
    batch_size: int = 128,
    lr: float = 2e-3,
    seed: int = 0,
    device: torch.device | str = "cpu",
    progress: bool = True,
) -> list[float]:
    """Train on (image, label) pairs noised to a uniform random t: cross-entropy of p(y | x_t, t); losses per step.

    Each step draws t ~ U{0, ..., T-1} and eps ~ N(0, I) per image, forms
    x_t = sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) eps (Ho et al. 2020, eq. 4), and
    takes an AdamW step on the cross-entropy of the label (one-cycle learning rate).
    """
    generator = torch.Generator().manual_seed(check_seed("seed", seed))
    loader = DataLoader(dataset, batch_size=check_int("batch_size", batch_size), shuffle=True, generator=generator,
                        drop_last=True)

    def loss_fn(batch: list[Tensor]) -> Tensor:
        images, labels = batch
        t = torch.randint(0, schedule.num_timesteps, (len(images),), generator=generator)
        noise = torch.randn(images.shape, generator=generator)
        x_t = schedule.add_noise(images, noise, t)
        return F.cross_entropy(model(x_t.to(device), t.to(device)), labels.to(device))

    model.to(device)
    return fit(model, loss_fn, loader, steps=steps, lr=lr, lr_schedule="one_cycle", progress=progress,
               desc="noisy classifier")


class ClassifierGuidance:
    """Classifier guidance (Dhariwal & Nichol 2021, Algorithm 2); a guidance callback.

    Args:
        classifier: called as ``classifier(x_t, t)`` with x_t (N, C, H, W) and t (N,) long,
            returning logits (N, num_classes), e.g. a trained :class:`NoisyClassifier`.
        schedule: the noise schedule of the denoiser (and of the classifier's training).
        labels: (N,) long, the class each sample is steered towards.
        scale: the guidance scale s >= 0 of Dhariwal & Nichol; 0 changes nothing.

    Calling it as ``guide(x_t, t, eps)`` returns eps - s sqrt(1 - alpha_bar_t) grad_{x_t} log p(y | x_t, t).
    With DDPM's sampler this moves the mean by about s beta_t grad log p, their Algorithm 1.
    """

    def __init__(self, classifier: nn.Module, schedule: NoiseSchedule, labels: Tensor, scale: float) -> None:
        if not isinstance(labels, Tensor) or labels.ndim != 1 or labels.dtype.is_floating_point:
            raise ClassifierShapeError(f"labels must be an integer tensor of shape (N,); got {labels!r:.80}")
        self.classifier, self.schedule, self.labels = classifier, schedule, labels
        self.scale = check_number("scale", scale, 0.0)

    def log_prob(self, x_t: Tensor, t: int) -> Tensor:
        """log p(labels | x_t, t) per image, (N,); errors if the classifier's output does not fit."""
        logits = self.classifier(x_t, torch.full((len(x_t),), t, device=x_t.device))
        if not isinstance(logits, Tensor) or logits.ndim != 2 or logits.shape[0] != len(x_t):
            shape = tuple(logits.shape) if isinstance(logits, Tensor) else type(logits).__name__
            raise ClassifierShapeError(f"the classifier must return logits of shape ({len(x_t)}, num_classes) for "
                                       f"{len(x_t)} images; got {shape}")
        if len(self.labels) != len(x_t) or int(self.labels.min()) < 0 or int(self.labels.max()) >= logits.shape[1]:
            raise ClassifierShapeError(f"labels must be {len(x_t)} classes in [0, {logits.shape[1]}); got "
                                       f"{len(self.labels)} in [{int(self.labels.min())}, {int(self.labels.max())}]")
        log_probs = logits.log_softmax(dim=1)  # (N, num_classes)
        return log_probs[torch.arange(len(x_t)), self.labels.to(x_t.device)]

    def __call__(self, x_t: Tensor, t: int, eps: Tensor) -> Tensor:
        with torch.enable_grad():
            x = x_t.detach().requires_grad_(True)
            grad = _gradient(self.log_prob(x, t).sum(), x, t, "classifier's log-probability")
        alpha_bar = self.schedule.alphas_cumprod[t].to(x_t.device)
        return eps - self.scale * (1 - alpha_bar).sqrt() * grad  # Dhariwal & Nichol 2021, eq. 14
