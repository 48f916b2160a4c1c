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
# # A Stable Diffusion of our own
#
# Stable Diffusion (Rombach et al. 2022) is three networks:
#
# - a **VAE**: image ↔ small latent
# - a **text encoder** (from CLIP): one vector per token of the prompt
# - a **UNet** that denoises latents while it *cross-attends* to those tokens
#
# Today: all three for the course's sprites ("a red circle facing left"), trained on a CPU.

# %% [markdown] slideshow={"slide_type": "notes"}
# # A Stable Diffusion of our own
#
# Stable Diffusion (Rombach et al. 2022) is three networks: a **VAE** that turns an image into
# a small latent and back, a **text encoder** (from CLIP) that turns the prompt into one vector
# per token, and a **UNet** that denoises latents while it *cross-attends* to those tokens.
# Lessons 03 and 04 built each kind of network; this lesson assembles them into a
# text-to-image model for the course's sprites ("a red circle facing left"), trained on a CPU,
# measures how well it follows prompts, also for attribute combinations it never saw, and
# runs the very same weights as a Hugging Face `StableDiffusionPipeline`, offline.

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### Learning objectives
#
# - Encode images into a VAE's latent space and measure the latent scaling factor
# - Write cross-attention, with a padding mask
# - Train with caption dropout; sample with guidance by the empty prompt
# - Measure prompt following on unseen attribute combinations, and the cost of pixels against latents
# - Run your own weights as a diffusers `StableDiffusionPipeline`

# %% [markdown] slideshow={"slide_type": "notes"}
# **Learning objectives.** By the end of this lesson you can
#
# - encode images into a VAE's latent space and measure the latent scaling factor;
# - write cross-attention (Vaswani et al. 2017; Rombach et al. 2022, §3.3), with a padding mask;
# - explain caption dropout and classifier-free guidance with the empty prompt;
# - write the latent text-to-image sampling loop and check it against the library;
# - measure prompt following on seen and held-out attribute combinations, and the cost of
#   pixel versus latent space;
# - build, save and reload a diffusers `StableDiffusionPipeline` from your own components.
#
# **Estimated time:** 75 minutes (50 of reading and running, 25 for the exercises).

# %% slideshow={"slide_type": "skip"}
import tempfile
import time
import warnings
import matplotlib.pyplot as plt
import torch
warnings.filterwarnings("ignore", message="IProgress not found")  # diffusers' tqdm.auto
from diffusers import StableDiffusionPipeline  # noqa: E402
from diffusers.models.attention_processor import Attention  # noqa: E402
from course_lib.checkpoints import load_pretrained  # noqa: E402
from course_lib.config import fast_or_full, seed_everything  # noqa: E402
from course_lib.data.sprites import COLOURS, FACINGS, SHAPES, make_sprites  # noqa: E402
from course_lib.evaluation import print_table  # noqa: E402
from course_lib.exercises import check  # noqa: E402
from course_lib.models import count_parameters  # noqa: E402
from course_lib.plotting import plot_losses, show_images  # noqa: E402
from course_lib.samplers import DDIMSampler, sample  # noqa: E402
from course_lib.text_to_image import (CAPTION_WORDS, HELD_OUT, TextToImageUNet,  # noqa: E402
    attribute_context, caption_set, caption_table, caption_tokenizer, decode_latents,
    encode_images, encode_prompts, generate, judge_attributes, multiply_adds,
    to_diffusers_pipeline, to_diffusers_unet, tokenize, train_text_to_image, training_sprites)

# %% slideshow={"slide_type": "skip"}
seed_everything(0)
torch.set_grad_enabled(False)  # switched on only for training
vae, _ = load_pretrained("sprites-vae", device="cpu")
text_encoder, _ = load_pretrained("sprites-text-encoder", device="cpu")
unet, schedule = load_pretrained("sprites-text-to-image", device="cpu")
pixel_model, _ = load_pretrained("sprites", device="cpu")  # lesson 07's attribute-conditional model
judge, _ = load_pretrained("classifier-sprites", device="cpu")
tokenizer = caption_tokenizer()
print_table(
    {
        name: {"parameters": count_parameters(m)}
        for name, m in [("VAE", vae), ("text encoder", text_encoder),
                        ("text-to-image UNet", unet), ("pixel UNet (07)", pixel_model)]
    }
)

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "slide"}
# ## 1. Latent space: what the VAE keeps
#
# - A sprite: $16 \times 16 \times 3 = 768$ numbers; its latent: $8 \times 8 \times 4 = 256$
# - Diffusion runs on latents; the decoder turns the last one back into pixels
# - The model expects unit scale, so latents are multiplied by a **scaling factor** $1/\sigma$
#   (0.18215 for Stable Diffusion's VAE). We measure ours:

# %% [markdown] slideshow={"slide_type": "notes"}
# ## 1. Latent space: what the VAE keeps
#
# A sprite is $16 \times 16 \times 3 = 768$ numbers. The shipped VAE (diffusers'
# `AutoencoderKL` in a tiny configuration, trained with lesson 04's loss) encodes it to a
# latent of $8 \times 8 \times 4 = 256$ numbers: a small image with four channels. Diffusion will
# run on these latents, and the decoder turns the final latent back into pixels.
#
# The diffusion model expects data of unit scale (its noise has variance 1), so latents are
# multiplied by a **scaling factor**: Rombach et al. measured the standard deviation of their
# VAE's latents and used $1/\sigma$ (0.18215 for their VAE). We measure ours.

# %%
sprites = make_sprites(512, 16, seed=7)  # fresh sprites, a seed no network trained on
latents = vae.encode(sprites.images, sample=False)[0]  # (512, 4, 8, 8), unscaled means
scaling_factor = 1 / latents.std()
print(f"latent shape {tuple(latents.shape[1:])}, std {latents.std():.3f}: scaling factor"
      f" {scaling_factor:.4f}")
print(f"the shipped VAE measured {vae.scaling_factor:.4f} on its training sprites")

# %% slideshow={"slide_type": "skip"}
assert abs(scaling_factor / vae.scaling_factor - 1) < 0.1

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### The VAE's ceiling

# %% [markdown]
# What the VAE loses sets a ceiling on quality: a latent diffusion model can be no better than
# the decoder of a perfect latent. We measure the reconstruction error and ask the sprite judge
# of lesson 07 to read the reconstructions.

# %%
reconstructions = decode_latents(vae, encode_images(vae, sprites.images))
rmse = (reconstructions - sprites.images).pow(2).mean().sqrt().item()
labels = {group: sprites.labels[group] for group in ("shape", "colour", "facing")}
ceiling = judge_attributes(judge, reconstructions, labels)
print_table(
    {"real sprites": judge_attributes(judge, sprites.images, labels),
     "VAE reconstructions": ceiling}
)
print(f"reconstruction RMSE {rmse:.3f} (pixels in [-1, 1])")
show_images(torch.cat([sprites.images[:8], reconstructions[:8]]), nrow=8,
            title="Sprites (top) and their VAE reconstructions")
plt.show()

# %% slideshow={"slide_type": "skip"}
assert rmse < 0.25 and ceiling["all three"] > 0.9

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "slide"}
# ## 2. Text: one vector per token
#
# - A dozen words: a `CLIPTokenizer` with that vocabulary, built in code
# - A caption: start token, one token a word, end token, end tokens as padding
# - A small CLIP text encoder, trained as in lesson 04, then frozen
# - Stable Diffusion conditions on the **per-token** output, not the pooled vector

# %% [markdown] slideshow={"slide_type": "notes"}
# ## 2. Text: one vector per token
#
# The captions use a dozen words. The tokenizer is a transformers `CLIPTokenizer` whose
# vocabulary is those words (built in code, no download): each caption becomes a start token,
# one token a word, an end token, and end tokens as padding to a fixed length. The text
# encoder is a small CLIP text transformer (transformers' `CLIPTextModel`), trained
# contrastively against sprite images as in lesson 04 and then frozen. Stable Diffusion
# conditions on its **per-token** output, one vector per position, not on the pooled vector.

# %%
print(f"{len(CAPTION_WORDS)} words: {' '.join(CAPTION_WORDS)}; text encoder {text_encoder.config}")
prompts = ["a red circle facing left", "a blue square facing right", ""]
token_ids = tokenize(tokenizer, prompts)  # (3, 8)
for prompt, ids in zip(prompts, token_ids.tolist()):
    print(f"{prompt!r:30} -> {ids}")
tokens = encode_prompts(text_encoder, tokenizer, prompts)
print(f"per-token embeddings: {tuple(tokens.shape)} (prompts, positions, width)")

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "slide"}
# ## 3. Cross-attention: each latent pixel reads the caption
#
# - Attention: weights $\operatorname{softmax}(QK^\top / \sqrt{d})$ mix the values $V$
# - Queries from the image: $Q = W_Q\, \varphi(z_t)$, one row per pixel of the UNet's features
# - Keys and values from the text: $K = W_K\, \tau(y)$, $V = W_V\, \tau(y)$
# - $h$ heads: the channels split into $h$ groups, joined again by $W_O$

# %% [markdown] slideshow={"slide_type": "notes"}
# ## 3. Cross-attention: each latent pixel reads the caption
#
# Attention (Vaswani et al. 2017, eq. 1) mixes value vectors with weights
# $\operatorname{softmax}(QK^\top / \sqrt{d})$. In cross-attention (Rombach et al. 2022, eq. 3)
# the queries come from the image and the keys and values from the text:
# $Q = W_Q\, \varphi(z_t)$ with $\varphi(z_t)$ the UNet's features, one row per pixel, and
# $K = W_K\, \tau(y)$, $V = W_V\, \tau(y)$ with $\tau(y)$ the text tokens. With $h$ heads, the
# channels are split into $h$ groups that attend separately, then joined and projected by $W_O$.

# %%
def cross_attention(x: torch.Tensor, context: torch.Tensor, layer: torch.nn.Module) -> torch.Tensor:
    """x (N, L_q, C) attends to context (N, L_k, D) with layer's W_Q, W_K, W_V, W_O.

    Returns (N, L_q, C)."""
    n, heads = x.shape[0], layer.heads
    q = layer.to_q(x).view(n, x.shape[1], heads, -1).transpose(1, 2)  # (N, h, L_q, C/h)
    k = layer.to_k(context).view(n, context.shape[1], heads, -1).transpose(1, 2)  # (N, h, L_k, C/h)
    v = layer.to_v(context).view(n, context.shape[1], heads, -1).transpose(1, 2)  # (N, h, L_k, C/h)
    # (N, h, L_q, L_k), eq. 1
    weights = (q @ k.transpose(-2, -1) / q.shape[-1] ** 0.5).softmax(dim=-1)
    out = (weights @ v).transpose(1, 2).reshape(n, x.shape[1], -1)  # heads joined: (N, L_q, C)
    return layer.to_out(out)


# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### Checked against `course_lib` and diffusers

# %% [markdown]
# We run it on the shipped UNet's middle cross-attention layer: the 16 pixels of a
# $4 \times 4$ feature map with 64 channels attend to the 8 tokens of each caption. Then we
# check it against `course_lib.attention.CrossAttention` and diffusers' `Attention`, holding
# the same weights.

# %%
layer = unet.mid["attention"].block.attn2  # a CrossAttention(64, context_dim=32, heads=4)
features = torch.randn(3, 16, 64, generator=torch.Generator().manual_seed(0))  # (N, 4x4 pixels, C)
ours = cross_attention(features, tokens, layer)
diffusers_layer = Attention(query_dim=64, cross_attention_dim=32, heads=4, dim_head=16,
                            out_bias=True)
diffusers_layer.load_state_dict(
    {k.replace("to_out.", "to_out.0."): v for k, v in layer.state_dict().items()}
)
print(f"output {tuple(ours.shape)}; largest difference from course_lib"
      f" {(ours - layer(features, tokens)).abs().max():.1e}, from diffusers"
      f" {(ours - diffusers_layer(features, tokens)).abs().max():.1e}")

# %% slideshow={"slide_type": "skip"}
torch.testing.assert_close(ours, layer(features, tokens), atol=1e-6, rtol=1e-5)
torch.testing.assert_close(ours, diffusers_layer(features, tokens), atol=1e-6, rtol=1e-5)

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "slide"}
# ## 4. A UNet that reads text
#
# - Lesson 03's UNet, plus a **spatial transformer** after every residual block: self-attention,
#   cross-attention to the caption, feed-forward, residual
# - Time enters every residual block; text enters through attention only
# - The layout of diffusers' `UNet2DConditionModel`: converting is renaming weights, checked on one
#   noisy batch

# %% [markdown] slideshow={"slide_type": "notes"}
# ## 4. A UNet that reads text
#
# The UNet is lesson 03's, built from its parts (`ResBlock`, `Upsample`, the sinusoidal time
# embedding) with one change: after every residual block sits a **spatial transformer**
# (Rombach et al. 2022, §3.3): GroupNorm, the pixels as a sequence of tokens, self-attention,
# cross-attention to the caption, a feed-forward layer, and a residual connection around it.
# The time still enters additively in every residual block; the text enters through attention
# only. Its layout is that of diffusers' `UNet2DConditionModel`, so converting it is a renaming
# of the weights, which we check on one noisy batch.

# %%
noisy = torch.randn(3, 4, 8, 8, generator=torch.Generator().manual_seed(1))  # (N, channels, 8, 8)
t = torch.tensor([10, 250, 499])
diffusers_unet = to_diffusers_unet(unet, sample_size=8)
theirs = diffusers_unet(noisy, t, encoder_hidden_states=tokens).sample
difference = (unet(noisy, t, tokens) - theirs).abs().max()
print(f"UNet2DConditionModel with {count_parameters(diffusers_unet):,} parameters; largest "
      f"difference {difference:.1e}")

# %% slideshow={"slide_type": "skip"}
assert difference < 1e-5

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "slide"}
# ## 5. Training in latent space, with caption dropout
#
# - Lesson 05's Algorithm 1 on scaled latents: $z_t = \sqrt{\bar\alpha_t}\, z_0 + \sqrt{1 - \bar\alpha_t}\,\epsilon$,
#   regress $\epsilon$
# - VAE and text encoder frozen: latents and caption tokens computed once
# - **Caption dropout**: the empty prompt with probability 0.1, so the network also learns the
#   unconditional prediction that guidance needs
# - Four (shape, colour) pairs held out, in every facing

# %% [markdown] slideshow={"slide_type": "notes"}
# ## 5. Training in latent space, with caption dropout
#
# Training is lesson 05's Algorithm 1 on scaled latents $z_0$ instead of pixels: draw
# $t$ and $\epsilon$, form $z_t = \sqrt{\bar\alpha_t}\, z_0 + \sqrt{1 - \bar\alpha_t}\,\epsilon$ and
# regress $\epsilon$. The VAE and the text encoder are frozen, so latents and caption tokens
# are computed once. **Caption dropout** replaces a caption by the empty prompt `""` with
# probability 0.1, so the same network learns the unconditional prediction that
# classifier-free guidance needs (Ho & Salimans 2022). Stable Diffusion does the same.
#
# The training sprites leave out four (shape, colour) pairs entirely, in every facing:

# %%
train_images, train_captions = training_sprites()
print(
    f"{len(train_images)} training sprites with {len(set(train_captions))} distinct captions; held"
    " out: "
    + ", ".join(f"{colour} {shape}" for shape, colour in HELD_OUT)
)
# (N, 4, 8, 8), scaled
train_latents = encode_images(vae, train_images, torch.Generator().manual_seed(0))
# (N,), (K + 1, 8, 32)
caption_ids, caption_tokens = caption_table(text_encoder, tokenizer, train_captions)
print(f"scaled latents: std {train_latents.std():.2f}; caption tokens "
      f"{tuple(caption_tokens.shape)}, the last row is ''")

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### One training step's loss

# %% [markdown]
# One training step's loss, written out; `train_text_to_image` runs the same with AdamW, a
# cosine learning rate and an EMA of the weights.

# %%
def text_to_image_loss(
    model: TextToImageUNet, batch: torch.Tensor, generator: torch.Generator
) -> torch.Tensor:
    """Simplified loss (Ho et al. 2020, eq. 14) on latents, with 10% caption dropout; batch: (B,)
    indices."""
    z0, ids = train_latents[batch], caption_ids[batch].clone()
    ids[torch.rand(len(batch), generator=generator) < 0.1] = len(caption_tokens) - 1  # the "" row
    t = torch.randint(0, schedule.num_timesteps, (len(batch),), generator=generator)
    eps = torch.randn(z0.shape, generator=generator)
    z_t = schedule.add_noise(z0, eps, t)  # sqrt(abar_t) z0 + sqrt(1 - abar_t) eps
    return (model(z_t, t, caption_tokens[ids]) - eps).pow(2).mean()


# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### A fresh UNet, a few training steps
#
# The shipped model ran the same code far longer (its model card gives steps and time).

# %% [markdown] slideshow={"slide_type": "notes"}
# We train a fresh UNet for a few steps and compare its samples with the shipped model's,
# which ran the same code for far longer (`python -m course_lib train --model
# sprites-text-to-image`; the model card gives its steps and time).

# %%
steps = fast_or_full(30, 2000)
with torch.enable_grad():
    fresh = TextToImageUNet(context_dim=text_encoder.width)
    losses, fresh_ema = train_text_to_image(
        fresh, schedule, train_latents, caption_ids, caption_tokens, steps=steps,
        batch_size=fast_or_full(32, 64), ema_decay=fast_or_full(None, 0.999), seed=0)
generator = torch.Generator().manual_seed(0)
loss_now = text_to_image_loss(fresh_ema, torch.arange(256), generator)
print(f"after {steps} steps: loss on 256 training latents {loss_now:.3f} (the written-out loss)")
plot_losses(losses, smooth=10, title=f"Training the latent UNet, {steps} steps")
plt.show()

# %% slideshow={"slide_type": "skip"}
assert sum(losses[-10:]) < sum(losses[:10])

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 6. The sampling loop
#
# Generation is DDIM (lesson 08) on latents, with classifier-free guidance where "no text"
# is the empty prompt: $\tilde\epsilon = \epsilon_\theta(z_t, t, \tau(\varnothing)) + s\,(\epsilon_\theta(z_t, t, \tau(y)) - \epsilon_\theta(z_t, t, \tau(\varnothing)))$,
# with diffusers' **guidance scale** $s = 1 + w$ (the course's $w$ of lesson 07; $s = 1$ is no
# guidance). The last latent is divided by the scaling factor and decoded. We use "trailing"
# timesteps (Lin et al. 2024), so the first step starts from pure noise at $t = T - 1$.

# %%
def my_generate(model: torch.nn.Module, prompts: list[str], sampler: DDIMSampler, s: float,
                generator: torch.Generator) -> torch.Tensor:
    """Prompts -> images (N, 3, 16, 16) in [-1, 1]: guided DDIM on latents, then the VAE's
    decoder."""
    text = encode_prompts(text_encoder, tokenizer, prompts)  # (N, 8, 32)
    no_text = encode_prompts(text_encoder, tokenizer, [""] * len(prompts))  # (N, 8, 32)
    z = torch.randn((len(prompts), 4, 8, 8), generator=generator)  # z_T
    for t in sampler.timesteps.tolist():
        timesteps = torch.full((2 * len(prompts),), t)
        eps_uncond, eps_text = model(
            torch.cat([z, z]), timesteps, torch.cat([no_text, text])
        ).chunk(2)
        eps = eps_uncond + s * (eps_text - eps_uncond)  # Ho & Salimans 2022, eq. 6 with s = 1 + w
        z = sampler.step(eps, t, z, generator=generator)  # Song et al. 2020, eq. 12
    return vae.decode(z / vae.scaling_factor).clamp(-1, 1)


# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### A few training steps against the shipped model

# %%
sampler = DDIMSampler(schedule, 25, timestep_spacing="trailing")
demo_prompts = caption_set("seen", 8)[0]
shipped_images = my_generate(unet, demo_prompts, sampler, 3.0, torch.Generator().manual_seed(0))
fresh_images = my_generate(fresh_ema, demo_prompts, sampler, 3.0, torch.Generator().manual_seed(0))
# "red circle ←"
short = [p[2:].replace(" facing left", " ←").replace(" facing right", " →") for p in demo_prompts]
# scale 4.5: a grid that a slide can widen until its labels read from afar
show_images(torch.cat([fresh_images, shipped_images]), nrow=8, labels=short * 2, scale=4.5,
            title=f"Top: {steps} steps here. Bottom: the shipped model")
plt.show()

# %% slideshow={"slide_type": "skip"}
library_images = generate(unet, vae, text_encoder, tokenizer, demo_prompts, sampler=sampler,
                          guidance_scale=3.0, generator=torch.Generator().manual_seed(0))
torch.testing.assert_close(shipped_images, library_images)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 7. Does it follow the prompt?
#
# We generate sprites for captions it was trained on ("seen") and for the held-out
# combinations, which it has only seen in parts, and let the sprite judge read shape, colour
# and facing. Lesson 07's pixel-space model gets the same attributes as a multi-hot context
# (it was trained on every combination, so "held-out" is not held out for it).

# %%
num_prompts = fast_or_full(32, 500)
rows, images_by_row = {}, {}
for kind in ("seen", "held-out"):
    captions, labels = caption_set(kind, num_prompts)
    latent_images = my_generate(unet, captions, sampler, 3.0, torch.Generator().manual_seed(1))
    context = attribute_context(labels)  # (N, 10) multi-hot, as in lesson 07
    pixel_images = sample(pixel_model, sampler, (num_prompts, 3, 16, 16), context=context,
                          guidance=2.0, generator=torch.Generator().manual_seed(1), progress=False)
    rows[f"latent, {kind}"] = judge_attributes(judge, latent_images, labels)
    rows[f"pixel (07), {kind}"] = judge_attributes(judge, pixel_images, labels)
    images_by_row[kind] = latent_images
print_table(
    rows,
    title=(
        f"Share of {num_prompts} samples whose attribute the judge reads as asked (s = 3, DDIM 25)"
    ),
)

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### Combinations never seen in training

# %%
seen, held = rows["latent, seen"], rows["latent, held-out"]
print(f"Seen captions: every attribute right in {seen['all three']:.0%} of samples; held-out"
      f" combinations: {held['all three']:.0%} (chance: 1/32 = 3%).")
short = [c[2:].replace(" facing left", " ←").replace(" facing right", " →")
         for c in caption_set("held-out", 8)[0]]
# four a row: a grid that a slide can widen until its labels read from afar
show_images(images_by_row["held-out"][:8], nrow=4, labels=short, scale=6,
            title="Held-out: never seen in training")
plt.show()

# %% slideshow={"slide_type": "skip"}
assert min(seen[g] for g in ("shape", "colour", "facing")) >= fast_or_full(0.8, 0.9)
assert held["all three"] > 0.25  # far above chance (1/32)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 8. The point of latents: cost
#
# Each network evaluation of the latent UNet sees $8 \times 8$ positions instead of
# $16 \times 16$. We count multiply-adds of one evaluation for one sample (PyTorch's flop
# counter) and time sampling with 25 DDIM steps and guidance (two evaluations a step, batched)
# on this machine.

# %%
one_latent, one_image = torch.randn(1, 4, 8, 8), torch.randn(1, 3, 16, 16)
cost = {
    "latent UNet": {
        "multiply-adds": multiply_adds(unet, one_latent, torch.tensor([100]), tokens[:1]),
        "parameters": count_parameters(unet),
    },
    "pixel UNet (07)": {
        "multiply-adds": multiply_adds(pixel_model, one_image, torch.tensor([100]), context[:1]),
        "parameters": count_parameters(pixel_model),
    },
    "VAE decoder (once)": {
        "multiply-adds": multiply_adds(vae.vae.decoder, one_latent / vae.scaling_factor),
        "parameters": count_parameters(vae.vae.decoder),
    },
}
print_table(cost, formats={"multiply-adds": ",", "parameters": ","})

# %%
n = fast_or_full(32, 256)
start = time.perf_counter()
my_generate(unet, caption_set("seen", n)[0], sampler, 3.0, torch.Generator().manual_seed(2))
latent_seconds = time.perf_counter() - start
start = time.perf_counter()
sample(pixel_model, sampler, (n, 3, 16, 16), context=context[:1].repeat(n, 1), guidance=2.0,
       progress=False)
pixel_seconds = time.perf_counter() - start
print(f"{n} sprites, DDIM 25 with guidance: latent {latent_seconds / n * 1000:.1f} ms a sprite"
      f" (decoder included), pixel {pixel_seconds / n * 1000:.1f} ms")
ratio = cost["latent UNet"]["multiply-adds"] / cost["pixel UNet (07)"]["multiply-adds"]
print(f"multiply-adds of one evaluation, latent / pixel: {ratio:.2f}")

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### Latents pay off when images are large
#
# - Our latent UNet: more parameters than lesson 07's, on a quarter of the positions
# - At $16 \times 16$, latents cost more than they save (the tables above)
# - Stable Diffusion: $512 \times 512 \times 3$ images to $64 \times 64 \times 4$ latents, 48 times
#   fewer numbers: room for a big UNet
# - The price: the VAE's ceiling (section 1)

# %% [markdown] slideshow={"slide_type": "notes"}
# Our latent UNet has more parameters than lesson 07's pixel UNet (wider, with attention
# layers) but runs them on a quarter of the positions; the tables above give the balance in
# multiply-adds and in time on your machine: at $16 \times 16$ latents cost more than they save. Stable
# Diffusion's VAE maps $512 \times 512 \times 3$ images to $64 \times 64 \times 4$ latents, 48
# times fewer numbers: there latents are what makes room for a big UNet, and what they cost
# is the VAE's ceiling of section 1.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 9. The guidance scale
#
# Stronger guidance follows the prompt more at the cost of diversity (lesson 07). We sweep
# diffusers' scale $s = 1 + w$ on the seen captions:

# %%
captions, labels = caption_set("seen", fast_or_full(24, 500))
sweep = {}
for s in (1.0, 2.0, 3.0, 5.0):
    images = my_generate(unet, captions, sampler, s, torch.Generator().manual_seed(3))
    sweep[f"s = {s:g} (w = {s - 1:g})"] = judge_attributes(judge, images, labels)
print_table(sweep, title=f"Judge agreement, {len(captions)} seen captions")

# %% slideshow={"slide_type": "skip"}
assert sweep["s = 3 (w = 2)"]["all three"] >= sweep["s = 1 (w = 0)"]["all three"]

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 10. The same model as a diffusers `StableDiffusionPipeline`, offline
#
# The classic hello world of Stable Diffusion downloads a few gigabytes with
# `StableDiffusionPipeline.from_pretrained("<a Hub id>")`. Ours builds the standard
# components from code, holding the course's weights: `AutoencoderKL`, `UNet2DConditionModel`,
# a transformers `CLIPTextModel`, our `CLIPTokenizer` and a `DDIMScheduler` with the training
# schedule. Then it saves the folder and loads it back, as one would from the Hub.

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### Saved, loaded, run: the same images

# %%
training_schedule = {"type": "linear", "num_timesteps": 500, "beta_start": 1e-4, "beta_end": 0.02}
pipe = to_diffusers_pipeline(unet, vae, text_encoder, tokenizer, training_schedule)
with tempfile.TemporaryDirectory() as folder:
    pipe.save_pretrained(folder)
    pipe = StableDiffusionPipeline.from_pretrained(folder)
pipe.set_progress_bar_config(disable=True)
result = pipe(prompt=demo_prompts, num_inference_steps=25, guidance_scale=3.0,
              generator=torch.Generator().manual_seed(0), output_type="pt").images
difference = (result - (shipped_images / 2 + 0.5)).abs().max()  # result: (8, 3, 16, 16) in [0, 1]
print(f"pipeline images {tuple(result.shape)}; largest difference from our loop: {difference:.1e}")

# %% slideshow={"slide_type": "skip"}
assert difference < 1e-4

# %% [markdown]
# Same seed, same scheduler, same weights: the same images, to float32 rounding. The pipeline
# draws $z_T$ from the generator as our loop does, puts the empty prompt first in the guided
# batch, and decodes $z_0$ divided by the scaling factor, which it reads from the VAE's config
# (`vae.config.scaling_factor`, where Stable Diffusion's says 0.18215).

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Exercises
#
# ### Exercise 1: write it yourself, masked cross-attention
#
# Captions are padded with end tokens. Extend `cross_attention` of section 3 with a padding
# mask: `mask` is bool (N, L_k), True on the tokens a pixel may attend to; the others must get
# weight exactly 0. Set their scores to $-\infty$ before the softmax. The check compares your
# result with `CrossAttention(x, context, mask)`.

# %%
def my_masked_cross_attention(x: torch.Tensor, context: torch.Tensor, layer: torch.nn.Module,
                              mask: torch.Tensor) -> torch.Tensor:
    """x (N, L_q, C) attends to the tokens of context (N, L_k, D) where mask (N, L_k) is True;
    returns (N, L_q, C)."""
    raise NotImplementedError  # your code here


# %%
# (3, 8): start token and words; "" keeps its start token
words_only = token_ids != tokenizer.eos_token_id
check(
    lambda: my_masked_cross_attention(features, tokens, layer, words_only),
    layer(features, tokens, words_only),
    name="my_masked_cross_attention",
    mistakes={
        "attention without the mask": layer(features, tokens),
        "the inverted mask (attending to the padding only)": layer(
            features, tokens, ~words_only | ~words_only.any(1, keepdim=True)
        ),
    },
)

# %% tags=["solution"]
def my_masked_cross_attention(x: torch.Tensor, context: torch.Tensor, layer: torch.nn.Module,
                              mask: torch.Tensor) -> torch.Tensor:
    """x (N, L_q, C) attends to the tokens of context (N, L_k, D) where mask (N, L_k) is True;
    returns (N, L_q, C)."""
    n, heads = x.shape[0], layer.heads
    q = layer.to_q(x).view(n, x.shape[1], heads, -1).transpose(1, 2)  # (N, h, L_q, C/h)
    k = layer.to_k(context).view(n, context.shape[1], heads, -1).transpose(1, 2)  # (N, h, L_k, C/h)
    v = layer.to_v(context).view(n, context.shape[1], heads, -1).transpose(1, 2)  # (N, h, L_k, C/h)
    scores = q @ k.transpose(-2, -1) / q.shape[-1] ** 0.5  # (N, h, L_q, L_k)
    scores = scores.masked_fill(~mask[:, None, None, :], float("-inf"))  # padding gets weight 0
    out = (scores.softmax(dim=-1) @ v).transpose(1, 2).reshape(n, x.shape[1], -1)
    return layer.to_out(out)

assert check(lambda: my_masked_cross_attention(features, tokens, layer, words_only),
             layer(features, tokens, words_only), name="my_masked_cross_attention")

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 2: negative prompts
#
# Stable Diffusion's `negative_prompt` replaces the empty prompt in the guided noise, so that
# guidance pushes *away* from it. Generate "a yellow triangle facing left" for a few dozen seeds with
# the negative prompt "a yellow triangle facing right" and without one, and compare how often
# the judge reads "left". Check that `generate(..., negative_prompts=...)` gives the pipeline's
# images for `negative_prompt=`.

# %%
# Your code here.

# %% tags=["solution"]
n = fast_or_full(16, 100)
prompt, negative = ["a yellow triangle facing left"] * n, ["a yellow triangle facing right"] * n
asked = [("shape", SHAPES, "triangle"), ("colour", COLOURS, "yellow"), ("facing", FACINGS, "left")]
labels = {group: torch.full((n,), names.index(name)) for group, names, name in asked}
left = {}
for name, neg in [("no negative prompt", None), ("negative: facing right", negative)]:
    images = generate(unet, vae, text_encoder, tokenizer, prompt, sampler=sampler,
                      guidance_scale=2.0, negative_prompts=neg,
                      generator=torch.Generator().manual_seed(4))
    left[name] = judge_attributes(judge, images, labels)["facing"]
    print(f"{name:>24}: judge reads 'left' in {left[name]:.0%}")
piped = pipe(prompt=prompt[:4], negative_prompt=negative[:4], num_inference_steps=25,
             guidance_scale=2.0, generator=torch.Generator().manual_seed(5),
             output_type="pt").images
ours = generate(unet, vae, text_encoder, tokenizer, prompt[:4], sampler=sampler,
                guidance_scale=2.0, negative_prompts=negative[:4],
                generator=torch.Generator().manual_seed(5))
assert (piped - (ours / 2 + 0.5)).abs().max() < 1e-4
assert left["negative: facing right"] >= left["no negative prompt"]

# %% [markdown]
# <details class="solution"><summary>Solution</summary>
#
# With the negative prompt the guided noise is
# $\epsilon(\tau(y^-)) + s\,(\epsilon(\tau(y)) - \epsilon(\tau(y^-)))$: the step moves along the
# difference between "left" and "right", the one attribute in which the two prompts differ,
# so the facing is followed at least as often as with the empty prompt (the printed shares).
# The same images come out of the pipeline: its `negative_prompt` is exactly this substitution.
#
# </details>

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 3: a new attribute word
#
# Suppose the sprites got a size attribute, "small" and "large". What happens today to a
# prompt with "large" in it? Tokenize "a large red circle facing left" with the course
# tokenizer and look at the tokens. Which of the three networks would have to be retrained,
# and what would you change in the data, the tokenizer and the text encoder?

# %%
# Your code here.

# %% tags=["solution"]
ids = tokenize(tokenizer, ["a large red circle facing left"])[0].tolist()
print(ids, "->", tokenizer.convert_ids_to_tokens(ids))
bigger = caption_tokenizer([*CAPTION_WORDS, "small", "large"])
print(
    "with the new words:",
    bigger.convert_ids_to_tokens(tokenize(bigger, ["a large red circle facing left"])[0].tolist()),
)

# %% [markdown]
# <details class="solution"><summary>Solution</summary>
#
# "large" is not in the vocabulary, so byte-pair encoding breaks it into pieces that were never
# trained (the printed tokens), and with 8 positions the caption's other words are cut off:
# the text encoder gives the pieces untrained embeddings and the UNet never sees "red circle". To add the attribute: draw sprites in two sizes and add the word to
# the captions; add "small" and "large" to the tokenizer's words (the printed tokenization);
# retrain (or fine-tune, with new embedding rows) the text encoder so that the words mean
# something; retrain the UNet on the new captions. The VAE needs no change: it never sees text,
# and sizes are already among the sprites it reconstructs.
#
# </details>

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "slide"}
# ## Summary
#
# - Stable Diffusion = VAE + frozen CLIP text encoder + UNet that cross-attends to the tokens:
#   we built all three from the course's parts
# - Training: Algorithm 1 on latents, 10% empty captions; sampling: guided DDIM, then the decoder
# - Our loop gave the images of diffusers' `StableDiffusionPipeline`
# - Seen captions followed, unseen pairs far above chance; latents pay off for large images

# %% [markdown] slideshow={"slide_type": "notes"}
# ## Summary
#
# - Stable Diffusion = a VAE (pixels ↔ latents, scaled to unit variance by a measured factor),
#   a frozen CLIP text encoder (one vector per token) and a UNet whose spatial transformers
#   cross-attend from latent pixels to the tokens. We built all three from the course's parts.
# - Cross-attention is $\operatorname{softmax}(QK^\top/\sqrt d)V$ with $Q$ from the image and
#   $K, V$ from the text; a padding mask sets scores to $-\infty$.
# - Training is Algorithm 1 on latents, with 10% of captions replaced by the empty prompt;
#   sampling is guided DDIM on latents, then the decoder. Our loop gave the library's images
#   and those of diffusers' `StableDiffusionPipeline`, also after `save_pretrained` and
#   `from_pretrained` from a local folder.
# - The shipped model follows every attribute of seen captions and combines attributes into
#   pairs it never saw, far above chance (section 7); the VAE's reconstructions set the ceiling.
# - Latents pay off when images are large; at $16 \times 16$ they save little (section 8).

# %% [markdown] slideshow={"slide_type": "slide"}
# ## References
#
# - Robin Rombach, Andreas Blattmann, Dominik Lorenz, Patrick Esser and Björn Ommer (2022).
#   *High-Resolution Image Synthesis with Latent Diffusion Models.* CVPR 2022.
#   [arXiv:2112.10752](https://arxiv.org/abs/2112.10752)
# - Ashish Vaswani, Noam Shazeer, Niki Parmar, Jakob Uszkoreit, Llion Jones, Aidan N. Gomez,
#   Łukasz Kaiser and Illia Polosukhin (2017). *Attention Is All You Need.*
#   [arXiv:1706.03762](https://arxiv.org/abs/1706.03762)
# - Alec Radford, Jong Wook Kim, Chris Hallacy et al. (2021). *Learning Transferable Visual
#   Models From Natural Language Supervision* (CLIP). [arXiv:2103.00020](https://arxiv.org/abs/2103.00020)
# - Jonathan Ho and Tim Salimans (2022). *Classifier-Free Diffusion Guidance.*
#   [arXiv:2207.12598](https://arxiv.org/abs/2207.12598)
# - Jiaming Song, Chenlin Meng and Stefano Ermon (2020). *Denoising Diffusion Implicit Models.*
#   [arXiv:2010.02502](https://arxiv.org/abs/2010.02502)
# - Diederik P. Kingma and Max Welling (2013). *Auto-Encoding Variational Bayes.*
#   [arXiv:1312.6114](https://arxiv.org/abs/1312.6114)
# - Noam Shazeer (2020). *GLU Variants Improve Transformer.* [arXiv:2002.05202](https://arxiv.org/abs/2002.05202)
# - Shanchuan Lin, Bingchen Liu, Jiashi Li and Xiao Yang (2024). *Common Diffusion Noise
#   Schedules and Sample Steps are Flawed.* WACV 2024. [arXiv:2305.08891](https://arxiv.org/abs/2305.08891)
# - Hugging Face diffusers: [Stable Diffusion pipelines](https://huggingface.co/docs/diffusers/api/pipelines/stable_diffusion/overview)
