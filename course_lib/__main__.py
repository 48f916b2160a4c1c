"""Command line: ``python -m course_lib {sample,train,train-images,doctor} ...``.

    python -m course_lib sample --model digits --n 64 --seed 0 --out digits.png
    python -m course_lib sample --model digits-cond --labels 3,3,7 --guidance 2 --out three.npz
    python -m course_lib train --model digits --out trained-weights
    python -m course_lib train-images --data my_drawings/ --size 16 --out runs/drawings   (see course_lib.train_images)
    python -m course_lib doctor

Errors (unknown model, bad counts, labels or seeds, missing or corrupted weights, an output
that cannot be written) print one line on stderr and exit with status 2, leaving no partial
output file. The destination is checked before any sampling. An existing ``--out`` is refused
unless ``--force`` is given; the file is written with the usual permissions (as umask says).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

from . import checkpoints, train_images
from .config import get_device
from .samplers import DDIMSampler, DDPMSampler, DPMSolverSampler, sample
from .validation import InvalidArgument, OneLineParser, argparse_type, check_int, check_number, check_seed

DEFAULT_GUIDANCE = 2.0
DEFAULT_SAMPLER = "dpm-sde"
"""The best measured trade-off (``make bench TABLES=ten-steps``, mean of 10 seeds of 500 samples, MODEL_CARD.md):
SDE-DPM-Solver++(2M) with 10 steps beat the deterministic DPM-Solver++(2M) with 10 on every shipped image model
(digits: confident 0.970 vs 0.966, FID 0.97 vs 1.31; digits-cond at w = 2: FID 0.70 vs 1.01; sprites at w = 2:
all attributes right 0.997 vs 0.990) and came within 0.01 of DDPM's 500 steps in confident fraction on
the digits."""
DEFAULT_STEPS = {"ddim": 50, "dpm": 10, "dpm-sde": 10}
MAX_SAMPLES = 10_000
"""The largest ``--n``: all samples go through the network as one batch, so memory grows with it."""


_count = argparse_type("--n", lambda name, v: check_int(name, v, 1, MAX_SAMPLES))
_steps = argparse_type("--steps", check_int)
_seed = argparse_type("--seed", check_seed)


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="python -m course_lib", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)

    s = commands.add_parser("sample", help="generate images (or points) with a shipped model")
    s.add_argument("--model", required=True, help="a shipped model, e.g. digits, digits-cond, sprites, toy2d")
    s.add_argument("--n", type=_count, default=64, help=f"how many samples, 1..{MAX_SAMPLES} (default 64)")
    s.add_argument("--seed", type=_seed, default=0, help="random seed, 0..2**64-1 (default 0)")
    s.add_argument("--sampler", choices=["ddpm", "ddim", "dpm", "dpm-sde"], default=DEFAULT_SAMPLER,
                   help=f"ddpm (all T steps), ddim, dpm (DPM-Solver++(2M)) or dpm-sde (its stochastic version), "
                        f"on 'trailing' timesteps; default {DEFAULT_SAMPLER}")
    s.add_argument("--steps", type=_steps, default=None,
                   help=f"DDIM or DPM-Solver++ steps: ddim 1..T (default {DEFAULT_STEPS['ddim']}), dpm and dpm-sde "
                        f"1..T (default {DEFAULT_STEPS['dpm']}); not for ddpm, which uses all T")
    s.add_argument("--eta", type=float, default=None, help="DDIM eta in [0, 1] (default 0); ddim only")
    s.add_argument("--guidance", type=float, default=None,
                   help=f"classifier-free guidance weight w >= 0 (conditional models; default {DEFAULT_GUIDANCE})")
    s.add_argument("--labels", default=None,
                   help="digits-cond: class labels like 0,1,2 (default cycles 0..9); "
                        "sprites: attribute sets like red+circle,blue+square+left (at most one shape, "
                        "one colour and one facing each)")
    s.add_argument("--device", default=None, help="cpu, cuda or mps (default: the best available)")
    s.add_argument("--out", required=True, help="output .png (a grid) or .npz (arrays); an existing file needs --force")
    s.add_argument("--force", action="store_true", help="replace --out if it exists")
    s.add_argument("--no-progress", action="store_true", help="hide the progress bar")

    t = commands.add_parser("train", help="retrain a shipped model's recipe into an output folder (never the package)")
    t.add_argument("--model", required=True, help="a recipe name, or 'all'")
    t.add_argument("--out", default="trained-weights",
                   help="folder for NAME.pt and manifest.json (default trained-weights; an earlier NAME.pt there is replaced)")
    t.add_argument("--steps", type=_steps, default=None, help="override the recipe's step count")
    t.add_argument("--device", default=None)
    t.add_argument("--seed", type=_seed, default=0, help="random seed, 0..2**64-1 (default 0)")
    commands.add_parser("doctor", help="check that this machine is ready for the workshop")
    train_images.add_subcommand(commands)
    return parser


def _class_labels(labels: str, dim: int) -> list[int]:
    values = []
    for item in labels.split(","):
        if not item.strip().isdigit() or not 0 <= int(item) < dim:
            raise ValueError(f"--labels must be comma-separated class indices in 0..{dim - 1}, like 3,3,7; "
                             f"got {labels!r} ({item.strip() or 'an empty label'!r} is not one)")
        values.append(int(item))
    return values


def _attribute_sets(labels: str, names: list[str]) -> list[list[str]]:
    from .data.sprites import GROUPS

    groups = GROUPS if sorted(names) == sorted(a for g in GROUPS.values() for a in g) else {}
    specs = []
    for item in labels.split(","):
        spec = [a.strip() for a in item.split("+")]
        if "" in spec:
            raise ValueError(f"--labels: empty attribute name in {item!r}; write sets like red+circle,blue+square+left")
        unknown = [a for a in spec if a not in names]
        if unknown:
            raise ValueError(f"--labels: unknown attribute(s) {', '.join(unknown)}; known: {', '.join(names)}")
        for group, members in groups.items():
            chosen = [a for a in spec if a in members]
            if len(chosen) > 1:
                raise ValueError(f"--labels: {item!r} names more than one {group} ({', '.join(chosen)}); "
                                 f"a sprite has one")
        specs.append(spec)
    return specs


def _context_for(entry: dict, labels: str | None, n: int) -> tuple[torch.Tensor | None, np.ndarray | None]:
    """The (n, context_dim) context and the per-sample labels for a conditional model."""
    names = entry.get("context_names")
    dim = entry["model_config"].get("context_dim", 0)
    if dim == 0:
        if labels is not None:
            raise ValueError("--labels given, but model is unconditional")
        return None, None
    if names == [str(d) for d in range(dim)]:  # class labels
        values = list(range(dim)) if labels is None else _class_labels(labels, dim)
        chosen = np.array([values[i % len(values)] for i in range(n)])
        return torch.nn.functional.one_hot(torch.as_tensor(chosen), dim).float(), chosen
    specs = _attribute_sets(labels, names) if labels is not None else [
        [shape, colour] for shape in names[:4] for colour in names[4:8]]
    rows = [[float(a in spec) for a in names] for spec in specs]
    context = torch.tensor([rows[i % len(rows)] for i in range(n)])
    return context, np.array(["+".join(specs[i % len(specs)]) for i in range(n)])


def _check_destination(out: Path, force: bool) -> None:
    """Refuse a destination that cannot be written, before any work is done."""
    if out.suffix not in (".png", ".npz"):
        raise ValueError(f"--out must end in .png or .npz; got {out}")
    if not out.parent.is_dir():
        raise ValueError(f"--out: folder {out.parent} does not exist")
    if out.is_dir():
        raise ValueError(f"--out: {out} is a folder; give a file name ending in {out.suffix}")
    if out.exists() and not force:
        raise ValueError(f"--out: {out} exists; pass --force to replace it")
    if not os.access(out.parent, os.W_OK):
        raise ValueError(f"--out: cannot write into folder {out.parent} (permission denied)")


def _open_temporary(out: Path) -> Path:
    """Create the (empty) temporary file beside ``out`` that the result is written to, with the usual permissions."""
    for attempt in range(100):
        tmp = out.with_name(f".{out.stem}.{os.getpid()}.{attempt}.tmp{out.suffix}")
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))  # the mode umask leaves
            return tmp
        except FileExistsError:
            continue
        except OSError as e:
            raise ValueError(f"--out: cannot write into folder {out.parent}: {e.strerror}") from None
    raise ValueError(f"--out: cannot create a temporary file in {out.parent}")


def run_sample(args: argparse.Namespace) -> None:
    out = Path(args.out)
    _check_destination(out, args.force)
    manifest = checkpoints.WEIGHTS_DIR / "manifest.json"
    if not manifest.is_file():
        raise FileNotFoundError(f"no shipped weights are installed ({manifest} does not exist); {checkpoints.TRAIN_HINT}")
    entries = checkpoints.read_manifest(manifest)
    entry = entries.get(args.model)
    if entry is not None and entry["model_class"] == "TextToImageUNet":
        raise ValueError(f"--model: {args.model} generates from text; use course_lib.text_to_image.generate (lesson 12)")
    if entry is None or entry.get("schedule") is None:
        samplers = sorted(k for k, v in entries.items() if v.get("schedule") and v["model_class"] != "TextToImageUNet")
        raise ValueError(f"--model: no generative model named {args.model!r}; available: {', '.join(samplers) or '(none)'}")
    if args.sampler == "ddpm" and (args.steps is not None or args.eta is not None):
        raise ValueError("--steps and --eta are DDIM settings; --sampler ddpm always takes all T steps with full noise")
    eta = check_number("--eta", 0.0 if args.eta is None else args.eta, 0.0, 1.0)
    if args.sampler.startswith("dpm") and args.eta is not None:
        raise ValueError(f"--eta is a DDIM setting, not one of --sampler {args.sampler}: use --sampler ddim "
                         f"(or dpm-sde for DPM-Solver++ with noise)")
    if args.guidance is not None:
        check_number("--guidance", args.guidance, 0.0)
    device = get_device(args.device)
    context, labels = _context_for(entry, args.labels, args.n)
    guidance = args.guidance if args.guidance is not None else (DEFAULT_GUIDANCE if context is not None else 0.0)
    if guidance and context is None:
        raise ValueError("--guidance needs a conditional model (digits-cond, sprites)")
    model, schedule = checkpoints.load_pretrained(args.model, device=args.device)
    steps = DEFAULT_STEPS.get(args.sampler) if args.steps is None else args.steps
    try:
        sampler = {"ddpm": lambda: DDPMSampler(schedule), "ddim": lambda: DDIMSampler(schedule, steps, eta=eta),
                   "dpm": lambda: DPMSolverSampler(schedule, steps),
                   "dpm-sde": lambda: DPMSolverSampler(schedule, steps, stochastic=True)}[args.sampler]()
    except InvalidArgument as e:
        raise ValueError(f"--steps: {e}") from None
    shape = (args.n, *entry["image_shape"]) if "image_shape" in entry else (args.n, entry["model_config"]["data_dim"])
    generator = torch.Generator().manual_seed(args.seed)
    tmp = _open_temporary(out)
    try:
        start = time.perf_counter()
        x = sample(model, sampler, shape, context=context, guidance=guidance, generator=generator, device=device,
                   progress=not args.no_progress).cpu()
        seconds = time.perf_counter() - start
        _write(tmp, x, labels)
        os.replace(tmp, out)
    except OSError as e:
        raise ValueError(f"--out: could not write {out}: {e.strerror or e}") from None
    finally:
        if tmp.exists():
            tmp.unlink()
    print(f"{args.model}: {args.n} samples, {args.sampler} {len(sampler.timesteps)} steps, guidance {guidance:g}, "
          f"seed {args.seed}, {device}: {seconds:.2f} s -> {out}")


def _write(path: Path, x: torch.Tensor, labels: np.ndarray | None) -> None:
    if path.suffix == ".npz":
        arrays = {"images" if x.ndim == 4 else "points": x.numpy().astype(np.float32)}
        if labels is not None:
            arrays["labels"] = labels
        with open(path, "wb") as f:  # a file object, so numpy adds no second .npz suffix
            np.savez(f, **arrays)
    else:
        _save_png(str(path), x)


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
    from .pretrained import RECIPES, install_hint, ship, train_recipe

    names = list(RECIPES) if args.model == "all" else [args.model]
    for name in names:
        if name not in RECIPES:
            raise ValueError(f"--model: unknown recipe {name!r}; choose from {', '.join(RECIPES)} or all")
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out: {out} is a file; give a folder")
    if out.resolve() == checkpoints.WEIGHTS_DIR.resolve():
        raise ValueError(f"--out: {out} is the package's weights folder, which train never writes; choose another folder")
    for name in names:
        model, card = train_recipe(name, steps=args.steps, device=args.device, seed=args.seed)
        entry = ship(name, model, card, out)
        print(f"{name}: {card['training']['steps']} steps in {card['training']['seconds']} s, "
              f"final loss {card['training']['final_loss']}, sha256 {entry['sha256'][:12]}... -> {out / entry['file']}")
        print(f"  use it with load_pretrained({name!r}, weights_dir={str(out)!r}); {install_hint(name, out)}")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "doctor":
        from .doctor import report, run_checks

        return report(run_checks())
    try:
        {"sample": run_sample, "train": run_train, "train-images": train_images.run}[args.command](args)
    except (ValueError, OSError, RuntimeError, FloatingPointError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except MemoryError:
        print("error: out of memory; ask for fewer samples (--n)", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
