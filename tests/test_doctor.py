"""`python -m course_lib doctor`: a pass/fail table, and failures that say what to do."""

import shutil

from course_lib import __main__ as cli
from course_lib import checkpoints
from course_lib.doctor import Check, check_weights, report, run_checks


def test_doctor_passes_on_a_working_install(capsys):
    assert cli.main(["doctor"]) == 0
    out = capsys.readouterr().out
    assert out.count("PASS") == 6 and "FAIL" not in out and "ready for the workshop" in out


def test_corrupted_weights_fail_with_a_fix(tmp_path, monkeypatch):
    weights = tmp_path / "weights"
    shutil.copytree(checkpoints.WEIGHTS_DIR, weights)
    (weights / "sprites.pt").write_bytes(b"not a checkpoint")
    monkeypatch.setattr(checkpoints, "WEIGHTS_DIR", weights)
    result = check_weights()
    assert not result.ok
    assert "sprites" in result.fix and "reinstall" in result.fix
    total = len(checkpoints.read_manifest(weights / "manifest.json"))  # lessons add shipped models over time
    assert result.detail.startswith(f"{total - 1}/{total}")


def test_a_crashing_check_becomes_a_failure_and_exit_status_1(capsys):
    def check_gpu_driver():
        raise RuntimeError("driver too old")

    results = run_checks([check_gpu_driver, lambda: Check("python", True, "3.11")])
    assert [r.ok for r in results] == [False, True]
    assert results[0].name == "gpu_driver" and "driver too old" in results[0].detail
    assert report(results) == 1
    out = capsys.readouterr().out
    assert "FAIL  gpu_driver" in out and "fix:" in out and "1 check(s) failed" in out


def test_an_old_python_fails_with_the_version_to_install(monkeypatch):
    from course_lib import doctor

    monkeypatch.setattr(doctor, "MIN_PYTHON", (99, 0))
    result = doctor.check_python()
    assert not result.ok and result.fix.startswith("install Python 99.0 or newer")


def test_the_command_fails_on_a_missing_weights_file_and_says_what_to_do(tmp_path, monkeypatch, capsys):
    """The whole command, as a learner runs it: exit status 1, and the fix under the failed line."""
    weights = tmp_path / "weights"
    shutil.copytree(checkpoints.WEIGHTS_DIR, weights)
    (weights / "digits.pt").unlink()
    monkeypatch.setattr(checkpoints, "WEIGHTS_DIR", weights)
    assert cli.main(["doctor"]) == 1
    lines = capsys.readouterr().out.splitlines()
    failed = [i for i, line in enumerate(lines) if line.startswith("FAIL")]
    assert [lines[i].split()[1] for i in failed] == ["shipped", "sampling"]  # sampling loads the digits model
    total = len(checkpoints.read_manifest(weights / "manifest.json"))
    assert f"{total - 1}/{total} verified" in lines[failed[0]] and "corrupted or missing: digits" in lines[failed[0] + 1]
    assert all(lines[i + 1].strip().startswith("fix:") for i in failed)
    assert lines[-1] == "2 check(s) failed."


def test_a_mismatched_torchvision_fails_the_torch_check_with_its_fix(monkeypatch):
    import torchvision.ops

    from course_lib import doctor

    def broken_nms(*args, **kwargs):  # what a torchvision built for another torch raises
        raise RuntimeError("operator torchvision::nms does not exist\n(further detail)")

    monkeypatch.setattr(torchvision.ops, "nms", broken_nms)
    result = doctor.check_torch()
    assert not result.ok and result.name == "torch + torchvision"
    assert "operator torchvision::nms does not exist" in result.detail and "further detail" not in result.detail
    assert "requirements.lock" in result.fix and "previous-versions" in result.fix
