"""Claims of lesson 02 (the physics of diffusion) checked against closed forms."""

import math

import pytest
import torch

from course_lib.physics import random_walk


@pytest.mark.parametrize("dim", [1, 2, 3])
def test_mean_squared_distance_grows_as_2_d_D_t(dim):
    # Lesson 02, exercise 1: 2Dt is the variance per coordinate, so <|r_t|^2> = 2 d D t in d dimensions
    # (4Dt in the plane). |r_t|^2 / (2Dt) is chi-squared with d degrees of freedom: mean d, variance 2d.
    n, steps, dt, D = 20_000, 50, 0.01, 0.37
    paths = random_walk(n, steps, dt, D, dim=dim, generator=torch.Generator().manual_seed(dim))
    for k in (10, 50):
        t = k * dt
        r2 = (paths[k].double() ** 2).sum(dim=1)  # (n,)
        standard_error = 2 * D * t * math.sqrt(2 * dim / n)
        assert abs(r2.mean().item() - 2 * dim * D * t) < 5 * standard_error
        if dim > 1:  # the per-coordinate reading 2Dt would be off by a factor d
            assert abs(r2.mean().item() - 2 * D * t) > 50 * standard_error
