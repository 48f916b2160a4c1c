"""The installed environment: torch and torchvision work together, versions equal requirements.lock."""

import importlib.metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

LOCK = Path(__file__).resolve().parents[1] / "requirements.lock"


def _requirements() -> list[Requirement]:
    requirements = []
    for line in LOCK.read_text(encoding="utf-8").splitlines():
        line = line.split("#")[0].strip()
        if line:
            requirement = Requirement(line)
            specifiers = list(requirement.specifier)
            assert len(specifiers) == 1 and specifiers[0].operator == "==", (
                f"requirements.lock: expected 'name==version[; marker]', got {line!r}")
            requirements.append(requirement)
    return requirements


def _pins(environment: dict[str, str] | None = None) -> dict[str, str]:
    """Name -> pinned version of the lock's packages that apply on this system (or ``environment``)."""
    return {
        r.name: next(iter(r.specifier)).version
        for r in _requirements()
        if r.marker is None or r.marker.evaluate(environment)
    }


def test_torch_and_torchvision_run_together():
    """A mismatched torch/torchvision pair imports fine but fails on the first torchvision C++ op."""
    import torch
    import torchvision

    boxes = torch.tensor([[0.0, 0.0, 10.0, 10.0], [1.0, 1.0, 11.0, 11.0], [50.0, 50.0, 60.0, 60.0]])
    scores = torch.tensor([0.9, 0.8, 0.7])
    keep = torchvision.ops.nms(boxes, scores, iou_threshold=0.5)
    assert keep.tolist() == [0, 2]  # box 1 overlaps box 0 with IoU 81/119 > 0.5


def test_diffusers_imports():
    import diffusers
    from diffusers import DDIMScheduler, DDPMScheduler

    assert DDPMScheduler(num_train_timesteps=10).timesteps.numel() == 10
    assert DDIMScheduler is not None and diffusers.__version__


def test_lock_file_lists_the_core_packages():
    pins = _pins()
    for name in ["torch", "torchvision", "diffusers", "transformers", "accelerate", "numpy", "pytest"]:
        assert name in pins, f"{name} is not pinned in requirements.lock"


def test_lock_installs_on_macos_and_windows():
    """The CUDA build's packages exist for Linux only: on other systems pip must skip them."""
    linux_only = ("nvidia-", "cuda-", "triton")
    assert any(name.startswith(linux_only) for name in _pins({"sys_platform": "linux"}))
    for system in ["darwin", "win32"]:
        pins = _pins({"sys_platform": system, "platform_system": system})
        assert {"torch", "torchvision", "diffusers"} <= pins.keys()
        assert not [name for name in pins if name.startswith(linux_only)], f"Linux-only packages pinned on {system}"


def test_installed_versions_equal_lock():
    wrong = []
    for name, pinned in _pins().items():
        try:
            installed = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            wrong.append(f"{name}: not installed, requirements.lock pins {pinned}")
            continue
        # PEP 440: "==2.14.1" also accepts a local build such as "2.14.1+cpu" or "2.14.1+cu130".
        if not SpecifierSet(f"=={pinned}").contains(installed, prereleases=True):
            wrong.append(f"{name}: installed {installed}, requirements.lock pins {pinned}")
    assert not wrong, "the environment differs from requirements.lock (run `make venv`):\n" + "\n".join(wrong)
