"""course_lib.evaluation: the judge's scores against a hand computation, sample_and_judge against
sample(), and the table printer against tables written out by hand."""

import math

import pytest
import torch

from course_lib import DDIMSampler, load_pretrained, sample
from course_lib.classifier import Classifier
from course_lib.data import load_digits
from course_lib.evaluation import JudgeScores, format_table, judge_images, print_table, sample_and_judge


@pytest.fixture(scope="module")
def judge():
    return load_pretrained("classifier-digits")[0]


@pytest.fixture(scope="module")
def digits():
    return load_digits(16, "train").tensors[0], load_digits(16, "test").tensors[0]


def test_judge_images_matches_a_hand_computation_from_the_judge_logits(judge, digits):
    train, test = digits
    images = test[:200]
    scores = judge_images(judge, images, judge.features(train).detach())
    with torch.no_grad():
        probs = judge(images).softmax(1)  # the judge's forward pass, not predict()
    assert scores.num_images == 200
    assert scores.confident == pytest.approx((probs.max(1).values > 0.9).double().mean().item())
    share = torch.bincount(probs.argmax(1), minlength=10).double() / 200
    share = share[share > 0]
    assert scores.class_entropy == pytest.approx(-(share * share.log()).sum().item(), rel=1e-9)
    # a different threshold gives a different, smaller share (the argument is used)
    stricter = judge_images(judge, images, judge.features(train).detach(), threshold=0.999)
    assert stricter.confident == pytest.approx((probs.max(1).values > 0.999).double().mean().item())
    assert stricter.confident < scores.confident


def test_judge_scores_separate_real_digits_from_noise(judge, digits):
    train, test = digits
    reference = judge.features(train).detach()
    real = judge_images(judge, test[:256], reference)
    noise = judge_images(judge, torch.randn(256, 1, 16, 16, generator=torch.Generator().manual_seed(0)).clamp(-1, 1), reference)
    itself = judge_images(judge, train, reference)
    assert itself.fid == pytest.approx(0.0, abs=1e-6)  # the reference set against itself
    assert real.confident > 0.8 and real.class_entropy > math.log(10) - 0.05  # held-out digits: ten balanced classes
    assert noise.fid > 10 * real.fid
    assert real.as_row() == {"confident": real.confident, "class entropy": real.class_entropy, "FID": real.fid}


def test_judge_images_accuracy_is_the_share_of_images_judged_the_class_asked_for(judge, digits):
    _, test = digits
    labels = load_digits(16, "test").tensors[1][:100]
    with torch.no_grad():
        predicted = judge(test[:100]).argmax(1)
    scores = judge_images(judge, test[:100], judge.features(test).detach(), labels=labels)
    assert scores.accuracy == pytest.approx((predicted == labels).double().mean().item())
    wrong = judge_images(judge, test[:100], judge.features(test).detach(), labels=(labels + 1) % 10)
    assert wrong.accuracy == pytest.approx((predicted == (labels + 1) % 10).double().mean().item())
    assert scores.accuracy > 0.9 > 0.1 > wrong.accuracy
    assert scores.as_row()["accuracy"] == scores.accuracy and "accuracy" not in judge_images(
        judge, test[:100], judge.features(test).detach()).as_row()
    with pytest.raises(ValueError, match=r"labels must be an integer tensor of shape \(100,\)"):
        judge_images(judge, test[:100], judge.features(test).detach(), labels=labels[:50])
    with pytest.raises(ValueError, match="labels must be an integer"):
        judge_images(judge, test[:100], judge.features(test).detach(), labels=labels.float())


def test_judge_images_rejects_a_single_image(judge):
    with pytest.raises(ValueError, match="N >= 2"):
        judge_images(judge, torch.zeros(1, 1, 16, 16), torch.zeros(4, 64))


def test_sample_and_judge_returns_the_images_of_sample_with_that_seed(judge, digits):
    model, schedule = load_pretrained("digits")
    sampler = DDIMSampler(schedule, 5)
    reference = judge.features(digits[0]).detach()
    images, scores = sample_and_judge(model, sampler, judge, reference, num_samples=8, seed=3)
    expected = sample(model, sampler, (8, 1, 16, 16), generator=torch.Generator().manual_seed(3), progress=False)
    assert images.device.type == "cpu" and torch.equal(images, expected.cpu())
    assert scores == judge_images(judge, expected, reference)
    other, _ = sample_and_judge(model, sampler, judge, reference, num_samples=8, seed=4)
    assert not torch.equal(images, other)


def test_format_table_aligns_columns_as_written_by_hand():
    rows = {"DDPM": {"steps": 500, "FID": 1.234, "share": 0.5}, "DDIM 25": {"steps": 25, "FID": 12.0}}
    expected = (
        "sampler steps   FID share\n"
        "DDPM      500  1.23 50.0%\n"
        "DDIM 25    25 12.00     -"
    )
    assert format_table(rows, label="sampler", formats={"share": ".1%"}) == expected


def test_format_table_of_judge_scores_and_print_table(capsys):
    scores = JudgeScores(num_images=64, confident=0.875, class_entropy=2.2, fid=3.14159)
    print_table({"model": scores.as_row()}, title="64 images")
    assert capsys.readouterr().out == "64 images\n      confident class entropy  FID\nmodel      0.88          2.20 3.14\n"


def test_format_table_keeps_strings_and_none():
    assert format_table({"a": {"x": "yes", "y": None}}) == "    x y\na yes -"


def test_judge_images_works_with_an_untrained_judge():
    # any Classifier, not only the shipped one; the scores stay in their ranges
    judge = Classifier().eval()
    g = torch.Generator().manual_seed(1)
    images = torch.rand(32, 1, 16, 16, generator=g) * 2 - 1
    scores = judge_images(judge, images, judge.features(images).detach())
    assert 0.0 <= scores.confident <= 1.0 and 0.0 <= scores.class_entropy <= math.log(10) + 1e-9
    assert scores.fid == pytest.approx(0.0, abs=1e-6)
