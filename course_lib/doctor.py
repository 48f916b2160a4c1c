"""``python -m course_lib doctor``: is this machine ready for the workshop?

Each check returns a :class:`Check` with what was found and, when it fails, what to do. The
command prints them as a table and exits with status 1 if any failed.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

MIN_PYTHON = (3, 10)


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""


def check_python() -> Check:
    version = ".".join(map(str, sys.version_info[:3]))
    ok = sys.version_info[:2] >= MIN_PYTHON
    return Check("Python", ok, version, "" if ok else f"install Python {MIN_PYTHON[0]}.{MIN_PYTHON[1]} or newer (3.11 recommended)")


def check_torch() -> Check:
    import torch
    import torchvision
    from torchvision.ops import nms

    versions = f"torch {torch.__version__}, torchvision {torchvision.__version__}"
    fix = ("install a matching pair: in the course folder `pip install -r requirements.lock`; elsewhere "
           "the torchvision release made for your torch (pytorch.org/get-started/previous-versions)")
    try:  # torchvision's compiled operators fail exactly here when its build does not match torch's
        kept = nms(torch.tensor([[0.0, 0, 1, 1], [0, 0, 1, 1]]), torch.tensor([0.9, 0.8]), 0.5)
    except RuntimeError as e:
        return Check("torch + torchvision", False, f"{versions}: {str(e).splitlines()[0]}", fix)
    ok = kept.tolist() == [0]
    return Check("torch + torchvision", ok, versions, "" if ok else fix)


def check_device() -> Check:
    import torch

    from .config import get_device
    from .models import UNet

    device = get_device()
    model = UNet().to(device)
    x = torch.randn(4, 1, 16, 16, device=device)
    loss = model(x, torch.zeros(4, dtype=torch.long, device=device)).square().mean()
    loss.backward()
    ok = all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else device.type
    return Check("device", ok, f"{name}: forward and backward pass ran",
                 "" if ok else "set COURSE_DEVICE=cpu and report the problem to the instructor")


def check_weights() -> Check:
    from .checkpoints import WEIGHTS_DIR, read_manifest, sha256_of

    manifest = read_manifest(WEIGHTS_DIR / "manifest.json")
    bad = [name for name, entry in manifest.items()
           if not (WEIGHTS_DIR / entry["file"]).is_file() or sha256_of(WEIGHTS_DIR / entry["file"]) != entry["sha256"]]
    ok = not bad
    return Check("shipped weights", ok, f"{len(manifest) - len(bad)}/{len(manifest)} verified (sha256)",
                 "" if ok else f"corrupted or missing: {', '.join(bad)}; in a git copy of the course run "
                 "`git checkout -- course_lib/weights`; from the workshop bundle reinstall its wheel: "
                 "`pip install --force-reinstall --no-deps course_lib-*.whl`")


def check_data() -> Check:
    from .data import load_digits, make_sprites

    digits = load_digits(16, "all")
    sprites = make_sprites(8, 16, seed=0)
    ok = len(digits) == 1797 and sprites.images.shape == (8, 3, 16, 16)
    return Check("offline data", ok, f"{len(digits)} digits, sprites drawn", "" if ok else "reinstall scikit-learn")


def check_sampling() -> Check:
    import torch

    from .checkpoints import load_pretrained
    from .samplers import DDIMSampler, sample

    model, schedule = load_pretrained("digits")
    start = time.perf_counter()
    x = sample(model, DDIMSampler(schedule, 25), (16, 1, 16, 16), generator=torch.Generator().manual_seed(0), progress=False)
    seconds = time.perf_counter() - start
    ok = bool(torch.isfinite(x).all())
    slow = seconds > 10
    detail = f"16 digits with DDIM (25 steps) in {seconds:.1f} s" + (" (slow: close other programs)" if slow else "")
    return Check("sampling", ok, detail, "" if ok else "the model produced non-finite values: report it to the instructor")


CHECKS: list[Callable[[], Check]] = [check_python, check_torch, check_device, check_weights, check_data, check_sampling]


def run_checks(checks: list[Callable[[], Check]] = CHECKS) -> list[Check]:
    """Run every check; an exception becomes a failed check that names the error."""
    results = []
    for check in checks:
        name = check.__name__.removeprefix("check_")
        try:
            results.append(check())
        except Exception as e:  # a doctor reports problems instead of crashing on them
            results.append(Check(name, False, f"{type(e).__name__}: {e}", "see the error; send this table to the instructor"))
    return results


def report(results: list[Check]) -> int:
    """Print the table; return the exit status (0 when all passed)."""
    width = max(len(r.name) for r in results)
    for r in results:
        print(f"{'PASS' if r.ok else 'FAIL'}  {r.name:<{width}}  {r.detail}")
        if not r.ok:
            print(f"      {'':<{width}}  fix: {r.fix}")
    failed = sum(not r.ok for r in results)
    print("All checks passed: ready for the workshop." if not failed else f"{failed} check(s) failed.")
    return 1 if failed else 0
