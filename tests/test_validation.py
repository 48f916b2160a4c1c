"""course_lib.validation: each check returns good values and names the argument in its error."""

import math

import numpy as np
import pytest
import torch

from course_lib.validation import (
    MAX_SEED,
    InvalidArgument,
    check_choice,
    check_finite,
    check_int,
    check_number,
    check_seed,
    check_shape,
    check_tensor,
    describe,
)


def test_invalid_argument_is_caught_as_value_or_type_error_and_knows_the_argument():
    with pytest.raises(InvalidArgument) as info:
        check_int("steps", 0)
    assert isinstance(info.value, ValueError) and isinstance(info.value, TypeError)
    assert info.value.argument == "steps"
    assert str(info.value) == "steps must be a positive int; got 0"


@pytest.mark.parametrize("value, low, high, expected", [(3, 1, None, 3), (np.int64(0), 0, None, 0), (7, 2, 7, 7)])
def test_check_int_returns_a_plain_int(value, low, high, expected):
    result = check_int("n", value, low, high)
    assert result == expected and type(result) is int


@pytest.mark.parametrize(
    "value, low, high, message",
    [
        (0, 1, None, "n must be a positive int; got 0"),
        (-1, 0, None, "n must be a non-negative int; got -1"),
        (3, 4, None, "n must be an int >= 4; got 3"),
        (9, 1, 8, r"n must be an int in \[1, 8\]; got 9"),
        (True, 1, None, "n must be a positive int; got True"),
        (2.0, 1, None, "n must be a positive int; got 2.0"),
        ("3", 1, None, "n must be a positive int; got '3'"),
        (None, 1, None, "n must be a positive int; got None"),
    ],
)
def test_check_int_refuses(value, low, high, message):
    with pytest.raises(InvalidArgument, match=message):
        check_int("n", value, low, high)


def test_check_seed_takes_exactly_what_torch_takes_without_wrapping():
    assert check_seed("seed", 0) == 0 and check_seed("seed", MAX_SEED) == 2**64 - 1
    assert torch.Generator().manual_seed(MAX_SEED).initial_seed() == MAX_SEED
    for bad in (-1, 2**64, 0.0, False):
        with pytest.raises(InvalidArgument, match=r"seed must be a non-negative int below 2\*\*64"):
            check_seed("seed", bad)


@pytest.mark.parametrize(
    "value, kwargs, expected",
    [(0.5, dict(low=0, high=1), 0.5), (np.float32(2), dict(low=0), 2.0), (1, dict(high=1), 1.0), (0, {}, 0.0)],
)
def test_check_number_returns_a_float(value, kwargs, expected):
    result = check_number("x", value, **kwargs)
    assert result == expected and type(result) is float


@pytest.mark.parametrize(
    "value, kwargs, message",
    [
        (math.nan, {}, "x must be a finite number; got nan"),
        (math.inf, dict(low=0), "x must be a finite number >= 0; got inf"),
        (0.0, dict(low=0, low_open=True), "x must be a finite number > 0; got 0.0"),
        (1.0, dict(low=0, high=1, high_open=True), r"x must be a finite number in \[0, 1\); got 1.0"),
        (2, dict(high=1), "x must be a finite number <= 1; got 2"),
        ("0.1", dict(low=0, high=1), r"x must be a finite number in \[0, 1\]; got '0.1'"),
        (True, {}, "x must be a finite number; got True"),
        (torch.tensor(0.5), {}, "x must be a finite number"),
    ],
)
def test_check_number_refuses(value, kwargs, message):
    with pytest.raises(InvalidArgument, match=message):
        check_number("x", value, **kwargs)


def test_check_choice():
    assert check_choice("mode", "a", ("a", "b")) == "a"
    with pytest.raises(InvalidArgument, match="mode must be one of 'a', 'b'; got 'c'"):
        check_choice("mode", "c", ("a", "b"))
    with pytest.raises(InvalidArgument, match="mode must be one of"):
        check_choice("mode", ["a"], {"a", "b"})  # unhashable


def test_check_shape():
    assert check_shape("shape", [2, np.int64(3)]) == (2, 3)
    assert check_shape("shape", torch.Size([4, 1]), ndim=(2, 4)) == (4, 1)
    for bad in [(2.0, 3), (0, 3), 4, "23", (2, -1)]:
        with pytest.raises(InvalidArgument, match="shape must be a tuple of positive ints"):
            check_shape("shape", bad)
    with pytest.raises(InvalidArgument, match="of length 3"):
        check_shape("shape", (1, 2), ndim=3)


def test_check_tensor_and_check_finite():
    x = torch.zeros(2, 3)
    assert check_tensor("x", x, ndim=2, floating=True, finite=True) is x
    with pytest.raises(InvalidArgument, match="x must be a tensor; got list"):
        check_tensor("x", [1.0])
    with pytest.raises(InvalidArgument, match=r"x must have 4 dimensions; got shape \(2, 3\)"):
        check_tensor("x", x, ndim=4)
    with pytest.raises(InvalidArgument, match="x must be a float tensor; got dtype torch.uint8"):
        check_tensor("x", x.to(torch.uint8), floating=True)
    with pytest.raises(InvalidArgument, match="x holds 2 NaN or infinite value"):
        check_finite("x", torch.tensor([0.0, math.nan, -math.inf]))
    assert check_finite("labels", torch.tensor([1, 2])).dtype == torch.int64


def test_describe_is_short():
    assert describe(torch.zeros(2, 3)) == "a tensor of shape (2, 3) and dtype torch.float32"
    assert len(describe("a" * 1000)) < 100
