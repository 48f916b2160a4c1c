"""The denoising networks: shapes, conditioning, embeddings and input checks."""

import json
import math

import pytest
import torch
import torch.nn.functional as F

from course_lib.models import MLPDenoiser, UNet, count_parameters, sinusoidal_embedding, to_context


def _batch(n=2, c=1, size=16, T=500, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, c, size, size, generator=g), torch.randint(0, T, (n,), generator=g)


# --- sinusoidal_embedding -------------------------------------------------------------------


def test_sinusoidal_embedding_matches_the_formula_element_by_element():
    t = torch.tensor([0, 1, 7, 250, 499])
    dim = 8
    emb = sinusoidal_embedding(t, dim)
    half = dim // 2
    for n, tn in enumerate(t.tolist()):
        for i in range(half):
            w = 10000 ** (-i / (half - 1))
            assert emb[n, i].item() == pytest.approx(math.sin(tn * w), abs=1e-5)
            assert emb[n, half + i].item() == pytest.approx(math.cos(tn * w), abs=1e-5)
    assert emb.dtype == torch.float32 and emb.shape == (5, 8)


def test_sinusoidal_embedding_matches_diffusers():
    embeddings = pytest.importorskip("diffusers.models.embeddings")
    t = torch.arange(0, 1000, 37)
    ours = sinusoidal_embedding(t, 32)
    theirs = embeddings.get_timestep_embedding(t, 32, flip_sin_to_cos=False, downscale_freq_shift=1)
    torch.testing.assert_close(ours, theirs, rtol=0, atol=1e-5)


def test_sinusoidal_embedding_accepts_float_timesteps():
    assert torch.equal(sinusoidal_embedding(torch.tensor([3.0, 5.0]), 6), sinusoidal_embedding(torch.tensor([3, 5]), 6))


@pytest.mark.parametrize("dim", [0, 2, 7, 4.0])
def test_sinusoidal_embedding_rejects_bad_dim(dim):
    with pytest.raises(ValueError, match="dim must be an even int"):
        sinusoidal_embedding(torch.arange(3), dim)


def test_sinusoidal_embedding_rejects_bad_t():
    with pytest.raises(ValueError, match=r"t must be a 1-D tensor"):
        sinusoidal_embedding(torch.zeros(2, 3), 8)
    with pytest.raises(TypeError, match="t must be an integer or float"):
        sinusoidal_embedding(torch.tensor([True, False]), 8)


# --- to_context -------------------------------------------------------------------------------


def test_to_context_one_hot():
    context = to_context(torch.tensor([2, 0, 4]), 5)
    assert context.dtype == torch.float32
    assert torch.equal(context, torch.eye(5)[[2, 0, 4]])


def test_to_context_passes_attributes_through():
    attributes = torch.tensor([[1.0, 0.0, 1.0], [0.0, 0.0, 0.0]], dtype=torch.float64)
    out = to_context(attributes, 3)
    assert out.dtype == torch.float32 and torch.equal(out, attributes.float())
    assert torch.equal(to_context(attributes.bool(), 3), attributes.float())


def test_to_context_errors():
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 4\]"):
        to_context(torch.tensor([0, 5]), 5)
    with pytest.raises(ValueError, match=r"labels must lie in"):
        to_context(torch.tensor([-1]), 5)
    with pytest.raises(ValueError, match=r"float attributes must have shape \(N, 3\)"):
        to_context(torch.ones(4, 2), 3)
    with pytest.raises(ValueError, match=r"integer labels must have shape \(N,\)"):
        to_context(torch.ones(4, 3, dtype=torch.long), 3)
    with pytest.raises(ValueError, match="context_dim must be a positive int"):
        to_context(torch.tensor([0]), 0)


# --- UNet ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [8, 16, 32])
@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("context_dim", [0, 5])
def test_unet_output_shape(size, channels, context_dim):
    model = UNet(in_channels=channels, context_dim=context_dim)
    x, t = _batch(c=channels, size=size)
    context = to_context(torch.tensor([1, 3]), context_dim) if context_dim else None
    out = model(x, t, context)
    assert out.shape == x.shape and out.dtype == torch.float32 and torch.isfinite(out).all()


def test_unet_out_channels_and_non_square_input():
    model = UNet(in_channels=3, out_channels=2, base_channels=8, channel_mults=(1, 2))
    x = torch.randn(2, 3, 12, 20)
    assert model(x, torch.tensor([0, 9])).shape == (2, 2, 12, 20)


def test_unet_default_size():
    n = count_parameters(UNet())
    assert 250_000 < n < 450_000, n
    # Parameter count grows with width: a wider model of the same shape has more.
    assert count_parameters(UNet(base_channels=32)) > 3 * n


def test_count_parameters_is_the_sum_of_weights_and_biases():
    assert count_parameters(torch.nn.Linear(3, 4)) == 3 * 4 + 4
    assert count_parameters(MLPDenoiser(data_dim=2, hidden_dim=8, num_layers=1, time_embed_dim=4)) == (
        (2 * 8 + 8) + (4 * 8 + 8) + (8 * 8 + 8) + (8 * 8 + 8) + (8 * 2 + 2)
    )


def test_unet_depends_on_t_and_context():
    torch.manual_seed(0)
    model = UNet(context_dim=4)
    x, t = _batch()
    zeros = torch.zeros(2, 4)
    one_hot = to_context(torch.tensor([1, 1]), 4)
    assert torch.equal(model(x, t, None), model(x, t, zeros))
    assert (model(x, t, one_hot) - model(x, t, zeros)).abs().max() > 1e-3
    assert (model(x, t + 100, zeros) - model(x, t, zeros)).abs().max() > 1e-3
    # Samples do not leak into each other: changing sample 1's context leaves sample 0 alone.
    mixed = torch.stack([zeros[0], one_hot[1]])
    torch.testing.assert_close(model(x, t, mixed)[0], model(x, t, zeros)[0])


def test_every_unet_parameter_is_used_and_none_is_created_in_forward():
    torch.manual_seed(0)
    model = UNet(context_dim=3)
    names_before = [name for name, _ in model.named_parameters()]
    x, t = _batch()
    model(x, t, torch.ones(2, 3)).square().mean().backward()
    assert [name for name, _ in model.named_parameters()] == names_before
    unused = [name for name, p in model.named_parameters() if p.grad is None or p.grad.abs().sum() == 0]
    assert unused == []


def test_unet_without_time_embedding_is_a_plain_image_to_image_net():
    model = UNet(in_channels=3, out_channels=1, time_embedding=False)
    assert model.time_mlp is None
    x = torch.randn(2, 3, 16, 16)
    assert model(x).shape == (2, 1, 16, 16)
    with pytest.raises(ValueError, match="time_embedding=False; call it without t"):
        model(x, torch.tensor([1, 2]))


def test_unet_config_rebuilds_the_same_architecture_through_json():
    model = UNet(in_channels=3, context_dim=6, base_channels=8, channel_mults=(1, 2, 2, 4), num_groups=4)
    config = json.loads(json.dumps(model.config))
    rebuilt = UNet(**config)
    assert {k: v.shape for k, v in rebuilt.state_dict().items()} == {k: v.shape for k, v in model.state_dict().items()}
    assert rebuilt.config == model.config and rebuilt.context_dim == 6


def test_unet_overfits_a_fixed_batch():
    """Memorising the noise of 8 fixed noisy images at fixed timesteps: the loss must collapse."""
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(1)
    x_t = torch.randn(8, 1, 16, 16, generator=g)
    eps = torch.randn(8, 1, 16, 16, generator=g)
    t = torch.randint(0, 500, (8,), generator=g)
    model = UNet()
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(60):
        loss = F.mse_loss(model(x_t, t), eps)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[0] > 0.5
    assert min(losses[-10:]) < losses[0] / 20, (losses[0], losses[-10:])


def test_unet_dropout_acts_in_training_only_and_keeps_the_weights_interchangeable():
    torch.manual_seed(0)
    plain, dropped = UNet(), UNet(dropout=0.1)
    assert not any(isinstance(m, torch.nn.Dropout) for m in plain.modules())
    assert sum(isinstance(m, torch.nn.Dropout) for m in dropped.modules()) == 7  # one per residual block
    dropped.load_state_dict(plain.state_dict())  # the same parameters: shipped weights load either way
    x, t = torch.randn(4, 1, 16, 16), torch.tensor([0, 10, 100, 499])
    dropped.train()
    assert not torch.equal(dropped(x, t), dropped(x, t))
    plain.eval(), dropped.eval()
    torch.testing.assert_close(dropped(x, t), plain(x, t), rtol=0, atol=0)
    assert dropped.config["dropout"] == 0.1 and UNet(**dropped.config).config == dropped.config


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(dropout=1.0), "dropout must be a finite number in \\[0, 1\\)"),
        (dict(dropout=-0.1), "dropout must be a finite number in \\[0, 1\\)"),
        (dict(base_channels=12), "num_groups=8 must divide"),
        (dict(channel_mults=()), "channel_mults must be a non-empty sequence"),
        (dict(channel_mults=(1, 0)), "channel_mults must be a non-empty sequence"),
        (dict(in_channels=0), "in_channels must be a positive int"),
        (dict(base_channels=2, num_groups=1), "base_channels must be an int >= 4"),
        (dict(base_channels=9, num_groups=1), "base_channels must be even"),
        (dict(context_dim=-1), "context_dim must be a non-negative int"),
        (dict(context_dim=2.0), "context_dim must be a non-negative int"),
    ],
)
def test_unet_constructor_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        UNet(**kwargs)


def test_unet_forward_errors():
    model = UNet(context_dim=4)
    x, t = _batch()
    with pytest.raises(ValueError, match=r"x must have shape \(N, C, H, W\)"):
        model(x[0], t)
    with pytest.raises(ValueError, match=r"x must have 1 channels \(in_channels\)"):
        model(torch.randn(2, 3, 16, 16), t)
    with pytest.raises(ValueError, match="divisible by 4"):
        model(torch.randn(2, 1, 18, 16), t)
    with pytest.raises(ValueError, match="t is required"):
        model(x)
    with pytest.raises(TypeError, match="t must be an integer tensor"):
        model(x, t.float())
    with pytest.raises(ValueError, match=r"t must have shape \(2,\)"):
        model(x, t[:1])
    with pytest.raises(ValueError, match="t must be >= 0"):
        model(x, torch.tensor([-1, 3]))
    with pytest.raises(ValueError, match=r"context must have shape \(2, 4\)"):
        model(x, t, torch.zeros(2, 3))
    with pytest.raises(TypeError, match="context must be a float tensor.*to_context"):
        model(x, t, torch.tensor([1, 2]))
    with pytest.raises(ValueError, match="unconditional"):
        UNet()(x, t, torch.zeros(2, 4))


# --- MLPDenoiser --------------------------------------------------------------------------------


@pytest.mark.parametrize("data_dim", [1, 2, 5])
def test_mlp_output_shape(data_dim):
    model = MLPDenoiser(data_dim=data_dim)
    assert model(torch.randn(7, data_dim), torch.arange(7)).shape == (7, data_dim)


def test_mlp_context_and_config():
    torch.manual_seed(0)
    model = MLPDenoiser(context_dim=3, hidden_dim=32)
    x, t = torch.randn(4, 2), torch.tensor([0, 10, 100, 400])
    assert torch.equal(model(x, t), model(x, t, torch.zeros(4, 3)))
    assert (model(x, t, torch.eye(3)[[0, 1, 2, 0]]) - model(x, t)).abs().max() > 1e-4
    assert (model(x, t + 1) - model(x, t)).abs().max() > 0
    rebuilt = MLPDenoiser(**json.loads(json.dumps(model.config)))
    rebuilt.load_state_dict(model.state_dict())
    assert torch.equal(rebuilt(x, t), model(x, t))


def test_mlp_errors():
    model = MLPDenoiser()
    with pytest.raises(ValueError, match=r"x must have shape \(N, 2\)"):
        model(torch.randn(3, 3), torch.arange(3))
    with pytest.raises(TypeError, match="t must be an integer tensor"):
        model(torch.randn(3, 2), torch.rand(3))
    with pytest.raises(ValueError, match="t is required"):
        model(torch.randn(3, 2), None)
    with pytest.raises(ValueError, match="unconditional"):
        model(torch.randn(3, 2), torch.arange(3), torch.zeros(3, 1))
    with pytest.raises(ValueError, match="time_embed_dim must be even"):
        MLPDenoiser(time_embed_dim=7)
    with pytest.raises(ValueError, match="num_layers must be a positive int"):
        MLPDenoiser(num_layers=0)
