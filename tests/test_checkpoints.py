"""Saving, checking and loading weights, and the manifest of shipped models."""

import hashlib

import pytest
import torch

from course_lib.checkpoints import (
    ChecksumError,
    build_schedule,
    load_pretrained,
    load_weights,
    read_manifest,
    save_weights,
    sha256_of,
    write_manifest,
)
from course_lib.models import MLPDenoiser, UNet
from course_lib.schedules import NoiseSchedule

UNPICKLED = []


def _record_unpickling():
    UNPICKLED.append(True)
    return "payload"


class Payload:
    """An object whose unpickling would run code (here: append to UNPICKLED)."""

    def __reduce__(self):
        return (_record_unpickling, ())


def _small_unet(seed, **kwargs):
    torch.manual_seed(seed)
    return UNet(base_channels=8, channel_mults=(1, 2), num_groups=4, **kwargs)


def _assert_same_weights(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for key in sa:
        assert torch.equal(sa[key], sb[key]), key


def test_round_trip(tmp_path):
    model = _small_unet(0, context_dim=3)
    digest = save_weights(model, tmp_path / "sub" / "unet.pt")
    assert digest == hashlib.sha256((tmp_path / "sub" / "unet.pt").read_bytes()).hexdigest() == sha256_of(
        tmp_path / "sub" / "unet.pt"
    )
    other = _small_unet(1, context_dim=3)
    assert load_weights(other, tmp_path / "sub" / "unet.pt", sha256=digest) is other
    _assert_same_weights(model, other)
    # Same weights, same file name: same bytes, so a digest identifies the weights.
    assert save_weights(model, tmp_path / "sub" / "unet.pt") == digest


def test_half_round_trip(tmp_path):
    model = _small_unet(0)
    save_weights(model, tmp_path / "full.pt")
    save_weights(model, tmp_path / "half.pt", half=True)
    assert (tmp_path / "half.pt").stat().st_size < 0.6 * (tmp_path / "full.pt").stat().st_size
    stored = torch.load(tmp_path / "half.pt", weights_only=True)
    assert all(v.dtype == torch.float16 for v in stored.values())
    other = load_weights(_small_unet(1), tmp_path / "half.pt")
    for key, value in model.state_dict().items():
        loaded = other.state_dict()[key]
        assert loaded.dtype == torch.float32
        assert torch.equal(loaded, value.half().float()), key


def test_checksum_mismatch(tmp_path):
    path = tmp_path / "unet.pt"
    save_weights(_small_unet(0), path)
    wrong = "0" * 64
    with pytest.raises(ChecksumError, match=rf"unet\.pt has SHA-256 {sha256_of(path)} but {wrong} was expected"):
        load_weights(_small_unet(1), path, sha256=wrong)
    assert issubclass(ChecksumError, ValueError)


@pytest.mark.parametrize("keep", [0, 10, 0.5, -20])
def test_truncated_file(tmp_path, keep):
    path = tmp_path / "unet.pt"
    save_weights(_small_unet(0), path)
    data = path.read_bytes()
    path.write_bytes(data[: int(keep * len(data)) if isinstance(keep, float) else keep])
    with pytest.raises(ValueError, match="not a readable weights file"):
        load_weights(_small_unet(1), path)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"no weights file at .*nothing\.pt.*python -m course_lib train"):
        load_weights(_small_unet(0), tmp_path / "nothing.pt")


def test_weights_only_refuses_arbitrary_objects(tmp_path):
    model = _small_unet(0)
    path = tmp_path / "evil.pt"
    torch.save({**model.state_dict(), "payload": Payload()}, path)
    with pytest.raises(ValueError, match=r"weights_only=True"):
        load_weights(_small_unet(1), path)
    assert UNPICKLED == []


def test_not_a_state_dict(tmp_path):
    torch.save([torch.zeros(2)], tmp_path / "list.pt")
    with pytest.raises(ValueError, match="does not hold a state dict"):
        load_weights(_small_unet(0), tmp_path / "list.pt")


def test_weights_of_another_architecture(tmp_path):
    save_weights(_small_unet(0), tmp_path / "unet.pt")
    with pytest.raises(ValueError, match="does not fit this UNet"):
        load_weights(_small_unet(0, context_dim=2), tmp_path / "unet.pt")


def _entry(file, digest, model, **extra):
    return {"file": file, "sha256": digest, "model_class": type(model).__name__, "model_config": model.config,
            "schedule": {"type": "linear", "num_timesteps": 50, "beta_start": 1e-4, "beta_end": 0.02}, **extra}


def test_manifest_round_trip_and_load_pretrained(tmp_path):
    unet, mlp = _small_unet(0, in_channels=3, context_dim=4), MLPDenoiser(hidden_dim=16)
    entries = {
        "sprites": _entry("sprites.pt", save_weights(unet, tmp_path / "sprites.pt", half=True), unet, image_size=16),
        "moons": _entry("moons.pt", save_weights(mlp, tmp_path / "moons.pt"), mlp),
    }
    write_manifest(tmp_path / "manifest.json", entries)
    assert read_manifest(tmp_path / "manifest.json") == entries

    model, schedule = load_pretrained("sprites", device="cpu", weights_dir=tmp_path)
    assert isinstance(model, UNet) and not model.training and model.config == unet.config
    for key, value in unet.state_dict().items():
        assert torch.equal(model.state_dict()[key], value.half().float())
    assert torch.equal(schedule.betas, NoiseSchedule.linear(50, 1e-4, 0.02).betas)

    model, _ = load_pretrained("moons", device="cpu", weights_dir=tmp_path)
    _assert_same_weights(model, mlp)


def test_load_pretrained_unknown_name_lists_the_available_ones(tmp_path):
    mlp = MLPDenoiser(hidden_dim=16)
    write_manifest(tmp_path / "manifest.json", {"moons": _entry("moons.pt", save_weights(mlp, tmp_path / "moons.pt"), mlp)})
    with pytest.raises(ValueError, match=r"no pretrained model named 'digits'; available: moons"):
        load_pretrained("digits", weights_dir=tmp_path)


def test_load_pretrained_checks_the_digest(tmp_path):
    mlp = MLPDenoiser(hidden_dim=16)
    write_manifest(tmp_path / "manifest.json", {"moons": _entry("moons.pt", save_weights(mlp, tmp_path / "moons.pt"), mlp)})
    save_weights(MLPDenoiser(hidden_dim=16), tmp_path / "moons.pt")  # different weights, same name
    with pytest.raises(ChecksumError, match="moons.pt"):
        load_pretrained("moons", weights_dir=tmp_path)


def test_load_pretrained_without_installed_weights(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"no shipped weights are installed.*python -m course_lib train"):
        load_pretrained("digits", weights_dir=tmp_path)


def test_manifest_errors(tmp_path):
    mlp = MLPDenoiser(hidden_dim=16)
    entry = _entry("moons.pt", "0" * 64, mlp)
    with pytest.raises(ValueError, match="'moons' lacks sha256"):
        write_manifest(tmp_path / "m.json", {"moons": {k: v for k, v in entry.items() if k != "sha256"}})
    with pytest.raises(ValueError, match="model_class 'ResNet'; known: UNet, MLPDenoiser"):
        write_manifest(tmp_path / "m.json", {"moons": entry | {"model_class": "ResNet"}})
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        read_manifest(tmp_path / "bad.json")
    (tmp_path / "list.json").write_text("[]")
    with pytest.raises(ValueError, match="must hold a JSON object"):
        read_manifest(tmp_path / "list.json")


def test_build_schedule():
    cosine = build_schedule({"type": "cosine", "num_timesteps": 20})
    assert torch.equal(cosine.betas, NoiseSchedule.cosine(20).betas)
    with pytest.raises(ValueError, match="schedule type must be 'linear' or 'cosine'"):
        build_schedule({"type": "sigmoid", "num_timesteps": 20})
