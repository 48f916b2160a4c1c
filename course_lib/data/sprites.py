"""Procedural sprites: coloured shapes with an eye, known attributes and exact masks.

Every sprite is one shape (circle, square, triangle, diamond) in one colour (red, green,
blue, yellow) on a black background, with a white eye on the side it faces (left or
right). The shapes themselves are left-right symmetric, so the eye alone tells the
facing. Position and size are jittered, so a segmentation model has to find the shape.
Everything is drawn from one seed: the same seed gives the same sprites, and sprite i
does not depend on how many sprites are made.

The attributes come as a multi-hot vector over ``ATTRIBUTE_NAMES`` (shapes, then colours,
then facings), the context vector of the conditioning lessons.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from ..validation import check_int, check_seed

SHAPES = ["circle", "square", "triangle", "diamond"]
COLOURS = ["red", "green", "blue", "yellow"]
FACINGS = ["left", "right"]
GROUPS = {"shape": SHAPES, "colour": COLOURS, "facing": FACINGS}
ATTRIBUTE_NAMES = SHAPES + COLOURS + FACINGS

_RGB = np.array([[1, -1, -1], [-1, 1, -1], [-1, -1, 1], [1, 1, -1]], dtype=np.float32)  # in [-1, 1]
_BACKGROUND = np.array([-1, -1, -1], dtype=np.float32)  # black
_EYE = np.array([1, 1, 1], dtype=np.float32)  # white
# Eye centre per shape, in units of the sprite's radius, for a sprite facing right
# (x to the right, y down); each sits well inside its shape.
_EYE_CENTRE = np.array([[0.42, -0.15], [0.42, -0.2], [0.3, 0.35], [0.4, 0.0]], dtype=np.float32)
_EYE_RADIUS = 0.28
_MIN_SIZE = 12


class SpriteDataset(Dataset):
    """Sprites with their attributes; ``dataset[i]`` is ``(image, attributes)``.

    Attributes:
        images: float32 (N, 3, size, size) in [-1, 1]; the background is exactly -1 (black).
        masks: float32 (N, 1, size, size) in {0, 1}, 1 on the shape's pixels (eye included).
        labels: dict "shape", "colour", "facing" -> int64 (N,) index into SHAPES, COLOURS, FACINGS.
        attributes: float32 (N, K) multi-hot over ATTRIBUTE_NAMES, exactly one 1 per group.
    """

    def __init__(self, images: Tensor, masks: Tensor, labels: dict[str, Tensor]) -> None:
        self.images = images
        self.masks = masks
        self.labels = labels
        self.attributes = torch.cat(
            [torch.nn.functional.one_hot(labels[group], len(names)) for group, names in GROUPS.items()], dim=1
        ).float()

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> tuple[Tensor, Tensor]:
        return self.images[i], self.attributes[i]


def make_sprites(n: int, size: int = 16, seed: int = 0) -> SpriteDataset:
    """Draw ``n`` sprites of ``size`` x ``size`` pixels (``size`` >= 12) from ``seed``.

    Shape, colour and facing are uniform and independent. The radius is 0.28..0.40 of the
    image side and the centre is uniform over the positions where the shape fits.
    """
    check_int("n", n)
    check_int("size", size, _MIN_SIZE)  # smaller sprites lose the eye
    check_seed("seed", seed)

    # One row of six uniforms per sprite, so sprite i is the same whatever n is.
    u = np.random.default_rng(seed).random((n, 6))  # float64 in [0, 1), so u * count < count
    shape = (u[:, 0] * len(SHAPES)).astype(np.int64)
    colour = (u[:, 1] * len(COLOURS)).astype(np.int64)
    facing = (u[:, 2] * len(FACINGS)).astype(np.int64)
    radius = ((0.28 + 0.12 * u[:, 3]) * size).astype(np.float32)
    cx = radius + u[:, 4].astype(np.float32) * (size - 2 * radius)
    cy = radius + u[:, 5].astype(np.float32) * (size - 2 * radius)

    # Pixel centres in sprite coordinates: (x, y) in units of the radius, y pointing down.
    grid = np.arange(size, dtype=np.float32) + 0.5
    x = (grid[None, None, :] - cx[:, None, None]) / radius[:, None, None]
    y = (grid[None, :, None] - cy[:, None, None]) / radius[:, None, None]
    inside = np.select(
        [shape[:, None, None] == k for k in range(len(SHAPES))],
        [
            x**2 + y**2 <= 1.0,  # circle
            np.maximum(abs(x), abs(y)) <= 0.85,  # square
            (y <= 0.75) & (abs(x) <= (y + 1.0) / 1.75),  # triangle, apex up
            abs(x) + abs(y) <= 1.05,  # diamond
        ],
    )
    side = np.where(facing == FACINGS.index("right"), 1.0, -1.0).astype(np.float32)
    eye_x = (side * _EYE_CENTRE[shape, 0])[:, None, None]
    eye_y = _EYE_CENTRE[shape, 1][:, None, None]
    eye = (x - eye_x) ** 2 + (y - eye_y) ** 2 <= _EYE_RADIUS**2

    rgb = np.where(inside[..., None], _RGB[colour][:, None, None, :], _BACKGROUND)
    rgb = np.where(eye[..., None], _EYE, rgb)
    labels = {"shape": shape, "colour": colour, "facing": facing}
    return SpriteDataset(
        images=torch.from_numpy(np.ascontiguousarray(rgb.transpose(0, 3, 1, 2))),
        masks=torch.from_numpy(inside[:, None].astype(np.float32)),
        labels={group: torch.from_numpy(index) for group, index in labels.items()},
    )


def attributes_to_context(
    shape: str | Sequence[str] | None = None,
    colour: str | Sequence[str] | None = None,
    facing: str | Sequence[str] | None = None,
) -> Tensor:
    """A multi-hot context vector, float32 (K,), with a 1 at each named attribute.

    Each argument is a name, a list of names (to mix contexts, e.g. ``colour=["red", "blue"]``)
    or None (leave the group empty). With no arguments it is the all-zero, unconditional context.
    """
    context = torch.zeros(len(ATTRIBUTE_NAMES))
    for group, chosen in (("shape", shape), ("colour", colour), ("facing", facing)):
        if chosen is None:
            continue
        for name in [chosen] if isinstance(chosen, str) else chosen:
            if name not in GROUPS[group]:
                raise ValueError(f"{group} must be one of {GROUPS[group]}; got {name!r}")
            context[ATTRIBUTE_NAMES.index(name)] = 1.0
    return context


def caption(attribute_row: Tensor | Sequence[float]) -> str:
    """Words for one multi-hot row (K,), e.g. "a red circle facing left".

    A group with no attribute set is left out ("a circle", "a red sprite"); several set in
    one group are joined with "/" ("a red/blue circle").
    """
    row = torch.as_tensor(attribute_row, dtype=torch.float32)
    if row.shape != (len(ATTRIBUTE_NAMES),) or not ((row == 0) | (row == 1)).all():
        raise ValueError(
            f"attribute_row must be a multi-hot vector of {len(ATTRIBUTE_NAMES)} zeros and ones; got {row.tolist()}"
        )
    on = {
        group: "/".join(name for name in names if row[ATTRIBUTE_NAMES.index(name)]) for group, names in GROUPS.items()
    }
    words = " ".join(word for word in (on["colour"], on["shape"] or "sprite") if word)
    return f"a {words}" + (f" facing {on['facing']}" if on["facing"] else "")
