"""The shipped weights: they verify, load, and generate what the course claims, on a small fast sample.

Thresholds sit well below what the models reach (see course_lib/weights/MODEL_CARD.md) so that
a sample of a few dozen images passes reliably, yet far above what an untrained model gives.
"""

import pytest
import torch

from course_lib.checkpoints import WEIGHTS_DIR, load_pretrained, read_manifest, sha256_of
from course_lib.classifier import predict
from course_lib.data import ATTRIBUTE_NAMES, load_digits, make_moons, make_sprites
from course_lib.metrics import confident_fraction, energy_distance
from course_lib.models import UNet
from course_lib.pretrained import RECIPES
from course_lib.samplers import DDIMSampler, sample

MANIFEST = read_manifest(WEIGHTS_DIR / "manifest.json")


def test_every_recipe_is_shipped_with_a_matching_checksum_and_the_package_stays_small():
    assert set(MANIFEST) == set(RECIPES)
    for name, entry in MANIFEST.items():
        assert sha256_of(WEIGHTS_DIR / entry["file"]) == entry["sha256"], name
    total = sum(p.stat().st_size for p in WEIGHTS_DIR.iterdir())
    assert total < 20 * 2**20


@pytest.fixture(scope="module")
def digit_judge():
    judge, schedule = load_pretrained("classifier-digits", device="cpu")
    assert schedule is None
    return judge


def test_digit_judge_accuracy_on_held_out_digits(digit_judge):
    images, labels = load_digits(16, "test").tensors
    probs, _ = predict(digit_judge, images)
    assert (probs.argmax(1) == labels).float().mean() > 0.97


def test_sprite_judge_reads_every_attribute_group_of_fresh_sprites():
    judge, _ = load_pretrained("classifier-sprites", device="cpu")
    sprites = make_sprites(300, 16, seed=123)  # a seed the judge never saw
    with torch.no_grad():
        logits = judge(sprites.images)
    start = 0
    for group in ("shape", "colour", "facing"):
        width = len({"shape": ATTRIBUTE_NAMES[:4], "colour": ATTRIBUTE_NAMES[4:8], "facing": ATTRIBUTE_NAMES[8:]}[group])
        predicted = logits[:, start:start + width].argmax(1)
        assert (predicted == sprites.labels[group]).float().mean() > 0.95, group
        start += width


def _digits(model, schedule, n, context=None, guidance=0.0):
    g = torch.Generator().manual_seed(0)
    return sample(model, DDIMSampler(schedule, 20), (n, 1, 16, 16), context=context, guidance=guidance,
                  generator=g, device="cpu", progress=False)


def test_shipped_digits_model_generates_digits_the_judge_recognises(digit_judge):
    model, schedule = load_pretrained("digits", device="cpu")
    probs, _ = predict(digit_judge, _digits(model, schedule, 48))
    # The shipped model reaches about 0.94 with DDIM; an untrained UNet gives noise the judge is unsure of.
    assert confident_fraction(probs) > 0.8
    untrained = UNet(**model.config).eval()
    probs_untrained, _ = predict(digit_judge, _digits(untrained, schedule, 48).clamp(-1, 1))
    assert confident_fraction(probs_untrained) < 0.5


def test_conditional_digits_follow_their_labels_with_guidance(digit_judge):
    model, schedule = load_pretrained("digits-cond", device="cpu")
    labels = torch.arange(40) % 10
    x = _digits(model, schedule, 40, context=torch.nn.functional.one_hot(labels, 10).float(), guidance=2.0)
    probs, _ = predict(digit_judge, x)
    assert (probs.argmax(1) == labels).float().mean() >= 0.9


def test_toy2d_model_samples_two_moons():
    model, schedule = load_pretrained("toy2d", device="cpu")
    g = torch.Generator().manual_seed(0)
    x = sample(model, DDIMSampler(schedule, 50), (1000, 2), generator=g, device="cpu", progress=False)
    target = make_moons(1000, seed=1)
    noise = torch.randn(1000, 2, generator=torch.Generator().manual_seed(2))
    # The model's samples must be far closer to real moons than a unit Gaussian is.
    assert energy_distance(x, target) < 0.2 * energy_distance(noise, target)
