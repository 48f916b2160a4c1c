# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "slide"}
# # The same with Hugging Face diffusers
#
# - Hugging Face diffusers: the library behind most open diffusion code
# - Nothing in it is magic: the course's mathematics under other names
# - Its schedulers give *the same numbers* as ours; its `UNet2DModel` learns our digits; our
#   weights run in its pipelines
# - All offline: no model is downloaded

# %% [markdown] slideshow={"slide_type": "notes"}
# # The same with Hugging Face diffusers
#
# So far every piece of the course was written from scratch in `course_lib`. In practice most
# people use [Hugging Face diffusers](https://huggingface.co/docs/diffusers), the library
# behind most open diffusion code. This lesson shows that nothing in it is magic: it is the
# same mathematics with other names. We check that its schedulers give *the same numbers* as
# ours, train its `UNet2DModel` on the course's digits, and drive the course's own weights
# with its schedulers and pipelines. Everything runs offline: no model is downloaded.

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ## Learning objectives
#
# - map each `course_lib` name onto diffusers' models, schedulers and pipelines
# - configure `DDPMScheduler` and `DDIMScheduler` to match the course's samplers exactly
# - train a `UNet2DModel`, and sample it with a pipeline
# - put the course's UNet into a pipeline; save it in the Hub's format
# - swap schedulers; read `prediction_type` and `variance_type` in the source
# - fine-tune on 32 sevens: what it gains, what it forgets

# %% [markdown] slideshow={"slide_type": "notes"}
# **Learning objectives.** By the end of this lesson you can
#
# - name diffusers' three building blocks (models, schedulers, pipelines) and map each
#   `course_lib` name onto its diffusers counterpart;
# - configure `DDPMScheduler` and `DDIMScheduler` to reproduce the course's samplers exactly;
# - write the diffusers training loop for a `UNet2DModel`, and sample it with a pipeline;
# - put any denoiser (here the course's UNet) inside a diffusers pipeline, and save it in the Hub's folder format;
# - swap schedulers, and find your way in diffusers' source (`prediction_type`, `variance_type`);
# - fine-tune a trained model on a small new data set, and measure what it gains over training
#   from scratch and what it forgets.
#
# **Estimated time:** 80 minutes (50 of reading and running, 30 for the exercises).

# %% slideshow={"slide_type": "skip"}
import inspect
import tempfile
import time
import warnings
from pathlib import Path

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from tqdm import TqdmWarning
# diffusers' tqdm.auto warns without ipywidgets; bars are off
warnings.filterwarnings("ignore", category=TqdmWarning)
from course_lib import (DDIMSampler, DDPMSampler, NoiseSchedule, UNet, fast_or_full,  # noqa: E402
                        load_pretrained, sample, seed_everything, train_diffusion)
from course_lib.classifier import predict  # noqa: E402
from course_lib.data import load_digits  # noqa: E402
from course_lib.evaluation import print_table  # noqa: E402
from course_lib.hf import CoursePipeline, CourseUNet2DModel  # noqa: E402
from course_lib.metrics import confident_fraction, frechet_distance  # noqa: E402
from course_lib.plotting import plot_losses, show_images  # noqa: E402

# %% slideshow={"slide_type": "skip"}
import diffusers
from diffusers import (DDIMPipeline, DDIMScheduler, DDPMScheduler, DPMSolverMultistepScheduler,
                       EulerDiscreteScheduler, StableDiffusionPipeline, UNet2DModel)

generator = seed_everything(0)
print(f"diffusers {diffusers.__version__}, torch {torch.__version__}")

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "slide"}
# ## 1. diffusers in one picture
#
# - **models**: the networks; `unet(x_t, t).sample` is the predicted noise
# - **schedulers**: the schedule *and* the sampling rule: `add_noise` to train, `set_timesteps`
#   and `step` to sample
# - **pipelines**: a model and a scheduler in a loop: `pipe(batch_size=...)`, or
#   `pipe(prompt=...)` for text-to-image
#
# `course_lib` follows the same conventions: the two line up name by name.

# %% [markdown] slideshow={"slide_type": "notes"}
# ## 1. diffusers in one picture
#
# diffusers splits a diffusion model into three kinds of object:
#
# - **models**: the networks, e.g. `UNet2DModel` (called `unet(x_t, t).sample`, returns the predicted noise);
# - **schedulers**: the noise schedule *and* the sampling rule, e.g. `DDPMScheduler`, `DDIMScheduler`.
#   A scheduler has `alphas_cumprod`, `add_noise` for training, `set_timesteps` and `step` for sampling;
# - **pipelines**: a model and a scheduler glued into a loop. Unconditional ones such as
#   `DDPMPipeline` and `DDIMPipeline` are called as `pipe(batch_size=...)`; text-to-image ones such as
#   `StableDiffusionPipeline` as `pipe(prompt=...)` (one image per prompt, more with
#   `num_images_per_prompt=`). The cell below reads both signatures.
#
# %% slideshow={"slide_type": "skip"}
def call_arguments(pipeline_class: type) -> list[str]:
    """The keyword arguments of a pipeline's __call__, read from its signature."""
    return list(inspect.signature(pipeline_class.__call__).parameters)

for pipeline_class in (DDIMPipeline, StableDiffusionPipeline):
    print(f"{pipeline_class.__name__}(...): {', '.join(call_arguments(pipeline_class)[1:5])}, ...")
assert "batch_size" in call_arguments(DDIMPipeline) and "prompt" not in call_arguments(DDIMPipeline)
assert "prompt" in call_arguments(StableDiffusionPipeline) and "batch_size" not in call_arguments(
    StableDiffusionPipeline
)

# %% [markdown] slideshow={"slide_type": "notes"}
# `course_lib` was written to follow the same conventions (0-based timesteps, `add_noise`'s signature,
# `sampler.timesteps`, `sampler.step`), so that the two line up name by name.

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### Name by name: schedules and samplers
#
# | `course_lib` | diffusers |
# |---|---|
# | `NoiseSchedule.linear(500, 1e-4, 0.02)` | `DDPMScheduler(num_train_timesteps=500, beta_start=1e-4, beta_end=0.02)` |
# | `schedule.add_noise(x0, noise, t)` | `scheduler.add_noise(x0, noise, t)` |
# | `DDPMSampler(schedule)` | `DDPMScheduler(..., variance_type="fixed_small", clip_sample=False)` |
# | `DDIMSampler(schedule, n, eta)` | `DDIMScheduler(..., set_alpha_to_one=True, steps_offset=0, clip_sample=False)`, `set_timesteps(n)` |
# | `sampler.step(eps, t, x)` | `scheduler.step(eps, t, x).prev_sample` |
#
# Set the same `timestep_spacing` on both: the course defaults to "trailing", diffusers to "leading".

# %% [markdown] slideshow={"slide_type": "notes"}
# **Schedules and samplers**
#
# | `course_lib` | diffusers |
# |---|---|
# | `NoiseSchedule.linear(500, 1e-4, 0.02)` | `DDPMScheduler(num_train_timesteps=500, beta_start=1e-4, beta_end=0.02, beta_schedule="linear")` |
# | `NoiseSchedule.cosine(T)` | `beta_schedule="squaredcos_cap_v2"` |
# | `schedule.betas`, `.alphas`, `.alphas_cumprod` | `scheduler.betas`, `.alphas`, `.alphas_cumprod` |
# | `schedule.add_noise(x0, noise, t)` | `scheduler.add_noise(x0, noise, t)` |
# | `DDPMSampler(schedule)` | `DDPMScheduler(..., variance_type="fixed_small", clip_sample=False)` |
# | `DDIMSampler(schedule, n, eta, timestep_spacing=spacing)` | `DDIMScheduler(..., set_alpha_to_one=True, steps_offset=0, timestep_spacing=spacing, clip_sample=False)`, then `set_timesteps(n)` and `step(..., eta=eta)`; the course defaults to `"trailing"`, diffusers to `"leading"`: set it on both |
# | `DPMSolverSampler(schedule, n)` (`"trailing"` by default) | `DPMSolverMultistepScheduler(..., algorithm_type="dpmsolver++", solver_order=2, timestep_spacing="trailing", final_sigmas_type="zero")`, then `set_timesteps(n)` |
# | `DPMSolverSampler(schedule, n, stochastic=True)` | the same with `algorithm_type="sde-dpmsolver++"`; pass the same `generator` to `step` |
# | `sampler.timesteps` | `scheduler.timesteps` |
# | `sampler.step(eps, t, x)` | `scheduler.step(eps, t, x).prev_sample` |
# | $\hat x_0$ inside `step` | `scheduler.step(...).pred_original_sample` |

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### Name by name: networks, sampling and weights
#
# | `course_lib` | diffusers |
# |---|---|
# | `model(x_t, t, context)` | `unet(x_t, t).sample` |
# | `UNet(base_channels=16, channel_mults=(1, 2, 4))` | `UNet2DModel(block_out_channels=(16, 32, 64))` |
# | `sample(model, sampler, shape)` | `pipe(batch_size=N, num_inference_steps=n)` |
# | `train_diffusion(...)` | your own loop (+ `EMAModel`, `accelerate`) |
# | `load_pretrained("digits")` | `DiffusionPipeline.from_pretrained("org/name")` |
# | `save_weights` + manifest | `save_pretrained(folder)` |
# | guidance weight $w$ | `guidance_scale` $= 1 + w$ |

# %% [markdown] slideshow={"slide_type": "notes"}
# **Networks, sampling and weights**
#
# | `course_lib` | diffusers |
# |---|---|
# | `model(x_t, t, context)` returns $\epsilon$ | `unet(x_t, t).sample` (conditioning via `class_labels=` or `encoder_hidden_states=`) |
# | `UNet(base_channels=16, channel_mults=(1, 2, 4))` | `UNet2DModel(block_out_channels=(16, 32, 64), layers_per_block=1, ...)` |
# | guidance weight $w$ (`sample(..., guidance=w)`) | `guidance_scale` $= 1 + w$ |
# | `sample(model, sampler, shape)` | `pipe(batch_size=N, num_inference_steps=n)` |
# | `train_diffusion(..., ema_decay=0.999)` | your own loop + `diffusers.training_utils.EMAModel`, `accelerate` |
# | `load_pretrained("digits")` (SHA-256 checked) | `DiffusionPipeline.from_pretrained("org/name")` (from the Hub) |
# | `save_weights` + manifest | `save_pretrained(folder)` (`config.json` + `.safetensors`) |
#
# The guidance row: diffusers writes $\tilde\epsilon = \epsilon_\text{uncond} + s\,(\epsilon_\text{cond} - \epsilon_\text{uncond})$,
# the course $\tilde\epsilon = (1 + w)\,\epsilon_\text{cond} - w\,\epsilon_\text{uncond}$ (Ho & Salimans 2022): the same when $s = 1 + w$.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 2. The same numbers
#
# A claim such as "our DDIM is diffusers' DDIM" is only worth something if we measure it. We feed
# both implementations *identical* inputs and print the largest absolute difference. First the
# schedule and the forward process $x_t = \sqrt{\bar\alpha_t}\, x_0 + \sqrt{1 - \bar\alpha_t}\,\epsilon$.

# %%
T = 500
schedule = NoiseSchedule.linear(T, 1e-4, 0.02)  # the course default for images
ddpm_hf = DDPMScheduler(num_train_timesteps=T, beta_start=1e-4, beta_end=0.02,
                        beta_schedule="linear", clip_sample=False, variance_type="fixed_small")

images, labels = load_digits(16, "train").tensors
x0 = images[:16]
noise = torch.randn(x0.shape, generator=generator)
t = torch.randint(0, T, (16,), generator=generator)

differences = {
    "alphas_cumprod": (schedule.alphas_cumprod - ddpm_hf.alphas_cumprod).abs().max().item(),
    "add_noise": (
        (schedule.add_noise(x0, noise, t) - ddpm_hf.add_noise(x0, noise, t)).abs().max().item()
    ),
}
for name, d in differences.items():
    print(f"{name:15s} max |course_lib - diffusers| = {d:.2e}")

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### One reverse step, fed the same noise prediction

# %% [markdown]
# Now one reverse step. The network's prediction is the input of `step`, so we take a real one:
# the shipped digits model's noise prediction on noised digits. For DDPM both sides draw the
# fresh noise $z$ from a generator seeded identically. For DDIM we compare the visited timesteps and
# a deterministic ($\eta = 0$) and a stochastic ($\eta = 0.5$) step.

# %%
model, shipped_schedule = load_pretrained("digits")
device = next(model.parameters()).device
assert torch.equal(shipped_schedule.alphas_cumprod, schedule.alphas_cumprod)

ddpm_ours = DDPMSampler(schedule)
# diffusers' default spacing
ddim_ours = DDIMSampler(schedule, num_inference_steps=25, timestep_spacing="leading")
ddim_hf = DDIMScheduler(num_train_timesteps=T, beta_start=1e-4, beta_end=0.02,
                        beta_schedule="linear", clip_sample=False, set_alpha_to_one=True,
                        steps_offset=0, timestep_spacing="leading")
ddim_hf.set_timesteps(25)
print("timesteps equal:", torch.equal(ddim_ours.timesteps, ddim_hf.timesteps),
      ddim_hf.timesteps[:5].tolist(), "...")

@torch.no_grad()
def predicted_noise(x: torch.Tensor, timestep: int) -> torch.Tensor:
    return model(x.to(device), torch.full((len(x),), timestep, device=device)).cpu()


# %%
rows = []
for timestep in [480, 250, 20, 0]:
    x_t = schedule.add_noise(x0, noise, torch.full((16,), timestep))
    eps = predicted_noise(x_t, timestep)
    seed = 100 + timestep
    ours = ddpm_ours.step(eps, timestep, x_t, generator=torch.Generator().manual_seed(seed))
    theirs = ddpm_hf.step(
        eps, timestep, x_t, generator=torch.Generator().manual_seed(seed)
    ).prev_sample
    rows.append(("DDPM step", timestep, (ours - theirs).abs().max().item()))
    for eta in [0.0, 0.5]:
        ours = ddim_ours.step(eps, timestep, x_t, generator=torch.Generator().manual_seed(seed),
                              eta=eta)
        theirs = ddim_hf.step(eps, timestep, x_t, eta=eta,
                              generator=torch.Generator().manual_seed(seed)).prev_sample
        rows.append((f"DDIM step, eta={eta}", timestep, (ours - theirs).abs().max().item()))
print(f"{'':20s} {'t':>4s} {'max |difference|':>17s}")
for name, timestep, d in rows:
    print(f"{name:20s} {timestep:4d} {d:17.2e}")
assert max(d for *_, d in rows) < 1e-5

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### A whole sampling run, from the same starting noise

# %% [markdown]
# Finally a whole sampling run: the course's `sample()` against the loop every diffusers pipeline
# runs, written out by hand, from the same starting noise.

# %%
n = 16
with torch.no_grad():
    ours = sample(model, ddim_ours, (n, 1, 16, 16), generator=torch.Generator().manual_seed(1),
                  progress=False)

    x = torch.randn((n, 1, 16, 16), generator=torch.Generator().manual_seed(1))
    for timestep in ddim_hf.timesteps:  # the diffusers loop
        eps = predicted_noise(x, int(timestep))
        x = ddim_hf.step(eps, timestep, x).prev_sample

print(f"25 DDIM steps, {n} images: max |course_lib - diffusers| ="
      f" {(ours.cpu() - x).abs().max().item():.2e}")
assert torch.allclose(ours.cpu(), x, atol=1e-5)
show_images(torch.cat([ours.cpu(), x]), nrow=n,
            title="top: course_lib's sample(), bottom: the diffusers loop")
plt.show()

# %% [markdown] tags=["slides-only"]
# Zero, or float32 rounding (about $10^{-6}$) on other hardware: the same arithmetic in the same
# order. `tests/test_samplers.py` checks every timestep.

# %% [markdown] slideshow={"slide_type": "notes"}
# The differences are zero here, or at most at the level of float32 rounding (about $10^{-6}$) on other
# hardware: the two libraries do the same arithmetic in the same order. The test suite (`tests/test_samplers.py`) checks the same for every timestep, both
# schedules, with and without clipping, so this stays true as either library changes.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 3. Training a `UNet2DModel`
#
# diffusers does not ship a `train()` function: its examples (such as `train_unconditional.py`)
# write the loop out, which is Algorithm 1 of Ho et al. (2020) once more. The network is
# diffusers' `UNet2DModel`, configured small for 16×16 digits and a CPU: two resolutions (16 and 32
# channels), one residual block per resolution, no attention.

# %%
seed_everything(0)
unet = UNet2DModel(
    sample_size=16, in_channels=1, out_channels=1,
    block_out_channels=(16, 32), layers_per_block=1, norm_num_groups=8,
    down_block_types=("DownBlock2D", "DownBlock2D"), up_block_types=("UpBlock2D", "UpBlock2D"),
).to(device)
print(f"UNet2DModel with {sum(p.numel() for p in unet.parameters()):,} parameters")

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### The training loop: Algorithm 1 with diffusers' names

# %% [markdown]
# The loop: draw $t$ and $\epsilon$, noise the batch with `noise_scheduler.add_noise`, predict the
# noise, take the mean squared error.

# %%
noise_scheduler = DDPMScheduler(num_train_timesteps=T, beta_start=1e-4, beta_end=0.02,
                                beta_schedule="linear")
steps, batch_size = fast_or_full(200, 4000), 32
optimizer = torch.optim.AdamW(unet.parameters(), lr=2e-3)
loader_gen = torch.Generator().manual_seed(0)

# %%
losses = []
start = time.perf_counter()
unet.train()
for step in range(steps):
    batch = images[torch.randint(0, len(images), (batch_size,), generator=loader_gen)].to(device)
    timesteps = torch.randint(0, T, (batch_size,), generator=loader_gen).to(device)
    eps = torch.randn(batch.shape, generator=loader_gen).to(device)
    # q(x_t | x_0), Ho et al. 2020, eq. 4
    noisy = noise_scheduler.add_noise(batch, eps, timesteps)
    loss = F.mse_loss(unet(noisy, timesteps).sample, eps)  # Ho et al. 2020, eq. 14
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    losses.append(loss.item())
print(f"{steps} steps of {batch_size} images ({steps * batch_size:,} images seen) in"
      f" {time.perf_counter() - start:.0f} s; mean loss of the last 50 steps"
      f" {sum(losses[-50:]) / 50:.3f}")

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### The training loss, step by step

# %%
plot_losses(losses, smooth=25, title="UNet2DModel on digits: training loss")
plt.show()

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### Sampling with `DDIMPipeline`, judged by the digit classifier

# %% [markdown]
# Sampling uses a pipeline. `DDIMPipeline` takes any UNet and any scheduler config; here the
# training scheduler's config becomes a DDIM scheduler, and 25 steps give 32 digits. The course's
# judge (a digit classifier) tells us how many it recognises with confidence above 0.9.

# %%
judge, _ = load_pretrained("classifier-digits")
pipe = DDIMPipeline(unet=unet.eval(), scheduler=DDIMScheduler.from_config(noise_scheduler.config))
pipe.set_progress_bar_config(disable=True)
trained = pipe(batch_size=32, num_inference_steps=25, generator=torch.Generator().manual_seed(0),
               output_type="pt").images
trained = trained * 2 - 1  # the pipeline returns [0, 1]; the course works in [-1, 1]
with torch.no_grad():
    probs, _ = predict(judge, trained)
    real_probs, _ = predict(judge, load_digits(16, "test").tensors[0])
print(f"confident fraction: UNet2DModel after {steps} steps {confident_fraction(probs):.2f}, "
      f"real held-out digits {confident_fraction(real_probs):.2f}")
show_images(trained, title=f"UNet2DModel after {steps} training steps, 25 DDIM steps")
plt.show()

# %% [markdown] slideshow={"slide_type": "notes"}
# Compare the two confident fractions printed above: in fast mode the network has seen only
# the number of images printed under the training loop, and the gap to real digits is what so
# short a training leaves; the full run trains for much longer. The point here is the shape of
# the code: the loop is the one you wrote in lesson 05, with diffusers' names.

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "slide"}
# ## 4. The course's weights in a diffusers pipeline
#
# - A pipeline takes any network that acts like a diffusers model: `unet(x, t).sample` with one
#   timestep for the batch, `config.sample_size`, `config.in_channels`
# - `course_lib.hf.CourseUNet2DModel` adapts the course's `UNet` (and gains `save_pretrained`)
# - The scheduler must match training: $T = 500$, linear betas from $10^{-4}$ to $0.02$

# %% [markdown] slideshow={"slide_type": "notes"}
# ## 4. The course's weights in a diffusers pipeline
#
# Any network can live in a diffusers pipeline if it behaves like a diffusers model: called as
# `unet(x, t).sample` with *one* timestep for the batch, and exposing `config.sample_size` and
# `config.in_channels`. `course_lib.hf.CourseUNet2DModel` is a small adapter that does exactly
# that around the course's `UNet` (it subclasses diffusers' `ModelMixin` and `ConfigMixin`, which
# also give it `save_pretrained` and `from_pretrained`). The scheduler must match the schedule the
# model was trained with: $T = 500$, linear betas from $10^{-4}$ to $0.02$.

# %%
wrapped = CourseUNet2DModel.from_course_model(model, sample_size=16)
print(dict(wrapped.config))
print("scheduler matches the training schedule:",
      torch.equal(ddim_hf.alphas_cumprod, shipped_schedule.alphas_cumprod))

pipe = DDIMPipeline(unet=wrapped, scheduler=ddim_hf)  # diffusers' own pipeline class
pipe.set_progress_bar_config(disable=True)
start = time.perf_counter()
hf_images = pipe(batch_size=n, num_inference_steps=25, generator=torch.Generator().manual_seed(1),
                 output_type="pt").images.cpu()
print(f"diffusers' DDIMPipeline on the course weights: {time.perf_counter() - start:.1f} s; max"
      " |difference| to course_lib's sample() ="
      f" {(hf_images * 2 - 1 - ours.cpu().clamp(-1, 1)).abs().max().item():.2e}")

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### Labels and guidance: `CoursePipeline`
#
# - `DDIMPipeline` knows nothing about labels
# - `course_lib.hf.CoursePipeline`: the same loop, plus the context and classifier-free guidance
# - diffusers' `guidance_scale = 3` is the course's $w = 2$: the same images

# %% [markdown] slideshow={"slide_type": "notes"}
# (Pipelines return images clipped to $[0, 1]$, so we compare with the course's samples clipped to $[-1, 1]$.)
#
# `DDIMPipeline` knows nothing about labels. `course_lib.hf.CoursePipeline` is a small
# `DiffusionPipeline` subclass that adds the context and classifier-free guidance with diffusers'
# `guidance_scale` convention. Read its `__call__`: it is the loop above, plus two lines that
# every scheduler needs (`init_noise_sigma` and `scale_model_input`, both trivial for DDPM/DDIM).
# Here it drives the class-conditional model at `guidance_scale = 3`, that is $w = 2$.

# %%
cond_model, _ = load_pretrained("digits-cond")
cond_pipe = CoursePipeline(CourseUNet2DModel.from_course_model(cond_model, 16), ddim_hf)
cond_pipe.set_progress_bar_config(disable=True)
wanted = torch.arange(10).repeat(4)
context = F.one_hot(wanted, 10).float()
pipeline_images = cond_pipe(len(wanted), 25, context=context, guidance_scale=3.0,
                            generator=torch.Generator().manual_seed(0)).images.cpu()  # in [0, 1]
guided = pipeline_images * 2 - 1
reference = sample(cond_model, ddim_ours, guided.shape, context=context, guidance=2.0,
                   generator=torch.Generator().manual_seed(0), progress=False)
with torch.no_grad():
    accuracy = (predict(judge, guided)[0].argmax(1) == wanted).float().mean().item()
gap = (guided - reference.cpu().clamp(-1, 1)).abs().max().item()
print(f"max |CoursePipeline(guidance_scale=3) - sample(guidance=2)| = {gap:.2e}; "
      f"judge accuracy on the asked-for digits {accuracy:.2f}")
show_images(guided[:20], nrow=10, title="CoursePipeline, digits-cond, guidance_scale = 3 (w = 2)")
plt.show()

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### Saving in the Hub's folder format, offline

# %% [markdown]
# `save_pretrained` writes a pipeline in the folder layout of the Hugging Face Hub: a
# `model_index.json` naming the components, and one sub-folder per component with its
# `config.json` and weights in the safetensors format (plain tensors, nothing executable).
# `from_pretrained` on the folder reads it back, with no network involved.

# %%
with tempfile.TemporaryDirectory() as folder:
    cond_pipe.save_pretrained(folder)
    for path in sorted(Path(folder).rglob("*")):
        if path.is_file():
            print(f"{path.relative_to(folder)!s:45s} {path.stat().st_size:>9,} bytes")
    reloaded = CoursePipeline.from_pretrained(folder, low_cpu_mem_usage=False).to(device)
reloaded.set_progress_bar_config(disable=True)
again = reloaded(len(wanted), 25, context=context, guidance_scale=3.0,
                 generator=torch.Generator().manual_seed(0)).images.cpu() * 2 - 1
print("reloaded pipeline gives identical images:", torch.equal(again, guided))

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "slide"}
# ## 5. What diffusers adds
#
# - **A zoo of schedulers** behind one interface: DDPM, DDIM, DPM-Solver(++), Euler, UniPC...
#   Swap with `NewScheduler.from_config(pipe.scheduler.config)`
# - **Pipelines** for published models: Stable Diffusion, SDXL, inpainting, ControlNet, video
# - **The Hub**: `from_pretrained`, `push_to_hub` (unused here: all offline)
# - **Speed and training tools**: float16, CPU offload, `accelerate`, `EMAModel`, example scripts

# %% [markdown] slideshow={"slide_type": "notes"}
# ## 5. What diffusers adds
#
# - **A zoo of schedulers** sharing one interface: DDPM, DDIM, PNDM, DPM-Solver(++), Euler,
#   Heun, UniPC, LCM... Swapping is one line, `NewScheduler.from_config(pipe.scheduler.config)`,
#   and the trained network stays the same (the next cell).
# - **Pipelines** for dozens of published models: text-to-image (Stable Diffusion, SDXL),
#   image-to-image, inpainting, ControlNet, video, audio.
# - **The Hub**: `from_pretrained("org/name")` downloads weights and configs; `push_to_hub` publishes yours.
#   (This course does not use it, so that every cell works offline.)
# - **Speed and memory**: half precision (`torch_dtype=torch.float16`), `enable_model_cpu_offload()`
#   and multi-GPU training via `accelerate`, attention back-ends, `torch.compile`.
# - **Training utilities**: `EMAModel`, learning-rate schedules, and example scripts (unconditional,
#   text-to-image, DreamBooth, LoRA).

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### Same network, 10 steps: DDIM against DPM-Solver++

# %% [markdown]
# The scheduler zoo on the course's weights: the same network, 10 network evaluations each.
# DPM-Solver++ (Lu et al. 2022) is a higher-order solver of the probability-flow ODE.

# %%
judged = {}
for name, scheduler_class in [("DDIM", DDIMScheduler),
                              ("DPM-Solver++", DPMSolverMultistepScheduler)]:
    zoo_pipe = CoursePipeline(wrapped, scheduler_class.from_config(ddim_hf.config))
    zoo_pipe.set_progress_bar_config(disable=True)
    start = time.perf_counter()
    out = zoo_pipe(48, 10, generator=torch.Generator().manual_seed(0)).images * 2 - 1
    seconds = time.perf_counter() - start
    with torch.no_grad():
        judged[name] = out
        print(f"{name:13s} 10 steps: confident fraction"
              f" {confident_fraction(predict(judge, out)[0]):.2f} ({seconds:.1f} s for 48 images)")
fig, axes = plt.subplots(1, 2, figsize=(8, 4), layout="constrained")
for ax, (name, out) in zip(axes, judged.items()):
    show_images(out[:32], ax=ax, title=f"{name}, 10 steps")
plt.show()

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### bfloat16 against float32

# %% [markdown]
# Mixed precision in one line: run the network in bfloat16 (here on the CPU; on a GPU one uses
# float16 or bfloat16) and measure how far its noise prediction moves from float32.

# %%
x_t = schedule.add_noise(x0, noise, torch.full((16,), 250)).to(device)
tt = torch.full((16,), 250, device=device)
with torch.no_grad():
    full = model(x_t, tt)
    with torch.autocast(device_type=device.type, dtype=torch.bfloat16):
        half = model(x_t, tt).float()
print("bfloat16 vs float32 noise prediction: max |difference|"
      f" {(half - full).abs().max().item():.3f}, relative RMS"
      f" {((half - full).pow(2).mean() / full.pow(2).mean()).sqrt().item():.3f}")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 6. Reading diffusers' source
#
# diffusers is readable Python: each scheduler is one file, `diffusers/schedulers/scheduling_<name>.py`.
# Find it with `inspect`, and open `step`, the function that matters.

# %%
package_root = Path(diffusers.__file__).parent.parent
step_lines, first_line = inspect.getsourcelines(DDPMScheduler.step)
print("DDPMScheduler lives in",
      Path(inspect.getsourcefile(DDPMScheduler)).relative_to(package_root))
print(f"DDPMScheduler.step is lines {first_line}-{first_line + len(step_lines) - 1}; the branches"
      " that matter:")
branches = ("prediction_type ==", "variance_type ==", "pred_prev_sample =")
for number, line in enumerate(step_lines, start=first_line):
    if any(branch in line for branch in branches):
        print(f"{number:5d}  {line.strip()}")
missing = [branch for branch in branches if not any(branch in line for line in step_lines)]
assert (
    not missing
), f"DDPMScheduler.step no longer contains {missing}: diffusers renamed them, read step anew"
print(
    "config:",
    {k: ddpm_hf.config[k]
     for k in ["prediction_type", "variance_type", "clip_sample", "timestep_spacing"]},
)

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### How to read those branches
#
# - **`prediction_type`**: what the network outputs: `"epsilon"` (the course), `"sample"`
#   ($x_0$) or `"v_prediction"`; each becomes $\hat x_0$, then the step is the same
# - **`variance_type`**: the $\sigma_t^2$ of the step: $\tilde\beta_t$ (`"fixed_small"`), $\beta_t$
#   (`"fixed_large"`) or learned
# - **`clip_sample`**: clips $\hat x_0$ to $[-1, 1]$; on by default in diffusers, off in the course
# - `pred_prev_sample`: the posterior mean, Ho et al. 2020 eq. 7

# %% [markdown] slideshow={"slide_type": "notes"}
# How to read those branches:
#
# - **`prediction_type`**: what the network outputs. `"epsilon"` (the noise, Ho et al. 2020; the
#   course's choice), `"sample"` ($x_0$ itself) or `"v_prediction"`
#   ($v = \sqrt{\bar\alpha_t}\,\epsilon - \sqrt{1 - \bar\alpha_t}\,x_0$, Salimans & Ho 2022). Each branch
#   converts the output into the predicted $\hat x_0$, after which the step is the same.
# - **`variance_type`**: the $\sigma_t^2$ of the DDPM step. `"fixed_small"` is the posterior variance
#   $\tilde\beta_t = \frac{1 - \bar\alpha_{t-1}}{1 - \bar\alpha_t}\beta_t$, `"fixed_large"` is $\beta_t$
#   (Ho et al. 2020 found both work), `"learned"`/`"learned_range"` take it from extra output
#   channels (Nichol & Dhariwal 2021).
# - **`clip_sample`** clips $\hat x_0$ to $[-1, 1]$ (on by default in diffusers, off in the paper and the course).
# - Then `pred_prev_sample` is the posterior mean, Ho et al. 2020 eq. 7, the formula in `DDPMSampler.step`.

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "slide"}
# ## 7. Fine-tuning a trained model
#
# - Start from trained weights, run the same training loop on new data
# - The new data: **32 sevens** from the training split
# - **Fine-tuning or from scratch?** The shipped `digits` model against a fresh UNet, same
#   steps and batch
# - **Forgetting**: the shipped model draws all ten digits. How much survives?

# %% [markdown] slideshow={"slide_type": "notes"}
# ## 7. Fine-tuning a trained model
#
# Models are rarely trained from scratch: one starts from trained weights (for diffusers,
# `UNet2DModel.from_pretrained(...)` from the Hub) and continues training on new data, as the
# Hugging Face diffusion course does in its unit 2. The loop is the same training loop; only
# the starting point changes. Our new data set is small on purpose: **32 sevens** from the
# training split. Two questions, each with a number:
#
# - **Fine-tuning or from scratch?** The shipped unconditional `digits` model against a fresh
#   UNet of the same architecture, trained on the same 32 sevens for the same steps and batch.
# - **Forgetting.** The shipped model draws all ten digits. How much of that survives?

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### Four numbers from the judge

# %% [markdown]
# We measure a model by sampling it (DDIM, 25 steps) and asking the judge: the share of
# sevens, the share of confidently read digits, the FID on the judge's features against the
# held-out sevens, and the share of samples confidently read as *other* digits: the old
# distribution that survives.

# %%
train_images, train_labels = load_digits(16, "train").tensors
# the new data: 32 sevens
sevens = torch.utils.data.TensorDataset(train_images[train_labels == 7][:32])
test_images, test_labels = load_digits(16, "test").tensors
_, held_out_sevens = predict(judge, test_images[test_labels == 7])  # (M, 64) judge features
num_judged = fast_or_full(64, 256)

def judge_sevens(denoiser: torch.nn.Module) -> dict[str, float]:
    """Sample num_judged digits from the same noise and read them with the judge: shares in [0, 1]
    and FID."""
    digits = sample(denoiser, DDIMSampler(shipped_schedule, 25), (num_judged, 1, 16, 16),
                    generator=torch.Generator().manual_seed(3), progress=False)
    probs, features = predict(judge, digits)
    read_as = probs.argmax(dim=1)
    return {
        "sevens": (read_as == 7).float().mean().item(),
        "confident": confident_fraction(probs),
        "FID to sevens": frechet_distance(features, held_out_sevens),
        "other digits": ((read_as != 7) & (probs.max(dim=1).values > 0.9)).float().mean().item(),
    }

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### Fine-tuned against from scratch, at the same budget

# %% [markdown]
# Both runs use the library's `train_diffusion` (Algorithm 1, the loop of section 3) with the
# same steps, batch and seed; each has its usual learning rate: $2\times10^{-3}$ from
# scratch (the course's default), $5\times10^{-4}$ for fine-tuning, which starts near a good
# solution. A callback judges each model every few steps.

# %%
ft_steps, ft_every = fast_or_full(150, 600), fast_or_full(50, 200)
runs = {"fine-tuned": (load_pretrained("digits")[0], 5e-4),  # fresh copies
        "from scratch": (UNet(in_channels=1), 2e-3)}
snapshots, ft_losses = {("shipped model", 0): judge_sevens(model)}, {}
for name, (denoiser, lr) in runs.items():
    def record(step: int, net: torch.nn.Module, name: str = name) -> None:
        snapshots[(name, step)] = judge_sevens(net)
    result = train_diffusion(denoiser, shipped_schedule, sevens, steps=ft_steps, batch_size=32,
                             lr=lr, seed=0, progress=False, callback_every=ft_every,
                             callback=record)
    ft_losses[name] = result.losses
print_table({f"{name}, step {step}": row for (name, step), row in snapshots.items()},
            label="model", formats={"FID to sevens": ".1f"},
            title=f"{num_judged} samples each; training on {len(sevens)} sevens, batch 32")

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### Fine-tuning starts several times lower

# %% [markdown] slideshow={"slide_type": "notes"}
# The loss curves, and samples of the three models from the same noise:

# %%
fig, axes = plt.subplots(1, 2, figsize=(8, 3), sharey=True, layout="constrained")
for ax, (name, losses) in zip(axes, ft_losses.items()):
    plot_losses(losses, smooth=10, ax=ax, title=f"{name}: loss on the sevens", log=True)
plt.show()

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### Samples from the same noise: shipped, fine-tuned, from scratch

# %%
finals = [model] + [denoiser for denoiser, _ in runs.values()]
show_images(torch.cat([sample(m, DDIMSampler(shipped_schedule, 25), (8, 1, 16, 16), progress=False,
                              generator=torch.Generator().manual_seed(3)) for m in finals]), nrow=8,
            title="Shipped model, fine-tuned, from scratch (one row each)")
plt.show()

# %% slideshow={"slide_type": "skip"}
shipped, tuned, scratch = (
    snapshots[key]
    for key in [("shipped model", 0), ("fine-tuned", ft_steps), ("from scratch", ft_steps)]
)
first_tuned = snapshots[("fine-tuned", ft_every)]
assert (shipped["sevens"] < 0.2
        and tuned["sevens"] > 0.7
        and first_tuned["sevens"] > max(0.5, scratch["sevens"]))
assert tuned["FID to sevens"] < scratch["FID to sevens"] < shipped["FID to sevens"]
assert (tuned["confident"] > scratch["confident"]
        and ft_losses["fine-tuned"][0] < ft_losses["from scratch"][0] / 5)
assert tuned["other digits"] < 0.3 < shipped["other digits"]
assert sum(ft_losses["fine-tuned"][-20:]) < sum(ft_losses["from scratch"][-20:])

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### What the numbers say
#
# - **Fine-tuning wins at equal budget**: its loss starts several times lower, and after the
#   first few dozen steps it draws mostly sevens
# - **It forgets**: the share of other digits collapses: catastrophic forgetting
# - On 32 images a long fine-tuning memorises them: stop early, lower the learning rate or
#   train fewer weights

# %% [markdown] slideshow={"slide_type": "notes"}
# What the numbers say:
#
# - **Fine-tuning wins at equal budget.** Its loss starts where the shipped model left off,
#   several times below the fresh network's, and after the first few dozen steps it already
#   draws mostly sevens; the network from scratch is still learning what a stroke is, with
#   fewer confident digits and a worse FID to the sevens at the end.
# - **It forgets.** The shipped model drew all ten digits; after this short fine-tuning on
#   sevens alone, the share of other digits collapses. Nothing in the loss asks the model to
#   remember: that is **catastrophic forgetting**, and exercise 3 tries the simplest remedy.
# - With 32 images, a long fine-tuning would memorise them (lesson 11's audit finds such
#   copies); in practice one stops early, lowers the learning rate or trains fewer weights.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Exercises
#
# ### Exercise 1: `v_prediction` is a change of variables
#
# A network trained with `prediction_type="v_prediction"` outputs $v = \sqrt{\bar\alpha_t}\,\epsilon - \sqrt{1 - \bar\alpha_t}\,x_0$.
# Take the shipped model's $\epsilon$-prediction at $t = 300$, convert it to $v$ (you will need
# $\hat x_0$ from $x_t$ and $\epsilon$), and check that a `DDIMScheduler` with
# `prediction_type="v_prediction"` fed $v$ takes exactly the step that `ddim_hf` takes when fed $\epsilon$.

# %%
# Your code here.

# %% tags=["solution"]
timestep = 300
x_t = schedule.add_noise(x0, noise, torch.full((16,), timestep))
eps = predicted_noise(x_t, timestep)
abar = schedule.alphas_cumprod[timestep]
x0_hat = (x_t - (1 - abar).sqrt() * eps) / abar.sqrt()  # Ho et al. 2020, eq. 15
v = abar.sqrt() * eps - (1 - abar).sqrt() * x0_hat

ddim_v = DDIMScheduler.from_config(ddim_hf.config, prediction_type="v_prediction")
ddim_v.set_timesteps(25)
step_eps = ddim_hf.step(eps, timestep, x_t).prev_sample
step_v = ddim_v.step(v, timestep, x_t).prev_sample
print(f"max |step from eps - step from v| = {(step_eps - step_v).abs().max().item():.2e}")

# %% [markdown]
# <details class="solution"><summary>Why</summary>
#
# With $x_t = \sqrt{\bar\alpha_t}\,x_0 + \sqrt{1-\bar\alpha_t}\,\epsilon$, the scheduler recovers
# $\hat x_0 = \sqrt{\bar\alpha_t}\,x_t - \sqrt{1 - \bar\alpha_t}\,v$ and
# $\hat\epsilon = \sqrt{\bar\alpha_t}\,v + \sqrt{1 - \bar\alpha_t}\,x_t$ (the `v_prediction` branch of
# `step`). Both are exact inverses of our conversion, so the step is the same up to rounding. The
# parametrisation changes what the network finds easy to learn (v is well scaled at every noise
# level), not the sampler.
#
# </details>

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 2: one more scheduler
#
# Put `EulerDiscreteScheduler` (Karras et al. 2022's Euler method for the probability-flow ODE)
# into `CoursePipeline` with the course weights and 10 steps, and judge 48 samples as in section 5.
# Print `init_noise_sigma`: why must the pipeline multiply the starting noise by it, and what does
# `scale_model_input` do for this scheduler?

# %%
# Your code here.

# %% tags=["solution"]
euler = EulerDiscreteScheduler.from_config(ddim_hf.config)
euler_pipe = CoursePipeline(wrapped, euler)
euler_pipe.set_progress_bar_config(disable=True)
out = euler_pipe(48, 10, generator=torch.Generator().manual_seed(0)).images * 2 - 1
with torch.no_grad():
    print(f"Euler, 10 steps: confident fraction {confident_fraction(predict(judge, out)[0]):.2f}")
print(f"init_noise_sigma = {euler.init_noise_sigma:.1f}; timesteps {euler.timesteps.tolist()}")

# %% [markdown]
# <details class="solution"><summary>Why</summary>
#
# Euler-type schedulers work with the variance-exploding variable $y = x_t / \sqrt{\bar\alpha_t}$,
# whose noise level is $\sigma_t = \sqrt{(1 - \bar\alpha_t)/\bar\alpha_t}$; at $t = T-1$ this is large,
# so the start is $\sqrt{\sigma_\text{max}^2 + 1}\,\epsilon$ (`init_noise_sigma`) rather than $\epsilon$. The network was trained on
# $x_t$, so `scale_model_input` divides by $\sqrt{\sigma_t^2 + 1} = 1/\sqrt{\bar\alpha_t}$ to hand it
# back the variable it knows. With `timestep_spacing="leading"` (inherited from the DDIM config) the
# timesteps are integers; with `"linspace"` they would be fractional, and `CourseUNet2DModel` refuses
# them rather than rounding silently, since the course UNet never saw fractional timesteps.
#
# </details>

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 3: fine-tuning without forgetting everything
#
# Fine-tune the shipped model again, with the same steps, batch, learning rate and seed as in
# section 7, but on the 32 sevens **plus 32 other digits** from the training split (a "replay"
# of old data). Judge it with `judge_sevens`. How many sevens, and how many other digits,
# compared with fine-tuning on sevens alone?

# %%
# Your code here.

# %% tags=["solution"]
others = train_images[train_labels != 7][:32]  # 32 old digits, of every other class
replay = torch.utils.data.TensorDataset(torch.cat([sevens.tensors[0], others]))
with_replay, _ = load_pretrained("digits")  # the shipped weights again
train_diffusion(with_replay, shipped_schedule, replay, steps=ft_steps, batch_size=32, lr=5e-4,
                seed=0, progress=False)
replay_row = judge_sevens(with_replay)
print_table({"sevens only": tuned, "sevens + 32 others": replay_row, "shipped model": shipped},
            label="fine-tuned on", formats={"FID to sevens": ".1f"})
assert (tuned["other digits"] < replay_row["other digits"]
        and shipped["sevens"] < replay_row["sevens"] < tuned["sevens"])

# %% [markdown]
# <details class="solution"><summary>Solution</summary>
#
# With half of each batch made of old digits, the model keeps drawing other digits while
# drawing many more sevens than the shipped model did (the table): the data decide the
# distribution it moves to, and a mixture of new and old data lands between the two.
# Replaying old data is the simplest defence against catastrophic forgetting; others freeze
# most weights and train a small part (adapters, LoRA), or pull the weights towards the
# starting point.
#
# </details>

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "slide"}
# ## Summary
#
# - diffusers = models + schedulers + pipelines
# - Configured alike, its schedulers and the course's samplers agree to float32 rounding
# - The training loop is Algorithm 1 in either library
# - `course_lib.hf` puts any denoiser into diffusers' pipelines; `guidance_scale` $= 1 + w$
# - Fine-tuning on 32 sevens beat training from scratch, and forgot the other digits unless
#   old data was replayed

# %% [markdown] slideshow={"slide_type": "notes"}
# ## Summary
#
# - diffusers = models (`UNet2DModel`) + schedulers (`DDPMScheduler`, `DDIMScheduler`, ...) + pipelines.
# - Configured alike (`variance_type="fixed_small"`, `clip_sample=False`, `set_alpha_to_one=True`,
#   `steps_offset=0`, the same `timestep_spacing`: the course's default is "trailing", diffusers'
#   "leading"), diffusers' schedulers and the course's samplers agree to float32 rounding: we printed
#   the differences.
# - The training loop is Algorithm 1 in either library; diffusers leaves it to you.
# - A small adapter (`course_lib.hf`) puts any denoiser into diffusers' pipelines, schedulers and
#   `save_pretrained`; `guidance_scale` is the course's $1 + w$.
# - diffusers' value is the breadth: many schedulers behind one interface, pipelines for published
#   models, the Hub, and tooling for speed. Its source is readable: `scheduling_ddpm.py`'s `step` is
#   the posterior mean of Ho et al. with switches for `prediction_type` and `variance_type`.
# - Fine-tuning is the same loop started from trained weights: on 32 sevens it beat training from
#   scratch at the same budget on every figure of the judge, and forgot most of the other digits
#   unless old data was replayed.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## References
#
# - Patrick von Platen, Suraj Patil, Anton Lozhkov, Pedro Cuenca, Nathan Lambert, Kashif Rasul,
#   Mishig Davaadorj and Thomas Wolf (2022). *Diffusers: State-of-the-art diffusion models.*
#   [github.com/huggingface/diffusers](https://github.com/huggingface/diffusers);
#   documentation at [huggingface.co/docs/diffusers](https://huggingface.co/docs/diffusers)
# - Jonathan Ho, Ajay Jain and Pieter Abbeel (2020). *Denoising Diffusion Probabilistic Models.*
#   [arXiv:2006.11239](https://arxiv.org/abs/2006.11239)
# - Jiaming Song, Chenlin Meng and Stefano Ermon (2020). *Denoising Diffusion Implicit Models.*
#   [arXiv:2010.02502](https://arxiv.org/abs/2010.02502)
# - Alex Nichol and Prafulla Dhariwal (2021). *Improved Denoising Diffusion Probabilistic Models.*
#   [arXiv:2102.09672](https://arxiv.org/abs/2102.09672)
# - Jonathan Ho and Tim Salimans (2022). *Classifier-Free Diffusion Guidance.*
#   [arXiv:2207.12598](https://arxiv.org/abs/2207.12598)
# - Tim Salimans and Jonathan Ho (2022). *Progressive Distillation for Fast Sampling of Diffusion
#   Models* (introduces v-prediction). [arXiv:2202.00512](https://arxiv.org/abs/2202.00512)
# - Cheng Lu, Yuhao Zhou, Fan Bao, Jianfei Chen, Chongxuan Li and Jun Zhu (2022). *DPM-Solver++:
#   Fast Solver for Guided Sampling of Diffusion Probabilistic Models.*
#   [arXiv:2211.01095](https://arxiv.org/abs/2211.01095)
# - Hugging Face (2022). *Hugging Face Diffusion Models Course*, unit 2: fine-tuning and guidance.
#   [github.com/huggingface/diffusion-models-class](https://github.com/huggingface/diffusion-models-class)
# - James Kirkpatrick, Razvan Pascanu, Neil Rabinowitz et al. (2017). *Overcoming catastrophic
#   forgetting in neural networks.* [arXiv:1612.00796](https://arxiv.org/abs/1612.00796)
# - Edward J. Hu, Yelong Shen, Phillip Wallis et al. (2021). *LoRA: Low-Rank Adaptation of Large
#   Language Models.* [arXiv:2106.09685](https://arxiv.org/abs/2106.09685)
# - Tero Karras, Miika Aittala, Timo Aila and Samuli Laine (2022). *Elucidating the Design Space of
#   Diffusion-Based Generative Models.* [arXiv:2206.00364](https://arxiv.org/abs/2206.00364)
