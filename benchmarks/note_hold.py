"""How long notes hold in generated clips, next to real clips of the genre and to real clips that went
through the recipe's own spectrogram round trip (encode, then Griffin-Lim): what the sound path allows.

"Notes hold" is sslab.audio.features.chroma_hold_seconds: the lag at which the autocorrelation of a
clip's chroma (pitch content) falls to 1/2; a melody of notes d seconds long holds about d/2, noise
about 0.02 s. The recipe measures it on its 2 s evaluation clips; this measures it on longer clips
(``--seconds``, 6 by default), where lags of a second or more are visible.

    python benchmarks/note_hold.py --real DIR/genres/classical RUN_DIR [RUN_DIR ...] \\
        [--genre classical] [--n 12] [--seconds 6] [--roundtrip mel:64 mel:96 stft]

Each RUN_DIR is a finished `sslab run generate` directory: its first seed's sampler makes ``--n`` clips
with ``--seed``, the clips `sslab sample` makes. Real clips: up to 24 files of ``--real``, evenly spaced in
name order, ``--seconds`` from 10 s in (or from the start when shorter), resampled to each run's rate.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

from sslab.audio.features import clip_features
from sslab.audio.generative import generate_audio, load_sampler
from sslab.audio.io import AUDIO_SUFFIXES, read_audio, resample
from sslab.audio.spectral import SpectralDomain
from sslab.commands.generate import sampler_file
from sslab.errors import UserError


def real_clips(folder: Path, rate: int, seconds: float, most: int = 24) -> np.ndarray:
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in AUDIO_SUFFIXES) if folder.is_dir() else []
    if not files:
        raise UserError(f"{folder}: no audio files; pass the folder of one genre's clips with --real")
    files = [files[i] for i in np.linspace(0, len(files) - 1, min(most, len(files))).round().astype(int)]
    length = int(round(seconds * rate))
    out = []
    for path in files:
        wave, sr, _ = read_audio(path)
        wave = resample(wave, sr, rate)
        start = int(10 * rate) if len(wave) >= int(10 * rate) + length else 0
        if len(wave) - start >= length:
            out.append(wave[start: start + length])
    if len(out) < 2:
        raise UserError(f"{folder}: fewer than 2 clips of at least {seconds:g} s; lower --seconds")
    return np.stack(out).astype(np.float64)


def medians(wave: np.ndarray, rate: int) -> dict[str, float]:
    m = clip_features(wave, rate)
    return {"hold": float(np.median(m.hold_s)), "flatness": float(np.median(m.flatness)),
            "harmonicity": float(np.median(m.harmonicity))}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run_dirs", nargs="*", help="finished `sslab run generate` directories")
    p.add_argument("--real", required=True, type=Path, help="folder of real clips of the genre")
    p.add_argument("--genre", default="classical", help="genre to generate (default classical)")
    p.add_argument("--n", type=int, default=12, help="generated clips per run (default 12)")
    p.add_argument("--seconds", type=float, default=6.0, help="clip length (default 6)")
    p.add_argument("--seed", type=int, default=0, help="random seed of the generated clips (default 0)")
    p.add_argument("--roundtrip", nargs="*", default=["mel:64", "mel:96", "stft"],
                   help="spectrogram domains to round-trip real clips through: mel:N_MELS or stft "
                        "(n_fft 512, hop 128, 32 Griffin-Lim iterations: the default preset's)")
    args = p.parse_args(argv)
    try:
        rate = 16000
        samplers = [(d, *load_sampler(sampler_file(Path(d)))) for d in args.run_dirs]  # as `sslab sample` finds it
        rates = {domain.sample_rate for _, _, domain, _, _ in samplers} or {rate}
        if len(rates) > 1:
            raise UserError(f"the runs use different sample rates {sorted(rates)}; compare runs of one rate")
        rate = rates.pop()
        real = real_clips(args.real, rate, args.seconds)
        ref = medians(real, rate)
        print(f"real {args.real}: {len(real)} clips of {args.seconds:g} s at {rate} Hz: notes hold "
              f"{ref['hold']:.3f} s (median)")
        print("| clips | notes hold (s) | / real | flatness / real | harmonicity / real |\n|---|---|---|---|---|")

        def row(name: str, got: dict[str, float]) -> None:
            print(f"| {name} | {got['hold']:.3f} | {got['hold'] / ref['hold']:.2f}x | "
                  f"{got['flatness'] / ref['flatness']:.2f}x | {got['harmonicity'] / ref['harmonicity']:.2f}x |")

        for spec in args.roundtrip:
            kind, _, n_mels = spec.partition(":")
            if kind not in ("mel", "stft") or (kind == "mel" and not n_mels.isdigit()):
                raise UserError(f"--roundtrip {spec}: use mel:N_MELS (e.g. mel:64) or stft")
            domain = SpectralDomain(kind=kind, sample_rate=rate, n_fft=512, hop=128, n_mels=int(n_mels or 80))
            wave = torch.from_numpy(real).float()
            back = domain.decode(domain.encode(wave), iters=32, seconds=args.seconds,
                                 phase=torch.rand(len(real), 257, domain.frames(args.seconds),
                                                  generator=torch.Generator().manual_seed(0)))
            row(f"real through {spec} + Griffin-Lim", medians(back.numpy().astype(np.float64), rate))
        for d, sampler, domain, genres, meta in samplers:
            names = [g.lower() for g in genres]
            if args.genre.lower() not in names:
                raise UserError(f"{d}: no genre {args.genre!r}; it knows {', '.join(genres)}")
            ids = torch.full((args.n,), names.index(args.genre.lower()), dtype=torch.long)
            wave = generate_audio(sampler, domain, ids, args.seconds, int(meta.get("griffin_lim_iters", 32)),
                                  torch.Generator().manual_seed(args.seed))  # the clips `sslab sample` makes
            row(f"generated: {d}", medians(wave.numpy().astype(np.float64), rate))
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
