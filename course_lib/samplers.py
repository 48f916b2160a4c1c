"""Reverse-process samplers: DDPM (Ho et al. 2020), DDIM (Song, Meng & Ermon 2020) and
DPM-Solver++(2M) (Lu et al. 2022b).

Each sampler follows diffusers' scheduler conventions so that the diffusers lesson can map
one onto the other line by line:

* ``sampler.timesteps`` lists the timesteps to visit, from noisiest to cleanest;
* ``sampler.step(model_output, timestep, sample)`` returns x at the previous timestep,
  given the network's noise prediction epsilon_theta(x_t, t).

:func:`sample` runs the loop, with optional classifier-free guidance and the trajectory.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import Tensor, nn
from tqdm import tqdm

from .schedules import NoiseSchedule
from .validation import InvalidArgument, check_int, check_number, check_shape, check_tensor

GuidanceCallback = Callable[[Tensor, int, Tensor], Tensor]
"""``guide(x_t, t, eps) -> eps``: x_t and eps (N, ...), t an int; returns the noise prediction to step with
(see :mod:`course_lib.guidance`)."""


def _predict_x0(schedule: NoiseSchedule, model_output: Tensor, timestep: int, sample: Tensor) -> Tensor:
    """x_0 implied by x_t and the predicted noise: (x_t - sqrt(1 - alpha_bar_t) eps) / sqrt(alpha_bar_t) (Ho et al. 2020, eq. 15)."""
    alpha_bar = schedule.alphas_cumprod[timestep]
    return (sample - (1 - alpha_bar).sqrt() * model_output) / alpha_bar.sqrt()


def _check_step_inputs(
    schedule: NoiseSchedule, model_output: Tensor, timestep: int, sample: Tensor, noise: Tensor | None
) -> int:
    if model_output.shape != sample.shape:
        raise ValueError(
            f"model_output must have the shape of sample {tuple(sample.shape)}; got {tuple(model_output.shape)}"
        )
    if noise is not None and noise.shape != sample.shape:
        raise ValueError(f"noise must have the shape of sample {tuple(sample.shape)}; got {tuple(noise.shape)}")
    timestep = schedule.check_timesteps(timestep)
    if timestep.numel() != 1:
        raise ValueError(f"timestep must be a single int; got shape {tuple(timestep.shape)}")
    for name, value in [("model_output", model_output), ("sample", sample)]:
        if not torch.isfinite(value).all():  # one cheap pass: NaN would otherwise spread silently
            raise FloatingPointError(f"{name} holds NaN or infinite values at timestep {int(timestep)}")
    return int(timestep)


def _check_schedule(schedule: object) -> NoiseSchedule:
    if not isinstance(schedule, NoiseSchedule):
        raise InvalidArgument("schedule", f"schedule must be a NoiseSchedule; got {type(schedule).__name__}")
    return schedule


def draw_noise(sample: Tensor, generator: torch.Generator | None) -> Tensor:
    """Standard normal noise like ``sample``, drawn on the generator's device (CPU by default) for repeatability."""
    gen_device = generator.device if generator is not None else torch.device("cpu")
    noise = torch.randn(sample.shape, generator=generator, device=gen_device, dtype=sample.dtype)
    return noise.to(sample.device)


class DDPMSampler:
    """Ancestral sampling over all T steps (Ho et al. 2020, Algorithm 2).

    Args:
        schedule: the noise schedule the model was trained with.
        clip_sample: clip the predicted x_0 to [-1, 1] before each step (diffusers' default is
            True; the paper's Algorithm 2 has no clipping, which is ours).
        add_noise: add sigma_t z at each step, as Algorithm 2 does. ``False`` reproduces the
            classic mistake of forgetting it (lesson 06 shows what that produces).
    """

    def __init__(self, schedule: NoiseSchedule, clip_sample: bool = False, add_noise: bool = True) -> None:
        self.schedule = _check_schedule(schedule)
        self.clip_sample = clip_sample
        self.add_noise = add_noise
        self.timesteps = torch.arange(schedule.num_timesteps - 1, -1, -1)

    def step(
        self,
        model_output: Tensor,
        timestep: int,
        sample: Tensor,
        generator: torch.Generator | None = None,
        noise: Tensor | None = None,
    ) -> Tensor:
        """One reverse step x_t -> x_{t-1}.

        Args:
            model_output: predicted noise epsilon_theta(x_t, t), shape (N, ...).
            timestep: t in [0, T-1] (0-based, as in diffusers).
            sample: x_t, same shape as ``model_output``.
            generator: source of the fresh noise z (ignored when ``noise`` is given).
            noise: z itself, for tests that want to fix it.

        Returns:
            x_{t-1}, same shape as ``sample``. At t = 0 no noise is added.
        """
        t = _check_step_inputs(self.schedule, model_output, timestep, sample, noise)
        s = self.schedule
        alpha_bar = s.alphas_cumprod[t]
        alpha_bar_prev = s.alphas_cumprod[t - 1] if t > 0 else torch.tensor(1.0)
        # alpha_t and beta_t from the alpha-bars rather than s.betas, so that float32 rounding cancels:
        # at t = 0, beta_t / (1 - alpha_bar_t) is exactly 1 and the step returns the predicted x_0.
        alpha = alpha_bar / alpha_bar_prev
        beta = 1 - alpha

        x0 = _predict_x0(s, model_output, t, sample)
        if self.clip_sample:
            x0 = x0.clamp(-1, 1)
        # Mean of the posterior q(x_{t-1} | x_t, x_0) (Ho et al. 2020, eq. 7). Without clipping it
        # equals Algorithm 2's 1/sqrt(alpha_t) (x_t - beta_t / sqrt(1 - alpha_bar_t) eps).
        coef_x0 = alpha_bar_prev.sqrt() * beta / (1 - alpha_bar)
        coef_xt = alpha.sqrt() * (1 - alpha_bar_prev) / (1 - alpha_bar)
        mean = coef_x0 * x0 + coef_xt * sample
        if t == 0 or not self.add_noise:
            return mean
        # sigma_t^2 = beta-tilde_t, the posterior variance (Ho et al. 2020, eq. 7 and section 3.2).
        variance = ((1 - alpha_bar_prev) / (1 - alpha_bar) * beta).clamp(min=1e-20)
        z = noise if noise is not None else draw_noise(sample, generator)
        return mean + variance.sqrt() * z


SPACINGS = ("leading", "trailing", "linspace")
"""The timestep spacings of Lin et al. 2024, Table 2, as diffusers names them."""


def _check_spacing(spacing: object) -> str:
    if spacing not in SPACINGS:
        raise InvalidArgument("timestep_spacing", f"timestep_spacing must be one of {', '.join(map(repr, SPACINGS))}; "
                                                  f"got {spacing!r}")
    return spacing


def _trailing(num_timesteps: int, num_inference_steps: int) -> np.ndarray:
    """round(T - k T / n) - 1 for k = 0..n-1, with numpy's float rounding as diffusers has it; for some n (500
    and 61, say) the float arange overshoots to an (n+1)-th value, -1 after the shift, which diffusers keeps and we drop."""
    trailing = np.round(np.arange(num_timesteps, 0, -num_timesteps / num_inference_steps)).astype(np.int64) - 1
    return trailing[:num_inference_steps]


def ddim_timesteps(num_timesteps: int, num_inference_steps: int, spacing: str) -> Tensor:
    """The timesteps DDIM visits, largest first, as diffusers' ``DDIMScheduler`` lists them (``steps_offset=0``).

    * "leading": i * (T // n) for i = n-1, ..., 0; starts at T - T // n, never at T - 1 (unless n = T).
    * "trailing": round(T - k T / n) - 1 for k = 0, ..., n-1; starts at T - 1.
    * "linspace": n points from T - 1 to 0, evenly spaced and rounded; starts at T - 1 and ends at 0.

    Returns a long tensor of shape (n,), strictly decreasing, in [0, T-1].
    """
    if spacing == "leading":
        return torch.arange(num_inference_steps).flip(0) * (num_timesteps // num_inference_steps)
    if spacing == "trailing":
        return torch.from_numpy(_trailing(num_timesteps, num_inference_steps))
    linspace = np.linspace(0, num_timesteps - 1, num_inference_steps).round()[::-1].astype(np.int64)
    return torch.from_numpy(linspace.copy())


DEFAULT_DDIM_SPACING = "trailing"
"""DDIMSampler's default spacing, chosen by measurement (``make bench``, shipped digits model, 500 samples, the
judge's FID): trailing beats leading, diffusers' default, at every step count: 2.21 vs 3.84 at 5 steps, 1.19
vs 1.74 at 10, 1.25 vs 1.45 at 20, 1.42 vs 1.50 at 50; and leading with 251 of 500 steps starts at t = 250
(FID 8.86, confident 0.882, against trailing's 1.42 and 0.960). To reproduce diffusers' default
``DDIMScheduler``, pass ``timestep_spacing="leading"``."""


class DDIMSampler:
    """Deterministic (eta = 0) or stochastic DDIM sampling over a subset of the timesteps.

    The n = ``num_inference_steps`` timesteps, visited from largest to smallest, are spaced as
    diffusers' ``DDIMScheduler`` spaces them (with ``steps_offset=0``), see :func:`ddim_timesteps`
    (Lin et al. 2024, Table 2):

    * ``"trailing"`` (the default, chosen by measurement, see :data:`DEFAULT_DDIM_SPACING`):
      round(T - i * T / n) - 1 for i = 0, ..., n-1: the first step is at T - 1.
    * ``"leading"`` (diffusers' default): t_i = i * (T // n) for i = n-1, ..., 0. The first step is at T - T // n,
      not T - 1; with n = 1 the only step is t = 0, which returns its input; with n between
      T/2 and T the first step is at n - 1 (steps = 251 of T = 500 starts at t = 250).
    * ``"linspace"``: n timesteps evenly spaced from T - 1 down to 0, rounded.

    Each step goes to the next timestep in the list and the last one to alpha_bar = 1 (clean
    data). For "leading", and for "trailing" when n divides T, this is what diffusers does; for
    "trailing" with n not dividing T, and for "linspace", diffusers steps by T // n instead,
    which misses the listed timesteps (diffusers issue #9261), and this sampler does not follow it there.

    Args:
        schedule: the noise schedule the model was trained with.
        num_inference_steps: how many network evaluations, 1..T.
        eta: 0 gives DDIM, 1 gives a DDPM-like amount of noise (Song et al. 2020, eq. 16).
        clip_sample: clip the predicted x_0 to [-1, 1].
        timestep_spacing: "trailing" (the default), "leading" or "linspace", as above.
    """

    def __init__(self, schedule: NoiseSchedule, num_inference_steps: int = 50, eta: float = 0.0, clip_sample: bool = False,
                 timestep_spacing: str = DEFAULT_DDIM_SPACING) -> None:
        T = _check_schedule(schedule).num_timesteps
        num_inference_steps = check_int("num_inference_steps", num_inference_steps, 1, T)
        _check_spacing(timestep_spacing)
        _check_eta(eta)
        self.schedule = schedule
        self.num_inference_steps = num_inference_steps
        self.eta = eta
        self.clip_sample = clip_sample
        self.timestep_spacing = timestep_spacing
        self.step_ratio = T // num_inference_steps
        self.timesteps = ddim_timesteps(T, num_inference_steps, timestep_spacing)

    def previous_timestep(self, timestep: int) -> int:
        """The timestep a step from ``timestep`` lands on; -1 stands for alpha_bar = 1 (clean data).

        "leading": ``timestep - T // n`` (diffusers' rule). "trailing" and "linspace": the largest
        timestep of ``self.timesteps`` below ``timestep``, or -1 if there is none.
        """
        t = int(timestep)
        if self.timestep_spacing == "leading":
            return t - self.step_ratio
        below = self.timesteps[self.timesteps < t]
        return int(below.max()) if len(below) else -1

    def step(
        self,
        model_output: Tensor,
        timestep: int,
        sample: Tensor,
        generator: torch.Generator | None = None,
        noise: Tensor | None = None,
        eta: float | None = None,
    ) -> Tensor:
        """One DDIM update x_t -> x_{previous_timestep(t)} (Song et al. 2020, eq. 12).

        Shapes as :meth:`DDPMSampler.step`; ``eta`` overrides the sampler's eta for this step.
        """
        t = _check_step_inputs(self.schedule, model_output, timestep, sample, noise)
        eta = self.eta if eta is None else _check_eta(eta)
        s = self.schedule
        prev_t = self.previous_timestep(t)
        alpha_bar = s.alphas_cumprod[t]
        alpha_bar_prev = s.alphas_cumprod[prev_t] if prev_t >= 0 else torch.tensor(1.0)

        x0 = _predict_x0(s, model_output, t, sample)
        if self.clip_sample:
            x0 = x0.clamp(-1, 1)
            model_output = (sample - alpha_bar.sqrt() * x0) / (1 - alpha_bar).sqrt()
        # sigma_t(eta) of Song et al. 2020, eq. 16.
        variance = (1 - alpha_bar_prev) / (1 - alpha_bar) * (1 - alpha_bar / alpha_bar_prev)
        sigma = eta * variance.sqrt()
        # At t = T - 1 of the cosine schedule (alpha_bar ~ 2e-9) with eta = 1, rounding can make
        # 1 - alpha_bar_prev - sigma^2 a hair below 0, and diffusers returns NaN there; we clamp.
        direction = (1 - alpha_bar_prev - sigma**2).clamp(min=0).sqrt() * model_output
        prev_sample = alpha_bar_prev.sqrt() * x0 + direction
        if eta > 0:
            z = noise if noise is not None else draw_noise(sample, generator)
            prev_sample = prev_sample + sigma * z
        return prev_sample


def dpm_timesteps(num_timesteps: int, num_inference_steps: int, spacing: str) -> Tensor:
    """The timesteps DPM-Solver++ visits, largest first, as diffusers' ``DPMSolverMultistepScheduler`` lists them.

    Its last step always lands on clean data, so "leading" and "linspace" space n + 1 points
    and drop the last (t = 0), unlike :func:`ddim_timesteps`:

    * "linspace": n + 1 points evenly spaced from T - 1 down to 0, rounded, without the 0; starts at T - 1.
    * "leading": i * (T // (n + 1)) for i = n, ..., 1 (``steps_offset=0``); starts at n (T // (n + 1)), below T - 1.
    * "trailing": as :func:`ddim_timesteps`, round(T - k T / n) - 1 for k = 0, ..., n-1; starts at T - 1.

    Returns a long tensor of shape (n,), strictly decreasing, in [0, T-1].
    """
    if spacing == "trailing":
        return torch.from_numpy(_trailing(num_timesteps, num_inference_steps))
    if spacing == "leading":
        points = np.arange(num_inference_steps + 1) * (num_timesteps // (num_inference_steps + 1))
    else:
        points = np.linspace(0, num_timesteps - 1, num_inference_steps + 1).round()
    return torch.from_numpy(points[::-1][:-1].astype(np.int64).copy())


DEFAULT_DPM_SPACING = "trailing"
"""DPMSolverSampler's default spacing, chosen by measurement (``make bench``, shipped digits model, 500
samples): trailing and linspace tie (FID 1.25 and 1.25 at 5 steps, 1.52 and 1.52 at 10, 1.51 and 1.51 at
20, 1.45 and 1.45 at 50) and both beat leading (2.49, 1.90, 1.80, 1.90); trailing shares DDIMSampler's
trailing timesteps, so DPM-Solver++'s first step is that DDIM step (diffusers' default is linspace)."""


class DPMSolverSampler:
    """DPM-Solver++(2M): the multistep second-order solver of the probability-flow ODE (Lu et al. 2022b).

    In log-SNR time lambda_t = log(alpha_t / sigma_t), with alpha_t = sqrt(alpha_bar_t) and
    sigma_t = sqrt(1 - alpha_bar_t), the ODE's solution is exact up to an integral of the
    network's data prediction x_0(x_t, t). A step s -> t with h = lambda_t - lambda_s
    approximates that prediction by a line through the last two (their Algorithm 2):

        x_t = (sigma_t / sigma_s) x_s - alpha_t (exp(-h) - 1) D,
        D = (1 + 1 / (2 r)) x0_s - 1 / (2 r) x0_prev,   r = h_prev / h,

    where x0_prev and h_prev belong to the step before. The first step has no previous
    prediction and uses D = x0_s (DPM-Solver++(1), which is DDIM with eta = 0).

    The sampler keeps the previous step's prediction, so its steps must be taken in the order
    of ``timesteps`` on one chain. It forgets it at the first timestep of the list and in
    :meth:`reset`; a step whose previous listed timestep was not the last one taken (an
    interleaved chain, a skipped step) also falls back to the first-order update.

    With ``stochastic=True`` the sampler solves the reverse SDE instead of the ODE, with the same D
    (SDE-DPM-Solver++(2M), diffusers' "sde-dpmsolver++", by the authors of Lu et al. 2022b):

        x_t = (sigma_t / sigma_s) exp(-h) x_s + alpha_t (1 - exp(-2h)) D + sigma_t sqrt(1 - exp(-2h)) z.

    With D = x0_s (first order) this is DDPM's posterior step from s to t, that is DDIM with eta = 1.

    Matches diffusers' ``DPMSolverMultistepScheduler(algorithm_type="dpmsolver++",
    solver_order=2, solver_type="midpoint")`` (``"sde-dpmsolver++"`` when stochastic, with the
    same generator) with the same ``timestep_spacing``, ``final_sigmas_type`` and ``lower_order_final``.

    Args:
        schedule: the noise schedule the model was trained with.
        num_inference_steps: how many network evaluations, 1..T ("trailing") or 1..T-1 (the others).
        timestep_spacing: "trailing" (the default, see :data:`DEFAULT_DPM_SPACING`), "linspace"
            (diffusers' default) or "leading", see :func:`dpm_timesteps`.
        final_sigmas_type: "zero": the last step lands on clean data (alpha_bar = 1) and is first
            order; "sigma_min": it lands on the noise level of t = 0.
        lower_order_final: with fewer than 15 steps, take the last step with the first-order
            update (more stable; diffusers' default).
        stochastic: solve the reverse SDE (fresh noise at every step) instead of the
            probability-flow ODE.
    """

    def __init__(self, schedule: NoiseSchedule, num_inference_steps: int = 20, timestep_spacing: str = DEFAULT_DPM_SPACING,
                 final_sigmas_type: str = "zero", lower_order_final: bool = True, stochastic: bool = False) -> None:
        T = _check_schedule(schedule).num_timesteps
        self.timestep_spacing = _check_spacing(timestep_spacing)
        # n + 1 points of "leading" and "linspace" must fit in 0..T-1; "trailing" lists n of them.
        self.num_inference_steps = check_int("num_inference_steps", num_inference_steps, 1,
                                             T if timestep_spacing == "trailing" else T - 1)
        if final_sigmas_type not in ("zero", "sigma_min"):
            raise InvalidArgument("final_sigmas_type", f"final_sigmas_type must be 'zero' or 'sigma_min'; got {final_sigmas_type!r}")
        self.schedule, self.final_sigmas_type, self.lower_order_final = schedule, final_sigmas_type, bool(lower_order_final)
        if not isinstance(stochastic, bool):
            raise InvalidArgument("stochastic", f"stochastic must be True or False; got {stochastic!r}")
        self.stochastic = stochastic
        self.timesteps = dpm_timesteps(T, num_inference_steps, timestep_spacing)
        self.reset()

    def reset(self) -> None:
        """Forget the previous step's prediction: the next step is first order."""
        self._previous: tuple[int, Tensor] | None = None  # (timestep, x_0 prediction) of the last step taken

    def previous_timestep(self, timestep: int) -> int:
        """The timestep a step from ``timestep`` lands on: the next listed one; after the last, -1
        (clean data) with ``final_sigmas_type="zero"``, 0 with "sigma_min"."""
        below = self.timesteps[self.timesteps < int(timestep)]
        if len(below):
            return int(below.max())
        return -1 if self.final_sigmas_type == "zero" else 0

    def _alpha_sigma_lambda(self, timestep: int) -> tuple[Tensor, Tensor, Tensor]:
        """alpha_t = sqrt(alpha_bar), sigma_t = sqrt(1 - alpha_bar), lambda_t = log(alpha_t / sigma_t), in float64."""
        if timestep < 0:  # clean data: alpha = 1, sigma = 0, lambda = +inf
            return torch.tensor(1.0, dtype=torch.float64), torch.tensor(0.0, dtype=torch.float64), torch.tensor(float("inf"))
        alpha_bar = self.schedule.alphas_cumprod[timestep].double()
        alpha, sigma = alpha_bar.sqrt(), (1 - alpha_bar).sqrt()
        return alpha, sigma, alpha.log() - sigma.log()

    def step(self, model_output: Tensor, timestep: int, sample: Tensor, generator: torch.Generator | None = None,
             noise: Tensor | None = None) -> Tensor:
        """One DPM-Solver++(2M) step x_s -> x_t, from ``timestep`` s to :meth:`previous_timestep` t.

        Args:
            model_output: predicted noise epsilon_theta(x_s, s), shape (N, ...).
            timestep: s, one of ``self.timesteps``.
            sample: x_s, same shape as ``model_output``.
            generator: source of the fresh noise z when stochastic (drawn at every step, the last
                included, as diffusers does); unused by the ODE solver.
            noise: z itself, for tests that want to fix it (stochastic only).

        Returns:
            x_t, same shape as ``sample``.
        """
        s = _check_step_inputs(self.schedule, model_output, timestep, sample, noise)
        if noise is not None and not self.stochastic:
            raise InvalidArgument("noise", "noise is only used by the stochastic solver (stochastic=True)")
        listed = self.timesteps.tolist()
        if s not in listed:
            raise ValueError(f"timestep {s} is not one of this sampler's timesteps ({listed[0]}, {listed[1] if len(listed) > 1 else ''}...)")
        index = listed.index(s)
        t = self.previous_timestep(s)
        alpha_s, sigma_s, lambda_s = self._alpha_sigma_lambda(s)
        alpha_t, sigma_t, lambda_t = self._alpha_sigma_lambda(t)
        x0 = (sample - sigma_s.float() * model_output) / alpha_s.float()  # the data prediction (Ho et al. 2020, eq. 15)
        last = index == len(listed) - 1
        first_order = (index == 0 or self._previous is None or self._previous[0] != listed[index - 1]
                       or self._previous[1].shape != x0.shape
                       or (last and (self.final_sigmas_type == "zero" or (self.lower_order_final and len(listed) < 15))))
        if first_order:
            d = x0
        else:
            h_prev = lambda_s - self._alpha_sigma_lambda(self._previous[0])[2]
            r = (h_prev / (lambda_t - lambda_s)).float()
            d = (1 + 1 / (2 * r)) * x0 - 1 / (2 * r) * self._previous[1]  # Lu et al. 2022b, Algorithm 2
        self._previous = (s, x0)
        z = (noise if noise is not None else draw_noise(sample, generator)) if self.stochastic else None
        if t < 0:  # clean data: sigma_t = 0, exp(-h) = 0, so x_t = D
            return d
        h = lambda_t - lambda_s
        if not self.stochastic:
            return (sigma_t / sigma_s).float() * sample - (alpha_t * torch.expm1(-h)).float() * d
        # SDE-DPM-Solver++(2M); with D = x0 the mean and the noise are DDPM's posterior q(x_t | x_s, x0)
        return ((sigma_t / sigma_s * torch.exp(-h)).float() * sample - (alpha_t * torch.expm1(-2 * h)).float() * d
                + (sigma_t * (-torch.expm1(-2 * h)).sqrt()).float() * z)


def _check_eta(eta: float) -> float:
    return check_number("eta", eta, 0.0, 1.0)


def _check_guidance(guidance: float, context: Tensor | None) -> None:
    guidance = check_number("guidance", guidance, 0.0)  # NaN or inf would make every sample NaN
    if guidance > 0 and context is None:
        raise ValueError("guidance > 0 needs a context to guide towards")


def predict_noise(model: nn.Module, x: Tensor, timestep: int, context: Tensor | None = None, guidance: float = 0.0) -> Tensor:
    """epsilon_theta(x_t, t [, c]) for a batch at one timestep, with classifier-free guidance.

    With ``guidance`` w > 0 and a context, returns (1 + w) eps(x, c) - w eps(x, no context)
    (Ho & Salimans 2022, eq. 6); "no context" is the all-zero context vector that context
    dropout trains the model on. diffusers' ``guidance_scale`` is 1 + w.
    """
    _check_guidance(guidance, context)
    timestep = torch.as_tensor(timestep)
    if timestep.dtype.is_floating_point or timestep.dtype == torch.bool or timestep.numel() != 1:
        raise TypeError(f"timestep must be a single int; got {timestep!r}")
    t = torch.full((x.shape[0],), int(timestep), device=x.device, dtype=torch.long)
    if context is None or guidance == 0:
        return model(x, t, context)
    both = model(torch.cat([x, x]), torch.cat([t, t]), torch.cat([context, torch.zeros_like(context)]))
    eps_cond, eps_uncond = both.chunk(2)
    return (1 + guidance) * eps_cond - guidance * eps_uncond


@torch.no_grad()
def sample(
    model: nn.Module,
    sampler: DDPMSampler | DDIMSampler | DPMSolverSampler,
    shape: tuple[int, ...],
    *,
    context: Tensor | None = None,
    guidance: float = 0.0,
    guidance_fn: GuidanceCallback | None = None,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
    return_trajectory: bool = False,
    progress: bool = True,
) -> Tensor | tuple[Tensor, list[Tensor]]:
    """Generate ``shape[0]`` samples by running ``sampler`` from pure noise.

    Args:
        model: a denoiser called as ``model(x_t, t, context)`` returning predicted noise.
        sampler: a :class:`DDPMSampler`, :class:`DDIMSampler` or :class:`DPMSolverSampler`.
        shape: (N, C, H, W) for images or (N, 2) for points.
        context: optional (N, context_dim) float context (one-hot labels, multi-hot attributes).
        guidance: classifier-free guidance weight w >= 0 (needs ``context``).
        guidance_fn: optional callback ``guidance_fn(x_t, t, eps) -> eps`` applied to each step's noise
            prediction (after classifier-free guidance), e.g. :class:`course_lib.guidance.LossGuidance`;
            it runs under ``torch.no_grad()`` and enables gradients itself if it needs them.
        generator: CPU generator for the initial noise and every step's noise (same seed, same samples).
        device: where the model runs; default: the model's device.
        return_trajectory: also return the list of x_t after every step, on the CPU.
        progress: show a tqdm progress bar.

    Returns:
        The final samples (roughly in [-1, 1] for course data), and the trajectory if asked.
    """
    _check_guidance(guidance, context)
    if guidance_fn is not None and not callable(guidance_fn):
        raise InvalidArgument("guidance_fn", f"guidance_fn must be callable; got {type(guidance_fn).__name__}")
    if not isinstance(model, nn.Module):
        raise InvalidArgument("model", f"model must be a torch.nn.Module denoiser; got {type(model).__name__}")
    if not isinstance(sampler, (DDPMSampler, DDIMSampler, DPMSolverSampler)):
        raise InvalidArgument("sampler", f"sampler must be a DDPMSampler or DDIMSampler (or a "
                                         f"DPMSolverSampler); got {type(sampler).__name__}")
    shape = check_shape("shape", shape)
    if device is None:
        device = next(model.parameters()).device
    if context is not None:
        check_tensor("context", context, floating=True, finite=True)
        if context.ndim != 2 or context.shape[0] != shape[0]:
            raise ValueError(f"context must have shape ({shape[0]}, context_dim); got {tuple(context.shape)}")
        context = context.to(device=device, dtype=torch.float32)
    was_training = model.training
    model.eval()
    x = torch.randn(shape, generator=generator).to(device)
    trajectory = [x.cpu()] if return_trajectory else []
    for t in tqdm(sampler.timesteps.tolist(), desc=type(sampler).__name__, disable=not progress, leave=False):
        eps = predict_noise(model, x, t, context, guidance)
        if guidance_fn is not None:
            eps = guidance_fn(x, t, eps)
        x = sampler.step(eps, t, x, generator=generator)
        if return_trajectory:
            trajectory.append(x.cpu())
    model.train(was_training)
    return (x, trajectory) if return_trajectory else x
