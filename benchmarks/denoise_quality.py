"""Cost of PESQ and STOI in `denoise`, against the quick run they are added to.

Runs the quick preset once with the perceptual scores off (the reference), then scores
100 validation-length files (the quick data's validation files, repeated) by PESQ alone
and by PESQ and STOI, in the process pool the recipe uses, and prints each time and its
ratio to the quick run. Target: PESQ on 100 validation files adds at most 20% to a quick
run. Also prints what the recipe's whole end-of-run table costs (every system's PESQ and
STOI on the quick run's validation set), read from the run with the scores on.

    python benchmarks/denoise_quality.py [--workers N] [--out DIR]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

from sslab.audio.metrics import default_workers, perceptual_many
from sslab.data.denoise import made_up
from sslab.data.synthetic_speech import espeak_available
from sslab.recipes.denoise.config import Config
from sslab.runner import run_recipe


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=default_workers(), help="PESQ/STOI processes")
    parser.add_argument("--out", type=Path, default=None, help="where the two quick runs go (default: a temp folder)")
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="denoise-quality-"))
    print(f"torch threads {torch.get_num_threads()}, PESQ/STOI workers {args.workers}")

    start = time.perf_counter()
    run_recipe("denoise", preset="quick", overrides={"perceptual": "false"}, out=out)
    quick = time.perf_counter() - start
    print(f"quick run without PESQ/STOI: {quick:.1f} s")

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
        start = time.perf_counter()
        perceptual_many(pairs, data.sample_rate, metrics, workers=args.workers)
        took = time.perf_counter() - start
        print(f"{' and '.join(m.upper() for m in metrics)} of 100 files ({seconds:.0f} s of audio): {took:.1f} s = "
              f"{took / quick:.1%} of the quick run (target for PESQ: at most 20%)")

    start = time.perf_counter()
    run = run_recipe("denoise", preset="quick", out=out)
    full = time.perf_counter() - start
    scored = [r["seconds"] for r in run.select(phase="quality") if "seconds" in r]
    print(f"quick run with every system's PESQ and STOI: {full:.1f} s, of which the scores took {sum(scored):.1f} s "
          f"({sum(scored) / (full - sum(scored)):.1%} on top of the rest of the run)")


if __name__ == "__main__":
    main()
