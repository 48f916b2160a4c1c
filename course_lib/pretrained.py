"""Recipes for the course's shipped models, and the code that trains and ships them.

``python -m course_lib train --model NAME --out DIR`` runs a recipe from a fixed seed on the
offline data and writes ``DIR/NAME.pt`` with its SHA-256 into ``DIR/manifest.json``; it never
writes into the package. ``load_pretrained(NAME, weights_dir=DIR)`` loads the result; installing
it as the shipped model is a deliberate copy into ``course_lib/weights/`` (see :func:`install_hint`).
"""

from __future__ import annotations

import dataclasses
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import Dataset

from . import checkpoints, text_to_image
from .classifier import Classifier, train_classifier
from .config import get_device, seed_everything
from .data.digits import load_digits
from .data.points import make_moons
from .data.sprites import ATTRIBUTE_NAMES, make_sprites
from .training import train_diffusion

IMAGE_SCHEDULE = {"type": "linear", "num_timesteps": 500, "beta_start": 1e-4, "beta_end": 0.02}
"""The diffusion every shipped image model is trained with (T = 500 as in the DeepLearning.AI course)."""


@dataclass(frozen=True)
class Recipe:
    """How one shipped model is built and trained."""

    description: str
    model_class: str
    model_config: dict
    data: Callable[[], Dataset]
    steps: int
    schedule: dict | None = None  # None for the classifiers, which are not denoisers
    batch_size: int = 128
    lr: float = 1e-3
    context_dropout: float = 0.0
    ema_decay: float | None = None
    augment_shift: int = 0  # non-leaky shift augmentation (the model needs augment_dim=2)
    min_snr_gamma: float | None = None  # Min-SNR-gamma loss weighting (Hang et al. 2023)
    multi_label: bool = False
    extra: dict = field(default_factory=dict)
    # A recipe with its own training code: trainer(steps, seed, progress) -> (model, card items).
    trainer: Callable[[int, int, bool], tuple[nn.Module, dict]] | None = None
    # Shipped models this recipe's trainer loads: train it after those are installed.
    after: tuple[str, ...] = ()


def _training_sprites() -> Dataset:
    """Lesson 12's training sprites (the held-out pairs removed), as a dataset of images."""
    images, _ = text_to_image.training_sprites()
    return torch.utils.data.TensorDataset(images)


def _train_text_to_image(steps: int, seed: int, progress: bool) -> tuple[nn.Module, dict]:
    """Lesson 12's UNet recipe: on the shipped (frozen) VAE and text encoder."""
    vae, _ = checkpoints.load_pretrained("sprites-vae", device="cpu")
    text_encoder, _ = checkpoints.load_pretrained("sprites-text-encoder", device="cpu")
    return text_to_image.train_sprite_text_to_image(vae, text_encoder, checkpoints.build_schedule(IMAGE_SCHEDULE),
                                                    steps, seed, progress)


RECIPES: dict[str, Recipe] = {
    "digits": Recipe(
        "unconditional 16x16 digits",
        "UNet", dict(in_channels=1, augment_dim=2, dropout=0.1), lambda: load_digits(16, "train"),
        steps=30000, schedule=IMAGE_SCHEDULE, ema_decay=0.9995, augment_shift=2, min_snr_gamma=5.0,
        extra={"image_shape": [1, 16, 16]},
    ),
    "digits-cond": Recipe(
        "class-conditional 16x16 digits with context dropout for classifier-free guidance",
        "UNet", dict(in_channels=1, context_dim=10), lambda: load_digits(16, "train"),
        steps=10000, schedule=IMAGE_SCHEDULE, ema_decay=0.999, context_dropout=0.1,
        extra={"image_shape": [1, 16, 16], "context_names": [str(d) for d in range(10)]},
    ),
    "sprites": Recipe(
        "attribute-conditional 16x16 sprites (multi-hot shape, colour, facing)",
        "UNet", dict(in_channels=3, context_dim=len(ATTRIBUTE_NAMES)), lambda: make_sprites(8192, 16, seed=0),
        steps=20000, schedule=IMAGE_SCHEDULE, ema_decay=0.9995, context_dropout=0.1,
        extra={"image_shape": [3, 16, 16], "context_names": ATTRIBUTE_NAMES},
    ),
    "toy2d": Recipe(
        "2-D two-moons point cloud",
        "MLPDenoiser", dict(data_dim=2, hidden_dim=128, num_layers=3), lambda: torch.utils.data.TensorDataset(make_moons(8192, seed=0)),
        steps=4000, schedule={"type": "linear", "num_timesteps": 200, "beta_start": 1e-4, "beta_end": 0.05},
        batch_size=256, ema_decay=0.999,
    ),
    "classifier-digits": Recipe(
        "digit classifier (the judge of generated digits)",
        "Classifier", dict(in_channels=1, num_outputs=10), lambda: load_digits(16, "train"),
        steps=1500, lr=2e-3,
    ),
    "classifier-sprites": Recipe(
        "sprite attribute classifier (multi-label)",
        "Classifier", dict(in_channels=3, num_outputs=len(ATTRIBUTE_NAMES)), lambda: make_sprites(8192, 16, seed=1),
        steps=1500, lr=2e-3, multi_label=True,
    ),
    # Lesson 12: a latent text-to-image model (VAE, text encoder, UNet with cross-attention),
    # trained on the sprites less the held-out (shape, colour) pairs of text_to_image.HELD_OUT.
    # Each trains in 4 to 25 minutes on one CPU core (manifest.json); the UNet recipe loads the shipped VAE and text encoder.
    "sprites-vae": Recipe(
        "latent autoencoder of 16x16 sprites (diffusers AutoencoderKL, 8x8x4 latents)",
        "LatentVAE", dict(block_out_channels=[16, 32]), _training_sprites, steps=1000, batch_size=64, lr=2e-3,
        trainer=lambda steps, seed, progress: text_to_image.train_sprite_vae(steps, seed, progress),
        extra={"image_shape": [3, 16, 16], "beta": 1e-3},
    ),
    "sprites-text-encoder": Recipe(
        "CLIP text encoder of the sprite captions (transformers CLIPTextModel), trained contrastively",
        "CaptionEncoder", dict(), _training_sprites, steps=1000, batch_size=64, lr=2e-3,
        trainer=lambda steps, seed, progress: text_to_image.train_caption_encoder(steps, seed, progress),
    ),
    "sprites-text-to-image": Recipe(
        "text-to-image latent diffusion UNet with cross-attention (the sprites' captions)",
        "TextToImageUNet", dict(), _training_sprites, steps=2000, schedule=IMAGE_SCHEDULE, batch_size=64,
        context_dropout=0.1, ema_decay=0.999,
        trainer=lambda steps, seed, progress: _train_text_to_image(steps, seed, progress),
        after=("sprites-vae", "sprites-text-encoder"),
        extra={"latent_shape": [4, 8, 8], "held_out": [list(pair) for pair in text_to_image.HELD_OUT]},
    ),
}



def train_recipe(name: str, steps: int | None = None, device: str | None = None, seed: int = 0, progress: bool = True) -> tuple[nn.Module, dict]:
    """Train the recipe ``name`` from ``seed``; returns the trained model (the EMA copy if any) and a card dict."""
    if name not in RECIPES:
        raise ValueError(f"unknown model {name!r}; choose from {', '.join(RECIPES)}")
    recipe = RECIPES[name]
    steps = recipe.steps if steps is None else steps
    seed_everything(seed)
    # Same seed, same bytes: on a GPU this also needs deterministic kernels (and, for cuBLAS,
    # CUBLAS_WORKSPACE_CONFIG=:4096:8 in the environment); on the CPU they already are.
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False
    dataset = recipe.data()
    device = get_device(device)
    start = time.perf_counter()
    if recipe.trainer is not None:  # lesson 12's models train on the CPU with their own code
        device = torch.device("cpu")
        model, trained = recipe.trainer(steps, seed, progress)
        losses = [trained.pop("final_loss")]
        recipe = dataclasses.replace(recipe, extra={**recipe.extra, **trained})
    elif recipe.schedule is None:
        model = checkpoints.MODEL_CLASSES[recipe.model_class](**recipe.model_config)
        losses = train_classifier(model, dataset, steps=steps, batch_size=recipe.batch_size, lr=recipe.lr,
                                  multi_label=recipe.multi_label, seed=seed, device=device, progress=progress)
    else:
        model = checkpoints.MODEL_CLASSES[recipe.model_class](**recipe.model_config)
        result = train_diffusion(model, checkpoints.build_schedule(recipe.schedule), dataset, steps=steps,
                                 batch_size=recipe.batch_size, lr=recipe.lr, lr_schedule="cosine",
                                 context_dropout=recipe.context_dropout, ema_decay=recipe.ema_decay,
                                 augment_shift=recipe.augment_shift, min_snr_gamma=recipe.min_snr_gamma,
                                 device=device, seed=seed, progress=progress)
        losses = result.losses
        model = result.ema if result.ema is not None else model
    seconds = time.perf_counter() - start
    tail = losses[-100:]
    card = {
        "description": recipe.description,
        "training": {
            "steps": steps, "batch_size": recipe.batch_size, "lr": recipe.lr, "seed": seed,
            "context_dropout": recipe.context_dropout, "ema_decay": recipe.ema_decay,
            **({"augment_shift": recipe.augment_shift} if recipe.augment_shift else {}),
            **({"min_snr_gamma": recipe.min_snr_gamma} if recipe.min_snr_gamma is not None else {}),
            "examples": len(dataset), "final_loss": round(sum(tail) / len(tail), 5),
            "seconds": round(seconds, 1), "device": str(device),
            "hardware": torch.cuda.get_device_name(device) if device.type == "cuda" else _cpu_name(),
            "torch": torch.__version__,
        },
        **recipe.extra,
    }
    return model.cpu().eval(), card


def _cpu_name() -> str:
    threads = torch.get_num_threads()
    return f"{platform.machine()} CPU, {threads} thread{'s' if threads > 1 else ''}"


def ship(name: str, model: nn.Module, card: dict, weights_dir: str | Path, half: bool = True) -> dict:
    """Write ``model``'s weights to ``weights_dir/NAME.pt`` and record them in ``weights_dir/manifest.json``.

    ``weights_dir`` may not be the package's own weights folder: replacing a shipped model is done
    on purpose, by copying (see :func:`install_hint`). Returns the manifest entry.
    """
    recipe = RECIPES[name]
    folder = Path(weights_dir)
    if folder.resolve() == checkpoints.WEIGHTS_DIR.resolve():
        raise ValueError(f"--out is the package's weights folder; write elsewhere, then {install_hint(name, 'DIR')}")
    file = f"{name}.pt"
    sha256 = checkpoints.save_weights(model, folder / file, half=half)
    manifest_path = folder / "manifest.json"
    entries = checkpoints.read_manifest(manifest_path) if manifest_path.is_file() else {}
    entries[name] = {
        "file": file, "sha256": sha256, "dtype": "float16" if half else "float32",
        "model_class": recipe.model_class, "model_config": model.config, "schedule": recipe.schedule, **card,
    }
    checkpoints.write_manifest(manifest_path, entries)
    return entries[name]


def install_hint(name: str, weights_dir: str | Path) -> str:
    """How to make ``weights_dir/NAME.pt`` the shipped model, on purpose (one sentence)."""
    return (f"to install it as the shipped {name!r} on purpose, copy {Path(weights_dir) / (name + '.pt')} into "
            f"{checkpoints.WEIGHTS_DIR} and its entry from {Path(weights_dir) / 'manifest.json'} into "
            f"{checkpoints.WEIGHTS_DIR / 'manifest.json'} (scripts/train_parallel.sh does this for every recipe)")
