"""Metrics against closed forms and brute force."""

import math

import pytest
import torch

from course_lib.metrics import (
    NEAR_COPY_DISTANCE,
    class_entropy,
    confident_fraction,
    energy_distance,
    frechet_distance,
    near_copy_fraction,
    nearest_neighbour_distance,
)


def gaussian(n, mean, std, seed):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, len(std), generator=g, dtype=torch.float64) * torch.tensor(std) + torch.tensor(mean)


def test_frechet_distance_of_a_set_with_itself_is_zero():
    x = gaussian(500, [0.0] * 8, [1.0] * 8, seed=0)
    assert frechet_distance(x, x) == pytest.approx(0.0, abs=1e-6)


def test_frechet_distance_matches_closed_form_for_diagonal_gaussians():
    # For diagonal covariances d^2 = |mu_a - mu_b|^2 + sum_i (s_a,i - s_b,i)^2 exactly.
    mean_a, std_a = [0.0, 1.0, 0.0], [1.0, 2.0, 0.5]
    mean_b, std_b = [1.0, 1.0, -1.0], [1.0, 1.0, 1.5]
    expected = sum((a - b) ** 2 for a, b in zip(mean_a, mean_b)) + sum((a - b) ** 2 for a, b in zip(std_a, std_b))
    got = frechet_distance(gaussian(200_000, mean_a, std_a, 1), gaussian(200_000, mean_b, std_b, 2))
    # With 2e5 samples the moment estimates are good to about 1%, so 3% of the value is safe.
    assert got == pytest.approx(expected, rel=0.03)


def test_frechet_distance_grows_with_added_noise():
    x = gaussian(2000, [0.0] * 4, [1.0] * 4, seed=3)
    noise = torch.randn(x.shape, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    distances = [frechet_distance(x, x + s * noise) for s in (0.1, 0.5, 1.0, 2.0)]
    assert distances == sorted(distances) and distances[0] > 0


def test_frechet_distance_rejects_bad_shapes():
    with pytest.raises(ValueError, match="features_a"):
        frechet_distance(torch.zeros(5), torch.zeros(5, 2))
    with pytest.raises(ValueError, match="same width"):
        frechet_distance(torch.zeros(5, 3), torch.zeros(5, 2))


def test_confident_fraction_and_class_entropy_on_hand_made_probabilities():
    probs = torch.tensor([[0.95, 0.05], [0.5, 0.5], [0.02, 0.98], [0.91, 0.09]])
    assert confident_fraction(probs, 0.9) == pytest.approx(0.75)
    # Predicted classes 0, 0, 1, 0 (argmax of a tie is the first): histogram (3/4, 1/4).
    assert class_entropy(probs) == pytest.approx(-(0.75 * math.log(0.75) + 0.25 * math.log(0.25)))
    uniform = torch.eye(10)
    assert class_entropy(uniform) == pytest.approx(math.log(10))
    with pytest.raises(ValueError, match="sum to 1"):
        confident_fraction(torch.ones(3, 2))
    with pytest.raises(ValueError, match="threshold"):
        confident_fraction(probs, 1.5)


def test_nearest_neighbour_matches_brute_force():
    g = torch.Generator().manual_seed(0)
    samples, reference = torch.randn(7, 1, 4, 4, generator=g), torch.randn(20, 1, 4, 4, generator=g)
    distances, index = nearest_neighbour_distance(samples, reference)
    for i in range(7):
        rms = ((samples[i] - reference) ** 2).flatten(1).mean(1).sqrt()
        assert index[i] == rms.argmin()
        assert distances[i] == pytest.approx(rms.min().item(), rel=1e-5)
    exact, _ = nearest_neighbour_distance(reference[:3], reference)
    assert torch.allclose(exact, torch.zeros(3), atol=1e-6)
    with pytest.raises(ValueError, match="per-image shape"):
        nearest_neighbour_distance(samples, torch.zeros(3, 1, 5, 5))


def test_near_copy_threshold_is_below_every_held_out_digit_and_counts_copies_of_training_digits():
    """The near-copy distance is a statistic of real data: no held-out digit is that close to the training set,
    a training digit itself (distance 0) or one moved by less than the threshold is a near-copy."""
    from course_lib.data.digits import load_digits

    train, test = load_digits(16, "train").tensors[0], load_digits(16, "test").tensors[0]
    held_out, _ = nearest_neighbour_distance(test, train)
    assert near_copy_fraction(held_out) == 0.0 and held_out.min() < NEAR_COPY_DISTANCE + 0.02
    nudged = train[:4] + 0.05 * torch.randn(4, 1, 16, 16, generator=torch.Generator().manual_seed(0))
    copies, _ = nearest_neighbour_distance(torch.cat([train[:4], nudged, test[:2]]), train)
    assert near_copy_fraction(copies) == pytest.approx(8 / 10)
    assert near_copy_fraction(copies, threshold=1e-6) == pytest.approx(4 / 10)
    with pytest.raises(ValueError, match="threshold"):
        near_copy_fraction(copies, threshold=0)
    with pytest.raises(ValueError, match="distances"):
        near_copy_fraction(torch.zeros(2, 3))


def test_energy_distance_is_small_for_equal_distributions_and_matches_1d_closed_form():
    same = energy_distance(gaussian(3000, [0.0, 0.0], [1.0, 1.0], 5), gaussian(3000, [0.0, 0.0], [1.0, 1.0], 6))
    # For two 1-D unit Gaussians shifted by d: 2E|X-Y| - E|X-X'| - E|Y-Y'| with X-Y ~ N(d, 2)
    # and X-X' ~ N(0, 2); E|N(d, 2)| = 2/sqrt(pi) exp(-d^2/4) + d erf(d/2).
    d = 1.0
    e_xy = 2 / math.sqrt(math.pi) * math.exp(-d * d / 4) + d * math.erf(d / 2)
    expected = 2 * e_xy - 2 * (2 / math.sqrt(math.pi))
    shifted = energy_distance(gaussian(4000, [0.0], [1.0], 7), gaussian(4000, [d], [1.0], 8))
    assert abs(same) < 0.01
    assert shifted == pytest.approx(expected, rel=0.1)


def test_bench_real_fid_is_the_full_set_fid_at_full_size_and_larger_on_fewer_samples():
    """FID from n samples is biased upwards: the bench's real reference must be taken at the samples' n."""
    from course_lib.bench import real_fid

    a, b = gaussian(200, [0.0] * 4, [1.0] * 4, 1), gaussian(200, [0.0] * 4, [1.0] * 4, 2)
    full = frechet_distance(a, b)
    assert real_fid(a, b, n=200) == ("real training digits, 200 drawn", f"{full:.3g} ± 0")  # the whole set, reordered
    assert real_fid(a, b, n=10_000) == real_fid(a, b, n=200)
    mean_of_few = float(real_fid(a, b, n=20)[1].split(" ± ")[0])
    assert mean_of_few > 3 * full
