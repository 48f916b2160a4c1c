"""course_lib.exercises: the check cell of every "write it yourself" exercise."""

import pytest
import torch

from course_lib.exercises import check, diagnose

EXPECTED = torch.tensor([[1.0, -2.0], [3.0, 0.5]])


def test_a_match_passes_and_says_so(capsys):
    assert check(EXPECTED + 1e-7, EXPECTED, name="mine")
    assert capsys.readouterr().out.startswith("✓ mine matches")


@pytest.mark.parametrize("yours, words", [
    (None, "returns None"),
    (EXPECTED.T.reshape(4), "shape is (4,), expected (2, 2)"),
    (EXPECTED * float("nan"), "4 NaN or infinite"),
    (-EXPECTED, "opposite sign"),
    (EXPECTED * 0.5, "0.5 times the expected value"),
    (EXPECTED + torch.tensor([[0.0, 0.0], [0.0, 0.25]]), "differs by up to 0.25"),
])
def test_each_kind_of_difference_is_named(yours, words):
    assert words in diagnose(yours, EXPECTED)


def test_a_named_mistake_is_recognised_before_the_generic_diagnoses():
    off_by_one = EXPECTED * 0.9
    assert diagnose(off_by_one, EXPECTED, mistakes={"the value at t + 1 (an off-by-one timestep)": off_by_one}) \
        == "it equals the value at t + 1 (an off-by-one timestep)"


def test_an_unwritten_or_failing_function_is_reported_not_raised(capsys):
    def stub():
        raise NotImplementedError

    assert not check(stub, EXPECTED, name="my_step")
    assert "my_step: not written yet" in capsys.readouterr().out
    assert not check(lambda: EXPECTED[5], EXPECTED, name="my_step")
    assert "my_step raised IndexError" in capsys.readouterr().out


def test_numbers_compare_like_tensors():
    assert diagnose(2.0, 2.0) is None
    assert "opposite sign" in diagnose(-2.0, 2.0)
    with pytest.raises(ValueError, match="expected must be"):
        diagnose(1.0, None)


def test_the_verdict_is_truthy_only_on_a_match_and_a_notebook_shows_only_the_printed_line(capsys):
    good, bad = check(EXPECTED, EXPECTED), check(-EXPECTED, EXPECTED)
    assert good and not bad
    assert bad.message == capsys.readouterr().out.splitlines()[-1]
    assert good._ipython_display_() is None  # IPython calls this instead of showing "True"/"False"
