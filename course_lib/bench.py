"""``make bench``: speed and sample-quality figures for this machine, printed as tables.

Speed: the course UNet's forward pass, a training step, and sampling 256 digits with DDPM
(all T steps) and DDIM (10, 25, 50 steps). Quality, for each shipped generative model: the
judge classifier's confident fraction and class-histogram entropy, conditional accuracy at
several guidance weights, FID on the judge's features against held-out real data (beside
the FID of as many real training digits: FID depends on the sample count), and memorisation:
the median nearest-training-image distance and the share of near-copies (closer than
``metrics.NEAR_COPY_DISTANCE``, which no held-out digit is). Lesson 12's text-to-image model:
the sprite judge's per-attribute agreement with seen and held-out captions, beside lesson 07's
pixel-space sprites model. Classifier guidance (lesson 07): the
unconditional digits model steered by a noise-aware classifier trained on the spot, beside
classifier-free guidance of the conditional model: accuracy, FID and seconds per sample.
Samplers (lesson 08): the unconditional digits model's quality against network evaluations for
DDPM (all T steps), DDIM, DPM-Solver++(2M) and the DDPM-like DDIM with eta = 1 at 5, 10, 20 and
50 steps, and DDIM's timestep spacings ("leading", "trailing", "linspace"), 251 steps included.
Ten steps: the 10-step samplers against DDPM as mean ± standard error over ``--seeds`` seeds of
``--n`` samples each (one seed's row moves by about 0.01 in confident fraction and 0.4 in FID),
on the unconditional digits and, at the CLI's guidance, on the conditional digits and sprites.

``--tables samplers`` (or any comma-separated subset; ``make bench TABLES=samplers``) prints only those tables.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import torch
from torch import Tensor

from . import checkpoints
from .__main__ import DEFAULT_GUIDANCE
from .classifier import predict
from .config import get_device
from .data.digits import load_digits
from .evaluation import judge_images
from .metrics import NEAR_COPY_DISTANCE, frechet_distance, near_copy_fraction, nearest_neighbour_distance
from .models import UNet, count_parameters
from .samplers import DDIMSampler, DDPMSampler, DPMSolverSampler, sample
from .schedules import NoiseSchedule
from .training import diffusion_loss
from .validation import OneLineParser, argparse_type, check_int


def _time(fn: Callable[[], object], repeats: int = 3) -> float:
    """Best wall time of ``repeats`` calls, in seconds (after one warm-up call)."""
    fn()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def print_table(title: str, header: list[str], rows: list[list[object]]) -> None:
    """Print a Markdown table (readable in a terminal, pastable into an issue); None prints as "-"."""
    print(f"\n### {title}\n")
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" for _ in header) + "|")
    for row in rows:
        print("| " + " | ".join(f"{v:.3g}" if isinstance(v, float) else "-" if v is None else str(v) for v in row) + " |")


REAL_FID_DRAWS = 10


def real_fid(train_features: Tensor, test_features: Tensor, n: int) -> tuple[str, str]:
    """The row name and FID of ``n`` real training digits against the held-out ones.

    The FID is "mean ± sd" over ``REAL_FID_DRAWS`` random draws of min(n, all) training digits.
    FID from few samples is biased upwards (each covariance is estimated from the samples), so a
    model's FID from n samples is compared with real digits' at the same n, not with all 1,437.
    """
    n = min(n, len(train_features))
    g = torch.Generator().manual_seed(0)
    fids = torch.tensor([frechet_distance(train_features[torch.randperm(len(train_features), generator=g)[:n]],
                                          test_features) for _ in range(REAL_FID_DRAWS)])
    return f"real training digits, {n} drawn", f"{fids.mean():.3g} ± {fids.std():.2g}"


def speed(device: torch.device, n: int = 256) -> None:
    model = UNet().to(device).eval()
    schedule = NoiseSchedule.linear(500)
    x = torch.randn(n, 1, 16, 16, device=device)
    t = torch.randint(0, 500, (n,), device=device)
    rows: list[list[object]] = []
    with torch.no_grad():
        rows.append([f"UNet forward, batch {n} ({count_parameters(model) / 1e6:.2f}M params)", _time(lambda: model(x, t))])
    model.train()
    optimiser = torch.optim.AdamW(model.parameters(), 1e-3)

    def train_step() -> None:
        loss = diffusion_loss(model, schedule, x[:128])
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()

    rows.append(["training step, batch 128", _time(train_step)])
    model.eval()
    for name, sampler in [("DDPM, 500 steps", DDPMSampler(schedule))] + [
        (f"DDIM, {k} steps", DDIMSampler(schedule, k)) for k in (10, 25, 50)
    ] + [("DPM-Solver++(2M), 10 steps", DPMSolverSampler(schedule, 10))]:
        g = torch.Generator().manual_seed(0)
        seconds = _time(lambda: sample(model, sampler, (n, 1, 16, 16), generator=g, device=device, progress=False), repeats=1)
        rows.append([f"sample {n} digits, {name}", seconds])
    print_table(f"Speed on {device} ({torch.get_num_threads()} CPU threads)", ["what", "seconds"], rows)


def quality(device: torch.device, n: int) -> None:
    try:
        judge, _ = checkpoints.load_pretrained("classifier-digits", device=device)
    except (FileNotFoundError, ValueError) as e:
        print(f"\n(quality table skipped: {e})")
        return
    train_images, _ = load_digits(16, "train").tensors
    test_images, test_labels = load_digits(16, "test").tensors
    _, train_feats = predict(judge, train_images)
    _, test_feats = predict(judge, test_images)
    real = judge_images(judge, test_images, test_feats, labels=test_labels)  # its FID, to itself, is not shown
    held_out_nn, _ = nearest_neighbour_distance(test_images, train_images)
    rows: list[list[object]] = [
        ["real held-out digits", "-", "-", real.confident, real.class_entropy, real.accuracy, "-",
         held_out_nn.median().item(), near_copy_fraction(held_out_nn), "-"],
    ]
    real_name, real_fid_value = real_fid(train_feats, test_feats, n)
    rows.append([real_name, "-", "-", "-", "-", "-", real_fid_value, "-", "-", "-"])
    for name in ("digits", "digits-cond"):
        try:
            model, schedule = checkpoints.load_pretrained(name, device=device)
        except (FileNotFoundError, ValueError) as e:
            print(f"\n({name} skipped: {e})")
            continue
        labels = torch.arange(n) % 10
        context = torch.nn.functional.one_hot(labels, 10).float() if model.context_dim else None
        settings = [("ddpm", DDPMSampler(schedule), 0.0)] + [(f"ddim {k}", DDIMSampler(schedule, k), 0.0) for k in (10, 25, 50)]
        settings += [("dpm 10", DPMSolverSampler(schedule, 10), 0.0)]
        if context is not None:
            settings += [("ddim 25", DDIMSampler(schedule, 25), w) for w in (1.0, 3.0)]
            settings += [("ddim 50", DDIMSampler(schedule, 50), DEFAULT_GUIDANCE),
                         ("dpm 10", DPMSolverSampler(schedule, 10), DEFAULT_GUIDANCE)]
        for sampler_name, sampler, w in settings:
            g = torch.Generator().manual_seed(0)
            start = time.perf_counter()
            x = sample(model, sampler, (n, 1, 16, 16), context=context, guidance=w, generator=g, device=device, progress=False).cpu()
            seconds = time.perf_counter() - start
            scores = judge_images(judge, x.clamp(-1, 1), test_feats, labels=labels if context is not None else None)
            nn_dist, _ = nearest_neighbour_distance(x, train_images)
            rows.append([name, sampler_name, w, scores.confident, scores.class_entropy, scores.accuracy,
                         scores.fid, nn_dist.median().item(), near_copy_fraction(nn_dist), seconds])
    print_table(
        f"Sample quality ({n} samples per row; judge: classifier-digits; FID against the {len(test_images)} held-out digits, "
        f"for real digits mean ± sd over {REAL_FID_DRAWS} draws)",
        ["model", "sampler", "guidance", "confident (>0.9)", "class entropy (nats)", "accuracy", "FID",
         "median NN distance", f"near-copies (< {NEAR_COPY_DISTANCE})", "seconds"],
        rows,
    )


def text_to_image(device: torch.device, n: int) -> None:
    """Lesson 12: prompt following of the latent text-to-image model against lesson 07's pixel model."""
    try:
        from . import text_to_image as t2i

        unet, schedule = checkpoints.load_pretrained("sprites-text-to-image", device=device)
        vae, _ = checkpoints.load_pretrained("sprites-vae", device=device)
        text_encoder, _ = checkpoints.load_pretrained("sprites-text-encoder", device=device)
        pixel_model, _ = checkpoints.load_pretrained("sprites", device=device)
        judge, _ = checkpoints.load_pretrained("classifier-sprites", device=device)
    except (ImportError, FileNotFoundError, ValueError) as e:
        print(f"\n(text-to-image table skipped: {e})")
        return
    for model in (unet, vae, text_encoder):
        model.cpu()  # the sampling loop keeps its tensors on the CPU
    tokenizer, sampler = t2i.caption_tokenizer(), DDIMSampler(schedule, 25, timestep_spacing="trailing")
    rows: list[list[object]] = []
    for kind in ("seen", "held-out"):
        captions, labels = t2i.caption_set(kind, n)
        for name, s in [("latent text-to-image", 1.0), ("latent text-to-image", 3.0), ("pixel sprites (07)", 3.0)]:
            g = torch.Generator().manual_seed(0)
            start = time.perf_counter()
            if name.startswith("latent"):
                x = t2i.generate(unet, vae, text_encoder, tokenizer, captions, sampler=sampler, guidance_scale=s, generator=g)
            else:
                x = sample(pixel_model, sampler, (n, 3, 16, 16), context=t2i.attribute_context(labels), guidance=s - 1,
                           generator=g, device=device, progress=False).cpu()
            seconds = time.perf_counter() - start
            scores = t2i.judge_attributes(judge, x, labels)
            rows.append([name, kind, s, scores["shape"], scores["colour"], scores["facing"], scores["all three"], seconds])
    print_table(f"Prompt following ({n} samples per row, DDIM 25 trailing; judge: classifier-sprites; "
                f"held-out pairs {', '.join(c + ' ' + s for s, c in t2i.HELD_OUT)} unseen by the latent model only)",
                ["model", "captions", "guidance scale s = 1 + w", "shape", "colour", "facing", "all three", "seconds"], rows)


def classifier_guidance(device: torch.device, n: int, classifier_steps: int = 1500) -> None:
    """Lesson 07: classifier guidance (Dhariwal & Nichol 2021) against classifier-free guidance, on the judge."""
    from .guidance import ClassifierGuidance, NoisyClassifier, train_noisy_classifier

    try:
        judge, _ = checkpoints.load_pretrained("classifier-digits", device=device)
        free, schedule = checkpoints.load_pretrained("digits", device=device)
        cond, _ = checkpoints.load_pretrained("digits-cond", device=device)
    except (FileNotFoundError, ValueError) as e:
        print(f"\n(classifier-guidance table skipped: {e})")
        return
    torch.manual_seed(0)
    classifier = NoisyClassifier(in_channels=1, num_classes=10, width=16)
    start = time.perf_counter()
    train_noisy_classifier(classifier, schedule, load_digits(16, "train"), steps=classifier_steps, seed=0, device=device,
                           progress=False)
    train_seconds = time.perf_counter() - start
    _, test_feats = predict(judge, load_digits(16, "test").tensors[0])
    labels = (torch.arange(n) % 10).to(device)
    settings = [("digits, no guidance", free, {})]
    settings += [(f"digits + classifier guidance s = {s:g}", free,
                  {"guidance_fn": ClassifierGuidance(classifier, schedule, labels, s)}) for s in (3.0, 10.0, 30.0)]
    context = torch.nn.functional.one_hot(labels, 10).float()
    settings += [(f"digits-cond, classifier-free w = {w:g}", cond, {"context": context, "guidance": w}) for w in (0.0, 1.0)]
    rows: list[list[object]] = []
    for name, model, options in settings:
        start = time.perf_counter()
        x = sample(model, DDIMSampler(schedule, 25), (n, 1, 16, 16), generator=torch.Generator().manual_seed(0),
                   device=device, progress=False, **options).cpu()
        seconds = time.perf_counter() - start
        scores = judge_images(judge, x.clamp(-1, 1), test_feats, labels=labels)
        rows.append([name, scores.accuracy, scores.fid, 1000 * seconds / n])
    print_table(f"Classifier guidance ({n} samples per row, DDIM 25; noise-aware classifier: {classifier_steps} steps in "
                f"{train_seconds:.0f} s; judge: classifier-digits)", ["model", "accuracy", "FID", "ms per sample"], rows)


def samplers(device: torch.device, n: int, step_counts: tuple[int, ...] = (5, 10, 20, 50)) -> None:
    """Lesson 08: the digits model's quality against network evaluations, per sampler and timestep spacing."""
    try:
        judge, _ = checkpoints.load_pretrained("classifier-digits", device=device)
        model, schedule = checkpoints.load_pretrained("digits", device=device)
    except (FileNotFoundError, ValueError) as e:
        print(f"\n(samplers table skipped: {e})")
        return
    _, train_feats = predict(judge, load_digits(16, "train").tensors[0])
    _, test_feats = predict(judge, load_digits(16, "test").tensors[0])
    T = schedule.num_timesteps
    settings: list[tuple[str, str, object]] = [("DDPM", "all", DDPMSampler(schedule))]
    for k in step_counts:
        settings += [("DDIM", "trailing", DDIMSampler(schedule, k, timestep_spacing="trailing")),
                     ("DPM-Solver++(2M)", "trailing", DPMSolverSampler(schedule, k, timestep_spacing="trailing")),
                     ("SDE-DPM-Solver++(2M)", "trailing", DPMSolverSampler(schedule, k, stochastic=True)),
                     ("DDPM-like (DDIM, eta = 1)", "trailing", DDIMSampler(schedule, k, eta=1.0, timestep_spacing="trailing"))]
    for k in (*step_counts, T // 2 + 1):
        settings += [("DDIM", spacing, DDIMSampler(schedule, k, timestep_spacing=spacing)) for spacing in ("leading", "linspace")]
        settings += [("DPM-Solver++(2M)", spacing, DPMSolverSampler(schedule, k, timestep_spacing=spacing))
                     for spacing in ("leading", "linspace") if k < T // 2]
    settings.append(("DDIM", "trailing", DDIMSampler(schedule, T // 2 + 1, timestep_spacing="trailing")))
    real_name, real_fid_value = real_fid(train_feats, test_feats, n)
    rows: list[list[object]] = [[real_name, "-", "-", "-", "-", "-", real_fid_value, "-"]]
    for name, spacing, sampler in settings:
        start = time.perf_counter()
        x = sample(model, sampler, (n, 1, 16, 16), generator=torch.Generator().manual_seed(0), device=device,
                   progress=False).cpu()
        seconds = time.perf_counter() - start
        scores = judge_images(judge, x.clamp(-1, 1), test_feats)
        rows.append([name, spacing, len(sampler.timesteps), int(sampler.timesteps[0]), scores.confident,
                     scores.class_entropy, scores.fid, seconds])
    print_table(f"Samplers: quality against network evaluations (digits, {n} samples per row, seed 0; judge: "
                f"classifier-digits; FID against the held-out digits, for real digits mean ± sd over {REAL_FID_DRAWS} draws)",
                ["sampler", "spacing", "network evaluations", "first t", "confident (>0.9)", "class entropy (nats)", "FID",
                 "seconds"], rows)


def _mean_se(values: list[float]) -> str:
    """"mean ± standard error" of per-seed values, to three decimals (the mean alone for one seed)."""
    v = torch.tensor(values, dtype=torch.float64)
    return f"{v.mean():.3f} ± {v.std() / len(v) ** 0.5:.3f}" if len(v) > 1 else f"{v.mean():.3f}"


def ten_steps(device: torch.device, n: int, seeds: int = 10, guidance: float = DEFAULT_GUIDANCE) -> None:
    """The 10-step samplers against DDPM, mean ± standard error over ``seeds`` seeds of ``n`` samples."""
    from . import text_to_image as t2i

    try:
        judge, _ = checkpoints.load_pretrained("classifier-digits", device=device)
        sprite_judge, _ = checkpoints.load_pretrained("classifier-sprites", device=device)
        models = {name: checkpoints.load_pretrained(name, device=device) for name in ("digits", "digits-cond", "sprites")}
    except (ImportError, FileNotFoundError, ValueError) as e:
        print(f"\n(ten-steps table skipped: {e})")
        return
    train_images = load_digits(16, "train").tensors[0]
    _, test_feats = predict(judge, load_digits(16, "test").tensors[0])
    digit_labels = torch.arange(n) % 10
    _, sprite_labels = t2i.caption_set("seen", n)
    contexts = {"digits": None, "digits-cond": torch.nn.functional.one_hot(digit_labels, 10).float(),
                "sprites": t2i.attribute_context(sprite_labels)}
    dpm_10 = [("DPM-Solver++(2M) 10", lambda s: DPMSolverSampler(s, 10)),
              ("SDE-DPM-Solver++(2M) 10", lambda s: DPMSolverSampler(s, 10, stochastic=True))]
    samplers_by_model = {
        "digits": [("DDPM", DDPMSampler), ("DDIM 10", lambda s: DDIMSampler(s, 10)), *dpm_10,
                   ("SDE-DPM-Solver++(2M) 20", lambda s: DPMSolverSampler(s, 20, stochastic=True))],
        "digits-cond": dpm_10, "sprites": dpm_10,
    }
    rows: list[list[object]] = []
    for name, sampler_makers in samplers_by_model.items():
        model, schedule = models[name]
        context, w = contexts[name], guidance if contexts[name] is not None else 0.0
        for sampler_name, make in sampler_makers:
            scores: dict[str, list[float]] = {"confident": [], "right": [], "fid": [], "nn": [], "near": []}
            for seed in range(seeds):
                x = sample(model, make(schedule), (n, model.in_channels, 16, 16), context=context, guidance=w,
                           generator=torch.Generator().manual_seed(seed), device=device, progress=False).cpu()
                if name == "sprites":
                    scores["right"].append(t2i.judge_attributes(sprite_judge, x, sprite_labels)["all three"])
                    continue
                judged = judge_images(judge, x.clamp(-1, 1), test_feats, labels=digit_labels if context is not None else None)
                nn_dist, _ = nearest_neighbour_distance(x, train_images)
                scores["confident"].append(judged.confident)
                scores["fid"].append(judged.fid)
                scores["nn"].append(nn_dist.median().item())
                scores["near"].append(near_copy_fraction(nn_dist))
                if judged.accuracy is not None:
                    scores["right"].append(judged.accuracy)
            rows.append([name, sampler_name, w] + [_mean_se(scores[k]) if scores[k] else "-" for k in scores])
    print_table(f"Ten steps against DDPM (mean ± standard error over {seeds} seeds of {n} samples; judges: "
                f"classifier-digits, classifier-sprites; FID against the held-out digits; sprites: seen captions)",
                ["model", "sampler", "guidance", "confident (>0.9)", "right label / all attributes", "FID",
                 "median NN distance", f"near-copies (< {NEAR_COPY_DISTANCE})"], rows)


TABLES = {"speed": lambda device, n, seeds: speed(device), "quality": lambda device, n, seeds: quality(device, n),
          "samplers": lambda device, n, seeds: samplers(device, n), "ten-steps": ten_steps,
          "text-to-image": lambda device, n, seeds: text_to_image(device, n),
          "classifier-guidance": lambda device, n, seeds: classifier_guidance(device, n)}


def main() -> None:
    parser = OneLineParser(prog="python -m course_lib.bench", description=__doc__.split("\n")[0])
    parser.add_argument("--device", default=None)
    parser.add_argument("--n", type=argparse_type("--n", lambda name, v: check_int(name, v, 2)), default=500,
                        help="samples per quality row (at least 2)")
    parser.add_argument("--seeds", type=argparse_type("--seeds", lambda name, v: check_int(name, v, 1)), default=10,
                        help="seeds per row of the ten-steps table")
    parser.add_argument("--tables", default=",".join(TABLES), help=f"comma-separated subset of {', '.join(TABLES)} (default all)")
    args = parser.parse_args()
    tables = args.tables.split(",")
    unknown = [t for t in tables if t not in TABLES]
    if unknown:
        parser.error(f"--tables: unknown {', '.join(unknown)}; choose from {', '.join(TABLES)}")
    device = get_device(args.device)
    for table in tables:
        TABLES[table](device, args.n, args.seeds)


if __name__ == "__main__":
    main()
