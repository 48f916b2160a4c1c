"""course_lib: the one implementation behind every lesson of "Introduction to Diffusion Models"."""

from .config import FAST, fast_or_full, get_device, seed_everything
from .samplers import DDIMSampler, DDPMSampler, predict_noise, sample
from .schedules import NoiseSchedule

__version__ = "0.1.0"

__all__ = [
    "FAST",
    "DDIMSampler",
    "DDPMSampler",
    "NoiseSchedule",
    "fast_or_full",
    "get_device",
    "predict_noise",
    "sample",
    "seed_everything",
]
