"""The course's data, all generated or shipped offline (MNIST via torchvision is opt-in).

* :func:`load_digits`: scikit-learn's handwritten digits, (N, 1, size, size) in [-1, 1].
* :func:`make_sprites`: coloured shapes with shape/colour/facing attributes and masks.
* :func:`make_moons`, :func:`make_swiss_roll`, :class:`GaussianMixture`: 2-D point sets.
* :func:`gaussian_random_field`: maps with a known power spectrum.
* :func:`load_mnist`: MNIST or Fashion-MNIST when online, else the digits.
"""

from .digits import load_digits
from .fields import gaussian_random_field, radial_power_spectrum, theoretical_power_spectrum
from .points import GaussianMixture, make_moons, make_swiss_roll
from .sprites import (
    ATTRIBUTE_NAMES,
    COLOURS,
    FACINGS,
    SHAPES,
    SpriteDataset,
    attributes_to_context,
    caption,
    make_sprites,
)
from .torchvision_datasets import load_mnist

__all__ = [
    "ATTRIBUTE_NAMES",
    "COLOURS",
    "FACINGS",
    "SHAPES",
    "GaussianMixture",
    "SpriteDataset",
    "attributes_to_context",
    "caption",
    "gaussian_random_field",
    "load_digits",
    "load_mnist",
    "make_moons",
    "make_sprites",
    "make_swiss_roll",
    "radial_power_spectrum",
    "theoretical_power_spectrum",
]
