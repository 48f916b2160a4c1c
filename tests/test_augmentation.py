"""Non-leaky shift augmentation: the shift itself, the UNet's augmentation labels, and training with both."""

import itertools

import pytest
import torch
from torch import nn
from torch.utils.data import TensorDataset

from course_lib.augmentation import random_shift
from course_lib.models import UNet
from course_lib.schedules import NoiseSchedule
from course_lib.training import diffusion_loss, train_diffusion
from course_lib.validation import InvalidArgument


def _shift_by_roll(image: torch.Tensor, dx: int, dy: int, fill: float) -> torch.Tensor:
    """An independent reference: roll the content, then blank the rows and columns that wrapped round."""
    out = torch.roll(image, shifts=(dy, dx), dims=(-2, -1)).clone()
    if dy > 0:
        out[..., :dy, :] = fill
    if dy < 0:
        out[..., dy:, :] = fill
    if dx > 0:
        out[..., :, :dx] = fill
    if dx < 0:
        out[..., :, dx:] = fill
    return out


def test_random_shift_moves_each_image_by_its_label_and_fills_the_border():
    images = torch.rand(400, 3, 6, 5) * 2 - 1
    shifted, labels = random_shift(images, 2, torch.Generator().manual_seed(0), fill=-1.0)
    assert shifted.shape == images.shape and labels.shape == (400, 2)
    seen = set()
    for image, out, (dx, dy) in zip(images, shifted, (labels * 2).round().long().tolist()):
        seen.add((dx, dy))
        torch.testing.assert_close(out, _shift_by_roll(image, dx, dy, -1.0), rtol=0, atol=0)
    assert seen == set(itertools.product(range(-2, 3), repeat=2))  # all 25 shifts occur


def test_random_shift_statistics_follow_the_probability():
    n = 20_000
    _, labels = random_shift(torch.zeros(n, 1, 8, 8), 2, torch.Generator().manual_seed(1), probability=0.5)
    moved = labels.abs().sum(1) > 0
    # Shifted with probability 1/2, and then still (0, 0) with probability 1/25: 0.5 * 24/25 = 0.48.
    assert abs(moved.float().mean().item() - 0.48) < 0.02
    _, labels = random_shift(torch.zeros(n, 1, 8, 8), 2, torch.Generator().manual_seed(2), probability=1.0)
    values, counts = (labels * 2).round().unique(return_counts=True)
    assert values.tolist() == [-2, -1, 0, 1, 2]
    assert (counts.float() / counts.sum() - 0.2).abs().max() < 0.01  # each axis uniform over [-2, 2]


def test_random_shift_extremes_and_seed():
    images = torch.randn(16, 1, 8, 8)
    same, labels = random_shift(images, 1, torch.Generator().manual_seed(0), probability=0.0)
    assert torch.equal(same, images) and not labels.any()
    a = random_shift(images, 3, torch.Generator().manual_seed(5))
    b = random_shift(images, 3, torch.Generator().manual_seed(5))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])


def test_edge_fill_repeats_the_border():
    image = torch.arange(16.0).reshape(1, 1, 4, 4)
    shifted, labels = random_shift(image.repeat(50, 1, 1, 1), 1, torch.Generator().manual_seed(0), 1.0, fill="edge")
    for out, (dx, dy) in zip(shifted, labels.long().tolist()):
        rows = (torch.arange(4) - dy).clamp(0, 3)
        cols = (torch.arange(4) - dx).clamp(0, 3)
        assert torch.equal(out[0], image[0, 0][rows][:, cols])


@pytest.mark.parametrize("kwargs, name", [
    (dict(fill="border"), "fill"),
    (dict(max_shift=0), "max_shift"), (dict(max_shift=8), "max_shift"), (dict(probability=1.5), "probability"),
    (dict(images=torch.zeros(4, 8, 8)), "images"), (dict(images=torch.zeros(2, 1, 8, 8, dtype=torch.long)), "images"),
])
def test_random_shift_names_the_bad_argument(kwargs, name):
    arguments = dict(images=torch.zeros(2, 1, 8, 8), max_shift=2) | kwargs
    with pytest.raises(InvalidArgument, match=name):
        random_shift(**arguments)


def test_zero_labels_leave_the_unet_a_plain_unet():
    """The non-leaky part: sampling asks for labels zero, and then the augmentation input adds nothing."""
    torch.manual_seed(0)
    told = UNet(in_channels=1, augment_dim=2)
    plain = UNet(in_channels=1)
    missing = plain.load_state_dict(told.state_dict(), strict=False)
    assert missing.unexpected_keys == ["augment_proj.weight"] and not missing.missing_keys
    x, t = torch.randn(3, 1, 16, 16), torch.tensor([0, 200, 499])
    expected = plain(x, t)
    assert torch.equal(told(x, t), expected)
    assert torch.equal(told(x, t, augment=torch.zeros(3, 2)), expected)
    assert not torch.allclose(told(x, t, augment=torch.tensor([[1.0, 0.0]] * 3)), expected)


def test_unet_rejects_augmentation_it_was_not_built_for():
    with pytest.raises(ValueError, match="augment_dim=0"):
        UNet(in_channels=1)(torch.randn(2, 1, 16, 16), torch.tensor([1, 2]), augment=torch.zeros(2, 2))
    with pytest.raises(InvalidArgument, match=r"augment must be a float tensor of shape \(2, 2\)"):
        UNet(in_channels=1, augment_dim=2)(torch.randn(2, 1, 16, 16), torch.tensor([1, 2]), augment=torch.zeros(2, 3))
    with pytest.raises(ValueError, match="time_embedding"):
        UNet(in_channels=1, augment_dim=2, time_embedding=False)


class LabelRecorder(nn.Module):
    """A fake denoiser told the shift: records its inputs and the labels."""

    context_dim, augment_dim = 0, 2

    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.tensor(0.5))
        self.inputs, self.labels = [], []

    def forward(self, x, t, context=None, *, augment=None):
        self.inputs.append(x.clone())
        self.labels.append(augment.clone())
        return self.w * x


def test_train_diffusion_tells_the_model_the_shift_of_each_image():
    """Centred dots: each image the model is trained on has its dot where the label says."""
    images = torch.full((64, 1, 9, 9), -1.0)
    images[:, :, 4, 4] = 1.0
    schedule = NoiseSchedule.linear(10, 1e-4, 1e-4)  # almost no noise: x_t is x_0
    model = LabelRecorder()
    train_diffusion(model, schedule, TensorDataset(images), steps=3, batch_size=32, augment_shift=2, progress=False)
    assert len(model.labels) == 3
    for x, labels in zip(model.inputs, model.labels):
        brightest = x.flatten(1).argmax(1)
        rows, cols = brightest // 9, brightest % 9
        assert torch.equal(cols - 4, (labels[:, 0] * 2).round().long())
        assert torch.equal(rows - 4, (labels[:, 1] * 2).round().long())


def test_augmented_training_is_deterministic_and_differs_from_plain():
    images = TensorDataset(torch.rand(32, 1, 8, 8) * 2 - 1)
    schedule = NoiseSchedule.linear(50, 1e-4, 0.02)

    def run(shift):
        torch.manual_seed(0)
        model = UNet(in_channels=1, base_channels=8, channel_mults=(1, 2), augment_dim=2)
        return train_diffusion(model, schedule, images, steps=4, batch_size=16, augment_shift=shift, progress=False).losses

    assert run(1) == run(1)
    assert run(1) != run(0)


def test_augment_shift_needs_a_model_told_the_shift():
    with pytest.raises(InvalidArgument, match="augment_shift.*augment_dim=2"):
        train_diffusion(UNet(in_channels=1, base_channels=8), NoiseSchedule.linear(10, 1e-4, 0.02),
                        TensorDataset(torch.zeros(4, 1, 8, 8)), steps=1, augment_shift=2, progress=False)


def test_diffusion_loss_passes_the_labels_on():
    model = LabelRecorder()
    labels = torch.tensor([[0.5, -1.0], [0.0, 0.0]])
    diffusion_loss(model, NoiseSchedule.linear(10, 1e-4, 0.02), torch.zeros(2, 1, 4, 4), augment=labels)
    assert torch.equal(model.labels[0], labels)


def test_a_model_told_the_shift_ships_and_loads(tmp_path):
    from course_lib import checkpoints, pretrained

    torch.manual_seed(0)
    model = UNet(in_channels=1, augment_dim=2).eval()
    entry = pretrained.ship("digits", model, {"description": "test"}, tmp_path, half=False)
    assert entry["model_config"]["augment_dim"] == 2
    loaded, _ = checkpoints.load_pretrained("digits", weights_dir=tmp_path, device="cpu")
    x, t, labels = torch.randn(2, 1, 16, 16), torch.tensor([3, 400]), torch.tensor([[0.5, -1.0], [0.0, 1.0]])
    assert torch.equal(loaded(x, t, augment=labels), model(x, t, augment=labels))
