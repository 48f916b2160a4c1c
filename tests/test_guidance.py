"""course_lib.guidance and sample(..., guidance_fn=): hand computations on tiny models, and the named errors."""

import pytest
import torch
from torch import nn

from course_lib.guidance import (
    ClassifierGuidance, ClassifierShapeError, GuidanceError, LossGuidance, NaNGradientError, NoisyClassifier,
    NonScalarLossError, predicted_x0, train_noisy_classifier,
)
from course_lib.samplers import DDIMSampler, DDPMSampler, predict_noise, sample
from course_lib.schedules import NoiseSchedule
from course_lib.validation import InvalidArgument

SCHEDULE = NoiseSchedule.linear(50)


class Scaling(nn.Module):
    """eps_theta(x, t) = a * x: a denoiser whose guided steps can be written out by hand."""

    def __init__(self, a: float = 0.3) -> None:
        super().__init__()
        self.a = nn.Parameter(torch.tensor(a))

    def forward(self, x, t, context=None):
        return self.a * x


class Linear(nn.Module):
    """logits = flatten(x) W^T, ignoring t: log p(y | x) has the gradient W_y - sum_k p_k W_k."""

    def __init__(self, features: int, classes: int, seed: int = 0) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(classes, features, generator=torch.Generator().manual_seed(seed)))

    def forward(self, x, t):
        return x.flatten(1) @ self.weight.T


def half_square(x0):
    return 0.5 * (x0**2).sum()


def test_absent_callback_changes_nothing_bit_for_bit():
    model = Scaling()
    for sampler in [DDPMSampler(SCHEDULE), DDIMSampler(SCHEDULE, 10, eta=0.5)]:
        plain = sample(model, sampler, (3, 1, 4, 4), generator=torch.Generator().manual_seed(1), progress=False)
        none = sample(model, sampler, (3, 1, 4, 4), guidance_fn=None, generator=torch.Generator().manual_seed(1),
                      progress=False)
        identity = sample(model, sampler, (3, 1, 4, 4), guidance_fn=lambda x, t, eps: eps,
                          generator=torch.Generator().manual_seed(1), progress=False)
        # the loop as it was before the callback existed, written out
        generator = torch.Generator().manual_seed(1)
        x = torch.randn((3, 1, 4, 4), generator=generator)
        for t in sampler.timesteps.tolist():
            x = sampler.step(predict_noise(model, x, t), t, x, generator=generator)
        assert torch.equal(plain, none) and torch.equal(plain, identity) and torch.equal(plain, x)


def test_loss_guided_step_equals_the_hand_computation():
    model, t, scale = Scaling(0.3), 30, 2.0
    x = torch.randn(2, 1, 3, 3, generator=torch.Generator().manual_seed(0))
    eps = 0.3 * x
    ab = SCHEDULE.alphas_cumprod[t]
    x0 = (x - (1 - ab).sqrt() * eps) / ab.sqrt()
    # L = |x0|^2 / 2 with eps held fixed: dL/dx_t = x0 / sqrt(ab); eps_hat = eps + s sqrt(1 - ab) dL/dx_t
    expected = eps + scale * (1 - ab).sqrt() * x0 / ab.sqrt()
    guided = LossGuidance(SCHEDULE, half_square, scale)(x, t, eps)
    assert torch.allclose(guided, expected, atol=1e-6)
    assert torch.allclose(predicted_x0(SCHEDULE, x, t, eps), x0)
    assert torch.equal(LossGuidance(SCHEDULE, half_square, 0.0)(x, t, eps), eps)


def test_loss_guided_sampling_equals_a_hand_written_ddim_loop():
    model, scale, sampler = Scaling(0.3), 0.5, DDIMSampler(SCHEDULE, 5)
    guided = sample(model, sampler, (2, 1, 3, 3), guidance_fn=LossGuidance(SCHEDULE, half_square, scale),
                    generator=torch.Generator().manual_seed(2), progress=False)
    x = torch.randn((2, 1, 3, 3), generator=torch.Generator().manual_seed(2))
    for t in sampler.timesteps.tolist():
        ab = SCHEDULE.alphas_cumprod[t]
        ab_prev = SCHEDULE.alphas_cumprod[t - sampler.step_ratio] if t >= sampler.step_ratio else torch.tensor(1.0)
        eps = 0.3 * x
        eps = eps + scale * (1 - ab).sqrt() * (x - (1 - ab).sqrt() * eps) / ab  # x0 / sqrt(ab)
        x0 = (x - (1 - ab).sqrt() * eps) / ab.sqrt()
        x = ab_prev.sqrt() * x0 + (1 - ab_prev).sqrt() * eps  # Song et al. 2020, eq. 12, eta = 0
    assert torch.allclose(guided, x, atol=1e-5)
    unguided = sample(model, sampler, (2, 1, 3, 3), generator=torch.Generator().manual_seed(2), progress=False)
    assert guided.abs().mean() < unguided.abs().mean()  # the loss |x0|^2 pulls the samples towards 0


def test_classifier_guided_step_equals_the_hand_gradient():
    classifier, t, scale = Linear(4, 3), 20, 1.5
    x = torch.randn(5, 1, 2, 2, generator=torch.Generator().manual_seed(3))
    eps = torch.randn(5, 1, 2, 2, generator=torch.Generator().manual_seed(4))
    labels = torch.tensor([0, 1, 2, 2, 1])
    W = classifier.weight.detach()
    probs = (x.flatten(1) @ W.T).softmax(dim=1)  # (5, 3)
    grad = (W[labels] - probs @ W).reshape(x.shape)  # d log softmax(Wx)_y / dx
    expected = eps - scale * (1 - SCHEDULE.alphas_cumprod[t]).sqrt() * grad  # Dhariwal & Nichol 2021, Algorithm 2
    assert torch.allclose(ClassifierGuidance(classifier, SCHEDULE, labels, scale)(x, t, eps), expected, atol=1e-6)


def test_classifier_guidance_with_ddpm_moves_the_mean_by_s_beta_over_sqrt_alpha_times_the_gradient():
    classifier, t, scale = Linear(4, 3), 25, 2.0
    x = torch.randn(5, 1, 2, 2, generator=torch.Generator().manual_seed(5))
    eps, labels, noise = 0.3 * x, torch.tensor([0, 1, 2, 0, 1]), torch.zeros(5, 1, 2, 2)
    guide = ClassifierGuidance(classifier, SCHEDULE, labels, scale)
    with torch.enable_grad():
        xg = x.clone().requires_grad_(True)
        (grad,) = torch.autograd.grad(guide.log_prob(xg, t).sum(), xg)
    sampler = DDPMSampler(SCHEDULE)
    shift = sampler.step(guide(x, t, eps), t, x, noise=noise) - sampler.step(eps, t, x, noise=noise)
    beta, alpha = SCHEDULE.betas[t], 1 - SCHEDULE.betas[t]
    assert torch.allclose(shift, scale * beta / alpha.sqrt() * grad, atol=1e-5)  # ~ Algorithm 1's s Sigma grad


def test_classifier_guidance_raises_the_classifiers_probability():
    classifier, labels = Linear(4, 3), torch.tensor([2, 2, 0, 1])
    kwargs = dict(generator=torch.Generator().manual_seed(6), progress=False)
    plain = sample(Scaling(), DDIMSampler(SCHEDULE, 10), (4, 1, 2, 2), **kwargs)
    kwargs["generator"] = torch.Generator().manual_seed(6)
    guided = sample(Scaling(), DDIMSampler(SCHEDULE, 10), (4, 1, 2, 2),
                    guidance_fn=ClassifierGuidance(classifier, SCHEDULE, labels, 3.0), **kwargs)
    log_p = ClassifierGuidance(classifier, SCHEDULE, labels, 1.0).log_prob
    assert (log_p(guided, 0) > log_p(plain, 0)).all()


def test_a_non_scalar_loss_is_a_named_error():
    with pytest.raises(NonScalarLossError, match="scalar"):
        sample(Scaling(), DDIMSampler(SCHEDULE, 3), (2, 1, 2, 2), progress=False,
               guidance_fn=LossGuidance(SCHEDULE, lambda x0: (x0**2).sum(dim=(1, 2, 3)), 1.0))
    with pytest.raises(NonScalarLossError):
        LossGuidance(SCHEDULE, lambda x0: 1.0, 1.0)(torch.zeros(1, 1, 2, 2), 3, torch.zeros(1, 1, 2, 2))


def test_nan_gradients_are_a_named_error():
    nan_loss = LossGuidance(SCHEDULE, lambda x0: (x0 * float("nan")).sum(), 1.0)
    with pytest.raises(NaNGradientError, match="NaN"):
        sample(Scaling(), DDIMSampler(SCHEDULE, 3), (2, 1, 2, 2), guidance_fn=nan_loss, progress=False)
    sqrt_of_zero = LossGuidance(SCHEDULE, lambda x0: (x0 * 0).sqrt().sum(), 1.0)  # d sqrt(u)/du at 0 is infinite
    with pytest.raises(NaNGradientError):
        sqrt_of_zero(torch.ones(1, 1, 2, 2), 3, torch.zeros(1, 1, 2, 2))


def test_a_classifier_of_the_wrong_shape_is_a_named_error():
    x, eps = torch.zeros(3, 1, 2, 2), torch.zeros(3, 1, 2, 2)
    flat = ClassifierGuidance(lambda x, t: x.flatten(1).sum(dim=1), SCHEDULE, torch.tensor([0, 1, 2]), 1.0)
    with pytest.raises(ClassifierShapeError, match=r"\(3, num_classes\)"):
        flat(x, 5, eps)
    too_few_classes = ClassifierGuidance(Linear(4, 2), SCHEDULE, torch.tensor([0, 1, 2]), 1.0)
    with pytest.raises(ClassifierShapeError, match="labels"):
        too_few_classes(x, 5, eps)
    wrong_count = ClassifierGuidance(Linear(4, 3), SCHEDULE, torch.tensor([0, 1]), 1.0)
    with pytest.raises(ClassifierShapeError):
        sample(Scaling(), DDIMSampler(SCHEDULE, 3), (3, 1, 2, 2), guidance_fn=wrong_count, progress=False)
    with pytest.raises(ClassifierShapeError):
        ClassifierGuidance(Linear(4, 3), SCHEDULE, torch.tensor([0.0, 1.0]), 1.0)
    assert issubclass(ClassifierShapeError, GuidanceError) and issubclass(GuidanceError, ValueError)


def test_other_bad_input():
    with pytest.raises(InvalidArgument, match="guidance_fn"):
        sample(Scaling(), DDIMSampler(SCHEDULE, 3), (2, 1, 2, 2), guidance_fn="left", progress=False)
    with pytest.raises(GuidanceError, match="does not depend"):
        LossGuidance(SCHEDULE, lambda x0: torch.tensor(1.0), 1.0)(torch.zeros(1, 1, 2, 2), 3, torch.zeros(1, 1, 2, 2))
    with pytest.raises(ValueError):
        LossGuidance(SCHEDULE, half_square, float("nan"))
    with pytest.raises(ValueError):
        ClassifierGuidance(Linear(4, 3), SCHEDULE, torch.tensor([0]), -1.0)


def test_noisy_classifier_shapes_training_and_seed():
    model = NoisyClassifier(in_channels=1, num_classes=3, width=8)
    assert model(torch.zeros(5, 1, 8, 8), torch.full((5,), 7)).shape == (5, 3)
    images = torch.cat([torch.full((16, 1, 8, 8), -1.0), torch.full((16, 1, 8, 8), 1.0)])
    data = torch.utils.data.TensorDataset(images, torch.tensor([0] * 16 + [1] * 16))
    runs = []
    for _ in range(2):
        torch.manual_seed(0)
        net = NoisyClassifier(in_channels=1, num_classes=2, width=8)
        runs.append(train_noisy_classifier(net, SCHEDULE, data, steps=40, batch_size=8, seed=3, progress=False))
    assert runs[0] == runs[1]  # same seed, same run
    assert sum(runs[0][-10:]) < sum(runs[0][:10])
    with torch.no_grad():  # at t = 0 the two constant images are easy
        assert (net(images, torch.zeros(32, dtype=torch.long)).argmax(dim=1) == data.tensors[1]).float().mean() > 0.9


def test_bench_prints_classifier_guidance_rows(capsys):
    from course_lib import bench

    bench.classifier_guidance(torch.device("cpu"), 10, classifier_steps=20)
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| digits")]
    assert [row.split(" | ")[0] for row in rows] == [
        "| digits, no guidance", "| digits + classifier guidance s = 3", "| digits + classifier guidance s = 10",
        "| digits + classifier guidance s = 30", "| digits-cond, classifier-free w = 0", "| digits-cond, classifier-free w = 1"]
    accuracies = [float(row.split(" | ")[1]) for row in rows]
    assert all(0 <= a <= 1 for a in accuracies) and accuracies[-1] > 0.8  # classifier-free guidance follows the class
