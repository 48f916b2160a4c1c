"""The course's training loop (:func:`fit`), the simplified DDPM loss and the loop that trains a
denoiser with it, plus an exponential moving average of a model's weights."""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TypeVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from .augmentation import SHIFT_LABELS, random_shift
from .config import get_device
from .models import to_context
from .schedules import NoiseSchedule
from .validation import InvalidArgument, check_choice, check_int, check_number, check_seed, check_tensor

Batch = TypeVar("Batch")


def fit(
    model: nn.Module,
    loss_fn: Callable[[Batch], Tensor],
    batches: Iterable[Batch],
    *,
    steps: int,
    lr: float,
    lr_schedule: str = "constant",
    progress: bool = True,
    desc: str = "training",
    log_every: int = 10,
    on_step: Callable[[int], None] | None = None,
) -> list[float]:
    """Take ``steps`` AdamW steps on ``loss_fn``, one batch a step; returns the loss of each step.

    The loop every trainer of the course shares: the model goes into training mode, each step
    takes the next batch, computes ``loss = loss_fn(batch)`` and updates the parameters, and at
    the end the model is left in eval mode. The batch is drawn before ``loss_fn`` is called, so
    both may draw from one random generator in a fixed order (same seed, same run).

    Args:
        model: the module whose parameters are trained in place, already on the device that
            ``loss_fn`` puts its tensors on.
        loss_fn: maps one batch to a scalar loss tensor (shape ``()``) computed with ``model``.
        batches: where batches come from, e.g. a DataLoader of (B, ...) tensors or an endless
            generator of (B,) index tensors. A new pass starts whenever one ends (a shuffling
            DataLoader reshuffles), so a pass may be shorter than ``steps``, but not empty.
        steps: number of optimiser steps, a positive int.
        lr: AdamW learning rate, > 0 (the peak rate for "one_cycle").
        lr_schedule: "constant"; "cosine" to decay the rate to 0 over ``steps``; or "one_cycle",
            a warm-up to ``lr`` followed by annealing to almost 0 (PyTorch's ``OneCycleLR``).
        progress: show a tqdm bar labelled ``desc`` with the mean loss of the last ``log_every`` steps.
        desc: the bar's label.
        log_every: steps between updates of that mean, a positive int.
        on_step: called as ``on_step(step)`` after each optimiser step, step = 1..steps
            (e.g. to update an EMA of the weights).

    Returns:
        ``steps`` floats: the loss of each step, computed before that step's update.

    Raises:
        FloatingPointError: a step's loss is NaN or infinite (a NaN in the data, or a learning
            rate too high); the message gives the step, and the weights are those of that step.
    """
    steps, log_every = check_int("steps", steps), check_int("log_every", log_every)
    lr = check_number("lr", lr, 0.0, low_open=True)
    check_choice("lr_schedule", lr_schedule, ("constant", "cosine", "one_cycle"))

    model.train()
    optimiser = torch.optim.AdamW(model.parameters(), lr=lr)
    scheduler = None
    if lr_schedule == "cosine":
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, steps)
    elif lr_schedule == "one_cycle":
        scheduler = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=lr, total_steps=steps)
    losses: list[float] = []
    with tqdm(range(1, steps + 1), desc=desc, disable=not progress) as bar:
        for step, batch in zip(bar, _cycle(batches)):
            loss = loss_fn(batch)
            if not math.isfinite(loss.item()):  # the loss is read every step anyway; NaN weights help nobody
                model.eval()
                raise FloatingPointError(
                    f"the loss is {loss.item()} at step {step} of {steps}: check the data for NaN or infinite "
                    f"values, and try a smaller lr (now {lr:g})")
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            if scheduler is not None:
                scheduler.step()
            losses.append(loss.item())
            if step % log_every == 0 or step == steps:
                recent = losses[-log_every:]
                bar.set_postfix(loss=f"{sum(recent) / len(recent):.4f}")
            if on_step is not None:
                on_step(step)
    model.eval()
    return losses


def diffusion_loss(
    model: nn.Module,
    schedule: NoiseSchedule,
    x0: Tensor,
    context: Tensor | None = None,
    generator: torch.Generator | None = None,
    augment: Tensor | None = None,
    min_snr_gamma: float | None = None,
) -> Tensor:
    """The simplified DDPM loss, E_{t, x_0, eps} || eps - eps_theta(x_t, t) ||^2 (Ho et al. 2020, eq. 14).

    Draws t ~ Uniform{0, ..., T-1} (first) and eps ~ N(0, I) (second) from ``generator`` on the
    CPU, forms x_t = sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) eps and returns the mean
    squared error between the model's prediction and eps.

    Args:
        model: a denoiser called as ``model(x_t, t, context)``.
        schedule: the noise schedule.
        x0: clean data, (N, C, H, W) images in [-1, 1] or (N, D) points.
        context: optional (N, context_dim) float context.
        generator: CPU generator for t and eps (same generator state, same loss).
        augment: optional (N, augment_dim) augmentation labels of ``x0``, passed to the model
            as ``augment=`` (non-leaky augmentation, :mod:`course_lib.augmentation`).
        min_snr_gamma: weight each sample's squared error by min(SNR_t, gamma) / SNR_t, with
            SNR_t = alpha_bar_t / (1 - alpha_bar_t) (Min-SNR-gamma, Hang et al. 2023, for noise
            prediction): the nearly clean timesteps, where SNR_t > gamma, count less. None: the
            unweighted loss.

    Returns:
        A scalar tensor (differentiable with respect to the model's parameters).
    """
    check_tensor("x0", x0, floating=True)
    if not isinstance(schedule, NoiseSchedule):
        raise InvalidArgument("schedule", f"schedule must be a NoiseSchedule; got {type(schedule).__name__}")
    if min_snr_gamma is not None:
        check_number("min_snr_gamma", min_snr_gamma, 0.0, low_open=True)
    n = x0.shape[0]
    t = torch.randint(0, schedule.num_timesteps, (n,), generator=generator)
    eps = torch.randn(x0.shape, generator=generator, dtype=x0.dtype)
    t, eps = t.to(x0.device), eps.to(x0.device)
    x_t = schedule.add_noise(x0, eps, t)
    prediction = model(x_t, t, context) if augment is None else model(x_t, t, context, augment=augment)
    return noise_prediction_error(prediction, eps, t, schedule, min_snr_gamma)


def noise_prediction_error(prediction: Tensor, eps: Tensor, t: Tensor, schedule: NoiseSchedule,
                           min_snr_gamma: float | None = None) -> Tensor:
    """The mean squared error of a noise prediction (Ho et al. 2020, eq. 14), Min-SNR-gamma weighted if asked.

    Args:
        prediction, eps: the predicted and the true noise, (N, ...) of the same shape.
        t: (N,) integer timesteps of the samples, on the same device.
        schedule: the noise schedule, for SNR_t = alpha_bar_t / (1 - alpha_bar_t).
        min_snr_gamma: None for the plain mean; else each sample's error is weighted by
            min(SNR_t, gamma) / SNR_t (Hang et al. 2023, for noise prediction), gamma > 0.
    """
    if min_snr_gamma is None:
        return F.mse_loss(prediction, eps)
    alpha_bar = schedule.alphas_cumprod.to(prediction.device)[t]
    snr = alpha_bar / (1 - alpha_bar)
    return (snr.clamp(max=min_snr_gamma) / snr * ((prediction - eps) ** 2).flatten(1).mean(1)).mean()


class EMA:
    """An exponential moving average of a model's weights, theta_ema <- d theta_ema + (1 - d) theta.

    With ``warmup`` the decay after n updates is min(decay, (1 + n) / (10 + n)), as in diffusers'
    ``EMAModel``, so that a short run is not dominated by the random initial weights.
    Non-float buffers (e.g. counters) are copied. ``self.model`` is a frozen copy in eval mode.
    """

    def __init__(self, model: nn.Module, decay: float = 0.999, warmup: bool = True) -> None:
        self.decay = check_number("decay", decay, 0.0, 1.0, low_open=True, high_open=True)
        self.warmup = warmup
        self.num_updates = 0
        self.model = copy.deepcopy(model).eval().requires_grad_(False)

    def current_decay(self) -> float:
        """The decay the next :meth:`update` will use."""
        n = self.num_updates
        return min(self.decay, (1 + n) / (10 + n)) if self.warmup else self.decay

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        """Move the averaged weights towards ``model``'s current weights."""
        d = self.current_decay()
        ema_state, state = self.model.state_dict(), model.state_dict()
        if ema_state.keys() != state.keys():
            raise ValueError("model does not have the same parameters as the model this EMA was built from")
        for name, value in state.items():
            if value.dtype.is_floating_point:
                ema_state[name].lerp_(value, 1.0 - d)
            else:
                ema_state[name].copy_(value)
        self.num_updates += 1


@dataclass
class TrainResult:
    """What :func:`train_diffusion` returns: the loss of every step, the EMA model if any, the wall time."""

    losses: list[float] = field(default_factory=list)
    ema: nn.Module | None = None
    seconds: float = 0.0


def train_diffusion(
    model: nn.Module,
    schedule: NoiseSchedule,
    dataset: Dataset,
    *,
    steps: int,
    batch_size: int = 128,
    lr: float = 2e-3,
    lr_schedule: str = "constant",
    context_dropout: float = 0.0,
    ema_decay: float | None = None,
    augment_shift: int = 0,
    min_snr_gamma: float | None = None,
    device: torch.device | str | None = None,
    seed: int = 0,
    progress: bool = True,
    log_every: int = 10,
    callback: Callable[[int, nn.Module], None] | None = None,
    callback_every: int = 100,
) -> TrainResult:
    """Train a denoiser for ``steps`` optimiser steps with the simplified loss (Ho et al. 2020, Algorithm 1).

    :func:`fit` runs the loop; this function supplies the data, the context and the loss.

    Args:
        model: a denoiser with a ``context_dim`` attribute (e.g. :class:`~course_lib.models.UNet`);
            moved to ``device``, trained in place and left in eval mode.
        schedule: the noise schedule.
        dataset: items are ``x0``, ``(x0,)`` or ``(x0, y)``, with y an int label or a float
            attribute vector. y becomes the context via ``to_context(y, model.context_dim)``
            when ``model.context_dim > 0``; an unconditional model ignores it.
        steps: number of optimiser steps; the data loader is cycled through as often as needed.
        batch_size: samples per step (the last batch of an epoch may be smaller).
        lr: AdamW learning rate.
        lr_schedule: "constant", "cosine" to decay the rate to 0 over ``steps``, or "one_cycle" (see :func:`fit`).
        context_dropout: probability of replacing a sample's context by zeros, so that the same
            model also learns the unconditional prediction (Ho & Salimans 2022, Algorithm 1).
        ema_decay: keep an :class:`EMA` of the weights with this decay; None for no EMA.
        augment_shift: non-leaky shift augmentation (Karras et al. 2022, app. C): half of each
            batch is shifted by up to this many pixels along each axis, and the model is told
            the shift (it needs ``augment_dim=2``); 0 for none. See :func:`~course_lib.augmentation.random_shift`.
        min_snr_gamma: Min-SNR-gamma loss weighting (see :func:`diffusion_loss`); None for none.
        device: where to train; default :func:`~course_lib.config.get_device`.
        seed: seeds the data order, the timesteps, the noise, the context dropout and the shifts. Same
            seed and same initial model, same loss history (bit for bit on the CPU).
        progress: show a tqdm bar with the running mean loss.
        log_every: steps between updates of the running loss on the bar.
        callback: called as ``callback(step, model)`` after every ``callback_every`` steps and
            after the last one (e.g. to sample snapshots); ``model`` is the trained model.
        callback_every: steps between callbacks.

    Returns:
        :class:`TrainResult` with the per-step losses, the EMA model (or None) and the seconds taken.
    """
    batch_size, callback_every = check_int("batch_size", batch_size), check_int("callback_every", callback_every)
    steps, log_every = check_int("steps", steps), check_int("log_every", log_every)
    lr = check_number("lr", lr, 0.0, low_open=True)
    context_dropout = check_number("context_dropout", context_dropout, 0.0, 1.0)
    if ema_decay is not None:
        check_number("ema_decay", ema_decay, 0.0, 1.0, low_open=True, high_open=True)
    if not isinstance(schedule, NoiseSchedule):
        raise InvalidArgument("schedule", f"schedule must be a NoiseSchedule; got {type(schedule).__name__}")
    context_dim = getattr(model, "context_dim", None)
    if not isinstance(context_dim, int):
        raise TypeError(f"model must expose an int context_dim (0 for unconditional); {type(model).__name__} does not")
    if context_dropout > 0 and context_dim == 0:
        raise ValueError("context_dropout > 0 needs a conditional model (context_dim > 0)")
    if len(dataset) == 0:
        raise ValueError("dataset is empty")
    augment_shift = check_int("augment_shift", augment_shift, 0)
    if augment_shift and getattr(model, "augment_dim", 0) != SHIFT_LABELS:
        raise InvalidArgument("augment_shift", f"augment_shift > 0 needs a model told the shift: augment_dim={SHIFT_LABELS} "
                              f"(e.g. UNet(..., augment_dim={SHIFT_LABELS})); this one has {getattr(model, 'augment_dim', 0)}")

    if min_snr_gamma is not None:
        check_number("min_snr_gamma", min_snr_gamma, 0.0, low_open=True)
    seed = check_seed("seed", seed)

    device = get_device(None if device is None else str(device))
    model.to(device)
    ema = EMA(model, ema_decay) if ema_decay is not None else None
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=True, generator=torch.Generator().manual_seed(seed))
    generator = torch.Generator().manual_seed((seed + 1) % 2**64)

    def loss_fn(batch: Tensor | list[Tensor]) -> Tensor:
        x0, y = _split_batch(batch)
        x0 = x0.to(device)
        context = None
        if context_dim > 0:
            if y is None:
                raise ValueError(f"the model is conditional (context_dim={context_dim}) but the dataset has no labels")
            context = to_context(y, context_dim)
            if context_dropout > 0:
                # Ho & Salimans 2022: with probability p the sample is trained as unconditional.
                keep = torch.rand(context.shape[0], generator=generator) >= context_dropout
                context = context * keep[:, None]
            context = context.to(device)
        augment = None
        if augment_shift:
            x0, augment = random_shift(x0, augment_shift, generator)
        return diffusion_loss(model, schedule, x0, context, generator, augment, min_snr_gamma)

    def after_step(step: int) -> None:
        if ema is not None:
            ema.update(model)
        if callback is not None and (step % callback_every == 0 or step == steps):
            callback(step, model)

    start = time.perf_counter()
    losses = fit(model, loss_fn, loader, steps=steps, lr=lr, lr_schedule=lr_schedule, progress=progress,
                 log_every=log_every, on_step=after_step)
    return TrainResult(losses, ema.model if ema is not None else None, time.perf_counter() - start)


def _cycle(batches: Iterable[Batch]) -> Iterator[Batch]:
    """The items of ``batches`` forever, pass after pass (a shuffling DataLoader reshuffles each pass)."""
    while True:
        empty = True
        for batch in batches:
            empty = False
            yield batch
        if empty:
            raise ValueError(
                "batches yielded no batch in a pass: it must be re-iterable or endless, and a DataLoader "
                "with drop_last=True yields none when it holds fewer items than its batch_size"
            )


def _split_batch(batch: Tensor | list | tuple) -> tuple[Tensor, Tensor | None]:
    if isinstance(batch, Tensor):
        return batch, None
    if isinstance(batch, (list, tuple)) and len(batch) in (1, 2):
        return batch[0], (batch[1] if len(batch) == 2 else None)
    raise ValueError("dataset items must be x0, (x0,) or (x0, y)")
