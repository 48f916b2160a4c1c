"""Attention: how an image looks at a caption (Vaswani et al. 2017; Rombach et al. 2022, section 3.3).

Scaled dot-product attention (Vaswani et al. 2017, eq. 1) mixes the rows of V with weights
softmax(Q K^T / sqrt(d)): every query row gets a weighted average of the value rows, the
weights saying how well the query matches each key. In **cross-attention** the queries come
from one sequence (the latent image's pixels) and the keys and values from another (the
caption's tokens), so each pixel gathers what the caption says. Latent diffusion (Rombach et
al. 2022, eq. 3) computes Q = W_Q phi(z_t), K = W_K tau(y), V = W_V tau(y), with phi(z_t) the
UNet's flattened feature map and tau(y) the text encoder's per-token output.

:class:`SpatialTransformer` is the block Rombach et al. insert after the UNet's residual
blocks (and diffusers calls ``Transformer2DModel``): GroupNorm, a linear map in, then
self-attention, cross-attention to the text and a GEGLU feed-forward (Shazeer 2020), each with
a LayerNorm before it and a residual connection around it, a linear map out, and a residual
connection around the whole block. Layer names follow diffusers' so that the weights convert
by renaming (see :mod:`course_lib.text_to_image`).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .validation import describe


def scaled_dot_product_attention(query: Tensor, key: Tensor, value: Tensor, mask: Tensor | None = None) -> Tensor:
    """softmax(Q K^T / sqrt(d) + masked) V (Vaswani et al. 2017, eq. 1), for any leading batch dimensions.

    Args:
        query: (..., L_q, d).
        key: (..., L_k, d).
        value: (..., L_k, d_v).
        mask: optional bool, broadcastable to (..., L_q, L_k): True where a query may attend
            to a key. Every query must keep at least one key (an all-False row has no softmax).

    Returns:
        (..., L_q, d_v): each query's weighted average of the value rows.
    """
    for name, value_ in [("query", query), ("key", key), ("value", value)]:
        if not isinstance(value_, Tensor) or not value_.dtype.is_floating_point or value_.ndim < 2:
            raise TypeError(f"{name} must be a float tensor of shape (..., L, d); got {describe(value_)}")
    if query.shape[-1] != key.shape[-1]:
        raise ValueError(f"query and key must have the same last dimension d; got {query.shape[-1]} and {key.shape[-1]}")
    if key.shape[-2] != value.shape[-2]:
        raise ValueError(f"key and value must have the same length L_k; got {key.shape[-2]} and {value.shape[-2]}")
    scores = query @ key.transpose(-2, -1) / math.sqrt(query.shape[-1])  # (..., L_q, L_k)
    if mask is not None:
        if not isinstance(mask, Tensor) or mask.dtype != torch.bool:
            raise TypeError(f"mask must be a bool tensor (True = may attend); got {describe(mask)}")
        try:
            mask = torch.broadcast_to(mask, scores.shape)
        except RuntimeError as e:
            raise ValueError(f"mask of shape {tuple(mask.shape)} does not broadcast to the scores {tuple(scores.shape)}") from e
        if not mask.any(dim=-1).all():
            raise ValueError("every query must be allowed to attend to at least one key (a mask row is all False)")
        scores = scores.masked_fill(~mask, float("-inf"))
    return scores.softmax(dim=-1) @ value


class CrossAttention(nn.Module):
    """Multi-head attention of ``x`` (queries) to ``context`` (keys and values); self-attention without a context.

    Args:
        query_dim: channels C of x.
        context_dim: channels D of the context tokens; ``None`` means D = C (self-attention).
        heads: number of heads; C must be divisible by it (each head has C / heads channels).

    ``forward(x, context=None, mask=None)``: x (N, L_q, C), context (N, L_k, D) or None
    (attend to x itself), mask bool (N, L_k) True on the tokens that may be attended to (e.g.
    the words of a padded caption) or (N, L_q, L_k). Returns (N, L_q, C).

    As in Rombach et al. 2022 (and diffusers' ``Attention``): bias-free projections to_q, to_k,
    to_v, and an output projection ``to_out`` with a bias.
    """

    def __init__(self, query_dim: int, context_dim: int | None = None, heads: int = 4) -> None:
        super().__init__()
        context_dim = query_dim if context_dim is None else context_dim
        for name, value in [("query_dim", query_dim), ("context_dim", context_dim), ("heads", heads)]:
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive int; got {value!r}")
        if query_dim % heads:
            raise ValueError(f"query_dim={query_dim} must be divisible by heads={heads}")
        self.query_dim, self.context_dim, self.heads = query_dim, context_dim, heads
        self.to_q = nn.Linear(query_dim, query_dim, bias=False)
        self.to_k = nn.Linear(context_dim, query_dim, bias=False)
        self.to_v = nn.Linear(context_dim, query_dim, bias=False)
        self.to_out = nn.Linear(query_dim, query_dim)

    def forward(self, x: Tensor, context: Tensor | None = None, mask: Tensor | None = None) -> Tensor:
        if not isinstance(x, Tensor) or x.ndim != 3 or x.shape[2] != self.query_dim:
            raise ValueError(f"x must have shape (N, L_q, {self.query_dim}); got {describe(x)}")
        context = x if context is None else context
        if not isinstance(context, Tensor) or context.ndim != 3 or context.shape[0] != x.shape[0] \
                or context.shape[2] != self.context_dim:
            raise ValueError(f"context must have shape ({x.shape[0]}, L_k, {self.context_dim}); got {describe(context)}")
        if mask is not None and isinstance(mask, Tensor) and mask.ndim == 2:
            if mask.shape != context.shape[:2]:
                raise ValueError(f"a (N, L_k) mask must have shape {tuple(context.shape[:2])}; got {tuple(mask.shape)}")
            mask = mask[:, None, None, :]  # (N, 1 head, 1 query, L_k)
        elif mask is not None and isinstance(mask, Tensor) and mask.ndim == 3:
            mask = mask[:, None]  # (N, 1 head, L_q, L_k)

        def split_heads(t: Tensor) -> Tensor:  # (N, L, C) -> (N, heads, L, C / heads)
            return t.unflatten(2, (self.heads, -1)).transpose(1, 2)

        q, k, v = split_heads(self.to_q(x)), split_heads(self.to_k(context)), split_heads(self.to_v(context))
        out = scaled_dot_product_attention(q, k, v, mask)  # (N, heads, L_q, C / heads)
        return self.to_out(out.transpose(1, 2).flatten(2))


class GEGLUFeedForward(nn.Module):
    """Linear(C, 2 * 4C) -> split into (h, gate) -> h * GELU(gate) -> Linear(4C, C) (Shazeer 2020, eq. 5)."""

    def __init__(self, dim: int, mult: int = 4) -> None:
        super().__init__()
        self.proj = nn.Linear(dim, 2 * mult * dim)
        self.out = nn.Linear(mult * dim, dim)

    def forward(self, x: Tensor) -> Tensor:
        hidden, gate = self.proj(x).chunk(2, dim=-1)
        return self.out(hidden * F.gelu(gate))


class TransformerBlock(nn.Module):
    """x + SelfAttn(LN x), then + CrossAttn(LN x, context), then + FeedForward(LN x), on tokens (N, L, C)."""

    def __init__(self, dim: int, context_dim: int, heads: int) -> None:
        super().__init__()
        self.norm1, self.attn1 = nn.LayerNorm(dim), CrossAttention(dim, None, heads)
        self.norm2, self.attn2 = nn.LayerNorm(dim), CrossAttention(dim, context_dim, heads)
        self.norm3, self.ff = nn.LayerNorm(dim), GEGLUFeedForward(dim)

    def forward(self, x: Tensor, context: Tensor, mask: Tensor | None = None) -> Tensor:
        x = x + self.attn1(self.norm1(x))
        x = x + self.attn2(self.norm2(x), context, mask)
        return x + self.ff(self.norm3(x))


class SpatialTransformer(nn.Module):
    """Cross-attention for feature maps: (N, C, H, W) attends to text tokens (N, L, D) (Rombach et al. 2022, section 3.3).

    GroupNorm, flatten the H*W pixels into tokens, a linear map, one :class:`TransformerBlock`,
    a linear map, back to (N, C, H, W), plus the input (a residual connection).

    Args:
        channels: C (divisible by ``heads`` and by ``num_groups``).
        context_dim: D, the text encoder's width.
        heads: attention heads.
        num_groups: groups of the GroupNorm.
    """

    def __init__(self, channels: int, context_dim: int, heads: int = 4, num_groups: int = 8) -> None:
        super().__init__()
        if channels % num_groups:
            raise ValueError(f"num_groups={num_groups} must divide channels={channels}")
        self.norm = nn.GroupNorm(num_groups, channels, eps=1e-6)
        self.proj_in = nn.Linear(channels, channels)
        self.block = TransformerBlock(channels, context_dim, heads)
        self.proj_out = nn.Linear(channels, channels)

    def forward(self, x: Tensor, context: Tensor, mask: Tensor | None = None) -> Tensor:
        """x (N, C, H, W), context (N, L, D), optional mask (N, L) -> (N, C, H, W)."""
        if not isinstance(x, Tensor) or x.ndim != 4:
            raise ValueError(f"x must be a feature map (N, C, H, W); got {describe(x)}")
        n, c, h, w = x.shape
        tokens = self.proj_in(self.norm(x).flatten(2).transpose(1, 2))  # (N, H*W, C)
        tokens = self.proj_out(self.block(tokens, context, mask))
        return x + tokens.transpose(1, 2).reshape(n, c, h, w)
