# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "slide"}
# # Building blocks I: CNNs and the UNet
#
# The **UNet**, a convolutional network that takes an image and returns one of the same size,
# is at the heart of every image diffusion model in this course.
#
# Today: build it from its parts, then train it to find the shape in a noisy sprite, where the
# answer is known exactly.

# %% [markdown] slideshow={"slide_type": "notes"}
# # Building blocks I: CNNs and the UNet
#
# Every image diffusion model in this course, and most of those in the wild, has a
# **UNet** at its heart: a convolutional network that takes an image and returns an image of
# the same size. This lesson builds it up from its parts and trains one on a task where we
# can check the answer exactly: finding the shape in a noisy sprite.
#
# **Learning objectives.** By the end you can
#
# - compute the output size of a convolution from its kernel, padding and stride, and check it;
# - explain pooling, strided convolutions and the two ways to upsample, and why one of them
#   makes checkerboards;
# - say what batch norm and group norm normalise over, and why diffusion UNets use group norm;
# - explain what a residual connection does for the gradient, and write the course's residual block;
# - write the UNet's forward pass (down path, skips, up path) and check it against the library;
# - train the course's UNet for segmentation and judge it with IoU against honest baselines;
# - write the sinusoidal time embedding that turns this UNet into a denoiser, and tell the
#   DDPM code's layout from the Transformer's.
#
# **Estimated time:** 60 minutes (30 of reading and running, 30 for the exercises).

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### Learning objectives
#
# - convolution output sizes; pooling, strides, and upsampling without checkerboards
# - batch norm versus group norm, and why diffusion UNets use group norm
# - residual blocks; the UNet's forward pass, trained to segment and judged by IoU
# - the sinusoidal time embedding that makes the UNet a denoiser
#
# 60 minutes: 30 of reading and running, 30 for the exercises.

# %% slideshow={"slide_type": "skip"}
import math
import warnings

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import TqdmWarning

# diffusers imports tqdm.auto, which warns in a notebook without ipywidgets (lesson 09).
warnings.filterwarnings("ignore", category=TqdmWarning)
from diffusers.models.embeddings import get_timestep_embedding  # noqa: E402
from diffusers.models.resnet import ResnetBlock2D  # noqa: E402

from course_lib.config import fast_or_full, get_device, seed_everything  # noqa: E402
from course_lib.data.sprites import make_sprites  # noqa: E402
from course_lib.exercises import check  # noqa: E402
from course_lib.models import ResBlock, UNet, count_parameters, sinusoidal_embedding  # noqa: E402
from course_lib.plotting import plot_losses, show_images  # noqa: E402
from course_lib.segmentation import iou, predict_masks, train_segmentation  # noqa: E402

# %% slideshow={"slide_type": "skip"}
generator = seed_everything(0)
device = get_device()
print(f"running on {device}")

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "slide"}
# ## Convolution: one small kernel, slid over the image
#
# Each output pixel comes from the $k \times k$ neighbourhood of the input pixel at the same place:
#
# $$y_{o}[i, j] = b_o + \sum_{c} \sum_{u=0}^{k-1} \sum_{v=0}^{k-1} w_{o,c}[u, v]\; x_c[i + u,\, j + v]$$
#
# - the **same weights everywhere**: an "edge" detector learnt in one corner works everywhere

# %% [markdown] slideshow={"slide_type": "notes"}
# ## Convolution: one small kernel, slid over the image
#
# A convolution layer with a $k \times k$ kernel computes every output pixel from the
# $k \times k$ neighbourhood of the input pixel at the same place, with the **same weights
# everywhere**:
#
# $$y_{o}[i, j] = b_o + \sum_{c} \sum_{u=0}^{k-1} \sum_{v=0}^{k-1} w_{o,c}[u, v]\; x_c[i + u,\, j + v].$$
#
# (Mathematicians would call this a cross-correlation; deep learning calls it convolution.)
# Sharing weights across positions is what makes CNNs data-efficient: a detector for "edge"
# learnt in one corner works in every corner. Let us check the formula against PyTorch for
# one output pixel.

# %%
x = torch.randn(1, 3, 8, 8, generator=generator)
conv = nn.Conv2d(in_channels=3, out_channels=4, kernel_size=3)
y = conv(x)
o, i, j = 2, 1, 4  # output channel and position
by_hand = conv.bias[o] + (conv.weight[o] * x[0, :, i : i + 3, j : j + 3]).sum()
print(f"PyTorch: {y[0, o, i, j].item():.6f}   by hand: {by_hand.item():.6f}")
assert torch.allclose(y[0, o, i, j], by_hand, atol=1e-6)
print(f"weights {tuple(conv.weight.shape)} + bias {tuple(conv.bias.shape)} = "
      f"{count_parameters(conv)} parameters")

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### A hand-made kernel already finds edges
#
# - Sobel kernels respond to changes of brightness: they outline a sprite
# - the border frame: `padding=1` adds zeros, brighter than the black at $-1$

# %% [markdown] slideshow={"slide_type": "notes"}
# Before any learning, a hand-made kernel already does something useful. The Sobel kernels
# respond to horizontal and vertical changes of brightness, so they outline a sprite.

# %%
sprites = make_sprites(4, size=32, seed=3)
grey = sprites.images.mean(dim=1, keepdim=True)  # (4, 1, 32, 32)
sobel_x = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])
kernels = torch.stack([sobel_x, sobel_x.T])[:, None]  # (2 out, 1 in, 3, 3)
edges = F.conv2d(grey, kernels, padding=1)  # (4, 2, 32, 32)

fig, axes = plt.subplots(1, 3, figsize=(9.5, 3.2), layout="constrained")
panels = [(sprites.images[0].permute(1, 2, 0) + 1) / 2, edges[0, 0], edges[0, 1]]
titles = ["sprite", "Sobel x: change left to right", "Sobel y: change top to bottom"]
for ax, panel, title in zip(axes, panels, titles):
    if panel.ndim == 2:  # a signed edge map: a symmetric colour scale keeps 0 white
        ax.imshow(panel, cmap="RdBu", vmin=-panel.abs().max(), vmax=panel.abs().max())
    else:
        ax.imshow(panel)
    ax.set_title(title, fontsize=11)
    ax.set_xlabel("x (pixels)")
    ax.set_ylabel("y (pixels)")
plt.show()

# %% [markdown] slideshow={"slide_type": "notes"}
# Notice the frame along the border of the edge maps: `padding=1` surrounds the image with
# zeros, which are brighter than the black background at $-1$, so the kernel sees an "edge"
# at the border. Padding is a choice with visible consequences.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Padding and stride: how big is the output?
#
# With input size $n$, kernel $k$, padding $p$ (zeros added on each side) and stride $s$
# (the step between neighbouring windows), the output size is
#
# $$n_\text{out} = \left\lfloor \frac{n + 2p - k}{s} \right\rfloor + 1.$$
#
# Two settings matter most: $k=3, p=1, s=1$ keeps the size ("same" padding), and
# $k=3, p=1, s=2$ halves it, which is how the course UNet downsamples. Rather than trust the
# formula, we compare it with what PyTorch does.

# %%
def conv_output_size(n: int, k: int, p: int, s: int) -> int:
    """Side of a conv's output for an n x n input, kernel k, padding p, stride s (all >= 0, k <= n +
    2p)."""
    return (n + 2 * p - k) // s + 1  # Dumoulin & Visin 2016, relationship 6

print(f"{'n':>3} {'k':>3} {'p':>3} {'s':>3} | {'formula':>7} {'torch':>6}")
for n, k, p, s in [(16, 3, 0, 1), (16, 3, 1, 1), (16, 3, 1, 2), (16, 5, 2, 1), (15, 3, 1, 2),
                   (16, 4, 1, 2), (32, 7, 3, 4)]:
    # (1, 1, n_out, n_out)
    measured = nn.Conv2d(1, 1, k, stride=s, padding=p)(torch.zeros(1, 1, n, n)).shape[-1]
    predicted = conv_output_size(n, k, p, s)
    assert measured == predicted
    print(f"{n:>3} {k:>3} {p:>3} {s:>3} | {predicted:>7} {measured:>6}")

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "slide"}
# ## Pooling
#
# - each window summarised by a fixed rule, no learnt weights: **max pooling** keeps the
#   largest value, **average pooling** the mean
# - a $2 \times 2$ window with stride 2 halves the image (the size formula with $p=0$)
# - a little insensitive to small shifts; later layers see more (the *receptive field* grows)

# %% [markdown] slideshow={"slide_type": "notes"}
# ## Pooling
#
# A pooling layer summarises each window by a fixed rule instead of learnt weights: **max
# pooling** keeps the largest value, **average pooling** the mean. With a $2 \times 2$
# window and stride 2, both halve the image; the same size formula applies with $p=0$.
# Pooling makes features a little insensitive to small shifts and lets later layers see a
# larger part of the image (their *receptive field* grows).

# %%
x = torch.arange(16.0).reshape(1, 1, 4, 4)
print("input:\n", x[0, 0])
print("max pool 2x2:\n", F.max_pool2d(x, 2)[0, 0])
print("average pool 2x2:\n", F.avg_pool2d(x, 2)[0, 0])

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "slide"}
# ## Down- and up-sampling
#
# - **down**: pooling, or a convolution with stride 2 (a learnt pooling, the course UNet's choice)
# - **up**, recipe 1: a **transposed convolution** (stride 2): each input pixel "paints" a
#   $k \times k$ patch of the output, and the patches overlap
# - **up**, recipe 2: **resize, then convolve**: nearest-neighbour to double the size, then a
#   $3 \times 3$ convolution

# %% [markdown] slideshow={"slide_type": "notes"}
# ## Down- and up-sampling
#
# A UNet goes down in resolution and comes back up. **Down** is easy: pooling, or a
# convolution with stride 2 (a learnt pooling; the course UNet uses this one).
# **Up** has two common recipes:
#
# 1. a **transposed convolution** (`nn.ConvTranspose2d`, stride 2): every input pixel
#    "paints" a $k \times k$ patch of the output, and the patches overlap;
# 2. **resize, then convolve**: nearest-neighbour interpolation to double the size, then an
#    ordinary $3 \times 3$ convolution.

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### Transposed convolutions make checkerboards
#
# - kernel size not divisible by the stride: the painted patches overlap unevenly (Odena,
#   Dumoulin & Olah 2016)
# - our test: all weights one and a constant input, so any pattern comes from the layer alone

# %% [markdown] slideshow={"slide_type": "notes"}
# When the kernel size is not divisible by the stride, the painted patches of a transposed
# convolution overlap unevenly: some output pixels receive paint from more inputs than their
# neighbours. The result is a **checkerboard** pattern (Odena, Dumoulin & Olah 2016). We can
# see it with all weights set to one and a constant input, where any pattern in the output
# comes from the layer alone.

# %%
flat = torch.ones(1, 1, 8, 8)
transposed = nn.ConvTranspose2d(1, 1, kernel_size=3, stride=2, padding=1, output_padding=1,
                                bias=False)
resize_conv = nn.Conv2d(1, 1, kernel_size=3, padding=1, bias=False)
with torch.no_grad():
    transposed.weight.fill_(1.0)
    resize_conv.weight.fill_(1.0)
    up_transposed = transposed(flat)[0, 0]
    up_resize = resize_conv(F.interpolate(flat, scale_factor=2, mode="nearest"))[0, 0]

inner = (slice(2, -2), slice(2, -2))  # ignore the border, where zero padding differs anyway
for name, up in [("transposed conv", up_transposed), ("resize + conv", up_resize)]:
    values = sorted(up[inner].unique().tolist())
    print(f"{name:16s} output {tuple(up.shape)}, values away from the border: {values}")
assert up_transposed[inner].unique().numel() > 1 and up_resize[inner].unique().numel() == 1

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### Checkerboards: why the course UNet resizes, then convolves

# %%
fig, axes = plt.subplots(1, 2, figsize=(8, 3.4), layout="constrained")
for ax, up, title in zip(axes, [up_transposed, up_resize],
                         ["transposed conv (k=3, s=2)", "nearest x2 + 3x3 conv"]):
    image = ax.imshow(up, cmap="viridis")
    ax.set_title(title, fontsize=11)
    ax.set_xlabel("x (pixels)")
    ax.set_ylabel("y (pixels)")
    fig.colorbar(image, ax=ax, shrink=0.8)
plt.show()

# %% [markdown] slideshow={"slide_type": "notes"}
# Training can learn weights that hide the pattern, but in practice traces often remain,
# which is why the course UNet (like many diffusion UNets) upsamples with nearest-neighbour
# interpolation followed by a convolution.

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "slide"}
# ## Normalisation: batch norm versus group norm
#
# Both subtract a mean, divide by a standard deviation, then scale and shift. They differ in
# **what they average over** in $(N, C, H, W)$:
#
# - **batch norm**: per channel, over $(N, H, W)$: an image's output depends on its batch
# - **group norm**: per image, over groups of $C/G$ channels and all pixels
#
# Test: one image, two batches.

# %% [markdown] slideshow={"slide_type": "notes"}
# ## Normalisation: batch norm versus group norm
#
# Deep networks train better when each layer's activations keep a sensible scale. Both
# layers below subtract a mean and divide by a standard deviation, then apply a learnt
# scale and shift; they differ in **what they average over** for an activation tensor of
# shape $(N, C, H, W)$:
#
# - **batch norm** (Ioffe & Szegedy 2015): per channel, over the batch and all pixels,
#   $(N, H, W)$. One image's output depends on the other images in its batch.
# - **group norm** (Wu & He 2018): per image, over groups of $C/G$ channels and all pixels.
#   Each image is normalised on its own.
#
# Let us put the same image in two different batches and compare its output.

# %%
features = torch.randn(8, 16, 8, 8, generator=generator)  # (N, C, H, W) activations
other = 3.0 * torch.randn(7, 16, 8, 8, generator=generator) + 1.0  # different companions
batch_a = features
batch_b = torch.cat([features[:1], other])  # same first image, different batch

batch_norm, group_norm = nn.BatchNorm2d(16), nn.GroupNorm(num_groups=4, num_channels=16)
for name, layer in [("batch norm", batch_norm), ("group norm", group_norm)]:
    change = (layer(batch_a)[0] - layer(batch_b)[0]).abs().max().item()
    print(f"{name}: largest change in image 0's output when its batch-mates change = {change:.2e}")
assert (group_norm(batch_a)[0] - group_norm(batch_b)[0]).abs().max() < 1e-5

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### Why diffusion UNets use group norm
#
# - **each image has its own noise level**: batch statistics would mix nearly clean and
#   pure-noise images
# - **batch size independence**: a few large images per GPU give noisy batch statistics
# - **no train/test gap**: at sampling, all images of a batch share one timestep
#
# Ho et al. (2020) use group norm throughout; so does ours.

# %% [markdown] slideshow={"slide_type": "notes"}
# ### Why diffusion UNets use group norm
#
# - **Every image in a diffusion batch has its own noise level.** With batch norm, the
#   statistics would mix nearly clean and nearly pure-noise images, and a prediction would
#   depend on what else happened to be in the batch.
# - **Batch size independence.** Large images leave room for only a few per GPU, and batch
#   statistics from a handful of images are noisy; group norm does not care (Wu & He 2018).
# - **No train/test gap.** At sampling time all images in a batch share one timestep, a
#   batch composition never seen in training; a per-image normalisation behaves the same in
#   both. Ho et al. (2020) use group normalisation throughout their UNet, and so does ours.

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "slide"}
# ## Residual connections
#
# A residual block computes $y = x + F(x)$ (He et al. 2016), whose Jacobian is
# $I + \partial F/\partial x$:
#
# - the identity gives the gradient a direct path back to the early layers
# - without it, the gradient is a product of many layer Jacobians and can shrink towards zero
# - measured: the gradient reaching layer 1 of plain and residual stacks, at initialisation

# %% [markdown] slideshow={"slide_type": "notes"}
# ## Residual connections
#
# A residual block computes $y = x + F(x)$ instead of $y = F(x)$ (He et al. 2016). Its
# Jacobian is $I + \partial F/\partial x$: the identity gives the gradient a direct path
# back to the early layers, however deep the network. Without it, the gradient is a product
# of many layer Jacobians and can shrink towards zero. Let us measure the gradient reaching
# the first layer of plain and residual stacks of conv layers, right after initialisation.

# %%
class Block(nn.Module):
    def __init__(self, channels: int, residual: bool) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)
        self.residual = residual

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv(F.silu(x))
        return x + h if self.residual else h


# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### The gradient reaching layer 1: plain versus residual

# %%
x = torch.randn(16, 8, 16, 16, generator=generator)
print(f"{'depth':>5} | {'plain: grad norm of layer 1':>28} | "
      f"{'residual: grad norm of layer 1':>31}")
plain_norms, residual_norms = [], []
for depth in [4, 16, 32]:
    for residual, norms in [(False, plain_norms), (True, residual_norms)]:
        torch.manual_seed(0)
        stack = nn.Sequential(*[Block(8, residual) for _ in range(depth)])
        stack(x).pow(2).mean().backward()
        norms.append(stack[0].conv.weight.grad.norm().item())
    print(f"{depth:>5} | {plain_norms[-1]:>28.2e} | {residual_norms[-1]:>31.2e}")
assert (
    plain_norms == sorted(plain_norms, reverse=True) and plain_norms[-1] < 1e-10 < residual_norms[0]
)

# %% [markdown]
# The plain stack's first layer gets a gradient that vanishes as depth grows: it would not
# learn. The residual stack keeps it alive (here it even grows, one reason residual blocks
# also carry a normalisation layer).

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### The course's residual block, written out
#
# The design of Ho et al. (2020), appendix B:
#
# - GroupNorm, SiLU, $3 \times 3$ conv
# - the **time embedding**, through its own linear layer: one number per channel, added to
#   every pixel
# - GroupNorm, SiLU, conv again, plus the skip (a $1 \times 1$ conv when the channels change)
# - given the same weights, it computes what diffusers' `ResnetBlock2D` computes

# %% [markdown] slideshow={"slide_type": "notes"}
# ### The course's residual block, written out
#
# The block of the course UNet (the design of Ho et al. 2020, appendix B) is GroupNorm,
# SiLU, a $3 \times 3$ conv; then the **time embedding** enters, through its own linear
# layer, as one number per channel added to every pixel; then GroupNorm, SiLU, conv again,
# plus the skip. When the block changes the number of channels, the skip is a $1 \times 1$
# conv, so that $x$ and $F(x)$ can be added.

# %%
class ResidualBlock(nn.Module):
    """x (N, C_in, H, W) and emb (N, E) -> (N, C_out, H, W): x + F(x, emb), He et al. 2016."""

    def __init__(self, c_in: int, c_out: int, emb_dim: int, groups: int) -> None:
        super().__init__()
        self.norm1, self.conv1 = nn.GroupNorm(groups, c_in), nn.Conv2d(c_in, c_out, 3, padding=1)
        self.emb = nn.Linear(emb_dim, c_out)  # time embedding -> one shift per output channel
        self.norm2, self.conv2 = nn.GroupNorm(groups, c_out), nn.Conv2d(c_out, c_out, 3, padding=1)
        # 1x1: match the channels
        self.skip = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))  # (N, C_out, H, W)
        # (N, C_out, 1, 1), broadcast over the pixels
        h = h + self.emb(F.silu(emb))[:, :, None, None]
        h = self.conv2(F.silu(self.norm2(h)))  # (N, C_out, H, W)
        return h + self.skip(x)  # the residual connection


# %% [markdown] slideshow={"slide_type": "notes"}
# Given the same weights, it must compute what the library's `ResBlock` computes, and what
# diffusers' `ResnetBlock2D` computes (its layers have other names, and its GroupNorm
# defaults to $\epsilon = 10^{-6}$ where PyTorch's is $10^{-5}$).

# %% slideshow={"slide_type": "skip"}
seed_everything(0)
library_block = ResBlock(16, 32, emb_dim=64, num_groups=8)
my_block = ResidualBlock(16, 32, emb_dim=64, groups=8)
# strict: the same parameters, by name and shape
my_block.load_state_dict(library_block.state_dict())
diffusers_block = ResnetBlock2D(in_channels=16, out_channels=32, temb_channels=64, groups=8,
                                eps=1e-5)
diffusers_block.load_state_dict(
    {key.replace("emb.", "time_emb_proj.").replace("skip.", "conv_shortcut."): value
     for key, value in library_block.state_dict().items()}
)  # its names for the same layers
features, emb = torch.randn(4, 16, 8, 8, generator=generator), torch.randn(4, 64,
                                                                           generator=generator)
with torch.no_grad():
    mine, library, theirs = (my_block(features, emb), library_block(features, emb),
                             diffusers_block(features, emb))
assert torch.equal(mine, library) and torch.allclose(mine, theirs, atol=1e-5)
print(f"ResidualBlock = course_lib ResBlock = diffusers ResnetBlock2D: {tuple(features.shape)} ->"
      f" {tuple(mine.shape)}")

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "slide"}
# ## The UNet
#
# Ronneberger, Fischer & Brox (2015), for biomedical segmentation:
#
# - an **encoder** halves the resolution, adding channels; a **bottleneck**; a **decoder**
#   doubles it back
# - **skip connections** hand each decoder level the encoder's features at its resolution:
#   fine detail comes straight back
# - what a denoiser needs: an image out the size of the image in, with global context and
#   pixel-level detail

# %% [markdown] slideshow={"slide_type": "notes"}
# ## The UNet
#
# Ronneberger, Fischer & Brox (2015) designed the UNet for biomedical segmentation: an
# **encoder** that halves the resolution while adding channels, a **bottleneck**, and a
# **decoder** that doubles the resolution back. **Skip connections** hand each decoder level
# the encoder's features at the same resolution (concatenated along the channels), so fine
# detail lost in the bottleneck comes straight back. Diffusion models adopted it because a
# denoiser must do exactly this: return an image the size of its input, with both global
# context and pixel-level detail.
#
# We build the course UNet without a time embedding, with 3 input channels (RGB) and one
# output channel (a per-pixel foreground logit), and follow a batch through it.

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### Following a batch through the course UNet

# %%
model = UNet(in_channels=3, out_channels=1, base_channels=16, channel_mults=(1, 2, 2),
             time_embedding=False)
print(f"UNet with {count_parameters(model):,} parameters")

shapes = []
hooks = [
    module.register_forward_hook(lambda m, args, out,
                                 name=name: shapes.append((name, tuple(out.shape))))
    for name, module in model.named_modules()
    if name in {"conv_in", "mid", "conv_out"}
    or name.count(".") == 1
    and name.split(".")[0] in {"down", "downsample", "up", "upsample"}
]
with torch.no_grad():
    model(torch.zeros(2, 3, 16, 16))
for hook in hooks:
    hook.remove()
for name, shape in shapes:
    print(f"{name:>12}: {shape}")

# %% [markdown]
# Read the list as a U: down to $4 \times 4$ through `down`/`downsample`, through `mid`,
# back up to $16 \times 16$ through `up`/`upsample`. The `up` blocks take twice the
# channels of their output because each one receives the upsampled features concatenated
# with the skip from the same level on the way down.

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### The forward pass, written out
#
# With the model's own layers:
#
# - **down**: each level runs its residual block, **keeps the result**, halves the resolution
# - **up**: takes the kept features back (last in, first out), concatenates them to its input,
#   doubles the resolution
# - `emb`, the time embedding, is `None` for this plain UNet

# %% [markdown] slideshow={"slide_type": "notes"}
# ### The forward pass, written out
#
# Here is that walk as code, using the model's own layers: each level of the down path runs
# its residual block, **keeps the result** for the way up, then halves the resolution; the
# up path takes the kept features back in reverse order (a stack: last in, first out),
# concatenates them to its input, and doubles the resolution. `emb` is the time embedding
# (section below), `None` for this plain UNet.

# %%
def unet_forward(unet: UNet, x: torch.Tensor, emb: torch.Tensor | None = None) -> torch.Tensor:
    """x (N, C_in, H, W), emb (N, 4 * base_channels) or None -> (N, C_out, H, W), with unet's own
    layers."""
    h, skips = unet.conv_in(x), []  # (N, base, H, W)
    for block, down in zip(unet.down, [*unet.downsample, nn.Identity()]):  # down path
        h = block(h, emb)
        skips.append(h)  # kept for the up path
        h = down(h)  # stride-2 conv: H, W halved (not after the last level)
    h = unet.mid(h, emb)  # bottleneck, (N, C_last, H / 4, W / 4) here
    for block, up in zip(unet.up, [*unet.upsample, nn.Identity()]):  # up path
        h = block(torch.cat([h, skips.pop()], dim=1), emb)  # concatenate the skip of the same size
        h = up(h)  # nearest x2 + conv: H, W doubled (not after the last level)
    return unet.conv_out(F.silu(unet.norm_out(h)))  # (N, C_out, H, W)


# %%
x = torch.randn(2, 3, 16, 16, generator=generator)  # (2, 3, 16, 16)
with torch.no_grad():
    written, library = unet_forward(model, x), model(x)  # (2, 1, 16, 16) each
assert torch.equal(written, library)
print(f"unet_forward: {tuple(written.shape)}, exactly equal to UNet.forward:"
      f" {torch.equal(written, library)}")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## A task with a known answer: segmenting sprites
#
# The course's procedural sprites come with an exact mask of the shape. On clean sprites
# the task is too easy: the background is exactly black, so "any pixel that is not black"
# is a perfect segmenter. We check that, then make the task hard the way diffusion does, by
# **adding Gaussian noise** (standard deviation $\sigma = 1$, as large as the signal).

# %%
noise_std = 1.0
train_set = make_sprites(fast_or_full(1000, 4000), size=16, seed=1)
test_set = make_sprites(fast_or_full(300, 1000), size=16, seed=2)
not_black = (test_set.images > -1).any(dim=1, keepdim=True)
not_black_iou = iou(not_black, test_set.masks)
print(f"'not black' rule on clean test sprites: IoU = {not_black_iou.mean().item():.3f}")
assert not_black_iou.min() == 1.0
def mask_as_image(mask: torch.Tensor) -> torch.Tensor:
    """(N, 1, H, W) mask in {0, 1} -> (N, 3, H, W) white-on-black image in [-1, 1]."""
    return (2 * mask.float() - 1).expand(-1, 3, -1, -1)

noise_generator = torch.Generator().manual_seed(123)
train_noise = torch.randn(train_set.images.shape, generator=noise_generator)
noisy_train = train_set.images + noise_std * train_noise
test_noise = torch.randn(test_set.images.shape, generator=noise_generator)
noisy_test = test_set.images + noise_std * test_noise
clean_noisy_masks = [test_set.images[:8], noisy_test[:8], mask_as_image(test_set.masks[:8])]
show_images(torch.cat(clean_noisy_masks), nrow=8,
            title="clean sprites, the same with noise (sigma = 1), and their masks")
plt.show()

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### Measuring: intersection over union, and two baselines
#
# $\mathrm{IoU} = |P \cap T| \,/\, |P \cup T|$: 1 for a perfect mask, 0 for no overlap;
# averaged over the test images.
#
# - **all foreground**: every pixel is shape
# - **per-pixel threshold**: colour far enough from black, the threshold chosen on the
#   *training* images

# %% [markdown] slideshow={"slide_type": "notes"}
# ### Measuring: intersection over union, and two baselines
#
# For a predicted mask $P$ and the true mask $T$, $\mathrm{IoU} = |P \cap T| \,/\, |P \cup T|$:
# 1 for a perfect mask, 0 for no overlap; we average it over the test images. A number only
# means something next to a baseline, so we compute two:
#
# - **all foreground**: predict every pixel as shape. Its IoU is the shape's share of the image.
# - **per-pixel threshold**: call a pixel shape when its colour is far enough from black. We
#   pick the threshold that does best on the *training* images, then apply it to the test set.

# %%
def distance_from_black(images: torch.Tensor) -> torch.Tensor:
    return (images + 1).norm(dim=1, keepdim=True)  # (N, 1, H, W): colour distance to (-1, -1, -1)

all_foreground_iou = iou(torch.ones_like(test_set.masks), test_set.masks).mean().item()
thresholds = torch.linspace(0, 4, 81)
train_scores = torch.stack(
    [iou(distance_from_black(noisy_train) > th, train_set.masks).mean() for th in thresholds]
)
best_threshold = thresholds[train_scores.argmax()].item()
threshold_iou = iou(distance_from_black(noisy_test) > best_threshold, test_set.masks).mean().item()
print(f"all foreground:                    IoU = {all_foreground_iou:.3f}")
print(f"per-pixel threshold (d > {best_threshold:.2f}):    IoU = {threshold_iou:.3f}")

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "slide"}
# ## Training the UNet
#
# - one logit per pixel, binary cross-entropy against the mask; foreground where it is positive
# - fresh noise for every batch: the network never sees the same noisy image twice

# %% [markdown] slideshow={"slide_type": "notes"}
# ## Training the UNet
#
# The network outputs a logit per pixel; the loss is binary cross-entropy against the mask.
# `train_segmentation` draws fresh noise for every batch (so the network never sees the
# same noisy image twice), and `predict_masks` calls a pixel foreground where the logit is
# positive.

# %%
steps = fast_or_full(150, 1500)
seed_everything(0)
model = UNet(in_channels=3, out_channels=1, base_channels=16, channel_mults=(1, 2, 2),
             time_embedding=False)
losses = train_segmentation(model, train_set.images, train_set.masks, steps=steps,
                            batch_size=fast_or_full(32, 64), lr=3e-3, noise_std=noise_std, seed=0,
                            device=device)
fig, ax = plt.subplots(figsize=(9.5, 3), layout="constrained")  # wide: it reads on a slide too
plot_losses(losses, smooth=20, ax=ax, title="UNet segmentation: binary cross-entropy")
plt.show()

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### Held-out IoU: the UNet against the baselines

# %%
predicted = predict_masks(model, noisy_test)
unet_iou = iou(predicted, test_set.masks).mean().item()
print(f"held-out IoU on {len(test_set)} noisy sprites:")
for name, value in [("all foreground", all_foreground_iou), ("per-pixel threshold", threshold_iou),
                    (f"UNet ({steps} steps)", unet_iou)]:
    print(f"  {name:<22} {value:.3f}")
assert unet_iou > threshold_iou > all_foreground_iou

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### The UNet sees through the noise
#
# At $\sigma = 1$ one pixel cannot tell shape from background. The UNet combines the evidence
# of a neighbourhood that grows with every layer, and its skips keep the boundary sharp.

# %%
show_images(
    torch.cat([noisy_test[:8], mask_as_image(test_set.masks[:8]), mask_as_image(predicted[:8])]),
    nrow=8,
    title="noisy input, true mask, UNet's mask",
)
plt.show()

# %% [markdown] slideshow={"slide_type": "notes"}
# A per-pixel rule can only look at one pixel, and at $\sigma = 1$ one pixel is not enough
# to tell shape from background. The UNet looks at a neighbourhood that grows with every
# layer and every downsampling; it combines the evidence of many pixels, and the skip
# connections keep the boundary sharp. The same skill, seeing through noise, is what a
# diffusion model's denoiser needs.

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "slide"}
# ## The bridge to diffusion: the time embedding
#
# A denoiser sees every noise level and must know which: it gets $t$ as sines and cosines at
# $d/2$ frequencies $\omega_i = 10000^{-i/(d/2-1)}$ (Ho et al.'s code, diffusers):
#
# $$\mathrm{emb}(t) = \big[\sin(t\,\omega_0), \dots, \sin(t\,\omega_{d/2-1}),\; \cos(t\,\omega_0), \dots, \cos(t\,\omega_{d/2-1})\big]$$
#
# Fast frequencies tell neighbouring timesteps apart; slow ones vary smoothly, down to
# $\omega_{d/2-1} = 1/10000$.

# %% [markdown] slideshow={"slide_type": "notes"}
# ## The bridge to diffusion: the time embedding
#
# A diffusion denoiser sees images at every noise level, from almost clean to pure noise,
# and must know which one it is looking at. It receives the timestep $t$ as a vector of
# sines and cosines of $t$ at $d/2$ frequencies $\omega_i$, the **sinusoidal embedding**.
# The course uses the layout of Ho et al.'s (2020) code, which is also what diffusers'
# `get_timestep_embedding` computes by default: all the sines, then all the cosines,
#
# $$\mathrm{emb}(t) = \big[\sin(t\,\omega_0), \dots, \sin(t\,\omega_{d/2-1}),\; \cos(t\,\omega_0), \dots, \cos(t\,\omega_{d/2-1})\big],
# \qquad \omega_i = 10000^{-i/(d/2-1)}.$$
#
# Fast frequencies tell neighbouring timesteps apart; slow ones vary smoothly over the
# whole range, down to exactly $\omega_{d/2-1} = 1/10000$.

# %%
def time_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    """Timesteps (N,) -> (N, dim) in [-1, 1]: sines, then cosines (the DDPM code's layout); dim
    even, >= 4."""
    half = dim // 2
    # 10000^(-i/(half-1)), (half,)
    frequencies = torch.exp(-math.log(10000.0) * torch.arange(half) / (half - 1))
    angles = t.float()[:, None] * frequencies[None, :]  # (N, half)
    return torch.cat([angles.sin(), angles.cos()], dim=1)  # (N, dim)

timesteps = torch.arange(500)
embedding = time_embedding(timesteps, dim=32)  # (500, 32)
print(f"embedding {tuple(embedding.shape)}, values in [{embedding.min():.2f}, "
      f"{embedding.max():.2f}]")

# %% slideshow={"slide_type": "skip"}
assert torch.equal(embedding, sinusoidal_embedding(timesteps, dim=32))  # course_lib
diffusers_embedding = get_timestep_embedding(timesteps, 32, flip_sin_to_cos=False,
                                             downscale_freq_shift=1)
assert torch.allclose(embedding, diffusers_embedding, atol=1e-6)
print("equal to course_lib's sinusoidal_embedding and to diffusers' get_timestep_embedding"
      "(flip_sin_to_cos=False, downscale_freq_shift=1)")

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### Not quite the Transformer's embedding
#
# Vaswani et al. (2017) **interleave** sines and cosines, at slightly different frequencies:
#
# $$\mathrm{PE}(t)_{2i} = \sin(t\,\nu_i), \qquad \mathrm{PE}(t)_{2i+1} = \cos(t\,\nu_i), \qquad \nu_i = 10000^{-2i/d}$$
#
# - a linear layer that follows does not care about the order of its inputs: both work
# - but trained weights fit only their own variant (diffusers: `flip_sin_to_cos`,
#   `downscale_freq_shift`)

# %% [markdown] slideshow={"slide_type": "notes"}
# ### Not quite the Transformer's embedding
#
# The idea comes from the Transformer's positional encoding (Vaswani et al. 2017,
# section 3.5), which is laid out differently: sines and cosines **interleaved**, with
# slightly different frequencies,
#
# $$\mathrm{PE}(t)_{2i} = \sin(t\,\nu_i), \qquad \mathrm{PE}(t)_{2i+1} = \cos(t\,\nu_i), \qquad \nu_i = 10000^{-2i/d}.$$
#
# A linear layer that follows the embedding does not care about the order of its inputs (a
# permutation of the features is a permutation of its weights), so both work. But a model's
# weights only fit the variant it was trained with, which is why diffusers exposes the
# choice (`flip_sin_to_cos`, `downscale_freq_shift`). Exercise 1 writes the Transformer's.

# %%
ddpm_frequencies = torch.exp(-math.log(10000.0) * torch.arange(16) / 15)  # d = 32
transformer_frequencies = 10000.0 ** (-torch.arange(0, 32, 2) / 32)
print(f"d = 32, slowest frequency: DDPM code {ddpm_frequencies[-1]:.2e}, Transformer"
      f" {transformer_frequencies[-1]:.2e}")

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### Similarity depends only on the distance $t - t'$
#
# $\sin a \sin b + \cos a \cos b = \cos(a - b)$: the similarity is the mean of
# $\cos\big(\omega_i (t - t')\big)$, 1 at distance 0.

# %% [markdown] slideshow={"slide_type": "notes"}
# Since $\sin a \sin b + \cos a \cos b = \cos(a - b)$, the cosine similarity of
# two embeddings is the average of $\cos\big(\omega_i (t - t')\big)$: it depends only on the
# distance $t - t'$ (hence the stripes parallel to the diagonal below), is 1 at distance 0,
# and drops quickly, though not monotonically, as the timesteps move apart.

# %%
unit = F.normalize(embedding, dim=1)  # (500, 32), unit rows
similarity = unit @ unit.T  # (500, 500)

fig, axes = plt.subplots(1, 2, figsize=(9.5, 3.3), layout="constrained")
image = axes[0].imshow(embedding.T, aspect="auto", cmap="RdBu", interpolation="nearest")
axes[0].set_xlabel("timestep t")
axes[0].set_ylabel("embedding dimension")
axes[0].set_title("sinusoidal embedding (sin half, then cos half)")
fig.colorbar(image, ax=axes[0])
image = axes[1].imshow(similarity, cmap="viridis", origin="lower")
axes[1].set_xlabel("timestep t")
axes[1].set_ylabel("timestep t'")
axes[1].set_title("cosine similarity of emb(t) and emb(t')")
fig.colorbar(image, ax=axes[1])
plt.show()
print(f"cosine similarity: t=100 vs 101: {similarity[100, 101]:.3f}, 100 vs 110:"
      f" {similarity[100, 110]:.3f}, 100 vs 400: {similarity[100, 400]:.3f}")

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### How the UNet uses it
#
# - once per call: `emb = unet.time_mlp(time_embedding(t, base_channels))`
# - every residual block adds its own projection of `emb` to all its feature maps
# - so the same weights behave differently at each noise level: one input at $t = 10$ and at
#   $t = 400$ gives two outputs

# %% [markdown] slideshow={"slide_type": "notes"}
# ### How the UNet uses it
#
# Built with `time_embedding=True` (the default), the UNet passes the embedding through a
# small MLP once per call, `emb = unet.time_mlp(time_embedding(t, base_channels))`, and
# hands `emb` to every residual block, which adds its own projection of it to all its
# feature maps (the `self.emb` line of `ResidualBlock`). So the same weights can behave
# differently at each noise level. With the two functions written above, the denoiser's
# whole forward pass is ours, and its output changes with $t$ even for the same input:

# %%
seed_everything(0)
denoiser = UNet(in_channels=3, base_channels=16, channel_mults=(1, 2, 2))  # with a time embedding
x = noisy_test[:4]  # (4, 3, 16, 16)
outputs = {}
with torch.no_grad():
    for step in (10, 400):
        t = torch.full((4,), step)
        emb = denoiser.time_mlp(time_embedding(t, denoiser.base_channels))  # (4, 64)
        outputs[step] = unet_forward(denoiser, x, emb)  # (4, 3, 16, 16)
        assert torch.equal(outputs[step], denoiser(x, t))  # the library's UNet.forward
print(f"output shape {tuple(outputs[10].shape)}; mean |difference| between t=10 and t=400: "
      f"{(outputs[10] - outputs[400]).abs().mean():.4f}")

# %% [markdown] slideshow={"slide_type": "slide"}
# ### Exercise 1: write it yourself, the Transformer's embedding
#
# Write `transformer_embedding(t, dim)`, Vaswani et al.'s layout: feature $2i$ is
# $\sin(t\,\nu_i)$, feature $2i+1$ is $\cos(t\,\nu_i)$, with $\nu_i = 10000^{-2i/d}$ for
# $i = 0, \dots, d/2 - 1$. The check cell compares it with a reference built from diffusers
# and tells you what differs (float32 angles near $t = 500$ carry rounding errors near
# $10^{-5}$, so it allows $10^{-4}$).

# %%
def transformer_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    """Timesteps (N,) -> (N, dim): sin(t nu_i) at feature 2i, cos(t nu_i) at 2i + 1, nu_i =
    10000^(-2i/dim)."""
    raise NotImplementedError  # your code here


# %% slideshow={"slide_type": "subslide"}
def interleave(halves: torch.Tensor) -> torch.Tensor:
    """(N, dim) as [a_0..a_{dim/2-1}, b_0..b_{dim/2-1}] -> (N, dim) as [a_0, b_0, a_1, b_1, ...]."""
    return halves.unflatten(1, (2, -1)).transpose(1, 2).flatten(1)

t_check = torch.tensor([0, 1, 10, 250, 499])
# (5, 32), frequencies nu_i
sines_then_cosines = get_timestep_embedding(t_check, 32, downscale_freq_shift=0)
transformer_reference = interleave(sines_then_cosines)
likely_mistakes = {
    "the DDPM code's layout (all sines, then all cosines)": sines_then_cosines,
    "the DDPM code's frequencies 10000^(-i/(dim/2 - 1))": interleave(
        sinusoidal_embedding(t_check, 32)
    ),
    # flip_sin_to_cos
    "cos and sin swapped": interleave(
        get_timestep_embedding(t_check, 32, True, downscale_freq_shift=0)
    ),
}
check(lambda: transformer_embedding(t_check, 32), transformer_reference,
      name="transformer_embedding", atol=1e-4, mistakes=likely_mistakes)

# %% tags=["solution"]
def transformer_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    """Timesteps (N,) -> (N, dim): sin(t nu_i) at feature 2i, cos(t nu_i) at 2i + 1.

    nu_i = 10000^(-2i/dim)."""
    frequencies = 10000.0 ** (-torch.arange(0, dim, 2) / dim)  # nu_i, (dim/2,)
    angles = t.float()[:, None] * frequencies[None, :]  # (N, dim/2)
    embedding = torch.empty(len(t), dim)
    embedding[:, 0::2], embedding[:, 1::2] = angles.sin(), angles.cos()  # even, odd features
    return embedding


assert check(lambda: transformer_embedding(t_check, 32), transformer_reference,
             name="transformer_embedding", atol=1e-4)
ours_interleaved = interleave(time_embedding(t_check, 32))
gap = (ours_interleaved - transformer_embedding(t_check, 32)).abs().max().item()
print(f"the course's embedding, interleaved, still differs from the Transformer's by up to "
      f"{gap:.2f}: the frequencies differ too")
assert gap > 0.1

# %% [markdown] slideshow={"slide_type": "slide"}
# ### Exercise 2: shapes through a stack
#
# An input of $28 \times 28$ pixels goes through (a) a $5 \times 5$ convolution without
# padding, (b) $2 \times 2$ max pooling, (c) a $3 \times 3$ convolution with padding 1 and
# stride 2, and (d) a $3 \times 3$ transposed convolution with stride 2, padding 1 and
# output padding 1. Predict the size after each step with the formulas (for a transposed
# convolution, $n_\text{out} = (n-1)s - 2p + k + \text{output\_padding}$), then check with PyTorch.

# %%
# Your prediction and check here.

# %% tags=["solution"]
sizes = [28]
sizes.append(conv_output_size(sizes[-1], k=5, p=0, s=1))  # 24
sizes.append(conv_output_size(sizes[-1], k=2, p=0, s=2))  # pooling: 12
sizes.append(conv_output_size(sizes[-1], k=3, p=1, s=2))  # 6
sizes.append((sizes[-1] - 1) * 2 - 2 * 1 + 3 + 1)  # transposed: 12
layers = [nn.Conv2d(1, 1, 5), nn.MaxPool2d(2), nn.Conv2d(1, 1, 3, stride=2, padding=1),
          nn.ConvTranspose2d(1, 1, 3, stride=2, padding=1, output_padding=1)]
h = torch.zeros(1, 1, 28, 28)
measured = [28]
for layer in layers:
    h = layer(h)
    measured.append(h.shape[-1])
print("predicted:", sizes)
print("measured: ", measured)
assert sizes == measured

# %% [markdown] slideshow={"slide_type": "slide"}
# ### Exercise 3: a better hand-made baseline
#
# The per-pixel threshold ignores the neighbours. Average the distance from black over each
# $3 \times 3$ neighbourhood first (that is a convolution with a fixed kernel of ninths),
# choose the threshold on the training images again, and report the test IoU. Where does it
# land between the per-pixel rule and the UNet? What does that say about what the UNet learnt?

# %%
# Your baseline here.

# %% tags=["solution"]
def smoothed_distance(images: torch.Tensor) -> torch.Tensor:
    # A 3x3 box filter; count_include_pad=False averages only the pixels inside the image.
    return F.avg_pool2d(distance_from_black(images), kernel_size=3, stride=1, padding=1,
                        count_include_pad=False)

smooth_scores = torch.stack(
    [iou(smoothed_distance(noisy_train) > th, train_set.masks).mean() for th in thresholds]
)
smooth_threshold = thresholds[smooth_scores.argmax()].item()
smooth_iou = iou(smoothed_distance(noisy_test) > smooth_threshold, test_set.masks).mean().item()
for name, value in [("per-pixel threshold", threshold_iou),
                    (f"3x3-smoothed (d > {smooth_threshold:.2f})", smooth_iou), ("UNet", unet_iou)]:
    print(f"  {name:<26} {value:.3f}")
assert threshold_iou + 0.1 < smooth_iou < unet_iou

# %% [markdown]
# <details class="solution"><summary>Solution</summary>
#
# Averaging nine pixels divides the noise's standard deviation by $\sqrt 9 = 3$, so one fixed
# convolution already lifts the IoU well above the per-pixel rule (the gain is printed
# above). The UNet does better still: it learns its own filters, combines many of them over
# larger and larger neighbourhoods, and knows what shapes look like, so it can also fix the
# boundary that the box filter blurs.
#
# </details>

# %% [markdown] slideshow={"slide_type": "slide"}
# ### Exercise 4: batch norm at test time
#
# In evaluation mode (`layer.eval()`), batch norm stops using the batch's statistics and
# uses running averages collected during training. Repeat the batch-composition experiment
# with `batch_norm.eval()`. Does image 0's output still depend on its batch-mates? Which
# statistics would a diffusion model then use at sampling time, and why is that a problem?

# %% tags=["solution"]
batch_norm.eval()
change = (batch_norm(batch_a)[0] - batch_norm(batch_b)[0]).abs().max().item()
print(f"batch norm in eval mode: largest change in image 0's output = {change:.2e}")
print(f"running mean of channel 0 = {batch_norm.running_mean[0]:.3f} (collected from the two"
      " training-mode calls)")
batch_norm.train()
assert change == 0.0

# %% [markdown]
# <details class="solution"><summary>Solution</summary>
#
# In evaluation mode the output no longer depends on the batch, but it now uses averages
# collected over *training* batches, which mixed all noise levels. At sampling time every
# image in the batch sits at one noise level, whose statistics are not those averages: the
# network sees differently normalised features than it was trained on. Group norm has no
# running statistics and no separate evaluation behaviour, so the problem never arises.
#
# </details>

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "slide"}
# ## Summary
#
# - convolution: one kernel everywhere, $n_\text{out} = \lfloor (n + 2p - k)/s \rfloor + 1$;
#   up by resize + conv, without checkerboards
# - group norm normalises each image on its own; residual blocks give the gradient a direct path
# - the UNet segments noisy sprites better than per-pixel thresholds, by IoU
# - with a sinusoidal time embedding in every block, it becomes the denoiser of the lessons to come

# %% [markdown] slideshow={"slide_type": "notes"}
# ## Summary
#
# - A convolution applies one small kernel everywhere; its output size is
#   $\lfloor (n + 2p - k)/s \rfloor + 1$, and stride 2 halves the image.
# - Pooling and strided convolutions go down; nearest-neighbour resize plus a convolution
#   goes up without the checkerboards of transposed convolutions.
# - Group norm normalises each image on its own, so a diffusion UNet's output does not
#   depend on the other images (and noise levels) in its batch.
# - Residual connections give the gradient a direct path through deep networks; the course's
#   block (GroupNorm, SiLU, conv, plus the time embedding, twice, plus the skip) is diffusers'
#   `ResnetBlock2D`.
# - A UNet (encoder, bottleneck, decoder, skips) fits in one short function, and segments
#   noisy sprites better than per-pixel or smoothed thresholds, measured by IoU on held-out images.
# - With a sinusoidal time embedding added in every block, the same UNet becomes the
#   denoiser of the lessons to come. The course, like Ho et al.'s code and diffusers, puts
#   all sines before all cosines; the Transformer interleaves them, at other frequencies.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## References
#
# - Dumoulin, V. & Visin, F. (2016). *A guide to convolution arithmetic for deep learning.* [arXiv:1603.07285](https://arxiv.org/abs/1603.07285)
# - He, K., Zhang, X., Ren, S. & Sun, J. (2016). *Deep residual learning for image recognition.* CVPR. [arXiv:1512.03385](https://arxiv.org/abs/1512.03385)
# - Ho, J., Jain, A. & Abbeel, P. (2020). *Denoising diffusion probabilistic models.* NeurIPS. [arXiv:2006.11239](https://arxiv.org/abs/2006.11239)
# - Ioffe, S. & Szegedy, C. (2015). *Batch normalization: accelerating deep network training by reducing internal covariate shift.* ICML. [arXiv:1502.03167](https://arxiv.org/abs/1502.03167)
# - Odena, A., Dumoulin, V. & Olah, C. (2016). *Deconvolution and checkerboard artifacts.* Distill. [doi:10.23915/distill.00003](https://doi.org/10.23915/distill.00003)
# - Ronneberger, O., Fischer, P. & Brox, T. (2015). *U-Net: convolutional networks for biomedical image segmentation.* MICCAI. [arXiv:1505.04597](https://arxiv.org/abs/1505.04597)
# - Vaswani, A. et al. (2017). *Attention is all you need.* NeurIPS. [arXiv:1706.03762](https://arxiv.org/abs/1706.03762)
# - Wu, Y. & He, K. (2018). *Group normalization.* ECCV. [arXiv:1803.08494](https://arxiv.org/abs/1803.08494)
