"""A tiny CLIP: an image encoder and a text encoder trained to agree (Radford et al. 2021).

Both encoders map into one ``embed_dim``-dimensional space and their outputs are
L2-normalised, so the similarity of an image and a caption is a cosine. For a batch of N
matching (image, caption) pairs the logits are ``scale * I @ T.T`` (N x N), whose diagonal
holds the true pairs; the symmetric InfoNCE loss (van den Oord et al. 2018; Radford et al.
2021, figure 3) is the mean of two cross-entropies, one over each row (which caption goes
with this image?) and one over each column (which image goes with this caption?).

Captions are short lower-case sentences over a small word vocabulary (the sprite captions
"a red circle facing left"); :class:`Vocabulary` turns them into token ids.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .classifier import Classifier
from .training import fit
from .validation import check_int, check_number, describe

PAD = "<pad>"


class Vocabulary:
    """Word <-> id map for whitespace-separated lower-case captions; id 0 is padding.

    Build it with :meth:`from_captions`; :meth:`encode` turns captions into a padded
    (N, max_len) long tensor and raises ``ValueError`` on a word it does not know.
    """

    def __init__(self, words: Sequence[str]) -> None:
        words = list(words)
        if len(set(words)) != len(words) or PAD in words:
            raise ValueError(f"words must be distinct and must not contain {PAD!r}; got {words}")
        self.words = [PAD, *words]
        self.index = {word: i for i, word in enumerate(self.words)}

    @classmethod
    def from_captions(cls, captions: Sequence[str]) -> Vocabulary:
        """Every word that occurs in ``captions``, in sorted order."""
        return cls(sorted({word for text in _check_captions(captions) for word in text.split()}))

    def __len__(self) -> int:
        return len(self.words)

    def encode(self, captions: Sequence[str], max_len: int | None = None) -> Tensor:
        """Captions -> long tensor (N, max_len) of word ids, right-padded with 0.

        ``max_len`` defaults to the longest caption; a longer caption raises ``ValueError``.
        """
        tokenised = [text.split() for text in _check_captions(captions)]
        longest = max(len(words) for words in tokenised)
        max_len = longest if max_len is None else max_len
        if longest > max_len:
            raise ValueError(f"max_len={max_len} is shorter than the longest caption ({longest} words)")
        ids = torch.zeros(len(tokenised), max_len, dtype=torch.long)
        for row, words in enumerate(tokenised):
            for col, word in enumerate(words):
                if word not in self.index:
                    raise ValueError(f"captions contain the word {word!r}, which is not in the vocabulary {self.words[1:]}")
                ids[row, col] = self.index[word]
        return ids


class TextEncoder(nn.Module):
    """Word + position embeddings, one transformer encoder layer, mean over the words, a linear map.

    ``forward(tokens)``: long (N, L) ids with 0 as padding, at least one word per row -> (N, out_dim).
    """

    def __init__(self, vocab_size: int, out_dim: int, width: int = 64, max_len: int = 16, num_heads: int = 4) -> None:
        super().__init__()
        self.max_len = max_len
        self.token = nn.Embedding(vocab_size, width, padding_idx=0)
        self.position = nn.Parameter(torch.randn(max_len, width) * 0.02)
        self.layer = nn.TransformerEncoderLayer(width, num_heads, dim_feedforward=2 * width, dropout=0.0,
                                                batch_first=True, norm_first=True)
        self.proj = nn.Linear(width, out_dim)

    def forward(self, tokens: Tensor) -> Tensor:
        if not isinstance(tokens, Tensor) or tokens.dtype != torch.long or tokens.ndim != 2:
            raise TypeError(f"tokens must be a long tensor of shape (N, L); got {describe(tokens)}")
        if tokens.shape[1] > self.max_len:
            raise ValueError(f"tokens has {tokens.shape[1]} positions; this encoder takes at most max_len={self.max_len}")
        if tokens.numel() and (tokens.min() < 0 or tokens.max() >= self.token.num_embeddings):
            raise ValueError(f"tokens must be word ids in [0, {self.token.num_embeddings - 1}]")
        words = tokens != 0
        if not words.any(dim=1).all():
            raise ValueError("every caption must contain at least one word (a row of tokens is all padding)")
        h = self.token(tokens) + self.position[: tokens.shape[1]]
        h = self.layer(h, src_key_padding_mask=~words)
        h = (h * words[..., None]).sum(dim=1) / words.sum(dim=1, keepdim=True)
        return self.proj(h)


class TinyCLIP(nn.Module):
    """Image encoder (the course's small CNN) + :class:`TextEncoder`, with a learned temperature.

    Args:
        vocab_size: ``len(vocabulary)``.
        embed_dim: size of the shared embedding space.
        in_channels: image channels (3 for sprites); images (N, C, H, W) in [-1, 1], H and W multiples of 4.
        width: channels of the image CNN and width of the text transformer (a multiple of 8).
        max_len: longest caption, in words.
        init_temperature: initial softmax temperature tau; the logit scale 1/tau is learned
            (as log(1/tau)) and capped at 100, as in Radford et al. 2021, section 2.5.
    """

    max_logit_scale = 100.0

    def __init__(self, vocab_size: int, embed_dim: int = 32, in_channels: int = 3, width: int = 32, max_len: int = 16,
                 init_temperature: float = 0.07) -> None:
        super().__init__()
        for name, value in [("vocab_size", vocab_size), ("embed_dim", embed_dim), ("in_channels", in_channels),
                            ("width", width), ("max_len", max_len)]:
            check_int(name, value)
        if vocab_size < 2:
            raise ValueError(f"vocab_size must be >= 2 (padding plus at least one word); got {vocab_size}")
        if width % 8:
            raise ValueError(f"width must be a multiple of 8 (GroupNorm groups, attention heads); got {width}")
        check_number("init_temperature", init_temperature, 0, 1, low_open=True)
        self.config = dict(vocab_size=vocab_size, embed_dim=embed_dim, in_channels=in_channels, width=width,
                           max_len=max_len, init_temperature=init_temperature)
        self.image_encoder = Classifier(in_channels=in_channels, num_outputs=embed_dim, width=width, feature_dim=2 * width)
        self.text_encoder = TextEncoder(vocab_size, embed_dim, width=width, max_len=max_len)
        self.log_logit_scale = nn.Parameter(torch.tensor(math.log(1.0 / init_temperature)))

    def encode_image(self, images: Tensor) -> Tensor:
        """Images (N, C, H, W) -> unit-norm embeddings (N, embed_dim)."""
        return F.normalize(self.image_encoder(images), dim=1)

    def encode_text(self, tokens: Tensor) -> Tensor:
        """Token ids (N, L) -> unit-norm embeddings (N, embed_dim)."""
        return F.normalize(self.text_encoder(tokens), dim=1)

    def logit_scale(self) -> Tensor:
        """1 / temperature, a scalar in (0, 100]."""
        return self.log_logit_scale.exp().clamp(max=self.max_logit_scale)

    def forward(self, images: Tensor, tokens: Tensor) -> Tensor:
        """Logits (N_images, N_captions): scaled cosine similarity of every image with every caption."""
        return self.logit_scale() * self.encode_image(images) @ self.encode_text(tokens).T


def clip_loss(logits: Tensor) -> Tensor:
    """Symmetric InfoNCE loss of an (N, N) logit matrix whose diagonal holds the matching pairs.

    loss = (CE(rows, targets) + CE(columns, targets)) / 2 with targets 0..N-1 (Radford et al. 2021,
    figure 3): for image i the "class" is caption i among the N captions, and vice versa.

    Returns:
        a scalar tensor, >= 0; log(N) when every logit is equal.
    """
    if not isinstance(logits, Tensor) or not logits.dtype.is_floating_point:
        raise TypeError(f"logits must be a float tensor of shape (N, N); got {describe(logits)}")
    if logits.ndim != 2 or logits.shape[0] != logits.shape[1] or logits.shape[0] < 1:
        raise ValueError(f"logits must be a square (N, N) matrix with N >= 1; got shape {tuple(logits.shape)}")
    targets = torch.arange(logits.shape[0], device=logits.device)
    return 0.5 * (F.cross_entropy(logits, targets) + F.cross_entropy(logits.T, targets))


def train_clip(
    model: TinyCLIP,
    images: Tensor,
    tokens: Tensor,
    *,
    steps: int,
    batch_size: int = 64,
    lr: float = 2e-3,
    seed: int = 0,
    device: torch.device | str = "cpu",
    progress: bool = True,
) -> list[float]:
    """Contrastive training on matching pairs (images[i], tokens[i]); returns the loss of each step.

    Each step draws a random batch of ``batch_size`` pairs (without replacement within the batch)
    and takes an AdamW step on :func:`clip_loss`.

    Args:
        images: (N, C, H, W) in [-1, 1]; tokens: long (N, L), e.g. from :meth:`Vocabulary.encode`.
    """
    if not isinstance(images, Tensor) or not isinstance(tokens, Tensor) or len(images) != len(tokens):
        raise ValueError(
            f"images and tokens must be tensors with one caption per image; got {describe(images)} and {describe(tokens)}"
        )
    if not 2 <= batch_size <= len(images):
        raise ValueError(f"batch_size must lie in [2, {len(images)}] (the number of pairs); got {batch_size}")
    generator = torch.Generator().manual_seed(seed)
    batches = (torch.randperm(len(images), generator=generator)[:batch_size] for _ in itertools.count())

    def loss_fn(batch: Tensor) -> Tensor:
        return clip_loss(model(images[batch].to(device), tokens[batch].to(device)))

    model.to(device)
    return fit(model, loss_fn, batches, steps=steps, lr=lr, progress=progress, desc="clip")


@torch.no_grad()
def zero_shot_classify(model: TinyCLIP, images: Tensor, prompts: Tensor, batch_size: int = 512) -> Tensor:
    """Pick, for each image, the prompt whose text embedding is most similar to its image embedding.

    Args:
        images: (N, C, H, W) in [-1, 1].
        prompts: long (K, L) token ids of one caption per class (e.g. every possible caption).

    Returns:
        long (N,) on the CPU: the index in 0..K-1 of the best prompt for each image.
    """
    model.eval()
    device = next(model.parameters()).device
    text = model.encode_text(prompts.to(device))
    predictions = [(model.encode_image(chunk.to(device)) @ text.T).argmax(dim=1).cpu() for chunk in images.split(batch_size)]
    return torch.cat(predictions)


def _check_captions(captions: Sequence[str]) -> list[str]:
    if isinstance(captions, str) or not all(isinstance(text, str) for text in captions):
        raise TypeError(f"captions must be a list of strings; got {type(captions).__name__}")
    captions = list(captions)
    if not captions or any(not text.split() for text in captions):
        raise ValueError("captions must be a non-empty list of non-empty strings")
    if any(text != text.lower() for text in captions):
        raise ValueError("captions must be lower case (the vocabulary is case sensitive)")
    return captions
