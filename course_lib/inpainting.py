"""Inpainting with an unconditional diffusion model (RePaint, Lugmayr et al. 2022).

The model is never trained to inpaint. At every reverse step the known pixels are replaced by
the known image noised to the same level, a draw from q(x_t | x_0) (Ho et al. 2020, eq. 4),
while the missing pixels come from the model's reverse step. The two halves of the image are
then harmonised by jumping back one step with fresh noise, q(x_t | x_{t-1}), and denoising
again: U resampling steps per timestep (Lugmayr et al. 2022, Algorithm 1, jump length 1).

Lesson 10 writes this loop in its own cells and checks it against :func:`repaint`. diffusers'
``RePaintScheduler`` takes the same blend step, with two differences in the random draws (not
in the distributions): its ``step`` reuses the reverse step's noise for the known pixels, and its
``undo_step`` jumps back one training step at a time where :func:`repaint` jumps a whole stride.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from tqdm import tqdm

from .samplers import DDIMSampler, DDPMSampler, predict_noise
from .validation import InvalidArgument, check_int

REGIONS = ("bottom", "top", "left", "right")


def half_mask(size: int, region: str) -> Tensor:
    """Bool mask (1, 1, size, size): False on the missing half ``region``, True on the known half."""
    if check_int("size", size, 2) % 2:
        raise InvalidArgument("size", f"size must be an even int >= 2; got {size!r}")
    if region not in REGIONS:
        raise ValueError(f"region must be one of {', '.join(map(repr, REGIONS))}; got {region!r}")
    mask = torch.ones(1, 1, size, size, dtype=torch.bool)
    half = size // 2
    if region == "bottom":
        mask[..., half:, :] = False
    elif region == "top":
        mask[..., :half, :] = False
    elif region == "left":
        mask[..., :, :half] = False
    else:
        mask[..., :, half:] = False
    return mask


def _check_inputs(known: Tensor, mask: Tensor, resample_steps: int) -> Tensor:
    if known.ndim != 4:
        raise ValueError(f"known must be images of shape (N, C, H, W); got {tuple(known.shape)}")
    if not isinstance(mask, Tensor) or mask.dtype != torch.bool:
        raise TypeError(f"mask must be a bool tensor (True = known pixel); got {type(mask).__name__}"
                        + (f" of dtype {mask.dtype}" if isinstance(mask, Tensor) else ""))
    try:
        mask = mask.expand_as(known)
    except RuntimeError:
        raise ValueError(
            f"mask of shape {tuple(mask.shape)} must broadcast to known's shape {tuple(known.shape)}"
        ) from None
    check_int("resample_steps", resample_steps)
    return mask


@torch.no_grad()
def repaint(
    model: nn.Module,
    sampler: DDPMSampler | DDIMSampler,
    known: Tensor,
    mask: Tensor,
    *,
    resample_steps: int = 1,
    generator: torch.Generator | None = None,
    progress: bool = False,
) -> Tensor:
    """Fill the pixels where ``mask`` is False so that they agree with the known ones.

    Args:
        model: an unconditional denoiser ``model(x_t, t)`` trained with ``sampler.schedule``.
        sampler: a :class:`DDPMSampler` (RePaint's choice) or a stochastic :class:`DDIMSampler`
            (fewer steps); its ``timesteps`` are visited from noisiest to cleanest.
        known: images (N, C, H, W) in the model's range ([-1, 1] for the course's images);
            only the pixels where ``mask`` is True are read.
        mask: bool, broadcastable to ``known`` (e.g. (1, 1, H, W) from :func:`half_mask`);
            True where the pixel is known.
        resample_steps: U >= 1, denoising passes per timestep; U - 1 jumps back per timestep.
            The model is evaluated ``U * (len(sampler.timesteps) - 1) + 1`` times. U = 1 is plain
            "replace the known pixels" conditioning, without harmonisation.
        generator: CPU generator for the initial noise and every fresh noise draw, drawn in this
            order: x_T, then in each pass the sampler step's noise (if it draws any), the known
            part's noise and, after every pass but a timestep's last, the jump-back noise.
        progress: show a tqdm bar over the timesteps.

    Returns:
        (N, C, H, W) on the model's device: exactly ``known`` where ``mask`` is True, the
        model's completion elsewhere.
    """
    mask = _check_inputs(known, mask, resample_steps)
    device = next(model.parameters()).device
    known, mask = known.to(device), mask.to(device)
    alphas_cumprod = sampler.schedule.alphas_cumprod.to(device)

    def randn() -> Tensor:
        return torch.randn(known.shape, generator=generator, dtype=known.dtype).to(device)

    was_training = model.training
    model.eval()
    timesteps = sampler.timesteps.tolist()
    x = randn()
    for i, t in enumerate(tqdm(timesteps, desc="RePaint", disable=not progress, leave=False)):
        prev_t = timesteps[i + 1] if i + 1 < len(timesteps) else -1
        alpha_bar_prev = alphas_cumprod[prev_t] if prev_t >= 0 else alphas_cumprod.new_tensor(1.0)
        passes = resample_steps if prev_t >= 0 else 1  # no jump back from the clean image
        for u in range(passes):
            unknown_part = sampler.step(predict_noise(model, x, t), t, x, generator=generator)
            # Known pixels at the previous noise level: q(x_{t-1} | x_0) (Ho et al. 2020, eq. 4);
            # at the last step alpha_bar_prev = 1 and this is the known image itself.
            known_part = alpha_bar_prev.sqrt() * known + (1 - alpha_bar_prev).sqrt() * randn()
            x = torch.where(mask, known_part, unknown_part)
            if u < passes - 1:
                # Jump back: x_t ~ q(x_t | x_{t-1}) = N(sqrt(a) x_{t-1}, (1 - a) I), a = alpha_bar_t / alpha_bar_{t-1}
                # (Lugmayr et al. 2022, Algorithm 1, line 9; for a DDIM stride, the same over the stride).
                a = alphas_cumprod[t] / alpha_bar_prev
                x = a.sqrt() * x + (1 - a).sqrt() * randn()
    model.train(was_training)
    return x
