"""Bad input gets a clear error, never a silent wrong answer (issue 15).

One test per case of the issue, plus the neighbours found while fixing them: the command line
(one line on stderr, exit status 2, no output file), the weights loader and manifest, and the
library API (an error that names the argument, not one from deep inside torch). Each of the
issue's cases failed before the fix: it was accepted, gave a wrong result, ended in a
traceback or raised an error that did not say what was wrong.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import TensorDataset

from course_lib import DDIMSampler, DDPMSampler, MLPDenoiser, NoiseSchedule, UNet, predict_noise, sample, seed_everything
from course_lib import __main__ as cli
from course_lib import checkpoints
from course_lib.classifier import Classifier, predict, train_classifier
from course_lib.data.digits import load_digits
from course_lib.data.points import make_moons
from course_lib.data.sprites import make_sprites
from course_lib.models import sinusoidal_embedding, to_context
from course_lib.training import EMA, diffusion_loss, fit, train_diffusion
from course_lib.vae import VAE, train_vae

NAN, INF = float("nan"), float("inf")


# --- the command line ---------------------------------------------------------------------


def run_cli(capsys, *args: str) -> tuple[int, str]:
    """Run ``python -m course_lib sample ...`` in-process; returns (exit status, stderr)."""
    try:
        status = cli.main(["sample", "--no-progress", *args])
    except SystemExit as e:  # argparse's own errors
        status = e.code
    return status, capsys.readouterr().err


def assert_one_line_error(status: int, err: str, *fragments: str) -> None:
    lines = err.strip().splitlines()
    assert status == 2, err
    assert len(lines) == 1 and "Traceback" not in err, err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


TINY = ["--n", "2", "--steps", "2"]


@pytest.mark.parametrize(
    "args, fragments",
    [
        # Wrong results today: NaN or inf guidance made every sample NaN, with exit status 0.
        (["--model", "digits-cond", *TINY, "--guidance", "nan"], ["--guidance", "finite"]),
        (["--model", "digits-cond", *TINY, "--guidance", "inf"], ["--guidance", "finite"]),
        (["--model", "digits-cond", *TINY, "--guidance", "-1"], ["--guidance", ">= 0"]),
        # --seed -1 was accepted and meant 2**64 - 1; 2**64 ended in "Overflow when unpacking long long".
        (["--model", "digits", *TINY, "--seed", "-1"], ["--seed", "non-negative"]),
        (["--model", "digits", *TINY, "--seed", str(2**64)], ["--seed", "below 2**64"]),
        (["--model", "digits", *TINY, "--seed", "1e3"], ["--seed", "'1e3'"]),
        # DDPM silently ignored --steps and --eta.
        (["--model", "toy2d", "--n", "2", "--sampler", "ddpm", "--eta", "0.5", "--steps", "3"], ["--steps and --eta", "ddpm"]),
        (["--model", "toy2d", "--n", "2", "--sampler", "ddpm", "--steps", "3"], ["--steps and --eta"]),
        (["--model", "toy2d", "--n", "2", "--sampler", "ddpm", "--eta", "0"], ["--steps and --eta"]),
        (["--model", "toy2d", *TINY, "--eta", "nan"], ["--eta", "[0, 1]"]),
        (["--model", "toy2d", *TINY, "--sampler", "dpm", "--eta", "0.5"], ["--eta", "--sampler dpm"]),
        (["--model", "toy2d", *TINY, "--sampler", "dpm-sde", "--eta", "1"], ["--eta", "--sampler dpm-sde"]),
        (["--model", "toy2d", "--n", "2", "--steps", "201"], ["--steps", "[1, 200]"]),
        (["--model", "toy2d", "--n", "2", "--steps", "0"], ["--steps", "positive"]),
        # --n 10**9 built a list of 10**9 labels for 50 s, then MemoryError; now refused at once.
        (["--model", "digits-cond", "--n", "1000000000"], ["--n", f"[1, {cli.MAX_SAMPLES}]"]),
        (["--model", "toy2d", "--n", "0"], ["--n"]),
        (["--model", "toy2d", "--n", "2.5"], ["--n", "'2.5'"]),
        # --labels: "invalid literal for int()" before.
        (["--model", "digits-cond", *TINY, "--labels", "a,b"], ["--labels", "'a'"]),
        (["--model", "digits-cond", *TINY, "--labels", ""], ["--labels", "an empty label"]),
        (["--model", "digits-cond", *TINY, "--labels", "1,,2"], ["--labels", "an empty label"]),
        (["--model", "digits-cond", *TINY, "--labels", "-1"], ["--labels", "0..9"]),
        (["--model", "digits", *TINY, "--labels", "1"], ["--labels", "unconditional"]),
        # Sprites: two colours and two shapes were accepted without a word; empty names were "unknown attribute(s) ;".
        (["--model", "sprites", *TINY, "--labels", "red+blue+circle+square"], ["--labels", "more than one shape (circle, square)"]),
        (["--model", "sprites", *TINY, "--labels", "red+circle+left+right"], ["--labels", "more than one facing"]),
        (["--model", "sprites", *TINY, "--labels", "red++circle"], ["--labels", "empty attribute name"]),
        (["--model", "sprites", *TINY, "--labels", "red+circle,"], ["--labels", "empty attribute name"]),
        (["--model", "sprites", *TINY, "--labels", "purple"], ["--labels", "unknown attribute(s) purple"]),
        (["--model", "classifier-digits", "--n", "2"], ["--model", "no generative model"]),
        (["--model", "toy2d", "--n", "2", "--device", "tpu"], ["device"]),
    ],
)
def test_cli_refuses_bad_arguments_in_one_line_without_a_file(tmp_path, capsys, args, fragments):
    status, err = run_cli(capsys, *args, "--out", str(tmp_path / "x.npz"))
    assert_one_line_error(status, err, *fragments)
    assert list(tmp_path.iterdir()) == []


def test_cli_refuses_an_out_that_is_a_folder_before_sampling(tmp_path, capsys, monkeypatch):
    """It used to sample first and end in a raw IsADirectoryError naming a temporary file."""
    (tmp_path / "grid.png").mkdir()
    monkeypatch.setattr(cli, "sample", lambda *a, **k: pytest.fail("sampled before checking --out"))
    status, err = run_cli(capsys, "--model", "toy2d", *TINY, "--out", str(tmp_path / "grid.png"))
    assert_one_line_error(status, err, "--out", "is a folder")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["grid.png"]


def test_cli_refuses_an_unwritable_place_naming_out_not_a_temporary_file(capsys, monkeypatch):
    monkeypatch.setattr(cli, "sample", lambda *a, **k: pytest.fail("sampled before checking --out"))
    status, err = run_cli(capsys, "--model", "toy2d", *TINY, "--out", "/proc/x.npz")  # /proc takes no new files
    assert_one_line_error(status, err, "--out", "/proc")
    assert ".tmp" not in err and "tmp" not in err.replace("/proc", "")


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root may write into read-only folders")
def test_cli_refuses_a_read_only_folder(tmp_path, capsys):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        status, err = run_cli(capsys, "--model", "toy2d", *TINY, "--out", str(folder / "x.npz"))
    finally:
        folder.chmod(0o755)
    assert_one_line_error(status, err, "--out", "cannot write")
    assert list(folder.iterdir()) == []


def test_cli_refuses_to_overwrite_without_force_and_replaces_with_it(tmp_path, capsys):
    out = tmp_path / "x.npz"
    out.write_bytes(b"precious")
    status, err = run_cli(capsys, "--model", "toy2d", *TINY, "--out", str(out))
    assert_one_line_error(status, err, "--out", "exists", "--force")
    assert out.read_bytes() == b"precious"
    status, _ = run_cli(capsys, "--model", "toy2d", *TINY, "--out", str(out), "--force")
    assert status == 0 and np.load(out)["points"].shape == (2, 2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.npz"]  # no temporary file left


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_cli_output_has_the_permissions_umask_gives(tmp_path, capsys, umask):
    """Every output used to be 0600 (the mode of the temporary file it was renamed from)."""
    old = os.umask(umask)
    try:
        status, _ = run_cli(capsys, "--model", "toy2d", *TINY, "--out", str(tmp_path / "x.png"))
    finally:
        os.umask(old)
    assert status == 0
    assert (tmp_path / "x.png").stat().st_mode & 0o777 == 0o666 & ~umask


def test_cli_guidance_default_gives_finite_samples(tmp_path, capsys):
    status, _ = run_cli(capsys, "--model", "digits-cond", *TINY, "--out", str(tmp_path / "x.npz"))
    assert status == 0 and np.isfinite(np.load(tmp_path / "x.npz")["images"]).all()


def test_cli_errors_from_the_parser_are_one_line_too(capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["sample", "--model", "toy2d", "--n", "-3", "--out", "x.npz"])
    err = capsys.readouterr().err
    assert info.value.code == 2 and len(err.strip().splitlines()) == 1 and "--n" in err


@pytest.mark.parametrize("args, fragment", [(["--seed", "-1"], "--seed"), (["--steps", "0"], "--steps")])
def test_cli_train_refuses_bad_seed_and_steps(capsys, args, fragment):
    with pytest.raises(SystemExit) as info:
        cli.main(["train", "--model", "toy2d", *args])
    assert info.value.code == 2 and fragment in capsys.readouterr().err


def test_cli_train_names_an_unknown_recipe(capsys):
    assert cli.main(["train", "--model", "nope"]) == 2
    assert "--model: unknown recipe 'nope'" in capsys.readouterr().err


@pytest.mark.parametrize("args, fragment", [(["--seeds", "0"], "--seeds"), (["--n", "1"], "--n"),
                                            (["--seeds", "two"], "--seeds")])
def test_bench_refuses_bad_seeds_and_n_before_sampling(capsys, monkeypatch, args, fragment):
    """make bench's --seeds (>= 1) and --n (>= 2: FID and a standard error need two) are refused with one line
    naming the option and the bound (no usage block, as the course's CLI), before any model is loaded."""
    from course_lib import bench

    monkeypatch.setattr("sys.argv", ["bench", "--tables", "ten-steps", *args])
    with pytest.raises(SystemExit) as info:
        bench.main()
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and error.startswith("python -m course_lib.bench: error:")
    assert info.value.code == 2 and f"argument {fragment}: must be" in error and "got" in error

# --- the weights loader and the manifest ------------------------------------------------------


@pytest.fixture
def weights(tmp_path, monkeypatch) -> Path:
    """A private copy of the shipped weights, which the CLI and load_pretrained then read."""
    folder = tmp_path / "weights"
    shutil.copytree(checkpoints.WEIGHTS_DIR, folder)
    monkeypatch.setattr(checkpoints, "WEIGHTS_DIR", folder)
    return folder


def edit_manifest(folder: Path, name: str, **changes) -> None:
    path = folder / "manifest.json"
    entries = json.loads(path.read_text())
    entries[name].update(changes)
    path.write_text(json.dumps(entries))


def corrupt(path: Path) -> None:
    blob = bytearray(path.read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    path.write_bytes(bytes(blob))


def test_a_null_sha256_no_longer_switches_verification_off(weights, tmp_path, capsys):
    """The CLI used to load a corrupted file whose entry said "sha256": null, and exit 0."""
    edit_manifest(weights, "toy2d", sha256=None)
    corrupt(weights / "toy2d.pt")
    status, err = run_cli(capsys, "--model", "toy2d", *TINY, "--out", str(tmp_path / "x.npz"))
    assert_one_line_error(status, err, "sha256", "64 hexadecimal digits")
    assert not (tmp_path / "x.npz").exists()
    with pytest.raises(ValueError, match="must have a sha256 of 64 hexadecimal digits; got None"):
        checkpoints.load_pretrained("toy2d", "cpu")


@pytest.mark.parametrize("sha256", ["", "abc", "z" * 64, 123])
def test_a_malformed_sha256_is_named(weights, sha256):
    edit_manifest(weights, "toy2d", sha256=sha256)
    with pytest.raises(ValueError, match="toy2d.*sha256"):
        checkpoints.load_pretrained("toy2d", "cpu")


@pytest.mark.parametrize("file", ["../toy2d.pt", "/etc/passwd", "sub/../../toy2d.pt", "./toy2d.pt", "", 3])
def test_a_manifest_file_must_stay_inside_the_weights_folder(weights, file):
    shutil.copy(weights / "toy2d.pt", weights.parent / "toy2d.pt")  # what ../toy2d.pt would reach
    edit_manifest(weights, "toy2d", file=file)
    with pytest.raises(ValueError, match="relative path inside the weights folder"):
        checkpoints.load_pretrained("toy2d", "cpu")


def test_an_unknown_model_config_key_is_named_not_a_traceback(weights, tmp_path, capsys):
    config = json.loads((weights / "manifest.json").read_text())["digits"]["model_config"]
    edit_manifest(weights, "digits", model_config={**config, "colour": 3})
    status, err = run_cli(capsys, "--model", "digits", *TINY, "--out", str(tmp_path / "x.npz"))
    assert_one_line_error(status, err, "unknown model_config key(s) colour")
    with pytest.raises(ValueError, match="'digits' has unknown model_config key"):
        checkpoints.load_pretrained("digits", "cpu")


@pytest.mark.parametrize(
    "changes, message",
    [
        (dict(model_config=[1, 2]), "model_config object"),
        (dict(schedule={"type": "linear", "steps": 10}), "unknown key"),
        (dict(schedule={"type": "linear", "num_timesteps": 0}), "num_timesteps must be a positive int"),
        (dict(schedule="linear"), "schedule"),
    ],
)
def test_other_bad_manifest_entries_are_named(weights, changes, message):
    edit_manifest(weights, "toy2d", **changes)
    with pytest.raises(ValueError, match=message):
        checkpoints.load_pretrained("toy2d", "cpu")


def test_a_missing_manifest_says_so_rather_than_available_none(weights, tmp_path, capsys):
    (weights / "manifest.json").unlink()
    status, err = run_cli(capsys, "--model", "digits", "--n", "2", "--out", str(tmp_path / "x.npz"))
    assert_one_line_error(status, err, "no shipped weights are installed", "python -m course_lib train")
    assert "(none)" not in err


class _RunsCode:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_a_refused_pickle_gives_the_reason_without_torchs_advice(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"weight": _RunsCode()}, path)
    with pytest.raises(ValueError) as info:
        checkpoints.load_weights(MLPDenoiser(), path)
    message = str(info.value)
    assert "GLOBAL" in message and "system" in message  # what was refused
    assert "weights_only=False" not in message and "will likely succeed" not in message


@pytest.mark.parametrize("sha256", [123, "abc", b"0" * 64])
def test_load_weights_names_a_malformed_sha256(sha256):
    with pytest.raises(ValueError, match="sha256 must be 64 hexadecimal digits"):
        checkpoints.load_weights(MLPDenoiser(), checkpoints.WEIGHTS_DIR / "toy2d.pt", sha256=sha256)


def test_load_pretrained_names_a_name_that_is_not_a_string():
    with pytest.raises(ValueError, match="name must be a str"):
        checkpoints.load_pretrained(None, "cpu")


# --- the library API: wrong results today -----------------------------------------------------

SCHEDULE = NoiseSchedule.linear(50)
T2 = torch.tensor([3, 40])


@pytest.mark.parametrize("dtype", [torch.uint8, torch.int64, torch.int32, torch.bool])
def test_add_noise_refuses_integer_images_that_came_back_all_zeros(dtype):
    images = torch.full((2, 1, 4, 4), 1).to(dtype)
    with pytest.raises(TypeError, match="original_samples must be a float tensor"):
        SCHEDULE.add_noise(images, torch.randn(2, 1, 4, 4), T2)


def test_add_noise_keeps_float16_and_matches_the_formula():
    x0, eps = torch.randn(2, 3), torch.randn(2, 3)
    out = SCHEDULE.add_noise(x0.half(), eps, T2)
    assert out.dtype == torch.float16
    abar = torch.cumprod(1 - torch.linspace(1e-4, 0.02, 50, dtype=torch.float64), 0)[T2][:, None]
    expected = abar.sqrt() * x0.half().double() + (1 - abar).sqrt() * eps.half().double()  # Ho et al. 2020, eq. 4
    assert torch.allclose(out.double(), expected, atol=4e-3)


def test_add_noise_refuses_integer_noise():
    with pytest.raises(TypeError, match="noise must be a float tensor"):
        SCHEDULE.add_noise(torch.randn(2, 3), torch.ones(2, 3, dtype=torch.long), T2)


@pytest.mark.parametrize("guidance", [NAN, INF, -INF, -0.5, "2", None, torch.tensor(2.0)])
def test_sample_and_predict_noise_refuse_a_guidance_that_is_not_a_finite_weight(guidance):
    model = UNet(in_channels=1, base_channels=8, channel_mults=(1, 2), num_groups=4, context_dim=3).eval()
    context = torch.eye(3)[:2]
    with pytest.raises(ValueError, match="guidance must be a finite number >= 0"):
        sample(model, DDIMSampler(SCHEDULE, 2), (2, 1, 8, 8), context=context, guidance=guidance, progress=False)
    with pytest.raises(ValueError, match="guidance must be a finite number >= 0"):
        predict_noise(model, torch.randn(2, 1, 8, 8), 3, context, guidance)


MOONS = TensorDataset(make_moons(32, seed=0))


@pytest.mark.parametrize("lr", [INF, NAN, -1.0, 0.0, "1e-3"])
def test_train_diffusion_refuses_a_learning_rate_that_is_not_finite_and_positive(lr):
    with pytest.raises(ValueError, match="lr must be a finite number > 0"):
        train_diffusion(MLPDenoiser(hidden_dim=8), SCHEDULE, MOONS, steps=2, batch_size=8, lr=lr, progress=False, device="cpu")


def test_training_on_nan_data_stops_at_the_first_step_with_its_number():
    data = TensorDataset(torch.full((16, 2), NAN))
    with pytest.raises(FloatingPointError, match="the loss is nan at step 1 of 5"):
        train_diffusion(MLPDenoiser(hidden_dim=8), SCHEDULE, data, steps=5, batch_size=4, progress=False, device="cpu")


def test_fit_stops_when_the_loss_diverges_and_names_the_step():
    model = torch.nn.Linear(1, 1)
    losses = iter([1.0, 2.0, INF])
    with pytest.raises(FloatingPointError, match="step 3 of 4"):
        fit(model, lambda b: model(b).sum() * 0 + next(losses), [torch.zeros(1, 1)], steps=4, lr=1e-3, progress=False)
    assert not model.training


class _NaNDenoiser(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.weight = torch.nn.Parameter(torch.zeros(1))

    def forward(self, x, t, context=None):
        return torch.full_like(x, NAN)


@pytest.mark.parametrize("sampler", [DDPMSampler(SCHEDULE), DDIMSampler(SCHEDULE, 5)])
def test_a_model_that_outputs_nan_stops_sampling_with_the_timestep(sampler):
    # Both samplers start at T - 1: DDPM visits every timestep, DDIM's default trailing spacing starts at T - 1.
    with pytest.raises(FloatingPointError, match=f"model_output holds NaN or infinite values at timestep {SCHEDULE.num_timesteps - 1}"):
        sample(_NaNDenoiser(), sampler, (2, 2), progress=False)


def test_nan_in_x_or_context_is_refused():
    with pytest.raises(FloatingPointError, match="sample holds NaN"):
        DDPMSampler(SCHEDULE).step(torch.zeros(2, 2), 5, torch.full((2, 2), NAN))
    model = MLPDenoiser(hidden_dim=8, context_dim=3)
    with pytest.raises(ValueError, match="context holds 2 NaN"):
        sample(model, DDIMSampler(SCHEDULE, 2), (2, 2), context=torch.tensor([[NAN, 0, 0], [0, NAN, 0]]), progress=False)


@pytest.mark.parametrize("seed", [-1, 2**64, 1.0, True, "0"])
def test_seeds_outside_what_torch_takes_are_refused_everywhere(seed):
    with pytest.raises(ValueError, match="seed must be a non-negative int below 2\\*\\*64"):
        seed_everything(seed)
    with pytest.raises(ValueError, match="seed must be a non-negative int below 2\\*\\*64"):
        train_diffusion(MLPDenoiser(hidden_dim=8), SCHEDULE, MOONS, steps=1, seed=seed, progress=False, device="cpu")


def test_the_largest_seed_works_and_differs_from_zero():
    assert not torch.equal(seed_everything(2**64 - 1).initial_seed() * torch.ones(1), torch.zeros(1))
    result = train_diffusion(MLPDenoiser(hidden_dim=8), SCHEDULE, MOONS, steps=1, batch_size=8, seed=2**64 - 1,
                             progress=False, device="cpu")
    assert np.isfinite(result.losses).all()


# --- the library API: errors that name the argument -------------------------------------------

UNET = UNet(in_channels=1, base_channels=8, channel_mults=(1, 2), num_groups=4, context_dim=3).eval()
MLP = MLPDenoiser(hidden_dim=8).eval()
X = torch.randn(2, 1, 8, 8)
CONTEXT = torch.eye(3)[:2]


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: NoiseSchedule.linear(10, beta_start="0.1"), r"beta_start must be a finite number in \(0, 1\)"),
        (lambda: NoiseSchedule.linear(10, beta_end=NAN), "beta_end must be a finite number"),
        (lambda: NoiseSchedule.linear(2.0), "num_timesteps must be a positive int"),
        (lambda: NoiseSchedule.linear(True), "num_timesteps must be a positive int"),
        (lambda: NoiseSchedule.cosine(10, s="a"), "s must be a finite number >= 0"),
        (lambda: NoiseSchedule.cosine(10, s=NAN), "s must be a finite number >= 0"),
        (lambda: NoiseSchedule("abc"), "betas must be a 1-D tensor of numbers"),
        (lambda: DDPMSampler(None), "schedule must be a NoiseSchedule; got NoneType"),
        (lambda: DDIMSampler(None, 10), "schedule must be a NoiseSchedule; got NoneType"),
        (lambda: DDIMSampler(SCHEDULE, True), r"num_inference_steps must be an int in \[1, 50\]"),
        (lambda: DDIMSampler(SCHEDULE, 10.0), r"num_inference_steps must be an int in \[1, 50\]"),
        (lambda: DDIMSampler(SCHEDULE, 10, eta=True), r"eta must be a finite number in \[0, 1\]"),
        (lambda: DDIMSampler(SCHEDULE, 10, eta=NAN), r"eta must be a finite number in \[0, 1\]"),
        (lambda: UNET(X.double(), torch.tensor([1, 2]), CONTEXT), "x has dtype torch.float64 but the model's weights are torch.float32"),
        (lambda: UNET(X.to(torch.uint8), torch.tensor([1, 2]), CONTEXT), "x must be a float tensor"),
        (lambda: UNET(X.long(), torch.tensor([1, 2]), CONTEXT), "x must be a float tensor"),
        (lambda: UNET([[1.0]], torch.tensor([1]), CONTEXT[:1]), "x must be a float tensor of shape"),
        (lambda: MLP(torch.zeros(2, 2).double(), torch.tensor([1, 2])), "x has dtype torch.float64"),
        (lambda: MLP(torch.zeros(2, 2, dtype=torch.long), torch.tensor([1, 2])), "x must be a float tensor"),
        (lambda: UNet(channel_mults=3), "channel_mults must be a non-empty sequence"),
        (lambda: UNet(channel_mults=None), "channel_mults must be a non-empty sequence"),
        (lambda: UNet(base_channels="16"), "base_channels must be an int >= 4"),
        (lambda: MLPDenoiser(data_dim=2.0), "data_dim must be a positive int"),
        (lambda: sample(MLP, DDIMSampler(SCHEDULE, 2), (2.0, 2), progress=False), "shape must be a tuple of positive ints"),
        (lambda: sample(MLP, DDIMSampler(SCHEDULE, 2), (-1, 2), progress=False), "shape must be a tuple of positive ints"),
        (lambda: sample(MLP, DDIMSampler(SCHEDULE, 2), 4, progress=False), "shape must be a tuple of positive ints"),
        (lambda: sample(MLP, None, (2, 2), progress=False), "sampler must be a DDPMSampler or DDIMSampler"),
        (lambda: sample(None, DDIMSampler(SCHEDULE, 2), (2, 2), progress=False), "model must be a torch.nn.Module"),
        (lambda: train_diffusion(MLP, None, MOONS, steps=1, progress=False), "schedule must be a NoiseSchedule"),
        (lambda: train_diffusion(MLP, SCHEDULE, MOONS, steps=1, context_dropout="0.1", progress=False),
         r"context_dropout must be a finite number in \[0, 1\]"),
        (lambda: train_diffusion(MLP, SCHEDULE, MOONS, steps=1, context_dropout=NAN, progress=False), "context_dropout"),
        (lambda: train_diffusion(MLP, SCHEDULE, MOONS, steps=0, progress=False), "steps must be a positive int"),
        (lambda: diffusion_loss(MLP, SCHEDULE, torch.zeros(2, 2, dtype=torch.long)), "x0 must be a float tensor"),
        (lambda: EMA(MLP, NAN), r"decay must be a finite number in \(0, 1\)"),
        (lambda: to_context("abc", 3), "labels_or_attributes must be a tensor"),
        (lambda: sinusoidal_embedding(torch.tensor([1]), 4.0), "dim must be an even int >= 4"),
        (lambda: load_digits(16, "train", test_fraction=NAN), "test_fraction must be a finite number"),
        (lambda: make_sprites(4, seed=-1), "seed must be a non-negative int"),
        (lambda: make_moons(10, noise=NAN), "noise must be a finite number >= 0"),
        (lambda: make_moons(np.int64(0)), "n must be a positive int"),
        (lambda: Classifier(width=12), "width must be a multiple of 8"),
        (lambda: Classifier(num_outputs=0), "num_outputs must be a positive int"),
        (lambda: Classifier()(torch.zeros(2, 1, 8, 8, dtype=torch.uint8)), "x must be a float tensor"),
        (lambda: predict(Classifier(), torch.zeros(2, 1, 8, 8), batch_size=0), "batch_size must be a positive int"),
        (lambda: train_classifier(Classifier(), MOONS, steps=1, seed=-1, progress=False), "seed must be a non-negative int"),
        (lambda: train_vae(VAE(), MOONS, steps=1, seed=2**64, progress=False), "seed must be a non-negative int"),
        (lambda: train_vae(VAE(), MOONS, steps=1, batch_size=0, progress=False), "batch_size must be a positive int"),
    ],
)
def test_api_errors_name_the_argument(call, message):
    with pytest.raises((ValueError, TypeError), match=message):
        call()


def test_numpy_integers_are_accepted_where_ints_are():
    assert NoiseSchedule.linear(np.int64(10)).num_timesteps == 10
    assert len(DDIMSampler(SCHEDULE, np.int32(5)).timesteps) == 5


def test_the_cli_entry_point_prints_no_traceback(tmp_path):
    result = subprocess.run([sys.executable, "-m", "course_lib", "sample", "--model", "digits-cond", "--n", "2",
                             "--steps", "2", "--guidance", "nan", "--out", str(tmp_path / "g.npz")],
                            capture_output=True, text=True)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().count("\n") == 0 and "--guidance" in result.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("guidance_scale", [INF, NAN, 0.5])
def test_the_diffusers_pipeline_refuses_a_guidance_scale_that_is_not_finite(guidance_scale):
    from diffusers import DDIMScheduler

    from course_lib.hf import CoursePipeline, CourseUNet2DModel

    unet = CourseUNet2DModel(in_channels=1, base_channels=8, channel_mults=(1, 2), num_groups=4, context_dim=3, sample_size=8)
    pipe = CoursePipeline(unet, DDIMScheduler(num_train_timesteps=50))
    with pytest.raises(ValueError, match="guidance_scale must be a finite number >= 1"):
        pipe(batch_size=2, num_inference_steps=2, context=CONTEXT, guidance_scale=guidance_scale)
