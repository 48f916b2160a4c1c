"""Denoising networks: a small UNet for images and an MLP for 2-D points.

Both follow the course's denoiser convention: ``model(x_t, t, context=None)`` returns the
predicted noise epsilon_theta(x_t, t, c) with the shape of ``x_t``. ``t`` is a long tensor
(N,) in [0, T-1]; ``context`` is a float tensor (N, context_dim), and ``None`` means the
all-zero context, which is what "unconditional" means for classifier-free guidance.

Conditioning is additive, as in Ho et al. 2020 (appendix B) and Dhariwal & Nichol 2021: the
time embedding and the context embedding are summed into one vector, and every residual block
adds a learned projection of it to its feature maps.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .validation import InvalidArgument, check_int, check_number, describe


def sinusoidal_embedding(t: Tensor, dim: int) -> Tensor:
    """Sinusoidal embedding of timesteps (Vaswani et al. 2017, section 3.5; Ho et al. 2020, appendix B).

    Frequencies are w_i = 10000^(-i / (dim/2 - 1)) for i = 0..dim/2-1, and the embedding is
    [sin(t w_0), ..., sin(t w_{dim/2-1}), cos(t w_0), ..., cos(t w_{dim/2-1})]: the variant of
    Ho et al.'s code, diffusers' ``get_timestep_embedding(..., downscale_freq_shift=1)``.
    Vaswani et al. differ twice: they interleave sin and cos, and their frequencies are
    10000^(-2i / dim), so the two are not a permutation of one another (lesson 03 shows both).

    Args:
        t: timesteps, shape (N,), integer or float.
        dim: embedding size, even and >= 4.

    Returns:
        float32 tensor of shape (N, dim) with values in [-1, 1].
    """
    if not isinstance(dim, int) or isinstance(dim, bool) or dim < 4 or dim % 2:
        raise InvalidArgument("dim", f"dim must be an even int >= 4; got {dim!r}")
    if not isinstance(t, Tensor) or t.ndim != 1:
        raise ValueError(f"t must be a 1-D tensor of shape (N,); got {_describe(t)}")
    if t.dtype == torch.bool or t.is_complex():
        raise TypeError(f"t must be an integer or float tensor; got dtype {t.dtype}")
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, device=t.device, dtype=torch.float32) / (half - 1))
    angles = t.float()[:, None] * freqs[None, :]
    return torch.cat([angles.sin(), angles.cos()], dim=1)


def to_context(labels_or_attributes: Tensor, context_dim: int) -> Tensor:
    """Turn class labels or attribute vectors into the float context a denoiser takes.

    Args:
        labels_or_attributes: either integer class labels of shape (N,) with values in
            [0, context_dim - 1], which become one-hot rows, or a float (or bool) multi-hot
            attribute matrix of shape (N, context_dim), which passes through.
        context_dim: the model's ``context_dim`` (number of classes or attributes), >= 1.

    Returns:
        float32 tensor of shape (N, context_dim).
    """
    context_dim = check_int("context_dim", context_dim)
    try:
        y = torch.as_tensor(labels_or_attributes)
    except (TypeError, ValueError, RuntimeError) as e:
        raise InvalidArgument("labels_or_attributes", f"labels_or_attributes must be a tensor of labels or attributes; "
                              f"got {describe(labels_or_attributes)}") from e
    if y.dtype.is_floating_point or y.dtype == torch.bool:
        if y.ndim != 2 or y.shape[1] != context_dim:
            raise ValueError(
                f"float attributes must have shape (N, {context_dim}); got {tuple(y.shape)} "
                "(integer class labels should be an integer tensor of shape (N,))"
            )
        return y.float()
    if y.is_complex():
        raise TypeError(f"labels_or_attributes must be integer labels or float attributes; got dtype {y.dtype}")
    if y.ndim != 1:
        raise ValueError(
            f"integer labels must have shape (N,); got {tuple(y.shape)} "
            "(multi-hot attributes should be a float tensor of shape (N, context_dim))"
        )
    if y.numel() and (y.min() < 0 or y.max() >= context_dim):
        raise ValueError(
            f"labels must lie in [0, {context_dim - 1}] for context_dim={context_dim}; "
            f"got values from {int(y.min())} to {int(y.max())}"
        )
    return F.one_hot(y.long(), context_dim).float()


def count_parameters(model: nn.Module) -> int:
    """Number of scalar parameters in ``model`` (trainable or not)."""
    return sum(p.numel() for p in model.parameters())


class ResBlock(nn.Module):
    """GroupNorm -> SiLU -> conv, plus the embedding, then GroupNorm -> SiLU -> conv, with a residual connection."""

    def __init__(self, in_channels: int, out_channels: int, emb_dim: int, num_groups: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.norm1 = nn.GroupNorm(num_groups, in_channels)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.emb = nn.Linear(emb_dim, out_channels) if emb_dim else None
        self.norm2 = nn.GroupNorm(num_groups, out_channels)
        self.dropout = nn.Dropout(dropout) if dropout else nn.Identity()  # before the last conv, as in Ho et al. 2020
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1)
        self.skip = nn.Conv2d(in_channels, out_channels, 1) if in_channels != out_channels else nn.Identity()

    def forward(self, x: Tensor, emb: Tensor | None) -> Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        if self.emb is not None:
            h = h + self.emb(F.silu(emb))[:, :, None, None]
        h = self.conv2(self.dropout(F.silu(self.norm2(h))))
        return h + self.skip(x)


class Upsample(nn.Module):
    """Nearest-neighbour x2 then a 3x3 conv (avoids the checkerboard artefacts of transposed convs)."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, 3, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(F.interpolate(x, scale_factor=2, mode="nearest"))


class UNet(nn.Module):
    """A small time- and context-conditioned UNet.

    One residual block per resolution on the way down and one on the way up, a residual block
    in the middle, strided 3x3 convs to halve the resolution, nearest-neighbour upsampling plus
    a conv to double it, and skip connections that concatenate the down path's features.

    Args:
        in_channels: channels of the input image (1 for digits, 3 for sprites).
        out_channels: channels of the output; default ``in_channels`` (predicted noise).
        base_channels: feature channels at full resolution.
        channel_mults: channels at each resolution, as multiples of ``base_channels``; the
            image is halved ``len(channel_mults) - 1`` times, so H and W must be divisible by
            2 ** (len(channel_mults) - 1) (4 by default: 8x8, 16x16 and 32x32 all work).
        context_dim: size of the context vector (classes or attributes); 0 = unconditional.
        num_groups: groups of every GroupNorm; every channel count must be divisible by it.
        time_embedding: condition on the timestep. ``False`` makes a plain image-to-image
            UNet (e.g. for segmentation) that is called as ``model(x)`` and rejects a ``t``.
        augment_dim: number of augmentation labels the UNet is told in training (non-leaky
            augmentation, see :mod:`course_lib.augmentation`); 0 = none. Their projection has
            no bias, so labels of zero (or None) add nothing: the un-augmented data.
        dropout: probability of zeroing a feature inside each residual block while training
            (Ho et al. 2020 use 0.1 on CIFAR-10 against overfitting); 0 = no dropout layers.

    Call ``model(x, t, context)`` with x (N, in_channels, H, W), t (N,) long and context
    (N, context_dim) float or None; the result has shape (N, out_channels, H, W).
    A model with ``augment_dim`` also takes ``augment`` (N, augment_dim), by keyword.

    The defaults have about 0.37M parameters. Compute grows with ``base_channels`` squared
    and with the number of pixels, so keep the full-resolution width small on a CPU.
    """

    def __init__(
        self,
        in_channels: int = 1,
        out_channels: int | None = None,
        base_channels: int = 16,
        channel_mults: Sequence[int] = (1, 2, 4),
        context_dim: int = 0,
        num_groups: int = 8,
        time_embedding: bool = True,
        augment_dim: int = 0,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        out_channels = in_channels if out_channels is None else out_channels
        for name, value, low in [("in_channels", in_channels, 1), ("out_channels", out_channels, 1),
                                 ("base_channels", base_channels, 4), ("context_dim", context_dim, 0),
                                 ("num_groups", num_groups, 1), ("augment_dim", augment_dim, 0)]:
            check_int(name, value, low)
        check_number("dropout", dropout, 0, 1, high_open=True)
        if not isinstance(channel_mults, Sequence) or isinstance(channel_mults, str):
            raise InvalidArgument(
                "channel_mults", f"channel_mults must be a non-empty sequence of positive ints; got {channel_mults!r}")
        channel_mults = tuple(channel_mults)
        if not channel_mults or not all(isinstance(m, int) and not isinstance(m, bool) and m >= 1 for m in channel_mults):
            raise ValueError(f"channel_mults must be a non-empty sequence of positive ints; got {channel_mults!r}")
        if augment_dim and not time_embedding:
            raise ValueError("augment_dim > 0 needs time_embedding=True (the labels join the time embedding)")
        if time_embedding and base_channels % 2:
            raise ValueError(f"base_channels must be even (it sizes the sinusoidal time embedding); got {base_channels}")
        chans = [base_channels * m for m in channel_mults]
        if any(c % num_groups for c in chans):
            raise ValueError(
                f"num_groups={num_groups} must divide every channel count {chans} (base_channels * channel_mults)"
            )
        self.config = dict(in_channels=in_channels, out_channels=out_channels, base_channels=base_channels,
                           channel_mults=list(channel_mults), context_dim=context_dim, num_groups=num_groups,
                           time_embedding=bool(time_embedding), augment_dim=augment_dim, dropout=float(dropout))
        self.in_channels, self.out_channels = in_channels, out_channels
        self.context_dim = context_dim
        self.time_embedding = bool(time_embedding)
        self.downsample_factor = 2 ** (len(chans) - 1)

        emb_dim = 4 * base_channels if (time_embedding or context_dim) else 0
        self.base_channels = base_channels
        self.time_mlp = (
            nn.Sequential(nn.Linear(base_channels, emb_dim), nn.SiLU(), nn.Linear(emb_dim, emb_dim))
            if time_embedding else None
        )
        # A linear map of the context: for one-hot labels an embedding table, for multi-hot
        # attributes the sum of one learned vector per attribute (plus the bias).
        self.context_proj = nn.Linear(context_dim, emb_dim) if context_dim else None
        self.augment_dim = augment_dim
        self.augment_proj = nn.Linear(augment_dim, emb_dim, bias=False) if augment_dim else None

        self.conv_in = nn.Conv2d(in_channels, chans[0], 3, padding=1)
        self.down = nn.ModuleList()
        self.downsample = nn.ModuleList()
        for i, ch in enumerate(chans):
            self.down.append(ResBlock(chans[max(i - 1, 0)], ch, emb_dim, num_groups, dropout))
            if i < len(chans) - 1:
                self.downsample.append(nn.Conv2d(ch, ch, 3, stride=2, padding=1))
        self.mid = ResBlock(chans[-1], chans[-1], emb_dim, num_groups, dropout)
        self.up = nn.ModuleList()
        self.upsample = nn.ModuleList()
        for i in reversed(range(len(chans))):
            # Input: the upsampled features (chans[i] channels) concatenated with the skip (chans[i]).
            self.up.append(ResBlock(2 * chans[i], chans[i], emb_dim, num_groups, dropout))
            if i > 0:
                self.upsample.append(Upsample(chans[i], chans[i - 1]))
        self.norm_out = nn.GroupNorm(num_groups, chans[0])
        self.conv_out = nn.Conv2d(chans[0], out_channels, 3, padding=1)

    def forward(self, x: Tensor, t: Tensor | None = None, context: Tensor | None = None, *,
                augment: Tensor | None = None) -> Tensor:
        """Predict noise (or, without time embedding, any per-pixel map) for a batch of images.

        Args:
            x: images (N, in_channels, H, W) with H, W divisible by ``downsample_factor``.
            t: timesteps (N,), integer dtype, >= 0; required with a time embedding, else must be None.
            context: (N, context_dim) float, or None for the all-zero (unconditional) context.
            augment: (N, augment_dim) float augmentation labels of the training images, or None
                for zeros (no augmentation: what sampling asks for).

        Returns:
            (N, out_channels, H, W).
        """
        _check_x(x, self.conv_in.weight, "(N, C, H, W)")
        if x.ndim != 4:
            raise ValueError(f"x must have shape (N, C, H, W); got {tuple(x.shape)}")
        if x.shape[1] != self.in_channels:
            raise ValueError(f"x must have {self.in_channels} channels (in_channels); got {x.shape[1]} in {tuple(x.shape)}")
        f = self.downsample_factor
        if x.shape[2] % f or x.shape[3] % f:
            raise ValueError(
                f"x's height and width must be divisible by {f} (the UNet halves them {len(self.down) - 1} times); "
                f"got {x.shape[2]}x{x.shape[3]}"
            )
        emb = self._embedding(x, t, context)
        if self.augment_proj is not None and augment is not None:
            emb = emb + self.augment_proj(_check_augment(augment, x.shape[0], self.augment_dim, x))
        elif augment is not None:
            raise InvalidArgument("augment", "augment was given but this UNet has augment_dim=0 (it was not trained with augmentation)")

        h = self.conv_in(x)
        skips = []
        for i, block in enumerate(self.down):
            h = block(h, emb)
            skips.append(h)
            if i < len(self.downsample):
                h = self.downsample[i](h)
        h = self.mid(h, emb)
        for i, block in enumerate(self.up):
            h = block(torch.cat([h, skips.pop()], dim=1), emb)
            if i < len(self.upsample):
                h = self.upsample[i](h)
        return self.conv_out(F.silu(self.norm_out(h)))

    def _embedding(self, x: Tensor, t: Tensor | None, context: Tensor | None) -> Tensor | None:
        """Time embedding + context embedding, (N, 4 * base_channels), or None for a plain UNet."""
        n = x.shape[0]
        emb = None
        if self.time_mlp is not None:
            if t is None:
                raise ValueError("t is required: this UNet has a time embedding (time_embedding=True)")
            emb = self.time_mlp(sinusoidal_embedding(_check_t(t, n), self.base_channels).to(x.dtype))
        elif t is not None:
            raise ValueError("this UNet was built with time_embedding=False; call it without t")
        if self.context_proj is not None:
            c = self.context_proj(_check_context(context, n, self.context_dim, x))
            emb = c if emb is None else emb + c
        elif context is not None:
            raise ValueError("this model is unconditional (context_dim=0) but a context was given")
        return emb


class MLPDenoiser(nn.Module):
    """A noise-prediction MLP for low-dimensional data such as 2-D point clouds.

    h = W_x x + MLP(sinusoidal(t)) + W_c c, then ``num_layers`` blocks of SiLU -> Linear(hidden,
    hidden), then SiLU -> Linear(hidden, data_dim).

    Args:
        data_dim: D, the size of one data point (2 for the toy point clouds).
        hidden_dim: width of the hidden layers.
        num_layers: number of hidden-to-hidden layers, >= 1.
        context_dim: size of the context vector; 0 = unconditional.
        time_embed_dim: size of the sinusoidal time embedding (even, >= 4).

    Call ``model(x, t, context)`` with x (N, data_dim), t (N,) long, context (N, context_dim)
    float or None; the result has shape (N, data_dim).
    """

    def __init__(self, data_dim: int = 2, hidden_dim: int = 128, num_layers: int = 3, context_dim: int = 0,
                 time_embed_dim: int = 32) -> None:
        super().__init__()
        for name, value, low in [("data_dim", data_dim, 1), ("hidden_dim", hidden_dim, 1),
                                 ("num_layers", num_layers, 1), ("context_dim", context_dim, 0)]:
            check_int(name, value, low)
        check_int("time_embed_dim", time_embed_dim, 4)
        if time_embed_dim % 2:
            raise ValueError(f"time_embed_dim must be even; got {time_embed_dim}")
        self.config = dict(data_dim=data_dim, hidden_dim=hidden_dim, num_layers=num_layers,
                           context_dim=context_dim, time_embed_dim=time_embed_dim)
        self.data_dim, self.context_dim, self.time_embed_dim = data_dim, context_dim, time_embed_dim
        self.x_proj = nn.Linear(data_dim, hidden_dim)
        self.time_mlp = nn.Sequential(nn.Linear(time_embed_dim, hidden_dim), nn.SiLU(), nn.Linear(hidden_dim, hidden_dim))
        self.context_proj = nn.Linear(context_dim, hidden_dim) if context_dim else None
        self.hidden = nn.ModuleList(nn.Linear(hidden_dim, hidden_dim) for _ in range(num_layers))
        self.out = nn.Linear(hidden_dim, data_dim)

    def forward(self, x: Tensor, t: Tensor, context: Tensor | None = None) -> Tensor:
        """x (N, data_dim), t (N,) integer >= 0, context (N, context_dim) or None -> predicted noise (N, data_dim)."""
        _check_x(x, self.x_proj.weight, f"(N, {self.data_dim})")
        if x.ndim != 2 or x.shape[1] != self.data_dim:
            raise ValueError(f"x must have shape (N, {self.data_dim}) (data_dim); got {tuple(x.shape)}")
        n = x.shape[0]
        h = self.x_proj(x) + self.time_mlp(sinusoidal_embedding(_check_t(t, n), self.time_embed_dim).to(x.dtype))
        if self.context_proj is not None:
            h = h + self.context_proj(_check_context(context, n, self.context_dim, x))
        elif context is not None:
            raise ValueError("this model is unconditional (context_dim=0) but a context was given")
        for layer in self.hidden:
            h = layer(F.silu(h))
        return self.out(F.silu(h))


_describe = describe


def _check_x(x: object, weight: Tensor, shape: str) -> None:
    """x must be a float tensor in the model's dtype (unless autocast converts it), else torch fails deep inside."""
    if not isinstance(x, Tensor):
        raise InvalidArgument("x", f"x must be a float tensor of shape {shape}; got {describe(x)}")
    if not x.dtype.is_floating_point:
        raise InvalidArgument(
            "x", f"x must be a float tensor (images scaled to [-1, 1]); got dtype {x.dtype} (e.g. x.float() / 127.5 - 1 for uint8)")
    if x.dtype != weight.dtype and not torch.is_autocast_enabled(x.device.type):
        raise InvalidArgument("x", f"x has dtype {x.dtype} but the model's weights are {weight.dtype}; "
                              f"convert one to the other (x.to({weight.dtype}) or model.to({x.dtype}))")


def _check_t(t: Tensor | None, n: int) -> Tensor:
    """Timesteps must be an integer tensor of shape (n,) with values >= 0."""
    if t is None:
        raise ValueError("t is required: pass the timesteps as a long tensor of shape (N,)")
    if not isinstance(t, Tensor):
        raise TypeError(f"t must be a long tensor of shape ({n},); got {_describe(t)}")
    if t.dtype.is_floating_point or t.dtype == torch.bool or t.is_complex():
        raise TypeError(f"t must be an integer tensor (timesteps 0..T-1); got dtype {t.dtype}")
    if t.shape != (n,):
        raise ValueError(f"t must have shape ({n},), one timestep per sample; got {tuple(t.shape)}")
    if n and t.min() < 0:
        raise ValueError(f"t must be >= 0; got a minimum of {int(t.min())}")
    return t


def _check_augment(augment: object, n: int, augment_dim: int, x: Tensor) -> Tensor:
    """Augmentation labels: a float (n, augment_dim) tensor, returned in x's dtype."""
    if not isinstance(augment, Tensor) or not augment.dtype.is_floating_point or augment.shape != (n, augment_dim):
        raise InvalidArgument("augment", f"augment must be a float tensor of shape ({n}, {augment_dim}); got {_describe(augment)}")
    return augment.to(dtype=x.dtype)


def _check_context(context: Tensor | None, n: int, context_dim: int, x: Tensor) -> Tensor:
    """A float (n, context_dim) context on x's device and dtype; None becomes all zeros."""
    if context is None:
        return x.new_zeros(n, context_dim)
    if not isinstance(context, Tensor) or not context.dtype.is_floating_point:
        raise TypeError(
            f"context must be a float tensor of shape ({n}, {context_dim}); got {_describe(context)} "
            "(turn labels into a context with to_context)"
        )
    if context.shape != (n, context_dim):
        raise ValueError(f"context must have shape ({n}, {context_dim}) (N, context_dim); got {tuple(context.shape)}")
    return context.to(dtype=x.dtype)
