"""A Stable Diffusion of our own: text-to-image latent diffusion on the procedural sprites.

Three networks, as in Rombach et al. 2022 (figure 3):

* :class:`LatentVAE`: an autoencoder (diffusers' ``AutoencoderKL``, tiny configuration) that
  turns a 16x16x3 sprite into an 8x8x4 latent and back, trained with the VAE loss of
  :mod:`course_lib.vae`. Latents are multiplied by a **scaling factor**, measured as 1 / std
  of the training latents (Rombach et al. 2022, appendix G; 0.18215 for their VAE).
* :class:`CaptionEncoder`: a CLIP text transformer (transformers' ``CLIPTextModel``, tiny
  configuration) over the caption words, trained contrastively against the image encoder of
  :class:`~course_lib.clip.TinyCLIP` (:class:`CaptionCLIP`) and then frozen. The diffusion model
  reads its per-token output (N, L, D), not the pooled vector.
* :class:`TextToImageUNet`: the course UNet's parts (:class:`~course_lib.models.ResBlock`,
  :class:`~course_lib.models.Upsample`, the sinusoidal time embedding) with a
  :class:`~course_lib.attention.SpatialTransformer` after every residual block, so that the
  latent pixels cross-attend to the caption tokens. Its layout is that of diffusers'
  ``UNet2DConditionModel`` (``layers_per_block=1``), so :func:`to_diffusers_unet` converts it by
  renaming its weights.

:func:`generate` is the sampling loop (DDIM, classifier-free guidance with the empty caption as
"no text", as Stable Diffusion does, then decoding); :func:`to_diffusers_pipeline` assembles
the same three networks as a diffusers ``StableDiffusionPipeline``.

Needs diffusers and transformers (``pip install course_lib[diffusers]``) for the VAE, the text
encoder and the conversions; the UNet alone is plain PyTorch.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .attention import SpatialTransformer
from .clip import TinyCLIP
from .data.sprites import COLOURS, FACINGS, SHAPES
from .models import ResBlock, Upsample, sinusoidal_embedding
from .samplers import DDIMSampler
from .schedules import NoiseSchedule
from .training import EMA, diffusion_loss, fit
from .vae import kl_divergence, reparameterise

CAPTION_WORDS = ["a", *COLOURS, *SHAPES, "facing", *FACINGS]
"""Every word of the sprite captions ("a red circle facing left"), the tokenizer's vocabulary."""

HELD_OUT = [("triangle", "red"), ("diamond", "green"), ("circle", "blue"), ("square", "yellow")]
"""(shape, colour) pairs no text-to-image network sees in training: compositional generalisation
is measured on them. Each shape and each colour still occurs with the three other partners."""

BOS, EOS = "<|startoftext|>", "<|endoftext|>"
MAX_TOKENS = 8
"""Tokens per caption: start, up to five words (six with one new word), end and padding."""


def held_out_mask(labels: dict[str, Tensor]) -> Tensor:
    """Bool (N,): True for the sprites whose (shape, colour) is one of :data:`HELD_OUT`."""
    shape, colour = labels["shape"], labels["colour"]
    mask = torch.zeros_like(shape, dtype=torch.bool)
    for s, c in HELD_OUT:
        mask |= (shape == SHAPES.index(s)) & (colour == COLOURS.index(c))
    return mask


# --- text ---------------------------------------------------------------------------------


def caption_tokenizer(words: Sequence[str] = CAPTION_WORDS, max_length: int = MAX_TOKENS):
    """A transformers ``CLIPTokenizer`` whose vocabulary is ``words``, one token per word, built offline.

    CLIP's tokenizer is byte-pair encoding: a word starts as its characters (the last one
    marked "</w>") and adjacent pieces are merged by the rules of ``merges`` in rank order. For
    each word we add the merges that glue its pieces together left to right, so each word
    ends as one token; appending merges never changes a word already built (a new rule has a
    higher rank than every rule the earlier words use), and a final check makes sure.

    Returns a tokenizer whose ids are: start, end (also padding and unknown words), then
    ``words``, then the partial words the merges pass through (which never come out whole).
    """
    from transformers import CLIPTokenizer

    words = list(words)
    if len(set(words)) != len(words) or not all(w.isalpha() and w == w.lower() for w in words):
        raise ValueError(f"words must be distinct lower-case words of letters; got {words}")
    vocab = {BOS: 0, EOS: 1, **{word + "</w>": 2 + i for i, word in enumerate(words)}}
    merges: list[tuple[str, str]] = []
    for word in words:
        pieces = _bpe(word, merges)
        while len(pieces) > 1:
            merges.append((pieces[0], pieces[1]))
            pieces = [pieces[0] + pieces[1], *pieces[2:]]
    # The BPE model wants every piece in its vocabulary too: they follow the words (never output).
    for piece in sorted({p for word in words for p in [*word[:-1], word[-1] + "</w>"]} | {a + b for a, b in merges}):
        vocab.setdefault(piece, len(vocab))
    tokenizer = CLIPTokenizer(vocab=vocab, merges=list(merges), model_max_length=max_length)
    for word in words:
        if tokenizer(word, add_special_tokens=False).input_ids != [vocab[word + "</w>"]]:
            raise RuntimeError(f"the tokenizer splits {word!r} into several tokens")
    return tokenizer


def _bpe(word: str, merges: list[tuple[str, str]]) -> list[str]:
    """Apply ``merges`` (in rank order, lowest first) to ``word``'s characters, as CLIP's BPE does."""
    pieces = [*word[:-1], word[-1] + "</w>"]
    rank = {pair: i for i, pair in enumerate(merges)}
    while len(pieces) > 1:
        pairs = [(rank.get((a, b), len(rank)), i) for i, (a, b) in enumerate(zip(pieces, pieces[1:]))]
        best, i = min(pairs)
        if best == len(rank):
            break
        pieces = [*pieces[:i], pieces[i] + pieces[i + 1], *pieces[i + 2:]]
    return pieces


def tokenize(tokenizer, prompts: Sequence[str]) -> Tensor:
    """Prompts -> long (N, max_length) ids, padded as Stable Diffusion pads them (to the tokenizer's length)."""
    if isinstance(prompts, str):
        raise TypeError("prompts must be a list of strings, not one string")
    return tokenizer(list(prompts), padding="max_length", max_length=tokenizer.model_max_length,
                     truncation=True, return_tensors="pt").input_ids


class CaptionEncoder(nn.Module):
    """A tiny CLIP text transformer (transformers' ``CLIPTextModelWithProjection``), built from code.

    Token and position embeddings, ``layers`` pre-LayerNorm transformer layers with a causal
    mask (each token sees itself and the tokens before it, as in CLIP), a final LayerNorm.

    Args:
        vocab_size: ``len(tokenizer)``.
        width: D, the size of each token's embedding (the UNet's cross-attention dimension).
        layers, heads: transformer layers and attention heads (``width`` divisible by ``heads``).
        max_length: positions (the tokenizer's ``model_max_length``).
        embed_dim: size of the pooled, projected caption vector used for contrastive training.

    ``forward(input_ids)``: long (N, L) -> per-token embeddings (N, L, D), what the UNet reads.
    :meth:`pooled` gives the projected vector at the end token, (N, embed_dim).
    """

    def __init__(self, vocab_size: int, width: int = 32, layers: int = 2, heads: int = 4, max_length: int = MAX_TOKENS,
                 embed_dim: int = 32) -> None:
        super().__init__()
        from transformers import CLIPTextConfig, CLIPTextModelWithProjection

        self.config = dict(vocab_size=vocab_size, width=width, layers=layers, heads=heads, max_length=max_length,
                           embed_dim=embed_dim)
        self.text_config = CLIPTextConfig(
            vocab_size=vocab_size, hidden_size=width, intermediate_size=4 * width, num_hidden_layers=layers,
            num_attention_heads=heads, max_position_embeddings=max_length, projection_dim=embed_dim,
            bos_token_id=0, eos_token_id=1, pad_token_id=1, hidden_act="quick_gelu",
        )
        self.clip = CLIPTextModelWithProjection(self.text_config)
        self.width = width

    def forward(self, input_ids: Tensor) -> Tensor:
        return self.clip.text_model(input_ids=input_ids).last_hidden_state

    def pooled(self, input_ids: Tensor) -> Tensor:
        """Projected output at each caption's end token, (N, embed_dim)."""
        return self.clip(input_ids=input_ids).text_embeds

    def to_transformers(self):
        """A transformers ``CLIPTextModel`` holding these weights (what a ``StableDiffusionPipeline`` takes)."""
        from transformers import CLIPTextModel

        model = CLIPTextModel(self.text_config)
        getattr(model, "text_model", model).load_state_dict(self.clip.text_model.state_dict(), strict=True)  # transformers 4 nests it
        return model.eval()


class _PooledText(nn.Module):
    def __init__(self, encoder: CaptionEncoder) -> None:
        super().__init__()
        self.encoder = encoder

    def forward(self, input_ids: Tensor) -> Tensor:
        return self.encoder.pooled(input_ids)


class CaptionCLIP(TinyCLIP):
    """:class:`~course_lib.clip.TinyCLIP` whose text tower is a :class:`CaptionEncoder`; train it with ``train_clip``."""

    def __init__(self, encoder: CaptionEncoder, in_channels: int = 3, width: int = 32) -> None:
        super().__init__(vocab_size=encoder.config["vocab_size"], embed_dim=encoder.config["embed_dim"],
                         in_channels=in_channels, width=width, max_len=encoder.config["max_length"])
        self.text_encoder = _PooledText(encoder)


# --- images <-> latents -------------------------------------------------------------------


class LatentVAE(nn.Module):
    """diffusers' ``AutoencoderKL`` in a tiny configuration: (N, 3, 16, 16) images <-> (N, 4, 8, 8) latents.

    Encoder: a conv, ``len(block_out_channels)`` down blocks of residual blocks (the first ones
    halve the resolution), a middle block with self-attention, a conv to the mean and
    log-variance of q(z | x). The decoder mirrors it. ``scaling_factor`` (a buffer, set after
    training with :meth:`measure_scaling_factor`) makes the scaled latents' std 1.

    Args:
        block_out_channels: channels per resolution; the image is halved ``len - 1`` times.
        latent_channels: channels of the latent.
        image_size: side of the images (16 for the sprites).
    """

    def __init__(self, block_out_channels: Sequence[int] = (32, 64), latent_channels: int = 4, image_size: int = 16,
                 in_channels: int = 3) -> None:
        super().__init__()
        from diffusers import AutoencoderKL

        block_out_channels = list(block_out_channels)
        self.config = dict(block_out_channels=block_out_channels, latent_channels=latent_channels,
                           image_size=image_size, in_channels=in_channels)
        n = len(block_out_channels)
        self.vae = AutoencoderKL(
            in_channels=in_channels, out_channels=in_channels, down_block_types=("DownEncoderBlock2D",) * n,
            up_block_types=("UpDecoderBlock2D",) * n, block_out_channels=tuple(block_out_channels), layers_per_block=1,
            latent_channels=latent_channels, norm_num_groups=8, sample_size=image_size, force_upcast=False,
        )
        self.register_buffer("scaling_factor", torch.tensor(1.0))
        self.latent_shape = (latent_channels, image_size // 2 ** (n - 1), image_size // 2 ** (n - 1))

    def encode(self, images: Tensor, generator: torch.Generator | None = None, sample: bool = True) -> tuple[Tensor, Tensor, Tensor]:
        """Images (N, 3, H, W) in [-1, 1] -> (z, mu, logvar), each (N, *latent_shape), unscaled.

        z = mu + sigma * eps with eps from ``generator`` (the reparameterisation trick), or
        z = mu with ``sample=False``.
        """
        posterior = self.vae.encode(images).latent_dist
        mu, logvar = posterior.mean, posterior.logvar
        z = reparameterise(mu.flatten(1), logvar.flatten(1), generator).view_as(mu) if sample else mu
        return z, mu, logvar

    def decode(self, z: Tensor) -> Tensor:
        """Unscaled latents (N, *latent_shape) -> images (N, 3, H, W), not clamped."""
        return self.vae.decode(z).sample

    @torch.no_grad()
    def measure_scaling_factor(self, latents: Tensor) -> float:
        """Set and return 1 / std of ``latents`` (N, *latent_shape), as Rombach et al. 2022 (appendix G) do."""
        self.scaling_factor.fill_(1.0 / latents.float().std().item())
        return self.scaling_factor.item()

    def to_diffusers(self):
        """diffusers' ``AutoencoderKL`` with these weights and ``config.scaling_factor`` set."""
        import copy

        vae = copy.deepcopy(self.vae).eval()
        vae.register_to_config(scaling_factor=float(self.scaling_factor))
        return vae


def vae_training_loss(vae: LatentVAE, images: Tensor, beta: float, generator: torch.Generator | None = None) -> Tensor:
    """Negative ELBO per image: |x - x_hat|^2 summed over pixels + beta * KL(q(z|x) || N(0, I)), batch mean."""
    z, mu, logvar = vae.encode(images, generator)
    reconstruction = (vae.decode(z) - images).pow(2).flatten(1).sum(1).mean()
    return reconstruction + beta * kl_divergence(mu.flatten(1), logvar.flatten(1)).mean()


def train_latent_vae(vae: LatentVAE, images: Tensor, *, steps: int, batch_size: int = 64, lr: float = 1e-3,
                     beta: float = 1e-3, seed: int = 0, progress: bool = True) -> list[float]:
    """Train ``vae`` on images (N, 3, H, W) in [-1, 1]; returns each step's loss. Then measures the scaling factor."""
    generator = torch.Generator().manual_seed(seed)
    batches = (torch.randint(0, len(images), (batch_size,), generator=generator) for _ in iter(int, 1))
    losses = fit(vae, lambda idx: vae_training_loss(vae, images[idx], beta, generator), batches, steps=steps, lr=lr,
                 lr_schedule="cosine", progress=progress, desc="latent vae")
    with torch.no_grad():
        latents = torch.cat([vae.encode(chunk, sample=False)[0] for chunk in images[:2048].split(512)])
    vae.measure_scaling_factor(latents)
    return losses


@torch.no_grad()
def encode_images(vae: LatentVAE, images: Tensor, generator: torch.Generator | None = None, batch_size: int = 512) -> Tensor:
    """Images (N, 3, H, W) -> scaled latents (N, *latent_shape): a sample of q(z | x) times the scaling factor."""
    vae.eval()
    z = [vae.encode(chunk, generator)[0] for chunk in images.split(batch_size)]
    return torch.cat(z) * vae.scaling_factor


@torch.no_grad()
def decode_latents(vae: LatentVAE, latents: Tensor) -> Tensor:
    """Scaled latents (N, *latent_shape) -> images (N, 3, H, W) clamped to [-1, 1]."""
    vae.eval()
    return vae.decode(latents / vae.scaling_factor).clamp(-1, 1)


# --- the denoiser -------------------------------------------------------------------------


class TextToImageUNet(nn.Module):
    """A UNet whose residual blocks are each followed by cross-attention to the caption tokens.

    The layout of diffusers' ``UNet2DConditionModel`` with ``layers_per_block=1`` and
    cross-attention in every block (Rombach et al. 2022, section 3.3): on the way down, per
    resolution, a :class:`~course_lib.models.ResBlock` then a
    :class:`~course_lib.attention.SpatialTransformer`, then a strided conv (except at the
    lowest resolution); a middle ResBlock, transformer, ResBlock; on the way up, per
    resolution, two (ResBlock, transformer) pairs, each ResBlock taking the concatenation of
    the features and one saved skip tensor, then nearest upsampling and a conv.

    Args:
        in_channels: latent channels (4).
        base_channels: channels at the full latent resolution.
        channel_mults: multiples of ``base_channels`` per resolution (the latent is halved len - 1 times).
        context_dim: D, the width of the text tokens.
        heads: attention heads of every transformer.
        num_groups: GroupNorm groups.

    ``model(x, t, context, mask=None)``: x (N, in_channels, H, W), t long (N,), context the
    caption tokens (N, L, D), optional bool mask (N, L) of the tokens that may be attended to.
    Returns the predicted noise, (N, in_channels, H, W).
    """

    def __init__(self, in_channels: int = 4, base_channels: int = 32, channel_mults: Sequence[int] = (1, 2),
                 context_dim: int = 32, heads: int = 4, num_groups: int = 8) -> None:
        super().__init__()
        chans = [base_channels * m for m in channel_mults]
        self.config = dict(in_channels=in_channels, base_channels=base_channels, channel_mults=list(channel_mults),
                           context_dim=context_dim, heads=heads, num_groups=num_groups)
        self.in_channels, self.context_dim, self.base_channels = in_channels, context_dim, base_channels
        self.downsample_factor = 2 ** (len(chans) - 1)
        emb_dim = 4 * base_channels
        self.time_mlp = nn.Sequential(nn.Linear(base_channels, emb_dim), nn.SiLU(), nn.Linear(emb_dim, emb_dim))
        self.conv_in = nn.Conv2d(in_channels, chans[0], 3, padding=1)

        def stage(c_in: int, c_out: int) -> nn.ModuleDict:
            return nn.ModuleDict(dict(resnet=ResBlock(c_in, c_out, emb_dim, num_groups),
                                      attention=SpatialTransformer(c_out, context_dim, heads, num_groups)))

        self.down = nn.ModuleList(stage(chans[max(i - 1, 0)], c) for i, c in enumerate(chans))
        self.downsample = nn.ModuleList(nn.Conv2d(c, c, 3, stride=2, padding=1) for c in chans[:-1])
        self.mid = stage(chans[-1], chans[-1])
        self.mid_resnet = ResBlock(chans[-1], chans[-1], emb_dim, num_groups)
        # Skip channels, in the order they are popped: as diffusers' CrossAttnUpBlock2D wires them.
        skips = [chans[0]] + [c for i, c in enumerate(chans) for c in ([c, c] if i < len(chans) - 1 else [c])]
        self.up = nn.ModuleList()
        self.upsample = nn.ModuleList()
        h = chans[-1]
        for i, c in enumerate(reversed(chans)):
            pairs = nn.ModuleList()
            for _ in range(2):
                pairs.append(stage(h + skips.pop(), c))
                h = c
            self.up.append(pairs)
            if i < len(chans) - 1:
                self.upsample.append(Upsample(c, c))
        self.norm_out = nn.GroupNorm(num_groups, chans[0])
        self.conv_out = nn.Conv2d(chans[0], in_channels, 3, padding=1)

    def forward(self, x: Tensor, t: Tensor, context: Tensor, mask: Tensor | None = None) -> Tensor:
        if not isinstance(x, Tensor) or x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"x must have shape (N, {self.in_channels}, H, W); got {getattr(x, 'shape', type(x))}")
        if x.shape[2] % self.downsample_factor or x.shape[3] % self.downsample_factor:
            raise ValueError(f"x's height and width must be divisible by {self.downsample_factor}; got {tuple(x.shape)}")
        if not isinstance(context, Tensor) or context.ndim != 3 or context.shape[0] != x.shape[0] \
                or context.shape[2] != self.context_dim:
            raise ValueError(f"context must be caption tokens of shape ({x.shape[0]}, L, {self.context_dim}); "
                             f"got {getattr(context, 'shape', type(context))}")
        if not isinstance(t, Tensor) or t.shape != (x.shape[0],) or t.dtype.is_floating_point:
            raise ValueError(f"t must be an integer tensor of shape ({x.shape[0]},); got {getattr(t, 'shape', t)}")
        emb = self.time_mlp(sinusoidal_embedding(t, self.base_channels).to(x.dtype))  # (N, 4 * base)
        h = self.conv_in(x)
        skips = [h]
        for i, stage in enumerate(self.down):
            h = stage["attention"](stage["resnet"](h, emb), context, mask)
            skips.append(h)
            if i < len(self.downsample):
                h = self.downsample[i](h)
                skips.append(h)
        h = self.mid_resnet(self.mid["attention"](self.mid["resnet"](h, emb), context, mask), emb)
        for i, pairs in enumerate(self.up):
            for stage in pairs:
                h = stage["attention"](stage["resnet"](torch.cat([h, skips.pop()], dim=1), emb), context, mask)
            if i < len(self.upsample):
                h = self.upsample[i](h)
        return self.conv_out(F.silu(self.norm_out(h)))


# --- training and sampling ----------------------------------------------------------------


@torch.no_grad()
def encode_prompts(text_encoder: CaptionEncoder, tokenizer, prompts: Sequence[str]) -> Tensor:
    """Prompts -> per-token embeddings (N, max_length, D) of the frozen text encoder."""
    text_encoder.eval()
    return text_encoder(tokenize(tokenizer, prompts))


def train_text_to_image(unet: TextToImageUNet, schedule: NoiseSchedule, latents: Tensor, caption_ids: Tensor,
                        caption_embeddings: Tensor, *, steps: int, batch_size: int = 128, lr: float = 1e-3,
                        caption_dropout: float = 0.1, ema_decay: float | None = 0.999, seed: int = 0,
                        progress: bool = True) -> tuple[list[float], nn.Module]:
    """Train ``unet`` with the simplified loss (Ho et al. 2020, eq. 14) on scaled latents and captions.

    Args:
        latents: scaled latents (N, C, h, w).
        caption_ids: long (N,): row of ``caption_embeddings`` holding each latent's caption.
        caption_embeddings: (K + 1, L, D), the frozen text encoder's output for the K captions,
            and in the last row for the empty caption "": caption dropout replaces a caption by
            it with probability ``caption_dropout``, which teaches the unconditional prediction
            that classifier-free guidance needs (Ho & Salimans 2022; Stable Diffusion drops 10%).
        ema_decay: average the weights (None: no average).

    Returns:
        (the loss of each step, the EMA model or ``unet`` itself).
    """
    generator = torch.Generator().manual_seed(seed)
    empty = len(caption_embeddings) - 1
    ema = EMA(unet, ema_decay) if ema_decay is not None else None

    def loss_fn(idx: Tensor) -> Tensor:
        ids = caption_ids[idx].clone()
        ids[torch.rand(len(idx), generator=generator) < caption_dropout] = empty  # Ho & Salimans 2022, Algorithm 1
        return diffusion_loss(lambda x, t, c: unet(x, t, c), schedule, latents[idx], caption_embeddings[ids], generator)

    batches = (torch.randint(0, len(latents), (batch_size,), generator=generator) for _ in iter(int, 1))
    losses = fit(unet, loss_fn, batches, steps=steps, lr=lr, lr_schedule="cosine", progress=progress,
                 desc="text-to-image", on_step=lambda step: ema.update(unet) if ema is not None else None)
    return losses, (ema.model if ema is not None else unet)


def guided_noise(unet: nn.Module, latents: Tensor, t: int, text: Tensor, no_text: Tensor, guidance_scale: float) -> Tensor:
    """eps_uncond + s (eps_text - eps_uncond) (Ho & Salimans 2022, eq. 6 with s = 1 + w), one batched call.

    latents (N, C, h, w), text and no_text (N, L, D). ``guidance_scale`` s = 1 is no guidance.
    """
    timesteps = torch.full((2 * len(latents),), int(t), dtype=torch.long)
    eps_uncond, eps_text = unet(torch.cat([latents, latents]), timesteps, torch.cat([no_text, text])).chunk(2)
    return eps_uncond + guidance_scale * (eps_text - eps_uncond)


@torch.no_grad()
def generate(unet: nn.Module, vae: LatentVAE, text_encoder: CaptionEncoder, tokenizer, prompts: Sequence[str], *,
             sampler: DDIMSampler, guidance_scale: float = 3.0, negative_prompts: Sequence[str] | None = None,
             generator: torch.Generator | None = None, return_latents: bool = False) -> Tensor:
    """Text to images: DDIM in latent space with classifier-free guidance, then the VAE's decoder.

    The steps of diffusers' ``StableDiffusionPipeline``: latents z_T ~ N(0, I) of shape
    (N, *vae.latent_shape) drawn from ``generator``; the prompts and the negative prompts
    (default the empty caption) through the text encoder; at each of the sampler's timesteps
    the guided noise and a DDIM step; finally x = decoder(z_0 / scaling_factor).

    Returns images (N, 3, H, W) in [-1, 1] (or the final scaled latents with ``return_latents``).
    """
    if guidance_scale < 1:
        raise ValueError(f"guidance_scale must be >= 1 (1 = no guidance); got {guidance_scale!r}")
    unet.eval()
    negative_prompts = [""] * len(prompts) if negative_prompts is None else list(negative_prompts)
    text, no_text = encode_prompts(text_encoder, tokenizer, prompts), encode_prompts(text_encoder, tokenizer, negative_prompts)
    latents = torch.randn((len(prompts), *vae.latent_shape), generator=generator)
    for t in sampler.timesteps.tolist():
        latents = sampler.step(guided_noise(unet, latents, t, text, no_text, guidance_scale), t, latents, generator=generator)
    return latents if return_latents else decode_latents(vae, latents)


# --- diffusers --------------------------------------------------------------------------------

_UNET_RENAMES = [
    (r"^time_mlp\.0\.", "time_embedding.linear_1."), (r"^time_mlp\.2\.", "time_embedding.linear_2."),
    (r"^down\.(\d+)\.resnet\.", r"down_blocks.\1.resnets.0."), (r"^down\.(\d+)\.attention\.", r"down_blocks.\1.attentions.0."),
    (r"^downsample\.(\d+)\.", r"down_blocks.\1.downsamplers.0.conv."),
    (r"^mid\.resnet\.", "mid_block.resnets.0."), (r"^mid_resnet\.", "mid_block.resnets.1."),
    (r"^mid\.attention\.", "mid_block.attentions.0."),
    (r"^up\.(\d+)\.(\d+)\.resnet\.", r"up_blocks.\1.resnets.\2."), (r"^up\.(\d+)\.(\d+)\.attention\.", r"up_blocks.\1.attentions.\2."),
    (r"^upsample\.(\d+)\.conv\.", r"up_blocks.\1.upsamplers.0.conv."),
    (r"^norm_out\.", "conv_norm_out."),
    (r"\.emb\.", ".time_emb_proj."), (r"\.skip\.", ".conv_shortcut."),
    (r"\.block\.", ".transformer_blocks.0."), (r"\.to_out\.", ".to_out.0."),
    (r"\.ff\.proj\.", ".ff.net.0.proj."), (r"\.ff\.out\.", ".ff.net.2."),
]


def diffusers_unet_key(name: str) -> str:
    """The name of one of :class:`TextToImageUNet`'s weights in diffusers' ``UNet2DConditionModel``."""
    for pattern, replacement in _UNET_RENAMES:
        name = re.sub(pattern, replacement, name)
    return name


def to_diffusers_unet(model: TextToImageUNet, sample_size: int):
    """diffusers' ``UNet2DConditionModel`` computing the same function as ``model`` (weights renamed, not changed).

    The configuration: one layer per block, cross-attention everywhere, linear projections in
    and out of the transformers, and the course's sinusoidal time embedding (sin then cos,
    frequencies 10000^(-i / (dim/2 - 1)): ``flip_sin_to_cos=False, freq_shift=1``).
    """
    from diffusers import UNet2DConditionModel

    c = model.config
    n = len(c["channel_mults"])
    unet = UNet2DConditionModel(
        sample_size=sample_size, in_channels=c["in_channels"], out_channels=c["in_channels"],
        flip_sin_to_cos=False, freq_shift=1, down_block_types=("CrossAttnDownBlock2D",) * n,
        up_block_types=("CrossAttnUpBlock2D",) * n, block_out_channels=tuple(c["base_channels"] * m for m in c["channel_mults"]),
        layers_per_block=1, norm_num_groups=c["num_groups"], cross_attention_dim=c["context_dim"],
        attention_head_dim=c["heads"], use_linear_projection=True,
    )
    state = {diffusers_unet_key(k): v for k, v in model.state_dict().items()}
    unet.load_state_dict(state, strict=True)
    return unet.to(next(model.parameters()).device).eval()


def to_diffusers_pipeline(unet: TextToImageUNet, vae: LatentVAE, text_encoder: CaptionEncoder, tokenizer,
                          schedule_config: dict, timestep_spacing: str = "trailing"):
    """The three networks as a diffusers ``StableDiffusionPipeline`` with a ``DDIMScheduler`` (no safety checker).

    Args:
        schedule_config: the linear schedule the UNet was trained with, as in the manifest
            ({"type": "linear", "num_timesteps", "beta_start", "beta_end"}).
        timestep_spacing: the DDIM spacing; use the same in :class:`~course_lib.samplers.DDIMSampler`.
    """
    from diffusers import DDIMScheduler, StableDiffusionPipeline

    if schedule_config.get("type") != "linear":
        raise ValueError(f"only the linear schedule is converted; got {schedule_config}")
    scheduler = DDIMScheduler(num_train_timesteps=schedule_config["num_timesteps"], beta_start=schedule_config["beta_start"],
                              beta_end=schedule_config["beta_end"], beta_schedule="linear", clip_sample=False,
                              set_alpha_to_one=True, timestep_spacing=timestep_spacing,
                              steps_offset=1 if timestep_spacing == "trailing" else 0)  # "trailing" ignores the offset; 0 would warn
    latent_side = vae.latent_shape[1]
    return StableDiffusionPipeline(
        vae=vae.to_diffusers(), text_encoder=text_encoder.to_transformers(), tokenizer=tokenizer,
        unet=to_diffusers_unet(unet, latent_side), scheduler=scheduler, safety_checker=None,
        feature_extractor=None, requires_safety_checker=False,
    )


# --- the shipped models' recipes (course_lib.pretrained runs them) -------------------------

SPRITE_IMAGES = dict(n=8192, size=16, seed=0)
"""The training sprites of every network here (the pixel-space ``sprites`` model's data), less :data:`HELD_OUT`."""


def training_sprites() -> tuple[Tensor, list[str]]:
    """The training images (N, 3, 16, 16) in [-1, 1] and their captions, held-out pairs removed."""
    from .data.sprites import caption, make_sprites

    sprites = make_sprites(**SPRITE_IMAGES)
    keep = ~held_out_mask(sprites.labels)
    return sprites.images[keep], [caption(row) for row in sprites.attributes[keep]]


def train_sprite_vae(steps: int = 1000, seed: int = 0, progress: bool = True) -> tuple[LatentVAE, dict]:
    """Recipe of the shipped latent VAE: (16, 32) channels, 8x8x4 latents, beta 1e-3, batch 64, lr 2e-3 cosine."""
    torch.manual_seed(seed)
    images, _ = training_sprites()
    vae = LatentVAE(block_out_channels=(16, 32))
    losses = train_latent_vae(vae, images, steps=steps, batch_size=64, lr=2e-3, beta=1e-3, seed=seed, progress=progress)
    return vae.eval(), {"examples": len(images), "final_loss": round(sum(losses[-100:]) / len(losses[-100:]), 4),
                        "scaling_factor": round(float(vae.scaling_factor), 5)}


def train_caption_encoder(steps: int = 1000, seed: int = 0, progress: bool = True) -> tuple[CaptionEncoder, dict]:
    """Recipe of the shipped text encoder: contrastive (CLIP) training on the sprites and their captions, batch 64."""
    from .clip import train_clip

    torch.manual_seed(seed)
    images, captions = training_sprites()
    tokenizer = caption_tokenizer()
    encoder = CaptionEncoder(len(tokenizer))
    clip = CaptionCLIP(encoder)
    losses = train_clip(clip, images, tokenize(tokenizer, captions), steps=steps, batch_size=64, lr=2e-3, seed=seed,
                        progress=progress)
    return encoder.eval(), {"examples": len(images), "final_loss": round(sum(losses[-100:]) / len(losses[-100:]), 4)}


def caption_table(text_encoder: CaptionEncoder, tokenizer, captions: Sequence[str]) -> tuple[Tensor, Tensor]:
    """(caption_ids (N,), embeddings (K + 1, L, D)): each caption's row among the K distinct ones; the last row is ""."""
    distinct = sorted(set(captions))
    index = {text: i for i, text in enumerate(distinct)}
    return torch.tensor([index[text] for text in captions]), encode_prompts(text_encoder, tokenizer, [*distinct, ""])


def train_sprite_text_to_image(vae: LatentVAE, text_encoder: CaptionEncoder, schedule: NoiseSchedule, steps: int = 2000,
                               seed: int = 0, progress: bool = True, **unet_config) -> tuple[nn.Module, dict]:
    """Recipe of the shipped text-to-image UNet: frozen VAE and text encoder, caption dropout 0.1, batch 64, EMA 0.999."""
    torch.manual_seed(seed)
    images, captions = training_sprites()
    generator = torch.Generator().manual_seed(seed)
    latents = encode_images(vae, images, generator)
    caption_ids, table = caption_table(text_encoder, caption_tokenizer(), captions)
    unet = TextToImageUNet(context_dim=text_encoder.width, **unet_config)
    losses, ema = train_text_to_image(unet, schedule, latents, caption_ids, table, steps=steps, batch_size=64,
                                      lr=1e-3, caption_dropout=0.1, ema_decay=0.999, seed=seed, progress=progress)
    return ema.eval(), {"examples": len(images), "final_loss": round(sum(losses[-100:]) / len(losses[-100:]), 4)}


# --- measuring prompt following ------------------------------------------------------------


def caption_set(kind: str, n: int) -> tuple[list[str], dict[str, Tensor]]:
    """``n`` captions cycling through every "seen" or "held-out" (shape, colour, facing) combination.

    Returns the captions and their labels {"shape", "colour", "facing"} -> long (n,), indices
    into SHAPES, COLOURS, FACINGS (the sprite judge's groups).
    """
    if kind not in ("seen", "held-out"):
        raise ValueError(f"kind must be 'seen' or 'held-out'; got {kind!r}")
    combos = [(s, c, f) for s in SHAPES for c in COLOURS for f in FACINGS if ((s, c) in HELD_OUT) == (kind == "held-out")]
    chosen = [combos[i % len(combos)] for i in range(n)]
    captions = [f"a {c} {s} facing {f}" for s, c, f in chosen]
    labels = {group: torch.tensor([names.index(combo[k]) for combo in chosen])
              for k, (group, names) in enumerate([("shape", SHAPES), ("colour", COLOURS), ("facing", FACINGS)])}
    return captions, labels


@torch.no_grad()
def judge_attributes(judge: nn.Module, images: Tensor, labels: dict[str, Tensor]) -> dict[str, float]:
    """The sprite judge's agreement with the asked attributes: the share right per group and for all three.

    Args:
        judge: the multi-label sprite classifier (10 logits: shapes, colours, facings).
        images: (N, 3, 16, 16) in [-1, 1].
        labels: as returned by :func:`caption_set`.
    """
    judge.eval()
    logits = judge(images.clamp(-1, 1).to(next(judge.parameters()).device)).cpu()
    right, start = [], 0
    for group, names in (("shape", SHAPES), ("colour", COLOURS), ("facing", FACINGS)):
        right.append(logits[:, start:start + len(names)].argmax(1) == labels[group])
        start += len(names)
    scores = {group: r.float().mean().item() for group, r in zip(("shape", "colour", "facing"), right)}
    scores["all three"] = torch.stack(right).all(0).float().mean().item()
    return scores


def multiply_adds(model: nn.Module, *inputs: Tensor) -> int:
    """Multiply-adds of one call ``model(*inputs)``: half the FLOPs PyTorch's flop counter counts (convs, matmuls)."""
    from torch.utils.flop_counter import FlopCounterMode

    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(*inputs)
    return counter.get_total_flops() // 2


def attribute_context(labels: dict[str, Tensor]) -> Tensor:
    """The multi-hot context (N, 10) of lesson 07's pixel-space ``sprites`` model for :func:`caption_set` labels."""
    from .data.sprites import attributes_to_context

    return torch.stack([attributes_to_context(SHAPES[s], COLOURS[c], FACINGS[f])
                        for s, c, f in zip(labels["shape"].tolist(), labels["colour"].tolist(), labels["facing"].tolist())])
