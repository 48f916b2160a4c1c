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
    assert result.detail.startswith("5/6")


def test_a_crashing_check_becomes_a_failure_and_exit_status_1(capsys):
    def check_gpu_driver():
        raise RuntimeError("driver too old")

    results = run_checks([check_gpu_driver, lambda: Check("python", True, "3.11")])
    assert [r.ok for r in results] == [False, True]
    assert results[0].name == "gpu_driver" and "driver too old" in results[0].detail
    assert report(results) == 1
    out = capsys.readouterr().out
    assert "FAIL  gpu_driver" in out and "fix:" in out and "1 check(s) failed" in out
