"""DDPM, DDIM and DPM-Solver++(2M) samplers against diffusers' schedulers, against the exact answer for
Gaussian data, and their input checks."""

import math
import warnings

import pytest
import torch
from diffusers import DDIMScheduler, DDPMScheduler, DPMSolverMultistepScheduler
from torch import nn

from course_lib.samplers import DDIMSampler, DDPMSampler, DPMSolverSampler, predict_noise, sample
from course_lib.schedules import NoiseSchedule
from course_lib.validation import InvalidArgument

T = 1000



def _schedule(name: str, num_timesteps: int = T) -> NoiseSchedule:
    return getattr(NoiseSchedule, name)(num_timesteps)


def _ddpm_ref(name: str, num_timesteps: int = T, clip_sample: bool = False) -> DDPMScheduler:
    return DDPMScheduler(
        num_train_timesteps=num_timesteps,
        beta_schedule={"linear": "linear", "cosine": "squaredcos_cap_v2"}[name],
        clip_sample=clip_sample,
        variance_type="fixed_small",
    )


def _ddim_ref(name: str, num_inference_steps: int, num_timesteps: int = T, clip_sample: bool = False,
              spacing: str = "leading") -> DDIMScheduler:
    ref = DDIMScheduler(
        num_train_timesteps=num_timesteps,
        beta_schedule={"linear": "linear", "cosine": "squaredcos_cap_v2"}[name],
        clip_sample=clip_sample,
        set_alpha_to_one=True,
        steps_offset=0,
        timestep_spacing=spacing,
    )
    ref.set_timesteps(num_inference_steps)
    return ref


class ToyDenoiser(nn.Module):
    """A fixed, nonlinear "noise prediction" of x, t and an optional 3-dim context (no training involved)."""

    context_dim = 3

    def __init__(self, num_timesteps: int = T) -> None:
        super().__init__()
        self.num_timesteps = num_timesteps
        self.scale = nn.Parameter(torch.tensor(0.5))
        self.register_buffer("context_weights", torch.tensor([0.3, -0.2, 0.5]))

    def forward(self, x: torch.Tensor, t: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        assert t.dtype == torch.long and t.shape == (x.shape[0],)
        tt = (t.float() / self.num_timesteps).reshape(-1, *[1] * (x.ndim - 1))
        out = self.scale * torch.tanh(x) * (1 + tt) + 0.1 * torch.sin(3 * x + tt)
        if context is not None:
            out = out + (context @ self.context_weights).reshape(-1, *[1] * (x.ndim - 1))
        return out


class GaussianDenoiser(nn.Module):
    """The exact noise predictor E[eps | x_t] for data x_0 ~ N(mu, diag(s^2)).

    x_t = sqrt(abar) x_0 + sqrt(1 - abar) eps is Gaussian with mean sqrt(abar) mu and variance
    abar s^2 + 1 - abar, jointly Gaussian with eps, so the regression of eps on x_t is
    eps*(x_t, t) = sqrt(1 - abar) (x_t - sqrt(abar) mu) / (abar s^2 + 1 - abar).
    """

    def __init__(self, schedule: NoiseSchedule, mu: torch.Tensor, s: torch.Tensor) -> None:
        super().__init__()
        self.dummy = nn.Parameter(torch.zeros(()))
        self.alphas_cumprod, self.mu, self.s = schedule.alphas_cumprod, mu, s

    def forward(self, x: torch.Tensor, t: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        ab = self.alphas_cumprod[t].unsqueeze(-1)
        return (1 - ab).sqrt() * (x - ab.sqrt() * self.mu) / (ab * self.s**2 + 1 - ab)


def _random_inputs(seed: int, shape=(4, 3, 8, 8)) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(shape, generator=gen), torch.randn(shape, generator=gen)


STEP_TIMESTEPS = [0, 1, 2, 10, 100, 500, T - 2, T - 1]


# --- DDPM -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["linear", "cosine"])
@pytest.mark.parametrize("clip_sample", [False, True])
def test_ddpm_step_matches_diffusers(name, clip_sample):
    ours = DDPMSampler(_schedule(name), clip_sample=clip_sample)
    ref = _ddpm_ref(name, clip_sample=clip_sample)
    for t in STEP_TIMESTEPS:
        model_output, x = _random_inputs(t)
        expected = ref.step(model_output, t, x, generator=torch.Generator().manual_seed(t)).prev_sample
        got = ours.step(model_output, t, x, generator=torch.Generator().manual_seed(t))
        # At t = T-1 of the cosine schedule sqrt(abar) ~ 5e-5, so x_0 and the float32 rounding are
        # magnified ~2e4 times; the relative tolerance covers that, atol 1e-5 holds elsewhere.
        torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5, msg=f"t={t}")


def test_ddpm_step_on_points_and_fixed_noise():
    ours = DDPMSampler(_schedule("linear"))
    ref = _ddpm_ref("linear")
    model_output, x = _random_inputs(7, shape=(64, 2))
    for t in [0, 3, 250, 999]:
        noise = torch.randn(64, 2, generator=torch.Generator().manual_seed(t))
        expected = ref.step(model_output, t, x, generator=torch.Generator().manual_seed(t)).prev_sample
        torch.testing.assert_close(ours.step(model_output, t, x, noise=noise), expected, atol=1e-5, rtol=0)


def test_ddpm_timesteps_match_diffusers():
    ours = DDPMSampler(_schedule("linear"))
    assert ours.timesteps.dtype == torch.long
    assert torch.equal(ours.timesteps, _ddpm_ref("linear").timesteps)


def test_ddpm_without_noise_term_is_deterministic_and_wrong():
    """add_noise=False returns the posterior mean only: same output whatever the generator, and not
    what Algorithm 2 gives (it adds sigma_t z for t > 0)."""
    sched = _schedule("linear")
    no_noise, correct = DDPMSampler(sched, add_noise=False), DDPMSampler(sched)
    model_output, x = _random_inputs(3)
    for t in [1, 100, 999]:
        a = no_noise.step(model_output, t, x, generator=torch.Generator().manual_seed(1))
        b = no_noise.step(model_output, t, x, generator=torch.Generator().manual_seed(2))
        assert torch.equal(a, b)
        torch.testing.assert_close(a, correct.step(model_output, t, x, noise=torch.zeros_like(x)))
        with_noise = correct.step(model_output, t, x, generator=torch.Generator().manual_seed(1))
        assert (a - with_noise).abs().max() > 1e-3
    # At t = 0 Algorithm 2 adds no noise either, so both agree.
    torch.testing.assert_close(no_noise.step(model_output, 0, x), correct.step(model_output, 0, x))


# --- DDIM -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["linear", "cosine"])
@pytest.mark.parametrize("num_inference_steps", [10, 25, 50, 30])
@pytest.mark.parametrize("eta", [0.0, 0.5, 1.0])
def test_ddim_step_matches_diffusers(name, num_inference_steps, eta):
    ours = DDIMSampler(_schedule(name), num_inference_steps=num_inference_steps, eta=eta, timestep_spacing="leading")
    ref = _ddim_ref(name, num_inference_steps)
    assert ours.timesteps.dtype == torch.long
    assert torch.equal(ours.timesteps, ref.timesteps)
    for i, t in enumerate(ours.timesteps.tolist()):
        model_output, x = _random_inputs(i, shape=(3, 2, 4, 4))
        noise = torch.randn(x.shape, generator=torch.Generator().manual_seed(100 + i))
        expected = ref.step(model_output, t, x, eta=eta, variance_noise=noise).prev_sample
        got = ours.step(model_output, t, x, noise=noise)
        torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5, msg=f"t={t}")


def test_ddim_step_with_generator_matches_diffusers():
    ours = DDIMSampler(_schedule("linear"), num_inference_steps=20, eta=0.7, timestep_spacing="leading")
    ref = _ddim_ref("linear", 20)
    model_output, x = _random_inputs(5, shape=(32, 2))
    for t in [950, 500, 0]:
        expected = ref.step(model_output, t, x, eta=0.7, generator=torch.Generator().manual_seed(t)).prev_sample
        got = ours.step(model_output, t, x, generator=torch.Generator().manual_seed(t))
        torch.testing.assert_close(got, expected, atol=1e-5, rtol=0)


@pytest.mark.parametrize("eta", [0.0, 0.5])
def test_ddim_clip_sample_matches_diffusers(eta):
    """With clipping, our DDIM re-derives eps from the clipped x_0 (as GLIDE and guided-diffusion do):
    diffusers' ``use_clipped_model_output=True``."""
    ours = DDIMSampler(_schedule("linear"), num_inference_steps=25, eta=eta, clip_sample=True, timestep_spacing="leading")
    ref = _ddim_ref("linear", 25, clip_sample=True)
    for i, t in enumerate(ours.timesteps.tolist()):
        model_output, x = _random_inputs(i, shape=(3, 2, 4, 4))
        noise = torch.randn(x.shape, generator=torch.Generator().manual_seed(i))
        expected = ref.step(model_output, t, x, eta=eta, use_clipped_model_output=True, variance_noise=noise).prev_sample
        torch.testing.assert_close(ours.step(model_output, t, x, noise=noise), expected, atol=1e-5, rtol=1e-5)


def test_ddim_eta_argument_of_step_overrides():
    ours = DDIMSampler(_schedule("linear"), num_inference_steps=10, eta=0.0, timestep_spacing="leading")
    ref = _ddim_ref("linear", 10)
    model_output, x = _random_inputs(0)
    noise = torch.randn_like(x)
    expected = ref.step(model_output, 500, x, eta=0.8, variance_noise=noise).prev_sample
    torch.testing.assert_close(ours.step(model_output, 500, x, noise=noise, eta=0.8), expected, atol=1e-5, rtol=0)


@pytest.mark.parametrize("name", ["linear", "cosine"])
def test_ddim_with_all_steps_and_eta_one_is_ddpm(name):
    """Song et al. 2020, section 4.1 / eq. 16: with every timestep and eta = 1,
    sigma_t^2 = (1 - abar_{t-1}) / (1 - abar_t) * (1 - abar_t / abar_{t-1}) = beta-tilde_t, the DDPM
    posterior variance, and the DDIM update becomes the DDPM update. Same noise, same output."""
    sched = _schedule(name)
    ddim = DDIMSampler(sched, num_inference_steps=T, eta=1.0)
    ddpm = DDPMSampler(sched)
    assert torch.equal(ddim.timesteps, ddpm.timesteps)
    for t in STEP_TIMESTEPS:
        model_output, x = _random_inputs(t, shape=(16, 2))
        noise = torch.randn(x.shape, generator=torch.Generator().manual_seed(t))
        zero = torch.zeros_like(x)
        # The means (noise = 0) agree, and both add sigma_t z with sigma_t^2 = beta-tilde_t (eq. 7 of Ho et al.).
        mean_ddim, mean_ddpm = ddim.step(model_output, t, x, noise=zero), ddpm.step(model_output, t, x, noise=zero)
        torch.testing.assert_close(mean_ddim, mean_ddpm, atol=1e-5, rtol=1e-4, msg=f"t={t}")
        ab, ab_prev = sched.alphas_cumprod[t], (sched.alphas_cumprod[t - 1] if t > 0 else torch.tensor(1.0))
        sigma = ((1 - ab_prev) / (1 - ab) * sched.betas[t]).sqrt()
        for sampler, mean in ((ddim, mean_ddim), (ddpm, mean_ddpm)):
            added = sampler.step(model_output, t, x, noise=noise) - mean
            torch.testing.assert_close(added, sigma * noise, atol=1e-5, rtol=1e-3, msg=f"t={t}")


# --- the full loop ----------------------------------------------------------------------------------


def _diffusers_loop(model, ref, shape, seed, **step_kwargs):
    """The sampling loop of diffusers' pipelines, with the same generator for the start and every step."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(shape, generator=gen)
    with torch.no_grad():
        for t in ref.timesteps:
            eps = model(x, torch.full((shape[0],), int(t)))
            x = ref.step(eps, t, x, generator=gen, **step_kwargs).prev_sample
    return x


@pytest.mark.parametrize("shape", [(4, 1, 8, 8), (128, 2)])
def test_sample_ddpm_equals_diffusers_loop(shape):
    model = ToyDenoiser(100)
    got = sample(model, DDPMSampler(_schedule("linear", 100)), shape, generator=torch.Generator().manual_seed(0), progress=False)
    expected = _diffusers_loop(model, _ddpm_ref("linear", 100), shape, seed=0)
    torch.testing.assert_close(got, expected, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("eta", [0.0, 0.5])
def test_sample_ddim_equals_diffusers_loop(eta):
    model = ToyDenoiser()
    sampler = DDIMSampler(_schedule("cosine"), num_inference_steps=25, eta=eta, timestep_spacing="leading")
    shape = (4, 2, 8, 8)
    got = sample(model, sampler, shape, generator=torch.Generator().manual_seed(1), progress=False)
    expected = _diffusers_loop(model, _ddim_ref("cosine", 25), shape, seed=1, eta=eta)
    torch.testing.assert_close(got, expected, atol=1e-4, rtol=1e-4)


def test_sample_trajectory_and_train_mode():
    model = ToyDenoiser(50).train()
    sampler = DDIMSampler(_schedule("linear", 50), num_inference_steps=10)
    x, traj = sample(model, sampler, (3, 2), generator=torch.Generator().manual_seed(0), return_trajectory=True, progress=False)
    assert len(traj) == 11 and traj[0].shape == (3, 2)
    assert torch.equal(traj[-1], x)
    assert torch.equal(traj[0], torch.randn(3, 2, generator=torch.Generator().manual_seed(0)))
    assert model.training, "sample() must give the model back in the mode it found it in"


def test_same_seed_same_samples_different_seed_different():
    model = ToyDenoiser(100)
    sampler = DDPMSampler(_schedule("linear", 100))

    def run(seed):
        return sample(model, sampler, (8, 1, 4, 4), generator=torch.Generator().manual_seed(seed), progress=False)

    assert torch.equal(run(0), run(0))
    assert (run(0) - run(1)).abs().max() > 0.1


# --- classifier-free guidance ------------------------------------------------------------------------


def test_predict_noise_guidance_by_hand():
    """Ho & Salimans 2022, eq. 6: eps~ = (1 + w) eps(x, c) - w eps(x, 0)."""
    model = ToyDenoiser()
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(5, 1, 4, 4, generator=gen)
    context = torch.randn(5, 3, generator=gen)
    t = 321
    tt = torch.full((5,), t)
    eps_uncond = 0.5 * torch.tanh(x) * (1 + t / T) + 0.1 * torch.sin(3 * x + t / T)  # the toy model, written out
    eps_cond = eps_uncond + (context @ torch.tensor([0.3, -0.2, 0.5])).reshape(5, 1, 1, 1)
    with torch.no_grad():
        for w in [0.0, 1.0, 3.5]:
            torch.testing.assert_close(predict_noise(model, x, t, context, guidance=w), (1 + w) * eps_cond - w * eps_uncond)
        torch.testing.assert_close(predict_noise(model, x, t), model(x, tt))
        torch.testing.assert_close(predict_noise(model, x, t, context), model(x, tt, context))
        # The zero context is the unconditional prediction the model is trained on.
        torch.testing.assert_close(model(x, tt, torch.zeros_like(context)), eps_uncond)


def test_sample_with_guidance_uses_guided_noise():
    model = ToyDenoiser(50)
    sched = _schedule("linear", 50)
    context = torch.eye(3)[[0, 2, 1, 0]]
    got = sample(model, DDIMSampler(sched, 10), (4, 2), context=context, guidance=2.0,
                 generator=torch.Generator().manual_seed(0), progress=False)
    sampler = DDIMSampler(sched, 10)
    x = torch.randn(4, 2, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        for t in sampler.timesteps.tolist():
            tt = torch.full((4,), t)
            x = sampler.step(3.0 * model(x, tt, context) - 2.0 * model(x, tt, torch.zeros_like(context)), t, x)
    torch.testing.assert_close(got, x)
    unguided = sample(model, DDIMSampler(sched, 10), (4, 2), context=context,
                      generator=torch.Generator().manual_seed(0), progress=False)
    assert (got - unguided).abs().max() > 1e-2


# --- DDIM, trailing timestep spacing (Lin et al. 2024) ----------------------------------------------


def test_default_spacings():
    """Both samplers default to "trailing", chosen by measurement, which starts at T - 1 for every step count,
    including those between T/2 and T, where diffusers' default "leading" starts at n - 1 (251 steps of 500 start
    at 250) and one step is t = 0."""
    sched = _schedule("linear", 500)
    assert DDIMSampler(sched, 1).timesteps.tolist() == [499] and DDIMSampler(sched, 2).timesteps.tolist() == [499, 249]
    assert DDIMSampler(sched, 1, timestep_spacing="leading").timesteps.tolist() == [0]
    assert DDIMSampler(sched, 2, timestep_spacing="leading").timesteps.tolist() == [250, 0]
    assert DDIMSampler(sched, 251, timestep_spacing="leading").timesteps[0] == 250
    assert DPMSolverSampler(sched, 1).timesteps.tolist() == [499]
    for n in range(1, 501):
        assert DPMSolverSampler(sched, n).timesteps[0] == 499
        assert torch.equal(DDIMSampler(sched, n).timesteps, DDIMSampler(sched, n, timestep_spacing="trailing").timesteps)
        assert DDIMSampler(sched, n).timesteps[0] == 499


@pytest.mark.parametrize("num_timesteps", [500, T])
@pytest.mark.parametrize("num_inference_steps", [1, 2, 3, 5, 7, 10, 13, 24, 25, 50, 61, 250, 500])
def test_ddim_trailing_timesteps_match_diffusers(num_timesteps, num_inference_steps):
    ours = DDIMSampler(_schedule("linear", num_timesteps), num_inference_steps, timestep_spacing="trailing")
    ref = _ddim_ref("linear", num_inference_steps, num_timesteps, spacing="trailing")
    assert ours.timesteps.dtype == torch.long
    # diffusers' float arange gives one extra timestep, -1, for some n (500 and 61): we drop it.
    assert torch.equal(ours.timesteps, ref.timesteps[:num_inference_steps])
    assert len(ours.timesteps) == num_inference_steps
    assert ours.timesteps[0] == num_timesteps - 1, "trailing starts at the last timestep, T - 1"
    assert (ours.timesteps.diff() < 0).all() and ours.timesteps[-1] >= 0


@pytest.mark.parametrize("name", ["linear", "cosine"])
@pytest.mark.parametrize("num_inference_steps", [1, 2, 5, 10, 25, 50])
@pytest.mark.parametrize("eta", [0.0, 0.5, 1.0])
def test_ddim_trailing_step_matches_diffusers(name, num_inference_steps, eta):
    """When n divides T, diffusers' step to t - T // n is the next listed timestep: both must agree."""
    ours = DDIMSampler(_schedule(name), num_inference_steps, eta=eta, timestep_spacing="trailing")
    ref = _ddim_ref(name, num_inference_steps, spacing="trailing")
    assert torch.equal(ours.timesteps, ref.timesteps)
    for i, t in enumerate(ours.timesteps.tolist()):
        model_output, x = _random_inputs(i, shape=(3, 2, 4, 4))
        noise = torch.randn(x.shape, generator=torch.Generator().manual_seed(100 + i))
        expected = ref.step(model_output, t, x, eta=eta, variance_noise=noise).prev_sample
        got = ours.step(model_output, t, x, noise=noise)
        assert torch.isfinite(got).all(), f"t={t}"
        if not torch.isfinite(expected).all():
            # Cosine, t = T - 1, eta = 1: 1 - abar_prev - sigma^2 rounds below 0 and diffusers takes
            # its square root (NaN); ours clamps it to 0, so sigma^2 = 1 - abar_prev and no eps term.
            assert (name, eta, t) == ("cosine", 1.0, T - 1)
            ab, ab_prev = ours.schedule.alphas_cumprod[t], ours.schedule.alphas_cumprod[ours.previous_timestep(t)]
            x0 = (x - (1 - ab).sqrt() * model_output) / ab.sqrt()
            expected = ab_prev.sqrt() * x0 + (1 - ab_prev).sqrt() * noise
        # The same tolerance as the leading test (diffusers and ours agree bit for bit on this CPU).
        torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5, msg=f"t={t}")


@pytest.mark.parametrize("eta", [0.0, 0.7])
def test_ddim_trailing_steps_to_the_next_listed_timestep(eta):
    """With n not dividing T (1000 and 13: gaps of 76 and 77) each step lands on the next listed
    timestep, and the last on alpha_bar = 1; checked against eq. 12 of Song et al. 2020 in float64."""
    sched = _schedule("linear")
    sampler = DDIMSampler(sched, 13, eta=eta, timestep_spacing="trailing")
    listed = sampler.timesteps.tolist()
    assert {a - b for a, b in zip(listed, listed[1:])} == {76, 77}
    abar = sched.alphas_cumprod.double()
    for t, prev in zip(listed, listed[1:] + [-1]):
        assert sampler.previous_timestep(t) == prev
        model_output, x = _random_inputs(t, shape=(8, 2))
        noise = torch.randn(x.shape, generator=torch.Generator().manual_seed(t))
        ab, ab_prev = abar[t], (abar[prev] if prev >= 0 else torch.tensor(1.0, dtype=torch.float64))
        eps, xt = model_output.double(), x.double()
        x0 = (xt - (1 - ab).sqrt() * eps) / ab.sqrt()
        sigma = eta * ((1 - ab_prev) / (1 - ab) * (1 - ab / ab_prev)).sqrt()  # eq. 16
        expected = ab_prev.sqrt() * x0 + (1 - ab_prev - sigma**2).sqrt() * eps + sigma * noise.double()  # eq. 12
        torch.testing.assert_close(sampler.step(model_output, t, x, noise=noise).double(), expected, atol=1e-5, rtol=1e-5)
    # The last step lands on clean data: with eta = 0 it returns the predicted x_0 itself.
    model_output, x = _random_inputs(1, shape=(8, 2))
    last = DDIMSampler(sched, 13, timestep_spacing="trailing").step(model_output, listed[-1], x)
    x0 = (x - (1 - sched.alphas_cumprod[listed[-1]]).sqrt() * model_output) / sched.alphas_cumprod[listed[-1]].sqrt()
    torch.testing.assert_close(last, x0)


def test_sample_ddim_trailing_equals_diffusers_loop():
    model = ToyDenoiser()
    sampler = DDIMSampler(_schedule("cosine"), num_inference_steps=10, eta=0.5, timestep_spacing="trailing")
    shape = (4, 2, 8, 8)
    got = sample(model, sampler, shape, generator=torch.Generator().manual_seed(2), progress=False)
    expected = _diffusers_loop(model, _ddim_ref("cosine", 10, spacing="trailing"), shape, seed=2, eta=0.5)
    torch.testing.assert_close(got, expected, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("spacing", ["Linspace", "Trailing", "", None, 1])
def test_ddim_bad_timestep_spacing(spacing):
    with pytest.raises(ValueError, match="timestep_spacing"):
        DDIMSampler(_schedule("linear"), 10, timestep_spacing=spacing)


# --- DDIM, linspace timestep spacing -----------------------------------------------------------------


@pytest.mark.parametrize("num_timesteps", [500, T])
@pytest.mark.parametrize("num_inference_steps", [1, 2, 3, 5, 7, 10, 13, 25, 50, 61, 251, 499, 500])
def test_ddim_linspace_timesteps_match_diffusers(num_timesteps, num_inference_steps):
    ours = DDIMSampler(_schedule("linear", num_timesteps), num_inference_steps, timestep_spacing="linspace")
    ref = DDIMScheduler(num_train_timesteps=num_timesteps, timestep_spacing="linspace")
    ref.set_timesteps(num_inference_steps)
    assert torch.equal(ours.timesteps, ref.timesteps)
    assert len(ours.timesteps) == num_inference_steps and (ours.timesteps.diff() < 0).all()
    if num_inference_steps > 1:
        assert ours.timesteps[0] == num_timesteps - 1 and ours.timesteps[-1] == 0


def test_ddim_linspace_steps_to_the_next_listed_timestep():
    """diffusers' DDIMScheduler steps from a linspace timestep by T // n, off the list (499 -> 449 with
    n = 10 of 500, where 444 is listed); ours lands on the next listed timestep, checked against eq. 12
    of Song et al. 2020 in float64, and the last step (from t = 0) on clean data."""
    sched = _schedule("linear", 500)
    sampler = DDIMSampler(sched, 10, eta=0.5, timestep_spacing="linspace")
    listed = sampler.timesteps.tolist()
    assert listed[:3] == [499, 444, 388]
    abar = sched.alphas_cumprod.double()
    for t, prev in zip(listed, listed[1:] + [-1]):
        assert sampler.previous_timestep(t) == prev
        model_output, x = _random_inputs(t, shape=(8, 2))
        noise = torch.randn(x.shape, generator=torch.Generator().manual_seed(t))
        ab, ab_prev = abar[t], (abar[prev] if prev >= 0 else torch.tensor(1.0, dtype=torch.float64))
        x0 = (x.double() - (1 - ab).sqrt() * model_output.double()) / ab.sqrt()
        sigma = 0.5 * ((1 - ab_prev) / (1 - ab) * (1 - ab / ab_prev)).sqrt()  # eq. 16
        expected = ab_prev.sqrt() * x0 + (1 - ab_prev - sigma**2).sqrt() * model_output.double() + sigma * noise.double()
        torch.testing.assert_close(sampler.step(model_output, t, x, noise=noise).double(), expected, atol=1e-5, rtol=1e-5)


# --- DPM-Solver++(2M) --------------------------------------------------------------------------------


def _dpm_ref(name: str, num_inference_steps: int, num_timesteps: int = T, **config) -> DPMSolverMultistepScheduler:
    ref = DPMSolverMultistepScheduler(
        num_train_timesteps=num_timesteps,
        beta_schedule={"linear": "linear", "cosine": "squaredcos_cap_v2"}[name],
        solver_order=2,
        **{"algorithm_type": "dpmsolver++", **config},
    )
    with warnings.catch_warnings():  # diffusers' own np.array(tensor, copy=False) under NumPy 2
        warnings.simplefilter("ignore", DeprecationWarning)
        ref.set_timesteps(num_inference_steps)
    return ref


def _run_chain(sampler, model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """A whole chain with step() (course sampler) or step().prev_sample (diffusers scheduler)."""
    with torch.no_grad():
        for t in sampler.timesteps.tolist():
            out = sampler.step(model(x, torch.full((x.shape[0],), t)), t, x)
            x = out if isinstance(out, torch.Tensor) else out.prev_sample
    return x


@pytest.mark.parametrize("num_timesteps", [500, T])
@pytest.mark.parametrize("spacing", ["linspace", "leading", "trailing"])
@pytest.mark.parametrize("num_inference_steps", [1, 2, 5, 10, 14, 15, 20, 50, 61, 251, 499])
def test_dpm_timesteps_match_diffusers(num_timesteps, spacing, num_inference_steps):
    ours = DPMSolverSampler(_schedule("linear", num_timesteps), num_inference_steps, timestep_spacing=spacing)
    ref = _dpm_ref("linear", num_inference_steps, num_timesteps, timestep_spacing=spacing)
    assert ours.timesteps.dtype == torch.long
    assert torch.equal(ours.timesteps, ref.timesteps[:num_inference_steps])  # trailing's extra -1: as DDIM above
    assert len(ours.timesteps) == num_inference_steps and (ours.timesteps.diff() < 0).all() and ours.timesteps[-1] >= 0
    if spacing != "leading":
        assert ours.timesteps[0] == num_timesteps - 1


@pytest.mark.parametrize("num_timesteps", [500, T])
@pytest.mark.parametrize("spacing", ["linspace", "leading", "trailing"])
@pytest.mark.parametrize(("final_sigmas_type", "lower_order_final"), [("zero", True), ("sigma_min", True), ("sigma_min", False)])
@pytest.mark.parametrize("num_inference_steps", [2, 3, 5, 10, 14, 15, 20, 50])
def test_dpm_whole_chain_matches_diffusers(num_timesteps, spacing, final_sigmas_type, lower_order_final, num_inference_steps):
    """Whole chains with the exact noise prediction of Gaussian data (outputs of data scale, so an
    absolute tolerance means something): diffusers' DPMSolverMultistepScheduler within 1e-5. One
    exception: two steps from t = 999 of T = 1000 (sqrt(abar) = 6e-3) with a second-order last step,
    which extrapolates the first x_0's float32 rounding (magnified 1/6e-3 times): 3e-5 measured, 1e-4 allowed."""
    sched = _schedule("linear", num_timesteps)
    config = dict(timestep_spacing=spacing, final_sigmas_type=final_sigmas_type, lower_order_final=lower_order_final)
    ours = DPMSolverSampler(sched, num_inference_steps, **config)
    ref = _dpm_ref("linear", num_inference_steps, num_timesteps, **config)
    model = GaussianDenoiser(sched, GAUSS_MU, GAUSS_S)
    x_T = torch.randn(256, 2, generator=torch.Generator().manual_seed(num_inference_steps))
    got, expected = _run_chain(ours, model, x_T), _run_chain(ref, model, x_T)
    ill_conditioned = num_timesteps == T and num_inference_steps == 2 and not lower_order_final
    torch.testing.assert_close(got, expected, atol=1e-4 if ill_conditioned else 1e-5, rtol=0)
    assert (got - x_T).abs().mean() > 0.1  # the chain did move


def test_dpm_trailing_with_every_timestep_matches_diffusers():
    """n = T is allowed with "trailing" (timesteps T-1, ..., 0, then clean data), as in diffusers."""
    sched = _schedule("linear", 500)
    ours, ref = DPMSolverSampler(sched, 500), _dpm_ref("linear", 500, 500, timestep_spacing="trailing")
    assert ours.timesteps.tolist() == list(range(499, -1, -1)) and torch.equal(ours.timesteps, ref.timesteps[:500])
    model = GaussianDenoiser(sched, GAUSS_MU, GAUSS_S)
    x_T = torch.randn(256, 2, generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(_run_chain(ours, model, x_T), _run_chain(ref, model, x_T), atol=1e-5, rtol=0)


def _dpm_float64(schedule: NoiseSchedule, timesteps: list[int], model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """DPM-Solver++(2M) to clean data written out in float64 from Lu et al. 2022b, Algorithm 2 (last step first order)."""
    abar = schedule.alphas_cumprod.double()
    x, previous = x.double(), None
    for i, t in enumerate(timesteps):
        alpha, sigma = abar[t].sqrt(), (1 - abar[t]).sqrt()
        x0 = (x - sigma * model(x.float(), torch.full((x.shape[0],), t)).double()) / alpha
        if i == len(timesteps) - 1:
            return x0
        alpha_next, sigma_next = abar[timesteps[i + 1]].sqrt(), (1 - abar[timesteps[i + 1]]).sqrt()
        lam, lam_next = torch.log(alpha / sigma), torch.log(alpha_next / sigma_next)
        h = lam_next - lam
        d = x0 if previous is None else x0 + (x0 - previous[1]) * h / (2 * (lam - previous[0]))
        x = sigma_next / sigma * x - alpha_next * torch.expm1(-h) * d
        previous = (lam, x0)


@pytest.mark.parametrize("num_timesteps", [500, T])
@pytest.mark.parametrize("num_inference_steps", [1, 5, 10, 20])
def test_dpm_cosine_chain_against_float64(num_timesteps, num_inference_steps):
    """At t = T - 1 of the cosine schedule sqrt(abar) ~ 5e-5: x_0 = (x - sigma eps) / alpha magnifies
    float32 rounding ~2e4 times. Our chain stays within 5e-4 of the same algorithm in float64 (measured:
    2e-4 at one step, 2e-5 at ten); diffusers, which goes through float32 sigmas = sqrt((1 - abar) / abar),
    lands up to 1e-2 away there (measured 1e-2 at one step, 8e-4 at ten), so against it the tolerance is 2e-2."""
    sched = _schedule("cosine", num_timesteps)
    model = GaussianDenoiser(sched, GAUSS_MU, GAUSS_S)
    x_T = torch.randn(256, 2, generator=torch.Generator().manual_seed(0))
    ours = DPMSolverSampler(sched, num_inference_steps)
    got = _run_chain(ours, model, x_T)
    with torch.no_grad():
        exact = _dpm_float64(sched, ours.timesteps.tolist(), model, x_T)
    torch.testing.assert_close(got.double(), exact, atol=5e-4, rtol=0)
    expected = _run_chain(_dpm_ref("cosine", num_inference_steps, num_timesteps), model, x_T)
    torch.testing.assert_close(got, expected, atol=2e-2, rtol=0)


def test_dpm_sample_on_images_equals_diffusers_loop():
    """sample() with the toy network on image-shaped batches, against diffusers' loop from the same x_T."""
    model = ToyDenoiser(500)
    shape = (4, 2, 8, 8)
    got = sample(model, DPMSolverSampler(_schedule("linear", 500), 10), shape, generator=torch.Generator().manual_seed(2),
                 progress=False)
    ref = _dpm_ref("linear", 10, 500, timestep_spacing="trailing")
    expected = _run_chain(ref, model, torch.randn(shape, generator=torch.Generator().manual_seed(2)))
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)


def test_dpm_first_step_is_ddim():
    """With no previous prediction DPM-Solver++ is first order, which is DDIM with eta = 0 (Lu et al. 2022b,
    section 4.1): the first step, and any step after reset(), equals DDIMSampler's step to the same timestep."""
    sched = _schedule("linear", 500)
    dpm, ddim = DPMSolverSampler(sched, 10, timestep_spacing="trailing"), DDIMSampler(sched, 10, timestep_spacing="trailing")
    assert torch.equal(dpm.timesteps, ddim.timesteps)
    model_output, x = _random_inputs(0, shape=(8, 2))
    for t in dpm.timesteps.tolist()[:3]:
        dpm.reset()
        torch.testing.assert_close(dpm.step(model_output, t, x), ddim.step(model_output, t, x), atol=1e-5, rtol=1e-5)


def test_dpm_second_step_uses_the_previous_prediction():
    """After a step at the previous listed timestep the update is second order: it differs from the
    first-order (DDIM) step by alpha_t (exp(-h) - 1) (x0_s - x0_prev) / (2 r) exactly."""
    sched = _schedule("linear", 500)
    sampler = DPMSolverSampler(sched, 10, timestep_spacing="trailing")
    t0, t1, t2 = sampler.timesteps.tolist()[:3]
    eps0, x = _random_inputs(1, shape=(8, 2))
    eps1 = torch.randn(8, 2, generator=torch.Generator().manual_seed(9))
    x1 = sampler.step(eps0, t0, x)
    second = sampler.step(eps1, t1, x1)
    first = DDIMSampler(sched, 10, timestep_spacing="trailing").step(eps1, t1, x1)
    abar = sched.alphas_cumprod.double()
    lam = {t: 0.5 * torch.log(abar[t] / (1 - abar[t])) for t in (t0, t1, t2)}
    x0_prev = (x.double() - (1 - abar[t0]).sqrt() * eps0.double()) / abar[t0].sqrt()
    x0_now = (x1.double() - (1 - abar[t1]).sqrt() * eps1.double()) / abar[t1].sqrt()
    h, r = lam[t2] - lam[t1], (lam[t1] - lam[t0]) / (lam[t2] - lam[t1])
    correction = -abar[t2].sqrt() * torch.expm1(-h) * (x0_now - x0_prev) / (2 * r)
    torch.testing.assert_close((second - first).double(), correction, atol=1e-5, rtol=1e-4)
    assert correction.abs().max() > 1e-3
    # Out of order (t1 again, whose previous listed timestep t0 was not the last step taken): first order.
    torch.testing.assert_close(sampler.step(eps1, t1, x1), first, atol=1e-5, rtol=1e-5)


def test_dpm_state_is_reset_at_the_first_timestep():
    """Two chains one after the other with one sampler give the same result as with two fresh samplers."""
    sched = _schedule("linear", 500)
    model = GaussianDenoiser(sched, GAUSS_MU, GAUSS_S)
    sampler = DPMSolverSampler(sched, 8)
    a = sample(model, sampler, (64, 2), generator=torch.Generator().manual_seed(0), progress=False)
    b = sample(model, sampler, (64, 2), generator=torch.Generator().manual_seed(0), progress=False)
    c = sample(model, DPMSolverSampler(sched, 8), (64, 2), generator=torch.Generator().manual_seed(0), progress=False)
    assert torch.equal(a, b) and torch.equal(a, c)


def test_dpm_is_second_order_on_gaussian_data():
    """With the exact noise prediction of Gaussian data the probability-flow ODE maps x_T (at t = T - 1)
    to mu + s (x_T - sqrt(abar) mu) / sqrt(abar s^2 + 1 - abar). DPM-Solver++(2M)'s error falls about
    4x when the steps double (second order; measured 3.6x and 5.6x from 10 to 20 to 40), DDIM's about
    2x (first order), and DPM-Solver++ is the closer of the two at every step count."""
    sched = NoiseSchedule.linear(500, 1e-4, 0.02)
    model = GaussianDenoiser(sched, GAUSS_MU, GAUSS_S)
    x_T = torch.randn(1000, 2, generator=torch.Generator().manual_seed(0))
    ab = sched.alphas_cumprod[-1].double()
    mu, s = GAUSS_MU.double(), GAUSS_S.double()
    exact = mu + s * (x_T.double() - ab.sqrt() * mu) / (ab * s**2 + 1 - ab).sqrt()
    error = {}
    for n in (10, 20, 40):
        for name, sampler in [("dpm", DPMSolverSampler(sched, n, timestep_spacing="trailing")),
                              ("ddim", DDIMSampler(sched, n, timestep_spacing="trailing"))]:
            error[name, n] = (_run_chain(sampler, model, x_T).double() - exact).abs().max().item()
        assert error["dpm", n] < error["ddim", n] / 1.5, error
    for n in (10, 20):
        assert error["dpm", n] / error["dpm", 2 * n] > 3, error
        assert 1.5 < error["ddim", n] / error["ddim", 2 * n] < 2.5, error


@pytest.mark.parametrize(("kwargs", "match"), [
    (dict(num_inference_steps=0), "num_inference_steps"),
    (dict(num_inference_steps=T, timestep_spacing="linspace"), "num_inference_steps"),
    (dict(num_inference_steps=T, timestep_spacing="leading"), "num_inference_steps"),
    (dict(num_inference_steps=T + 1), "num_inference_steps"),
    (dict(num_inference_steps=2.5), "num_inference_steps"),
    (dict(timestep_spacing="Linspace"), "timestep_spacing"),
    (dict(final_sigmas_type="sigma_max"), "final_sigmas_type"),
])
def test_dpm_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        DPMSolverSampler(_schedule("linear"), **{"num_inference_steps": 10, **kwargs})


def test_dpm_step_bad_inputs():
    sampler = DPMSolverSampler(_schedule("linear", 500), 10)
    model_output, x = _random_inputs(0, shape=(4, 2))
    with pytest.raises(ValueError, match="not one of this sampler's timesteps"):
        sampler.step(model_output, 450, x)  # 10 linspace steps of 500: 499, 449.1 -> 449, ...
    with pytest.raises(ValueError, match="model_output"):
        sampler.step(model_output[:3], 499, x)
    with pytest.raises(FloatingPointError, match="model_output"):
        sampler.step(model_output * float("nan"), 499, x)


def _run_noisy_chain(sampler, model: nn.Module, x: torch.Tensor, seed: int) -> torch.Tensor:
    """As _run_chain, with a generator for each step's fresh noise (stochastic samplers)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for t in sampler.timesteps.tolist():
            out = sampler.step(model(x, torch.full((x.shape[0],), t)), t, x, generator=generator)
            x = out if isinstance(out, torch.Tensor) else out.prev_sample
    return x


@pytest.mark.parametrize("spacing", ["linspace", "trailing"])
@pytest.mark.parametrize("final_sigmas_type", ["zero", "sigma_min"])
@pytest.mark.parametrize("num_inference_steps", [2, 5, 10, 20, 50])
def test_sde_dpm_whole_chain_matches_diffusers(spacing, final_sigmas_type, num_inference_steps):
    """SDE-DPM-Solver++(2M) against diffusers' "sde-dpmsolver++" with the same generator for the
    per-step noise: whole chains within 1e-5, and a different seed gives a different chain."""
    sched = _schedule("linear", 500)
    config = dict(timestep_spacing=spacing, final_sigmas_type=final_sigmas_type)
    ours = DPMSolverSampler(sched, num_inference_steps, stochastic=True, **config)
    ref = _dpm_ref("linear", num_inference_steps, 500, algorithm_type="sde-dpmsolver++", **config)
    model = GaussianDenoiser(sched, GAUSS_MU, GAUSS_S)
    x_T = torch.randn(256, 2, generator=torch.Generator().manual_seed(num_inference_steps))
    got = _run_noisy_chain(ours, model, x_T, seed=1)
    torch.testing.assert_close(got, _run_noisy_chain(ref, model, x_T, seed=1), atol=1e-5, rtol=0)
    assert (got - _run_noisy_chain(ours, model, x_T, seed=2)).abs().mean() > 0.01


def test_sde_dpm_samples_gaussian_data_exactly():
    """With the exact noise prediction of data N(mu, diag(s^2)), the reverse SDE's samples follow that
    distribution: 20,000 samples in 100 steps have mean mu and standard deviation s within 0.02
    (measured: 0.005 and 0.006; sampling error alone is about 0.004). With 10 steps the standard
    deviation is 0.076 off, so the tolerance does separate a coarse solver from a fine one."""
    sched = _schedule("linear", 500)
    model = GaussianDenoiser(sched, GAUSS_MU, GAUSS_S)
    x_T = torch.randn(20_000, 2, generator=torch.Generator().manual_seed(0))
    x = _run_noisy_chain(DPMSolverSampler(sched, 100, stochastic=True), model, x_T, seed=3)
    torch.testing.assert_close(x.mean(0), GAUSS_MU, atol=0.02, rtol=0)
    torch.testing.assert_close(x.std(0), GAUSS_S, atol=0.02, rtol=0)
    coarse = _run_noisy_chain(DPMSolverSampler(sched, 10, stochastic=True), model, x_T, seed=3)
    assert (coarse.std(0) - GAUSS_S).abs().max() > 0.05


def test_sde_dpm_first_order_step_is_ddim_with_eta_one():
    """With D = x0 (the first step, or after reset()) the stochastic update is DDPM's posterior step from
    s to t, which is DDIM with eta = 1: the same result with the same noise z."""
    sched = _schedule("linear", 500)
    sde = DPMSolverSampler(sched, 10, stochastic=True)
    ddim = DDIMSampler(sched, 10, eta=1.0, timestep_spacing="trailing")
    model_output, x = _random_inputs(4, shape=(8, 2))
    z = torch.randn(8, 2, generator=torch.Generator().manual_seed(5))
    for t in sde.timesteps.tolist()[:3]:
        sde.reset()
        torch.testing.assert_close(sde.step(model_output, t, x, noise=z), ddim.step(model_output, t, x, noise=z),
                                   atol=1e-5, rtol=1e-5)
    second = sde.step(model_output, sde.previous_timestep(t), x, noise=z)  # now second order: not DDIM's
    assert (second - ddim.step(model_output, sde.previous_timestep(t), x, noise=z)).abs().max() > 1e-3


def test_sde_dpm_bad_arguments():
    with pytest.raises(InvalidArgument, match="stochastic"):
        DPMSolverSampler(_schedule("linear"), 10, stochastic="yes")
    model_output, x = _random_inputs(0, shape=(4, 2))
    with pytest.raises(InvalidArgument, match="noise"):
        DPMSolverSampler(_schedule("linear", 500), 10).step(model_output, 499, x, noise=torch.zeros_like(x))
    with pytest.raises(ValueError, match="noise must have the shape"):
        DPMSolverSampler(_schedule("linear", 500), 10, stochastic=True).step(model_output, 499, x, noise=x[:2])


# --- exact answer for Gaussian data ------------------------------------------------------------------


def _gaussian_output_moments(schedule: NoiseSchedule, timesteps: list[int], mu, s, eta: float):
    """Mean and std of the sampler's output when fed the exact eps*, propagated in float64.

    With eps* linear in x_t, each DDIM update (Song et al. 2020, eq. 12 with sigma of eq. 16) is
    x' = A x + B + sigma z, so the mean and variance follow m' = A m + B, v' = A^2 v + sigma^2,
    starting from x_T ~ N(0, 1). With all timesteps and eta = 1 this is also DDPM (see above).
    """
    ab_all = schedule.alphas_cumprod.double()
    mu, s = mu.double(), s.double()
    m, v = torch.zeros_like(mu), torch.ones_like(mu)
    for i, t in enumerate(timesteps):
        ab = ab_all[t]
        ab_prev = ab_all[timesteps[i + 1]] if i + 1 < len(timesteps) else torch.tensor(1.0, dtype=torch.float64)
        c = (1 - ab).sqrt() / (ab * s**2 + 1 - ab)  # eps* = c (x - sqrt(ab) mu)
        sigma2 = eta**2 * (1 - ab_prev) / (1 - ab) * (1 - ab / ab_prev)
        k = (1 - ab_prev - sigma2).sqrt() - (ab_prev * (1 - ab) / ab).sqrt()
        A, B = (ab_prev / ab).sqrt() + k * c, -k * c * ab.sqrt() * mu
        m, v = A * m + B, A**2 * v + sigma2
    return m.float(), v.sqrt().float()


GAUSS_MU, GAUSS_S = torch.tensor([0.5, -0.3]), torch.tensor([0.3, 0.6])


@pytest.mark.parametrize(
    ("make_sampler", "eta", "std_rtol"),
    [
        # Discretisation bias measured by _gaussian_output_moments: DDPM (T = 500) std ~1.7 % low;
        # DDIM 50 steps ~3-6 % low at eta = 0, ~7-12 % low at eta = 1.
        (lambda sched: DDPMSampler(sched), 1.0, 0.04),
        (lambda sched: DDIMSampler(sched, 50, eta=0.0), 0.0, 0.08),
        (lambda sched: DDIMSampler(sched, 50, eta=1.0), 1.0, 0.15),
        (lambda sched: DDIMSampler(sched, 250, eta=0.0), 0.0, 0.03),
    ],
)
def test_samplers_recover_gaussian_data(make_sampler, eta, std_rtol):
    sched = NoiseSchedule.linear(500, 1e-4, 0.02)  # the course default for images
    sampler = make_sampler(sched)
    n = 20_000
    x = sample(GaussianDenoiser(sched, GAUSS_MU, GAUSS_S), sampler, (n, 2),
               generator=torch.Generator().manual_seed(0), progress=False)
    mean, std = x.mean(0), x.std(0)

    # 1. The data distribution, up to the discretisation bias quoted above.
    torch.testing.assert_close(mean, GAUSS_MU, atol=0.03, rtol=0)
    torch.testing.assert_close(std, GAUSS_S, atol=0, rtol=std_rtol)

    # 2. Exactly the distribution this discretisation produces. Tolerance: 5 standard errors,
    #    sd / sqrt(n) for the mean and sd / sqrt(2 n) for the std of a Gaussian sample.
    exp_mean, exp_std = _gaussian_output_moments(sched, sampler.timesteps.tolist(), GAUSS_MU, GAUSS_S, eta)
    assert ((mean - exp_mean).abs() <= 5 * exp_std / math.sqrt(n)).all(), (mean, exp_mean)
    assert ((std - exp_std).abs() <= 5 * exp_std / math.sqrt(2 * n)).all(), (std, exp_std)


def test_ddpm_without_noise_term_collapses_gaussian_data():
    """Forgetting sigma_t z makes every sample land near the data mean: the spread is lost."""
    sched = NoiseSchedule.linear(500, 1e-4, 0.02)
    x = sample(GaussianDenoiser(sched, GAUSS_MU, GAUSS_S), DDPMSampler(sched, add_noise=False), (2000, 2),
               generator=torch.Generator().manual_seed(0), progress=False)
    torch.testing.assert_close(x.mean(0), GAUSS_MU, atol=0.03, rtol=0)
    assert (x.std(0) < 0.1 * GAUSS_S).all()


# --- bad inputs --------------------------------------------------------------------------------------


@pytest.mark.parametrize("make_sampler", [lambda s: DDPMSampler(s), lambda s: DDIMSampler(s, 10)])
@pytest.mark.parametrize(
    ("timestep", "error"),
    [(T, ValueError), (-1, ValueError), (5.0, TypeError), (torch.tensor(5.0), TypeError), (torch.tensor([5, 6]), ValueError)],
)
def test_step_bad_timestep(make_sampler, timestep, error):
    sampler = make_sampler(_schedule("linear"))
    model_output, x = _random_inputs(0)
    with pytest.raises(error, match="timestep"):
        sampler.step(model_output, timestep, x)


@pytest.mark.parametrize("make_sampler", [lambda s: DDPMSampler(s), lambda s: DDIMSampler(s, 10, eta=1.0)])
def test_step_bad_shapes(make_sampler):
    sampler = make_sampler(_schedule("linear"))
    model_output, x = _random_inputs(0, shape=(4, 2))
    with pytest.raises(ValueError, match="model_output"):
        sampler.step(model_output[:3], 500, x)
    with pytest.raises(ValueError, match="noise"):
        sampler.step(model_output, 500, x, noise=torch.zeros(2))  # would broadcast silently


@pytest.mark.parametrize("num_inference_steps", [0, -3, T + 1, 2.5, "10", None])
def test_ddim_bad_num_inference_steps(num_inference_steps):
    with pytest.raises(ValueError, match="num_inference_steps"):
        DDIMSampler(_schedule("linear"), num_inference_steps=num_inference_steps)


@pytest.mark.parametrize("eta", [-0.1, 1.5, float("nan"), "0.5"])
def test_ddim_bad_eta(eta):
    with pytest.raises(ValueError, match="eta"):
        DDIMSampler(_schedule("linear"), eta=eta)
    sampler = DDIMSampler(_schedule("linear"))
    model_output, x = _random_inputs(0)
    with pytest.raises(ValueError, match="eta"):
        sampler.step(model_output, 500, x, eta=eta)


def test_bad_guidance_and_context():
    model = ToyDenoiser(50)
    sampler = DDIMSampler(_schedule("linear", 50), 5)
    context = torch.zeros(4, 3)
    x = torch.zeros(4, 2)
    with pytest.raises(ValueError, match="guidance"):
        sample(model, sampler, (4, 2), context=context, guidance=-1.0, progress=False)
    with pytest.raises(ValueError, match="guidance"):
        sample(model, sampler, (4, 2), guidance=2.0, progress=False)
    with pytest.raises(ValueError, match="context"):
        sample(model, sampler, (4, 2), context=torch.zeros(3, 3), progress=False)
    with pytest.raises(ValueError, match="guidance"):
        predict_noise(model, x, 10, context, guidance=-1.0)
    with pytest.raises(ValueError, match="guidance"):
        predict_noise(model, x, 10, None, guidance=2.0)  # would silently drop the guidance
    with pytest.raises(TypeError, match="timestep"):
        predict_noise(model, x, 10.5)  # would silently truncate to 10


# --- GPU ---------------------------------------------------------------------------------------------


@pytest.mark.cuda
@pytest.mark.parametrize("make_sampler", [lambda s: DDPMSampler(s), lambda s: DDIMSampler(s, 20, eta=0.5)])
def test_sampling_on_cuda_equals_cpu(make_sampler):
    """All noise comes from the CPU generator, so the GPU run differs from the CPU run only by rounding."""
    sched = _schedule("linear", 100)
    context = torch.eye(3)[[0, 1, 2, 0]]
    runs = []
    for device in ["cpu", "cuda"]:
        model = ToyDenoiser(100).to(device)
        x = sample(model, make_sampler(sched), (4, 1, 8, 8), context=context, guidance=1.5,
                   generator=torch.Generator().manual_seed(0), progress=False)
        assert x.device.type == device
        runs.append(x.cpu())
    torch.testing.assert_close(runs[1], runs[0], atol=1e-4, rtol=1e-4)


# --- the command line --------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "stochastic"), [("dpm", False), ("dpm-sde", True)])
def test_cli_dpm_sampler_equals_the_library(tmp_path, name, stochastic):
    """``python -m course_lib sample --sampler dpm`` (or dpm-sde) samples what DPMSolverSampler(stochastic=...)
    samples from the same seed; --eta is refused."""
    import numpy as np

    from course_lib.__main__ import main
    from course_lib.checkpoints import load_pretrained

    out = tmp_path / "dpm.npz"
    assert main(["sample", "--model", "digits", "--n", "3", "--sampler", name, "--steps", "7", "--seed", "5",
                 "--device", "cpu", "--no-progress", "--out", str(out)]) == 0
    model, schedule = load_pretrained("digits", device="cpu")
    expected = sample(model, DPMSolverSampler(schedule, 7, stochastic=stochastic), (3, 1, 16, 16),
                      generator=torch.Generator().manual_seed(5), progress=False)
    torch.testing.assert_close(torch.from_numpy(np.load(out)["images"]), expected)
    assert main(["sample", "--model", "digits", "--sampler", name, "--eta", "0.5", "--out", str(tmp_path / "x.png")]) == 2
    assert not (tmp_path / "x.png").exists()


def test_cli_default_sampler_is_sde_dpm_solver_with_ten_steps(tmp_path):
    """Without --sampler and --steps the CLI samples what DPMSolverSampler(schedule, 10, stochastic=True) samples
    (the default chosen by ``make bench TABLES=ten-steps``)."""
    import numpy as np

    from course_lib.__main__ import main
    from course_lib.checkpoints import load_pretrained

    out = tmp_path / "default.npz"
    assert main(["sample", "--model", "digits", "--n", "3", "--seed", "2", "--device", "cpu", "--no-progress",
                 "--out", str(out)]) == 0
    model, schedule = load_pretrained("digits", device="cpu")
    expected = sample(model, DPMSolverSampler(schedule, 10, stochastic=True), (3, 1, 16, 16),
                      generator=torch.Generator().manual_seed(2), progress=False)
    torch.testing.assert_close(torch.from_numpy(np.load(out)["images"]), expected)


def test_bench_ten_steps_table_averages_over_seeds(capsys):
    """The ten-steps table's "mean ± standard error" is over the seeds' own samples: the DPM-Solver++ row's
    confident fraction equals the mean of two seeds sampled here, with the standard error of the two."""
    from course_lib import bench
    from course_lib.checkpoints import load_pretrained
    from course_lib.classifier import predict
    from course_lib.data.digits import load_digits
    from course_lib.metrics import confident_fraction, near_copy_fraction, nearest_neighbour_distance

    bench.ten_steps(torch.device("cpu"), 6, seeds=2)
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| ") and "---" not in line]
    rows = {tuple(c.strip() for c in line.strip("|").split("|")[:2]): [c.strip() for c in line.strip("|").split("|")[2:]]
            for line in lines[1:]}
    assert len(rows) == 5 + 2 + 2 and ("sprites", "SDE-DPM-Solver++(2M) 10") in rows
    model, schedule = load_pretrained("digits", device="cpu")
    judge, _ = load_pretrained("classifier-digits", device="cpu")
    train = load_digits(16, "train").tensors[0]
    images = [sample(model, DPMSolverSampler(schedule, 10), (6, 1, 16, 16), generator=torch.Generator().manual_seed(seed),
                     progress=False) for seed in (0, 1)]
    confident = torch.tensor([confident_fraction(predict(judge, x.clamp(-1, 1))[0]) for x in images], dtype=torch.float64)
    near = torch.tensor([near_copy_fraction(nearest_neighbour_distance(x, train)[0]) for x in images], dtype=torch.float64)
    assert rows[("digits", "DPM-Solver++(2M) 10")][1] == f"{confident.mean():.3f} ± {confident.std() / 2 ** 0.5:.3f}"
    assert rows[("digits", "DPM-Solver++(2M) 10")][5] == f"{near.mean():.3f} ± {near.std() / 2 ** 0.5:.3f}"
    assert rows[("sprites", "DPM-Solver++(2M) 10")][1] == "-" and rows[("digits", "DDPM")][0] == "0"


def test_bench_quality_table_reports_memorisation_of_the_samples_it_drew(capsys):
    """The quality table's memorisation columns: real held-out digits show no near-copy (the threshold is set
    below all of them), and the digits' DPM-Solver++ row reports the median NN distance and near-copy share of
    the samples drawn here with the same seed."""
    from course_lib import bench
    from course_lib.checkpoints import load_pretrained
    from course_lib.data.digits import load_digits
    from course_lib.metrics import NEAR_COPY_DISTANCE, near_copy_fraction, nearest_neighbour_distance

    bench.quality(torch.device("cpu"), 8)
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| ") and "---" not in line]
    header, *body = [[c.strip() for c in line.strip("|").split("|")] for line in lines]
    rows = {tuple(r[:3]): dict(zip(header, r)) for r in body}
    assert f"near-copies (< {NEAR_COPY_DISTANCE})" in header
    assert rows[("real held-out digits", "-", "-")][f"near-copies (< {NEAR_COPY_DISTANCE})"] == "0"
    model, schedule = load_pretrained("digits", device="cpu")
    x = sample(model, DPMSolverSampler(schedule, 10), (8, 1, 16, 16), generator=torch.Generator().manual_seed(0),
               progress=False)
    distances, _ = nearest_neighbour_distance(x, load_digits(16, "train").tensors[0])
    row = rows[("digits", "dpm 10", "0")]
    assert row["median NN distance"] == f"{distances.median().item():.3g}"
    assert row[f"near-copies (< {NEAR_COPY_DISTANCE})"] == f"{near_copy_fraction(distances):.3g}"


def test_bench_prints_the_samplers_table(capsys):
    """``make bench``'s samplers table: every sampler and spacing, with the first timestep each visits."""
    from course_lib import bench

    bench.samplers(torch.device("cpu"), 4, step_counts=(2,))
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| ") and "---" not in line]
    rows = {tuple(c.strip() for c in line.strip("|").split("|")[:4]) for line in lines[1:]}
    assert ("DDPM", "all", "500", "499") in rows
    for name in ("DDIM", "DPM-Solver++(2M)", "DDPM-like (DDIM, eta = 1)", "SDE-DPM-Solver++(2M)"):
        assert (name, "trailing", "2", "499") in rows
    assert ("DDIM", "leading", "2", "250") in rows and ("DPM-Solver++(2M)", "leading", "2", "332") in rows
    assert ("DDIM", "leading", "251", "250") in rows and ("DDIM", "trailing", "251", "499") in rows
    assert len(rows) == 1 + 4 + 4 + 3 + 1
    assert ("real training digits, 4 drawn", "-", "-", "-") in rows
