"""Command line: ``python -m course_lib {sample,train,doctor} ...``.

    python -m course_lib sample --model digits --n 64 --seed 0 --out digits.png
    python -m course_lib sample --model digits-cond --labels 3,3,7 --guidance 2 --out three.npz
    python -m course_lib train --model digits
    python -m course_lib doctor

Errors (unknown model, bad counts, missing or corrupted weights) print one line and exit
with status 2, leaving no partial output file.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from . import checkpoints
from .config import get_device
from .samplers import DDIMSampler, DDPMSampler, sample

DEFAULT_GUIDANCE = 2.0


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer; got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m course_lib", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)

    s = commands.add_parser("sample", help="generate images (or points) with a shipped model")
    s.add_argument("--model", required=True, help="a shipped model, e.g. digits, digits-cond, sprites, toy2d")
    s.add_argument("--n", type=_positive_int, default=64, help="how many samples (default 64)")
    s.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    s.add_argument("--sampler", choices=["ddpm", "ddim"], default="ddim", help="default ddim")
    s.add_argument("--steps", type=_positive_int, default=50, help="DDIM steps (default 50; DDPM uses all T)")
    s.add_argument("--eta", type=float, default=0.0, help="DDIM eta in [0, 1] (default 0)")
    s.add_argument("--guidance", type=float, default=None,
                   help=f"classifier-free guidance weight w >= 0 (conditional models; default {DEFAULT_GUIDANCE})")
    s.add_argument("--labels", default=None,
                   help="digits-cond: class labels like 0,1,2 (default cycles 0..9); "
                        "sprites: attribute sets like red+circle,blue+square+left")
    s.add_argument("--device", default=None, help="cpu, cuda or mps (default: the best available)")
    s.add_argument("--out", required=True, help="output .png (a grid) or .npz (arrays)")
    s.add_argument("--no-progress", action="store_true", help="hide the progress bar")

    t = commands.add_parser("train", help="train a shipped model and write it into the package")
    t.add_argument("--model", required=True, help="a recipe name, or 'all'")
    t.add_argument("--steps", type=_positive_int, default=None, help="override the recipe's step count")
    t.add_argument("--device", default=None)
    t.add_argument("--seed", type=int, default=0)
    commands.add_parser("doctor", help="check that this machine is ready for the workshop")
    return parser


def _context_for(entry: dict, labels: str | None, n: int) -> tuple[torch.Tensor | None, np.ndarray | None]:
    """The (n, context_dim) context and the per-sample labels for a conditional model."""
    names = entry.get("context_names")
    dim = entry["model_config"].get("context_dim", 0)
    if dim == 0:
        if labels is not None:
            raise ValueError(f"--labels given, but model is unconditional")
        return None, None
    if names == [str(d) for d in range(dim)]:  # class labels
        values = list(range(dim)) if labels is None else [int(v) for v in labels.split(",")]
        if any(not 0 <= v < dim for v in values):
            raise ValueError(f"--labels must be class indices in 0..{dim - 1}; got {labels}")
        chosen = np.array([values[i % len(values)] for i in range(n)])
        return torch.nn.functional.one_hot(torch.as_tensor(chosen), dim).float(), chosen
    specs = [s.split("+") for s in labels.split(",")] if labels is not None else [
        [shape, colour] for shape in names[:4] for colour in names[4:8]]
    rows = []
    for spec in specs:
        unknown = [a for a in spec if a not in names]
        if unknown:
            raise ValueError(f"--labels: unknown attribute(s) {', '.join(unknown)}; known: {', '.join(names)}")
        rows.append([float(a in spec) for a in names])
    context = torch.tensor([rows[i % len(rows)] for i in range(n)])
    return context, np.array(["+".join(specs[i % len(specs)]) for i in range(n)])


def run_sample(args: argparse.Namespace) -> None:
    out = Path(args.out)
    if out.suffix not in (".png", ".npz"):
        raise ValueError(f"--out must end in .png or .npz; got {args.out}")
    if not out.parent.is_dir():
        raise ValueError(f"--out: folder {out.parent} does not exist")
    entries = checkpoints.read_manifest(checkpoints.WEIGHTS_DIR / "manifest.json") if (
        checkpoints.WEIGHTS_DIR / "manifest.json").is_file() else {}
    entry = entries.get(args.model)
    if entry is None or entry.get("schedule") is None:
        samplers = sorted(k for k, v in entries.items() if v.get("schedule"))
        raise ValueError(f"--model: no generative model named {args.model!r}; available: {', '.join(samplers) or '(none)'}")
    model, schedule = checkpoints.load_pretrained(args.model, device=args.device)
    device = get_device(args.device)
    context, labels = _context_for(entry, args.labels, args.n)
    guidance = args.guidance if args.guidance is not None else (DEFAULT_GUIDANCE if context is not None else 0.0)
    if guidance and context is None:
        raise ValueError("--guidance needs a conditional model (digits-cond, sprites)")
    sampler = DDPMSampler(schedule) if args.sampler == "ddpm" else DDIMSampler(schedule, args.steps, eta=args.eta)
    shape = (args.n, *entry["image_shape"]) if "image_shape" in entry else (args.n, entry["model_config"]["data_dim"])
    generator = torch.Generator().manual_seed(args.seed)
    start = time.perf_counter()
    x = sample(model, sampler, shape, context=context, guidance=guidance, generator=generator, device=device,
               progress=not args.no_progress).cpu()
    seconds = time.perf_counter() - start
    _write_atomically(out, x, labels)
    steps = len(sampler.timesteps)
    print(f"{args.model}: {args.n} samples, {args.sampler} {steps} steps, guidance {guidance:g}, seed {args.seed}, "
          f"{device}: {seconds:.2f} s -> {out}")


def _write_atomically(out: Path, x: torch.Tensor, labels: np.ndarray | None) -> None:
    """Write to a temporary file beside ``out`` and rename it, so a failure leaves no partial file."""
    fd, tmp = tempfile.mkstemp(suffix=out.suffix, dir=out.parent)
    os.close(fd)
    try:
        if out.suffix == ".npz":
            arrays = {"images" if x.ndim == 4 else "points": x.numpy().astype(np.float32)}
            if labels is not None:
                arrays["labels"] = labels
            np.savez(tmp, **arrays)
        else:
            _save_png(tmp, x)
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _save_png(path: str, x: torch.Tensor) -> None:
    if x.ndim == 4:
        from torchvision.utils import save_image

        save_image((x.clamp(-1, 1) + 1) / 2, path, nrow=int(np.ceil(np.sqrt(len(x)))), padding=1)
        return
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4, 4))
    ax.scatter(x[:, 0], x[:, 1], s=2)
    ax.set(xlabel="$x_1$", ylabel="$x_2$", aspect="equal")
    fig.savefig(path, format="png", dpi=120)
    plt.close(fig)


def run_train(args: argparse.Namespace) -> None:
    from .pretrained import RECIPES, ship, train_recipe

    names = list(RECIPES) if args.model == "all" else [args.model]
    for name in names:
        if name not in RECIPES:
            raise ValueError(f"--model: unknown recipe {name!r}; choose from {', '.join(RECIPES)} or all")
        model, card = train_recipe(name, steps=args.steps, device=args.device, seed=args.seed)
        entry = ship(name, model, card)
        print(f"{name}: {card['training']['steps']} steps in {card['training']['seconds']} s, "
              f"final loss {card['training']['final_loss']}, sha256 {entry['sha256'][:12]}...")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "doctor":
        from .doctor import report, run_checks

        return report(run_checks())
    try:
        run_sample(args) if args.command == "sample" else run_train(args)
    except (ValueError, FileNotFoundError, RuntimeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
