"""course_lib: the one implementation behind every lesson of "Introduction to Diffusion Models".

The most used pieces are importable from the package itself::

    from course_lib import NoiseSchedule, DDPMSampler, DDIMSampler, UNet, load_pretrained, sample
"""

from .checkpoints import load_pretrained
from .config import FAST, fast_or_full, get_device, seed_everything
from .models import MLPDenoiser, UNet
from .samplers import DDIMSampler, DDPMSampler, DPMSolverSampler, predict_noise, sample
from .schedules import NoiseSchedule
from .training import diffusion_loss, train_diffusion

__version__ = "0.1.0"

__all__ = [
    "FAST",
    "DDIMSampler",
    "DDPMSampler",
    "DPMSolverSampler",
    "MLPDenoiser",
    "NoiseSchedule",
    "UNet",
    "diffusion_loss",
    "fast_or_full",
    "get_device",
    "load_pretrained",
    "predict_noise",
    "sample",
    "seed_everything",
    "train_diffusion",
]
