"""Lesson 10's tools: RePaint inpainting, SR3-style conditioning, PSNR and SSIM against closed forms."""

import math

import pytest
import torch
from torch import nn

from course_lib.image_metrics import gaussian_window, psnr, ssim
from course_lib.inpainting import half_mask, repaint
from course_lib.models import UNet
from course_lib.samplers import DDIMSampler, DDPMSampler
from course_lib.schedules import NoiseSchedule
from course_lib.superres import ConcatConditioned, downsample, upsample_bicubic


class ConstantImageDenoiser(nn.Module):
    """The exact E[eps | x_t] when x_0 = v * (1, ..., 1) with v ~ N(0, s^2): every pixel equals the same value.

    x_t = a v 1 + b eps with a = sqrt(alpha_bar_t), b = sqrt(1 - alpha_bar_t), so
    E[eps | x_t] = b Cov(x_t)^-1 x_t with Cov(x_t) = b^2 I + c 1 1^T, c = a^2 s^2; by Sherman-Morrison
    E[eps | x_t] = (x_t - 1 c sum(x_t) / (b^2 + c D)) / b.
    """

    def __init__(self, schedule: NoiseSchedule, s: float) -> None:
        super().__init__()
        self.alphas_cumprod, self.s = schedule.alphas_cumprod, s
        self.dummy = nn.Parameter(torch.zeros(()))  # gives the module a device
        self.context_dim = 0

    def forward(self, x, t, context=None):
        alpha_bar = self.alphas_cumprod[t].double()[:, None]
        b2, c = 1 - alpha_bar, alpha_bar * self.s**2
        flat = x.double().flatten(1)
        denominator = b2 + c * flat.shape[1]
        eps = (flat - c * flat.sum(dim=1, keepdim=True) / denominator) / b2.sqrt()
        return eps.reshape(x.shape).to(x.dtype)


def test_half_mask_hides_the_named_half():
    m = half_mask(4, "bottom")[0, 0]
    assert m[:2].all() and not m[2:].any()
    assert not half_mask(4, "right")[0, 0, :, 2:].any() and half_mask(4, "right")[0, 0, :, :2].all()
    assert half_mask(8, "left").sum() == half_mask(8, "top").sum() == 32
    with pytest.raises(ValueError, match="region"):
        half_mask(8, "middle")
    with pytest.raises(ValueError, match="size"):
        half_mask(7, "top")


def test_repaint_keeps_the_known_pixels_exactly_and_repeats_with_the_seed():
    schedule = NoiseSchedule.linear(20, 1e-3, 0.2)
    torch.manual_seed(0)
    model = UNet(base_channels=8, channel_mults=(1, 2))
    known = torch.rand(3, 1, 8, 8) * 2 - 1
    mask = half_mask(8, "bottom")
    sampler = DDPMSampler(schedule)
    out = repaint(model, sampler, known, mask, resample_steps=2, generator=torch.Generator().manual_seed(1))
    assert out.shape == known.shape
    assert torch.equal(out[mask.expand_as(out)], known[mask.expand_as(known)])
    again = repaint(model, sampler, known, mask, resample_steps=2, generator=torch.Generator().manual_seed(1))
    assert torch.equal(out, again)
    assert not torch.equal(out[~mask.expand_as(out)], known[~mask.expand_as(known)])


def test_repaint_counts_model_calls():
    schedule = NoiseSchedule.linear(20, 1e-3, 0.2)
    calls = []

    class Counter(ConstantImageDenoiser):
        def forward(self, x, t, context=None):
            calls.append(int(t[0]))
            return super().forward(x, t, context)

    known, mask = torch.zeros(2, 1, 4, 4), half_mask(4, "top")
    repaint(Counter(schedule, 1.0), DDIMSampler(schedule, 5, eta=1.0), known, mask, resample_steps=3)
    # 5 trailing timesteps of 20, round(20 - 4 k) - 1 = 19, 15, 11, 7, 3; 3 passes at each but the last:
    # U (len - 1) + 1 evaluations.
    assert calls == [19, 19, 19, 15, 15, 15, 11, 11, 11, 7, 7, 7, 3]


def test_resampling_harmonises_the_completion_with_the_known_pixels():
    # Data: images whose 64 pixels all share one value v ~ N(0, 1). Given two known pixels, the
    # only consistent completion is v everywhere. Replacing the known pixels alone (U = 1) barely
    # informs the rest (the error stays near E|v - v'| = 2 / sqrt(pi) of an independent draw);
    # resampling (U = 10) must bring the completion close to v (Lugmayr et al. 2022, section 4.2).
    schedule = NoiseSchedule.linear(50, 1e-3, 0.2)
    model = ConstantImageDenoiser(schedule, s=1.0)
    v = torch.randn(64, generator=torch.Generator().manual_seed(0))
    known = v[:, None, None, None].expand(64, 1, 8, 8).clone()
    mask = torch.zeros(1, 1, 8, 8, dtype=torch.bool)
    mask[..., 0, :2] = True

    def error(resample_steps: int) -> float:
        out = repaint(model, DDPMSampler(schedule), known, mask, resample_steps=resample_steps,
                      generator=torch.Generator().manual_seed(1))
        return (out - known)[~mask.expand_as(out)].abs().mean().item()

    plain, resampled = error(1), error(10)
    assert plain > 0.6
    assert resampled < 0.3 and resampled < 0.35 * plain


def test_repaint_rejects_bad_inputs():
    schedule = NoiseSchedule.linear(10)
    model = ConstantImageDenoiser(schedule, 1.0)
    known = torch.zeros(2, 1, 4, 4)
    with pytest.raises(TypeError, match="mask"):
        repaint(model, DDPMSampler(schedule), known, torch.ones(1, 1, 4, 4))
    with pytest.raises(ValueError, match="broadcast"):
        repaint(model, DDPMSampler(schedule), known, half_mask(8, "top"))
    with pytest.raises(ValueError, match="resample_steps"):
        repaint(model, DDPMSampler(schedule), known, half_mask(4, "top"), resample_steps=0)


def test_downsample_averages_blocks_and_bicubic_keeps_constants():
    x = torch.arange(16.0).reshape(1, 1, 4, 4)
    assert torch.equal(downsample(x, 2), torch.tensor([[[[2.5, 4.5], [10.5, 12.5]]]]))
    constant = torch.full((2, 1, 4, 4), 0.3)
    assert torch.allclose(upsample_bicubic(constant, 8), torch.full((2, 1, 8, 8), 0.3))
    with pytest.raises(ValueError, match="factor"):
        downsample(x, 3)


def test_concat_conditioned_feeds_the_upsampled_low_res_image_as_a_channel():
    torch.manual_seed(0)
    unet = UNet(in_channels=2, out_channels=1, base_channels=8, channel_mults=(1, 2))
    model = ConcatConditioned(unet, (1, 4, 4))
    assert model.context_dim == 16
    x, t = torch.randn(3, 1, 8, 8), torch.tensor([0, 5, 9])
    low = torch.randn(3, 1, 4, 4)
    expected = unet(torch.cat([x, upsample_bicubic(low, 8)], dim=1), t)
    assert torch.allclose(model(x, t, low.flatten(1)), expected)
    # The output depends on the condition.
    assert not torch.allclose(model(x, t, torch.zeros(3, 16)), expected)
    with pytest.raises(ValueError, match="context is required"):
        model(x, t)
    with pytest.raises(ValueError, match="context must have shape"):
        model(x, t, torch.zeros(3, 15))
    with pytest.raises(ValueError, match="unconditional"):
        ConcatConditioned(UNet(in_channels=2, out_channels=1, base_channels=8, context_dim=3), (1, 4, 4))


def test_psnr_of_a_known_mse():
    x = torch.rand(2, 1, 8, 8) * 2 - 1
    y = x + 0.1  # MSE = 0.01 exactly (up to float rounding)
    assert torch.allclose(psnr(x, y), torch.full((2,), 10 * math.log10(4 / 0.01)), atol=1e-3)
    assert torch.isinf(psnr(x, x)).all()


def test_ssim_closed_forms():
    torch.manual_seed(0)
    x = torch.rand(3, 2, 16, 16) * 2 - 1
    assert torch.allclose(ssim(x, x), torch.ones(3), atol=1e-6)
    y = torch.rand(3, 2, 16, 16) * 2 - 1
    assert torch.allclose(ssim(x, y), ssim(y, x))
    assert (ssim(x, y) < 0.5).all()
    # Two constant images a and b: no variance, so SSIM = (2ab + C1) / (a^2 + b^2 + C1) everywhere.
    a, b, c1 = 0.2, -0.4, (0.01 * 2.0) ** 2
    const_a, const_b = torch.full((1, 1, 12, 12), a), torch.full((1, 1, 12, 12), b)
    assert torch.allclose(ssim(const_a, const_b), torch.tensor([(2 * a * b + c1) / (a * a + b * b + c1)]), atol=1e-6)


def test_ssim_matches_a_direct_weighted_computation_on_one_window():
    # Images the size of the window: one position, so SSIM is the formula with weighted moments.
    torch.manual_seed(1)
    x, y = torch.rand(1, 1, 7, 7), torch.rand(1, 1, 7, 7)
    w = gaussian_window(7, 1.5)
    assert math.isclose(w.sum().item(), 1.0, rel_tol=1e-12) and torch.allclose(w, w.T)
    xd, yd = x[0, 0].double(), y[0, 0].double()
    mx, my = (w * xd).sum(), (w * yd).sum()
    vx, vy = (w * (xd - mx) ** 2).sum(), (w * (yd - my) ** 2).sum()
    cxy = (w * (xd - mx) * (yd - my)).sum()
    c1, c2 = (0.01 * 1.0) ** 2, (0.03 * 1.0) ** 2
    expected = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx**2 + my**2 + c1) * (vx + vy + c2))
    assert math.isclose(ssim(x, y, data_range=1.0, window_size=7).item(), expected.item(), rel_tol=1e-5)
    with pytest.raises(ValueError, match="window_size"):
        ssim(x, y, window_size=9)


def test_the_16x16_digits_are_an_invertible_function_of_their_8x8_block_averages():
    # Lesson 10's claim: super-resolving the course's digits from 8x8 block averages loses nothing,
    # because the 16x16 digits are bilinear enlargements of 8x8 scans. In 1-D, enlarging by 2
    # (align_corners=False, edges clamped) then averaging pairs maps a scan x to
    # 0.125 x[i-1] + 0.75 x[i] + 0.125 x[i+1], with 0.875 x[0] + 0.125 x[1] (and its mirror) at the
    # edges: a diagonally dominant, hence invertible, tridiagonal matrix A. In 2-D: low = A x A^T.
    from course_lib.data import load_digits

    A = 0.75 * torch.eye(8, dtype=torch.float64)
    A += 0.125 * (torch.diag(torch.ones(7, dtype=torch.float64), 1) + torch.diag(torch.ones(7, dtype=torch.float64), -1))
    A[0, 0] = A[7, 7] = 0.875
    scans = load_digits(8, "test").tensors[0][:40].double()
    images = load_digits(16, "test").tensors[0][:40]
    low = downsample(images, 2).double()
    assert torch.allclose(low, A @ scans @ A.T, atol=1e-6)
    assert torch.linalg.cond(A).item() ** 2 < 10  # cond(A kron A) = cond(A)^2, printed by the lesson as 3.7
    recovered = torch.linalg.solve(A, torch.linalg.solve(A, low).transpose(-1, -2)).transpose(-1, -2)
    enlarged = nn.functional.interpolate(recovered.float(), size=16, mode="bilinear", align_corners=False)
    assert (enlarged - images).abs().max() < 1e-5
    # Bicubic interpolation of the same 8x8 input does not recover them: the gap the lesson's SR3 can close.
    assert (upsample_bicubic(low.float(), 16) - images).abs().max() > 0.1
