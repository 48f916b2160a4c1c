"""Plotting helpers: exact pixel values of grids and animation frames, axis labels, offline HTML, input checks."""

import base64
import io
import re

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

from course_lib.plotting import (  # noqa: E402
    animate_trajectory,
    plot_losses,
    plot_points,
    plot_schedules,
    plot_vector_field,
    show_images,
    to_display,
)
from course_lib import plotting as course_plotting  # noqa: E402
from course_lib.schedules import NoiseSchedule  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _expected_grid(images: np.ndarray, nrow: int, pad: int = 2) -> np.ndarray:
    """make_grid's layout written out by hand: tiles in [0, 1] on white, ``pad`` pixels apart. (rows, cols, 3)."""
    n, c, h, w = images.shape
    ncols = min(nrow, n)
    nrows = -(-n // ncols)
    grid = np.ones((nrows * (h + pad) + pad, ncols * (w + pad) + pad, 3), dtype=np.float32)
    for i, tile in enumerate(images):
        r, col = divmod(i, ncols)
        y, x = pad + r * (h + pad), pad + col * (w + pad)
        grid[y : y + h, x : x + w] = np.repeat(tile, 3 // c, axis=0).transpose(1, 2, 0)
    return grid


# --- to_display -------------------------------------------------------------------------------


def test_to_display_maps_minus_one_one_to_zero_one():
    x = torch.tensor([-1.0, 1.0, 0.0, -0.5, 0.5]).reshape(1, 1, 1, 5)
    out = to_display(x)
    assert out.dtype == torch.float32 and out.device.type == "cpu" and out.shape == x.shape
    torch.testing.assert_close(out.flatten(), torch.tensor([0.0, 1.0, 0.5, 0.25, 0.75]), rtol=0, atol=0)


def test_to_display_clamps_overshoot_for_display_only():
    x = torch.tensor([-1.3, 1.2, 0.9]).reshape(1, 1, 1, 3)
    before = x.clone()
    torch.testing.assert_close(to_display(x).flatten(), torch.tensor([0.0, 1.0, 0.95]))
    assert torch.equal(x, before)  # the caller's tensor is untouched


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float64])
def test_to_display_accepts_float_dtypes_and_rgb(dtype):
    x = torch.zeros(2, 3, 4, 4, dtype=dtype, requires_grad=dtype != torch.float16)
    out = to_display(x)
    assert out.dtype == torch.float32 and not out.requires_grad
    assert torch.all(out == 0.5)


@pytest.mark.cuda
def test_gpu_tensors_are_moved_to_the_cpu_for_display():
    images = torch.ones(2, 1, 2, 2, device="cuda", requires_grad=True)
    out = to_display(images)
    assert out.device.type == "cpu" and torch.all(out == 1)
    assert np.all(show_images(images).get_images()[0].get_array() == 1)  # white tiles on white padding


@pytest.mark.parametrize(
    ("bad", "error"),
    [
        (torch.zeros(1, 4, 4), ValueError),  # no batch dimension
        (torch.zeros(2, 2, 4, 4), ValueError),  # 2 channels
        (torch.zeros(0, 1, 4, 4), ValueError),  # empty
        (torch.zeros(1, 1, 4, 4, dtype=torch.uint8), TypeError),
        (torch.full((1, 1, 2, 2), float("nan")), ValueError),
        (np.zeros((1, 1, 4, 4)), TypeError),
    ],
)
def test_to_display_rejects_bad_images(bad, error):
    with pytest.raises(error, match="images"):
        to_display(bad)


# --- show_images -------------------------------------------------------------------------------


@pytest.mark.parametrize(("n", "channels", "nrow"), [(3, 1, 2), (3, 3, 2), (3, 1, 8), (1, 1, 8), (1, 3, 8)])
def test_show_images_grid_pixels_are_the_display_values(n, channels, nrow):
    images = torch.linspace(-1, 1, n * channels * 2 * 3).reshape(n, channels, 2, 3)
    ax = show_images(images, nrow=nrow)
    shown = ax.get_images()[0].get_array()
    expected = _expected_grid(((images.numpy() + 1) / 2), nrow)
    np.testing.assert_allclose(np.asarray(shown), expected, atol=1e-6)
    assert not ax.axison  # no ticks on an image grid
    assert ax.figure.get_facecolor() == (1.0, 1.0, 1.0, 1.0)


def test_show_images_draws_sharp_square_pixels():
    images = torch.tensor([[[[-1.0, 1.0], [0.0, -0.5]]]])  # one 2x2 image
    scale = 5
    ax = show_images(images, scale=scale)
    ax.figure.canvas.draw()
    rendered = np.asarray(ax.figure.canvas.buffer_rgba())[..., :3].astype(int)
    expected = np.kron(_expected_grid((images.numpy() + 1) / 2, nrow=8), np.ones((scale, scale, 1))) * 255
    assert rendered.shape == expected.shape
    assert np.abs(rendered - expected).max() <= 1  # every image pixel is a flat scale x scale block


def test_show_images_writes_each_label_below_its_tile():
    images = torch.zeros(3, 1, 16, 16)
    ax = show_images(images, nrow=2, labels=["cat", "dog", "fox"], title="pets")
    texts = {t.get_text(): t.get_position() for t in ax.texts}
    assert set(texts) == {"cat", "dog", "fox"}
    assert ax.get_title() == "pets"
    grid_height = ax.get_images()[0].get_array().shape[0]
    # below its own tile, above the next row's tile (image y grows downwards)
    x_cat, y_cat = texts["cat"]
    x_dog, _ = texts["dog"]
    x_fox, y_fox = texts["fox"]
    assert x_cat < x_dog and x_fox == x_cat
    pad = (grid_height - 2 * 16) / 3
    assert pad + 16 < y_cat < 2 * pad + 16 < y_fox < grid_height


@pytest.mark.parametrize(
    ("kwargs", "error", "name"),
    [
        ({"images": torch.zeros(4, 4)}, ValueError, "images"),
        ({"images": torch.zeros(2, 4, 4, 4)}, ValueError, "images"),
        ({"images": torch.zeros(2, 1, 4, 4), "labels": ["only one"]}, ValueError, "labels"),
        ({"images": torch.zeros(2, 1, 4, 4), "nrow": 0}, ValueError, "nrow"),
    ],
)
def test_show_images_rejects_bad_input(kwargs, error, name):
    with pytest.raises(error, match=name):
        show_images(**kwargs)


# --- animate_trajectory ------------------------------------------------------------------------


def _frames(html: str) -> list[np.ndarray]:
    data = re.findall(r'frames\[\d+\] = "data:image/png;base64,([^"]+)"', html)
    return [np.asarray(Image.open(io.BytesIO(base64.b64decode(d))).convert("RGB")) for d in data]


def _trajectory(steps: int = 7) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return [torch.rand(3, 1, 4, 5, generator=g) * 2 - 1 for _ in range(steps)]


def test_animation_is_self_contained_and_keeps_evenly_spaced_frames():
    trajectory = _trajectory(7)
    figures_before = plt.get_fignums()
    html = animate_trajectory(trajectory, nrow=2, num_frames=4, timesteps=[7, 6, 5, 4, 3, 2, 1]).data
    assert plt.get_fignums() == figures_before  # closed, so a notebook does not show it a second time
    assert re.search(r"https?://", html) is None  # nothing fetched from the network
    assert "<link" not in html and re.search(r"<script[^>]*\bsrc=", html) is None
    assert 'class="fa' not in html  # no icon font left
    assert "image-rendering:pixelated" in html
    assert 'alt="Animation of 4 frames, t = 7 to t = 1, of a grid of 3 images"' in html  # the page's alt text
    frames = _frames(html)
    assert len(frames) == 4
    # frames 0, 2, 4, 6 of 7, each drawn losslessly at one pixel per image pixel below the title
    for frame, index in zip(frames, [0, 2, 4, 6]):
        expected = np.round(_expected_grid((trajectory[index].numpy() + 1) / 2, nrow=2) * 255)
        h, w = expected.shape[:2]
        region = frame[-h:]
        offsets = [x for x in range(region.shape[1] - w + 1) if np.abs(region[:, x : x + w] - expected).max() <= 1]
        assert offsets, f"frame of step {index} not found in the animation"


def test_animation_accepts_a_stacked_tensor_and_all_frames_when_few():
    trajectory = _trajectory(3)
    from_list = _frames(animate_trajectory(trajectory, num_frames=40).data)
    from_tensor = _frames(animate_trajectory(torch.stack(trajectory), num_frames=40).data)
    assert len(from_list) == 3
    assert all(np.array_equal(a, b) for a, b in zip(from_list, from_tensor))


@pytest.mark.parametrize(
    ("kwargs", "error", "name"),
    [
        ({"trajectory": []}, ValueError, "trajectory"),
        ({"trajectory": torch.zeros(2, 1, 4, 4)}, ValueError, "trajectory"),
        ({"trajectory": torch.zeros(2, 1, 2, 4, 4)}, ValueError, "trajectory"),
        ({"trajectory": [torch.zeros(1, 1, 4, 4), torch.zeros(2, 1, 4, 4)]}, ValueError, "trajectory"),
        ({"trajectory": [np.zeros((1, 1, 4, 4))]}, TypeError, "trajectory"),
        ({"trajectory": [torch.zeros(1, 1, 4, 4)] * 3, "timesteps": [2, 1]}, ValueError, "timesteps"),
        ({"trajectory": [torch.zeros(1, 1, 4, 4)] * 3, "num_frames": 0}, ValueError, "num_frames"),
    ],
)
def test_animation_rejects_bad_input(kwargs, error, name):
    with pytest.raises(error, match=name):
        animate_trajectory(**kwargs)


# --- curves, points, fields, schedules --------------------------------------------------------


def test_plot_losses_draws_raw_losses_and_trailing_average():
    losses = np.arange(10, dtype=float) ** 2 + 1
    ax = plot_losses(losses, smooth=3, log=True)
    raw, average = ax.get_lines()
    np.testing.assert_allclose(raw.get_ydata(), losses)
    # average of steps s-2, s-1, s: at step 2 (1 + 2 + 5) / 3, at step 9 (50 + 65 + 82) / 3
    np.testing.assert_allclose(average.get_xdata(), np.arange(2, 10))
    np.testing.assert_allclose(average.get_ydata()[[0, -1]], [8 / 3, 197 / 3])
    assert (ax.get_xlabel(), ax.get_ylabel(), ax.get_yscale()) == ("training step", "loss", "log")
    assert ax.figure.get_facecolor() == (1.0, 1.0, 1.0, 1.0)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"losses": []}, "losses"),
        ({"losses": [[1.0, 2.0]]}, "losses"),
        ({"losses": [1.0, float("nan")]}, "losses"),
        ({"losses": [1.0, 2.0], "smooth": 0}, "smooth"),
        ({"losses": [1.0, -2.0], "log": True}, "log"),
    ],
)
def test_plot_losses_rejects_bad_input(kwargs, name):
    with pytest.raises(ValueError, match=name):
        plot_losses(**kwargs)


def test_plot_points_scatters_the_points_with_labelled_axes():
    points = torch.tensor([[0.0, 1.0], [2.0, -3.0], [0.5, 0.5]])
    ax = plot_points(points, title="data", label="data")
    np.testing.assert_allclose(ax.collections[0].get_offsets(), points.numpy())
    assert ax.get_xlabel() and ax.get_ylabel() and ax.get_legend() is not None
    with pytest.raises(ValueError, match="points"):
        plot_points(torch.zeros(4, 3))


def test_plot_vector_field_evaluates_fn_on_the_grid():
    ax = plot_vector_field(lambda p: torch.stack([-p[:, 1], 2 * p[:, 0]], dim=1), (-1, 1), (0, 2), n=3)
    arrows = ax.collections[0]
    x, y = arrows.X, arrows.Y
    np.testing.assert_allclose(np.sort(np.unique(x)), [-1, 0, 1])
    np.testing.assert_allclose(np.sort(np.unique(y)), [0, 1, 2])
    np.testing.assert_allclose(arrows.U, -y)
    np.testing.assert_allclose(arrows.V, 2 * x)
    assert ax.get_xlabel() and ax.get_ylabel()


def test_plot_vector_field_normalized_arrows_share_one_length():
    ax = plot_vector_field(lambda p: p * p.norm(dim=1, keepdim=True) ** 2, (1, 3), (1, 3), n=4, normalize=True)
    arrows = ax.collections[0]
    lengths = np.hypot(arrows.U, arrows.V)
    np.testing.assert_allclose(lengths, lengths[0])
    np.testing.assert_allclose(arrows.get_array(), np.hypot(arrows.X, arrows.Y) ** 3, rtol=1e-5)


@pytest.mark.parametrize(
    "fn", [lambda p: p[:, :1], lambda p: p[:-1], lambda p: p / 0.0 * 0.0]  # wrong width, one short, NaN
)
def test_plot_vector_field_rejects_bad_fn(fn):
    with pytest.raises(ValueError, match="fn"):
        plot_vector_field(fn, (-1, 1), (-1, 1), n=4)


def test_plot_schedules_draws_alpha_bar_of_each_schedule():
    schedules = {"linear": NoiseSchedule.linear(50, 1e-3, 0.2), "cosine": NoiseSchedule.cosine(50)}
    ax = plot_schedules(schedules, sqrt=True)
    lines = ax.get_lines()
    assert len(lines) == 4
    for (name, schedule), (solid, dashed) in zip(schedules.items(), zip(lines[::2], lines[1::2])):
        alpha_bar = schedule.alphas_cumprod.double().numpy()
        np.testing.assert_allclose(solid.get_ydata(), alpha_bar)
        np.testing.assert_allclose(dashed.get_ydata(), np.sqrt(alpha_bar))
        assert name in solid.get_label()
    assert ax.get_xlabel() == "timestep t" and ax.get_ylabel()
    with pytest.raises(ValueError, match="schedules"):
        plot_schedules({})
    with pytest.raises(TypeError, match="schedules"):
        plot_schedules({"linear": torch.ones(3)})


# --- figure descriptions (alt text) and the course's figure defaults -------------------------


def test_describe_figure_names_titles_axes_legends_and_labels():
    fig, (left, right) = plt.subplots(1, 2)
    left.plot([0, 1], label=r"$\bar\alpha_t$")
    left.set_title("Noise schedule")
    left.set_xlabel("timestep t")
    left.set_ylabel("alpha bar")
    left.legend()
    show_images(torch.zeros(2, 1, 4, 4), nrow=2, labels=["cat", "dog"], ax=right, title="Samples")
    fig.suptitle("Two panels")
    text = course_plotting.describe_figure(fig)
    assert text.startswith('Figure "Two panels" with 2 panels: ')
    assert 'plot "Noise schedule" of alpha bar against timestep t with legend bar alpha_t' in text
    assert 'image "Samples" labelled cat, dog' in text
    assert "$" not in text and "\\" not in text


def test_describe_figure_skips_colour_bars_and_stays_short():
    ax = plot_vector_field(lambda p: p, (-1, 1), (-1, 1), n=3, normalize=True, title="Field")
    assert course_plotting.describe_figure(ax.figure).count("plot") == 1  # the colour bar is not a panel
    fig, ax = plt.subplots()
    ax.set_title("x" * 1000)
    assert len(course_plotting.describe_figure(fig)) == 400


def test_smallest_text_is_measured_in_image_pixels():
    fig, ax = plt.subplots(dpi=100)
    ax.set_title("big", fontsize=20)
    ax.text(0.5, 0.5, "small", fontsize=7.2)
    fig.canvas.draw()
    assert course_plotting.smallest_text_px(fig) == pytest.approx(10.0)  # 7.2 pt at 100 dpi
    assert plt.rcParams["font.size"] == 11 and plt.rcParams["figure.dpi"] == 100
    # An axes turned off draws no tick labels (11 pt): only its 14 pt title counts.
    fig, ax = plt.subplots(dpi=100)
    ax.imshow([[0, 1]])
    ax.set_title("digits", fontsize=14)
    ax.set_axis_off()
    fig.canvas.draw()
    assert course_plotting.smallest_text_px(fig) == pytest.approx(round(14 * 100 / 72, 1))


def test_figures_shown_by_ipython_carry_alt_text_and_text_size():
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    assert course_plotting.install_figure_metadata(shell)
    assert course_plotting.install_figure_metadata(shell)  # a second call does not wrap twice
    ax = plot_losses([3.0, 2.0, 1.0], smooth=1, title="Tiny loss")
    data, metadata = shell.display_formatter.format(ax.figure)
    png = Image.open(io.BytesIO(base64.b64decode(data["image/png"])))
    assert png.width > 100
    assert metadata["image/png"]["alt"] == 'Figure: plot "Tiny loss" of loss against training step.'
    assert metadata["image/png"]["text_px"] == pytest.approx(11 * 100 / 72, abs=0.1)  # tick labels, 11 pt
    fig = plt.figure()  # nothing drawn: no image, no metadata
    assert shell.display_formatter.format(fig) == ({"text/plain": repr(fig)}, {})


def test_compact_png_is_lossless_and_smaller():
    fig, ax = plt.subplots()
    ax.plot([0, 1, 0], color="tab:red")
    ax.set_title("red line")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    png = buffer.getvalue()
    compact = course_plotting._compact_png(png)
    assert len(compact) < len(png)
    before = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))
    after = np.asarray(Image.open(io.BytesIO(compact)).convert("RGB"))
    np.testing.assert_array_equal(after, before)
    grey = show_images(torch.linspace(-1, 1, 64).reshape(1, 1, 8, 8)).figure
    buffer = io.BytesIO()
    grey.savefig(buffer, format="png")
    assert Image.open(io.BytesIO(course_plotting._compact_png(buffer.getvalue()))).mode == "L"
    transparent = io.BytesIO()
    Image.new("RGBA", (4, 4), (0, 0, 0, 0)).save(transparent, format="png")
    assert course_plotting._compact_png(transparent.getvalue()) == transparent.getvalue()


def test_wide_figures_are_narrowed_to_the_page_keeping_their_text_size():
    wide, ax = plt.subplots(1, 5, figsize=(11, 3), dpi=100, layout="constrained")
    ax[0].set_title("t = 0.1", fontsize=8)
    assert course_plotting.fit_page_width(wide)
    assert wide.get_size_inches()[0] * 100 == pytest.approx(course_plotting.MAX_FIGURE_WIDTH_PX)
    assert wide.get_size_inches()[1] == pytest.approx(3) and ax[0].title.get_fontsize() == 8
    narrow, _ = plt.subplots(figsize=(6, 3), dpi=100, layout="constrained")
    assert not course_plotting.fit_page_width(narrow) and tuple(narrow.get_size_inches()) == (6, 3)
    pixels = plt.figure(figsize=(12, 2), dpi=100)  # no layout engine (sized in pixels): left alone
    assert not course_plotting.fit_page_width(pixels) and pixels.get_size_inches()[0] == 12
