"""Figures of the course: image grids, loss curves, denoising animations, 2-D points and fields.

Every figure made here has an opaque white background with dark text, so it stays readable
on the site's light and dark themes alike. Each function draws into ``ax`` when given one
and returns the Axes it drew on (its figure is ``ax.figure``).

Importing this module also sets the course's figure defaults (:data:`FIGURE_RC`: 100 dpi,
11 pt text, so that text is at least 11 screen pixels where a figure is shown at its natural
size) and, inside IPython, makes every figure a notebook shows carry a description: its
image output's metadata gets ``alt`` (see :func:`describe_figure`), which the site uses as
the image's alt text, and ``text_px``, the height of its smallest text in image pixels.
"""

from __future__ import annotations

import base64
import importlib
import io
import math
import re
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.animation import FuncAnimation
from matplotlib.axes import Axes
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure
from matplotlib.text import Text
from PIL import Image
from torch import Tensor
from torchvision.utils import make_grid

from .schedules import NoiseSchedule

if TYPE_CHECKING:
    from IPython.display import HTML

_PAD = 2  # pixels of white between tiles of a grid
_LABEL_PX = 14  # screen pixels of white below each tile that holds its label
_DPI = 100
_FRAME = re.compile(r'"data:image/png;base64,([^"]+)"')
_ALT_MAX_CHARS = 400
# The widest figure a lesson page shows at its natural size (its column at 1280 px is about
# 975 px): a wider figure with a layout engine is narrowed to this when shown, keeping its text size.
MAX_FIGURE_WIDTH_PX = 950

# The course's figure defaults: at 100 dpi a point is 100/72 pixels, so 11 pt text is 15 px
# and the 8 pt that some labels ask for is still 11 px, wherever a figure is not scaled down.
FIGURE_RC = {
    "figure.dpi": _DPI,
    "savefig.dpi": "figure",
    "font.size": 11,
    "legend.fontsize": "medium",
}
plt.rcParams.update(FIGURE_RC)

# matplotlib's animation player takes its button icons from a font on a CDN; the site is
# offline first, so the icons become plain characters that every font has.
_ICONS = {
    "fa-minus": "&minus;",
    "fa-fast-backward": "&laquo;",
    "fa-step-backward": "&lsaquo;",
    "fa-play fa-flip-horizontal": "&#9664;",
    "fa-pause": "&#8214;",
    "fa-play": "&#9654;",
    "fa-step-forward": "&rsaquo;",
    "fa-fast-forward": "&raquo;",
    "fa-plus": "+",
}


def _new_axes(width: float, height: float) -> Axes:
    _, ax = plt.subplots(figsize=(width, height), facecolor="white", layout="constrained")
    return ax


def _image_axes(grid: np.ndarray, scale: float, title: str, fontsize: float) -> Axes:
    """Axes on a new white figure that shows ``grid`` at ``scale`` screen pixels per pixel, below room for ``title``."""
    height, width = round(grid.shape[0] * scale), round(grid.shape[1] * scale)
    pt = _DPI / 72  # screen pixels per point
    title_px = round(1.6 * fontsize * pt) if title else 0
    margin = max(0, math.ceil((0.9 * fontsize * pt * len(title) - width) / 2))  # room for a title wider than the grid
    figure_width, figure_height = width + 2 * margin, height + title_px
    figure = plt.figure(figsize=(figure_width / _DPI, figure_height / _DPI), dpi=_DPI, facecolor="white")
    return figure.add_axes((margin / figure_width, 0, width / figure_width, height / figure_height))


def _check_images(images: Tensor, name: str, ndim: int = 4) -> Tensor:
    """Check a batch of images (..., C, H, W) and return it as a float32 CPU tensor."""
    if not isinstance(images, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor; got {type(images).__name__}")
    if images.ndim != ndim:
        dims = "(S, N, C, H, W)" if ndim == 5 else "(N, C, H, W)"
        raise ValueError(f"{name} must have shape {dims}; got {tuple(images.shape)}")
    if images.shape[-3] not in (1, 3):
        raise ValueError(f"{name} must have 1 or 3 channels (dimension -3); got shape {tuple(images.shape)}")
    if not images.dtype.is_floating_point:
        raise TypeError(f"{name} must be a float tensor with values in [-1, 1]; got dtype {images.dtype}")
    if images.numel() == 0:
        raise ValueError(f"{name} is empty; got shape {tuple(images.shape)}")
    images = images.detach().cpu().float()
    if not torch.isfinite(images).all():
        raise ValueError(f"{name} contains NaN or inf (did sampling diverge?)")
    return images


def to_display(images: Tensor) -> Tensor:
    """Map images from [-1, 1] to [0, 1] for display.

    Args:
        images: (N, 1, H, W) or (N, 3, H, W) float tensor, on any device, values in about [-1, 1].

    Returns:
        (N, C, H, W) float32 CPU tensor in [0, 1]. Generated samples may overshoot [-1, 1]
        slightly; those values are clamped to the nearest displayable colour. This clamping
        is for display only: ``images`` itself is not changed.
    """
    return ((_check_images(images, "images") + 1) / 2).clamp(0, 1)


def _grid(images: Tensor, nrow: int, padding: int = _PAD) -> np.ndarray:
    """(N, C, H, W) in [0, 1] -> (rows, cols, 3) numpy grid on a white background."""
    if not isinstance(nrow, int) or nrow < 1:
        raise ValueError(f"nrow must be a positive int; got {nrow!r}")
    if len(images) == 1:  # make_grid returns a lone image as it is: unpadded, and grey with one channel
        grid = torch.nn.functional.pad(images[0].expand(3, -1, -1), (padding,) * 4, value=1.0)
    else:
        grid = make_grid(images, nrow=nrow, padding=padding, pad_value=1.0)
    return grid.permute(1, 2, 0).numpy()


def show_images(
    images: Tensor,
    nrow: int = 8,
    title: str | None = None,
    labels: Sequence[str] | None = None,
    ax: Axes | None = None,
    scale: float = 3.0,
) -> Axes:
    """Show a batch of images as a grid, ``nrow`` images per row.

    Args:
        images: (N, 1, H, W) or (N, 3, H, W) float tensor in [-1, 1] (see :func:`to_display`).
        nrow: images per row of the grid.
        title: optional title above the grid.
        labels: optional N strings (e.g. class names), one written below each image.
        ax: Axes to draw into; by default a new figure sized by ``scale``.
        scale: screen pixels per image pixel of a new figure (pixels are drawn as sharp squares);
            also sets the gap left for ``labels``.
    """
    images = to_display(images)
    n, _, h, w = images.shape
    padding = _PAD
    if labels is not None:
        if len(labels) != n:
            raise ValueError(f"labels must have one entry per image ({n}); got {len(labels)}")
        padding = max(_PAD, math.ceil(_LABEL_PX / scale))  # leave room below each tile for its label
    grid = _grid(images, nrow, padding)
    if ax is None:
        ax = _image_axes(grid, scale, title or "", fontsize=12)
    ax.imshow(grid, interpolation="nearest")
    ax.set_axis_off()
    if title:
        ax.set_title(title, fontsize=12)
    if labels is not None:
        ncols = min(nrow, n)
        for i, label in enumerate(labels):
            row, col = divmod(i, ncols)
            x = col * (w + padding) + padding + w / 2
            y = (row + 1) * (h + padding) + padding / 2
            ax.text(x, y, str(label), ha="center", va="center", fontsize=8, color="black")
    return ax


def plot_losses(
    losses: Sequence[float] | Tensor | np.ndarray,
    smooth: int = 50,
    ax: Axes | None = None,
    title: str = "Training loss",
    log: bool = False,
) -> Axes:
    """Plot one loss per training step (faint) and its moving average over ``smooth`` steps.

    Args:
        losses: 1-D sequence of per-step losses.
        smooth: window of the trailing moving average, in steps (1 = no average).
        log: use a logarithmic loss axis (needs positive losses).
    """
    losses = np.asarray(torch.as_tensor(losses, dtype=torch.float64).cpu())
    if losses.ndim != 1 or losses.size == 0:
        raise ValueError(f"losses must be a non-empty 1-D sequence; got shape {losses.shape}")
    if not np.isfinite(losses).all():
        raise ValueError(f"losses contain NaN or inf, first at step {int(np.argmin(np.isfinite(losses)))}")
    if not isinstance(smooth, int) or smooth < 1:
        raise ValueError(f"smooth must be a positive int; got {smooth!r}")
    if log and (losses <= 0).any():
        raise ValueError("log=True needs positive losses")
    if ax is None:
        ax = _new_axes(6, 3.5)
    steps = np.arange(losses.size)
    ax.plot(steps, losses, color="tab:blue", alpha=0.3, linewidth=0.8, label="per step")
    window = min(smooth, losses.size)
    if window > 1:
        average = np.convolve(losses, np.ones(window) / window, mode="valid")
        ax.plot(steps[window - 1 :], average, color="tab:blue", label=f"average of last {window} steps")
        ax.legend()
    if log:
        ax.set_yscale("log")
    ax.set_xlabel("training step")
    ax.set_ylabel("loss")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    return ax


def animate_trajectory(
    trajectory: Sequence[Tensor] | Tensor,
    nrow: int = 8,
    num_frames: int = 40,
    interval_ms: int = 100,
    timesteps: Sequence[int] | None = None,
    scale: float = 3.0,
) -> HTML:
    """Animate a denoising trajectory as a self-contained HTML player (no network access needed).

    Args:
        trajectory: S batches x_t, each (N, C, H, W) in [-1, 1], as a list or an (S, N, C, H, W) tensor,
            e.g. the list that ``sample(..., return_trajectory=True)`` returns.
        nrow: images per row of each frame's grid.
        num_frames: frames kept, evenly spaced from the first batch to the last (fewer frames, smaller HTML).
        interval_ms: time between frames.
        timesteps: optional label per entry of ``trajectory``, shown as "t = ..." above each frame
            (default: "step i/S-1"). For the T + 1 entries of a DDPM trajectory from :func:`sample`,
            ``[T, *sampler.timesteps.tolist()]`` labels them T (pure noise) down to 0 (the samples),
            the numbering x_T ... x_0 of Ho et al. 2020.
        scale: screen pixels per image pixel.

    Returns:
        ``IPython.display.HTML`` that plays in a notebook and on a static web page. The frames are
        stored losslessly at one pixel per image pixel and enlarged by the browser, which keeps
        40 frames of 64 greyscale 16x16 images under 1 MB.
    """
    from IPython.display import HTML  # only needed here; the rest of the module works without IPython

    if isinstance(trajectory, Tensor):
        frames = _check_images(trajectory, "trajectory", ndim=5)
    else:
        if len(trajectory) == 0:
            raise ValueError("trajectory is empty; expected a list of (N, C, H, W) tensors")
        if not all(isinstance(x, Tensor) for x in trajectory):
            raise TypeError("trajectory must be a list of torch.Tensor batches or one (S, N, C, H, W) tensor")
        shapes = {tuple(x.shape) for x in trajectory}
        if len(shapes) > 1:
            raise ValueError(f"trajectory's tensors must all have one shape; got {sorted(shapes)}")
        frames = _check_images(torch.stack(list(trajectory)), "trajectory", ndim=5)
    if timesteps is not None and len(timesteps) != len(frames):
        raise ValueError(f"timesteps must have one entry per trajectory step ({len(frames)}); got {len(timesteps)}")
    if not isinstance(num_frames, int) or num_frames < 1:
        raise ValueError(f"num_frames must be a positive int; got {num_frames!r}")

    keep = np.linspace(0, len(frames) - 1, min(num_frames, len(frames))).round().astype(int)
    grids = [_grid(to_display(frames[i]), nrow) for i in keep]
    titles = [f"t = {timesteps[i]}" if timesteps is not None else f"step {i}/{len(frames) - 1}" for i in keep]

    # Frames are drawn at one pixel per image pixel; the browser enlarges them by `scale`.
    ax = _image_axes(grids[0], 1, max(titles, key=len), fontsize=8)
    image = ax.imshow(grids[0], interpolation="nearest")
    ax.set_axis_off()

    def draw(k: int):
        image.set_data(grids[k])
        ax.set_title(titles[k], fontsize=8, pad=3)
        return (image,)

    animation = FuncAnimation(ax.figure, draw, frames=len(grids), interval=interval_ms)
    with plt.rc_context({"animation.frame_format": "png"}):
        html = animation.to_jshtml(default_mode="once")
    width = ax.figure.bbox.width * scale
    plt.close(ax.figure)  # the player shows the frames; without this the notebook also shows the figure

    html = re.sub(r'<link rel="stylesheet"\s+href="[^"]*font-awesome[^"]*">', "", html)
    for icon, text in _ICONS.items():
        html = html.replace(f'<i class="fa {icon}"></i>', text)
    alt = f"Animation of {len(grids)} frames, {titles[0]} to {titles[-1]}, of a grid of {len(frames[0])} images"
    html = html.replace(
        '<img id="_anim_img',
        f'<img style="width:{width:.0f}px;max-width:100%;image-rendering:crisp-edges;image-rendering:pixelated" '
        f'alt="{alt}" id="_anim_img',
    )
    return HTML(_FRAME.sub(_compact_frame, html))


def _compact_png(png: bytes) -> bytes:
    """Re-encode an opaque PNG losslessly: 8-bit grey without colour, a palette with at most 256 colours, else RGB.

    matplotlib writes RGBA; for the course's figures this is a fifth to a half smaller. A PNG
    with transparent pixels, or one the palette would change, is returned as it is.
    """
    image = Image.open(io.BytesIO(png))
    if "A" in image.getbands() and image.getextrema()[image.getbands().index("A")][0] < 255:
        return png
    rgb = image.convert("RGB")
    pixels = np.asarray(rgb)
    if (pixels == pixels[..., :1]).all():  # no colour
        compact = rgb.convert("L")
    elif rgb.getcolors(maxcolors=256) is not None:
        compact = rgb.convert("P", palette=Image.Palette.ADAPTIVE, colors=256)
        if not np.array_equal(np.asarray(compact.convert("RGB")), pixels):
            compact = rgb
    else:
        compact = rgb
    buffer = io.BytesIO()
    compact.save(buffer, format="png", optimize=True)
    return buffer.getvalue() if buffer.tell() < len(png) else png


def _compact_frame(match: re.Match) -> str:
    """One of matplotlib's RGBA PNG frames of an animation, re-encoded by :func:`_compact_png`."""
    png = _compact_png(base64.b64decode(match.group(1)))
    return f'"data:image/png;base64,{base64.b64encode(png).decode("ascii")}"'


def _as_points(points: Tensor | np.ndarray, name: str) -> np.ndarray:
    points = torch.as_tensor(points).detach().cpu()
    if points.ndim != 2 or points.shape[1] != 2:
        raise ValueError(f"{name} must have shape (N, 2); got {tuple(points.shape)}")
    return points.double().numpy()


def plot_points(
    points: Tensor | np.ndarray,
    ax: Axes | None = None,
    title: str | None = None,
    label: str | None = None,
    **scatter_kwargs,
) -> Axes:
    """Scatter plot of 2-D points (N, 2); call again with the same ``ax`` to overlay, e.g. data and samples."""
    xy = _as_points(points, "points")
    if ax is None:
        ax = _new_axes(4.5, 4.5)
    ax.scatter(xy[:, 0], xy[:, 1], **{"s": 4, "alpha": 0.6, "label": label, **scatter_kwargs})
    ax.set_aspect("equal")
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    if title:
        ax.set_title(title)
    if label:
        ax.legend()
    return ax


def plot_vector_field(
    fn: Callable[[Tensor], Tensor],
    xlim: tuple[float, float],
    ylim: tuple[float, float],
    n: int = 20,
    ax: Axes | None = None,
    title: str | None = None,
    normalize: bool = False,
) -> Axes:
    """Draw the arrows of a 2-D vector field (a score, an electric field) on an n x n grid.

    Args:
        fn: maps a float32 CPU tensor of points (M, 2) to vectors (M, 2).
        xlim, ylim: (low, high) extent of the grid.
        normalize: draw every arrow with the same length and show the magnitude as colour
            (for fields such as 1/r^2 whose magnitudes span orders of magnitude).
    """
    if not isinstance(n, int) or n < 2:
        raise ValueError(f"n must be an int >= 2; got {n!r}")
    xs, ys = torch.meshgrid(torch.linspace(*xlim, n), torch.linspace(*ylim, n), indexing="xy")
    grid = torch.stack([xs.reshape(-1), ys.reshape(-1)], dim=1)
    with torch.no_grad():
        field = _as_points(fn(grid), "fn's output")
    if field.shape[0] != grid.shape[0]:
        raise ValueError(f"fn must return one vector per point, shape ({grid.shape[0]}, 2); got {field.shape}")
    if not np.isfinite(field).all():
        raise ValueError("fn returned NaN or inf at some grid points (a singularity on the grid?); move the grid")
    if ax is None:
        ax = _new_axes(5, 4.5)
    x, y = grid[:, 0].numpy(), grid[:, 1].numpy()
    if normalize:
        magnitude = np.hypot(field[:, 0], field[:, 1])
        spacing = min(xlim[1] - xlim[0], ylim[1] - ylim[0]) / (n - 1)
        length = np.where(magnitude > 0, magnitude, 1.0) / (0.8 * spacing)  # arrows 0.8 grid cells long
        arrows = ax.quiver(x, y, field[:, 0] / length, field[:, 1] / length, magnitude,
                           cmap="viridis", norm=LogNorm(), angles="xy", scale_units="xy", scale=1)
        ax.figure.colorbar(arrows, ax=ax, label="magnitude")
    else:
        ax.quiver(x, y, field[:, 0], field[:, 1], color="tab:blue")
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    ax.set_aspect("equal")
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    if title:
        ax.set_title(title)
    return ax


def plot_schedules(
    schedules: Mapping[str, NoiseSchedule],
    ax: Axes | None = None,
    sqrt: bool = False,
    title: str = "Noise schedules",
) -> Axes:
    """Plot alpha_bar_t against t for several named schedules (e.g. linear vs cosine).

    With ``sqrt=True`` also draws sqrt(alpha_bar_t), the scale of x_0 inside x_t (Ho et al. 2020, eq. 4), dashed.
    """
    if not isinstance(schedules, Mapping) or not schedules:
        raise ValueError("schedules must be a non-empty dict of name -> NoiseSchedule")
    for name, schedule in schedules.items():
        if not isinstance(schedule, NoiseSchedule):
            raise TypeError(f"schedules[{name!r}] must be a NoiseSchedule; got {type(schedule).__name__}")
    if ax is None:
        ax = _new_axes(6, 3.5)
    for name, schedule in schedules.items():
        alpha_bar = schedule.alphas_cumprod.double().numpy()
        (line,) = ax.plot(alpha_bar, label=rf"{name}: $\bar\alpha_t$")
        if sqrt:
            ax.plot(np.sqrt(alpha_bar), "--", color=line.get_color(), label=rf"{name}: $\sqrt{{\bar\alpha_t}}$")
    ax.set_xlabel("timestep t")
    ax.set_ylabel(r"$\bar\alpha_t$" + (r" and $\sqrt{\bar\alpha_t}$" if sqrt else ""))
    ax.set_title(title)
    ax.set_ylim(-0.02, 1.02)
    ax.grid(alpha=0.3)
    ax.legend()
    return ax


def _plain(text: str) -> str:
    """Text of a figure label without mathtext markup: r"$\\bar\\alpha_t$" -> "bar alpha_t"."""
    text = re.sub(r"\\([A-Za-z]+)", r" \1", text.replace("$", ""))
    return re.sub(r"\s+", " ", text.replace("{", "").replace("}", "")).strip()


def _describe_axes(ax: Axes) -> str:
    """One panel: its title, what it plots against what, its legend and its text labels."""
    title = " ".join(_plain(ax.get_title(loc)) for loc in ("left", "center", "right") if ax.get_title(loc))
    kind = "image" if ax.images and not ax.lines else "plot"
    words = [f'{kind} "{title}"' if title else kind]
    xlabel, ylabel = _plain(ax.get_xlabel()), _plain(ax.get_ylabel())
    if xlabel or ylabel:
        words.append(f"of {ylabel or 'values'} against {xlabel or 'position'}")
    legend = ax.get_legend()
    if legend is not None:
        entries = [_plain(t.get_text()) for t in legend.get_texts() if t.get_text()]
        words.append("with legend " + ", ".join(entries))
    labels = [_plain(t.get_text()) for t in ax.texts if t.get_visible() and t.get_text().strip()]
    if labels:
        words.append(f"labelled {', '.join(labels[:8])}" + (f" and {len(labels) - 8} more" if len(labels) > 8 else ""))
    return " ".join(words)


def describe_figure(figure: Figure) -> str:
    """A one-sentence description of ``figure`` for its alt text, from its own titles and labels.

    Example: 'Figure "Noise" with 2 panels: plot "Training loss" of loss against training step
    with legend per step, average of last 50 steps; image "Samples".' At most 400 characters.
    """
    shown = [ax for ax in figure.axes if ax.get_visible() and not hasattr(ax, "_colorbar")]  # colour bars: not panels
    panels = [_describe_axes(ax) for ax in shown if ax.axison or ax.images or ax.get_title()]
    suptitle = _plain(figure.get_suptitle()) if hasattr(figure, "get_suptitle") else ""
    head = f'Figure "{suptitle}"' if suptitle else "Figure"
    if len(panels) > 1:
        text = f"{head} with {len(panels)} panels: " + "; ".join(panels)
    elif panels:
        text = f"{head}: {panels[0]}"
    else:
        text = head
    text += "."
    return text if len(text) <= _ALT_MAX_CHARS else text[: _ALT_MAX_CHARS - 1].rstrip() + "…"


def smallest_text_px(figure: Figure) -> float | None:
    """Height in image pixels (font size at the figure's saved dpi) of the smallest visible text; None if none.

    Call it after the figure has been drawn: tick labels get their text when drawn.
    """
    dpi = plt.rcParams["savefig.dpi"]
    dpi = figure.dpi if dpi == "figure" else float(dpi)
    # The tick labels of an axes turned off (set_axis_off) stay "visible" but are not drawn.
    hidden = {id(t) for ax in figure.axes if not ax.axison for axis in (ax.xaxis, ax.yaxis) for t in axis.findobj(Text)}
    sizes = [
        t.get_fontsize() for t in figure.findobj(Text)
        if t.get_visible() and t.get_text().strip() and t.get_figure() is not None and id(t) not in hidden
    ]
    return round(min(sizes) * dpi / 72, 1) if sizes else None


def fit_page_width(figure: Figure, max_width_px: float = MAX_FIGURE_WIDTH_PX) -> bool:
    """Narrow ``figure`` to ``max_width_px`` (at its dpi) if it is wider and has a layout engine; True if narrowed.

    A page scales a wider figure down, text included (issue 17: tick labels of 6 to 8 px);
    narrowed here, its panels get narrower and its text keeps its size. A figure without a
    layout engine (e.g. :func:`show_images`, sized in pixels) is left as it is.
    """
    width, height = figure.get_size_inches()
    if width * figure.dpi <= max_width_px or figure.get_layout_engine() is None:
        return False
    figure.set_size_inches(max_width_px / figure.dpi, height)
    return True


def install_figure_metadata(shell=None) -> bool:
    """Make every figure that IPython displays as PNG carry ``alt`` and ``text_px`` in its output's metadata.

    Wraps the PNG formatter that the inline backend registered (keeping its settings, e.g.
    ``bbox_inches="tight"``): a figure wider than a lesson page's column is narrowed first
    (:func:`fit_page_width`), and the PNG is re-encoded losslessly (:func:`_compact_png`). Returns False outside IPython. Called when this module is imported.
    """
    if shell is None:
        try:
            from IPython import get_ipython
        except ImportError:
            return False
        shell = get_ipython()
    if shell is None or not hasattr(shell, "display_formatter"):
        return False
    backend = matplotlib.get_backend()
    if backend.startswith("module://"):  # the inline backend registers its PNG formatter when first imported:
        importlib.import_module(backend.removeprefix("module://"))  # import it now, so that it is wrapped here
    formatter = shell.display_formatter.formatters["image/png"]
    try:
        render = formatter.lookup_by_type(Figure)
    except KeyError:
        from IPython.core.pylabtools import print_figure

        def render(figure):
            return print_figure(figure, "png", base64=True)
    if getattr(render, "_course_metadata", False):
        return True

    def png_with_metadata(figure: Figure):
        fit_page_width(figure)
        data = render(figure)
        if isinstance(data, tuple):
            data, metadata = data
        else:
            metadata = {}
        if data is None:  # an empty figure shows nothing
            return None
        if isinstance(data, str):  # base64, as the inline backend writes it
            data = base64.b64encode(_compact_png(base64.b64decode(data))).decode("ascii")
        return data, {**(metadata or {}), "alt": describe_figure(figure), "text_px": smallest_text_px(figure)}

    png_with_metadata._course_metadata = True
    formatter.for_type(Figure, png_with_metadata)
    return True


install_figure_metadata()
