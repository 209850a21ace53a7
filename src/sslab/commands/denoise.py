"""``sslab denoise`` (apply a trained model), ``sslab score`` (SNR, SI-SDR, PESQ, STOI of
estimates against references) and ``sslab data make-denoise`` (build the assignment's data layout)."""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

import numpy as np
import torch

from sslab.config import cli_number
from sslab.errors import UserError

STEM_NUMBER = re.compile(r"(\d+)$")


# ---- loading a trained model ----------------------------------------------------------------
def model_file(checkpoint: Path, arm: str = "rnn", seed: int | None = None) -> Path:
    """The model file inside a run directory (a `run all` folder's denoise run; or ``checkpoint`` itself
    if it is a file)."""
    from sslab.train.rundir import recipe_run_dir

    checkpoint = Path(checkpoint)
    if checkpoint.is_file():
        return checkpoint
    if not checkpoint.is_dir():
        raise UserError(f"--checkpoint {checkpoint}: no such run directory or model file")
    checkpoint = recipe_run_dir(checkpoint, "denoise")
    found = sorted((checkpoint / "checkpoints").glob(f"seed*-{arm}-model.safetensors"))
    if seed is not None:
        found = [p for p in found if p.name == f"seed{seed}-{arm}-model.safetensors"]
    if not found:
        raise UserError(f"--checkpoint {checkpoint}: no {arm} model in it (checkpoints/seed*-{arm}-model.safetensors); "
                        "pass the folder `sslab run denoise` wrote, after it finished training")
    return found[0]


def load_masker(path: Path, device: torch.device | str = "cpu"):
    from sslab.audio.models import build_masker
    from sslab.train.checkpoint import load_model, read_model_meta

    meta = read_model_meta(path)
    if meta.get("recipe") != "denoise" or "architecture" not in meta:
        raise UserError(f"{path}: not a model written by `sslab run denoise`")
    for key, low in (("sample_rate", 1000), ("n_fft", 16), ("hop", 1)):
        value = meta.get(key, 1024 if key == "n_fft" else 512 if key == "hop" else None)
        if not isinstance(value, int) or isinstance(value, bool) or value < low:
            raise UserError(f"{path}: its `{key}: {value}` is malformed (need a whole number of at least {low}); "
                            "write the model again with `sslab run denoise`")
    try:
        model = build_masker(meta["architecture"])
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise UserError(f"{path}: its `architecture` is malformed ({type(exc).__name__}: {exc}); write the model "
                        "again with `sslab run denoise`") from None
    load_model(path, model)
    return model.to(device).eval(), meta


# ---- sslab denoise ------------------------------------------------------------------------------
def _denoise_file(model, meta: dict, src: Path, dst: Path, stream: bool, chunk: int, timing: list) -> list[str]:
    """Denoise one file into ``dst``; return notes for the user."""
    from sslab.audio.io import read_audio, resample, write_wav
    from sslab.audio.stream import StreamingDenoiser, denoise_signal

    samples, rate, channels = read_audio(src)
    notes = []
    if channels > 1:
        notes.append(f"{channels} channels downmixed to mono")
    model_rate = int(meta["sample_rate"])
    work = samples
    if rate != model_rate:
        notes.append(f"resampled {rate} -> {model_rate} Hz for the model and back")
        work = resample(samples, rate, model_rate)
    if len(work) <= meta.get("n_fft", 1024) // 2:
        raise UserError(f"{src}: only {len(samples)} samples; too short to denoise")
    start = time.perf_counter()
    if stream:
        denoiser = StreamingDenoiser(model, meta.get("n_fft", 1024), meta.get("hop", 512))
        pieces = [denoiser.push(work[i:i + chunk]) for i in range(0, len(work), chunk)]
        pieces.append(denoiser.finish())
        out = np.concatenate(pieces)
    else:
        out = denoise_signal(model, work, next(model.parameters()).device)
    timing.append((time.perf_counter() - start, len(work) / model_rate, (len(work) + chunk - 1) // chunk))
    if rate != model_rate:
        out = resample(out, model_rate, rate)[:len(samples)]
    write_wav(dst, out, rate)
    return notes


def cmd_denoise(args: argparse.Namespace) -> int:
    from sslab.audio.io import AUDIO_SUFFIXES
    from sslab.train.seeding import resolve_device

    device = resolve_device(args.device)
    path = model_file(args.checkpoint, args.model, args.seed)
    model, meta = load_masker(path, "cpu" if args.stream else device)
    src = Path(args.input)
    if src.is_dir():
        inputs = sorted(p for p in src.iterdir() if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES)
        if not inputs:
            raise UserError(f"--input {src}: no audio files in it")
    elif src.is_file():
        inputs = [src]
    else:
        raise UserError(f"--input {src}: no such file or folder")
    out = Path(args.output)
    if out.exists() and not out.is_dir():
        raise UserError(f"--output {out}: exists and is not a folder")
    if any(p.parent.resolve() == out.resolve() for p in inputs):
        raise UserError(f"--output {out}: is the input folder; choose another so the originals are kept")
    chunk = max(1, int(round(args.chunk_ms * meta["sample_rate"] / 1000)))
    failed: list[str] = []
    timing: list[tuple[float, float, int]] = []
    for p in inputs:
        dst = out / (p.stem + ".wav")
        try:
            notes = _denoise_file(model, meta, p, dst, args.stream, chunk, timing)
        except UserError as exc:
            print(f"sslab: skipped {p}: {exc}", file=sys.stderr)
            failed.append(str(p))
            continue
        print(f"{p} -> {dst}" + (f" ({'; '.join(notes)})" if notes else ""))
    if timing:
        compute, audio, chunks = (sum(t[i] for t in timing) for i in range(3))
        line = f"denoised {audio:.1f} s of audio in {compute:.2f} s (real-time factor {compute / audio:.3f})"
        if args.stream:
            window_ms = 1000 * meta.get("n_fft", 1024) / meta["sample_rate"]
            line += (f"; streaming in {args.chunk_ms:g} ms chunks: latency = window {window_ms:.0f} ms + chunk "
                     f"{args.chunk_ms:g} ms + {1000 * compute / chunks:.2f} ms compute per chunk")
        print(line)
    if failed:
        print(f"sslab: error: {len(failed)} of {len(inputs)} files could not be denoised (listed above)", file=sys.stderr)
        return 1
    return 0


# ---- sslab score --------------------------------------------------------------------------------
def _wavs(folder: Path, flag: str) -> list[Path]:
    from sslab.audio.io import AUDIO_SUFFIXES

    if not folder.is_dir():
        raise UserError(f"{flag} {folder}: no such folder")
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES)
    if not files:
        raise UserError(f"{flag} {folder}: no audio files in it")
    return files


def _by_number(files: list[Path], flag: str) -> dict[int, Path]:
    table: dict[int, Path] = {}
    for p in files:
        match = STEM_NUMBER.search(p.stem)
        if match is None:
            continue
        number = int(match.group(1))
        if number in table:
            raise UserError(f"{flag}: {table[number].name} and {p.name} end in the same number, so estimates cannot "
                            "be paired by number; keep one file per number in the folder")
        table[number] = p
    return table


def pair_files(references: list[Path], estimates: list[Path]) -> tuple[list[tuple[Path, Path]], list[Path], list[Path]]:
    """Pairs (reference, estimate): identical names first, then equal trailing numbers
    (``tes0007.wav`` with ``tex0007.wav``). Returns (pairs, references without an estimate,
    estimates without a reference)."""
    est_by_name = {p.name: p for p in estimates}
    pairs, rest_ref = [], []
    used: set[Path] = set()
    for r in references:
        if r.name in est_by_name:
            pairs.append((r, est_by_name[r.name]))
            used.add(est_by_name[r.name])
        else:
            rest_ref.append(r)
    rest_est = [e for e in estimates if e not in used]
    _by_number(rest_ref, "--reference")  # refuses two references that end in one number
    est_num = _by_number(rest_est, "--estimate")
    missing = []
    for r in rest_ref:
        match = STEM_NUMBER.search(r.stem)
        e = est_num.get(int(match.group(1))) if match else None
        if e is None:
            missing.append(r)
        else:
            pairs.append((r, e))
            used.add(e)
    extra = [e for e in estimates if e not in used]
    return sorted(pairs), missing, extra


SCORE_METRICS = {"snr": ("snr_db", "SNR dB"), "si-sdr": ("si_sdr_db", "SI-SDR dB"), "pesq": ("pesq", "PESQ"),
                 "stoi": ("stoi", "STOI")}


def parse_metrics(text: str) -> list[str]:
    """``snr,si-sdr,pesq,stoi`` -> the list, checked; one line naming an unknown metric."""
    metrics = [m.strip().lower() for m in text.split(",") if m.strip()]
    unknown = [m for m in metrics if m not in SCORE_METRICS]
    if unknown or not metrics:
        raise UserError(f"--metrics {text}: {'unknown metric ' + ', '.join(unknown) if unknown else 'no metric named'}; "
                        f"choose from {','.join(SCORE_METRICS)}")
    return list(dict.fromkeys(metrics))


def score(reference: Path, estimate: Path, metrics: tuple[str, ...] | list[str] = ("snr", "si-sdr")) -> dict:
    """Score every estimate against its reference by ``metrics`` (see :data:`SCORE_METRICS`).

    PESQ and STOI run in a process pool after the files are read; a file they cannot
    score (too short, no speech) gets None and a note, and PESQ of files at a rate other
    than 16 kHz is computed on 16 kHz copies, with a note. A silent reference (peak below 16-bit
    quantisation) has no level to compare against (its SNR would be about -145 dB): it is
    listed under ``silent`` and left out.
    """
    from sslab.audio.io import is_silent, read_audio
    from sslab.audio.metrics import PERCEPTUAL, perceptual_many, si_sdr_db, snr_db

    pairs, missing, extra = pair_files(_wavs(Path(reference), "--reference"), _wavs(Path(estimate), "--estimate"))
    rows, failed, signals, silent = [], [], [], []
    for r, e in pairs:
        try:
            s, sr_s, _ = read_audio(r)
            s_hat, sr_e, _ = read_audio(e)
        except UserError as exc:
            failed.append({"reference": r.name, "estimate": e.name, "error": str(exc)})
            continue
        notes = []
        if sr_s != sr_e:
            failed.append({"reference": r.name, "estimate": e.name,
                           "error": f"sample rates differ ({sr_s} vs {sr_e} Hz)"})
            continue
        if len(s) != len(s_hat):
            gap = abs(len(s) - len(s_hat))
            if gap > 1024:
                failed.append({"reference": r.name, "estimate": e.name,
                               "error": f"lengths differ by {gap} samples ({len(s)} vs {len(s_hat)})"})
                continue
            notes.append(f"lengths differ by {gap} samples; scored over the first {min(len(s), len(s_hat))}")
            n = min(len(s), len(s_hat))
            s, s_hat = s[:n], s_hat[:n]
        if is_silent(s):
            silent.append(r.name)
            continue
        row = {"reference": r.name, "estimate": e.name}
        if "snr" in metrics:
            row["snr_db"] = float(snr_db(s, s_hat))
        if "si-sdr" in metrics:
            row["si_sdr_db"] = float(si_sdr_db(s, s_hat))
        rows.append(row)
        signals.append((s, s_hat, sr_s, notes))
    wanted = [m for m in PERCEPTUAL if m in metrics]
    if wanted:
        by_rate: dict[int, list[int]] = {}
        for i, (_, _, rate, _) in enumerate(signals):
            by_rate.setdefault(rate, []).append(i)
        for rate, which in by_rate.items():
            scores = perceptual_many([signals[i][:2] for i in which], rate, wanted)
            for i, q in zip(which, scores):
                rows[i].update({m: q[m] for m in wanted})
                signals[i][3].extend(q["notes"])
    for row, (_, _, _, notes) in zip(rows, signals):
        row["note"] = "; ".join(notes)
    mean, counted = {}, {}
    for metric in metrics:
        key = SCORE_METRICS[metric][0]
        values = [row[key] for row in rows if row.get(key) is not None]
        mean[key] = float(np.mean(values)) if values else None
        counted[key] = len(values)
    return {"metrics": list(metrics), "files": rows, "mean": mean, "counted": counted, "scored": len(rows),
            "missing": [p.name for p in missing], "extra": [p.name for p in extra], "failed": failed, "silent": silent}


def cmd_score(args: argparse.Namespace) -> int:
    metrics = parse_metrics(args.metrics)
    result = score(args.reference, args.estimate, metrics)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        width = max([len(r["estimate"]) for r in result["files"]] + [8])
        columns = [SCORE_METRICS[m] for m in metrics]
        print(f"{'estimate':<{width}}  {'reference':<{width}}" + "".join(f"  {title:>9}" for _, title in columns))
        for r in result["files"]:
            cells = "".join(f"  {r[key]:9.{3 if key == 'stoi' else 2}f}" if r[key] is not None else f"  {'-':>9}"
                            for key, _ in columns)
            print(f"{r['estimate']:<{width}}  {r['reference']:<{width}}{cells}" + (f"  ({r['note']})" if r["note"] else ""))
        if result["scored"]:
            parts = []
            for key, title in columns:
                value, count = result["mean"][key], result["counted"][key]
                unit = " dB" if title.endswith("dB") else ""
                name = title[:-3] if unit else title
                if value is None:
                    parts.append(f"{name} none")
                    continue
                part = f"{name} {value:.{3 if key == 'stoi' else 2}f}{unit}"
                parts.append(part + (f" (over {count})" if count != result["scored"] else ""))
            left_out = f" ({len(result['silent'])} silent reference(s) left out)" if result["silent"] else ""
            print(f"mean over {result['scored']} files{left_out}: " + ", ".join(parts))
        for name in result["silent"]:
            print(f"silent: reference {name} is silent (no level to measure an SNR against); left out of the mean")
        for name in result["missing"]:
            print(f"missing: no estimate for reference {name}")
        for name in result["extra"]:
            print(f"extra: estimate {name} has no reference")
        for f in result["failed"]:
            print(f"failed: {f['estimate']} vs {f['reference']}: {f['error']}")
    return 1 if (result["missing"] or result["failed"] or result["silent"] or not result["scored"]) else 0


# ---- sslab data make-denoise -------------------------------------------------------------------
def cmd_make_denoise(args: argparse.Namespace) -> int:
    from sslab.data.denoise import make_denoise

    manifest = make_denoise(args.speech, args.noise, args.out, snr_db=tuple(args.snr_db),
                            noises_per_utterance=args.noises_per_utterance, val_fraction=args.val_fraction,
                            test_fraction=args.test_fraction, seed=args.seed, sample_rate=args.sample_rate)
    counts = {}
    for name in manifest["files"]:
        counts[name.split("/")[0]] = counts.get(name.split("/")[0], 0) + 1
    print(f"wrote {args.out}: " + ", ".join(f"{counts.get(s, 0)} mixtures in {s}/" for s in ("tr", "v", "te"))
          + f" (split by {manifest['split_by']}; test references in te_reference/, provenance in manifest.json)")
    print(f"train with: sslab run denoise --data {args.out}")
    return 0


# ---- sslab data make-speech --------------------------------------------------------------------
def cmd_make_speech(args: argparse.Namespace) -> int:
    from sslab.data.synthetic_speech import espeak_available, write_espeak_corpus

    if not espeak_available():
        raise UserError("make-speech needs espeak-ng; install it (apt-get install espeak-ng)")
    if args.speakers < 1 or args.sentences < 1:
        raise UserError(f"--speakers ({args.speakers}) and --sentences ({args.sentences}) must be at least 1")
    write_espeak_corpus(args.out, args.speakers, args.sentences, seed=args.seed, sr=args.sample_rate)
    print(f"wrote {args.out}: {args.speakers} espeak-ng speakers x {args.sentences} sentences "
          f"(speakerNN/sentenceMM.wav, {args.sample_rate} Hz)")
    print(f"mix with noise: sslab data make-denoise --speech {args.out} --noise NOISE_DIR --out DIR")
    return 0


def register(commands, data_commands) -> None:
    p = commands.add_parser("denoise", help="denoise WAV/FLAC files with a model trained by `sslab run denoise`",
                            description="Denoise audio files with a trained mask estimator. Files at another "
                            "sample rate are resampled to the model's and back; multichannel files are downmixed.")
    p.add_argument("--checkpoint", type=Path, required=True, metavar="RUN_DIR",
                   help="run directory of `sslab run denoise`, a `run all` folder, or a model .safetensors file")
    p.add_argument("--input", type=Path, required=True, metavar="FILE_OR_DIR", help="an audio file or a folder of them")
    p.add_argument("--output", type=Path, required=True, metavar="DIR", help="folder for the denoised WAV files")
    p.add_argument("--model", default="rnn", choices=("rnn", "fc"), help="which trained estimator (default rnn)")
    p.add_argument("--seed", type=cli_number(int, min=0), default=None, help="which seed's model (default: the first)")
    p.add_argument("--stream", action="store_true",
                   help="process in chunks as a live stream would (unidirectional models); same output")
    p.add_argument("--chunk-ms", type=cli_number(float, above=0, max=60_000), default=32.0, help="chunk length for --stream (default 32 ms)")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    p.set_defaults(func=cmd_denoise)

    s = commands.add_parser("score", help="SNR, SI-SDR, PESQ and STOI of denoised files against clean references",
                            description="Pair estimates with references by identical name or by trailing number "
                            "(tes0007.wav with tex0007.wav) and print the chosen metrics per file and their mean. "
                            "Missing and extra files are listed, silent references flagged and left out of the mean; "
                            "the exit code is 1 if any reference is unscored. "
                            "PESQ is wide-band (ITU-T P.862.2), defined at 16 kHz: files at other rates are "
                            "resampled to 16 kHz for it, and each such file says so.")
    s.add_argument("--reference", type=Path, required=True, metavar="DIR", help="folder of clean speech")
    s.add_argument("--estimate", type=Path, required=True, metavar="DIR", help="folder of denoised files")
    s.add_argument("--metrics", default="snr,si-sdr", metavar="LIST",
                   help="comma-separated, from snr,si-sdr,pesq,stoi (default snr,si-sdr; PESQ and STOI take "
                   "about 0.1-0.3 s per file each, run in parallel over the CPUs)")
    s.add_argument("--json", action="store_true", help="print the result as JSON")
    s.set_defaults(func=cmd_score)

    m = data_commands.add_parser("make-denoise", help="build the assignment's denoising layout from speech and noise folders",
                                 description="Mix clean speech with noise recordings at random SNRs into DIR/tr, "
                                 "DIR/v and DIR/te (the assignment's layout). Speech in sub-folders is split by speaker "
                                 "(sub-folder), otherwise by file; each noise recording is cut in time between the "
                                 "splits, so no utterance or noise stretch is shared between them.")
    m.add_argument("--speech", type=Path, required=True, metavar="DIR", help="clean speech (sub-folder per speaker)")
    m.add_argument("--noise", type=Path, required=True, metavar="DIR", help="noise recordings, one type per file")
    m.add_argument("--out", type=Path, required=True, metavar="DIR", help="new folder for the data set")
    m.add_argument("--snr-db", type=cli_number(float, min=-100, max=100), nargs=2, default=(-5.0, 5.0), metavar=("LOW", "HIGH"),
                   help="mixing SNR range in dB (default -5 5: about 0 dB like the assignment's data)")
    m.add_argument("--noises-per-utterance", type=cli_number(int, min=1, max=1000), default=10, help="noisy versions of each utterance (seed: 10)")
    m.add_argument("--val-fraction", type=cli_number(float, min=0, max=0.99), default=0.1, help="share of speakers for validation (default 0.1)")
    m.add_argument("--test-fraction", type=cli_number(float, min=0, max=0.99), default=0.1, help="share of speakers for test (default 0.1)")
    m.add_argument("--sample-rate", type=cli_number(int, min=1000, max=384_000), default=16000,
                   help="output rate in Hz (default 16000, the assignment's)")
    m.add_argument("--seed", type=cli_number(int, min=0), default=0, help="random seed of the split and the mixing")
    m.set_defaults(func=cmd_make_denoise)

    e = data_commands.add_parser("make-speech", help="write a clean-speech corpus spoken by espeak-ng voices",
                                 description="Synthesise random English sentences with espeak-ng, one sub-folder per "
                                 "made-up speaker (alternately male and female voice variants, with their own accent, "
                                 "pitch, speed and word gap), to build a denoising set with make-denoise when no "
                                 "recorded speech is at hand. Needs espeak-ng (apt-get install espeak-ng).")
    e.add_argument("--out", type=Path, required=True, metavar="DIR", help="new folder for the corpus")
    e.add_argument("--speakers", type=cli_number(int, min=1, max=10_000), default=48, help="made-up speakers (default 48)")
    e.add_argument("--sentences", type=cli_number(int, min=1, max=10_000), default=6, help="sentences per speaker (default 6)")
    e.add_argument("--sample-rate", type=cli_number(int, min=1000, max=384_000), default=16000, help="output rate in Hz (default 16000)")
    e.add_argument("--seed", type=cli_number(int, min=0), default=0, help="random seed of the sentences")
    e.set_defaults(func=cmd_make_speech)
