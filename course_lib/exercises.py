"""Checking a learner's "write it yourself" code against the library's result.

A lesson's exercise gives a stub to fill in, then a check cell::

    check(lambda: my_ddim_step(x, t, eps), sampler.step(eps, t, x), name="my_ddim_step",
          mistakes={"the step for t + 1 (an off-by-one timestep)": sampler.step(eps, t + 1, x)})

``check`` never raises on the learner's behalf: it prints one line that says whether the two
agree and, when they don't, what differs (not written yet, an exception, the shape, NaNs, a
constant scale factor, the sign, or one of the named ``mistakes``), and returns a result that
is true only on a match, so a worked solution can ``assert check(...)``; the notebook shows the
printed line once, not the result after it.
"""

from __future__ import annotations

from typing import Callable, Mapping, Union

import torch
from torch import Tensor

Result = Union[Tensor, float, int, None]


def _as_tensor(value: Result) -> Tensor | None:
    if value is None:
        return None
    if isinstance(value, Tensor):
        return value.detach().cpu().double()
    return torch.as_tensor(value, dtype=torch.float64)


def _close(a: Tensor, b: Tensor, rtol: float, atol: float) -> bool:
    return a.shape == b.shape and torch.allclose(a, b, rtol=rtol, atol=atol)


def diagnose(yours: Result, expected: Result, *, rtol: float = 1e-4, atol: float = 1e-5,
             mistakes: Mapping[str, Result] | None = None) -> str | None:
    """What differs between ``yours`` and ``expected``, in words; ``None`` when they agree.

    Args:
        yours: the learner's result (a tensor or a number; ``None`` means "not written yet").
        expected: the reference result, of the same shape.
        rtol, atol: tolerances of ``torch.allclose``, applied in float64.
        mistakes: known wrong results by description, e.g. ``{"beta_t instead of sqrt(beta_t)": ...}``;
            a match names the mistake.
    """
    mine, reference = _as_tensor(yours), _as_tensor(expected)
    if reference is None:
        raise ValueError("expected must be a tensor or a number, not None")
    if mine is None:
        return "it returns None: fill in the stub (replace `return None` with your code)"
    if mine.shape != reference.shape:
        return f"the shape is {tuple(mine.shape)}, expected {tuple(reference.shape)}"
    if not torch.isfinite(mine).all():
        return f"it holds {int((~torch.isfinite(mine)).sum())} NaN or infinite values"
    if _close(mine, reference, rtol, atol):
        return None
    for description, wrong in (mistakes or {}).items():
        wrong_tensor = _as_tensor(wrong)
        if wrong_tensor is not None and _close(mine, wrong_tensor, rtol, atol):
            return f"it equals {description}"
    if _close(-mine, reference, rtol, atol):
        return "it has the opposite sign"
    scale = (mine * reference).sum() / (reference * reference).sum().clamp_min(1e-300)
    if abs(scale - 1) > 1e-3 and _close(scale * reference, mine, rtol, atol):
        return f"it is {scale.item():.4g} times the expected value: a missing or extra factor"
    error = (mine - reference).abs().max().item()
    return f"it differs by up to {error:.3g} (tolerance {atol:g} + {rtol:g}·|expected|)"


class CheckResult:
    """The verdict of :func:`check`: true on a match; ``message`` is the line it printed."""

    def __init__(self, matches: bool, message: str) -> None:
        self.matches = matches
        self.message = message

    def __bool__(self) -> bool:
        return self.matches

    def __repr__(self) -> str:
        return f"CheckResult({self.message!r})"

    def _ipython_display_(self) -> None:
        """Show nothing as a cell's last value: ``check`` has printed the line already."""


def check(yours: Result | Callable[[], Result], expected: Result, *, name: str = "your result",
          rtol: float = 1e-4, atol: float = 1e-5, mistakes: Mapping[str, Result] | None = None) -> CheckResult:
    """Print whether the learner's result matches the library's, and why not; the result is true on a match.

    Args:
        yours: the learner's result, or a function of no arguments that computes it (its
            exception, such as ``NotImplementedError`` from a stub, is reported, not raised).
        expected, rtol, atol, mistakes: as in :func:`diagnose`.
        name: what to call the learner's code in the message, e.g. ``"my_ddim_step"``.
    """
    if callable(yours):
        try:
            yours = yours()
        except NotImplementedError:
            return _verdict(False, f"✗ {name}: not written yet (it raises NotImplementedError)")
        except Exception as error:  # the learner's bug, reported in one line
            return _verdict(False, f"✗ {name} raised {type(error).__name__}: {error}")
    problem = diagnose(yours, expected, rtol=rtol, atol=atol, mistakes=mistakes)
    if problem is None:
        error = (_as_tensor(yours) - _as_tensor(expected)).abs().max().item()
        return _verdict(True, f"✓ {name} matches the library (largest difference {error:.2g})")
    return _verdict(False, f"✗ {name} does not match: {problem}")


def _verdict(matches: bool, message: str) -> CheckResult:
    print(message)
    return CheckResult(matches, message)
