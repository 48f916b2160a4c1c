"""Diffusion as physics: random walks, the heat kernel, SDEs, Langevin dynamics and electric fields.

Lesson 02 builds its intuition on these functions:

* :func:`random_walk` and :func:`heat_kernel`: particles that jiggle spread out as the
  Gaussian N(0, 2 D t) that solves the heat equation dp/dt = D d^2p/dx^2 (Einstein 1905).
* :func:`euler_maruyama`: the simplest integrator of an SDE dx = f(x, t) dt + g(t) dW.
* :func:`langevin_sample`: Langevin dynamics, which samples a density from its score alone.
* :func:`electric_field_2d` and :func:`follow_field_lines`: the electrostatics picture behind
  Poisson flow generative models (Xu et al. 2022).

All functions take and return float tensors; random draws use an explicit ``torch.Generator``
(on the CPU by default) so that the same seed gives the same result.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

from .samplers import draw_noise
from .validation import check_int, check_number

Drift = Callable[[Tensor, float], Tensor]


def random_walk(
    num_walkers: int,
    num_steps: int,
    dt: float,
    diffusion_coefficient: float,
    *,
    dim: int = 1,
    lattice: bool = False,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Paths of independent random walkers that start at the origin.

    Every step adds, to every coordinate, an independent increment of mean 0 and variance
    2 D dt: a Gaussian N(0, 2 D dt) (Brownian motion observed every dt), or with
    ``lattice=True`` a coin flip +-sqrt(2 D dt) (a walk on a grid). Either way the position
    after k steps, at time t = k dt, has variance 2 D t per coordinate (Einstein 1905), and by
    the central limit theorem the lattice walk's histogram also becomes that Gaussian.

    Args:
        num_walkers: N >= 1 independent walkers.
        num_steps: K >= 1 steps.
        dt: time per step, > 0.
        diffusion_coefficient: D > 0 (length^2 / time).
        dim: number of coordinates per walker, >= 1.
        lattice: coin-flip steps instead of Gaussian ones.
        generator: source of randomness (CPU).

    Returns:
        float32 tensor (K + 1, N, dim): row k holds the positions at time k dt; row 0 is zeros.
    """
    _check_count("num_walkers", num_walkers)
    _check_count("num_steps", num_steps)
    _check_count("dim", dim)
    _check_positive("dt", dt)
    _check_positive("diffusion_coefficient", diffusion_coefficient)
    step_std = math.sqrt(2 * diffusion_coefficient * dt)
    shape = (num_steps, num_walkers, dim)
    if lattice:
        steps = (2 * torch.randint(0, 2, shape, generator=generator) - 1).float() * step_std
    else:
        steps = torch.randn(shape, generator=generator) * step_std
    return torch.cat([torch.zeros(1, num_walkers, dim), steps.cumsum(dim=0)])


def heat_kernel(x: Tensor, t: float, diffusion_coefficient: float) -> Tensor:
    """Density at time t of particles released at the origin: the Gaussian N(0, 2 D t I).

    p(x, t) = (4 pi D t)^(-d/2) exp(-|x|^2 / (4 D t)) solves the heat (diffusion) equation
    dp/dt = D laplacian(p) with p(x, 0) = delta(x).

    Args:
        x: points, shape (N,) for a line or (N, d) in d dimensions.
        t: time, > 0.
        diffusion_coefficient: D > 0.

    Returns:
        densities, shape (N,), in the dtype of ``x`` (float32 for integer input).
    """
    x = torch.as_tensor(x)
    if x.ndim not in (1, 2):
        raise ValueError(f"x must have shape (N,) or (N, d); got {tuple(x.shape)}")
    _check_positive("t", t)
    _check_positive("diffusion_coefficient", diffusion_coefficient)
    if not x.dtype.is_floating_point:
        x = x.float()
    points = x[:, None] if x.ndim == 1 else x
    variance = 2 * diffusion_coefficient * t
    squared_norm = (points**2).sum(dim=1)
    return torch.exp(-squared_norm / (2 * variance)) / (2 * math.pi * variance) ** (points.shape[1] / 2)


def euler_maruyama(
    drift: Drift | None,
    diffusion: float | Callable[[float], float],
    x_init: Tensor,
    dt: float,
    num_steps: int,
    *,
    t_start: float = 0.0,
    generator: torch.Generator | None = None,
    return_trajectory: bool = False,
) -> Tensor:
    """Integrate the SDE dx = f(x, t) dt + g(t) dW with the Euler-Maruyama scheme.

    x_{k+1} = x_k + f(x_k, t_k) dt + g(t_k) sqrt(dt) z_k,  z_k ~ N(0, I),  t_k = t_start + k dt.

    Args:
        drift: f, called as ``drift(x, t)`` with x of the shape of ``x_init`` and t a float;
            returns a tensor of that shape. ``None`` means f = 0 (pure diffusion).
        diffusion: g, a number >= 0 or a function of t returning one.
        x_init: starting points, any shape (e.g. (N, d)), float.
        dt: step, > 0.
        num_steps: K >= 1.
        t_start: time of ``x_init``.
        generator: source of the noise z (CPU by default).
        return_trajectory: return every x_k instead of the last one.

    Returns:
        x_K with the shape of ``x_init``, or the trajectory (K + 1, *x_init.shape).
    """
    x = _check_float_tensor("x_init", x_init)
    _check_positive("dt", dt)
    _check_count("num_steps", num_steps)
    if drift is not None and not callable(drift):
        raise TypeError(f"drift must be a callable drift(x, t) or None; got {type(drift).__name__}")
    g = diffusion if callable(diffusion) else _constant(_check_non_negative("diffusion", diffusion))
    trajectory = [x]
    for k in range(num_steps):
        t = t_start + k * dt
        step = draw_noise(x, generator) * (g(t) * math.sqrt(dt))
        if drift is not None:
            f = drift(x, t)
            if f.shape != x.shape:
                raise ValueError(f"drift must return the shape of x {tuple(x.shape)}; got {tuple(f.shape)}")
            step = step + f * dt
        x = x + step
        if return_trajectory:
            trajectory.append(x)
    return torch.stack(trajectory) if return_trajectory else x


def langevin_sample(
    score_fn: Callable[[Tensor], Tensor],
    x_init: Tensor,
    step_size: float,
    num_steps: int,
    generator: torch.Generator | None = None,
    *,
    return_trajectory: bool = False,
) -> Tensor:
    """Draw samples from p using only its score grad log p(x) (unadjusted Langevin dynamics).

    x_{k+1} = x_k + (eps / 2) grad log p(x_k) + sqrt(eps) z_k    (Song & Ermon 2019, section 2.2)

    This is Euler-Maruyama applied to the Langevin SDE dx = grad log p(x) dt + sqrt(2) dW with
    dt = eps / 2; that SDE has p as its stationary density. With a finite eps the samples carry
    a bias of order eps.

    Args:
        score_fn: maps x of shape (N, d) to grad log p(x) of shape (N, d).
        x_init: starting points (N, d), float.
        step_size: eps > 0.
        num_steps: K >= 1.
        generator: source of the noise z (CPU by default).
        return_trajectory: return all K + 1 states, shape (K + 1, N, d).

    Returns:
        samples (N, d), or the trajectory.
    """
    if not callable(score_fn):
        raise TypeError(f"score_fn must be callable; got {type(score_fn).__name__}")
    _check_positive("step_size", step_size)
    return euler_maruyama(
        lambda x, t: score_fn(x),
        math.sqrt(2.0),
        x_init,
        step_size / 2,
        num_steps,
        generator=generator,
        return_trajectory=return_trajectory,
    )


def electric_field_2d(points: Tensor, charge_positions: Tensor, charges: Tensor, epsilon0: float = 1.0) -> Tensor:
    """Electric field of point charges in a two-dimensional world.

    In 2-D, Gauss's law (field flux through a circle = enclosed charge / epsilon0) gives
    E(x) = sum_i q_i (x - c_i) / (2 pi epsilon0 |x - c_i|^2): magnitude q / (2 pi epsilon0 r),
    falling as 1/r rather than 3-D's 1/r^2. (A point charge in 2-D is a uniformly charged
    line in 3-D seen end on.) Units: any consistent ones; epsilon0 = 1 by default.

    Args:
        points: where to evaluate the field, (N, 2).
        charge_positions: (M, 2).
        charges: (M,) charges q_i (any sign).
        epsilon0: permittivity, > 0.

    Returns:
        the field (N, 2) in the dtype of ``points``. Raises ValueError at a point that
        coincides with a charge, where the field is infinite.
    """
    points = _check_float_tensor("points", points)
    charge_positions = torch.as_tensor(charge_positions, dtype=points.dtype, device=points.device)
    charges = torch.as_tensor(charges, dtype=points.dtype, device=points.device)
    if points.ndim != 2 or points.shape[1] != 2:
        raise ValueError(f"points must have shape (N, 2); got {tuple(points.shape)}")
    if charge_positions.ndim != 2 or charge_positions.shape[1] != 2:
        raise ValueError(f"charge_positions must have shape (M, 2); got {tuple(charge_positions.shape)}")
    if charges.shape != (charge_positions.shape[0],):
        raise ValueError(f"charges must have shape ({charge_positions.shape[0]},), one per position; got {tuple(charges.shape)}")
    _check_positive("epsilon0", epsilon0)
    dx = points[:, :1] - charge_positions[:, 0]  # (N, M) offsets from every charge
    dy = points[:, 1:] - charge_positions[:, 1]
    squared_distance = dx * dx + dy * dy
    if (squared_distance == 0).any():
        raise ValueError("points must not coincide with a charge: the field is infinite there")
    weight = (charges / (2 * math.pi * epsilon0)) / squared_distance  # q_i / (2 pi eps0 r^2), (N, M)
    return torch.stack([(weight * dx).sum(dim=1), (weight * dy).sum(dim=1)], dim=1)


def follow_field_lines(
    field_fn: Callable[[Tensor], Tensor],
    x_init: Tensor,
    z_end: float,
    num_steps: int,
    *,
    return_trajectory: bool = False,
) -> Tensor:
    """Move points along the lines of a field, with their last coordinate z as the clock.

    Along a field line dx/dz = E_x(x, z) / E_z(x, z) for the other coordinates x: Xu et al.
    2022's backward ODE when z decreases towards the data plane z = 0, and their forward
    (data to hemisphere) map when z increases. Like them we use log z as the time variable
    (dx/dlog z = z E_x / E_z); we take equal steps in it with the classical fourth-order
    Runge-Kutta method. This needs E_z != 0 on the way, which holds everywhere above a plane of
    positive charges.

    Args:
        field_fn: maps points (N, D) to the field (N, D), D >= 2.
        x_init: starting points (N, D) with last coordinate z > 0 (the same z for all points).
        z_end: the z to stop at, > 0 (reaching z = 0 exactly would take infinitely many log steps).
        num_steps: K >= 1 steps.
        return_trajectory: return all K + 1 states (K + 1, N, D).

    Returns:
        points (N, D) whose last coordinate is ``z_end``, or the trajectory.
    """
    x = _check_float_tensor("x_init", x_init)
    if x.ndim != 2 or x.shape[1] < 2:
        raise ValueError(f"x_init must have shape (N, D) with D >= 2; got {tuple(x.shape)}")
    z_start = x[0, -1].item()
    if not z_start > 0 or not torch.all(x[:, -1] == z_start):
        raise ValueError("x_init must have one common last coordinate z > 0 for all points")
    _check_positive("z_end", z_end)
    _check_count("num_steps", num_steps)
    if not callable(field_fn):
        raise TypeError(f"field_fn must be callable; got {type(field_fn).__name__}")

    def velocity(points: Tensor) -> Tensor:
        # d(points)/d(log z): z E / E_z, whose last component is z itself.
        field = field_fn(points)
        e_z = field[:, -1:]
        if (e_z == 0).any():
            raise ValueError("the field's last component E_z vanished: z cannot serve as the clock there")
        return points[:, -1:] * field / e_z

    h = (math.log(z_end) - math.log(z_start)) / num_steps
    trajectory = [x]
    for k in range(num_steps):
        k1 = velocity(x)
        k2 = velocity(x + h / 2 * k1)
        k3 = velocity(x + h / 2 * k2)
        k4 = velocity(x + h * k3)
        x = x + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
        # Pin z to its exact value z_start * exp((k+1) h); RK4 only approximates the exponential.
        x[:, -1] = z_start * math.exp((k + 1) * h)
        if return_trajectory:
            trajectory.append(x)
    return torch.stack(trajectory) if return_trajectory else x


def _constant(value: float) -> Callable[[float], float]:
    return lambda t: value


def _check_count(name: str, value: int) -> None:
    check_int(name, value)


def _check_positive(name: str, value: float) -> float:
    return check_number(name, value, 0, low_open=True)


def _check_non_negative(name: str, value: float) -> float:
    return check_number(name, value, 0)


def _check_float_tensor(name: str, value: Tensor) -> Tensor:
    if not isinstance(value, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor; got {type(value).__name__}")
    if not value.dtype.is_floating_point:
        raise TypeError(f"{name} must be a floating-point tensor; got dtype {value.dtype}")
    return value
