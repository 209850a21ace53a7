"""Cost of PESQ and STOI in `denoise`, against the quick run they are added to.

Runs the quick preset once with the perceptual scores off (the reference), then scores
100 validation-length files (the quick data's validation files, repeated) by PESQ alone
and by PESQ and STOI, in the process pool the recipe uses, and prints each time and its
ratio to the quick run. Target: PESQ on 100 validation files adds at most 20% to a quick
run. Also prints what the recipe's whole end-of-run table costs (every system's PESQ and
STOI on the quick run's validation set), read from the run with the scores on.

    python benchmarks/denoise_quality.py [--workers N] [--out DIR]

Each time is printed as wall seconds and CPU seconds (this process and its pool workers);
on a shared machine the CPU ratio is the one that does not depend on the other jobs.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import torch

from sslab.audio.metrics import default_workers, perceptual_many
from sslab.data.denoise import made_up
from sslab.data.synthetic_speech import espeak_available
from sslab.recipes.denoise.config import Config
from sslab.runner import run_recipe


def clock() -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process and its finished children)."""
    t = os.times()
    return time.perf_counter(), t.user + t.system + t.children_user + t.children_system


def since(start: tuple[float, float]) -> tuple[float, float]:
    now = clock()
    return now[0] - start[0], now[1] - start[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=default_workers(), help="PESQ/STOI processes")
    parser.add_argument("--out", type=Path, default=None, help="where the two quick runs go (default: a temp folder)")
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="denoise-quality-"))
    print(f"torch threads {torch.get_num_threads()}, PESQ/STOI workers {args.workers}")

    start = clock()
    run_recipe("denoise", preset="quick", overrides={"perceptual": "false"}, out=out)
    quick, quick_cpu = since(start)
    print(f"quick run without PESQ/STOI: {quick:.1f} s wall, {quick_cpu:.1f} s CPU")

    cfg = Config()  # the quick preset's made-up data, validation files of its length
    speech = "espeak" if espeak_available() else "synthetic"
    data = made_up(cfg.made_speakers, cfg.made_sentences, cfg.noises_per_utterance, cfg.made_val_speakers,
                   cfg.made_test_speakers, (cfg.snr_low, cfg.snr_high), (0.65 * cfg.made_seconds, 1.35 * cfg.made_seconds),
                   speech, seed=1)
    val = data.val
    pairs = [(val.speech.signal(i % len(val.noisy)).numpy(), val.noisy.signal(i % len(val.noisy)).numpy())
             for i in range(100)]
    seconds = sum(len(s) for s, _ in pairs) / data.sample_rate
    for metrics in (("pesq",), ("pesq", "stoi")):
        start = clock()
        perceptual_many(pairs, data.sample_rate, metrics, workers=args.workers)
        took, took_cpu = since(start)
        print(f"{' and '.join(m.upper() for m in metrics)} of 100 files ({seconds:.0f} s of audio): {took:.1f} s wall "
              f"= {took / quick:.1%} of the quick run; {took_cpu:.1f} s CPU = {took_cpu / quick_cpu:.1%} "
              "(target for PESQ: at most 20%)")

    start = clock()
    run = run_recipe("denoise", preset="quick", out=out)
    full, full_cpu = since(start)
    scored = sum(r["seconds"] for r in run.select(phase="quality_cost"))
    print(f"quick run with every system's PESQ and STOI: {full:.1f} s wall, {full_cpu:.1f} s CPU; the end-of-run "
          f"scores took {scored:.1f} s wall ({scored / (full - scored):.1%} on top of the rest of the run), "
          f"{full_cpu - quick_cpu:.1f} s more CPU than without them ({(full_cpu - quick_cpu) / quick_cpu:.1%})")


if __name__ == "__main__":
    main()
