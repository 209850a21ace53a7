"""Why the second opinion calls generated clips what it calls them: per feature group, how far
the generated clips of the test genre sit from real ones, in the feature classifier's own terms.

For a finished `generate` run on real music, it refits the run's second opinion (the same clips,
the same fixed choice), loads the saved sampler, generates ``--n`` clips of the test genre for
each ``--guidance`` (and ``--seconds``) asked, and prints for each set: the share called the test
genre, median flatness / harmonicity / onset rate, and the shift of the logit (test genre minus
the other genre; two-genre sets) that each feature group causes relative to real clips of the test
genre: ``(mean standardised feature, generated - real) x (weight of test genre - weight of the
other)``, summed over the group. Negative: that group pushes the clips away from the test genre.
Real held-out clips after the model's spectral round trip (magnitude kept, phase by Griffin-Lim)
are printed first: what a perfect magnitude generator would get.

    python -m sslab.recipes.generate.diagnose RUN_DIR [--guidance 2 4] [--n 24] [--seconds 2 6]

(A recipe module, not a benchmark: it reuses the recipe's own steps to refit the second opinion.)
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from sslab.audio import features as handmade
from sslab.audio.generative import generate_audio, load_sampler
from sslab.config import config_from_dict
from sslab.recipes.generate import train as T
from sslab.recipes.generate.config import Config
from sslab.train.rundir import Run

GROUPS = {"MFCC means": range(0, 13), "MFCC stds (timbre change over time)": range(13, 26),
          "spectral shape": range(26, 32), "chroma": range(32, 45), "spectral contrast": range(45, 51),
          "harmonicity": range(51, 53), "flux std": [53], "onsets per s": [54], "beat regularity": [55]}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run_dir")
    p.add_argument("--guidance", type=float, nargs="*", default=[], help="guidance scales to try (flow)")
    p.add_argument("--seconds", type=float, nargs="*", default=[], help="clip lengths to try (first 2 s judged)")
    p.add_argument("--n", type=int, default=24)
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    run = Run.open(args.run_dir)
    saved = run.config()
    cfg = config_from_dict(Config, saved["config"])
    data = T.load_data(cfg, Path(saved["data"]) if saved.get("data") else None, torch.device("cpu"))
    real, labels, _ = T.held_out_segments(data, cfg.eval_seconds)
    second = T.SecondOpinion.fit(cfg, data, real, labels)
    names = data.genres
    if len(names) != 2:
        raise SystemExit("two-genre runs only (the logit shift is test genre vs the other)")
    c = names.index(cfg.test_genre)
    o = 1 - c
    w = second.classifier.weights[:-1]
    towards = w[:, c] - w[:, o]
    mean, scale = second.classifier.mean, second.classifier.scale
    z_real = ((second.test.features[second.test_labels == c] - mean) / scale).mean(axis=0)
    z_other = ((second.test.features[second.test_labels == o] - mean) / scale).mean(axis=0)

    def show(title: str, wave: np.ndarray) -> None:
        got = handmade.clip_features(wave, data.sample_rate)
        called = float((second.classifier.predict(got.features) == c).mean())
        z = ((got.features - mean) / scale).mean(axis=0)
        shift = (z - z_real) * towards
        print(f"\n{title}: called {cfg.test_genre} {100 * called:.0f}% of {len(wave)}; median flatness "
              f"{np.median(got.flatness):.4f}, harmonicity {np.median(got.harmonicity):.3f}, "
              f"onsets/s {np.median(got.onsets_per_s):.2f}")
        for group, idx in GROUPS.items():
            idx = list(idx)
            print(f"  {group:38s} logit shift {shift[idx].sum():+6.2f}   mean z: these {z[idx].mean():+5.2f}, "
                  f"real {cfg.test_genre} {z_real[idx].mean():+5.2f}, real {names[o]} {z_other[idx].mean():+5.2f}")

    real_c = real[second.test_index][torch.from_numpy(second.test_labels == c)]
    sampler, domain, _, meta = load_sampler(next((run.root / "checkpoints").glob("seed*-sampler.safetensors")))
    iters = int(meta.get("griffin_lim_iters", cfg.griffin_lim_iters))
    rebuilt = domain.decode(domain.encode(real_c), iters, cfg.eval_seconds, torch.Generator().manual_seed(0))
    show(f"real held-out {cfg.test_genre} after the {domain.kind} round trip", rebuilt.numpy().astype(np.float64))
    judged = int(round(cfg.eval_seconds * data.sample_rate))
    for guidance in args.guidance or [getattr(sampler, "guidance", None)]:
        for seconds in args.seconds or [cfg.eval_seconds]:
            if guidance is not None:
                sampler.guidance = guidance
            wave = generate_audio(sampler, domain, torch.full((args.n,), c), seconds, iters,
                                  torch.Generator().manual_seed(1))[:, :judged]
            show(f"generated {cfg.test_genre}, guidance {guidance}, {seconds:g} s clips", wave.numpy().astype(np.float64))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
