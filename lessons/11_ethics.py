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
# # Ethics: three case studies
#
# - **Art**: whose images were the models trained on, and can they reproduce them?
# - **Open and closed models**: who is responsible for what they produce?
# - **Academia**: can a scientist publish what they make?
#
# Each case: background, facts with sources, questions for the room, and something to run.

# %% [markdown] slideshow={"slide_type": "notes"}
# # Ethics: three case studies
#
# The techniques of this course are the ones behind Stable Diffusion, DALL·E 2 and Imagen, and
# those systems raised questions that are not technical: whose images were they trained on, can
# they reproduce them, who is responsible for what they produce, and can a scientist publish what
# they make? This lesson takes three cases. Each has background, facts with their sources,
# questions for discussion in the room, and something to run: the questions get sharper when you
# can measure part of the answer on a model you understand completely.

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### Learning objectives
#
# - the debates on training data, memorisation and copyright, with sources
# - audit a model for memorisation by nearest-neighbour search
# - what open weights, safety filters, watermarks and provenance can and cannot do
# - build a detector of generated images, and evade it
# - publishers' rules, and a group policy
#
# 90 minutes in a workshop; about 30 alone.

# %% [markdown] slideshow={"slide_type": "notes"}
# **Learning objectives.** By the end of this lesson you can
#
# - describe, with sources, the main debates around training data, memorisation and copyright;
# - audit a generative model for memorisation by nearest-neighbour search, and show memorisation appear;
# - weigh what releasing model weights enables and prevents, and what safety filters,
#   watermarks and provenance standards can and cannot do;
# - build a simple detector of generated images and show how easily a simple transformation evades it;
# - state the main rules publishers apply to generative AI in research, and adapt a group policy.
#
# **Estimated time:** 90 minutes in a workshop (30 of reading and running, 60 for discussion and
# exercises); about 30 minutes alone.
#
# The facts below are stated with a source you can check. Where the situation is still moving
# (court cases, publishers' policies), read the source for the current state.

# %% slideshow={"slide_type": "skip"}
import copy
import importlib.util
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from torch.utils.data import TensorDataset

from course_lib import DDIMSampler, load_pretrained, sample, train_diffusion
from course_lib.checkpoints import WEIGHTS_DIR, read_manifest, sha256_of
from course_lib.config import fast_or_full, seed_everything
from course_lib.data import load_digits
from course_lib.metrics import NEAR_COPY_DISTANCE, near_copy_fraction, nearest_neighbour_distance
from course_lib.plotting import show_images

# %% slideshow={"slide_type": "skip"}
generator = seed_everything(0)
train_images = load_digits(16, "train").tensors[0]
test_images = load_digits(16, "test").tensors[0]
model, schedule = load_pretrained("digits")
device = next(model.parameters()).device

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "slide"}
# ## Case 1: AI and art
#
# - models learn from web-scale collections of captioned images
# - artists: used without consent, credit or payment; styles imitated on request; images reproduced
# - developers: like a human learning by looking; copies are rare failures
# - **memorisation** is the part of the debate that can be measured

# %% [markdown] slideshow={"slide_type": "notes"}
# ## Case 1: AI and art
#
# **Background.** Text-to-image models learn from enormous collections of images paired with
# captions, gathered from the web. Artists, photographers and stock agencies object that their work
# was used without consent, credit or payment, that models can imitate a living artist's style on
# request, and that they sometimes reproduce training images. Developers answer that learning from
# public images is like a human learning from looking, and that copies are rare failures.
# Memorisation is the part of this debate that can be measured.

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### Facts, with sources: training data
#
# - LAION-5B: **5.85 billion** image–text pairs from the web (Schuhmann et al. 2022)
# - Somepalli et al. (2023): Stable Diffusion sometimes "blatantly" copies its training data
# - Carlini et al. (2023): **over a thousand** training examples extracted
# - Getty Images v. Stability AI (2023): **more than 12 million** photographs copied, Getty alleges

# %% [markdown] slideshow={"slide_type": "notes"}
# **Facts, with sources.**
#
# - LAION-5B, an open dataset of **5.85 billion** CLIP-filtered image–text pairs collected from the
#   web (2.32 billion with English captions), was used by its authors to replicate and fine-tune
#   models including Stable Diffusion (Schuhmann et al. 2022, [arXiv:2210.08402](https://arxiv.org/abs/2210.08402)).
# - Somepalli et al. (2023, CVPR, [arXiv:2212.03860](https://arxiv.org/abs/2212.03860)) compared generated images
#   with training images by image retrieval, found that the rate of replication depends on factors
#   such as the size of the training set, and found cases where Stable Diffusion "blatantly" copies
#   from its training data.
# - Carlini et al. (2023, USENIX Security, [arXiv:2301.13188](https://arxiv.org/abs/2301.13188)) extracted
#   **over a thousand** training examples from state-of-the-art diffusion models with a
#   generate-and-filter pipeline, from photographs of individual people to trademarked logos, and
#   concluded that diffusion models are much less private than earlier generative models such as GANs.
# - Getty Images sued Stability AI in the US District Court for the District of Delaware in February
#   2023, alleging that Stability copied **more than 12 million** photographs from its collection,
#   with captions and metadata, without permission, and that generated images reproduced its
#   watermark, which Getty says could confuse consumers ([Reuters, 7 February 2023](https://www.thestar.com.my/tech/tech-news/2023/02/07/getty-images-lawsuit-says-stability-ai-misused-photos-to-train-ai));
#   Getty also brought proceedings in the High Court in London. These are allegations: check the
#   current state of the cases.

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### An audit: does the course's model copy its training digits?
#
# - generate samples; find each one's **nearest training image**
# - baseline: the same distance for *real held-out* digits
# - generalising: about as far as new real digits; memorising: much closer
#
# Distance: root-mean-square pixel difference, on the $[-1, 1]$ scale.

# %% [markdown] slideshow={"slide_type": "notes"}
# ### An audit: does the course's model copy its training digits?
#
# The method of Somepalli and Carlini, at our scale: generate samples, find each one's **nearest
# training image**, and compare the distances with a baseline, the distance from *real held-out*
# digits (which the model never saw) to the training set. A model that generalises produces
# samples about as far from the training set as new real digits are; a model that memorises
# produces samples much closer. Distance: root-mean-square pixel difference, on the $[-1, 1]$ scale.

# %%
n_samples = fast_or_full(256, 1000)
start = time.perf_counter()
samples = sample(model, DDIMSampler(schedule, 25), (n_samples, 1, 16, 16),
                 generator=seed_everything(1), progress=False).cpu()
sample_dist, sample_nn = nearest_neighbour_distance(samples, train_images)
test_dist, _ = nearest_neighbour_distance(test_images, train_images)
print(f"{n_samples} samples in {time.perf_counter() - start:.1f} s")
print(f"median distance to the nearest training image: generated {sample_dist.median():.3f}, "
      f"real held-out {test_dist.median():.3f}")
# no real held-out digit comes closer than this to the training set
near_copy = test_dist.min().item()
print(f"share closer than {near_copy:.3f} (the closest any real held-out digit comes): "
      f"generated {(sample_dist < near_copy).float().mean():.3f}")
print(f"share closer than {NEAR_COPY_DISTANCE} (make bench's round threshold): "
      f"generated {near_copy_fraction(sample_dist):.3f}")

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### The closest samples, and the two distributions

# %% [markdown]
# The closest samples next to their nearest training images, and the two distributions of distances:

# %%
closest = sample_dist.argsort()[:8]
pairs = torch.cat([samples[closest], train_images[sample_nn[closest]]])
fig, axes = plt.subplots(1, 2, figsize=(9, 3.5), layout="constrained")
show_images(pairs, nrow=8, ax=axes[0],
            title="top: the 8 closest samples\nbottom: their nearest training digits")
bins = np.linspace(0, max(sample_dist.max(), test_dist.max()).item(), 30)
axes[1].hist(test_dist.numpy(), bins=bins, density=True, alpha=0.6, label="real held-out digits")
axes[1].hist(sample_dist.numpy(), bins=bins, density=True, alpha=0.6,
             label="generated (shipped model)")
axes[1].set_xlabel("RMS distance to the nearest training image")
axes[1].set_ylabel("density")
axes[1].set_title("Distance to the training set")
axes[1].legend()
plt.show()

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### Making memorisation appear
#
# - memorisation grows with a small training set and long training
# - we keep training a copy of the shipped model on only **8** digits
# - then audit it the same way, against those 8

# %% [markdown] slideshow={"slide_type": "notes"}
# ### Making memorisation appear
#
# Memorisation grows when the training set is small relative to the model and training is long
# (Somepalli et al. and Carlini et al. both vary these factors). We take a copy of the shipped model
# and keep training it on only **8** digits (training from scratch would take thousands of steps
# to get there; starting from a model that already draws digits takes a few hundred), then audit
# it in the same way, against those 8 images.

# %%
tiny_set = train_images[:8]
overfit = copy.deepcopy(model)
result = train_diffusion(overfit, schedule, TensorDataset(tiny_set), steps=fast_or_full(200, 1000),
                         batch_size=8, lr=1e-3, seed=0, progress=False)
overfit.eval()
overfit_samples = sample(overfit, DDIMSampler(schedule, 25), (64, 1, 16, 16),
                         generator=seed_everything(2), progress=False).cpu()
overfit_dist, overfit_nn = nearest_neighbour_distance(overfit_samples, tiny_set)
baseline_dist, _ = nearest_neighbour_distance(test_images, tiny_set)
print(f"trained on 8 digits for {len(result.losses)} more steps in {result.seconds:.0f} s")
print(f"median distance to the nearest of the 8: generated {overfit_dist.median():.3f}, "
      f"real held-out {baseline_dist.median():.3f}")
print(f"share closer than {near_copy:.3f}: "
      f"overfit model {(overfit_dist < near_copy).float().mean():.2f}, "
      f"shipped model {(sample_dist < near_copy).float().mean():.2f}")
print("how many samples land nearest to each of the 8 training digits:",
      torch.bincount(overfit_nn, minlength=8).tolist())
show_images(torch.cat([overfit_samples[:16], tiny_set[overfit_nn[:16]]]), nrow=16,
            title="top: samples after training on 8 digits; bottom: their nearest training digit")
plt.show()

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### The overfit model memorises; the shipped one does not
#
# - the overfit model's samples sit far closer to its 8 digits than new real digits do
# - the shipped model, trained on 1,437 digits, almost never produces a near-copy
# - pixel distance is crude (Somepalli et al. use learned descriptors); the audit's logic holds at
#   any scale

# %% [markdown] slideshow={"slide_type": "notes"}
# The samples of the overfit model sit far closer to its 8 training images than new real digits
# do, and some are closer than any real held-out digit comes: it is memorising them. The shipped model, trained on 1,437 digits,
# sits only a little closer to its training set than new real digits do (any fitted model is pulled
# somewhat towards its data) and almost never produces a near-copy. Pixel distance is a crude measure (Somepalli et al.
# use learned image descriptors that also catch partial and shifted copies), but the logic of a
# memorisation audit is the same at any scale.

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### Questions for the room: art
#
# 1. A copy appears only for the image's exact caption: who is responsible?
# 2. Should providers block artists' names in prompts? Who decides?
# 3. Opt-out or opt-in for training data: what would each mean?
# 4. What threshold is "not a copy"? The same for a face, a logo, a painting?

# %% [markdown] slideshow={"slide_type": "notes"}
# **Questions for the room.**
#
# 1. If a model reproduces a training image only when prompted with that image's exact caption, who
#    is responsible for the copy: the developer, the user, or the collector of the dataset?
# 2. Style is not protected by copyright in most jurisdictions, but a living artist's name in a prompt
#    can produce work that competes with theirs. Should model providers block artists' names? Who decides?
# 3. Opt-out (artists remove their work from future training sets) versus opt-in (only licensed data):
#    what would each mean for open research, for big companies, for artists?
# 4. Our audit compares with real held-out data. What threshold would *you* accept as "not a copy",
#    and would it be the same for a face, a logo, a painting?

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "slide"}
# ## Case 2: safety of open and closed models
#
# - **closed**: a service behind an interface (DALL·E 2 and Midjourney at their launch)
# - **open**: released weights (Stable Diffusion, 2022), run locally and fine-tuned by anyone
# - open weights enable research, audits, local use and new domains
# - they prevent monitoring of misuse, revoking a release, and keeping a safety filter on

# %% [markdown] slideshow={"slide_type": "notes"}
# ## Case 2: safety of open and closed models
#
# **Background.** Some image generators are offered only as a service behind an interface (DALL·E 2
# and Midjourney at their launch); others were released with their weights (Stable Diffusion in
# 2022), which anyone can download, run on their own machine and fine-tune.
#
# | releasing the weights | enables | prevents or makes hard |
# |---|---|---|
# | research and audits | anyone can study memorisation, bias, filters (as in case 1 and below) | |
# | local use | privacy of the user's data, no cost per image, use offline | monitoring of misuse; revoking a release |
# | fine-tuning | new domains (medicine, science), small languages and cultures | keeping a safety filter on: it is code the user can delete |
# | competition | independent companies and open-source tools | the releaser controlling what is built on it |

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### Safety filters, watermarks, provenance
#
# - **safety checker**: Stable Diffusion's CLIP-based filter was narrow, obfuscated and easy to
#   bypass (Rando et al. 2022)
# - **watermarks**: Tree-Ring hides a pattern in the initial noise (Wen et al. 2023); only whoever
#   runs the sampler can add it
# - **provenance** (C2PA): sign what is authentic; no credentials proves nothing

# %% [markdown] slideshow={"slide_type": "notes"}
# **Facts, with sources.**
#
# - Stable Diffusion was released with a **safety checker**, a classifier that compares the CLIP
#   embedding of each generated image with embeddings of unsafe concepts and blacks out matches.
#   Rando et al. (2022, NeurIPS ML Safety Workshop, [arXiv:2210.04610](https://arxiv.org/abs/2210.04610))
#   reverse-engineered it: it was obfuscated and poorly documented, it aimed only at sexual content
#   while ignoring violence and gore, and it was easy to bypass. They argue that safety measures in
#   open releases should be fully open and documented. The checker ships with diffusers (the next
#   cell reads its definition).
# - **Watermarks** hide a signal in generated images for later detection. Tree-Ring watermarks
#   (Wen et al. 2023, NeurIPS, [arXiv:2305.20030](https://arxiv.org/abs/2305.20030)) put a pattern into
#   the *initial noise* of a diffusion sampler, in Fourier space, and detect it by inverting DDIM
#   (lesson 08) back to the noise; the authors report robustness to convolutions, crops, dilations,
#   flips and rotations. Only whoever runs the sampler can add it, so it helps a service, not an open release.
# - **Provenance** is the opposite approach: sign what is *authentic*. The C2PA standard
#   ([Coalition for Content Provenance and Authenticity](https://c2pa.org/specifications/specifications/2.2/explainer/Explainer.html))
#   attaches cryptographically signed "Content Credentials" recording how a file was captured and
#   edited. Adoption is opt-in: the absence of credentials proves nothing.

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### What the safety checker stores

# %%
checker_source = (Path(importlib.util.find_spec("diffusers").origin).parent
                  / "pipelines"
                  / "stable_diffusion"
                  / "safety_checker.py").read_text()
for line in checker_source.splitlines():
    if "_embeds = nn.Parameter" in line:
        print(line.strip())

# %% [markdown]
# Seventeen "concept" embeddings and three "special care" ones, with thresholds stored in the
# weights: that is the whole filter. In the open pipeline it is one constructor argument,
# `safety_checker=None`, which is why the filter protects a hosted service more than an open release.

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### A detector of generated digits, and how to evade it
#
# Detectors of generated images are trained classifiers. We build the simplest: logistic
# regression on a few statistics of each image (value range, share of pure-background pixels,
# roughness), trained to tell the shipped model's digits from real ones.

# %%
def image_statistics(images: torch.Tensor) -> np.ndarray:
    """Per image (N, 1, H, W) in [-1, 1]: min, max, mean, std, background share, roughness."""
    x = images.flatten(1)
    laplacian = (images[..., 1:-1, 1:-1] * 4 - images[..., :-2, 1:-1] - images[..., 2:, 1:-1]
                 - images[..., 1:-1, :-2] - images[..., 1:-1, 2:])
    features = [x.min(1).values, x.max(1).values, x.mean(1), x.std(1),
                (x <= -0.999).float().mean(1), laplacian.flatten(1).abs().mean(1)]
    return torch.stack(features, dim=1).numpy()

real = torch.cat([test_images, train_images])[: 2 * n_samples]
X = np.concatenate([image_statistics(real), image_statistics(samples)])
y = np.concatenate([np.zeros(len(real)), np.ones(len(samples))])  # 1 = generated
X_train, X_test, y_train, y_test, idx_train, idx_test = train_test_split(
    X, y, np.arange(len(y)), test_size=0.5, stratify=y, random_state=0)
detector = LogisticRegression(max_iter=2000).fit(X_train, y_train)
accuracy = detector.score(X_test, y_test)
caught = detector.predict(X_test[y_test == 1]).mean()
chance = max(y_test.mean(), 1 - y_test.mean())
print(f"detector accuracy on held-out images {accuracy:.3f} (chance {chance:.3f}); "
      f"share of generated images caught {caught:.3f}")

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### Evading the detector: launder the images

# %% [markdown]
# The evasion: post-process the generated images with something innocent-looking, here **clipping
# to $[-1, 1]$ and rounding to 17 grey levels** (the original digits were stored as 0..16), and ask
# the same detector again.

# %%
def launder(images: torch.Tensor) -> torch.Tensor:
    """Clip to [-1, 1] and round to the 17 grey levels of the original 0..16 digits."""
    return torch.round((images.clamp(-1, 1) + 1) * 8) / 8 - 1


generated_test = samples[idx_test[y_test == 1] - len(real)]
caught_after = detector.predict(image_statistics(launder(generated_test))).mean()
real_flagged = detector.predict(X_test[y_test == 0]).mean()
print(f"share of generated images caught: before {caught:.3f}, after laundering {caught_after:.3f} "
      f"(real images wrongly flagged: {real_flagged:.3f})")
change = (launder(generated_test) - generated_test).abs()
print(f"laundering changed pixels by {change.mean():.3f} on average (on a scale of 2)")
show_images(torch.cat([generated_test[:8], launder(generated_test[:8])]), nrow=8,
            title="top: generated; bottom: laundered (clipped, 17 grey levels)")
plt.show()

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### Why the detector fails
#
# - it learns whatever separates its training sets: here the faint noise left in the generated
#   background
# - a transformation invisible to the eye removes that cue
# - real detectors face the same arms race: hence watermarks (the generator controls them) and
#   provenance (the camera does)

# %% [markdown] slideshow={"slide_type": "notes"}
# A detector learns whatever separates its training sets, here the faint noise left in the
# generated background, not "generatedness" itself. A transformation that removes that cue and is
# invisible to the eye defeats it. Real detectors of real generators use far richer features but
# face the same arms race, which is one reason for watermarks (which the generator controls) and
# provenance (which the camera controls).

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### Questions for the room: open and closed
#
# 1. Release the weights of a capable image generator? Of faces, medical scans, voices?
# 2. A safety filter removable in one line: still worth shipping?
# 3. Mark generated images, or sign authentic ones?
# 4. A detector with 95 % accuracy flags a student's real photograph: what next?

# %% [markdown] slideshow={"slide_type": "notes"}
# **Questions for the room.**
#
# 1. Should the weights of a capable image generator be released? Does your answer change for a
#    model of faces, of medical scans, of voices?
# 2. An open model's safety filter can be removed in one line. Is shipping it still worthwhile?
#    Rando et al. argue for open, documented filters: what does openness gain and lose here?
# 3. Who should carry the burden of proof: should generated images be marked (watermarks), or
#    authentic ones signed (C2PA)? What happens to people who cannot afford signing cameras?
# 4. A detector with 95 % accuracy flags a student's real photograph as generated. What should
#    happen next?

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Case 3: generative AI in academia
#
# **Background.** Researchers use generative models to write, to illustrate, and sometimes to
# produce data. Publishing rests on authorship (who is accountable), disclosure (what was done),
# reproducibility (can others repeat it) and the integrity of figures. Image problems predate AI;
# generative models make convincing fake micrographs or gels cheap.

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### Facts, with sources: publishing
#
# - Bik et al. (2016): **3.8 %** of **20,621** screened papers had problematic figures
# - *Nature* (June 2023): no generated images, except in articles about AI
# - COPE (2023): AI tools cannot be authors; authors disclose their use and stay responsible

# %% [markdown] slideshow={"slide_type": "notes"}
# **Facts, with sources.**
#
# - Bik, Casadevall & Fang (2016, *mBio* 7(3):e00809-16, [doi:10.1128/mBio.00809-16](https://doi.org/10.1128/mBio.00809-16))
#   visually screened the images of **20,621** papers in 40 journals (1995–2014): **3.8 %** contained
#   problematic figures, at least half with features suggesting deliberate manipulation.
# - *Nature* announced on 7 June 2023 that, apart from articles specifically about AI, it will not
#   publish photographs, videos or illustrations created wholly or partly with generative AI,
#   citing integrity, attribution, consent and privacy
#   (["Why Nature will not allow the use of generative AI in images and video"](https://www.nature.com/articles/d41586-023-01546-4)).
# - The Committee on Publication Ethics (COPE) states that AI tools cannot be listed as authors,
#   since they cannot take responsibility for the work, and that authors must disclose how AI tools
#   were used (in writing, images or data analysis) and remain fully responsible for the content
#   ([COPE position statement, February 2023](https://publicationethics.org/cope-position-statements/ai-author)).

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### Reproducibility is cheap if planned
#
# Record the code, the exact weights (a SHA-256 digest) and the seed: the same seed gives the same
# images.

# %% [markdown] slideshow={"slide_type": "notes"}
# **Reproducibility is cheap if planned.** A generated figure is reproducible when the code, the
# exact weights and the seed are recorded. The course does this for every figure: the weights are
# identified by a SHA-256 digest, and the same seed gives the same images.

# %%
entry = read_manifest(WEIGHTS_DIR / "manifest.json")["digits"]
print(f"digits weights: sha256 {sha256_of(WEIGHTS_DIR / entry['file'])[:16]}... "
      f"(manifest says {entry['sha256'][:16]}...)")
first = sample(model, DDIMSampler(schedule, 25), (4, 1, 16, 16), generator=seed_everything(7),
               progress=False)
second = sample(model, DDIMSampler(schedule, 25), (4, 1, 16, 16), generator=seed_everything(7),
                progress=False)
print("same seed, same images:", torch.equal(first, second))

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### A policy template for a research group
#
# 1. **Authorship**: AI tools are never authors
# 2. **Disclosure**: which tools, for what, in which version
# 3. **Figures and data**: no generated image presented as a measurement
# 4. **Raw data**: kept, and supplied to editors on request
#
# Adapt it as a group; check it against your publishers' current rules.

# %% [markdown] slideshow={"slide_type": "notes"}
# ### A policy template for a research group
#
# Adapt, shorten, and agree on it as a group; check it against your publishers' current rules.
#
# > **Use of generative AI in our group** (version, date)
# >
# > 1. **Authorship.** AI tools are never authors. Every author is accountable for every part of
# >    the work, including text, code and figures produced with AI assistance.
# > 2. **Disclosure.** Every paper, thesis and talk states which AI tools were used, for what, and in which
# >    version (Methods or Acknowledgements). Language polishing: [disclose / need not be disclosed].
# > 3. **Figures and data.** No generated or AI-altered image is presented as a measurement.
# >    Generated images appear only when they are the subject of the work, labelled as generated,
# >    with the model, weights (hash), prompt or conditioning, seed and code.
# > 4. **Raw data.** Original images and instrument files are kept for [N] years and supplied
# >    to editors on request; figure panels can be traced to them.
# > 5. **Reproducibility.** Generated results are released with code, exact versions, weights
# >    (or how to obtain them) and seeds.
# > 6. **Confidential material.** Unpublished manuscripts, reviews, patient or personal data are
# >    never pasted into external AI services.
# > 7. **Training data.** Models we train document their data sources, licences and consent; we audit
# >    them for memorisation before release.
# > 8. **Responsibility.** Questions go to [name]; the policy is reviewed every [12] months.

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### A policy template: data and responsibility
#
# 5. **Reproducibility**: code, exact versions, weights and seeds
# 6. **Confidential material**: never pasted into external AI services
# 7. **Training data**: sources, licences and consent; a memorisation audit before release
# 8. **Responsibility**: a named person; the policy reviewed every [12] months

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### Questions for the room: academia
#
# 1. A diffusion model "denoises" microscopy images before they are measured: manipulation?
# 2. Should a thesis disclose AI help with language? With code?
# 3. *Nature*'s ban or disclosure: which serves science, which can be enforced?
# 4. Who should run integrity checks at scale?

# %% [markdown] slideshow={"slide_type": "notes"}
# **Questions for the room.**
#
# 1. A PhD student uses a diffusion model to "denoise" microscopy images before measuring them. Is
#    that image manipulation? What would make it acceptable?
# 2. Should a thesis disclose AI help with language? With code? Where is the line?
# 3. *Nature* bans generated images outside AI articles; other venues allow them with disclosure. Which
#    rule serves science better, and which one can be enforced?
# 4. Generative models could also *help* integrity checks (finding duplicated panels at scale). Who
#    should run such checks: journals, institutions, anyone?

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Exercises
#
# ### Exercise 1: how many of the 8 digits does the overfit model reproduce?
#
# A memorising model may still fail to reproduce *all* its training images. For each of the 8
# training digits, find its nearest sample among 64 samples of `overfit`, and count the training
# digits that have a sample closer than `near_copy`. Then repeat for the shipped model: how many
# of the first 8 training digits does it reproduce among `samples`?

# %%
# Your code here.

# %% tags=["solution"]
to_overfit, _ = nearest_neighbour_distance(tiny_set, overfit_samples)
to_shipped, _ = nearest_neighbour_distance(tiny_set, samples)
print("distance from each training digit to the nearest overfit sample:",
      [f"{d:.3f}" for d in to_overfit.tolist()])
print(f"training digits reproduced (closer than {near_copy:.3f}): overfit model"
      f" {(to_overfit < near_copy).sum().item()} of 8, shipped model"
      f" {(to_shipped < near_copy).sum().item()} of 8")

# %% [markdown] tags=["solution"]
# <details class="solution"><summary>Discussion</summary>
#
# The overfit model puts most of its samples on a few of its training images; the count shows
# which ones. Extraction attacks (Carlini et al.) use the same idea in reverse: generate many
# samples and keep the ones that are near-duplicates of each other or of a candidate image. A model
# trained on many more images than it can memorise reproduces none of these digits.
#
# </details>

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "subslide"}
# ### Exercise 2: harden the detector, then break it again
#
# - retrain the detector with half of the generated training images laundered
# - measure the share of laundered generated test images it catches
# - then a slight blur (weight 0.2) or small Gaussian noise (std 0.02): still caught?

# %% [markdown] slideshow={"slide_type": "notes"}
# ### Exercise 2: harden the detector, then break it again
#
# Retrain the detector on a training set in which half of the generated images are laundered.
# Measure the share of laundered generated test images it catches. Then try a different
# innocent-looking transformation on the generated test images: a slight blur (average each pixel
# with its neighbours, weight 0.2) or adding small Gaussian noise (std 0.02). Does the hardened
# detector still catch them?

# %%
# Your code here.

# %% tags=["solution"]
gen_train = samples[idx_train[y_train == 1] - len(real)]
half = len(gen_train) // 2
augmented_generated = torch.cat([gen_train[:half], launder(gen_train[half:])])
X_hard = np.concatenate([X_train[y_train == 0], image_statistics(augmented_generated)])
y_hard = np.concatenate([np.zeros((y_train == 0).sum()), np.ones(len(augmented_generated))])
hardened = LogisticRegression(max_iter=2000).fit(X_hard, y_hard)
blur_kernel = torch.tensor([[0.0, 0.05, 0.0], [0.05, 0.8, 0.05], [0.0, 0.05, 0.0]]).view(1, 1, 3, 3)
small_noise = 0.02 * torch.randn(generated_test.shape, generator=torch.Generator().manual_seed(0))
attacks = {
    "none": generated_test,
    "laundered": launder(generated_test),
    "slight blur": F.conv2d(F.pad(generated_test, (1, 1, 1, 1), mode="replicate"), blur_kernel),
    "noise std 0.02": generated_test + small_noise,
    "noise, then laundered": launder(generated_test + small_noise),
}
false_alarms = hardened.predict(X_test[y_test == 0]).mean()
print(f"real test images wrongly flagged by the hardened detector: {false_alarms:.3f}")
for name, images in attacks.items():
    scores = [d.predict(image_statistics(images)).mean() for d in (detector, hardened)]
    print(f"{name:22s} caught: original detector {scores[0]:.3f}, hardened {scores[1]:.3f}")

# %% [markdown] tags=["solution"]
# <details class="solution"><summary>Discussion</summary>
#
# Training on laundered images does not rescue this detector. Once laundered, the generated digits
# have the same statistics as real ones (clean background, values in $[-1, 1]$), so no classifier
# on these six numbers can separate them; mixing them into the training set only blurs the
# boundary, and the hardened detector catches fewer of the untouched generated images too. A
# better detector needs new evidence (other features, the judge's features, frequency statistics),
# and the attacker then picks a transformation that removes that evidence: it chooses *after* the
# detector is fixed. This asymmetry is why detection alone is a weak defence, and why watermarks
# and provenance are studied alongside it.
#
# </details>

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 3: find the duplicated panel
#
# Image-integrity screening (Bik et al. 2016) looks for panels that reappear, sometimes flipped or
# brightened, within a paper. Below is a "figure" of 12 digit panels in which one panel is a
# mirrored, slightly brightened copy of another. Find the pair with nearest-neighbour search. (Hint:
# compare each panel with all others *and* with their mirror images.)

# %%
panels = test_images[:12].clone()
panels[9] = (torch.flip(panels[4], dims=[-1]) + 0.1).clamp(-1, 1)  # the planted duplicate
show_images(panels, nrow=12, title="A figure with 12 panels")
plt.show()
# Your code here.

# %% tags=["solution"]
candidates = torch.cat([panels, torch.flip(panels, dims=[-1])])  # each panel and its mirror image
distances = torch.cdist(panels.flatten(1), candidates.flatten(1)) / 16  # RMS over 256 pixels
distances[torch.arange(12), torch.arange(12)] = float("inf")  # a panel trivially matches itself ...
# ... and a symmetric digit its own mirror image
distances[torch.arange(12), torch.arange(12) + 12] = float("inf")
i, j = divmod(distances.argmin().item(), 2 * 12)
print(f"closest pair: panel {i} and panel {j % 12}{' mirrored' if j >= 12 else ''}, RMS distance "
      f"{distances[i, j]:.3f}; the next closest pair is at "
      f"{distances.flatten().sort().values[2]:.3f}")

# %% [markdown] tags=["solution"]
# <details class="solution"><summary>Discussion</summary>
#
# The planted pair stands out: its distance is far below that of any two different digits (each
# pair appears twice, once per direction, hence the third smallest value as "next"). Real
# screening tools also handle crops, rotations and contrast changes, and have to cope with
# legitimate repeats (the same control shown twice, labelled as such). A generated image has no
# original to match, which is why publishers ask for raw data rather than relying on screening alone.
#
# </details>

# %% [markdown] tags=["slides-only"] slideshow={"slide_type": "slide"}
# ## Summary
#
# - **Art**: trained on web data without consent, models can copy. Our audit: the shipped model
#   almost never copies; a model trained on 8 digits does
# - **Open vs closed**: open weights enable audits and make filters optional; detectors are easily
#   evaded
# - **Academia**: AI is not an author; disclose its use; keep raw data; record weights and seeds

# %% [markdown] slideshow={"slide_type": "notes"}
# ## Summary
#
# - **Art**: large models are trained on web-scale data collected without consent (LAION-5B: 5.85
#   billion pairs), and can reproduce training images (Somepalli et al.; Carlini et al. extracted over a
#   thousand). A nearest-neighbour audit measures it: the course's model stays nearly as far from its
#   training set as real new digits and almost never copies; a model trained on 8 digits copies them.
# - **Open vs closed**: open weights enable research, audits and local use, and make filters optional.
#   Stable Diffusion's filter was narrow and easy to bypass (Rando et al.). Detectors are easily evaded
#   (our detector lost most of its catch to an invisible post-processing step); watermarks (Tree-Ring) and
#   provenance (C2PA) are complementary answers, each with limits.
# - **Academia**: AI is not an author; disclose its use; keep raw data; record weights and seeds.
#   Image problems predate AI (3.8 % of screened papers, Bik et al. 2016); *Nature* bans generated images
#   outside AI articles.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## References
#
# - Christoph Schuhmann, Romain Beaumont, Richard Vencu, Cade Gordon, Ross Wightman, Mehdi Cherti
#   et al. (2022). *LAION-5B: An open large-scale dataset for training next generation image-text
#   models.* NeurIPS Datasets and Benchmarks. [arXiv:2210.08402](https://arxiv.org/abs/2210.08402)
# - Gowthami Somepalli, Vasu Singla, Micah Goldblum, Jonas Geiping and Tom Goldstein (2023).
#   *Diffusion Art or Digital Forgery? Investigating Data Replication in Diffusion Models.* CVPR.
#   [arXiv:2212.03860](https://arxiv.org/abs/2212.03860)
# - Nicholas Carlini, Jamie Hayes, Milad Nasr, Matthew Jagielski, Vikash Sehwag, Florian Tramèr,
#   Borja Balle, Daphne Ippolito and Eric Wallace (2023). *Extracting Training Data from Diffusion
#   Models.* USENIX Security. [arXiv:2301.13188](https://arxiv.org/abs/2301.13188)
# - Getty Images (US), Inc. v. Stability AI, Inc., US District Court for the District of Delaware,
#   complaint filed February 2023. Reuters (7 February 2023), *Getty Images lawsuit says Stability AI
#   misused photos to train AI*, as republished by
#   [The Star](https://www.thestar.com.my/tech/tech-news/2023/02/07/getty-images-lawsuit-says-stability-ai-misused-photos-to-train-ai)
# - Javier Rando, Daniel Paleka, David Lindner, Lennart Heim and Florian Tramèr (2022). *Red-Teaming
#   the Stable Diffusion Safety Filter.* NeurIPS ML Safety Workshop. [arXiv:2210.04610](https://arxiv.org/abs/2210.04610)
# - Yuxin Wen, John Kirchenbauer, Jonas Geiping and Tom Goldstein (2023). *Tree-Ring Watermarks:
#   Fingerprints for Diffusion Images that are Invisible and Robust.* NeurIPS.
#   [arXiv:2305.20030](https://arxiv.org/abs/2305.20030)
# - Coalition for Content Provenance and Authenticity (C2PA). *C2PA and Content Credentials Explainer*, version 2.2.
#   [c2pa.org](https://c2pa.org/specifications/specifications/2.2/explainer/Explainer.html)
# - Elisabeth M. Bik, Arturo Casadevall and Ferric C. Fang (2016). *The Prevalence of Inappropriate
#   Image Duplication in Biomedical Research Publications.* mBio 7(3):e00809-16.
#   [doi:10.1128/mBio.00809-16](https://doi.org/10.1128/mBio.00809-16)
# - Nature editorial (7 June 2023). *Why Nature will not allow the use of generative AI in images and
#   video.* [nature.com/articles/d41586-023-01546-4](https://www.nature.com/articles/d41586-023-01546-4)
# - Committee on Publication Ethics (2023). *Authorship and AI tools: COPE position statement.*
#   [publicationethics.org](https://publicationethics.org/cope-position-statements/ai-author)
