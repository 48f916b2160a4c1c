"""Saving and loading model weights safely, and the manifest of the course's shipped weights.

Weights are plain state dicts written with ``torch.save`` and read back with
``torch.load(..., weights_only=True)``, which refuses pickled objects other than tensors and
plain containers (an arbitrary pickle can run code when loaded). Every shipped file is listed
with its SHA-256 digest in ``course_lib/weights/manifest.json``, checked before loading.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import pickle
import re
from pathlib import Path

import torch
from torch import nn

from .classifier import Classifier
from .config import get_device
from .models import MLPDenoiser, UNet
from .schedules import NoiseSchedule
from .text_to_image import CaptionEncoder, LatentVAE, TextToImageUNet
from .validation import InvalidArgument

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
"""Where the shipped weights and their ``manifest.json`` live (package data)."""

MODEL_CLASSES: dict[str, type[nn.Module]] = {
    "UNet": UNet, "MLPDenoiser": MLPDenoiser, "Classifier": Classifier,
    # Lesson 12's latent text-to-image model; the first two need diffusers / transformers to be built.
    "LatentVAE": LatentVAE, "CaptionEncoder": CaptionEncoder, "TextToImageUNet": TextToImageUNet,
}
"""The model classes a manifest entry may name in ``model_class``."""

REQUIRED_KEYS = ("file", "sha256", "model_class", "model_config", "schedule")

TRAIN_HINT = "train them with `python -m course_lib train`"


class ChecksumError(ValueError):
    """A weights file's SHA-256 digest differs from the expected one."""


def sha256_of(path: str | Path) -> str:
    """Hex SHA-256 digest of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def save_weights(model: nn.Module, path: str | Path, half: bool = False) -> str:
    """Write ``model``'s state dict to ``path`` (parent folders are created) and return its SHA-256.

    With ``half`` the floating-point tensors are stored as float16, halving the file;
    :func:`load_weights` casts them back to the model's dtype.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {
        name: (value.detach().cpu().half() if half and value.dtype.is_floating_point else value.detach().cpu())
        for name, value in model.state_dict().items()
    }
    torch.save(state, path)
    return sha256_of(path)


def load_weights(model: nn.Module, path: str | Path, sha256: str | None = None) -> nn.Module:
    """Load a state dict saved by :func:`save_weights` into ``model`` (strictly: same keys, same shapes).

    Args:
        model: the model to fill, already built with the right configuration.
        path: the weights file.
        sha256: expected hex digest; when given it is checked before anything is unpickled.

    Returns:
        ``model`` itself, with the weights cast to its own dtypes.

    Raises:
        FileNotFoundError: no file at ``path``.
        ChecksumError: the digest differs from ``sha256``.
        ValueError: the file is truncated, corrupted, holds something other than a state dict
            of tensors, or does not fit ``model``.
    """
    path = Path(path)
    if sha256 is not None and not (isinstance(sha256, str) and _SHA256.fullmatch(sha256)):
        raise InvalidArgument("sha256", f"sha256 must be 64 hexadecimal digits or None; got {sha256!r}")
    if not path.is_file():
        raise FileNotFoundError(f"no weights file at {path}; check the path, or {TRAIN_HINT}")
    if sha256 is not None:
        actual = sha256_of(path)
        if actual != sha256.lower():
            raise ChecksumError(
                f"{path} has SHA-256 {actual} but {sha256} was expected: the file is corrupted, truncated "
                f"or from another version of the course. Delete it and restore it (reinstall course_lib) or {TRAIN_HINT}."
            )
    try:
        state = torch.load(path, weights_only=True, map_location="cpu")
    except pickle.UnpicklingError as e:
        raise ValueError(
            f"{path} holds more than plain tensors and was refused by torch.load(weights_only=True), which "
            f"never unpickles arbitrary objects (they could run code): {_refusal_reason(e)}. Delete the file "
            f"and restore it (reinstall course_lib) or {TRAIN_HINT}."
        ) from e
    except Exception as e:  # torch reports truncated or corrupted archives as RuntimeError, EOFError, KeyError, ...
        raise ValueError(f"{path} is not a readable weights file (truncated or corrupted?): {type(e).__name__}: {e}") from e
    if not isinstance(state, dict) or not all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()):
        raise ValueError(f"{path} does not hold a state dict (a dict of name -> tensor); got {type(state).__name__}")
    own = model.state_dict()
    # float16 files (save_weights(half=True)) come back in the model's own float dtype.
    state = {
        k: v.to(own[k].dtype) if k in own and v.is_floating_point() and own[k].is_floating_point() else v
        for k, v in state.items()
    }
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as e:
        raise ValueError(f"{path} does not fit this {type(model).__name__}: {e}") from e
    return model


def read_manifest(path: str | Path) -> dict[str, dict]:
    """Read a manifest: JSON mapping a model name to {"file", "sha256", "model_class", "model_config", "schedule", ...}."""
    path = Path(path)
    with open(path, encoding="utf-8") as f:
        try:
            entries = json.load(f)
        except json.JSONDecodeError as e:
            raise ValueError(f"{path} is not valid JSON: {e}") from e
    if not isinstance(entries, dict):
        raise ValueError(f"{path} must hold a JSON object mapping model names to entries")
    for name, entry in entries.items():
        _check_entry(name, entry)
    return entries


def write_manifest(path: str | Path, entries: dict[str, dict]) -> None:
    """Write ``entries`` (model name -> entry, see :func:`read_manifest`) as sorted, indented JSON.

    ``entry["file"]`` is relative to the manifest's folder; ``entry["schedule"]`` describes the
    noise schedule as {"type": "linear" or "cosine", ...keyword arguments of that constructor}.
    Any further keys (dataset, image size, label names, training steps) are kept as they are.
    """
    for name, entry in entries.items():
        _check_entry(name, entry)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(entries, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def build_schedule(spec: dict | None) -> NoiseSchedule | None:
    """Rebuild a noise schedule from a manifest's {"type": "linear" | "cosine", **kwargs}; None stays None."""
    if spec is None:
        return None
    if not isinstance(spec, dict):
        raise ValueError(f"schedule must be an object like {{\"type\": \"linear\", ...}} or null; got {spec!r}")
    kwargs = dict(spec)
    kind = kwargs.pop("type", None)
    if kind not in ("linear", "cosine"):
        raise ValueError(f"schedule type must be 'linear' or 'cosine'; got {kind!r}")
    constructor = getattr(NoiseSchedule, kind)
    unknown = sorted(set(kwargs) - set(inspect.signature(constructor).parameters))
    if unknown:
        raise ValueError(f"schedule of type {kind!r} has unknown key(s) {', '.join(unknown)}")
    return constructor(**kwargs)


def load_pretrained(
    name: str, device: torch.device | str | None = None, weights_dir: str | Path | None = None
) -> tuple[nn.Module, NoiseSchedule | None]:
    """Load one of the course's shipped models by name, checking its SHA-256 first.

    Args:
        name: a key of the manifest, e.g. the digits model.
        device: where to put the model; default :func:`~course_lib.config.get_device`.
        weights_dir: folder holding ``manifest.json`` and the weight files; default the package's.

    Returns:
        (model in eval mode on ``device``, the NoiseSchedule it was trained with); the schedule
        is None for the classifiers, which are not denoisers.
    """
    if not isinstance(name, str):
        raise InvalidArgument("name", f"name must be a str naming a shipped model; got {name!r}")
    folder = Path(weights_dir) if weights_dir is not None else WEIGHTS_DIR
    manifest = folder / "manifest.json"
    if not manifest.is_file():
        raise FileNotFoundError(f"no shipped weights are installed ({manifest} does not exist); {TRAIN_HINT}")
    entries = read_manifest(manifest)
    if name not in entries:
        raise ValueError(f"no pretrained model named {name!r}; available: {', '.join(sorted(entries)) or '(none)'}")
    entry = entries[name]
    device = get_device(None if device is None else str(device))
    try:
        model = MODEL_CLASSES[entry["model_class"]](**entry["model_config"])
    except (TypeError, ValueError) as e:
        raise ValueError(f"manifest entry {name!r} has a model_config that {entry['model_class']} refuses: {e}") from e
    try:
        schedule = build_schedule(entry["schedule"])
    except (TypeError, ValueError) as e:
        raise ValueError(f"manifest entry {name!r} has a bad schedule: {e}") from e
    load_weights(model, folder / entry["file"], entry["sha256"])
    model.to(device).eval()
    return model, schedule


_SHA256 = re.compile(r"[0-9a-fA-F]{64}")


def _refusal_reason(error: Exception) -> str:
    """The line of torch's weights_only refusal that says what was refused, without its advice to disable the check."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    for marker in ("GLOBAL", "WeightsUnpickler error", "Unsupported", "unsupported"):
        for line in lines:
            if marker in line:
                return line.removeprefix("WeightsUnpickler error:").strip().rstrip(".")
    advice = ("weights_only", "Weights only load failed", "documentation", "Please")
    rest = [line for line in lines if not any(a in line for a in advice)]
    return rest[0].rstrip(".") if rest else type(error).__name__


def _check_entry(name: str, entry: object) -> None:
    if not isinstance(entry, dict):
        raise ValueError(f"manifest entry {name!r} must be an object; got {type(entry).__name__}")
    missing = [k for k in REQUIRED_KEYS if k not in entry]
    if missing:
        raise ValueError(f"manifest entry {name!r} lacks {', '.join(missing)} (needs {', '.join(REQUIRED_KEYS)})")
    if entry["model_class"] not in MODEL_CLASSES:
        raise ValueError(
            f"manifest entry {name!r} has model_class {entry['model_class']!r}; known: {', '.join(MODEL_CLASSES)}"
        )
    # No entry may switch the checksum off: every shipped file is verified before it is unpickled.
    if not (isinstance(entry["sha256"], str) and _SHA256.fullmatch(entry["sha256"])):
        raise ValueError(f"manifest entry {name!r} must have a sha256 of 64 hexadecimal digits; got {entry['sha256']!r}")
    file = entry["file"]
    if not isinstance(file, str) or not file or "\\" in file or Path(file).is_absolute() or any(
            part in ("", ".", "..") for part in file.split("/")):
        raise ValueError(
            f"manifest entry {name!r} has file {file!r}; it must be a relative path inside the weights folder (no '..')")
    config = entry["model_config"]
    if not isinstance(config, dict):
        raise ValueError(f"manifest entry {name!r} must have a model_config object; got {config!r}")
    accepted = set(inspect.signature(MODEL_CLASSES[entry["model_class"]]).parameters)
    unknown = sorted(set(config) - accepted)
    if unknown:
        raise ValueError(
            f"manifest entry {name!r} has unknown model_config key(s) {', '.join(unknown)} for {entry['model_class']}; "
            f"known: {', '.join(sorted(accepted))}")
