"""Train the course UNet on a folder of one's own images (or MNIST, Fashion-MNIST, CIFAR-10) with Accelerate.

    python -m course_lib train-images --data my_drawings/ --size 16 --out runs/drawings --steps 2000
    accelerate launch -m course_lib train-images --data cifar10 --size 32 --out runs/cifar --batch-size 128

The same command runs on a laptop's CPU, one GPU, or many GPUs and machines: Hugging Face
Accelerate starts the processes (``accelerate launch``), puts the model on each device,
averages the gradients between processes and handles mixed precision and gradient
accumulation. What this module adds is the course's own pieces: the UNet, its noise schedule
and samplers, the simplified loss (Ho et al. 2020, eq. 14), and an EMA of the weights.

**One run, whatever the number of processes.** ``--batch-size`` is the global batch of one
optimiser step. Which images, timesteps and noise make up the batch of step ``s`` is drawn
from a generator seeded by (``--seed``, ``s``) alone; each of the P processes takes its
share of that batch (and each of ``--grad-accum`` micro-steps its share of that share), and
the gradients are averaged. The gradient of step ``s`` is therefore the gradient of the mean
loss over the same global batch whether P is 1 or 8, up to the order of float additions.

**Exact resume.** Because step ``s``'s randomness depends on ``s`` alone, a checkpoint needs
only the model, the EMA, the optimiser state and the step (the global torch, NumPy and Python
RNG states are saved and restored too, for anything else that draws from them). A run killed
at any moment and continued with ``--resume`` takes the same steps as one that never stopped
(bit for bit on the CPU). ``checkpoint.pt`` is written to a temporary file and renamed over the
old one, so a crash or a full disk while writing leaves the previous checkpoint intact.

**Output folder** (``--out``): ``samples/step-NNNNNN.png`` (a grid every ``--sample-every``
steps, from the EMA weights, DDIM with 50 steps and a fixed seed), ``loss.png``,
``checkpoint.pt``, and at the end the diffusers layout (``model_index.json``, ``unet/``,
``scheduler/``) that ``DDPMPipeline.from_pretrained(out)`` loads, with a model card
``README.md``. The UNet is the course's, wrapped by :class:`course_lib.hf.CourseUNet2DModel`:
``import course_lib.hf`` first (diffusers loads components only from modules already imported).

Bad input stops before anything is written, with one line that says what to do: an empty
folder, no readable image, images smaller than ``--size`` (unless ``--allow-upscale``), an
``--out`` folder holding another run, a ``--resume`` whose checkpoint was made with other
settings. Unreadable files among good ones are skipped, counted and named (one bad photo
should not stop a run of thousands); the model card records them.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import platform
import random
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .augmentation import SHIFT_LABELS, random_shift
from .config import seed_everything
from .models import UNet
from .samplers import DDIMSampler, sample
from .schedules import NoiseSchedule
from .training import EMA, noise_prediction_error
from .validation import argparse_type, check_int, check_number, check_seed

if TYPE_CHECKING:  # imported when used: `sample` and `doctor` should not wait for Accelerate
    from accelerate import Accelerator

ONLINE_SOURCES = {"mnist": ("MNIST", 1), "fashion-mnist": ("FashionMNIST", 1), "cifar10": ("CIFAR10", 3)}
"""``--data`` names that torchvision downloads (once, into ``--data-root``): torchvision class, channels."""

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg")
CHECKPOINT = "checkpoint.pt"
BETA_START, BETA_END = 1e-4, 0.02  # Ho et al. 2020, section 4: a linear schedule from 1e-4 to 0.02
FOLDER_HINT = "offline, train on a folder of your own images instead: --data path/to/folder"
MAX_SIZE = 512


# --------------------------------------------------------------------------------------- data


@dataclass
class ImageData:
    """Training images, loaded once: ``images`` is uint8 (N, C, size, size), C = 1 (gray) or 3 (rgb)."""

    images: Tensor
    source: str
    mode: str
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (file, why) for files that could not be read
    converted_to_rgb: int = 0  # grayscale images of a mixed folder, repeated into three equal channels

    def fingerprint(self) -> str:
        """SHA-256 of the pixels (first 16 hex digits): the same images give the same fingerprint."""
        digest = hashlib.sha256(str(tuple(self.images.shape)).encode())
        digest.update(self.images.contiguous().numpy().tobytes())
        return digest.hexdigest()[:16]

    def as_float(self, indices: Tensor) -> Tensor:
        """Images ``indices`` (K,) as float32 (K, C, size, size) in [-1, 1]."""
        return self.images[indices].float() / 127.5 - 1


def _is_gray(image) -> bool:
    return image.getbands() in (("L",), ("L", "A"), ("1",), ("I",), ("F",), ("I;16",), ("La",))


def _to_mode(image, mode: str):
    """A PIL image in "L" (gray) or "RGB"; transparency is composited on white (drawings saved with alpha)."""
    from PIL import Image

    if "A" in image.getbands() or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        image = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba)
    if image.mode in ("I", "I;16", "F"):  # 16- or 32-bit gray: scale to 8 bits rather than clip
        array = np.asarray(image, dtype=np.float64)
        span = max(array.max() - array.min(), 1e-12)
        image = Image.fromarray(((array - array.min()) / span * 255).round().astype(np.uint8))
    return image.convert("L" if mode == "gray" else "RGB")


def load_folder(folder: str | Path, size: int, mode: str = "auto", allow_upscale: bool = False) -> ImageData:
    """Every PNG and JPEG under ``folder`` (sub-folders too), resized and centre-cropped to ``size`` x ``size``.

    Args:
        folder: a folder of images of any sizes.
        size: side of the square training images, in pixels.
        mode: "gray", "rgb", or "auto": gray when every image is grayscale, else RGB (a mixed
            folder's grayscale images become three equal channels; ``converted_to_rgb`` counts them).
        allow_upscale: enlarge images whose shorter side is below ``size``; without it they are refused.

    Phone photos are turned upright first (their EXIF orientation). Files that cannot be read
    are skipped and listed in ``skipped``; an error is raised only when none can be read.
    """
    from PIL import Image, ImageOps

    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"--data: {folder} is neither a folder nor one of {', '.join(ONLINE_SOURCES)}")
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file())
    if not files:
        raise ValueError(f"--data: no PNG or JPEG images in {folder} (sub-folders included)")
    # One image at a time, kept only as its small square: a folder of phone photos fits in memory.
    squares, grays, small, skipped = [], [], [], []
    for path in files:
        try:
            with Image.open(path) as image:
                image.load()  # decode now: a truncated or corrupt file fails here, not mid-training
                image = ImageOps.exif_transpose(image)
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as e:
            skipped.append((str(path.relative_to(folder)), str(e).splitlines()[0][:120] or type(e).__name__))
            continue
        gray = _is_gray(image)
        if min(image.size) < size:
            small.append((path, min(image.size)))
        square = ImageOps.fit(_to_mode(image, "gray" if gray else "rgb"), (size, size), method=Image.Resampling.LANCZOS)
        squares.append(square)
        grays.append(gray)
    if not squares:
        raise ValueError(f"--data: none of the {len(files)} image files in {folder} could be read "
                         f"(first: {skipped[0][0]}: {skipped[0][1]})")
    if small and not allow_upscale:
        smallest = min(side for _, side in small)
        fits = _largest_size_within(smallest)
        instead = f"choose --size {fits} or less, or pass" if fits else "pass"
        raise ValueError(f"--size {size}: {len(small)} of {len(squares)} images have a side shorter than {size} pixels "
                         f"(e.g. {small[0][0].relative_to(folder)}, the smallest {smallest}); {instead} --allow-upscale "
                         f"to enlarge them")
    if mode == "auto":
        mode = "gray" if all(grays) else "rgb"
    converted = sum(grays) if mode == "rgb" else 0
    # Gray to RGB repeats the channel; RGB to gray (asked with --mode gray) takes the luma of the square.
    arrays = [np.asarray(square.convert("L" if mode == "gray" else "RGB"), dtype=np.uint8).reshape(size, size, -1)
              for square in squares]
    images = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous()
    return ImageData(images, str(folder.resolve()), mode, skipped, converted)


def _largest_size_within(side: int) -> int | None:
    """The largest valid ``--size`` not above ``side`` pixels, or None if even the smallest (8) is larger."""
    for size in range(min(side, MAX_SIZE), 7, -1):
        try:
            unet_config(size, 1)
            return size
        except ValueError:
            continue
    return None


def load_online(name: str, size: int, root: str | Path, mode: str = "auto") -> ImageData:
    """The training split of ``name`` (mnist, fashion-mnist, cifar10) from torchvision, resized to ``size``.

    Downloads once into ``root``; without the network (and no earlier download) raises a
    one-line ValueError that names the folder option.
    """
    from urllib.error import URLError

    import torchvision

    class_name, channels = ONLINE_SOURCES[name]
    try:
        dataset = getattr(torchvision.datasets, class_name)(str(root), train=True, download=True)
    except (URLError, OSError, RuntimeError) as e:
        reason = str(getattr(e, "reason", "") or e).splitlines()[0][:100] or type(e).__name__
        raise ValueError(f"--data {name}: could not download it into {root} ({reason}); {FOLDER_HINT}") from None
    data = torch.as_tensor(np.asarray(dataset.data))
    images = data[:, None] if data.ndim == 3 else data.permute(0, 3, 1, 2)  # (N, C, H, W) uint8
    if mode == "rgb" and channels == 1:
        images = images.expand(-1, 3, -1, -1)
    elif mode == "gray" and channels == 3:  # ITU-R BT.601 luma, as PIL's convert("L")
        weights = torch.tensor([0.299, 0.587, 0.114])[None, :, None, None]
        images = (images.float() * weights).sum(1, keepdim=True).round().to(torch.uint8)
    if images.shape[-1] != size:
        resized = F.interpolate(images.float(), size=(size, size), mode="bicubic", antialias=True, align_corners=False)
        images = resized.round().clamp(0, 255).to(torch.uint8)
    mode = "gray" if images.shape[1] == 1 else "rgb"
    return ImageData(images.contiguous(), name, mode)


def load_images(source: str, size: int, mode: str = "auto", root: str | Path | None = None,
                allow_upscale: bool = False) -> ImageData:
    """``source`` is a folder or one of :data:`ONLINE_SOURCES`; see :func:`load_folder` and :func:`load_online`."""
    if source in ONLINE_SOURCES and not Path(source).is_dir():
        return load_online(source, size, root if root is not None else default_data_root(), mode)
    return load_folder(source, size, mode, allow_upscale)


def default_data_root() -> Path:
    """Where torchvision's downloads are kept: ``$XDG_CACHE_HOME/course_lib/datasets`` (default ``~/.cache``)."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "course_lib" / "datasets"


# --------------------------------------------------------------------------------- the model


def unet_config(size: int, channels: int, base_channels: int | None = None) -> dict:
    """The course UNet for ``size`` x ``size`` images: deeper and wider as the images grow.

    Up to 16 pixels: base 16, three resolutions (0.37M parameters, the shipped models' size);
    up to 32: base 32, four resolutions (0.95M); up to 64: base 64, five (7.3M); above: six.
    The lowest resolution is 4 pixels or more. ``base_channels`` (a multiple of 8) overrides the width.
    """
    size = check_int("--size", size, 8, MAX_SIZE)
    if size <= 16:
        base, mults = 16, [1, 2, 4]
    elif size <= 32:
        base, mults = 32, [1, 2, 2, 2]
    elif size <= 64:
        base, mults = 64, [1, 1, 2, 2, 4]
    else:
        base, mults = 64, [1, 1, 2, 2, 4, 4]
    factor = 2 ** (len(mults) - 1)
    if size % factor:
        lower, upper = size // factor * factor, (size // factor + 1) * factor
        raise ValueError(f"--size {size}: must be a multiple of {factor} at this size (the UNet halves it "
                         f"{len(mults) - 1} times); try {lower if lower >= 8 else upper} or {upper}")
    if base_channels is not None:
        base = check_int("--channels", base_channels, 8)
        if base % 8:
            raise ValueError(f"--channels must be a multiple of 8 (the UNet's group norm has 8 groups); got {base}")
    return dict(in_channels=channels, base_channels=base, channel_mults=mults)


# ------------------------------------------------------------------------------ one training run


@dataclass
class RunSettings:
    """Everything that decides the weights: a ``--resume`` must match these (``--steps`` may grow)."""

    data: str
    data_fingerprint: str
    num_images: int
    size: int
    mode: str
    unet: dict
    timesteps: int
    batch_size: int
    lr: float
    warmup: int
    ema: float
    seed: int
    grad_accum: int
    mixed_precision: str
    augment_shift: int = 0  # non-leaky shift augmentation: the UNet needs augment_dim=2
    min_snr_gamma: float | None = None  # Min-SNR-gamma loss weighting (Hang et al. 2023); None: plain loss


def step_generator(seed: int, step: int, what: str) -> torch.Generator:
    """A CPU generator for one kind of draw at one step: seeded by (seed, step, what) alone."""
    digest = hashlib.sha256(f"{seed}:{step}:{what}".encode()).digest()
    return torch.Generator().manual_seed(int.from_bytes(digest[:8], "little"))


def batch_indices(step: int, batch_size: int, num_images: int, seed: int) -> Tensor:
    """Indices (batch_size,) of the global batch of optimiser step ``step`` (1-based).

    The images are visited in epochs, each a fresh permutation seeded by (seed, epoch): sample
    k = (step - 1) * batch_size + j of the whole run is image perm_e[k mod N] with e = k div N.
    """
    first = (step - 1) * batch_size
    positions = torch.arange(first, first + batch_size)
    out = torch.empty(batch_size, dtype=torch.long)
    for epoch in (positions // num_images).unique().tolist():
        chosen = positions // num_images == epoch
        permutation = torch.randperm(num_images, generator=step_generator(seed, epoch, "epoch"))
        out[chosen] = permutation[positions[chosen] % num_images]
    return out


def global_batch(data: ImageData, schedule: NoiseSchedule, settings: RunSettings,
                 step: int) -> tuple[Tensor, Tensor, Tensor, Tensor | None]:
    """(x0, t, eps, augment) of step ``step``'s whole batch: images (B, C, S, S) in [-1, 1], timesteps (B,),
    noise (B, C, S, S), and the shift labels (B, 2) of ``--augment-shift`` (None without it)."""
    b = settings.batch_size
    x0 = data.as_float(batch_indices(step, b, len(data.images), settings.seed))
    augment = None
    if settings.augment_shift:
        x0, augment = random_shift(x0, settings.augment_shift, step_generator(settings.seed, step, "augment"), fill="edge")
    generator = step_generator(settings.seed, step, "noise")
    t = torch.randint(0, schedule.num_timesteps, (b,), generator=generator)
    eps = torch.randn(x0.shape, generator=generator)
    return x0, t, eps, augment


def _rng_states() -> dict:
    numpy_state = np.random.get_state()
    return {"torch": torch.get_rng_state(), "numpy_keys": torch.from_numpy(numpy_state[1].astype(np.int64)),
            "numpy_rest": [numpy_state[2], numpy_state[3], numpy_state[4]], "python": random.getstate(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []}


def _restore_rng_states(states: dict) -> None:
    torch.set_rng_state(states["torch"])
    pos, has_gauss, cached = states["numpy_rest"]
    np.random.set_state(("MT19937", states["numpy_keys"].numpy().astype(np.uint32), pos, has_gauss, cached))
    random.setstate(states["python"])
    if states["cuda"] and torch.cuda.is_available() and len(states["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(states["cuda"])


def save_checkpoint(path: Path, state: dict) -> None:
    """Write ``state`` with torch.save to a temporary file, flush it to disk, then rename it over ``path``.

    The rename is atomic: ``path`` holds either the old checkpoint or the new one, never half of
    one. On failure (a full disk) the temporary file is removed and the old checkpoint stays.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            torch.save(state, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def load_checkpoint(path: Path) -> dict:
    """Read a checkpoint written by :func:`save_checkpoint` (tensors and plain containers only)."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # a damaged file: say which, not the unpickler's internals
        raise ValueError(f"--resume: {path} cannot be read ({type(e).__name__}: {str(e).splitlines()[0][:100]})") from None


def _atomic_write(path: Path, write) -> None:
    """Call ``write(tmp_path)``, then rename the temporary file over ``path``."""
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp{path.suffix}")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def save_sample_grid(model: nn.Module, schedule: NoiseSchedule, shape: tuple[int, ...], path: Path, seed: int) -> None:
    """``shape[0]`` samples from ``model`` (DDIM, 50 steps or T if fewer, eta 1, fixed seed) as a PNG grid.

    eta = 1 rather than the deterministic eta = 0: early in a run with T = 1000, deterministic
    DDIM turns some starting noises into images of static (the x_0 predicted at t near T
    multiplies the noise error by up to 1 / sqrt(alpha_bar_t), about 160), while the fresh noise of
    eta = 1 corrects them (measured on a 1,500-step digits run: DDPM and DDIM eta = 1 gave digits
    from every seed of a grid, DDIM eta = 0 static from about one in three).
    """
    from torchvision.utils import save_image

    device = next(model.parameters()).device
    sampler = DDIMSampler(schedule, min(50, schedule.num_timesteps), eta=1.0)
    with torch.no_grad():
        x = sample(model, sampler, shape, generator=torch.Generator().manual_seed(seed), device=device, progress=False)
    grid = (x.float().cpu().clamp(-1, 1) + 1) / 2
    _atomic_write(path, lambda tmp: save_image(grid, tmp, nrow=math.ceil(math.sqrt(shape[0])), padding=1))


def save_loss_curve(losses: list[float], path: Path) -> None:
    """The per-step loss and its moving average as a PNG (no pyplot: safe without a display)."""
    from matplotlib.figure import Figure

    from .plotting import plot_losses

    figure = Figure(figsize=(6, 3.5), layout="constrained")
    plot_losses(losses, smooth=max(1, min(100, len(losses) // 10)), ax=figure.subplots(), log=min(losses) > 0)
    _atomic_write(path, lambda tmp: figure.savefig(tmp, dpi=100))


def _check_out(out: Path, resume: bool) -> None:
    """Refuse an --out that holds something else, before any work is done."""
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out: {out} is a file; give a folder")
    checkpoint = out / CHECKPOINT
    if resume:
        if not checkpoint.is_file():
            raise ValueError(f"--resume: {out} holds no {CHECKPOINT} to continue from; leave out --resume to start a run")
        return
    if out.is_dir() and any(out.iterdir()):
        what = "a training run" if checkpoint.is_file() else f"{sum(1 for _ in out.iterdir())} other entries"
        raise ValueError(f"--out: {out} already holds {what}; pass --resume to continue it, or choose a new folder")
    parent = out.parent if not out.exists() else out
    while not parent.exists():
        parent = parent.parent
    if not os.access(parent, os.W_OK):
        raise ValueError(f"--out: cannot write into {parent} (permission denied)")


def _check_same_run(saved: dict, settings: RunSettings, out: Path) -> None:
    current = asdict(settings)
    saved = {"augment_shift": 0, "min_snr_gamma": None, **saved}  # checkpoints from before these options
    # Not the folder's path: the same images elsewhere (a laptop's run continued on a GPU machine)
    # have the same fingerprint, and that is what decides.
    differ = [k for k in current if k != "data" and saved.get(k) != current[k]]
    if differ:
        details = "; ".join(f"{k}: checkpoint {saved.get(k)!r}, now {current[k]!r}" for k in differ[:3])
        raise ValueError(f"--resume: the checkpoint in {out} was made with other settings ({details}); "
                         f"rerun with the checkpoint's settings, or start a new run in another --out folder")


def _hardware(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"{platform.machine()} CPU, {torch.get_num_threads()} threads"


@dataclass
class TrainOptions:
    """How one invocation runs (none of it changes the weights, except ``steps``, how far to go)."""

    out: Path
    steps: int
    resume: bool = False
    sample_every: int = 500
    checkpoint_every: int | None = None  # default: sample_every
    num_samples: int = 16
    progress: bool = True
    cpu: bool = False


def make_accelerator(mixed_precision: str, grad_accum: int, cpu: bool = False) -> Accelerator:
    """The ``accelerate.Accelerator`` of a run (joins the processes that ``accelerate launch`` started)."""
    from accelerate import Accelerator

    # Several processes without a GPU (torchrun, or accelerate launch without --cpu) need cpu=True
    # for Accelerate to join them with the gloo backend rather than run each one alone.
    several = int(os.environ.get("WORLD_SIZE", "1")) > 1
    return Accelerator(mixed_precision=mixed_precision, gradient_accumulation_steps=grad_accum,
                       cpu=cpu or (several and not torch.cuda.is_available()))


def train(data: ImageData, settings: RunSettings, options: TrainOptions, accelerator: Accelerator | None = None) -> dict:
    """Train (or continue) the run in ``options.out`` up to ``options.steps`` and export it; returns the card dict.

    Launched by ``accelerate launch``, every process runs this function on the same data;
    process 0 writes the files. See the module docstring for how the batch is shared out.
    ``accelerator`` defaults to :func:`make_accelerator` with the run's settings.
    """
    from accelerate.utils import broadcast

    if accelerator is None:
        accelerator = make_accelerator(settings.mixed_precision, settings.grad_accum, options.cpu)
    processes, rank = accelerator.num_processes, accelerator.process_index
    share = settings.batch_size // (processes * settings.grad_accum)
    if share * processes * settings.grad_accum != settings.batch_size:
        raise ValueError(f"--batch-size {settings.batch_size} must be a multiple of processes x --grad-accum = "
                         f"{processes} x {settings.grad_accum}")
    out = options.out
    main = accelerator.is_main_process
    schedule = NoiseSchedule.linear(settings.timesteps, BETA_START, BETA_END)
    seed_everything(settings.seed)  # the initial weights, identical in every process
    model = UNet(**settings.unet)
    optimiser = torch.optim.AdamW(model.parameters(), lr=settings.lr)
    ema = EMA(model, settings.ema) if settings.ema > 0 else None
    start_step, losses, seconds_before = 0, [], 0.0
    if options.resume:
        state = load_checkpoint(out / CHECKPOINT)
        _check_same_run(state["settings"], settings, out)
        model.load_state_dict(state["model"])
        optimiser.load_state_dict(state["optimiser"])
        if ema is not None:
            ema.model.load_state_dict(state["ema"])
            ema.num_updates = state["ema_updates"]
        start_step, losses, seconds_before = state["step"], list(state["losses"]), state["seconds"]
        _restore_rng_states(state["rng"])
        if accelerator.scaler is not None and state.get("scaler"):  # fp16's loss scale, where it is used
            accelerator.scaler.load_state_dict(state["scaler"])
    if main:
        (out / "samples").mkdir(parents=True, exist_ok=True)
    model, optimiser = accelerator.prepare(model, optimiser)
    if ema is not None:
        ema.model.to(accelerator.device)
    checkpoint_every = options.checkpoint_every or options.sample_every

    def all_ok(ok: bool) -> bool:
        """Process 0's verdict, sent to every process (so none waits for a process that failed)."""
        flag = torch.tensor([1.0 if ok else 0.0], device=accelerator.device)
        return bool(broadcast(flag, from_process=0).item()) if processes > 1 else ok

    last_saved = [start_step if options.resume else None]  # the step of the checkpoint on disk

    def write_checkpoint(step: int, seconds: float) -> None:
        error = None
        if main:
            state = {"format": 1, "settings": asdict(settings), "step": step, "losses": losses, "seconds": seconds,
                     "model": accelerator.unwrap_model(model).state_dict(), "optimiser": optimiser.state_dict(),
                     "ema": ema.model.state_dict() if ema is not None else {},
                     "ema_updates": ema.num_updates if ema is not None else 0, "rng": _rng_states(),
                     "scaler": accelerator.scaler.state_dict() if accelerator.scaler is not None else {}}
            try:
                save_checkpoint(out / CHECKPOINT, state)
            except OSError as e:
                error = e
        if not all_ok(error is None):
            reason = (error.strerror or str(error)) if error is not None else "process 0 could not write it"
            raise OSError(f"could not write {out / CHECKPOINT} at step {step} ({reason}); {kept_checkpoint('free some space and ')}")
        last_saved[0] = step

    def kept_checkpoint(advice: str = "") -> str:
        if last_saved[0] is None:
            return "no checkpoint was written yet"
        return f"the checkpoint of step {last_saved[0]} is intact: {advice}continue with --resume"

    def snapshot(step: int) -> None:
        if main:
            weights = ema.model if ema is not None else accelerator.unwrap_model(model)
            shape = (options.num_samples, settings.unet["in_channels"], settings.size, settings.size)
            save_sample_grid(weights, schedule, shape, out / "samples" / f"step-{step:06d}.png", settings.seed)
            save_loss_curve(losses, out / "loss.png")

    from tqdm.auto import tqdm

    start = time.perf_counter()
    bar = tqdm(total=options.steps, initial=start_step, unit="step", desc="train-images",
               disable=not (options.progress and accelerator.is_local_main_process))
    def train_step(step: int) -> None:
        x0, t, eps, augment = global_batch(data, schedule, settings, step)
        for group in optimiser.param_groups:  # linear warm-up, a function of the step alone
            group["lr"] = settings.lr * min(1.0, step / settings.warmup) if settings.warmup else settings.lr
        step_loss = torch.zeros((), device=accelerator.device)
        for micro in range(settings.grad_accum):
            first = (micro * processes + rank) * share  # this process's share of this micro-step
            part = slice(first, first + share)
            x0_part, t_part, eps_part = (v[part].to(accelerator.device) for v in (x0, t, eps))
            told = {} if augment is None else {"augment": augment[part].to(accelerator.device)}
            with accelerator.accumulate(model):
                x_t = schedule.add_noise(x0_part, eps_part, t_part)  # Ho et al. 2020, eq. 4
                loss = noise_prediction_error(model(x_t, t_part, **told).float(), eps_part, t_part, schedule,
                                              settings.min_snr_gamma)  # Ho et al. 2020, eq. 14
                accelerator.backward(loss)
                if accelerator.sync_gradients:
                    accelerator.clip_grad_norm_(model.parameters(), 1.0)
                optimiser.step()
                optimiser.zero_grad(set_to_none=True)
            step_loss += loss.detach() / settings.grad_accum
        mean_loss = accelerator.reduce(step_loss, "mean").item() if processes > 1 else step_loss.item()
        if not math.isfinite(mean_loss):
            raise FloatingPointError(f"the loss is {mean_loss} at step {step}: try a smaller --lr (now {settings.lr:g}); "
                                     f"{kept_checkpoint()}")
        losses.append(mean_loss)
        if ema is not None:
            ema.update(accelerator.unwrap_model(model))
        seconds = seconds_before + time.perf_counter() - start
        recent = losses[-20:]
        bar.set_postfix(loss=f"{sum(recent) / len(recent):.4f}",
                        img_per_s=f"{(step - start_step) * settings.batch_size / max(time.perf_counter() - start, 1e-9):.0f}")
        bar.update(1)
        if step % options.sample_every == 0 or step == options.steps:
            snapshot(step)
        if step % checkpoint_every == 0 or step == options.steps:
            write_checkpoint(step, seconds)

    step = start_step
    try:
        for step in range(start_step + 1, options.steps + 1):
            train_step(step)
    except KeyboardInterrupt:  # Ctrl-C: one line, not a traceback
        raise RuntimeError(f"interrupted at step {step}; {kept_checkpoint()}") from None
    finally:
        bar.close()
    seconds = seconds_before + time.perf_counter() - start if options.steps > start_step else seconds_before
    card = _card(data, settings, options, losses, seconds, accelerator, max(options.steps, start_step))
    if main:
        weights = ema.model if ema is not None else accelerator.unwrap_model(model)
        export(weights, schedule, settings.size, out, card)
    accelerator.wait_for_everyone()
    return card


def _card(data: ImageData, settings: RunSettings, options: TrainOptions, losses: list[float], seconds: float,
          accelerator: Accelerator, steps: int) -> dict:
    tail = losses[-100:]
    return {
        "data": data.source, "images": len(data.images), "skipped_files": data.skipped,
        "converted_to_rgb": data.converted_to_rgb, "settings": asdict(settings), "steps": steps,
        "final_loss": round(sum(tail) / len(tail), 5) if tail else None, "seconds": round(seconds, 1),
        "processes": accelerator.num_processes, "device": str(accelerator.device),
        "hardware": _hardware(accelerator.device), "torch": torch.__version__,
    }


def export(model: nn.Module, schedule: NoiseSchedule, size: int, out: Path, card: dict) -> None:
    """Write ``model`` as a diffusers ``DDPMPipeline`` folder in ``out``, plus ``README.md`` (the model card).

    The scheduler is ``DDPMScheduler`` configured to be the course's :class:`~course_lib.samplers.DDPMSampler`
    on the training schedule (fixed_small variance, no clipping), so ``DDPMPipeline.from_pretrained(out)``
    draws what ``course_lib.sample`` draws with the same generator.
    """
    from diffusers import DDPMPipeline, DDPMScheduler

    from .hf import CourseUNet2DModel

    unet = CourseUNet2DModel.from_course_model(model.float().cpu().eval(), sample_size=size)
    scheduler = DDPMScheduler(num_train_timesteps=schedule.num_timesteps, beta_start=BETA_START, beta_end=BETA_END,
                              beta_schedule="linear", variance_type="fixed_small", clip_sample=False)
    staging = out / ".export.tmp"
    shutil.rmtree(staging, ignore_errors=True)
    DDPMPipeline(unet=unet, scheduler=scheduler).save_pretrained(staging)
    (staging / "README.md").write_text(model_card(card), encoding="utf-8")
    (staging / "run.json").write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
    for name in ("unet", "scheduler", "model_index.json", "README.md", "run.json"):
        target = out / name
        if target.is_dir():
            shutil.rmtree(target)
        os.replace(staging / name, target)
    shutil.rmtree(staging, ignore_errors=True)


def model_card(card: dict) -> str:
    """A short model card (Markdown with the Hub's YAML header) from the dict that :func:`train` returns."""
    s = card["settings"]
    source = Path(card["data"]).name if os.sep in card["data"] else card["data"]
    skipped = f", {len(card['skipped_files'])} unreadable files skipped" if card["skipped_files"] else ""
    minutes = card["seconds"] / 60
    extra_rows = (f"| augmentation | half the images shifted by up to {s['augment_shift']} pixels, the UNet told the shift "
                  f"(non-leaky, Karras et al. 2022); samples are unshifted |\n" if s.get("augment_shift") else "")
    if s.get("min_snr_gamma") is not None:
        extra_rows += f"| loss weighting | Min-SNR-gamma, gamma = {s['min_snr_gamma']:g} (Hang et al. 2023) |\n"
    if s["unet"].get("dropout"):
        extra_rows += f"| dropout | {s['unet']['dropout']:g} in every residual block |\n"
    return f"""---
library_name: diffusers
tags: [unconditional-image-generation, ddpm, course_lib]
---
# Unconditional DDPM on `{source}`, {s['size']}x{s['size']} {s['mode']}

Trained with `python -m course_lib train-images` (the course UNet, {_param_count(s['unet'])} parameters).

| | |
|---|---|
| data | `{source}`: {card['images']} images{skipped} |
| images | {s['size']}x{s['size']}, {s['mode']} |
| steps | {card['steps']}, global batch {s['batch_size']}, AdamW lr {s['lr']:g} (warm-up {s['warmup']} steps), EMA {s['ema']:g} |
{extra_rows}| schedule | linear, T = {s['timesteps']}, beta from {BETA_START:g} to {BETA_END:g} (Ho et al. 2020) |
| final loss | {card['final_loss']} (mean of the last 100 steps) |
| time | {card['seconds']} s ({minutes:.1f} min) of training |
| hardware | {card['processes']} process(es), {card['hardware']}, mixed precision {s['mixed_precision']}, torch {card['torch']} |
| seed | {s['seed']} |

```python
import course_lib.hf  # the UNet is the course's: diffusers loads it once this module is imported
from diffusers import DDPMPipeline

pipeline = DDPMPipeline.from_pretrained("path/to/this/folder")
images = pipeline(batch_size=16, num_inference_steps={s['timesteps']}).images
```

Samples during training are in `samples/`, the loss curve in `loss.png`.
"""


def _param_count(config: dict) -> str:
    count = sum(p.numel() for p in UNet(**config).parameters())
    return f"{count / 1e6:.2f}M"


# ------------------------------------------------------------------------------ command line


def add_subcommand(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``train-images`` to the command line's sub-commands; :func:`run` is what it runs."""
    p = subparsers.add_parser("train-images", help="train the course UNet on a folder of your images (Accelerate)",
                              description="Train an unconditional DDPM on your own images; "
                                          "also runs under `accelerate launch -m course_lib train-images`.")
    p.add_argument("--data", required=True, help=f"a folder of PNG/JPEG images, or {', '.join(ONLINE_SOURCES)} (online)")
    p.add_argument("--size", required=True, type=argparse_type("--size", lambda n, v: check_int(n, v, 8, MAX_SIZE)),
                   help="image side in pixels (8..512, e.g. 16 or 32); images are resized and centre-cropped")
    p.add_argument("--out", required=True, help="output folder: new or empty, or a run to continue with --resume")
    p.add_argument("--steps", type=argparse_type("--steps", lambda n, v: check_int(n, v)), default=2000, help="optimiser steps (default 2000)")
    p.add_argument("--batch-size", type=argparse_type("--batch-size", lambda n, v: check_int(n, v)), default=64,
                   help="global batch per step, shared by all processes (default 64)")
    p.add_argument("--lr", type=argparse_type("--lr", lambda n, v: check_number(n, v, 0.0, 1.0, low_open=True), float), default=None,
                   help="AdamW learning rate (default 1e-3 up to 16 pixels, else 2e-4)")
    p.add_argument("--warmup", type=argparse_type("--warmup", lambda n, v: check_int(n, v, 0)), default=100,
                   help="steps of linear learning-rate warm-up (default 100)")
    p.add_argument("--ema", type=argparse_type("--ema", lambda n, v: check_number(n, v, 0.0, 1.0, high_open=True), float), default=0.999,
                   help="EMA decay of the exported weights, 0 for none (default 0.999)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its checkpoint")
    p.add_argument("--sample-every", type=argparse_type("--sample-every", lambda n, v: check_int(n, v)), default=500,
                   help="steps between sample grids and loss curves (default 500)")
    p.add_argument("--checkpoint-every", type=argparse_type("--checkpoint-every", lambda n, v: check_int(n, v)), default=None,
                   help="steps between checkpoints (default: --sample-every)")
    p.add_argument("--mixed-precision", choices=["no", "fp16", "bf16"], default=None,
                   help="mixed precision (faster on a GPU; runs on a CPU too); default: what `accelerate config` chose, else no")
    p.add_argument("--grad-accum", type=argparse_type("--grad-accum", lambda n, v: check_int(n, v)), default=1,
                   help="micro-steps per optimiser step (memory: the batch is split into this many parts)")
    p.add_argument("--mode", choices=["auto", "gray", "rgb"], default="auto", help="default: gray if every image is")
    p.add_argument("--channels", type=argparse_type("--channels", lambda n, v: check_int(n, v, 8)), default=None,
                   help="UNet width at full resolution, a multiple of 8 (default by --size)")
    p.add_argument("--timesteps", type=argparse_type("--timesteps", lambda n, v: check_int(n, v, 2, 10_000)), default=1000,
                   help="diffusion steps T (default 1000)")
    p.add_argument("--seed", type=argparse_type("--seed", lambda n, v: check_seed(n, v)), default=0, help="default 0")
    p.add_argument("--num-samples", type=argparse_type("--num-samples", lambda n, v: check_int(n, v, 1, 256)), default=16,
                   help="images in each sample grid (default 16)")
    p.add_argument("--data-root", default=None, help=f"where {', '.join(ONLINE_SOURCES)} are downloaded "
                                                     f"(default $XDG_CACHE_HOME or ~/.cache, then course_lib/datasets)")
    p.add_argument("--allow-upscale", action="store_true", help="enlarge images smaller than --size instead of refusing")
    p.add_argument("--cpu", action="store_true", help="train on the CPU even if a GPU is present")
    p.add_argument("--augment-shift", type=argparse_type("--augment-shift", lambda n, v: check_int(n, v, 0, 8)), default=0,
                   help="for small folders: shift half the training images by up to N pixels and tell the UNet the "
                        "shift, so it cannot just store the images; samples come unshifted (default 0: off)")
    p.add_argument("--dropout", type=argparse_type("--dropout", lambda n, v: check_number(n, v, 0.0, 1.0, high_open=True), float),
                   default=0.0, help="dropout in the UNet's residual blocks, against memorising small folders (default 0)")
    p.add_argument("--min-snr-gamma", type=argparse_type("--min-snr-gamma", lambda n, v: check_number(n, v, 0.0, low_open=True), float),
                   default=None, help="weight the loss by min(SNR, gamma)/SNR (Min-SNR, Hang et al. 2023; 5 is usual; "
                                      "default: unweighted)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    return p


def settings_from_args(args: argparse.Namespace, data: ImageData) -> RunSettings:
    """The :class:`RunSettings` that ``args`` ask for, with the defaults that depend on the data filled in."""
    unet = unet_config(args.size, data.images.shape[1], args.channels)
    if args.augment_shift:
        if args.augment_shift >= args.size // 2:
            raise ValueError(f"--augment-shift must be below half of --size ({args.size // 2}); got {args.augment_shift}")
        unet["augment_dim"] = SHIFT_LABELS
    if args.dropout:
        unet["dropout"] = args.dropout
    lr = args.lr if args.lr is not None else (1e-3 if args.size <= 16 else 2e-4)
    # accelerate launch passes its configured precision to the processes in ACCELERATE_MIXED_PRECISION
    precision = args.mixed_precision or os.environ.get("ACCELERATE_MIXED_PRECISION") or "no"
    return RunSettings(data.source, data.fingerprint(), len(data.images), args.size, data.mode, unet, args.timesteps,
                       args.batch_size, lr, args.warmup, args.ema, args.seed, args.grad_accum, precision,
                       args.augment_shift, args.min_snr_gamma)


def run(args: argparse.Namespace) -> None:
    """``python -m course_lib train-images``: check everything, load the images, train, export, report."""
    try:
        import accelerate  # noqa: F401  (the extra course_lib[train])
        import diffusers  # noqa: F401
    except ImportError as e:
        raise RuntimeError(f"train-images needs {e.name}: pip install 'course_lib[train,diffusers]'") from None
    out = Path(args.out)
    _check_out(out, args.resume)
    unet_config(args.size, 1, args.channels)  # a bad --size or --channels fails before the images are read
    # Every process passes the checks above before any of them gets past this line (creating the
    # Accelerator joins the processes), so none sees a folder that process 0 has just created.
    precision = args.mixed_precision or os.environ.get("ACCELERATE_MIXED_PRECISION") or "no"
    accelerator = make_accelerator(precision, args.grad_accum, args.cpu)
    with accelerator.main_process_first():  # process 0 downloads mnist & co., the others then read its copy
        data = load_images(args.data, args.size, args.mode, args.data_root, args.allow_upscale)
    settings = settings_from_args(args, data)
    if args.resume:  # compare before any output is touched
        _check_same_run(load_checkpoint(out / CHECKPOINT)["settings"], settings, out)
    notes = []
    if data.skipped:
        names = ", ".join(f"{name} ({why})" for name, why in data.skipped[:3])
        notes.append(f"skipped {len(data.skipped)} unreadable file(s): {names}{' ...' if len(data.skipped) > 3 else ''}")
    if data.converted_to_rgb:
        notes.append(f"{data.converted_to_rgb} grayscale image(s) among colour ones trained as RGB (use --mode gray for gray)")
    options = TrainOptions(out, args.steps, args.resume, args.sample_every, args.checkpoint_every, args.num_samples,
                           not args.no_progress, args.cpu)
    main = os.environ.get("RANK", "0") == "0"  # set by accelerate launch and torchrun
    if main:
        print(f"{len(data.images)} images of {data.source}, {args.size}x{args.size} {data.mode}"
              + "".join(f"; {note}" for note in notes))
    card = train(data, settings, options, accelerator)
    if main:
        print(f"{card['steps']} steps in {card['seconds']} s on {card['processes']} process(es), {card['hardware']}; "
              f"final loss {card['final_loss']} -> {out} (DDPMPipeline.from_pretrained loads it)")
