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
# # Applications: inpainting, super-resolution and science
#
# - **Inpainting**: fill holes with a model never trained to do so
# - **Super-resolution**: sharpen low-resolution images with a model conditioned on them
# - **Science**: generate physical fields and check their statistics against theory
# - A tour of diffusion models in research today

# %% [markdown] slideshow={"slide_type": "notes"}
# # Applications: inpainting, super-resolution and science
#
# A diffusion model learns a distribution of images; generating random samples from it is
# only the first use. This lesson fills holes in images with a model that was never trained
# to do so, sharpens low-resolution images with a model conditioned on them, and generates
# physical fields whose statistics a scientist can check against theory. It ends with a tour
# of where diffusion models are used in research today.

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ## Learning objectives
#
# - write the RePaint loop; check it against the library and diffusers, and against baselines
# - condition a denoiser on a low-resolution image (SR3); judge it with PSNR and SSIM against
#   bicubic
# - test a model of Gaussian random fields through the power spectrum
# - name research fields that use diffusion; say what latent and video diffusion add

# %% [markdown] slideshow={"slide_type": "notes"}
# **Learning objectives.** By the end of this lesson you can
#
# - write the RePaint loop (replace the known pixels at every step, then resample), check it
#   against the library and diffusers, and measure it against simple baselines;
# - condition a denoiser on a low-resolution image by concatenating channels (SR3), and judge
#   a super-resolution model with PSNR and SSIM against bicubic interpolation;
# - train a diffusion model on Gaussian random fields and test it the way a physicist would,
#   through the power spectrum;
# - name research fields that use diffusion models (proteins, weather, materials, medical
#   imaging, astronomy) and say how latent and video diffusion extend the image recipe.
#
# **Estimated time:** 70 minutes (25 of them for the exercises).

# %% slideshow={"slide_type": "skip"}
import copy
import time

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from torch.utils.data import TensorDataset

from course_lib import (DDIMSampler, DDPMSampler, UNet, fast_or_full, get_device, load_pretrained,
                        predict_noise, sample, seed_everything, train_diffusion)
from course_lib.classifier import predict
from course_lib.data import (gaussian_random_field, load_digits, radial_power_spectrum,
                             theoretical_power_spectrum)
from course_lib.evaluation import print_table
from course_lib.exercises import check
from course_lib.image_metrics import psnr, ssim
from course_lib.inpainting import half_mask, repaint
from course_lib.plotting import plot_losses, show_images
from course_lib.samplers import draw_noise
from course_lib.superres import ConcatConditioned, downsample, upsample_bicubic

# %% slideshow={"slide_type": "skip"}
import warnings

from tqdm import TqdmWarning

# diffusers imports tqdm.auto, which warns in a notebook without ipywidgets (lesson 09).
warnings.filterwarnings("ignore", category=TqdmWarning)
from diffusers import RePaintScheduler  # noqa: E402

generator = seed_everything(0)
device = get_device()
print(f"running on {device}")

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "slide"}
# ## 1. Inpainting with a model that never saw a mask
#
# Mask $m$ (1 on known pixels). At each reverse step $t \to t-1$ (RePaint, Lugmayr et al. 2022):
#
# 1. **known** pixels: the image noised to level $t-1$
# 2. **unknown** pixels: the model's ordinary reverse step
# 3. paste: $x_{t-1} = m \odot x_{t-1}^{\text{known}} + (1 - m) \odot x_{t-1}^{\text{unknown}}$
#
# **Resampling**: noise $x_{t-1}$ back to level $t$ and repeat, $U$ times, so the halves agree.

# %% [markdown] slideshow={"slide_type": "notes"}
# ## 1. Inpainting with a model that never saw a mask
#
# Hide the bottom half of a digit. Can the unconditional `digits` model of the earlier
# lessons fill it in? It was trained only to denoise whole images, but the reverse process
# lets us steer it. Write $m$ for the mask (1 on known pixels) and $x_0^{\text{known}}$ for
# the image. At each reverse step $t \to t-1$ (Lugmayr et al. 2022, RePaint):
#
# 1. the **known** pixels are the image noised to level $t-1$, a draw from the forward process
#    $x_{t-1}^{\text{known}} = \sqrt{\bar\alpha_{t-1}}\, x_0^{\text{known}} + \sqrt{1 - \bar\alpha_{t-1}}\, \epsilon$;
# 2. the **unknown** pixels take the model's ordinary reverse step, $x_{t-1}^{\text{unknown}} \sim p_\theta(x_{t-1} \mid x_t)$;
# 3. the two are pasted together: $x_{t-1} = m \odot x_{t-1}^{\text{known}} + (1 - m) \odot x_{t-1}^{\text{unknown}}$.
#
# Pasting alone gives completions that often disagree with the known half: the model's step
# for the unknown pixels saw the *previous* known pixels, not the ones just pasted in. RePaint's fix
# is **resampling**: noise $x_{t-1}$ back to level $t$ with $q(x_t \mid x_{t-1})$ and repeat the
# step, $U$ times per timestep, so that information flows between the halves.

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### The loop, written out
#
# Three short pieces. First the blend of steps 1–3: given the model's reverse step
# `unknown_part` and a fresh draw $\epsilon$, paste the known image noised to level $t-1$ where
# the mask is True. At the last step $\bar\alpha_{t-1} = 1$ and the known pixels are the image itself.

# %%
def blend(known: torch.Tensor, mask: torch.Tensor, unknown_part: torch.Tensor,
          alpha_bar_prev: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """RePaint's x_{t-1} (Lugmayr et al. 2022, eq. 8): known pixels from the data, the rest from
    the model.

    known, unknown_part, noise: (N, C, H, W); mask: bool, broadcastable, True on known pixels;
    alpha_bar_prev: scalar in (0, 1], the alpha-bar of the level t-1 the step lands on.
    """
    # Ho et al. 2020, eq. 4
    known_part = alpha_bar_prev.sqrt() * known + (1 - alpha_bar_prev).sqrt() * noise
    return torch.where(mask, known_part, unknown_part)  # (N, C, H, W)


# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### The jump back: one forward step from $t-1$ to $t$

# %% [markdown]
# Then the **jump back** that lets the halves talk: one forward step from $t-1$ to $t$,
# $x_t \sim q(x_t \mid x_{t-1}) = \mathcal N\big(\sqrt{a}\, x_{t-1}, (1 - a) I\big)$ with
# $a = \bar\alpha_t / \bar\alpha_{t-1}$, which is $\alpha_t$ for DDPM and the same formula over a
# whole stride for DDIM.

# %%
def jump_back(x_prev: torch.Tensor, alpha_bar_t: torch.Tensor, alpha_bar_prev: torch.Tensor,
              noise: torch.Tensor) -> torch.Tensor:
    """x_t ~ q(x_t | x_{t-1}) (Lugmayr et al. 2022, Algorithm 1, lines 9-10).

    x_prev, noise: (N, C, H, W)."""
    a = alpha_bar_t / alpha_bar_prev  # alpha_t, or its product over a DDIM stride
    return a.sqrt() * x_prev + (1 - a).sqrt() * noise


# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### The loop: step, blend, jump back

# %% [markdown]
# Finally the loop: start from noise, and at every timestep take the sampler's ordinary reverse
# step (lesson 06's DDPM or lesson 08's DDIM), blend, and jump back $U - 1$ times. Every fresh
# noise comes from one generator, in a fixed order, so a seed fixes the result.

# %%
@torch.no_grad()
def repaint_by_hand(
    model, sampler, known, mask, resample_steps, generator, blend=blend
) -> torch.Tensor:
    """RePaint (Lugmayr et al. 2022, Algorithm 1, jump length 1); known: (N, C, H, W), mask:
    bool."""
    alphas_cumprod, timesteps = sampler.schedule.alphas_cumprod, sampler.timesteps.tolist()
    x = draw_noise(known, generator)  # x_T: (N, C, H, W)
    for i, t in enumerate(timesteps):
        prev_t = timesteps[i + 1] if i + 1 < len(timesteps) else -1  # -1: the clean image
        alpha_bar_prev = alphas_cumprod[prev_t] if prev_t >= 0 else torch.tensor(1.0)
        passes = resample_steps if prev_t >= 0 else 1  # no jump back from the clean image
        for u in range(passes):
            unknown_part = sampler.step(predict_noise(model, x, t), t, x, generator=generator)
            x = blend(known, mask, unknown_part, alpha_bar_prev, draw_noise(known, generator))
            if u < passes - 1:
                x = jump_back(x, alphas_cumprod[t], alpha_bar_prev, draw_noise(known, generator))
    return x


# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Running it on held-out digits
#
# RePaint uses all $T$ DDPM steps; in fast mode we use a stochastic DDIM sampler (`eta=1`, the
# DDPM amount of noise) over fewer steps to save time, and the jump back goes over one DDIM
# stride. The shipped `digits` model and held-out digits with the bottom half hidden:

# %%
model, schedule = load_pretrained("digits", device=device)
judge, _ = load_pretrained("classifier-digits", device=device)
test_images, test_labels = load_digits(16, "test").tensors
train_images = load_digits(16, "train").tensors[0]

num_inpaint = fast_or_full(48, 360)
inpaint_steps = fast_or_full(25, 500)
resample_steps = fast_or_full(4, 5)
images, labels = test_images[:num_inpaint], test_labels[:num_inpaint]
mask = half_mask(16, "bottom")  # (1, 1, 16, 16), True on the top half, which is kept
inpaint_sampler = (DDIMSampler(schedule, inpaint_steps, eta=1.0)
                   if inpaint_steps < schedule.num_timesteps
                   else DDPMSampler(schedule))
print(f"{num_inpaint} held-out digits, {type(inpaint_sampler).__name__} with"
      f" {len(inpaint_sampler.timesteps)} steps, U = {resample_steps}")

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### Show, then prove: our loop against the library's `repaint`
#
# Same inputs, same generator seed: the loop written here and `course_lib.inpainting.repaint`
# must agree number for number. The rest of the lesson uses the library.

# %% [markdown] slideshow={"slide_type": "notes"}
# **Show, then prove.** The course library has the same loop, `repaint` in
# `course_lib.inpainting`, which the rest of the lesson uses. On the same inputs and the same
# generator seed the two must agree number for number; and diffusers' `RePaintScheduler.step`
# must take the same blend step (it reuses one noise draw for both halves, so our step and our
# blend get the $\epsilon$ that diffusers draws).

# %%
few, few_mask = images[:8].to(device), mask.to(device)  # (8, 1, 16, 16), (1, 1, 16, 16)
by_hand = repaint_by_hand(model, inpaint_sampler, few, few_mask, 2,
                          torch.Generator().manual_seed(3))
library = repaint(model, inpaint_sampler, few, few_mask, resample_steps=2,
                  generator=torch.Generator().manual_seed(3))
print("RePaint, U = 2, 8 digits: max |by hand - course_lib| ="
      f" {(by_hand - library).abs().max().item():.1e}")
assert torch.allclose(by_hand, library, atol=1e-6)

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### One step against diffusers' `RePaintScheduler`

# %% [markdown]
# One step of diffusers' `RePaintScheduler` (DDIM's update with $\eta = 1$, then the same blend)
# against our blend of the course sampler's step, fed the same $\epsilon$ for both halves:

# %%
middle = len(inpaint_sampler.timesteps) // 2
t, prev_t = int(inpaint_sampler.timesteps[middle]), int(inpaint_sampler.timesteps[middle + 1])
level_t_noise = torch.randn(few.shape, generator=torch.Generator().manual_seed(6)).to(device)
x_t = schedule.add_noise(few, level_t_noise, torch.full((len(few),), t, device=device))  # level t
with torch.no_grad():
    eps = predict_noise(model, x_t, t)  # (8, 1, 16, 16)
z = torch.randn(few.shape, generator=torch.Generator().manual_seed(5)).to(device)  # diffusers' draw
hf_repaint = RePaintScheduler(num_train_timesteps=schedule.num_timesteps,
                              trained_betas=schedule.betas.cpu().numpy(), eta=1.0,
                              clip_sample=False)
hf_repaint.set_timesteps(len(inpaint_sampler.timesteps))
theirs = hf_repaint.step(eps, t, x_t, few, few_mask.float(),
                         generator=torch.Generator().manual_seed(5)).prev_sample
ours = blend(few, few_mask, inpaint_sampler.step(eps, t, x_t, noise=z),
             schedule.alphas_cumprod[prev_t], z)
print(f"one blend step at t = {t}: max |ours - diffusers' RePaintScheduler| ="
      f" {(ours - theirs).abs().max().item():.1e}")
assert torch.allclose(ours, theirs, atol=1e-5)

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Four ways of filling the hole
#
# Noise, the training mean, and RePaint without ($U = 1$) and with resampling, each with the
# library's `repaint`:

# %%
fills = {
    "noise in the hole": torch.where(mask, images,
                                     torch.rand(images.shape, generator=generator) * 2 - 1),
    "training mean in the hole": torch.where(mask, images, train_images.mean(dim=0, keepdim=True)),
}
for u in (1, resample_steps):
    start = time.perf_counter()
    fills[f"RePaint, U = {u}"] = repaint(model, inpaint_sampler, images, mask, resample_steps=u,
                                         generator=generator).cpu()
    print(f"RePaint with U = {u}: {time.perf_counter() - start:.1f} s")

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### Does the judge still read the original digit?

# %% [markdown]
# The judge classifier of the course tells us whether the completed digit is still the
# original digit. On the complete held-out images it is almost always right, so that is the
# ceiling.

# %%
def recovered(batch: torch.Tensor) -> float:
    """Share of images the judge assigns to their true class."""
    probs, _ = predict(judge, batch)
    return (probs.argmax(dim=1) == labels).float().mean().item()

recovery = {"complete image (ceiling)": recovered(images)} | {name: recovered(x) for name,
                                                              x in fills.items()}
print_table({name: {"judge recovers the digit": share} for name, share in recovery.items()},
            label="bottom half filled by")
best = recovery[f"RePaint, U = {resample_steps}"]
assert best >= recovery["RePaint, U = 1"]
assert best > recovery["training mean in the hole"] > recovery["noise in the hole"]

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### The four fills, on the first 12 held-out digits

# %%
rows = [images, torch.where(mask, images, -1.0)] + list(fills.values())
row_names = ["original", "masked"] + list(fills)
fig, ax = plt.subplots(figsize=(9.5, 3.6), layout="constrained")
show_images(torch.cat([row[:12] for row in rows]), nrow=12, ax=ax)  # one row of 12 per fill
grid_height = ax.get_ylim()[0] + 0.5  # imshow's y axis runs from the grid's height down to 0
row_centres = [(r + 0.5) * grid_height / len(rows) for r in range(len(rows))]
ax.set_axis_on()  # for the row names, written as tick labels on the left
ax.set(xticks=[], frame_on=False, anchor="E")
ax.set_yticks(row_centres, row_names, fontsize=14)
ax.tick_params(left=False)
ax.set_title("Filling the bottom half of held-out digits", fontsize=14)
plt.show()

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### Resampling helps; naive fills do worse
#
# - Pasting alone ($U = 1$): plausible digits that more often disagree with the top half
# - Resampling ($U > 1$) lets the model see what it is completing
# - The training mean is a blurry "average digit"; noise is no digit at all
# - No retraining, any mask shape: the mask is used only at sampling time

# %% [markdown] slideshow={"slide_type": "notes"}
# Read the table from the bottom up (the lesson checks this order with an `assert`).
# Pasting the known half at every step without resampling ($U = 1$) produces plausible
# digits that more often disagree with the top half; resampling lets the model see what it
# is completing. The naive fills do worse: the training mean is a blurry "average digit" in
# the hole, and noise is no digit at all. The same trick, with no retraining, fills any mask
# shape: the mask is only used at sampling time.

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "slide"}
# ## 2. Super-resolution by conditioning on the low-resolution image
#
# - Training pairs are free: shrink every training image
# - SR3 (Saharia et al. 2021): the low-resolution $y$, upsampled, enters as extra channels,
#   $\epsilon_\theta\big(\operatorname{concat}(x_t,\ \operatorname{up}(y)),\ t\big)$
# - The usual loss and samplers; `ConcatConditioned` wraps a UNet with `in_channels=2`

# %% [markdown] slideshow={"slide_type": "notes"}
# ## 2. Super-resolution by conditioning on the low-resolution image
#
# Inpainting had no training for the task. When paired data is easy to make, we can train a
# **conditional** model instead. For super-resolution the pairs are free: shrink every
# training image. SR3 (Saharia et al. 2021) gives the denoiser the low-resolution image $y$,
# upsampled to full size, as extra input channels:
#
# $$
# \epsilon_\theta\big(\operatorname{concat}(x_t,\ \operatorname{up}(y)),\ t\big),
# $$
#
# trained with the usual loss $\lVert \epsilon - \epsilon_\theta \rVert^2$, and sampled from pure noise
# with $y$ fixed. Our course UNet takes $x_t$ only, so `ConcatConditioned` wraps a UNet with
# `in_channels=2, out_channels=1`: it receives $y$ flattened as its context vector, upsamples
# it bicubically and concatenates it to $x_t$. The training loop and samplers of the earlier
# lessons work unchanged.

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### Training SR3 on $16 \times 16$ digits shrunk to $8 \times 8$

# %%
factor, size = 2, 16
train_low = downsample(train_images, factor)  # 16x16 -> 8x8 by averaging 2x2 blocks
sr_data = TensorDataset(train_images, train_low.flatten(1))
seed_everything(0)
sr_model = ConcatConditioned(
    UNet(in_channels=2, out_channels=1, base_channels=16, channel_mults=(1, 2)),
    low_res_shape=(1, size // factor, size // factor),
)
sr_steps = fast_or_full(200, 6000)
sr_result = train_diffusion(sr_model, schedule, sr_data, steps=sr_steps, batch_size=64, lr=2e-3,
                            lr_schedule="cosine", device=device, seed=0)
print(f"trained {sr_steps} steps in {sr_result.seconds:.1f} s")
plot_losses(sr_result.losses, smooth=25, title="SR3 training loss")
plt.show()

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### Against bicubic interpolation: PSNR and SSIM
#
# - **PSNR** $= 10 \log_{10}(L^2 / \text{MSE})$ in dB, $L = 2$
# - **SSIM** (Wang et al. 2004): luminance, contrast and structure under an $11 \times 11$
#   Gaussian window; 1 is perfect
# - Both outputs clamped to $[-1, 1]$ before scoring

# %% [markdown] slideshow={"slide_type": "notes"}
# On held-out digits we compare the diffusion model with **bicubic interpolation** of the
# same $8 \times 8$ input, using two standard measures against the true $16 \times 16$ image:
#
# - **PSNR** $= 10 \log_{10}(L^2 / \text{MSE})$ in dB, with $L = 2$ the range of pixel values;
# - **SSIM** (Wang et al. 2004): local means, variances and covariance under a Gaussian window
#   ($11 \times 11$, $\sigma = 1.5$), combined into a similarity of luminance, contrast and structure; 1 is perfect.
#
# Both methods' outputs are clamped to the valid range $[-1, 1]$ before scoring (bicubic
# overshoots slightly; DDIM here clips its predicted $x_0$).

# %%
num_sr = fast_or_full(96, 360)
sr_true = test_images[:num_sr]
sr_low = downsample(sr_true, factor)
bicubic = upsample_bicubic(sr_low, size).clamp(-1, 1)
sr_sampler = DDIMSampler(schedule, fast_or_full(25, 100), clip_sample=True)
diffusion_sr = sample(sr_model, sr_sampler, tuple(sr_true.shape), context=sr_low.flatten(1),
                      generator=generator, device=device, progress=False).cpu().clamp(-1, 1)

sr_scores = {
    name: {"PSNR (dB)": psnr(guess, sr_true).mean().item(),
           "SSIM": ssim(guess, sr_true).mean().item()}
    for name, guess in [("bicubic", bicubic), ("diffusion (SR3)", diffusion_sr)]
}
print_table(sr_scores, label="method", formats={"SSIM": ".3f"},
            title=f"{num_sr} held-out digits, 8x8 -> 16x16")
psnr_gain = sr_scores["diffusion (SR3)"]["PSNR (dB)"] - sr_scores["bicubic"]["PSNR (dB)"]
print(f"diffusion minus bicubic after {sr_steps} training steps: {psnr_gain:+.2f} dB PSNR, "
      f"{sr_scores['diffusion (SR3)']['SSIM'] - sr_scores['bicubic']['SSIM']:+.3f} SSIM")

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### Input, bicubic, SR3 and the truth

# %%
fig, axes = plt.subplots(4, 1, figsize=(8, 4.4), layout="constrained")
nearest = F.interpolate(sr_low, size=size, mode="nearest")  # the 8x8 pixels drawn as 2x2 blocks
for ax, row, name in zip(
    axes,
    [nearest, bicubic, diffusion_sr, sr_true],
    ["8x8 input (shown enlarged)", "bicubic", "diffusion (SR3)", "true 16x16"],
):
    show_images(row[:12], nrow=12, ax=ax)
    ax.set_title(name, fontsize=13)
fig.suptitle("Super-resolution of held-out digits")
plt.show()

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### What to make of the numbers
#
# - A few hundred fast-mode steps do not teach clean strokes: the printed difference says who
#   wins this run
# - Our $16 \times 16$ digits are $8 \times 8$ scans enlarged bilinearly: their block averages are
#   a *linear* function of the scans
# - Invertible? Build it as a $64 \times 64$ matrix and solve

# %% [markdown] slideshow={"slide_type": "notes"}
# What to make of the numbers. The printed difference says which method wins in this run; a
# few hundred fast-mode training steps do not teach the model to draw clean strokes (rerun in
# full mode, on a GPU, to see a longer training). How far a model could go is instructive.
# Our $16 \times 16$ digits are $8 \times 8$ scans enlarged by bilinear interpolation, so their
# $8 \times 8$ block averages are a fixed *linear* function of the scans: if that function is
# invertible, nothing is really missing. The next cell builds it as a $64 \times 64$ matrix, one
# row per scan pixel, and inverts it.

# %%
def enlarge(scans: torch.Tensor) -> torch.Tensor:
    """8x8 scans (N, 1, 8, 8) -> the course's 16x16 digits, as load_digits makes them."""
    return F.interpolate(scans, size=size, mode="bilinear", align_corners=False)

pixel_basis = torch.eye(64, dtype=torch.float64).reshape(64, 1, 8, 8)  # one image per scan pixel
# row i: image of pixel i
enlarge_then_average = downsample(enlarge(pixel_basis), factor).reshape(64, 64)
scans = torch.linalg.solve(enlarge_then_average.T, sr_low.double().reshape(-1, 64).T).T.reshape(
    -1, 1, 8, 8
)
inverse_error = (enlarge(scans).float() - sr_true).abs().max().item()
condition = torch.linalg.cond(enlarge_then_average).item()
print(f"condition number {condition:.1f}; largest pixel error of the exact inverse"
      f" {inverse_error:.1e} (bicubic: {(bicubic - sr_true).abs().max().item():.2f}, on pixels in"
      " [-1, 1])")
assert condition < 10 and inverse_error < 1e-5

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### Here nothing is missing; in real images detail is
#
# - Well conditioned; the exact inverse recovers the true images to float32 rounding
# - In real super-resolution PSNR and SSIM reward the average of all plausible answers
# - A diffusion model draws *one* sharp, plausible image: SR3 scores lower PSNR and SSIM than
#   regression, yet fools human raters far more often

# %% [markdown] slideshow={"slide_type": "notes"}
# The matrix is well conditioned (a condition number near 1 is ideal) and its inverse recovers
# the true images to float32 rounding:
# on these digits super-resolution is an invertible linear problem, and a well-trained model
# can learn to undo the averaging, far beyond bicubic.
#
# In real super-resolution the fine detail *is* missing. Then PSNR and SSIM reward the
# average of all plausible answers, which a smooth interpolation approximates, while a
# diffusion model draws *one* sharp, plausible image, whose small misplacements cost PSNR
# even when it looks better. SR3 reports exactly this: lower PSNR and SSIM than a regression
# model trained on the same data, but outputs that human raters mistake for real photographs
# far more often, which is why it was judged by a human "fool rate".

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "slide"}
# ## 3. A science example: Gaussian random fields
#
# - Fourier modes are independent Gaussians, power spectrum $P(k) \propto k^{n}$, here $n = -3$
# - The test: the radially averaged $P(k)$ of generated maps against theory
# - $\text{error} = \frac{1}{K} \sum_k \left| \ln P_{\text{gen}}(k) / P_{\text{true}}(k) \right|$:
#   0.1 is about 10 % off
# - Pixels are $\mathcal N(0, 1)$: the forward process's own scale

# %% [markdown] slideshow={"slide_type": "notes"}
# ## 3. A science example: Gaussian random fields
#
# Cosmologists and fluid physicists work with maps whose statistics are known: the density
# of matter in the early universe, or a turbulent velocity field. A standard test model is
# the **Gaussian random field**, whose Fourier modes are independent Gaussians with variance
# given by the **power spectrum** $P(k) \propto k^{n}$; here $n = -3$, so large waves dominate.
# A generative model of such maps is only useful if it reproduces $P(k)$, so that is our test:
# compare the radially averaged power spectrum of generated maps with the true one,
#
# $$
# \text{error} = \frac{1}{K} \sum_{k=1}^{K} \left| \ln \frac{P_{\text{gen}}(k)}{P_{\text{true}}(k)} \right| .
# $$
#
# An error of 0.1 means the power is off by about 10 % on average. Unlike digits, the
# fields are not in $[-1, 1]$: each pixel is $\mathcal N(0, 1)$. That is exactly the scale the
# forward process assumes (it keeps unit variance), so no rescaling is needed.

# %%
field_size, spectral_index = 16, -3.0
fields = gaussian_random_field(fast_or_full(2048, 16384), size=field_size,
                               spectral_index=spectral_index, seed=0)
k, true_power = theoretical_power_spectrum(spectral_index, field_size)
print(f"{len(fields)} training fields of {field_size}x{field_size}; pixel mean "
      f"{fields.mean():.3f}, std {fields.std():.3f}; range {fields.min():.2f} to "
      f"{fields.max():.2f}")

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### Training, with snapshots along the way

# %% [markdown]
# We train the course UNet on them for a few hundred steps (fast mode), keeping a copy of the
# untrained network and one after a short training, to see how the spectrum improves.

# %%
field_steps = fast_or_full(250, 6000)
short_steps = fast_or_full(40, 600)
snapshots = {}
seed_everything(1)
field_model = UNet(in_channels=1, base_channels=16, channel_mults=(1, 2, 4))
snapshots["untrained"] = copy.deepcopy(field_model)

def keep_short(step: int, trained: torch.nn.Module) -> None:
    if step == short_steps:
        snapshots[f"after {short_steps} steps"] = copy.deepcopy(trained)

field_result = train_diffusion(field_model, schedule, TensorDataset(fields), steps=field_steps,
                               batch_size=64, lr=2e-3, lr_schedule="cosine", device=device,
                               seed=0, callback=keep_short, callback_every=short_steps)
snapshots[f"after {field_steps} steps"] = field_model
print(f"trained {field_steps} steps in {field_result.seconds:.1f} s")

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### Real fields set the floor

# %% [markdown]
# We sample the same number of maps from the untrained network, the short-trained one and
# the fully trained one, and also measure fresh *real* fields: with a finite number of maps
# even perfect samples have some spectrum error, which sets the floor.

# %%
num_fields = fast_or_full(128, 1000)
field_sampler = DDIMSampler(schedule, fast_or_full(20, 100))


def spectrum_error(maps: torch.Tensor) -> float:
    """Mean |ln(P_measured / P_true)| over the radial bins k = 1 .. size / 2."""
    return (radial_power_spectrum(maps)[1] / true_power).log().abs().mean().item()


# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### Spectrum error against the floor

# %%
generated = {
    "real fields (floor)": gaussian_random_field(num_fields, field_size, spectral_index, seed=1)
}
for name, net in snapshots.items():
    shape = (num_fields, 1, field_size, field_size)
    generated[name] = sample(net.to(device), field_sampler, shape, generator=generator,
                             device=device, progress=False).cpu()
field_errors = {name: spectrum_error(maps) for name, maps in generated.items()}
floor = field_errors["real fields (floor)"]
field_table = {
    name: {"spectrum error": field_errors[name], "times the floor": field_errors[name] / floor,
           "pixel std": maps.std().item()}
    for name, maps in generated.items()
}
print_table(field_table, label="maps",
            formats={"spectrum error": ".3f", "times the floor": ".1f", "pixel std": ".3f"},
            title=f"{num_fields} maps each")
assert field_errors[f"after {field_steps} steps"] < field_errors["untrained"]
assert (field_table["untrained"]["times the floor"] > 10
        and abs(field_table["untrained"]["pixel std"] - 1) > 0.5)

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### Power spectra against theory

# %%
fig, axes = plt.subplots(1, 2, figsize=(9.3, 4), layout="constrained")
for name, maps in generated.items():
    axes[0].loglog(k, radial_power_spectrum(maps)[1], "o-", markersize=3, label=name)
axes[0].loglog(k, true_power, "k--", label="theory")
axes[0].set_xticks([1, 2, 4, 8], ["1", "2", "4", "8"])
axes[0].xaxis.set_minor_formatter(plt.NullFormatter())
axes[0].set_xlabel("wavenumber $k$ (cycles per map)")
axes[0].set_ylabel("$P(k)$")
axes[0].set_title("Radially averaged power spectrum")
axes[0].legend()
real, fake = generated["real fields (floor)"][:4], generated[f"after {field_steps} steps"][:4]
grid = torch.cat([torch.cat(list(real[:, 0]), dim=1), torch.cat(list(fake[:, 0]), dim=1)], dim=0)
image = axes[1].imshow(grid, cmap="RdBu_r", vmin=-3, vmax=3)
axes[1].set_title("top: real fields, bottom: generated")
axes[1].set_axis_off()
fig.colorbar(image, ax=axes[1], shrink=0.6, label="field value")
plt.show()

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### Judged by the statistics the field trusts
#
# - Untrained: spectrum error more than 10 times the floor, wrong pixel variance
# - Training brings the error down, towards the floor of the finite number of maps
# - Science validates generative models by summary statistics on many samples (power spectra,
#   peak counts, correlation functions), not by eye

# %% [markdown] slideshow={"slide_type": "notes"}
# An untrained network's spectrum error is many times the floor (the column "times the
# floor"; the lesson asserts more than 10) and its pixel variance is wrong; training brings the
# error down, towards the floor set by the finite number of maps. Compare the rows: how close to the floor a short training gets is the honest
# measure of the model, not how the maps look. This is how generative
# models are validated in science: not by eye, but by summary statistics the field trusts
# (power spectra, peak counts, correlation functions), computed on many samples.

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "slide"}
# ## 4. Where diffusion models are used in research
#
# - **Proteins**: RFdiffusion designs binders and scaffolds (motif scaffolding is inpainting);
#   Chroma
# - **Weather**: GenCast, 15-day ensemble forecasts, more skill than ECMWF's ensemble on 97.2 %
#   of targets
# - **Materials**: MatterGen proposes stable crystals
# - **Medical imaging**: CT and MRI from partial measurements, RePaint's idea with physics
# - **Astronomy**: galaxy images; inpainting satellite trails

# %% [markdown] slideshow={"slide_type": "notes"}
# ## 4. Where diffusion models are used in research
#
# - **Protein design.** RFdiffusion (Watson et al. 2023) fine-tunes the RoseTTAFold structure
#   predictor to denoise protein backbones, and designs binders, symmetric assemblies and
#   scaffolds around functional motifs, the motif scaffolding being a form of inpainting.
#   Chroma (Ingraham et al. 2023) generates structures and sequences and can be conditioned
#   on symmetry, shape or even text.
# - **Weather.** GenCast (Price et al. 2025) is a conditional diffusion model that generates
#   ensembles of 15-day global forecasts; the authors report greater skill than ECMWF's
#   ensemble on 97.2 % of the targets they evaluated.
# - **Materials.** MatterGen (Zeni et al. 2025) diffuses atom types, positions and the lattice
#   of crystals to propose stable inorganic materials, steerable towards target properties.
# - **Medical imaging.** Song, Shen, Xing & Ermon (2022) reconstruct CT and MRI images from
#   partial measurements with an unconditional score model, enforcing the measurements at
#   sampling time, the same idea as RePaint above with a physics model in place of the mask.
# - **Astronomy.** Smith et al. (2022) generate realistic galaxy images with a DDPM and use it
#   to inpaint occluded data such as satellite trails.

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "slide"}
# ## 5. Latent and video diffusion, in brief
#
# - **Latent diffusion** (Stable Diffusion): diffuse a VAE's latents, $512 \times 512 \times 3$ to
#   $64 \times 64 \times 4$, 48 times fewer numbers; text by cross-attention. Lesson 12 builds one
# - **Video diffusion**: a UNet with attention across time; SR3-style cascades in time and space
# - The recipe stays: add Gaussian noise, predict it, sample

# %% [markdown] slideshow={"slide_type": "notes"}
# ## 5. Latent and video diffusion, in brief
#
# - **Latent diffusion** (Rombach et al. 2022, the basis of Stable Diffusion) runs the diffusion
#   of this course not on pixels but on the latent codes of an autoencoder, the VAE of lesson 04.
#   A $512 \times 512 \times 3$ image becomes a $64 \times 64 \times 4$ latent, 48 times fewer numbers, so every
#   denoising step is far cheaper; the decoder turns the final latent into pixels. Text enters
#   through cross-attention on a CLIP-style text encoder (lesson 04). Lesson 12 builds one on the
#   sprites: [A Stable Diffusion of our own](../../lessons/12_stable_diffusion/).
# - **Video diffusion** (Ho et al. 2022) treats a clip as a stack of frames and extends the UNet
#   with attention across time (a "3D UNet" factorised into space and time), trained jointly on
#   images and videos; longer and sharper videos come from conditioning on earlier frames and from
#   super-resolution models in cascade, the SR3 idea of section 2 applied in time and space.
#
# The recipe stays the one you now know: a forward process that adds Gaussian noise, a network
# trained to predict it, and a sampler, with the condition entering as channels, context vectors
# or constraints at sampling time.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Exercises
#
# ### Exercise 1: write the blend yourself
#
# Without looking back, write RePaint's blend step: where `mask` is True, the known image
# noised to level $t-1$, $\sqrt{\bar\alpha_{t-1}}\, x_0^{\text{known}} + \sqrt{1 - \bar\alpha_{t-1}}\,\epsilon$
# (with $\epsilon$ = `noise`); elsewhere the model's step `unknown_part`. The check cell runs
# the lesson's loop with your blend and compares the completion with the library's `repaint`
# on the same inputs and seed.

# %%
def my_blend(known: torch.Tensor, mask: torch.Tensor, unknown_part: torch.Tensor,
             alpha_bar_prev: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """x_{t-1}: known pixels noised to level t-1 where mask is True, unknown_part elsewhere.

    All (N, C, H, W)."""
    raise NotImplementedError  # your code here


# %% slideshow={"slide_type": "subslide"}
def completion_with(blend_step) -> torch.Tensor:
    """The lesson's RePaint loop with the given blend: 8 digits, U = 2, seed 4; (8, 1, 16, 16)."""
    return repaint_by_hand(model, inpaint_sampler, few, few_mask, 2,
                           torch.Generator().manual_seed(4), blend=blend_step)

library_completion = repaint(model, inpaint_sampler, few, few_mask, resample_steps=2,
                             generator=torch.Generator().manual_seed(4))
blend_mistakes = {  # what three classic slips give, run through the same loop
    "the mask inverted (the model's pixels kept where the image is known)": completion_with(
        lambda known, mask, unknown, a, noise: blend(known, ~mask, unknown, a, noise)),
    "the known part not noised (x_0 pasted instead of its noised version at level t-1)":
        completion_with(lambda known, mask, unknown, a, noise: torch.where(mask, known, unknown)),
    "the known part noised with 1 - alpha_bar as the scale instead of its square root":
        completion_with(lambda known, mask, unknown, a, noise: torch.where(
            mask, a.sqrt() * known + (1 - a) * noise, unknown)),
}
check(lambda: completion_with(my_blend), library_completion, name="my_blend",
      mistakes=blend_mistakes)

# %% tags=["solution"]
def my_blend(known: torch.Tensor, mask: torch.Tensor, unknown_part: torch.Tensor,
             alpha_bar_prev: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """x_{t-1}: known pixels noised to level t-1 where mask is True, unknown_part elsewhere.

    All (N, C, H, W)."""
    # q(x_{t-1} | x_0)
    known_part = alpha_bar_prev.sqrt() * known + (1 - alpha_bar_prev).sqrt() * noise
    return mask * known_part + ~mask * unknown_part  # a bool mask acts as 1 and 0

assert check(lambda: completion_with(my_blend), library_completion, name="my_blend",
             mistakes=blend_mistakes)

# %% [markdown] slideshow={"slide_type": "slide"}
# ### Exercise 2: inpainting the right half
#
# Hide the **right** half of the first 16 held-out digits instead of the bottom half. Compare
# the judge's recovery rate for the training-mean fill, RePaint with $U = 1$ and RePaint with
# $U = $ `resample_steps`. Is the right half harder or easier to guess than the bottom half?

# %%
# Your code here.

# %% tags=["solution"]
right_mask = half_mask(16, "right")
few_images, few_labels = test_images[:16], test_labels[:16]

def share_right(batch: torch.Tensor) -> float:
    return (predict(judge, batch)[0].argmax(dim=1) == few_labels).float().mean().item()

print("training mean: "
      f"{share_right(torch.where(right_mask, few_images, train_images.mean(0, keepdim=True))):.2f}")
for u in (1, resample_steps):
    filled = repaint(model, inpaint_sampler, few_images, right_mask, resample_steps=u,
                     generator=generator).cpu()
    print(f"RePaint, U = {u}: {share_right(filled):.2f}")

# %% [markdown]
# <details class="solution"><summary>Solution</summary>
#
# With only 16 digits each share moves in steps of 1/16, so only large differences mean
# anything; rerun with more digits before drawing conclusions. Compare each row with the
# bottom-half table: where even the training-mean fill does better, the kept half carries
# more of the digit's identity, and what the fill adds matters less. Resampling should again
# help the model agree with the half it sees.
#
# </details>

# %% [markdown] slideshow={"slide_type": "slide"}
# ### Exercise 3: how many maps does a spectrum test need?
#
# The "real fields" row above is not at zero error: a finite number of maps has a noisy
# spectrum. Measure the spectrum error of $n$ fresh real fields for $n = 16, 64, 256, 1024$
# and explain how it shrinks with $n$. How many generated maps would you need to tell a model
# with a 5 % power error from a perfect one?

# %%
# Your code here.

# %% tags=["solution"]
floors = {}
for n in (16, 64, 256, 1024):
    floors[n] = spectrum_error(gaussian_random_field(n, field_size, spectral_index, seed=2))
    print(f"n = {n:5d}: spectrum error of real fields {floors[n]:.3f}, times sqrt(n)"
          f" {floors[n] * n**0.5:.2f}")
print(f"64 times more maps: error {floors[16] / floors[1024]:.1f} times smaller (sqrt(64) = 8)")
assert floors[1024] < floors[256] < floors[64] < floors[16]

# %% [markdown]
# <details class="solution"><summary>Solution</summary>
#
# Each bin's power is an average of $|F_k|^2$ over the modes in its shell and over the maps,
# and the power of one Gaussian mode is exponentially distributed, with a relative standard
# deviation of 1. An average over $N$ independent modes has a relative error of about
# $1/\sqrt{N}$, so the floor falls roughly like $1/\sqrt{n}$; the column "times sqrt(n)" is
# only roughly constant because each row is a single random draw, and the lowest shells,
# which hold only a handful of modes per map, dominate it. To resolve a 5 % bias
# ($\ln 1.05 \approx 0.05$) the floor must be well below 0.05: read off the table how many maps
# that takes, and remember that the *model's* error must be compared with the floor for the
# same number of maps, as in section 3.
#
# </details>

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "slide"}
# ## Summary
#
# - Inpainting without retraining: paste the noised known pixels at every step; resampling
#   makes the completion agree with them (RePaint)
# - Conditions enter as channels (SR3); PSNR and SSIM favour smooth averages
# - Science judges samples by trusted statistics: the power spectrum, against its floor
# - Proteins, weather, materials, medicine, galaxies; latent and video diffusion

# %% [markdown] slideshow={"slide_type": "notes"}
# ## Summary
#
# - An unconditional diffusion model inpaints without retraining: paste the known pixels,
#   noised to the current level, at every reverse step; resampling ($U > 1$) makes the
#   completion agree with them (RePaint). The loop is a blend, a jump back and the sampler's
#   ordinary step: we wrote it, and it matched the library and diffusers on the same inputs.
# - Conditional models take the condition as extra input channels; for super-resolution the
#   training pairs are free (SR3). Judge them against bicubic interpolation with PSNR and SSIM,
#   knowing that these measures favour smooth averages over sharp, plausible samples.
# - In science a generated sample is judged by the statistics the field trusts: for Gaussian
#   random fields, the power spectrum, with the finite-sample floor measured alongside.
# - Diffusion models design proteins, forecast weather, propose materials, reconstruct medical
#   images and simulate galaxies; latent diffusion moves the process into a VAE's latent space
#   and video diffusion adds time.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## References
#
# - Ho, J., Jain, A. & Abbeel, P. (2020). *Denoising diffusion probabilistic models.* NeurIPS. [arXiv:2006.11239](https://arxiv.org/abs/2006.11239)
# - Ho, J., Salimans, T., Gritsenko, A., Chan, W., Norouzi, M. & Fleet, D. J. (2022). *Video diffusion models.* [arXiv:2204.03458](https://arxiv.org/abs/2204.03458)
# - Ingraham, J. B. et al. (2023). *Illuminating protein space with a programmable generative model.* Nature. [doi:10.1038/s41586-023-06728-8](https://doi.org/10.1038/s41586-023-06728-8)
# - Lugmayr, A., Danelljan, M., Romero, A., Yu, F., Timofte, R. & Van Gool, L. (2022). *RePaint: inpainting using denoising diffusion probabilistic models.* CVPR. [arXiv:2201.09865](https://arxiv.org/abs/2201.09865)
# - Price, I. et al. (2025). *Probabilistic weather forecasting with machine learning.* Nature 637. [doi:10.1038/s41586-024-08252-9](https://doi.org/10.1038/s41586-024-08252-9)
# - Rombach, R., Blattmann, A., Lorenz, D., Esser, P. & Ommer, B. (2022). *High-resolution image synthesis with latent diffusion models.* CVPR. [arXiv:2112.10752](https://arxiv.org/abs/2112.10752)
# - Saharia, C., Ho, J., Chan, W., Salimans, T., Fleet, D. J. & Norouzi, M. (2021). *Image super-resolution via iterative refinement.* [arXiv:2104.07636](https://arxiv.org/abs/2104.07636) (IEEE TPAMI 2022)
# - Smith, M. J., Geach, J. E., Jackson, R. A., Arora, N., Stone, C. & Courteau, S. (2022). *Realistic galaxy image simulation via score-based generative models.* [arXiv:2111.01713](https://arxiv.org/abs/2111.01713)
# - Song, J., Meng, C. & Ermon, S. (2020). *Denoising diffusion implicit models.* ICLR 2021. [arXiv:2010.02502](https://arxiv.org/abs/2010.02502)
# - Song, Y., Shen, L., Xing, L. & Ermon, S. (2022). *Solving inverse problems in medical imaging with score-based generative models.* ICLR. [arXiv:2111.08005](https://arxiv.org/abs/2111.08005)
# - Wang, Z., Bovik, A. C., Sheikh, H. R. & Simoncelli, E. P. (2004). *Image quality assessment: from error visibility to structural similarity.* IEEE Transactions on Image Processing 13(4). [doi:10.1109/TIP.2003.819861](https://doi.org/10.1109/TIP.2003.819861)
# - Watson, J. L. et al. (2023). *De novo design of protein structure and function with RFdiffusion.* Nature 620. [doi:10.1038/s41586-023-06415-8](https://doi.org/10.1038/s41586-023-06415-8)
# - Zeni, C. et al. (2025). *A generative model for inorganic materials design.* Nature. [doi:10.1038/s41586-025-08628-5](https://doi.org/10.1038/s41586-025-08628-5)
