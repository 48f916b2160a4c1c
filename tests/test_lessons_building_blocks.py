"""Claims made in lessons 03 (CNNs and the UNet) and 04 (VAEs and CLIP), checked against
independent references: PyTorch's own layers, diffusers' implementations of the same pieces,
and formulas evaluated element by element."""

import math
import warnings

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import TqdmWarning

from course_lib.clip import clip_loss
from course_lib.exercises import diagnose
from course_lib.models import ResBlock, UNet, sinusoidal_embedding
from course_lib.vae import kl_divergence, reparameterise, vae_loss

with warnings.catch_warnings():
    warnings.simplefilter("ignore", TqdmWarning)
    from diffusers.models.autoencoders.vae import DiagonalGaussianDistribution
    from diffusers.models.embeddings import get_timestep_embedding
    from diffusers.models.resnet import ResnetBlock2D


def interleave(halves: torch.Tensor) -> torch.Tensor:
    """(N, dim) as [a_0..a_{dim/2-1}, b_0..b_{dim/2-1}] -> [a_0, b_0, a_1, b_1, ...]."""
    return halves.unflatten(1, (2, -1)).transpose(1, 2).flatten(1)


# Lesson 03 ----------------------------------------------------------------------------------

@pytest.mark.parametrize("n", [7, 8, 15, 16, 33])
def test_conv_output_size_formula_matches_pytorch(n):
    # Lesson 03, "Padding and stride": n_out = floor((n + 2p - k) / s) + 1.
    for k in (1, 2, 3, 4, 5, 7):
        for p in range(0, k // 2 + 1):
            for s in (1, 2, 3):
                if n + 2 * p < k:
                    continue
                measured = nn.Conv2d(1, 1, k, stride=s, padding=p)(torch.zeros(1, 1, n, n)).shape[-1]
                assert measured == (n + 2 * p - k) // s + 1, (n, k, p, s)


def test_transposed_conv_with_stride_two_makes_a_checkerboard_and_resize_conv_does_not():
    # Lesson 03, "Down- and up-sampling": all-ones weights, constant input.
    flat = torch.ones(1, 1, 8, 8)
    transposed = nn.ConvTranspose2d(1, 1, 3, stride=2, padding=1, output_padding=1, bias=False)
    resize_conv = nn.Conv2d(1, 1, 3, padding=1, bias=False)
    with torch.no_grad():
        transposed.weight.fill_(1.0)
        resize_conv.weight.fill_(1.0)
        up_transposed = transposed(flat)[0, 0, 2:-2, 2:-2]
        up_resize = resize_conv(F.interpolate(flat, scale_factor=2, mode="nearest"))[0, 0, 2:-2, 2:-2]
    assert sorted(up_transposed.unique().tolist()) == [1.0, 2.0, 4.0]  # 1, 2 or 4 overlapping patches
    assert up_resize.unique().tolist() == [9.0]


def test_group_norm_is_per_image_and_batch_norm_is_not():
    g = torch.Generator().manual_seed(0)
    features = torch.randn(8, 16, 8, 8, generator=g)
    other = torch.cat([features[:1], 3.0 * torch.randn(7, 16, 8, 8, generator=g) + 1.0])
    group_norm, batch_norm = nn.GroupNorm(4, 16), nn.BatchNorm2d(16)
    assert torch.allclose(group_norm(features)[0], group_norm(other)[0], atol=1e-5)
    assert (batch_norm(features)[0] - batch_norm(other)[0]).abs().max() > 0.5


@pytest.mark.parametrize("c_in,c_out", [(16, 32), (32, 32)])
def test_course_resblock_equals_diffusers_resnetblock2d_with_the_same_weights(c_in, c_out):
    # Lesson 03, "The course's residual block, written out": the same layers under other names.
    torch.manual_seed(0)
    ours = ResBlock(c_in, c_out, emb_dim=64, num_groups=8)
    theirs = ResnetBlock2D(in_channels=c_in, out_channels=c_out, temb_channels=64, groups=8, eps=1e-5)
    state = {k.replace("emb.", "time_emb_proj.").replace("skip.", "conv_shortcut."): v for k, v in ours.state_dict().items()}
    theirs.load_state_dict(state)  # strict: every diffusers parameter is matched
    g = torch.Generator().manual_seed(1)
    x, emb = torch.randn(3, c_in, 8, 8, generator=g), torch.randn(3, 64, generator=g)
    with torch.no_grad():
        assert torch.allclose(ours(x, emb), theirs(x, emb), atol=1e-5)


def test_time_embedding_is_the_ddpm_code_layout_not_the_transformers():
    # Lesson 03, "Not quite the Transformer's embedding", against the formulas element by element.
    dim, half = 16, 8
    t = torch.tensor([0, 3, 77, 499])
    ddpm = torch.tensor([[math.sin(s * 10000 ** (-i / (half - 1))) for i in range(half)]
                         + [math.cos(s * 10000 ** (-i / (half - 1))) for i in range(half)] for s in t.tolist()])
    transformer = torch.tensor([[f(s * 10000 ** (-2 * (j // 2) / dim)) for j, f in
                                 zip(range(dim), [math.sin, math.cos] * half)] for s in t.tolist()])
    assert torch.allclose(sinusoidal_embedding(t, dim), ddpm, atol=1e-4)
    assert torch.allclose(get_timestep_embedding(t, dim, flip_sin_to_cos=False, downscale_freq_shift=1), ddpm, atol=1e-4)
    # the reference of the lesson's exercise is the Transformer's encoding...
    assert torch.allclose(interleave(get_timestep_embedding(t, dim, downscale_freq_shift=0)), transformer, atol=1e-4)
    # ...which the course's embedding is not, even reordered: the frequencies differ too
    assert (interleave(sinusoidal_embedding(t, dim)) - transformer).abs().max() > 0.1


def test_the_transformer_embedding_exercise_names_each_likely_mistake():
    # Lesson 03, exercise 1: each named mistake is distinct from the answer and recognised.
    t = torch.tensor([0, 1, 10, 250, 499])
    reference = interleave(get_timestep_embedding(t, 32, downscale_freq_shift=0))
    mistakes = {
        "layout": get_timestep_embedding(t, 32, downscale_freq_shift=0),
        "frequencies": interleave(sinusoidal_embedding(t, 32)),
        "swapped": interleave(get_timestep_embedding(t, 32, flip_sin_to_cos=True, downscale_freq_shift=0)),
    }
    for name, wrong in mistakes.items():
        assert diagnose(wrong, reference, atol=1e-4, mistakes=mistakes) == f"it equals {name}"
    frequencies = 10000.0 ** (-torch.arange(0, 32, 2) / 32)
    angles = t.float()[:, None] * frequencies
    written = torch.stack([angles.sin(), angles.cos()], dim=2).flatten(1)  # sin, cos, sin, cos, ...
    assert diagnose(written, reference, atol=1e-4, mistakes=mistakes) is None


@pytest.mark.parametrize("context_dim", [0, 3])
def test_unet_forward_is_the_walk_down_and_up_through_its_own_layers(context_dim):
    # Lesson 03, "The forward pass, written out", with a time embedding and a context.
    torch.manual_seed(0)
    unet = UNet(in_channels=3, base_channels=16, channel_mults=(1, 2, 2), context_dim=context_dim)
    g = torch.Generator().manual_seed(2)
    x, t = torch.randn(2, 3, 16, 16, generator=g), torch.tensor([5, 300])
    context = torch.randn(2, context_dim, generator=g) if context_dim else None
    with torch.no_grad():
        emb = unet.time_mlp(sinusoidal_embedding(t, 16))
        if context_dim:
            emb = emb + unet.context_proj(context)
        h, skips = unet.conv_in(x), []
        for block, down in zip(unet.down, [*unet.downsample, nn.Identity()]):
            h = block(h, emb)
            skips.append(h)
            h = down(h)
        h = unet.mid(h, emb)
        for block, up in zip(unet.up, [*unet.upsample, nn.Identity()]):
            h = up(block(torch.cat([h, skips.pop()], dim=1), emb))
        written = unet.conv_out(F.silu(unet.norm_out(h)))
        assert torch.equal(written, unet(x, t, context))


# Lesson 04 ----------------------------------------------------------------------------------

def test_reparameterise_and_kl_equal_diffusers_diagonal_gaussian():
    # Lesson 04, "The reparameterisation trick": the same draw for the same generator, the same KL.
    mu, logvar = torch.randn(6, 10, generator=torch.Generator().manual_seed(0)).chunk(2, dim=1)
    posterior = DiagonalGaussianDistribution(torch.cat([mu, logvar], dim=1)[:, :, None, None])
    ours = reparameterise(mu, logvar, torch.Generator().manual_seed(5))
    theirs = posterior.sample(torch.Generator().manual_seed(5))[:, :, 0, 0]
    assert torch.allclose(ours, theirs)
    assert torch.allclose(kl_divergence(mu, logvar), posterior.kl(), atol=1e-6)


def test_vae_loss_is_per_image_squared_error_plus_beta_kl():
    # Lesson 04, "Training the VAE": reconstruction summed over pixels, both terms averaged over images.
    g = torch.Generator().manual_seed(0)
    x, x_hat = torch.randn(4, 1, 3, 3, generator=g), torch.randn(4, 1, 3, 3, generator=g)
    mu, logvar = torch.randn(4, 2, generator=g), torch.randn(4, 2, generator=g)
    reconstruction = sum(float(((x[n] - x_hat[n]) ** 2).sum()) for n in range(4)) / 4
    kl = sum(0.5 * (mu[n, j] ** 2 + logvar[n, j].exp() - 1 - logvar[n, j]).item() for n in range(4) for j in range(2)) / 4
    total, rec, kl_term = vae_loss(x, x_hat, mu, logvar, beta=0.5)
    assert math.isclose(rec.item(), reconstruction, rel_tol=1e-5)
    assert math.isclose(kl_term.item(), kl, rel_tol=1e-5)
    assert math.isclose(total.item(), reconstruction + 0.5 * kl, rel_tol=1e-5)


def test_clip_loss_is_the_mean_of_row_and_column_log_softmax_at_the_diagonal():
    # Lesson 04, "Part 2: a tiny CLIP", with explicit sums.
    logits = torch.randn(5, 5, generator=torch.Generator().manual_seed(0)) * 4
    rows = [-(logits[i, i] - math.log(sum(math.exp(v) for v in logits[i].tolist()))) for i in range(5)]
    cols = [-(logits[i, i] - math.log(sum(math.exp(v) for v in logits[:, i].tolist()))) for i in range(5)]
    assert math.isclose(clip_loss(logits).item(), (sum(rows) + sum(cols)).item() / 10, rel_tol=1e-5)


def test_the_clip_loss_exercise_names_each_likely_mistake():
    # Lesson 04, exercise 1: one direction only, no temperature and unnormalised features are all told apart.
    g = torch.Generator().manual_seed(0)
    image_features, text_features = torch.randn(16, 8, generator=g) * 3, torch.randn(16, 8, generator=g) * 3
    text_features[:, 0] += image_features[:, 0]  # some agreement, as after training
    scale = torch.tensor(1 / 0.07)
    images, texts = F.normalize(image_features, dim=1), F.normalize(text_features, dim=1)
    expected = clip_loss(scale * images @ texts.T)
    mistakes = {
        "one direction": F.cross_entropy(scale * images @ texts.T, torch.arange(16)),
        "no temperature": clip_loss(images @ texts.T),
        "not normalised": clip_loss(scale * image_features @ text_features.T),
    }
    for name, wrong in mistakes.items():
        assert diagnose(wrong, expected, mistakes=mistakes) == f"it equals {name}"
