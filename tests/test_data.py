"""Tests of course_lib.data against independent references: scikit-learn and SciPy, closed-form
moments and geometry, and a NumPy re-derivation of the random fields' power spectrum."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.stats import multivariate_normal
from sklearn.datasets import load_digits as sklearn_digits

from course_lib.data import (
    ATTRIBUTE_NAMES,
    COLOURS,
    FACINGS,
    SHAPES,
    GaussianMixture,
    attributes_to_context,
    caption,
    gaussian_random_field,
    load_digits,
    load_mnist,
    make_moons,
    make_sprites,
    make_swiss_roll,
    radial_power_spectrum,
    theoretical_power_spectrum,
)

# ---------------------------------------------------------------- digits


@pytest.mark.parametrize("size", [8, 16, 32])
def test_digits_shapes_ranges_and_labels(size):
    images, labels = load_digits(size=size, split="all").tensors
    assert images.shape == (1797, 1, size, size) and images.dtype == torch.float32
    assert labels.shape == (1797,) and labels.dtype == torch.int64
    assert labels.min() == 0 and labels.max() == 9
    # Bilinear enlargement only mixes neighbours, so the range is kept without clipping,
    # the empty background stays exactly -1, and the mean brightness barely moves.
    assert images.min() == -1.0 and images.max() <= 1.0
    reference = torch.from_numpy(sklearn_digits().images).float() / 8 - 1
    assert torch.allclose(images.mean(dim=(1, 2, 3)), reference.mean(dim=(1, 2)), atol=0.03)


def test_digits_at_size_8_are_the_scikit_learn_images_mapped_to_minus_one_one():
    images, labels = load_digits(size=8, split="all").tensors
    reference = sklearn_digits()
    assert torch.equal(images[:, 0], torch.from_numpy(reference.images).float() * (2 / 16) - 1)
    assert torch.equal(labels, torch.from_numpy(reference.target))


def test_digits_train_and_test_partition_the_data_with_stratification():
    train_images, train_labels = load_digits(size=8, split="train").tensors
    test_images, test_labels = load_digits(size=8, split="test").tensors
    all_images = load_digits(size=8, split="all").tensors[0]
    # All 1,797 scikit-learn digits are distinct, so rows identify images.
    train_rows = {tuple(row) for row in train_images.flatten(1).tolist()}
    test_rows = {tuple(row) for row in test_images.flatten(1).tolist()}
    assert not train_rows & test_rows
    assert train_rows | test_rows == {tuple(row) for row in all_images.flatten(1).tolist()}
    assert len(test_labels) == math.ceil(0.2 * 1797)
    # Stratified: each class's share of the test split is 20% of its count, up to rounding.
    class_counts = np.bincount(sklearn_digits().target)
    assert np.all(np.abs(np.bincount(test_labels.numpy()) - 0.2 * class_counts) <= 1)
    assert np.array_equal(np.bincount(train_labels.numpy()) + np.bincount(test_labels.numpy()), class_counts)


def test_digits_split_is_deterministic_by_seed():
    first = load_digits(split="test", seed=1).tensors
    assert all(torch.equal(a, b) for a, b in zip(first, load_digits(split="test", seed=1).tensors))
    assert not torch.equal(first[1], load_digits(split="test", seed=2).tensors[1])


@pytest.mark.parametrize(
    "kwargs, argument",
    [
        ({"size": 12}, "size"),
        ({"size": 0}, "size"),
        ({"split": "val"}, "split"),
        ({"test_fraction": 1.0}, "test_fraction"),
    ],
)
def test_digits_reject_bad_arguments(kwargs, argument):
    with pytest.raises(ValueError, match=argument):
        load_digits(**kwargs)


def test_mnist_falls_back_to_digits_in_one_line_when_unavailable(tmp_path, capsys):
    images, labels = load_mnist("fashion_mnist", size=16, split="test", root=tmp_path, download=False).tensors
    message = capsys.readouterr().out
    assert message.count("\n") == 1 and "using the scikit-learn digits instead" in message
    expected = load_digits(size=16, split="test").tensors
    assert torch.equal(images, expected[0]) and torch.equal(labels, expected[1])


def test_mnist_rejects_an_unknown_name_before_trying():
    with pytest.raises(ValueError, match="name"):
        load_mnist("cifar10", download=False)


# ---------------------------------------------------------------- sprites

_RGB = {"red": (1, -1, -1), "green": (-1, 1, -1), "blue": (-1, -1, 1), "yellow": (1, 1, -1)}


def test_sprites_are_deterministic_by_seed_and_independent_of_count():
    a, b = make_sprites(40, seed=3), make_sprites(40, seed=3)
    for name in ("images", "masks", "attributes"):
        assert torch.equal(getattr(a, name), getattr(b, name))
    assert not torch.equal(a.images, make_sprites(40, seed=4).images)
    assert torch.equal(make_sprites(10, seed=3).images, a.images[:10])


def test_sprite_tensors_have_the_documented_shapes_and_values():
    sprites = make_sprites(30, size=20)
    assert sprites.images.shape == (30, 3, 20, 20) and sprites.images.dtype == torch.float32
    assert sprites.masks.shape == (30, 1, 20, 20) and sprites.masks.dtype == torch.float32
    assert sprites.attributes.shape == (30, len(ATTRIBUTE_NAMES)) == (30, 10)
    assert sprites.images.min() >= -1 and sprites.images.max() <= 1
    assert set(sprites.masks.unique().tolist()) <= {0.0, 1.0}
    assert len(sprites) == 30
    image, attributes = sprites[7]
    assert torch.equal(image, sprites.images[7]) and torch.equal(attributes, sprites.attributes[7])


def test_sprite_attributes_are_one_hot_per_group_and_match_labels():
    sprites = make_sprites(2000)
    start = 0
    for group, names in (("shape", SHAPES), ("colour", COLOURS), ("facing", FACINGS)):
        block = sprites.attributes[:, start : start + len(names)]
        assert torch.equal(block.sum(dim=1), torch.ones(2000))
        assert torch.equal(block.argmax(dim=1), sprites.labels[group])
        # Uniform classes: each count is within 5 binomial standard deviations of n / classes.
        p = 1 / len(names)
        counts = torch.bincount(sprites.labels[group], minlength=len(names)).double()
        assert ((counts - 2000 * p).abs() < 5 * math.sqrt(2000 * p * (1 - p))).all()
        start += len(names)


def test_sprite_pixels_agree_with_masks_colours_and_facing():
    sprites = make_sprites(200, size=24, seed=1)
    for image, mask, colour, facing in zip(
        sprites.images, sprites.masks[:, 0].bool(), sprites.labels["colour"], sprites.labels["facing"]
    ):
        is_background = (image == -1).all(dim=0)
        assert torch.equal(is_background, ~mask)  # plain black outside the mask, never black inside
        pixels = image[:, mask].T  # (pixels, 3)
        body = (pixels == torch.tensor(_RGB[COLOURS[colour]], dtype=torch.float32)).all(dim=1)
        eye = (pixels == 1).all(dim=1)  # white
        assert (body | eye).all() and body.sum() > 3 * eye.sum() > 0
        # The eye sits on the side the sprite faces.
        xs = torch.nonzero(mask)[:, 1].float()
        eye_offset = xs[eye].mean() - xs.mean()
        assert eye_offset > 0.5 if FACINGS[facing] == "right" else eye_offset < -0.5


def test_sprite_masks_have_the_geometry_of_their_shape():
    sprites = make_sprites(120, size=48, seed=2)
    for mask, shape in zip(sprites.masks[:, 0].bool(), sprites.labels["shape"]):
        rows = torch.nonzero(mask.any(dim=1))[:, 0]
        cols = torch.nonzero(mask.any(dim=0))[:, 0]
        box = mask[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1].float()
        fill = box.mean().item()  # area / bounding-box area: square 1, circle pi/4, triangle and diamond 1/2
        widths = box.sum(dim=1)
        name = SHAPES[shape]
        if name == "square":
            assert fill > 0.95
        elif name == "circle":
            assert abs(fill - math.pi / 4) < 0.06
        elif name == "triangle":  # apex up: widest at the bottom
            assert abs(fill - 0.5) < 0.1 and widths[-1] == widths.max() and widths[0] < widths[-1] / 3
        else:  # diamond: widest in the middle row, narrow at top and bottom
            assert abs(fill - 0.5) < 0.1 and widths[len(widths) // 2] > 3 * max(widths[0], widths[-1])


def test_context_and_caption():
    context = attributes_to_context(shape="circle", colour="red", facing="left")
    expected = torch.zeros(10)
    expected[[ATTRIBUTE_NAMES.index(name) for name in ("circle", "red", "left")]] = 1
    assert torch.equal(context, expected)
    assert caption(context) == "a red circle facing left"
    assert caption(attributes_to_context(colour=["red", "blue"])) == "a red/blue sprite"
    assert caption(attributes_to_context(shape="triangle", facing="right")) == "a triangle facing right"
    assert torch.equal(attributes_to_context(), torch.zeros(10)) and caption(torch.zeros(10)) == "a sprite"
    sprites = make_sprites(5)
    for row, shape, colour, facing in zip(
        sprites.attributes, sprites.labels["shape"], sprites.labels["colour"], sprites.labels["facing"]
    ):
        assert caption(row) == f"a {COLOURS[colour]} {SHAPES[shape]} facing {FACINGS[facing]}"


@pytest.mark.parametrize(
    "call, argument",
    [
        (lambda: make_sprites(0), "n"),
        (lambda: make_sprites(4, size=8), "size"),
        (lambda: make_sprites(4, seed=-1), "seed"),
        (lambda: attributes_to_context(colour="purple"), "colour"),
        (lambda: attributes_to_context(shape=["circle", "star"]), "shape"),
        (lambda: caption(torch.full((10,), 0.5)), "attribute_row"),
        (lambda: caption(torch.zeros(9)), "attribute_row"),
    ],
)
def test_sprites_reject_bad_arguments(call, argument):
    with pytest.raises(ValueError, match=argument):
        call()


# ---------------------------------------------------------------- points


def test_moons_and_roll_are_deterministic_centred_and_scaled():
    moons = make_moons(20000, noise=0.0)
    assert moons.shape == (20000, 2) and moons.dtype == torch.float32
    assert torch.equal(moons, make_moons(20000, noise=0.0)) and not torch.equal(make_moons(50, seed=1), make_moons(50))
    # Noise-free moons in scikit-learn's units: half the points at (cos t, sin t), half at
    # (1 - cos t, 1/2 - sin t), t uniform on [0, pi]; with E[sin t] = 2/pi, E[sin^2 t] = 1/2
    # the means are (1/2, 1/4), var x = 1 - 1/4 and var y = 1/4 + (3/4 - 2/pi)/2 - 1/16.
    var_x, var_y = 0.75, 0.25 + (0.75 - 2 / math.pi) / 2 - 1 / 16
    assert torch.allclose(moons.mean(dim=0), torch.zeros(2), atol=0.02)
    assert torch.allclose(moons.var(dim=0) * 0.705**2, torch.tensor([var_x, var_y]), rtol=0.03)
    # Noise-free roll: every point is at distance t / 6.8 from the roll's axis, t in [1.5 pi, 4.5 pi].
    roll = make_swiss_roll(20000, noise=0.0)
    radius = (roll * 6.8 + torch.tensor([2.0, 2 / (3 * math.pi)])).norm(dim=1)
    assert radius.min() >= 1.5 * math.pi - 1e-3 and radius.max() <= 4.5 * math.pi + 1e-3
    assert torch.allclose(roll.mean(dim=0), torch.zeros(2), atol=0.05)
    assert ((roll.var(dim=0) > 0.8) & (roll.var(dim=0) < 1.2)).all()


def test_points_noise_is_in_returned_units():
    clean, noisy = make_moons(5000, noise=0.0, seed=5), make_moons(5000, noise=0.1, seed=5)
    # The same seed draws the same positions on the moons and then adds the noise, so the
    # difference is the noise alone: its standard deviation must be 0.1 (5,000 samples per
    # axis give a relative standard error of 1%).
    assert torch.allclose((noisy - clean).std(dim=0), torch.full((2,), 0.1), rtol=0.05)


def _mixture():
    return GaussianMixture(
        means=torch.tensor([[-1.0, 0.5], [1.5, -0.5], [0.0, 2.0]]),
        stds=torch.tensor([0.3, 0.6, 0.45]),
        weights=torch.tensor([0.5, 0.3, 0.2]),
    )


@pytest.mark.parametrize("dtype, tolerance", [(torch.float64, 1e-10), (torch.float32, 1e-5)])
def test_mixture_score_is_the_gradient_of_log_prob(dtype, tolerance):
    x = (3 * torch.randn(500, 2, generator=torch.Generator().manual_seed(0))).to(dtype).requires_grad_()
    (gradient,) = torch.autograd.grad(_mixture().log_prob(x).sum(), x)
    torch.testing.assert_close(_mixture().score(x.detach()), gradient, rtol=tolerance, atol=tolerance)


def test_mixture_log_prob_matches_scipy():
    mixture = _mixture()
    x = torch.randn(200, 2, generator=torch.Generator().manual_seed(1), dtype=torch.float64) * 2
    density = sum(
        w.item() * multivariate_normal(mean=mu.numpy(), cov=s.item() ** 2 * np.eye(2)).pdf(x.numpy())
        for mu, s, w in zip(mixture.means.double(), mixture.stds, mixture.weights)
    )
    torch.testing.assert_close(mixture.log_prob(x), torch.from_numpy(np.log(density)), rtol=1e-6, atol=1e-8)


def test_mixture_samples_have_the_mixture_moments():
    mixture = _mixture()
    x = mixture.sample(200_000, generator=torch.Generator().manual_seed(0)).double()
    assert torch.equal(x.float(), mixture.sample(200_000, generator=torch.Generator().manual_seed(0)))
    means, stds, weights = mixture.means.double(), mixture.stds.double(), mixture.weights.double()
    mean = weights @ means
    # Law of total covariance: sum_k w_k (sigma_k^2 I + mu_k mu_k^T) - mean mean^T.
    second_moment = stds[:, None, None] ** 2 * torch.eye(2) + means[:, :, None] * means[:, None, :]  # (K, 2, 2)
    covariance = (weights[:, None, None] * second_moment).sum(dim=0) - torch.outer(mean, mean)
    # Tolerance: 5 standard errors of each estimate, the standard error being the sample
    # standard deviation of the averaged quantity over sqrt(n); a correct sampler fails
    # this with probability below 1e-5 per entry.
    centred = x - x.mean(dim=0)
    mean_error = x.std(dim=0) / math.sqrt(len(x))
    products = centred[:, :, None] * centred[:, None, :]
    covariance_error = products.std(dim=0) / math.sqrt(len(x))
    assert ((x.mean(dim=0) - mean).abs() < 5 * mean_error).all()
    assert ((products.mean(dim=0) - covariance).abs() < 5 * covariance_error).all()


def test_noised_mixture_is_the_convolution_with_gaussian_noise():
    # In 1-D, p_noised(y) = integral of p(x) N(y; scale x, noise_std^2) dx, done on a fine grid.
    mixture = GaussianMixture(torch.tensor([[-1.0], [2.0]]), torch.tensor([0.2, 0.5]), torch.tensor([0.7, 0.3]))
    scale, noise_std = 0.8, 0.6
    grid = torch.linspace(-6, 8, 20001, dtype=torch.float64)
    density = mixture.log_prob(grid[:, None]).exp()
    y = torch.linspace(-4, 5, 37, dtype=torch.float64)
    squared_distance = (y[:, None] - scale * grid[None]) ** 2
    kernel = torch.exp(-squared_distance / (2 * noise_std**2)) / math.sqrt(2 * math.pi * noise_std**2)
    expected = torch.trapezoid(kernel * density[None], grid, dim=1)
    noised = mixture.noised(scale=scale, noise_std=noise_std)
    torch.testing.assert_close(noised.log_prob(y[:, None]).exp(), expected, rtol=1e-5, atol=1e-7)


def test_ring_mixture():
    ring = GaussianMixture.ring(k=6, radius=2.0, std=0.1)
    assert ring.means.shape == (6, 2) and torch.allclose(ring.means.norm(dim=1), torch.full((6,), 2.0))
    assert torch.allclose(ring.weights, torch.full((6,), 1 / 6)) and torch.equal(ring.stds, torch.full((6,), 0.1))
    # Each mode is a local maximum: the score vanishes there (up to the other modes' tails).
    assert ring.score(ring.means).abs().max() < 1e-6


@pytest.mark.parametrize(
    "call, argument",
    [
        (lambda: GaussianMixture(torch.zeros(2), torch.ones(1)), "means"),
        (lambda: GaussianMixture(torch.zeros(2, 2), torch.tensor([1.0, -1.0])), "stds"),
        (lambda: GaussianMixture(torch.zeros(2, 2), torch.ones(3)), "stds"),
        (lambda: GaussianMixture(torch.zeros(2, 2), torch.ones(2), torch.tensor([0.5, 0.4])), "weights"),
        (lambda: GaussianMixture(torch.zeros(2, 2), torch.ones(2), torch.tensor([1.5, -0.5])), "weights"),
        (lambda: GaussianMixture.ring().log_prob(torch.zeros(4, 3)), "x"),
        (lambda: GaussianMixture.ring().sample(0), "n"),
        (lambda: GaussianMixture.ring(k=0), "k"),
        (lambda: GaussianMixture.ring(std=0.0), "std"),
        (lambda: make_moons(10, noise=-0.1), "noise"),
        (lambda: make_swiss_roll(0), "n"),
    ],
)
def test_points_reject_bad_arguments(call, argument):
    with pytest.raises(ValueError, match=argument):
        call()


# ---------------------------------------------------------------- Gaussian random fields


def _numpy_theory(size, index):
    """Shell-averaged P(k) = C |k|^index, C such that P averages to 1 over all modes, written afresh in NumPy."""
    kx, ky = np.meshgrid(np.fft.fftfreq(size) * size, np.fft.fftfreq(size) * size)
    k = np.hypot(kx, ky)
    power = np.zeros_like(k)
    power[k > 0] = k[k > 0] ** index
    power *= size**2 / power.sum()
    shells = np.arange(1, size // 2 + 1)
    in_shell = [(k >= s - 0.5) & (k < s + 0.5) for s in shells]
    return np.array([power[m].mean() for m in in_shell]), np.array([m.sum() for m in in_shell])


def test_fields_are_deterministic_with_zero_mean_and_unit_variance():
    fields = gaussian_random_field(256, size=32, spectral_index=-3.0, seed=0)
    assert fields.shape == (256, 1, 32, 32) and fields.dtype == torch.float32
    assert torch.equal(fields[:3], gaussian_random_field(3, size=32, seed=0))
    assert not torch.equal(fields[:3], gaussian_random_field(3, size=32, seed=1))
    assert fields.mean(dim=(1, 2, 3)).abs().max() < 1e-5  # the k = 0 mode is removed from every map
    # E[f^2] = 1 per pixel. A map's mean square scatters with relative std about 0.36 for
    # index -3 (its largest waves dominate), so over 256 maps the standard error is 0.36 / 16
    # = 0.023, and 0.1 is more than 4 standard errors.
    assert abs(fields.pow(2).mean().item() - 1) < 0.1


@pytest.mark.parametrize("size, index", [(32, -3.0), (16, -2.0)])
def test_measured_power_spectrum_matches_theory(size, index):
    n = 200
    k, measured = radial_power_spectrum(gaussian_random_field(n, size=size, spectral_index=index, seed=3))
    k_theory, theory = theoretical_power_spectrum(index, size)
    expected, modes = _numpy_theory(size, index)
    torch.testing.assert_close(theory, torch.from_numpy(expected).float(), rtol=1e-5, atol=0)
    assert torch.equal(k, k_theory) and abs(k[0].item() - (1 + math.sqrt(2)) / 2) < 1e-6
    # Each complex mode's power is exponential around its mean and a shell of m modes holds
    # about m / 2 independent ones (F_-k is the conjugate of F_k), so the relative standard
    # error of a shell's average over n maps is 1 / sqrt(n m / 2). Allow 5 of them.
    tolerance = 5 / np.sqrt(n * modes / 2)
    assert np.all(np.abs(measured.numpy() / expected - 1) < tolerance)


def test_white_noise_has_flat_unit_power():
    noise = torch.randn(100, 1, 32, 32, generator=torch.Generator().manual_seed(0))
    _, power = radial_power_spectrum(noise)
    _, modes = _numpy_theory(32, 0.0)
    assert np.all(np.abs(power.numpy() - 1) < 5 / np.sqrt(100 * modes / 2))


@pytest.mark.parametrize(
    "call, argument",
    [
        (lambda: gaussian_random_field(0), "n"),
        (lambda: gaussian_random_field(2, size=2), "size"),
        (lambda: gaussian_random_field(2, spectral_index=float("nan")), "spectral_index"),
        (lambda: gaussian_random_field(2, seed=-3), "seed"),
        (lambda: radial_power_spectrum(torch.zeros(4, 8, 6)), "fields"),
    ],
)
def test_fields_reject_bad_arguments(call, argument):
    with pytest.raises(ValueError, match=argument):
        call()
