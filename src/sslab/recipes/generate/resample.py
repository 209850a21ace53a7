"""Sample a finished `generate` run again with other sampling settings, without training: score the clips as
the run's final evaluation does (the feature-based second opinion, fitted on the run's own data and split),
and say what sets them apart from real clips of the test genre.

    python -m sslab.recipes.generate.resample RUN_DIR [RUN_DIR ...] [--guidance 4 6] [--steps 8 16] [--data DIR]

Each RUN_DIR's seeds are sampled with their saved samplers (the weights `sslab sample` uses) and the clips of
the run's final evaluation (same count, length and random seed), once per combination of ``--guidance`` and
``--steps`` (the flow's classifier-free guidance and Heun steps; by default the run's own, which reproduces
the run's final second opinion exactly). ``--data`` replaces the music folder the run recorded (say, after
moving it). Sampling settings change the sound but not the model: a setting that helps here needs no retraining.
"""

from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path

import numpy as np
import torch

from sslab.audio.generative import FlowSampler, load_sampler
from sslab.config import config_from_dict
from sslab.errors import UserError
from sslab.recipes.generate.config import Config
from sslab.recipes.generate.report import what_sets_apart
from sslab.recipes.generate.train import SecondOpinion, final_clips, held_out_segments, load_data
from sslab.train.rundir import Run, recipe_run_dir


def second_opinion(cfg: Config, data_dir: Path | None) -> tuple[SecondOpinion, tuple[str, ...], int]:
    """The run's second opinion, fitted again on its data and split (deterministic: the run's own)."""
    data = load_data(cfg, data_dir, torch.device("cpu"))
    real, labels, _ = held_out_segments(data, cfg.eval_seconds)
    return SecondOpinion.fit(cfg, data, real, labels), data.genres, data.sample_rate


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run_dirs", nargs="+", help="finished `sslab run generate` directories")
    p.add_argument("--guidance", type=float, nargs="*", default=None, help="guidance values (default: the run's)")
    p.add_argument("--steps", type=int, nargs="*", default=None, help="Heun steps (default: the run's)")
    p.add_argument("--data", type=Path, default=None, help="the music folder, if not where the run recorded it")
    args = p.parse_args(argv)
    try:
        if any(g <= 0 or not np.isfinite(g) for g in args.guidance or []) or any(s < 1 for s in args.steps or []):
            raise UserError("--guidance must be positive numbers and --steps whole numbers of at least 1")
        print("| run | seed | guidance | steps | second opinion: test genre (%) | feature Frechet / floor (x) | "
              "flatness / real (x) | harmonicity / real (x) | notes hold / real (x) | what sets them apart |")
        print("|---|---|---|---|---|---|---|---|---|---|")
        for d in args.run_dirs:
            run = Run.open(recipe_run_dir(Path(d), "generate"))
            conf = run.config()
            ok = isinstance(conf, dict) and conf.get("recipe") == "generate" and isinstance(conf.get("config"), dict)
            if not ok:
                raise UserError(f"{d}: its config.yaml is not that of a `sslab run generate` run; pass one")
            cfg = config_from_dict(Config, conf["config"], str(run.root / "config.yaml"))
            data_dir = args.data or (Path(conf["data"]) if conf.get("data") else None)
            if data_dir is not None and not data_dir.is_dir():
                raise UserError(f"{d}: its music folder {data_dir} is gone; pass where it is now with --data")
            second, names, rate = second_opinion(cfg, data_dir)
            genre = cfg.test_genre
            for seed in conf["seeds"]:
                path = run.checkpoint_path(f"seed{seed}/sampler")
                if not path.is_file():
                    raise UserError(f"{d}: seed {seed} has no sampler yet; finish the run with "
                                    f"`sslab run --resume {d}`")
                sampler, domain, genres, meta = load_sampler(path)
                if list(genres) != list(names) or domain.sample_rate != rate:
                    raise UserError(f"{d}: the sampler's genres or rate do not match the data; pass the run's "
                                    "own music folder with --data")
                flow = isinstance(sampler, FlowSampler)
                own = (sampler.guidance, sampler.steps) if flow else (None, None)
                for g, s in itertools.product(args.guidance or [own[0]], args.steps or [own[1]]):
                    if flow:
                        sampler.guidance, sampler.steps = g, s
                    elif (g, s) != own:
                        raise UserError(f"{d}: a {meta.get('model', 'non-flow')} sampler has no guidance or "
                                        "steps to change; leave out --guidance and --steps")
                    wave, ids = final_clips(cfg, seed, sampler, domain, len(names))
                    m = second.measures(wave.numpy().astype(np.float64), ids.numpy(), names)
                    print(f"| {d} | {seed} | {g if flow else '-'} | {s if flow else '-'} | "
                          f"{100 * m['acc'][genre]:.0f} | {m['fd_ratio'][genre]:.2f} | "
                          f"{m['flatness_ratio'][genre]:.2f} | "
                          f"{m['harmonicity_ratio'][genre]:.2f} | {m['hold_ratio'][genre]:.2f} | "
                          f"{what_sets_apart([m], genre) or 'nothing much'} |", flush=True)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
