"""`python -m course_lib sample`: outputs, and clear errors with exit status 2 and no partial file."""

import shutil
import subprocess
import sys

import numpy as np
import pytest

from course_lib import __main__ as cli
from course_lib import checkpoints


def run(*args: str) -> int:
    return cli.main(["sample", "--no-progress", *args])


def test_npz_output_has_images_in_range_and_cycling_labels(tmp_path, capsys):
    out = tmp_path / "digits.npz"
    assert run("--model", "digits-cond", "--n", "12", "--steps", "5", "--seed", "3", "--out", str(out)) == 0
    data = np.load(out)
    assert data["images"].shape == (12, 1, 16, 16) and data["images"].dtype == np.float32
    assert np.abs(data["images"]).max() < 1.5
    assert data["labels"].tolist() == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]
    assert "12 samples" in capsys.readouterr().out


def test_same_seed_same_samples_and_png_output(tmp_path):
    a, b = tmp_path / "a.npz", tmp_path / "b.npz"
    for out in (a, b):
        assert run("--model", "digits", "--n", "4", "--steps", "5", "--seed", "7", "--out", str(out)) == 0
    assert np.array_equal(np.load(a)["images"], np.load(b)["images"])
    png = tmp_path / "grid.png"
    assert run("--model", "sprites", "--n", "4", "--steps", "3", "--labels", "red+circle,blue+square+left",
               "--out", str(png)) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_stochastic_dpm_sampler_is_seeded_and_differs_from_the_ode_solver(tmp_path):
    """--sampler dpm-sde adds fresh noise at each step: the same seed gives the same samples, another seed
    other samples, and from one seed (one x_T) it ends elsewhere than the deterministic dpm. (That it
    samples what the library does: test_samplers.py.)"""
    def draw(sampler: str, seed: int):
        out = tmp_path / f"{sampler}-{seed}-{len(list(tmp_path.iterdir()))}.npz"  # the CLI never overwrites
        assert run("--model", "digits", "--n", "4", "--sampler", sampler, "--seed", str(seed), "--out", str(out)) == 0
        return np.load(out)["images"]
    sde = draw("dpm-sde", 7)
    assert np.array_equal(sde, draw("dpm-sde", 7))
    assert np.abs(sde - draw("dpm-sde", 8)).mean() > 0.1 and np.abs(sde - draw("dpm", 7)).mean() > 0.1


@pytest.mark.parametrize(
    "args, message",
    [
        (["--model", "nope"], "no generative model named 'nope'"),
        (["--model", "classifier-digits"], "no generative model"),
        (["--model", "digits-cond", "--labels", "3,12"], "class indices in 0..9"),
        (["--model", "sprites", "--labels", "purple+circle"], "unknown attribute"),
        (["--model", "digits", "--guidance", "2"], "needs a conditional model"),
        (["--model", "digits", "--steps", "1000"], "num_inference_steps"),
        (["--model", "digits", "--eta", "2"], "eta"),
    ],
)
def test_bad_arguments_exit_2_with_a_message_and_no_file(tmp_path, capsys, args, message):
    out = tmp_path / "x.png"
    assert run(*args, "--n", "2", "--out", str(out)) == 2
    assert message in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_argparse_rejects_a_bad_count_with_status_2(tmp_path):
    with pytest.raises(SystemExit) as exit_info:
        run("--model", "digits", "--n", "0", "--out", str(tmp_path / "x.png"))
    assert exit_info.value.code == 2


def test_corrupted_weights_exit_2_and_leave_no_file(tmp_path, monkeypatch, capsys):
    weights = tmp_path / "weights"
    shutil.copytree(checkpoints.WEIGHTS_DIR, weights)
    blob = bytearray((weights / "digits.pt").read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    (weights / "digits.pt").write_bytes(bytes(blob))
    monkeypatch.setattr(checkpoints, "WEIGHTS_DIR", weights)
    out = tmp_path / "x.npz"
    assert run("--model", "digits", "--n", "2", "--out", str(out)) == 2
    assert "SHA-256" in capsys.readouterr().err
    assert not out.exists()


def test_module_entry_point_exits_2_on_error(tmp_path):
    result = subprocess.run([sys.executable, "-m", "course_lib", "sample", "--model", "nope", "--out", str(tmp_path / "x.png")],
                            capture_output=True, text=True)
    assert result.returncode == 2 and "error:" in result.stderr
