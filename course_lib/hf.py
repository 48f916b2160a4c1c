"""The course's denoisers inside Hugging Face diffusers: a model wrapper and a small pipeline.

diffusers calls a UNet as ``unet(sample, timestep).sample`` with one timestep for the whole
batch, and reads the image size from ``unet.config``; the course's denoisers are called as
``model(x_t, t, context)`` with one timestep per image and return the noise itself.
:class:`CourseUNet2DModel` adapts the second to the first, so that diffusers' schedulers and
pipelines can drive the course's shipped weights, and ``save_pretrained`` writes them in the
folder layout of the Hugging Face Hub. :class:`CoursePipeline` adds the context and
classifier-free guidance that diffusers' unconditional pipelines lack.

Needs diffusers (``pip install course_lib[diffusers]``).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from diffusers import DiffusionPipeline, ModelMixin
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.unets.unet_2d import UNet2DOutput
from diffusers.pipelines.pipeline_utils import ImagePipelineOutput
from diffusers.utils.torch_utils import randn_tensor
from torch import Tensor

from .models import UNet
from .validation import check_int, check_number


class CourseUNet2DModel(ModelMixin, ConfigMixin):
    """A course :class:`~course_lib.models.UNet` that looks like diffusers' ``UNet2DModel``.

    The constructor takes the course UNet's arguments plus ``sample_size`` (the image side the
    pipelines generate); :meth:`from_course_model` wraps an existing, trained UNet.

    Call ``wrapper(sample, timestep, context=None)`` with sample (N, C, H, W), timestep an int,
    a 0-dim tensor or an (N,) tensor of integer values in [0, T-1], and context (N, context_dim)
    or None. Returns ``UNet2DOutput(sample=predicted_noise)`` of sample's shape, or a 1-tuple
    with ``return_dict=False``. A UNet trained with augmentation labels (``augment_dim``) is
    called with labels zero: the un-augmented images.
    """

    @register_to_config
    def __init__(
        self,
        sample_size: int = 16,
        in_channels: int = 1,
        out_channels: int | None = None,
        base_channels: int = 16,
        channel_mults: Sequence[int] = (1, 2, 4),
        context_dim: int = 0,
        num_groups: int = 8,
        augment_dim: int = 0,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        check_int("sample_size", sample_size)
        self.unet = UNet(in_channels, out_channels, base_channels, channel_mults, context_dim, num_groups,
                         augment_dim=augment_dim, dropout=dropout)

    @classmethod
    def from_course_model(cls, model: UNet, sample_size: int) -> CourseUNet2DModel:
        """Wrap a trained course UNet (its weights are copied) for images of ``sample_size`` pixels a side."""
        if not isinstance(model, UNet):
            raise TypeError(f"model must be a course_lib.models.UNet; got {type(model).__name__}")
        config = dict(model.config)
        if not config.pop("time_embedding"):
            raise ValueError("model has no time embedding (time_embedding=False), so it is not a denoiser")
        wrapper = cls(sample_size=sample_size, **config)
        wrapper.unet.load_state_dict(model.state_dict())
        return wrapper.to(next(model.parameters()).device).eval()

    @property
    def context_dim(self) -> int:
        """Size of the context vector the wrapped UNet takes (0 = unconditional)."""
        return self.unet.context_dim

    def forward(
        self, sample: Tensor, timestep: Tensor | int, context: Tensor | None = None, return_dict: bool = True
    ) -> UNet2DOutput | tuple[Tensor]:
        t = torch.as_tensor(timestep, device=sample.device)
        if t.ndim > 1 or (t.ndim == 1 and t.shape[0] != sample.shape[0]):
            raise ValueError(
                f"timestep must be a scalar or have shape ({sample.shape[0]},); got shape {tuple(t.shape)}"
            )
        if t.dtype == torch.bool or (t.dtype.is_floating_point and not torch.equal(t, t.round())):
            # Some schedulers (e.g. Euler with "linspace" spacing) visit fractional timesteps; the
            # course UNet only knows the integer ones it was trained on. Refuse rather than round.
            raise ValueError(f"timestep must hold integer values (the course UNet's training timesteps); got {t}")
        t = t.long().expand(sample.shape[0]) if t.ndim == 0 else t.long()
        noise = self.unet(sample, t, context)
        return UNet2DOutput(sample=noise) if return_dict else (noise,)


class CoursePipeline(DiffusionPipeline):
    """Generate images with a :class:`CourseUNet2DModel` and any diffusers scheduler, with optional guidance.

    Args:
        unet: the wrapped denoiser.
        scheduler: a diffusers scheduler whose training schedule matches the one ``unet`` was
            trained with (e.g. ``DDIMScheduler(num_train_timesteps=500, beta_schedule="linear", ...)``).
    """

    model_cpu_offload_seq = "unet"

    def __init__(self, unet: CourseUNet2DModel, scheduler) -> None:
        super().__init__()
        self.register_modules(unet=unet, scheduler=scheduler)

    @torch.no_grad()
    def __call__(
        self,
        batch_size: int = 16,
        num_inference_steps: int = 50,
        context: Tensor | None = None,
        guidance_scale: float = 1.0,
        generator: torch.Generator | None = None,
        output_type: str = "pt",
        return_dict: bool = True,
    ) -> ImagePipelineOutput | tuple:
        """Run the reverse process from pure noise.

        Args:
            batch_size: number of images N.
            num_inference_steps: network evaluations (passed to ``scheduler.set_timesteps``).
            context: (N, context_dim) float context (one-hot labels, multi-hot attributes) or None.
            guidance_scale: classifier-free guidance scale s >= 1; the noise used is
                eps_uncond + s (eps_cond - eps_uncond), which is the course's guidance w = s - 1
                (Ho & Salimans 2022, eq. 6). 1 means no guidance.
            generator: CPU generator for the initial noise and every step's noise.
            output_type: "pt" for a (N, C, H, W) tensor or "np" for a (N, H, W, C) array, in [0, 1].
            return_dict: return an ``ImagePipelineOutput`` (else a 1-tuple).
        """
        check_int("batch_size", batch_size)
        if output_type not in ("pt", "np"):
            raise ValueError(f"output_type must be 'pt' or 'np'; got {output_type!r}")
        check_number("guidance_scale", guidance_scale, 1.0)  # 1 = no guidance; inf or NaN would give NaN images
        check_int("num_inference_steps", num_inference_steps)
        if guidance_scale > 1.0 and context is None:
            raise ValueError("guidance_scale > 1 needs a context to guide towards")
        if context is not None:
            if context.shape != (batch_size, self.unet.context_dim):
                raise ValueError(
                    f"context must have shape ({batch_size}, {self.unet.context_dim}); got {tuple(context.shape)}"
                )
            context = context.to(device=self._execution_device, dtype=self.unet.dtype)

        size = self.unet.config.sample_size
        shape = (batch_size, self.unet.config.in_channels, size, size)
        image = randn_tensor(shape, generator=generator, device=self._execution_device, dtype=self.unet.dtype)
        image = image * self.scheduler.init_noise_sigma  # 1 for DDPM/DDIM, sigma_max for Euler-type schedulers
        self.scheduler.set_timesteps(num_inference_steps, device=self._execution_device)
        for t in self.progress_bar(self.scheduler.timesteps):
            model_input = self.scheduler.scale_model_input(image, t)
            if context is not None and guidance_scale > 1.0:
                both = self.unet(torch.cat([model_input] * 2), t, torch.cat([context, torch.zeros_like(context)])).sample
                eps_cond, eps_uncond = both.chunk(2)
                noise_pred = eps_uncond + guidance_scale * (eps_cond - eps_uncond)
            else:
                noise_pred = self.unet(model_input, t, context).sample
            image = self.scheduler.step(noise_pred, t, image, generator=generator).prev_sample

        image = (image / 2 + 0.5).clamp(0, 1)
        if output_type == "np":
            image = image.cpu().permute(0, 2, 3, 1).numpy()
        return ImagePipelineOutput(images=image) if return_dict else (image,)
