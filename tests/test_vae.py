"""The VAE of lesson 04: shapes, the loss against hand computation and torch.distributions, the KL in closed form."""

import math

import pytest
import torch
from torch.distributions import Normal

from course_lib.vae import VAE, kl_divergence, reconstruction_loss, reparameterise, train_vae, vae_loss


def test_shapes_and_ranges_of_vae_and_autoencoder():
    x = torch.rand(3, 1, 16, 16) * 2 - 1
    x_hat, mu, logvar = VAE(latent_dim=4, base_channels=8)(x, generator=torch.Generator().manual_seed(0))
    assert x_hat.shape == x.shape and mu.shape == logvar.shape == (3, 4)
    assert x_hat.abs().max() <= 1
    x_hat, mu, logvar = VAE(latent_dim=4, base_channels=8, variational=False)(x)
    assert x_hat.shape == x.shape and mu.shape == (3, 4) and logvar is None
    samples = VAE(in_channels=3, image_size=8, latent_dim=2, base_channels=8).sample(5, torch.Generator().manual_seed(0))
    assert samples.shape == (5, 3, 8, 8)


def test_autoencoder_is_deterministic_and_vae_is_not():
    torch.manual_seed(0)
    x = torch.rand(2, 1, 16, 16) * 2 - 1
    ae, vae = VAE(base_channels=8, variational=False), VAE(base_channels=8)
    assert torch.equal(ae(x)[0], ae(x)[0])
    assert not torch.equal(vae(x)[0], vae(x)[0])
    # With the same generator state the VAE repeats exactly.
    assert torch.equal(vae(x, torch.Generator().manual_seed(1))[0], vae(x, torch.Generator().manual_seed(1))[0])


def test_kl_matches_a_hand_computation():
    mu = torch.tensor([[1.0, 0.0], [0.0, 0.0]])
    logvar = torch.tensor([[0.0, math.log(2.0)], [0.0, 0.0]])
    # Row 0: 1/2 * [(1 + 1 - 1 - 0) + (0 + 2 - 1 - log 2)] = 1 - log(2)/2; row 1: N(0, I) itself, KL = 0.
    assert torch.allclose(kl_divergence(mu, logvar), torch.tensor([1 - math.log(2) / 2, 0.0]))


def test_kl_closed_form_matches_monte_carlo():
    """KL(q || p) = E_q[log q(z) - log p(z)], estimated from 200,000 samples of q with torch.distributions."""
    mu = torch.tensor([[0.5, -1.0, 2.0], [0.0, 0.3, -0.2]])
    logvar = torch.tensor([[0.0, -1.0, 0.7], [1.2, -2.0, 0.0]])
    q = Normal(mu, (0.5 * logvar).exp())
    z = q.sample((200_000,))
    log_ratio = (q.log_prob(z) - Normal(0.0, 1.0).log_prob(z)).sum(dim=-1)  # (samples, N)
    estimate, standard_error = log_ratio.mean(0), log_ratio.std(0) / math.sqrt(len(z))
    assert (kl_divergence(mu, logvar) - estimate).abs().max() < 4 * standard_error.max()


def test_vae_loss_matches_a_hand_computation_on_a_tiny_batch():
    x = torch.tensor([[[[1.0, -1.0], [0.0, 0.5]]], [[[0.0, 0.0], [0.0, 0.0]]]])  # (2, 1, 2, 2)
    x_hat = torch.tensor([[[[0.5, -1.0], [0.0, 0.5]]], [[[1.0, 0.0], [0.0, -2.0]]]])
    mu = torch.tensor([[1.0, 0.0], [0.0, 0.0]])
    logvar = torch.tensor([[0.0, math.log(2.0)], [0.0, 0.0]])
    squared_errors = [0.5**2, 1.0**2 + 2.0**2]  # per image
    kls = [1 - math.log(2) / 2, 0.0]
    beta = 0.5
    loss = vae_loss(x, x_hat, mu, logvar, beta=beta)
    assert loss.reconstruction.item() == pytest.approx(sum(squared_errors) / 2)
    assert loss.kl.item() == pytest.approx(sum(kls) / 2)
    assert loss.total.item() == pytest.approx((sum(squared_errors) + beta * sum(kls)) / 2)


def test_vae_loss_is_the_negative_elbo_of_a_gaussian_decoder_with_variance_beta_over_two():
    """-ELBO = -log N(x; x_hat, s^2 I) + KL; with s^2 = beta/2 this is total/beta + (D/2) log(pi beta)."""
    g = torch.Generator().manual_seed(0)
    x, x_hat = torch.randn(4, 1, 4, 4, generator=g), torch.randn(4, 1, 4, 4, generator=g)
    mu, logvar = torch.randn(4, 3, generator=g), torch.randn(4, 3, generator=g)
    beta = 0.3
    log_likelihood = Normal(x_hat, math.sqrt(beta / 2)).log_prob(x).flatten(1).sum(1)
    negative_elbo = (kl_divergence(mu, logvar) - log_likelihood).mean()
    d = x[0].numel()
    expected = vae_loss(x, x_hat, mu, logvar, beta=beta).total / beta + d / 2 * math.log(math.pi * beta)
    assert torch.allclose(negative_elbo, expected, atol=1e-4)


def test_reparameterise_draws_from_the_posterior_and_passes_gradients():
    mu = torch.tensor([[1.0, -2.0]], requires_grad=True)
    logvar = torch.tensor([[0.0, math.log(0.25)]], requires_grad=True)
    z = reparameterise(mu.expand(400_000, 2), logvar.expand(400_000, 2), torch.Generator().manual_seed(0))
    assert torch.allclose(z.mean(0), mu[0], atol=0.02)
    assert torch.allclose(z.var(0), logvar[0].exp(), rtol=0.02)
    # d/dmu E[z] = 1 and d/dlogvar E[z^2] = sigma^2 (since E[z^2] = mu^2 + sigma^2).
    z.mean(0).sum().backward()
    assert torch.allclose(mu.grad, torch.ones(1, 2))
    logvar.grad = None
    z = reparameterise(mu.expand(400_000, 2), logvar.expand(400_000, 2), torch.Generator().manual_seed(0))
    z.pow(2).mean(0).sum().backward()
    assert torch.allclose(logvar.grad, logvar.exp().detach(), rtol=0.03)


def test_reconstruction_loss_is_sum_over_pixels_mean_over_images():
    x = torch.zeros(2, 1, 2, 2)
    x_hat = torch.tensor([1.0, 1.0, 1.0, 1.0, 2.0, 0.0, 0.0, 0.0]).view(2, 1, 2, 2)
    assert reconstruction_loss(x, x_hat).item() == pytest.approx((4 + 4) / 2)


def test_bad_inputs_raise_errors_naming_the_argument():
    with pytest.raises(ValueError, match="image_size"):
        VAE(image_size=10)
    with pytest.raises(ValueError, match="latent_dim"):
        VAE(latent_dim=0)
    model = VAE(latent_dim=4, base_channels=8)
    with pytest.raises(ValueError, match="x must have shape"):
        model(torch.zeros(2, 3, 16, 16))
    with pytest.raises(ValueError, match="z must have shape"):
        model.decode(torch.zeros(2, 5))
    with pytest.raises(ValueError, match="num_samples"):
        model.sample(0)
    with pytest.raises(ValueError, match="mu and logvar"):
        kl_divergence(torch.zeros(2, 3), torch.zeros(2, 4))
    with pytest.raises(TypeError, match="logvar"):
        reparameterise(torch.zeros(2, 3), torch.zeros(2, 3, dtype=torch.long))
    with pytest.raises(ValueError, match="beta"):
        vae_loss(torch.zeros(1, 1, 2, 2), torch.zeros(1, 1, 2, 2), torch.zeros(1, 2), torch.zeros(1, 2), beta=0)
    with pytest.raises(ValueError, match="x and x_hat"):
        reconstruction_loss(torch.zeros(1, 1, 2, 2), torch.zeros(1, 1, 3, 3))
    with pytest.raises(ValueError, match="steps"):
        train_vae(model, torch.utils.data.TensorDataset(torch.zeros(4, 1, 16, 16)), steps=0)
    with pytest.raises(ValueError, match="batch_size"):
        train_vae(model, torch.utils.data.TensorDataset(torch.zeros(4, 1, 16, 16)), steps=1, batch_size=8)


def test_training_lowers_the_loss_and_repeats_with_the_same_seed():
    g = torch.Generator().manual_seed(0)
    images = (torch.rand(64, 1, 16, 16, generator=g) > 0.7).float() * 2 - 1
    dataset = torch.utils.data.TensorDataset(images, torch.zeros(64, dtype=torch.long))
    runs = []
    for _ in range(2):
        torch.manual_seed(0)
        model = VAE(latent_dim=4, base_channels=8)
        runs.append(train_vae(model, dataset, steps=30, batch_size=16, beta=0.1, seed=3, progress=False))
    assert runs[0] == runs[1]
    assert sum(runs[0][-5:]) < sum(runs[0][:5])
