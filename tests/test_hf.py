"""course_lib.hf: the course UNet inside diffusers gives the same images as course_lib's own samplers."""

import pytest
import torch
from diffusers import DDIMPipeline, DDIMScheduler, DDPMScheduler

from course_lib import DDIMSampler, DDPMSampler, NoiseSchedule, UNet, load_pretrained, sample
from course_lib.hf import CoursePipeline, CourseUNet2DModel



def _ddim_scheduler(num_timesteps: int = 500) -> DDIMScheduler:
    """The DDIM configuration that reproduces course_lib's DDIMSampler with its default "trailing" spacing when
    the number of steps divides T (see tests/test_samplers.py)."""
    return DDIMScheduler(num_train_timesteps=num_timesteps, beta_start=1e-4, beta_end=0.02, beta_schedule="linear",
                         clip_sample=False, set_alpha_to_one=True, steps_offset=0, timestep_spacing="trailing")


def _pipeline(pipe):
    pipe.set_progress_bar_config(disable=True)
    return pipe


def _to_unit(x: torch.Tensor) -> torch.Tensor:
    return (x / 2 + 0.5).clamp(0, 1)


def test_matched_scheduler_has_the_course_schedule():
    _, schedule = load_pretrained("digits", device="cpu")
    assert torch.equal(_ddim_scheduler().alphas_cumprod, schedule.alphas_cumprod)


def test_wrapper_predicts_what_the_course_unet_predicts():
    model = UNet(base_channels=8, channel_mults=(1, 2), context_dim=3).eval()
    wrapper = CourseUNet2DModel.from_course_model(model, sample_size=8)
    assert wrapper.config.sample_size == 8 and wrapper.config.in_channels == 1 and wrapper.context_dim == 3
    gen = torch.Generator().manual_seed(0)
    x, context = torch.randn(4, 1, 8, 8, generator=gen), torch.randn(4, 3, generator=gen)
    t = torch.tensor([3, 40, 41, 99])
    with torch.no_grad():
        expected = model(x, torch.full((4,), 17), context)
        for timestep in [17, torch.tensor(17), torch.tensor(17.0), torch.full((4,), 17)]:
            torch.testing.assert_close(wrapper(x, timestep, context).sample, expected, atol=0, rtol=0)
        torch.testing.assert_close(wrapper(x, t, return_dict=False)[0], model(x, t), atol=0, rtol=0)


@pytest.mark.parametrize("timestep", [torch.tensor(17.5), torch.tensor([1, 2]), torch.zeros(4, 1, dtype=torch.long)])
def test_wrapper_refuses_bad_timesteps(timestep):
    wrapper = CourseUNet2DModel(sample_size=8, base_channels=8, channel_mults=(1, 2))
    with pytest.raises(ValueError, match="timestep"):
        wrapper(torch.zeros(4, 1, 8, 8), timestep)


def test_from_course_model_checks_its_input():
    with pytest.raises(TypeError, match="UNet"):
        CourseUNet2DModel.from_course_model(torch.nn.Linear(2, 2), sample_size=8)
    with pytest.raises(ValueError, match="time_embedding"):
        CourseUNet2DModel.from_course_model(UNet(base_channels=8, channel_mults=(1, 2), time_embedding=False), 8)
    with pytest.raises(ValueError, match="sample_size"):
        CourseUNet2DModel(sample_size=0)


def test_diffusers_ddim_pipeline_on_shipped_weights_equals_course_sampler():
    model, schedule = load_pretrained("digits", device="cpu")
    pipe = _pipeline(DDIMPipeline(unet=CourseUNet2DModel.from_course_model(model, 16), scheduler=_ddim_scheduler()))
    got = pipe(batch_size=4, num_inference_steps=10, generator=torch.Generator().manual_seed(0), output_type="pt").images
    expected = sample(model, DDIMSampler(schedule, 10), (4, 1, 16, 16), generator=torch.Generator().manual_seed(0),
                      progress=False)
    torch.testing.assert_close(got, _to_unit(expected), atol=1e-5, rtol=0)


@pytest.mark.parametrize("w", [0.0, 2.0])
def test_course_pipeline_guidance_scale_is_one_plus_w(w):
    model, schedule = load_pretrained("digits-cond", device="cpu")
    pipe = _pipeline(CoursePipeline(CourseUNet2DModel.from_course_model(model, 16), _ddim_scheduler()))
    context = torch.eye(10)[[3, 7, 0]]
    got = pipe(3, 10, context=context, guidance_scale=1 + w, generator=torch.Generator().manual_seed(1)).images
    expected = sample(model, DDIMSampler(schedule, 10), (3, 1, 16, 16), context=context, guidance=w,
                      generator=torch.Generator().manual_seed(1), progress=False)
    torch.testing.assert_close(got, _to_unit(expected), atol=1e-5, rtol=0)


def test_course_pipeline_with_ddpm_scheduler_equals_course_ddpm():
    """DDPM draws fresh noise at every step: same generator, same noise, same images."""
    model = UNet(base_channels=8, channel_mults=(1, 2)).eval()
    schedule = NoiseSchedule.linear(50, 1e-4, 0.02)
    scheduler = DDPMScheduler(num_train_timesteps=50, beta_schedule="linear", clip_sample=False, variance_type="fixed_small")
    pipe = _pipeline(CoursePipeline(CourseUNet2DModel.from_course_model(model, 8), scheduler))
    got = pipe(3, 50, generator=torch.Generator().manual_seed(2), output_type="np").images
    expected = sample(model, DDPMSampler(schedule), (3, 1, 8, 8), generator=torch.Generator().manual_seed(2), progress=False)
    assert got.shape == (3, 8, 8, 1)
    torch.testing.assert_close(torch.from_numpy(got), _to_unit(expected).permute(0, 2, 3, 1), atol=1e-5, rtol=0)


def test_save_pretrained_round_trip(tmp_path):
    model = UNet(base_channels=8, channel_mults=(1, 2), context_dim=2).eval()
    pipe = _pipeline(CoursePipeline(CourseUNet2DModel.from_course_model(model, 8), _ddim_scheduler(50)))
    pipe.save_pretrained(tmp_path)
    assert (tmp_path / "unet" / "diffusion_pytorch_model.safetensors").is_file()
    loaded = _pipeline(CoursePipeline.from_pretrained(tmp_path, low_cpu_mem_usage=False))
    context = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    a = pipe(2, 5, context=context, guidance_scale=2.0, generator=torch.Generator().manual_seed(0)).images
    b = loaded(2, 5, context=context, guidance_scale=2.0, generator=torch.Generator().manual_seed(0)).images
    assert torch.equal(a, b)


def test_course_pipeline_bad_inputs():
    pipe = _pipeline(CoursePipeline(CourseUNet2DModel(sample_size=8, base_channels=8, channel_mults=(1, 2), context_dim=2),
                                    _ddim_scheduler(50)))
    context = torch.zeros(2, 2)
    with pytest.raises(ValueError, match="guidance_scale"):
        pipe(2, 5, context=context, guidance_scale=0.5)
    with pytest.raises(ValueError, match="guidance_scale"):
        pipe(2, 5, guidance_scale=3.0)  # would silently ignore the guidance
    with pytest.raises(ValueError, match="context"):
        pipe(2, 5, context=torch.zeros(3, 2))
    with pytest.raises(ValueError, match="output_type"):
        pipe(2, 5, output_type="pil")
    with pytest.raises(ValueError, match="batch_size"):
        pipe(0, 5)
