"""`python -m course_lib train-images`: data loading, bad input, exact resume, two processes, the diffusers export.

Everything runs on the CPU with 8x8 images, the narrowest UNet and a few steps.
"""

import errno
import hashlib
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.error import URLError

import numpy as np
import pytest
import torch
from PIL import Image

from course_lib import __main__ as cli
from course_lib import checkpoints, train_images
from course_lib.samplers import DDPMSampler, sample
from course_lib.schedules import NoiseSchedule
from course_lib.train_images import CHECKPOINT, batch_indices, load_checkpoint, load_folder

REPO = Path(__file__).resolve().parents[1]
TINY = ["--size", "8", "--channels", "16", "--timesteps", "20", "--batch-size", "8", "--num-samples", "4",
        "--warmup", "2", "--no-progress"]


def make_folder(folder: Path, count: int = 12, shape: tuple = (20, 24), seed: int = 0) -> Path:
    """``count`` random gray PNGs of ``shape`` (H, W) in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(count):
        Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8)).save(folder / f"{i:03d}.png")
    return folder


def train_cli(*args: str) -> int:
    return cli.main(["train-images", *args])


def tree(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` with the SHA-256 of its bytes."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


# ------------------------------------------------------------------------------------- data


def test_folder_images_are_centre_cropped_resized_and_gray_when_all_are(tmp_path):
    wide = np.random.default_rng(1).integers(0, 256, (8, 16), dtype=np.uint8)  # 8 high, 16 wide
    Image.fromarray(wide).save(tmp_path / "wide.png")
    Image.fromarray(np.full((30, 45), 77, np.uint8)).save(tmp_path / "big.png")
    (tmp_path / "notes.txt").write_text("not an image")
    data = load_folder(tmp_path, 8)
    assert data.mode == "gray" and data.images.shape == (2, 1, 8, 8) and data.images.dtype == torch.uint8
    big, centre = data.images[:, 0]  # sorted by name
    assert torch.equal(centre, torch.from_numpy(wide[:, 4:12].copy()))  # at scale 1 the centre crop is exact
    assert torch.all(big == 77)
    x = data.as_float(torch.tensor([0, 1]))
    assert x.dtype == torch.float32 and x.min() >= -1 and x.max() <= 1 and torch.allclose(x[0], torch.tensor(77 / 127.5 - 1))


def test_mixed_folder_trains_as_rgb_and_transparency_becomes_white(tmp_path):
    Image.fromarray(np.full((10, 10), 40, np.uint8)).save(tmp_path / "gray.png")
    Image.fromarray(np.zeros((10, 10, 4), np.uint8)).save(tmp_path / "clear.png")  # fully transparent black
    (tmp_path / "deeper").mkdir()
    Image.fromarray(np.dstack([np.full((12, 12), v, np.uint8) for v in (200, 100, 0)])).save(tmp_path / "deeper/c.jpg", quality=100)
    data = load_folder(tmp_path, 8)
    assert data.mode == "rgb" and data.images.shape == (3, 3, 8, 8) and data.converted_to_rgb == 1
    clear, colour, gray = data.images  # sorted by path: clear.png, deeper/c.jpg, gray.png
    assert torch.all(clear == 255) and torch.all(gray == 40)
    assert (colour[:, 4, 4].int() - torch.tensor([200, 100, 0])).abs().max() <= 3  # JPEG rounding
    assert load_folder(tmp_path, 8, mode="gray").images.shape == (3, 1, 8, 8)


def test_photos_are_turned_upright_by_their_exif_orientation(tmp_path):
    half_dark = np.zeros((8, 16), np.uint8)
    half_dark[:, 8:] = 255  # 8 high, 16 wide: the left half dark, the right half light
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display", as a phone held upright writes it
    Image.fromarray(half_dark).save(tmp_path / "phone.png", exif=exif)
    upright = load_folder(tmp_path, 8).images[0, 0]  # 16 high, 8 wide once turned; the centre 8x8 kept
    assert torch.all(upright[:4] == 0) and torch.all(upright[4:] == 255)  # the left half went to the top


def test_a_corrupt_file_among_good_ones_is_skipped_and_named(tmp_path):
    make_folder(tmp_path, count=3)
    good = (tmp_path / "000.png").read_bytes()
    (tmp_path / "broken.png").write_bytes(good[: len(good) // 2])  # truncated
    (tmp_path / "fake.jpg").write_bytes(b"hello")
    data = load_folder(tmp_path, 8)
    assert len(data.images) == 3
    assert sorted(name for name, _ in data.skipped) == ["broken.png", "fake.jpg"]
    assert all(reason for _, reason in data.skipped)


def test_each_epoch_visits_every_image_once_in_a_seeded_order():
    order = torch.cat([batch_indices(step, 3, 5, seed=4) for step in range(1, 6)])  # 15 samples: 3 epochs of 5
    for epoch in order.view(3, 5):
        assert sorted(epoch.tolist()) == [0, 1, 2, 3, 4]
    assert not torch.equal(order[:5], order[5:10])  # a fresh permutation each epoch
    assert torch.equal(batch_indices(4, 3, 5, seed=4), order[9:12])  # a step's batch depends on (seed, step) alone
    assert not torch.equal(torch.cat([batch_indices(s, 3, 5, seed=5) for s in range(1, 6)]), order)


def test_unet_grows_with_the_image_size():
    assert train_images.unet_config(16, 1) == dict(in_channels=1, base_channels=16, channel_mults=[1, 2, 4])
    assert train_images.unet_config(32, 3)["channel_mults"] == [1, 2, 2, 2]
    with pytest.raises(ValueError, match="multiple of 16.*try 32 or 48"):
        train_images.unet_config(40, 3)
    with pytest.raises(ValueError, match="multiple of 8"):
        train_images.unet_config(16, 1, base_channels=12)


# -------------------------------------------------------------------------------- bad input


def _one_line_error(capsys, *args) -> str:
    assert train_cli(*args) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith("error: ") and captured.err.count("\n") == 1, captured.err
    return captured.err


@pytest.mark.parametrize("setup, message", [
    (lambda d: d.mkdir(), "no PNG or JPEG images"),
    (lambda d: (d.mkdir(), (d / "a.txt").write_text("x")), "no PNG or JPEG images"),
    (lambda d: (d.mkdir(), (d / "a.png").write_bytes(b"not a png")), "none of the 1 image files"),
    (lambda d: make_folder(d, count=2, shape=(6, 30)), r"2 of 2 images have a side shorter than 8 .*smallest 6\); pass --allow-upscale"),
])
def test_bad_folders_stop_with_one_line_and_write_nothing(tmp_path, capsys, setup, message):
    setup(tmp_path / "data")
    err = _one_line_error(capsys, "--data", str(tmp_path / "data"), "--out", str(tmp_path / "run"), *TINY)
    assert re.search(message, err), err
    assert not (tmp_path / "run").exists()


def test_images_smaller_than_size_are_refused_with_a_size_that_fits(tmp_path, capsys):
    make_folder(tmp_path / "data", count=3, shape=(70, 80))
    make_folder(tmp_path / "data" / "small", count=1, shape=(37, 60))
    err = _one_line_error(capsys, "--data", str(tmp_path / "data"), "--out", str(tmp_path / "run"), *TINY[2:], "--size", "64")
    assert "1 of 4 images have a side shorter than 64 pixels (e.g. small/000.png, the smallest 37); choose --size 32 or less" in err


def test_small_images_train_with_allow_upscale(tmp_path):
    make_folder(tmp_path / "data", count=4, shape=(6, 6))
    assert train_cli("--data", str(tmp_path / "data"), "--out", str(tmp_path / "run"), *TINY, "--steps", "1",
                     "--allow-upscale") == 0


def test_online_sources_fail_offline_naming_the_folder_option(tmp_path, capsys, monkeypatch):
    def unreachable(*args, **kwargs):
        raise URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(urllib.request, "urlopen", unreachable)  # what torchvision downloads with
    for name in ("mnist", "fashion-mnist", "cifar10"):
        err = _one_line_error(capsys, "--data", name, "--data-root", str(tmp_path / "cache"),
                              "--out", str(tmp_path / name), *TINY)
        assert f"--data {name}: could not download" in err and "--data path/to/folder" in err
        assert not (tmp_path / name).exists()


def test_downloaded_sets_are_resized_and_converted(tmp_path, monkeypatch):
    import torchvision

    class FakeMNIST:  # torchvision's layout once downloaded: .data is (N, 28, 28) uint8
        def __init__(self, root, train, download):
            assert train and download and root == str(tmp_path)
            self.data = torch.full((5, 28, 28), 90, dtype=torch.uint8)

    class FakeCIFAR10:  # (N, 32, 32, 3) uint8, a NumPy array
        def __init__(self, root, train, download):
            self.data = np.tile(np.array([200, 100, 50], np.uint8), (4, 32, 32, 1))

    monkeypatch.setattr(torchvision.datasets, "MNIST", FakeMNIST)
    monkeypatch.setattr(torchvision.datasets, "CIFAR10", FakeCIFAR10)
    mnist = train_images.load_images("mnist", 16, root=tmp_path)
    assert mnist.mode == "gray" and mnist.images.shape == (5, 1, 16, 16) and torch.all(mnist.images == 90)
    cifar = train_images.load_images("cifar10", 8, root=tmp_path)
    assert cifar.mode == "rgb" and cifar.images.shape == (4, 3, 8, 8)
    assert cifar.images[:, :, 3, 3].tolist() == [[200, 100, 50]] * 4
    gray = train_images.load_images("cifar10", 8, mode="gray", root=tmp_path)
    assert gray.images.shape == (4, 1, 8, 8) and torch.all(gray.images == 124)  # 0.299 R + 0.587 G + 0.114 B = 124.2
    assert train_images.load_images("mnist", 16, mode="rgb", root=tmp_path).images.shape == (5, 3, 16, 16)


def test_an_output_folder_holding_something_else_is_refused(tmp_path, capsys):
    data = str(make_folder(tmp_path / "data"))
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "holiday.jpg").write_bytes(b"precious")
    err = _one_line_error(capsys, "--data", data, "--out", str(tmp_path / "busy"), *TINY)
    assert "already holds 1 other entries" in err and (tmp_path / "busy" / "holiday.jpg").read_bytes() == b"precious"
    err = _one_line_error(capsys, "--data", data, "--out", str(tmp_path / "busy"), *TINY, "--resume")
    assert "holds no checkpoint.pt" in err
    (tmp_path / "file").write_text("x")
    assert "is a file" in _one_line_error(capsys, "--data", data, "--out", str(tmp_path / "file"), *TINY)


def test_a_run_is_not_overwritten_and_resume_refuses_other_settings(tmp_path, capsys):
    data, out = str(make_folder(tmp_path / "data")), tmp_path / "run"
    assert train_cli("--data", data, "--out", str(out), *TINY, "--steps", "2") == 0
    before = tree(out)
    assert "already holds a training run; pass --resume" in _one_line_error(capsys, "--data", data, "--out", str(out), *TINY)
    err = _one_line_error(capsys, "--data", data, "--out", str(out), *TINY, "--steps", "3", "--resume", "--lr", "0.01")
    assert "other settings (lr: checkpoint 0.001, now 0.01)" in err
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / "data" / "new.png")  # one image more: other data
    err = _one_line_error(capsys, "--data", data, "--out", str(out), *TINY, "--steps", "3", "--resume")
    assert "data_fingerprint" in err and "num_images: checkpoint 12, now 13" in err
    assert tree(out) == before
    (tmp_path / "data" / "new.png").unlink()
    moved = tmp_path / "moved"
    os.rename(data, moved)  # the same images in another folder: the run continues
    assert train_cli("--data", str(moved), "--out", str(out), *TINY, "--steps", "3", "--resume") == 0
    assert load_checkpoint(out / CHECKPOINT)["step"] == 3


def test_a_full_disk_while_checkpointing_keeps_the_previous_checkpoint(tmp_path, capsys, monkeypatch):
    data, out = str(make_folder(tmp_path / "data")), tmp_path / "run"
    real_save = torch.save

    def save_until_full(obj, f, *args, **kwargs):
        if isinstance(obj, dict) and obj.get("step", 0) >= 4:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_save(obj, f, *args, **kwargs)

    monkeypatch.setattr(torch, "save", save_until_full)
    err = _one_line_error(capsys, "--data", data, "--out", str(out), *TINY, "--steps", "6", "--checkpoint-every", "2")
    assert "at step 4 (No space left on device); the checkpoint of step 2 is intact" in err
    assert load_checkpoint(out / CHECKPOINT)["step"] == 2
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]


def test_ctrl_c_stops_with_one_line_that_names_the_checkpoint_kept(tmp_path, capsys, monkeypatch):
    real_batch = train_images.global_batch

    def interrupted_at_step_3(data, schedule, settings, step):
        if step == 3:
            raise KeyboardInterrupt
        return real_batch(data, schedule, settings, step)

    monkeypatch.setattr(train_images, "global_batch", interrupted_at_step_3)
    err = _one_line_error(capsys, "--data", str(make_folder(tmp_path / "data")), "--out", str(tmp_path / "run"), *TINY,
                          "--steps", "6", "--checkpoint-every", "2")
    assert "interrupted at step 3; the checkpoint of step 2 is intact: continue with --resume" in err
    assert load_checkpoint(tmp_path / "run" / CHECKPOINT)["step"] == 2


# ------------------------------------------------------------------- resume and processes


def _run_in_subprocess(*args: str, **kwargs) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO)}
    return subprocess.Popen([sys.executable, *args], env=env, cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, **kwargs)


def _same_state(a: dict, b: dict) -> None:
    for key in ("model", "ema"):
        assert a[key].keys() == b[key].keys()
        for name in a[key]:
            assert torch.equal(a[key][name], b[key][name]), (key, name)
    assert a["losses"] == b["losses"] and a["step"] == b["step"] and a["ema_updates"] == b["ema_updates"]
    for index, state in a["optimiser"]["state"].items():
        for name, value in state.items():
            assert torch.equal(value, b["optimiser"]["state"][index][name]), ("optimiser", index, name)


def test_a_killed_run_resumed_equals_an_uninterrupted_one_bit_for_bit(tmp_path):
    data = str(make_folder(tmp_path / "data"))
    killed, whole = tmp_path / "killed", tmp_path / "whole"
    settings = ["--data", data, *TINY, "--sample-every", "1000000", "--checkpoint-every", "3"]
    process = _run_in_subprocess("-m", "course_lib", "train-images", "--out", str(killed), *settings, "--steps", "100000")
    try:
        deadline = time.monotonic() + 240
        while not (killed / CHECKPOINT).is_file():
            assert process.poll() is None and time.monotonic() < deadline, process.stdout.read() if process.poll() else "slow"
            time.sleep(0.2)
        time.sleep(0.5)
        process.send_signal(signal.SIGKILL)  # mid-run: no chance to clean up
    finally:
        process.kill()
        process.wait()
    stopped_at = load_checkpoint(killed / CHECKPOINT)["step"]
    assert 3 <= stopped_at < 100000 and stopped_at % 3 == 0
    final = stopped_at + 2
    assert train_cli("--out", str(killed), *settings, "--steps", str(final), "--resume") == 0
    assert train_cli("--out", str(whole), *settings, "--steps", str(final)) == 0
    _same_state(load_checkpoint(killed / CHECKPOINT), load_checkpoint(whole / CHECKPOINT))
    assert tree(killed)["unet/diffusion_pytorch_model.safetensors"] == tree(whole)["unet/diffusion_pytorch_model.safetensors"]


def test_two_processes_train_the_model_one_process_trains_with_the_same_global_batch(tmp_path):
    """The relation checked: with the same --batch-size (8 images, 4 per process), the two-process run's loss
    at every step equals the one-process run's to 1e-5 (relative), and after 4 AdamW steps (lr 1e-3)
    every weight of the two runs agrees to 1e-4. Not bit for bit: the two half-batch gradients are
    summed in another order, and Adam divides each gradient by its own size, so a rounding
    difference in a gradient near 0 can move that weight by up to lr per step; 1e-4 is a tenth of
    one step's largest move."""
    data = str(make_folder(tmp_path / "data"))
    settings = ["--data", data, *TINY, "--steps", "4", "--sample-every", "1000"]
    process = _run_in_subprocess("-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                                 "-m", "course_lib", "train-images", "--out", str(tmp_path / "two"), *settings)
    output = process.communicate(timeout=300)[0]
    assert process.returncode == 0, output
    assert "on 2 process(es)" in output
    assert train_cli("--out", str(tmp_path / "one"), *settings) == 0
    one, two = load_checkpoint(tmp_path / "one" / CHECKPOINT), load_checkpoint(tmp_path / "two" / CHECKPOINT)
    torch.testing.assert_close(torch.tensor(two["losses"]), torch.tensor(one["losses"]), rtol=1e-5, atol=0)
    for name, value in one["model"].items():
        torch.testing.assert_close(two["model"][name], value, rtol=0, atol=1e-4, msg=name)


def test_gradient_accumulation_takes_the_same_steps_as_one_big_batch(tmp_path):
    """--grad-accum 2 splits the batch of 8 into two micro-batches of 4: same losses (1e-5) and weights (1e-4)."""
    settings = ["--data", str(make_folder(tmp_path / "data")), *TINY, "--steps", "3", "--sample-every", "1000"]
    assert train_cli("--out", str(tmp_path / "whole"), *settings) == 0
    assert train_cli("--out", str(tmp_path / "split"), *settings, "--grad-accum", "2") == 0
    whole, split = load_checkpoint(tmp_path / "whole" / CHECKPOINT), load_checkpoint(tmp_path / "split" / CHECKPOINT)
    torch.testing.assert_close(torch.tensor(split["losses"]), torch.tensor(whole["losses"]), rtol=1e-5, atol=0)
    for name, value in whole["model"].items():
        torch.testing.assert_close(split["model"][name], value, rtol=0, atol=1e-4, msg=name)


# ------------------------------------------------------------------------------- the result


def test_the_export_loads_offline_in_ddpm_pipeline_and_samples_what_course_lib_samples(tmp_path, monkeypatch):
    from diffusers import DDPMPipeline

    out = tmp_path / "run"
    assert train_cli("--data", str(make_folder(tmp_path / "data")), "--out", str(out), *TINY,
                     "--steps", "4", "--sample-every", "2") == 0
    for png in ("samples/step-000002.png", "samples/step-000004.png", "loss.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", png
    card = (out / "README.md").read_text()
    assert "library_name: diffusers" in card and "| steps | 4, global batch 8" in card and "12 images" in card

    snippet = card[card.index("```python") + 9:card.index("```", card.index("```python") + 9)]  # the card's own code
    snippet = snippet.replace("path/to/this/folder", str(out)).replace("batch_size=16", "batch_size=1")
    fresh = _run_in_subprocess("-c", snippet + "\nassert len(images) == 1 and images[0].size == (8, 8)")
    assert fresh.wait(timeout=300) == 0, fresh.stdout.read()  # a new interpreter, offline, as a reader runs it

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    pipeline = DDPMPipeline.from_pretrained(out)
    pipeline.set_progress_bar_config(disable=True)
    images = pipeline(batch_size=2, num_inference_steps=20, generator=torch.Generator().manual_seed(3), output_type="np").images
    assert images.shape == (2, 8, 8, 1) and np.isfinite(images).all()

    state = load_checkpoint(out / CHECKPOINT)  # the exported weights are the EMA's
    model = train_images.UNet(**state["settings"]["unet"]).eval()
    model.load_state_dict(state["ema"])
    expected = sample(model, DDPMSampler(NoiseSchedule.linear(20, 1e-4, 0.02)), (2, 1, 8, 8),
                      generator=torch.Generator().manual_seed(3), progress=False)
    torch.testing.assert_close(torch.from_numpy(images), ((expected / 2 + 0.5).clamp(0, 1)).permute(0, 2, 3, 1),
                               atol=1e-5, rtol=0)
    assert state["rng"]["python"] and state["optimiser"]["state"]


def test_train_model_writes_to_its_output_folder_and_leaves_the_shipped_weights_untouched(tmp_path, capsys):
    shipped = tree(checkpoints.WEIGHTS_DIR)
    assert cli.main(["train", "--model", "toy2d", "--steps", "2", "--out", str(tmp_path / "mine")]) == 0
    assert tree(checkpoints.WEIGHTS_DIR) == shipped
    assert sorted(tree(tmp_path / "mine")) == ["manifest.json", "toy2d.pt"]
    out = capsys.readouterr().out
    assert "load_pretrained('toy2d', weights_dir=" in out and "on purpose, copy" in out
    model, schedule = checkpoints.load_pretrained("toy2d", device="cpu", weights_dir=tmp_path / "mine")
    assert schedule.num_timesteps == 200
    assert cli.main(["train", "--model", "toy2d", "--steps", "1", "--out", str(checkpoints.WEIGHTS_DIR)]) == 2
    assert tree(checkpoints.WEIGHTS_DIR) == shipped


# ------------------------------------------------------------------------------ augmentation


def test_augment_shift_trains_a_unet_told_the_shift_and_exports_it(tmp_path, monkeypatch):
    from diffusers import DDPMPipeline

    out = tmp_path / "run"
    assert train_cli("--data", str(make_folder(tmp_path / "data")), "--out", str(out), *TINY,
                     "--steps", "3", "--sample-every", "3", "--augment-shift", "1") == 0
    state = load_checkpoint(out / CHECKPOINT)
    assert state["settings"]["augment_shift"] == 1 and state["settings"]["unet"]["augment_dim"] == 2
    assert state["ema"]["augment_proj.weight"].abs().sum() > 0  # the labels reached the UNet and were trained
    assert "shifted by up to 1 pixels" in (out / "README.md").read_text()
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    pipeline = DDPMPipeline.from_pretrained(out)
    assert pipeline.unet.unet.augment_dim == 2


def test_min_snr_weighting_and_dropout_reach_the_loss_the_unet_and_the_card(tmp_path, capsys):
    data, plain, weighted = str(make_folder(tmp_path / "data")), tmp_path / "plain", tmp_path / "weighted"
    assert train_cli("--data", data, "--out", str(plain), *TINY, "--steps", "1") == 0
    assert train_cli("--data", data, "--out", str(weighted), *TINY, "--steps", "1", "--min-snr-gamma", "1") == 0
    # Same weights, same batch at step 1: each sample's error is weighted by min(SNR_t, 1) / SNR_t,
    # between 1 / max SNR and 1 / min SNR of the T = 20 schedule (every SNR_t > 1 there).
    snr = (lambda a: a / (1 - a))(NoiseSchedule.linear(20, train_images.BETA_START, train_images.BETA_END).alphas_cumprod)
    assert snr.min() > 1
    plain_loss, weighted_loss = (load_checkpoint(run / CHECKPOINT)["losses"][0] for run in (plain, weighted))
    assert plain_loss / snr.max() <= weighted_loss <= plain_loss / snr.min()
    assert "Min-SNR-gamma, gamma = 1 (Hang et al. 2023)" in (weighted / "README.md").read_text()
    err = _one_line_error(capsys, "--data", data, "--out", str(weighted), *TINY, "--steps", "2", "--resume")
    assert "min_snr_gamma: checkpoint 1.0, now None" in err
    dropped = tmp_path / "dropout"
    assert train_cli("--data", data, "--out", str(dropped), *TINY, "--steps", "1", "--dropout", "0.5") == 0
    assert load_checkpoint(dropped / CHECKPOINT)["settings"]["unet"]["dropout"] == 0.5
    assert "| dropout | 0.5 in every residual block |" in (dropped / "README.md").read_text()


def test_augmented_batches_are_shifted_copies_with_their_labels(tmp_path):
    data = load_folder(make_folder(tmp_path / "data", shape=(8, 8)), 8)
    settings = train_images.RunSettings("d", data.fingerprint(), len(data.images), 8, "gray",
                                        train_images.unet_config(8, 1, 16), 20, 8, 1e-3, 0, 0.999, 0, 1, "no", 2)
    x0, t, eps, labels = train_images.global_batch(data, NoiseSchedule.linear(20), settings, 1)
    plain = data.as_float(batch_indices(1, 8, len(data.images), 0))
    for image, original, (dx, dy) in zip(x0, plain, (labels * 2).round().long().tolist()):
        padded = torch.nn.functional.pad(original[None], (2, 2, 2, 2), mode="replicate")[0]  # edges repeated
        assert torch.equal(image, padded[:, 2 - dy:10 - dy, 2 - dx:10 - dx])
    unaugmented = train_images.global_batch(data, NoiseSchedule.linear(20), settings.__class__(
        **{**settings.__dict__, "augment_shift": 0}), 1)
    assert unaugmented[3] is None and torch.equal(unaugmented[1], t) and torch.equal(unaugmented[2], eps)


def test_augment_shift_must_leave_most_of_the_image(tmp_path, capsys):
    err = _one_line_error(capsys, "--data", str(make_folder(tmp_path / "data")), "--out", str(tmp_path / "run"), *TINY,
                          "--augment-shift", "4")
    assert "--augment-shift must be below half of --size (4); got 4" in err


@pytest.mark.parametrize("option, value, message", [
    ("--min-snr-gamma", "0", "argument --min-snr-gamma: must be a finite number > 0; got 0.0"),
    ("--min-snr-gamma", "five", "argument --min-snr-gamma: must be a number; got 'five'"),
    ("--dropout", "1", "argument --dropout: must be a finite number in [0, 1); got 1.0"),
])
def test_bad_loss_weighting_and_dropout_name_the_option(tmp_path, capsys, option, value, message):
    with pytest.raises(SystemExit) as exit_info:
        train_cli("--data", str(tmp_path), "--out", str(tmp_path / "run"), *TINY, option, value)
    assert exit_info.value.code == 2 and message in capsys.readouterr().err
    assert not (tmp_path / "run").exists()
