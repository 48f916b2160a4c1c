"""Measuring generated images with the course's judge, and printing results as aligned tables.

The lessons compare samplers, checkpoints and training choices with the same three numbers
from the judge (a course classifier, :mod:`course_lib.classifier`): the share of images it
labels with confidence, the entropy of its predicted classes, and the Fréchet distance of its
penultimate-layer features to a reference set ("FID on the course judge's features"; not
comparable with the Inception FID of papers). This module computes them in one call and prints
rows of results as a table, so that lesson cells show the experiment rather than the plumbing::

    reference = predict(judge, train_images)[1]
    images, scores = sample_and_judge(model, DDIMSampler(schedule, 25), judge, reference,
                                      num_samples=64, seed=2)
    print_table({"DDIM 25": scores.as_row(), "real": judge_images(judge, real, reference).as_row()})
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from .classifier import Classifier, predict
from .metrics import class_entropy, confident_fraction, frechet_distance
from .samplers import DDIMSampler, DDPMSampler, sample


@dataclass(frozen=True)
class JudgeScores:
    """What the judge says about a set of images.

    Attributes:
        num_images: how many images were judged (compare FIDs only at equal counts).
        confident: share of images whose top class probability exceeds the threshold, in [0, 1].
        class_entropy: entropy in nats of the histogram of predicted classes, in [0, log K];
            log 10 = 2.30 when all ten digits are equally frequent.
        fid: Fréchet distance between Gaussians fitted to the judge's features of the images
            and of the reference set, >= 0 up to rounding; lower is closer.
        accuracy: share of images whose predicted class is the one asked for, in [0, 1]; None when
            no labels were given (unconditional samples).
    """

    num_images: int
    confident: float
    class_entropy: float
    fid: float
    accuracy: float | None = None

    def as_row(self) -> dict[str, float]:
        """The scores as a table row: {"confident": ..., "class entropy": ..., "FID": ...}, then "accuracy" if measured."""
        row = {"confident": self.confident, "class entropy": self.class_entropy, "FID": self.fid}
        return row if self.accuracy is None else {**row, "accuracy": self.accuracy}


def judge_images(judge: Classifier, images: Tensor, reference_features: Tensor, *, labels: Tensor | None = None,
                 threshold: float = 0.9) -> JudgeScores:
    """Score ``images`` with ``judge`` against ``reference_features``.

    Args:
        judge: a course classifier (e.g. ``load_pretrained("classifier-digits")[0]``).
        images: (N, C, H, W) in [-1, 1], N >= 2, on any device.
        reference_features: (M, D) features of the reference images, ``predict(judge, reference)[1]``.
        labels: optional (N,) integer classes the images were asked to show; their accuracy is then measured.
        threshold: the top class probability above which an image counts as confidently labelled, in (0, 1).
    """
    if images.ndim != 4 or images.shape[0] < 2:
        raise ValueError(f"images must have shape (N, C, H, W) with N >= 2; got {tuple(images.shape)}")
    if labels is not None and (labels.shape != images.shape[:1] or labels.dtype.is_floating_point):
        raise ValueError(f"labels must be an integer tensor of shape ({images.shape[0]},), one class per image; "
                         f"got {labels.dtype} of shape {tuple(labels.shape)}")
    probs, features = predict(judge, images)
    return JudgeScores(
        num_images=images.shape[0],
        confident=confident_fraction(probs, threshold),
        class_entropy=class_entropy(probs),
        fid=frechet_distance(features, reference_features),
        accuracy=None if labels is None else (probs.argmax(1) == labels.cpu()).float().mean().item(),
    )


def sample_and_judge(
    model: nn.Module,
    sampler: DDPMSampler | DDIMSampler,
    judge: Classifier,
    reference_features: Tensor,
    *,
    num_samples: int,
    seed: int,
    image_shape: tuple[int, int, int] = (1, 16, 16),
    context: Tensor | None = None,
    guidance: float = 0.0,
) -> tuple[Tensor, JudgeScores]:
    """Draw ``num_samples`` images with :func:`~course_lib.samplers.sample` and score them with :func:`judge_images`.

    Args:
        model, sampler, context, guidance: as in :func:`~course_lib.samplers.sample`.
        judge, reference_features: as in :func:`judge_images`.
        num_samples: how many images, >= 2.
        seed: seeds the generator of the starting noise and every step's noise (same seed, same images).
        image_shape: (C, H, W) of one image.

    Returns:
        The images, (num_samples, C, H, W) on the CPU, and their :class:`JudgeScores`.
    """
    images = sample(model, sampler, (num_samples, *image_shape), context=context, guidance=guidance,
                    generator=torch.Generator().manual_seed(seed), progress=False).cpu()
    return images, judge_images(judge, images, reference_features)


Value = float | int | str | None


def format_table(rows: Mapping[str, Mapping[str, Value]], *, label: str = "", formats: Mapping[str, str] | None = None) -> str:
    """Rows of results as an aligned text table, one line per row, a header line first.

    Args:
        rows: row name -> {column name: value}; the columns are those of all rows, in order of
            first appearance. A missing value or ``None`` prints as "-".
        label: the header of the column of row names.
        formats: column name -> format spec (e.g. ``".1%"``, ``".2e"``); by default floats
            print with ``".2f"``, everything else with ``str``.

    Returns:
        The table; row names are left-aligned, values right-aligned under their column names.
    """
    formats = dict(formats or {})
    columns = list(dict.fromkeys(name for row in rows.values() for name in row))

    def cell(column: str, value: Value) -> str:
        if value is None:
            return "-"
        spec = formats.get(column, ".2f" if isinstance(value, float) else "")
        return format(value, spec)

    body = [[cell(c, row.get(c)) for c in columns] for row in rows.values()]
    label_width = max([len(label), *map(len, rows)])
    widths = [max([len(c), *(len(line[i]) for line in body)]) for i, c in enumerate(columns)]
    lines = [" ".join([label.ljust(label_width), *(c.rjust(w) for c, w in zip(columns, widths))])]
    for name, line in zip(rows, body):
        lines.append(" ".join([name.ljust(label_width), *(v.rjust(w) for v, w in zip(line, widths))]))
    return "\n".join(line.rstrip() for line in lines)


def print_table(rows: Mapping[str, Mapping[str, Value]], *, label: str = "", formats: Mapping[str, str] | None = None,
                title: str | None = None) -> None:
    """Print :func:`format_table` of ``rows``, after ``title`` when given (arguments as there)."""
    if title is not None:
        print(title)
    print(format_table(rows, label=label, formats=formats))
