"""course_lib.physics against closed forms: Einstein's 2Dt, the heat equation, exact Gaussian
moments of Langevin chains, Coulomb's law and Gauss's law in 2-D, flux sharing of field lines."""

import math

import pytest
import torch
from scipy import stats

from course_lib.physics import (
    electric_field_2d,
    euler_maruyama,
    follow_field_lines,
    heat_kernel,
    langevin_sample,
    random_walk,
)

# Tolerances below are 5 standard errors: for N iid draws the sample variance has relative
# standard error sqrt(2 / (N - 1)) when the draws are Gaussian (and less for a coin-flip
# walk, whose kurtosis is below 3), and the sample mean has standard error sigma / sqrt(N).
Z = 5.0


def rel_se_of_variance(n: int) -> float:
    return math.sqrt(2 / (n - 1))


@pytest.mark.parametrize("lattice", [False, True])
def test_random_walk_variance_grows_as_2Dt(lattice):
    n, steps, dt, D = 20_000, 200, 0.01, 0.7
    paths = random_walk(n, steps, dt, D, dim=2, lattice=lattice, generator=torch.Generator().manual_seed(0))
    assert paths.shape == (steps + 1, n, 2)
    assert torch.all(paths[0] == 0)
    for k in (1, 10, 50, 200):
        t = k * dt
        x = paths[k].double()
        for coord in range(2):
            var = x[:, coord].var().item()
            assert abs(var / (2 * D * t) - 1) < Z * rel_se_of_variance(n), (k, coord, var, 2 * D * t)
            assert abs(x[:, coord].mean().item()) < Z * math.sqrt(2 * D * t / n)
        # Coordinates are independent: the correlation is zero within its standard error 1/sqrt(n).
        assert abs(torch.corrcoef(x.T)[0, 1].item()) < Z / math.sqrt(n)


def test_lattice_walk_steps_are_coin_flips_and_end_gaussian():
    dt, D = 0.5, 1.0
    paths = random_walk(5000, 400, dt, D, lattice=True, generator=torch.Generator().manual_seed(1))
    steps = paths.diff(dim=0)
    assert torch.allclose(steps.abs(), torch.full_like(steps, math.sqrt(2 * D * dt)))
    # Central limit theorem: after 400 coin flips the histogram is N(0, 2Dt) (Kolmogorov-Smirnov).
    # The walk lives on a grid of spacing 2a, a = sqrt(2 D dt); spreading each end point uniformly
    # over its grid cell turns it into a continuous variable that KS can compare (adding a^2/3 to
    # a variance of 2Dt = 400 a^2, a 0.08% change).
    t, a = 400 * dt, math.sqrt(2 * D * dt)
    jitter = (torch.rand(5000, generator=torch.Generator().manual_seed(2), dtype=torch.float64) * 2 - 1) * a
    final = (paths[-1, :, 0].double() + jitter).numpy()
    assert stats.kstest(final, "norm", args=(0, math.sqrt(2 * D * t))).pvalue > 1e-3
    # Without the jitter, KS sees the grid and rejects: the test is sharp enough to notice.
    assert stats.kstest(paths[-1, :, 0].double().numpy(), "norm", args=(0, math.sqrt(2 * D * t))).pvalue < 1e-3


def test_random_walk_repeats_with_the_same_seed():
    a = random_walk(10, 5, 0.1, 1.0, generator=torch.Generator().manual_seed(3))
    b = random_walk(10, 5, 0.1, 1.0, generator=torch.Generator().manual_seed(3))
    c = random_walk(10, 5, 0.1, 1.0, generator=torch.Generator().manual_seed(4))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_heat_kernel_matches_scipy_gaussians():
    t, D = 0.8, 0.3
    x = torch.linspace(-4, 4, 101, dtype=torch.float64)
    expected = stats.norm.pdf(x.numpy(), 0, math.sqrt(2 * D * t))
    assert torch.allclose(heat_kernel(x, t, D), torch.from_numpy(expected), rtol=1e-10)
    pts = torch.randn(50, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    expected_2d = stats.multivariate_normal(mean=[0, 0], cov=2 * D * t).pdf(pts.numpy())
    assert torch.allclose(heat_kernel(pts, t, D), torch.from_numpy(expected_2d), rtol=1e-10)


def test_heat_kernel_solves_the_heat_equation():
    # dp/dt = D d^2p/dx^2, both sides by central finite differences (error O(h^2)).
    D, t, h, k = 0.5, 1.3, 1e-3, 1e-4
    x = torch.linspace(-3, 3, 61, dtype=torch.float64)
    dp_dt = (heat_kernel(x, t + k, D) - heat_kernel(x, t - k, D)) / (2 * k)
    d2p_dx2 = (heat_kernel(x + h, t, D) - 2 * heat_kernel(x, t, D) + heat_kernel(x - h, t, D)) / h**2
    assert torch.allclose(dp_dt, D * d2p_dx2, atol=1e-6)
    # ... and it conserves the number of particles: the density integrates to 1.
    grid = torch.linspace(-15, 15, 30_001, dtype=torch.float64)
    assert abs(torch.trapezoid(heat_kernel(grid, t, D), grid).item() - 1) < 1e-9


def test_euler_maruyama_deterministic_and_time_dependent_drift():
    x0 = torch.tensor([[2.0, -1.0]], dtype=torch.float64)
    # dx = -x dt: Euler gives exactly (1 - dt)^K x0.
    x = euler_maruyama(lambda x, t: -x, 0.0, x0, 0.01, 100)
    assert torch.allclose(x, x0 * 0.99**100, rtol=1e-12)
    # dx = t dt from t_start = 1: x_K = sum_k (1 + k dt) dt.
    dt, K = 0.1, 10
    x = euler_maruyama(lambda x, t: torch.full_like(x, t), 0.0, torch.zeros(1, 1, dtype=torch.float64), dt, K, t_start=1.0)
    assert x.item() == pytest.approx(sum((1 + k * dt) * dt for k in range(K)), rel=1e-12)


def test_euler_maruyama_ornstein_uhlenbeck_moments():
    # dx = -theta x dt + sigma dW. The Euler chain x_{k+1} = a x_k + sigma sqrt(dt) z with
    # a = 1 - theta dt has mean a^K x0 and variance sigma^2 dt (1 - a^2K) / (1 - a^2) exactly.
    theta, sigma, dt, K, n = 1.5, 0.8, 0.01, 150, 20_000
    x0 = torch.full((n, 1), 2.0, dtype=torch.float64)
    traj = euler_maruyama(lambda x, t: -theta * x, sigma, x0, dt, K, generator=torch.Generator().manual_seed(0), return_trajectory=True)
    assert traj.shape == (K + 1, n, 1)
    a = 1 - theta * dt
    mean, var = a**K * 2.0, sigma**2 * dt * (1 - a ** (2 * K)) / (1 - a**2)
    assert abs(traj[-1].mean().item() - mean) < Z * math.sqrt(var / n)
    assert abs(traj[-1].var().item() / var - 1) < Z * rel_se_of_variance(n)


def test_langevin_samples_a_1d_gaussian():
    mu, s, eps, n = 1.5, 0.7, 0.01, 10_000
    score = lambda x: -(x - mu) / s**2  # noqa: E731
    # The chain x' = a x + (1 - a) mu + sqrt(eps) z with a = 1 - eps / (2 s^2) (Song & Ermon's step)
    # has, after K steps from 0, mean mu (1 - a^K) and variance eps (1 - a^2K) / (1 - a^2).
    a = 1 - eps / (2 * s**2)
    for K in (100, 2000):  # halfway to equilibrium (pins the eps/2 convention), then at equilibrium
        x = langevin_sample(score, torch.zeros(n, 1, dtype=torch.float64), eps, K, torch.Generator().manual_seed(K))
        mean_k = mu * (1 - a**K)
        var_k = eps * (1 - a ** (2 * K)) / (1 - a**2)
        assert abs(x.mean().item() - mean_k) < Z * math.sqrt(var_k / n), K
        assert abs(x.var().item() / var_k - 1) < Z * rel_se_of_variance(n), K
    # At equilibrium the moments are the target's up to the O(eps) bias of a finite step.
    assert abs(var_k / s**2 - 1) < 0.01 and abs(mean_k - mu) < 1e-3


def test_langevin_samples_a_correlated_2d_gaussian():
    mu = torch.tensor([1.0, -2.0], dtype=torch.float64)
    cov = torch.tensor([[1.0, 0.6], [0.6, 0.5]], dtype=torch.float64)
    precision = torch.linalg.inv(cov)
    n = 8000
    # score = -precision (x - mu), written as a broadcast sum (a tiny (N, 2) @ (2, 2) matmul is slow on some CPUs).
    x = langevin_sample(
        lambda x: -((x - mu)[:, None, :] * precision).sum(dim=2),
        torch.zeros(n, 2, dtype=torch.float64),
        0.01,
        1500,
        torch.Generator().manual_seed(1),
    )
    assert x.shape == (n, 2)
    sample_cov = torch.cov(x.T)
    # Standard error of each covariance entry: sqrt((S_ii S_jj + S_ij^2) / n), plus 3% for the step bias.
    se = ((cov.diag()[:, None] * cov.diag()[None, :] + cov**2) / n).sqrt()
    assert torch.all((sample_cov - cov).abs() < Z * se + 0.03 * cov.abs())
    assert torch.all((x.mean(0) - mu).abs() < Z * (cov.diag() / n).sqrt())


def test_langevin_trajectory_and_seed():
    score = lambda x: -x  # noqa: E731
    traj = langevin_sample(score, torch.zeros(4, 2), 0.1, 7, torch.Generator().manual_seed(0), return_trajectory=True)
    again = langevin_sample(score, torch.zeros(4, 2), 0.1, 7, torch.Generator().manual_seed(0))
    assert traj.shape == (8, 4, 2) and torch.equal(traj[-1], again)


def test_point_charge_field_is_coulombs_law_in_2d():
    q, eps0, c = 2.5, 0.3, torch.tensor([0.5, -1.0], dtype=torch.float64)
    pts = torch.randn(200, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0)) * 3
    E = electric_field_2d(pts, c[None], torch.tensor([q]), epsilon0=eps0)
    r_vec = pts - c
    r = r_vec.norm(dim=1, keepdim=True)
    assert torch.allclose(E, q * (r_vec / r) / (2 * math.pi * eps0 * r), rtol=1e-12)


def test_field_is_minus_gradient_of_log_potential_and_superposes():
    # phi(x) = -sum_i q_i log|x - c_i| / (2 pi eps0) is the 2-D potential; E = -grad phi.
    cs = torch.tensor([[0.0, 0.0], [1.0, 2.0], [-1.5, 0.5]], dtype=torch.float64)
    qs = torch.tensor([1.0, -0.5, 2.0], dtype=torch.float64)
    pts = torch.tensor([[0.3, 0.7], [2.0, -1.0], [-3.0, 4.0]], dtype=torch.float64, requires_grad=True)
    phi = -(qs * (pts[:, None] - cs[None]).norm(dim=2).log()).sum() / (2 * math.pi)
    (grad,) = torch.autograd.grad(phi, pts)
    E = electric_field_2d(pts.detach(), cs, qs)
    assert torch.allclose(E, -grad, rtol=1e-12)
    separate = sum(electric_field_2d(pts.detach(), cs[i : i + 1], qs[i : i + 1]) for i in range(3))
    assert torch.allclose(E, separate, rtol=1e-12)


def test_gauss_law_flux_counts_enclosed_charge():
    cs = torch.tensor([[0.2, 0.1], [-0.3, 0.4], [3.0, 0.0]], dtype=torch.float64)
    qs = torch.tensor([1.0, 0.5, 7.0], dtype=torch.float64)
    eps0, R = 2.0, 1.0  # the unit circle encloses the first two charges only
    angles = torch.linspace(0, 2 * math.pi, 20_001, dtype=torch.float64)[:-1]
    normal = torch.stack([angles.cos(), angles.sin()], dim=1)
    E = electric_field_2d(R * normal, cs, qs, epsilon0=eps0)
    flux = (E * normal).sum(dim=1).mean().item() * 2 * math.pi * R
    assert flux == pytest.approx((1.0 + 0.5) / eps0, rel=1e-6)


def test_single_charge_field_lines_are_radial():
    c = torch.tensor([[0.0, 0.0]], dtype=torch.float64)
    field = lambda p: electric_field_2d(p, c, torch.tensor([1.0]))  # noqa: E731
    start = torch.tensor([[-30.0, 10.0], [5.0, 10.0], [0.0, 10.0]], dtype=torch.float64)
    traj = follow_field_lines(field, start, 1e-3, 100, return_trajectory=True)
    assert traj.shape == (101, 3, 2)
    # Against the field, towards the charge, along the ray: x / z stays x0 / z0.
    ratio = traj[..., 0] / traj[..., 1]
    assert torch.allclose(ratio, (start[:, 0] / start[:, 1]).expand_as(ratio), atol=1e-10)
    assert torch.allclose(traj[-1], start * 1e-4, atol=1e-12)
    # z is the clock: it lands on z_end to rounding, not just to the integrator's accuracy.
    assert torch.allclose(traj[-1, :, 1], torch.full((3,), 1e-3, dtype=torch.float64), rtol=1e-13, atol=0)


def test_backward_field_lines_share_out_flux_like_the_charges():
    # Two charges on the plane z = 0 with q = 0.75 and 0.25. Far away the field is radial, so
    # starting points spread uniformly in angle over the upper half-circle carry equal flux;
    # following the lines back to z = 0, a fraction q_i / Q of them ends on charge i.
    cs = torch.tensor([[-1.0, 0.0], [1.0, 0.0]], dtype=torch.float64)
    qs = torch.tensor([0.75, 0.25], dtype=torch.float64)
    z_max, n = 200.0, 400
    theta = (torch.arange(n, dtype=torch.float64) + 0.5) / n * math.pi
    # Uniform angles on a far half-circle, projected radially onto the line z = z_max (Cauchy).
    start = torch.stack([z_max / theta.tan(), torch.full((n,), z_max, dtype=torch.float64)], dim=1)
    end = follow_field_lines(lambda p: electric_field_2d(p, cs, qs), start, 1e-3, 200)
    # Most lines arrive steeply and are within 0.01 of a charge by z = 1e-3; the outermost ones and
    # those next to the separatrix graze the axis and are still on their way along it.
    distance_to_charge = (end[:, :1] - cs[:, 0]).abs().min(dim=1).values
    assert (distance_to_charge < 0.01).double().mean() > 0.9
    # The separatrix meets the axis at the field's zero, x = 0.5 (0.75 / (x + 1) = 0.25 / (1 - x)):
    # lines that end left of it belong to the left charge.
    share_left = (end[:, 0] < 0.5).double().mean().item()
    assert share_left == pytest.approx(0.75, abs=0.01)


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda: random_walk(0, 5, 0.1, 1.0), "num_walkers"),
        (lambda: random_walk(5, 2.5, 0.1, 1.0), "num_steps"),
        (lambda: random_walk(5, 5, -0.1, 1.0), "dt"),
        (lambda: random_walk(5, 5, 0.1, 0.0), "diffusion_coefficient"),
        (lambda: random_walk(5, 5, 0.1, 1.0, dim=0), "dim"),
        (lambda: heat_kernel(torch.zeros(3), 0.0, 1.0), "t"),
        (lambda: heat_kernel(torch.zeros(3, 2, 2), 1.0, 1.0), "x"),
        (lambda: euler_maruyama(None, -1.0, torch.zeros(3), 0.1, 5), "diffusion"),
        (lambda: euler_maruyama(lambda x, t: x[:1], 1.0, torch.zeros(3), 0.1, 5), "drift"),
        (lambda: langevin_sample(lambda x: -x, torch.zeros(3, 2), 0.0, 5), "step_size"),
        (lambda: langevin_sample(lambda x: -x, torch.zeros(3, 2), 0.1, 0), "num_steps"),
        (lambda: electric_field_2d(torch.zeros(3, 3), torch.ones(1, 2), torch.ones(1)), "points"),
        (lambda: electric_field_2d(torch.zeros(3, 2), torch.ones(2, 2), torch.ones(3)), "charges"),
        (lambda: electric_field_2d(torch.zeros(3, 2), torch.ones(1, 2), torch.ones(1), epsilon0=-1), "epsilon0"),
        (lambda: electric_field_2d(torch.ones(3, 2), torch.ones(1, 2), torch.ones(1)), "points must not coincide"),
        (lambda: follow_field_lines(lambda p: p, torch.tensor([[0.0, -1.0]]), 0.1, 5), "x_init"),
        (lambda: follow_field_lines(lambda p: p, torch.tensor([[0.0, 1.0], [0.0, 2.0]]), 0.1, 5), "x_init"),
        (lambda: follow_field_lines(lambda p: p, torch.tensor([[0.0, 1.0]]), 0.0, 5), "z_end"),
    ],
)
def test_bad_inputs_raise_value_errors_naming_the_argument(call, name):
    with pytest.raises(ValueError, match=name):
        call()


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda: langevin_sample(lambda x: -x, torch.zeros(3, 2, dtype=torch.long), 0.1, 5), "x_init"),
        (lambda: langevin_sample("not a function", torch.zeros(3, 2), 0.1, 5), "score_fn"),
        (lambda: euler_maruyama(None, 1.0, [0.0, 1.0], 0.1, 5), "x_init"),
        (lambda: electric_field_2d(torch.zeros(3, 2, dtype=torch.int32), torch.ones(1, 2), torch.ones(1)), "points"),
    ],
)
def test_wrong_types_raise_type_errors_naming_the_argument(call, name):
    with pytest.raises(TypeError, match=name):
        call()
