"""Attention: shapes, masking, and equality with PyTorch's and diffusers' implementations."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from course_lib.attention import CrossAttention, SpatialTransformer, scaled_dot_product_attention


def test_scaled_dot_product_attention_equals_pytorch_with_and_without_mask():
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(2, 3, 5, 8, generator=g), torch.randn(2, 3, 7, 8, generator=g), torch.randn(2, 3, 7, 6, generator=g))
    torch.testing.assert_close(scaled_dot_product_attention(q, k, v), F.scaled_dot_product_attention(q, k, v))
    mask = torch.rand(2, 1, 5, 7, generator=g) > 0.4
    mask[..., 0] = True  # every query keeps a key
    torch.testing.assert_close(scaled_dot_product_attention(q, k, v, mask),
                               F.scaled_dot_product_attention(q, k, v, attn_mask=mask))


def test_attention_by_hand_for_one_query():
    # One query, two keys: weights softmax([q.k1, q.k2] / sqrt(2)), output their mix of the values.
    q = torch.tensor([[1.0, 0.0]])
    k = torch.tensor([[2.0, 0.0], [0.0, 1.0]])
    v = torch.tensor([[10.0], [20.0]])
    w = torch.softmax(torch.tensor([2.0, 0.0]) / 2**0.5, dim=0)
    assert torch.allclose(scaled_dot_product_attention(q, k, v), (w[0] * 10 + w[1] * 20).reshape(1, 1))


def test_masked_tokens_are_ignored():
    torch.manual_seed(0)
    attention = CrossAttention(16, context_dim=12, heads=4)
    x, context = torch.randn(2, 9, 16), torch.randn(2, 5, 12)
    mask = torch.tensor([[True, True, True, False, False], [True, False, False, False, False]])
    changed = context.clone()
    changed[~mask] = 100.0  # whatever the padding holds
    out = attention(x, context, mask)
    torch.testing.assert_close(out, attention(x, changed, mask))
    # Dropping the masked tokens altogether gives the same result, row by row.
    torch.testing.assert_close(out[:1], attention(x[:1], context[:1, :3]))
    torch.testing.assert_close(out[1:], attention(x[1:], context[1:, :1]))
    assert not torch.allclose(out, attention(x, changed))  # without the mask the padding matters


def test_shapes_and_errors():
    attention = CrossAttention(16, context_dim=12, heads=4)
    assert attention(torch.randn(3, 10, 16), torch.randn(3, 4, 12)).shape == (3, 10, 16)
    assert CrossAttention(16, heads=2)(torch.randn(3, 10, 16)).shape == (3, 10, 16)  # self-attention
    with pytest.raises(ValueError, match="divisible by heads"):
        CrossAttention(10, heads=4)
    with pytest.raises(ValueError, match="context must have shape"):
        attention(torch.randn(3, 10, 16), torch.randn(3, 4, 16))
    with pytest.raises(ValueError, match="x must have shape"):
        attention(torch.randn(3, 16), torch.randn(3, 4, 12))
    with pytest.raises(ValueError, match="at least one key"):
        attention(torch.randn(1, 2, 16), torch.randn(1, 4, 12), torch.zeros(1, 4, dtype=torch.bool))
    with pytest.raises(TypeError, match="bool"):
        scaled_dot_product_attention(torch.randn(2, 4), torch.randn(3, 4), torch.randn(3, 4), torch.ones(2, 3))
    block = SpatialTransformer(16, context_dim=12, heads=4, num_groups=4)
    assert block(torch.randn(2, 16, 4, 4), torch.randn(2, 5, 12)).shape == (2, 16, 4, 4)


def test_self_attention_is_permutation_equivariant():
    torch.manual_seed(0)
    attention = CrossAttention(8, heads=2)
    x = torch.randn(1, 6, 8)
    order = torch.randperm(6)
    torch.testing.assert_close(attention(x[:, order]), attention(x)[:, order])


def test_cross_attention_equals_diffusers_attention():
    attention_processor = pytest.importorskip("diffusers.models.attention_processor")
    torch.manual_seed(0)
    ours = CrossAttention(16, context_dim=12, heads=4)
    theirs = attention_processor.Attention(query_dim=16, cross_attention_dim=12, heads=4, dim_head=4, out_bias=True)
    state = {k.replace("to_out.", "to_out.0."): v for k, v in ours.state_dict().items()}
    theirs.load_state_dict(state, strict=True)
    x, context = torch.randn(2, 9, 16), torch.randn(2, 5, 12)
    torch.testing.assert_close(ours(x, context), theirs(x, context), atol=1e-6, rtol=1e-5)
