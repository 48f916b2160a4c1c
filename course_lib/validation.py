"""Checks for the values that enter course_lib's public API, each failing with a named error.

Every check takes the argument's ``name`` and its ``value``, returns the value (converted
where that is harmless, e.g. a NumPy integer to ``int``) and otherwise raises
:class:`InvalidArgument`, whose message names the argument, says what was expected and shows
what was given: ``check_int("steps", 0)`` raises ``InvalidArgument("steps must be a positive
int; got 0")``.

The checks live where values enter (constructors, the entry points, the command line), not
in every step of a loop.
"""

from __future__ import annotations

import argparse
import math
import numbers
from collections.abc import Callable, Collection, Sequence
from typing import NoReturn, TypeVar

import torch
from torch import Tensor

T = TypeVar("T")

MAX_SEED = 2**64 - 1
"""The largest seed ``torch.Generator.manual_seed`` takes without wrapping round."""


class InvalidArgument(ValueError, TypeError):
    """A bad argument: the message names it, says what was expected and what was given.

    A subclass of both ``ValueError`` and ``TypeError``, so that code catching either (as
    callers of earlier versions did) still catches it. ``argument`` is the argument's name.
    """

    def __init__(self, argument: str, message: str) -> None:
        super().__init__(message)
        self.argument = argument


def describe(value: object) -> str:
    """A short description of ``value`` for an error message (tensors by shape and dtype)."""
    if isinstance(value, Tensor):
        return f"a tensor of shape {tuple(value.shape)} and dtype {value.dtype}"
    text = repr(value)
    return f"{type(value).__name__} {text[:80] + '...' if len(text) > 80 else text}"


def _is_int(value: object) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def check_int(name: str, value: object, low: int = 1, high: int | None = None) -> int:
    """``value`` as an int in [low, high] (``high`` None: no upper bound); bools are refused."""
    if _is_int(value):
        value = int(value)
        if value >= low and (high is None or value <= high):
            return value
    if high is not None:
        wanted = f"an int in [{low}, {high}]"
    else:
        wanted = {1: "a positive int", 0: "a non-negative int"}.get(low, f"an int >= {low}")
    raise InvalidArgument(name, f"{name} must be {wanted}; got {value!r}")


def check_seed(name: str, value: object) -> int:
    """A seed: an int in [0, 2**64 - 1] (torch would wrap a negative or larger one round silently)."""
    if _is_int(value) and 0 <= value <= MAX_SEED:
        return int(value)
    raise InvalidArgument(name, f"{name} must be a non-negative int below 2**64; got {value!r}")


def check_number(
    name: str,
    value: object,
    low: float | None = None,
    high: float | None = None,
    *,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """``value`` as a finite float within the given bounds (open or closed); NaN, inf, bools and strings are refused."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
    if ok:
        value = float(value)
        ok = (low is None or (value > low if low_open else value >= low)) and (
            high is None or (value < high if high_open else value <= high))
    if ok:
        return value
    if low is not None and high is not None:
        wanted = f"a finite number in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
    elif low is not None:
        wanted = f"a finite number {'>' if low_open else '>='} {low:g}"
    elif high is not None:
        wanted = f"a finite number {'<' if high_open else '<='} {high:g}"
    else:
        wanted = "a finite number"
    raise InvalidArgument(name, f"{name} must be {wanted}; got {value!r}")


def check_choice(name: str, value: T, choices: Collection[T]) -> T:
    """``value`` if it is one of ``choices``."""
    try:
        if value in choices:
            return value
    except TypeError:  # an unhashable value tested against a set
        pass
    raise InvalidArgument(name, f"{name} must be one of {', '.join(repr(c) for c in choices)}; got {value!r}")


def check_shape(name: str, shape: object, ndim: int | Sequence[int] | None = None) -> tuple[int, ...]:
    """A shape: a tuple or list of positive ints (of length ``ndim`` if given), returned as a tuple."""
    lengths = (ndim,) if isinstance(ndim, int) else ndim
    if isinstance(shape, torch.Size) or (isinstance(shape, (tuple, list)) and all(_is_int(d) and d >= 1 for d in shape)):
        if lengths is None or len(shape) in lengths:
            return tuple(int(d) for d in shape)
    wanted = "" if lengths is None else f" of length {' or '.join(str(k) for k in lengths)}"
    raise InvalidArgument(name, f"{name} must be a tuple of positive ints{wanted}; got {shape!r}")


def check_tensor(
    name: str,
    value: object,
    *,
    ndim: int | Sequence[int] | None = None,
    floating: bool = False,
    finite: bool = False,
) -> Tensor:
    """``value`` if it is a tensor with ``ndim`` dimensions, a float dtype (``floating``) and no NaN or inf (``finite``)."""
    if not isinstance(value, Tensor):
        raise InvalidArgument(name, f"{name} must be a tensor; got {describe(value)}")
    lengths = (ndim,) if isinstance(ndim, int) else ndim
    if lengths is not None and value.ndim not in lengths:
        raise InvalidArgument(
            name, f"{name} must have {' or '.join(str(k) for k in lengths)} dimensions; got shape {tuple(value.shape)}")
    if floating and not value.dtype.is_floating_point:
        raise InvalidArgument(
            name, f"{name} must be a float tensor; got dtype {value.dtype} (convert it, e.g. x.float() / 127.5 - 1 for uint8 images)")
    if finite:
        check_finite(name, value)
    return value


def check_finite(name: str, value: Tensor) -> Tensor:
    """``value`` if it holds no NaN or infinity (integer tensors always pass)."""
    if value.dtype.is_floating_point or value.is_complex():
        bad = ~torch.isfinite(value)
        if bad.any():
            raise InvalidArgument(
                name, f"{name} holds {int(bad.sum())} NaN or infinite value(s) out of {value.numel()}")
    return value


class OneLineParser(argparse.ArgumentParser):
    """An ``argparse.ArgumentParser`` whose usage errors are one line (no usage block), as the
    course's command-line tools print every other error."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def argparse_type(name: str, check: Callable[[str, object], T], parse: Callable[[str], object] = int) -> Callable[[str], T]:
    """An argparse ``type=`` for option ``name``: parse the text with ``parse``, then ``check(name, value)``.

    Errors become argparse's one-line errors, without repeating the option's name (argparse adds it).
    """
    def convert(text: str) -> T:
        try:
            value = parse(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {'an int' if parse is int else 'a number'}; got {text!r}") from None
        try:
            return check(name, value)
        except InvalidArgument as e:
            raise argparse.ArgumentTypeError(str(e).removeprefix(f"{name} ")) from None
    return convert
