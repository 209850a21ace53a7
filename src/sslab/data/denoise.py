"""Speech-denoising data: the seed's folder layout, a builder for it, and made-up data.

Layout (seed P3), read by :func:`load_layout` and written by :func:`make_denoise`::

    DIR/tr/trxNNNN.wav  noisy mixture      DIR/tr/trsNNNN.wav  clean speech   DIR/tr/trnNNNN.wav  noise
    DIR/v/vxNNNN.wav    vsNNNN.wav   vnNNNN.wav                 (validation, same triples)
    DIR/te/texNNNN.wav                                          (test: mixtures only)

``make_denoise`` also writes ``DIR/te_reference/tesNNNN.wav`` (the test's clean speech,
for ``sslab score``) and ``DIR/manifest.json`` (which speech file, noise file, noise
segment and SNR made every mixture).

Signals are kept as :class:`Ragged` tensors: every signal of a split end to end in one
float32 tensor with offsets, so a mini-batch is one gather and no memory is spent on
padding.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from sslab.audio.io import AUDIO_SUFFIXES, is_silent, read_audio, resample, write_wav
from sslab.errors import UserError
from sslab.train import atomic
from sslab.train.progress import say

MIN_SAMPLES = 513  # a 1024-point centred STFT needs more than 512 samples
SPLITS = {"tr": "tr", "v": "v", "te": "te"}  # folder -> file prefix


@dataclass
class Ragged:
    """Signals of different lengths stored end to end."""

    flat: torch.Tensor      # (total samples,) float32
    offsets: torch.Tensor   # (n + 1,) int64
    lengths: torch.Tensor   # (n,) int64

    @classmethod
    def from_list(cls, signals: Sequence[np.ndarray]) -> "Ragged":
        lengths = torch.tensor([len(s) for s in signals], dtype=torch.int64)
        offsets = torch.zeros(len(signals) + 1, dtype=torch.int64)
        offsets[1:] = lengths.cumsum(0)
        flat = torch.from_numpy(np.concatenate([np.asarray(s, dtype=np.float32) for s in signals]))
        return cls(flat, offsets, lengths)

    def __len__(self) -> int:
        return len(self.lengths)

    def to(self, device: torch.device | str) -> "Ragged":
        return Ragged(self.flat.to(device), self.offsets.to(device), self.lengths.to(device))

    def batch(self, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Padded ``(B, longest)`` signals and their lengths; padding repeats the last sample."""
        index = index.to(self.lengths.device)
        lengths = self.lengths[index]
        step = torch.arange(int(lengths.max()), device=self.flat.device)
        pos = self.offsets[index].unsqueeze(1) + torch.minimum(step.unsqueeze(0), (lengths - 1).unsqueeze(1))
        return self.flat[pos], lengths

    def signal(self, i: int) -> torch.Tensor:
        return self.flat[int(self.offsets[i]):int(self.offsets[i + 1])]


@dataclass
class Split:
    ids: list[str]                   # the file numbers, e.g. "0007"
    noisy: Ragged
    speech: Ragged | None = None     # None for the test split of the seed's layout
    noise: Ragged | None = None
    noise_names: list[str] | None = None  # the noise type of every file, where known (made-up data, manifest.json)

    def to(self, device) -> "Split":
        return Split(self.ids, self.noisy.to(device), self.speech.to(device) if self.speech else None,
                     self.noise.to(device) if self.noise else None, self.noise_names)


@dataclass
class DenoiseData:
    sample_rate: int
    train: Split
    val: Split
    test: Split | None                   # mixtures to denoise and hand in
    test_reference: Ragged | None = None  # their clean speech, known only for made-up data
    source: str = ""
    notes: list[str] = field(default_factory=list)

    def to(self, device) -> "DenoiseData":
        return DenoiseData(self.sample_rate, self.train.to(device), self.val.to(device),
                           self.test.to(device) if self.test else None,
                           self.test_reference.to(device) if self.test_reference else None, self.source, self.notes)


# ---- reading the seed's layout ------------------------------------------------------------
def _numbered(folder: Path, prefix: str) -> dict[str, dict[str, Path]]:
    """``{number: {"x"|"s"|"n": path}}`` for files named <prefix><x|s|n><digits>.wav."""
    pattern = re.compile(rf"^{re.escape(prefix)}([xsn])(\d+)\.(wav|flac)$", re.IGNORECASE)
    found: dict[str, dict[str, Path]] = {}
    for path in sorted(folder.iterdir()):
        match = pattern.match(path.name)
        if match:
            found.setdefault(match.group(2), {})[match.group(1).lower()] = path
    return found


def _read_checked(path: Path, rate: list[int], notes: list[str]) -> np.ndarray:
    samples, sr, channels = read_audio(path)
    if not rate:
        rate.append(sr)
    elif sr != rate[0]:
        raise UserError(f"{path}: sample rate {sr} Hz, but the data set's first file has {rate[0]} Hz; "
                        "resample every file to one rate")
    if channels > 1 and not any("downmixed" in n for n in notes):
        notes.append(f"{path.name} and other multichannel files were downmixed to mono")
    if len(samples) < MIN_SAMPLES:
        raise UserError(f"{path}: only {len(samples)} samples; a file needs at least {MIN_SAMPLES} for the "
                        "1024-point STFT, remove it")
    return samples


def _read_split(root: Path, folder: str, with_sources: bool, rate: list[int], notes: list[str]) -> Split | None:
    where = root / folder
    if not where.is_dir():
        if with_sources:
            raise UserError(f"{where}: missing; the data set needs {folder}/{folder}xNNNN.wav mixtures with "
                            f"{folder}sNNNN.wav speech and {folder}nNNNN.wav noise (the seed's layout)")
        return None
    files = _numbered(where, SPLITS[folder])
    if not any("x" in kinds for kinds in files.values()):
        raise UserError(f"{where}: no {folder}xNNNN.wav mixtures found; check the folder (the seed's layout)")
    ids, noisy, speech, noise = [], [], [], []
    for number, kinds in files.items():
        mix = kinds.get("x")
        if mix is None:
            lone = next(iter(kinds.values()))
            raise UserError(f"{lone}: has no mixture {folder}x{number}.wav beside it; add it or remove the file")
        if not with_sources:
            ids.append(number)
            noisy.append(_read_checked(mix, rate, notes))
            continue
        for kind, name in (("s", "clean speech"), ("n", "noise")):
            if kind not in kinds:
                raise UserError(f"{mix}: its {name} {folder}{kind}{number}.wav is missing; every mixture needs "
                                "its speech and noise sources")
        x = _read_checked(mix, rate, notes)
        s = _read_checked(kinds["s"], rate, notes)
        n = _read_checked(kinds["n"], rate, notes)
        if not len(x) == len(s) == len(n):
            raise UserError(f"{mix}: {len(x)} samples, but {kinds['s'].name} has {len(s)} and {kinds['n'].name} "
                            f"{len(n)}; a mixture and its sources must have the same length")
        ids.append(number)
        noisy.append(x)
        speech.append(s)
        noise.append(n)
    if not with_sources:
        return Split(ids, Ragged.from_list(noisy))
    return Split(ids, Ragged.from_list(noisy), Ragged.from_list(speech), Ragged.from_list(noise))


def noise_names(root: Path, folder: str, ids: list[str], notes: list[str]) -> list[str] | None:
    """The noise recording behind every file of a split, from the ``manifest.json`` that
    :func:`make_denoise` writes (its file name without the suffix), or None when the data set
    has no manifest (the seed's own data) or it does not name every file (said in ``notes``)."""
    path = root / "manifest.json"
    if not path.is_file():
        return None
    try:
        files = json.loads(path.read_text())["files"]
        names = [files.get(f"{folder}/{folder}x{number}.wav", {}).get("noise") for number in ids]
    except (ValueError, KeyError, TypeError, AttributeError, UnicodeDecodeError):
        notes.append(f"{path} is not a make-denoise manifest, so results are not split by noise type")
        return None
    if not all(isinstance(name, str) for name in names):
        notes.append(f"{path} does not name the noise of every {folder}/ file, so results are not split by noise type")
        return None
    return [Path(name).stem for name in names]


def load_layout(root: Path) -> DenoiseData:
    """Read and check ``root`` in the seed's layout; every problem names its file."""
    root = Path(root)
    rate: list[int] = []
    notes: list[str] = []
    train = _read_split(root, "tr", True, rate, notes)
    val = _read_split(root, "v", True, rate, notes)
    test = _read_split(root, "te", False, rate, notes)
    assert train is not None and val is not None
    val.noise_names = noise_names(root, "v", val.ids, notes)
    if test is None:
        notes.append(f"{root / 'te'} is absent, so no test files are denoised")
    return DenoiseData(rate[0], train, val, test, None, str(root), notes)


def locate(root: Path) -> Path | None:
    """The data set under ``root`` (itself or a child) that has ``tr/`` and ``v/``."""
    for candidate in (root, *sorted(p for p in Path(root).iterdir() if p.is_dir())):
        if (candidate / "tr").is_dir() and (candidate / "v").is_dir():
            return candidate
    return None


# ---- mixing -------------------------------------------------------------------------------
def mix_at_snr(speech: np.ndarray, noise: np.ndarray, snr_db: float, peak: float = 0.99
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Scale ``noise`` so that speech-to-noise power is ``snr_db``; return (mixture, speech, noise).

    If the mixture would clip, all three are scaled down together (the SNR is kept).
    """
    speech = speech.astype(np.float64)
    noise = noise.astype(np.float64)
    p_speech = np.mean(speech ** 2)
    p_noise = np.mean(noise ** 2) + 1e-20
    noise = noise * np.sqrt(p_speech / (p_noise * 10 ** (snr_db / 10)))
    mixture = speech + noise
    top = np.abs(mixture).max()
    if top > peak:
        speech, noise, mixture = (a * (peak / top) for a in (speech, noise, mixture))
    return mixture.astype(np.float32), speech.astype(np.float32), noise.astype(np.float32)


def _segment(noise: np.ndarray, length: int, rng: np.random.Generator) -> tuple[np.ndarray, int]:
    """A random stretch of ``length`` samples (the recording looped if it is shorter)."""
    if len(noise) < length:
        noise = np.resize(noise, length)  # np.resize repeats the array
        return noise, 0
    start = int(rng.integers(0, len(noise) - length + 1))
    return noise[start:start + length], start


def _fractions(n: int, val_fraction: float, test_fraction: float, what: str) -> tuple[int, int]:
    n_val = max(1, int(round(n * val_fraction))) if val_fraction > 0 else 0
    n_test = max(1, int(round(n * test_fraction))) if test_fraction > 0 else 0
    if n - n_val - n_test < 1:
        raise UserError(f"only {n} {what}: too few to split into training, validation and test; "
                        "add more, or lower --val-fraction/--test-fraction")
    return n_val, n_test


def mix_splits(utterances: dict[str, list[tuple[str, np.ndarray]]], noises: dict[str, dict[str, np.ndarray]],
               snr_db: tuple[float, float], noises_per_utterance: int, rng: np.random.Generator
               ) -> dict[str, list[dict]]:
    """Mix every utterance of each split with ``noises_per_utterance`` noise segments of that split.

    ``utterances[split]`` is a list of ``(name, speech)``; ``noises[split][noise name]`` is
    the part of each noise recording reserved for the split. Noise types are taken in a
    shuffled cycle so each utterance meets different ones.
    """
    out: dict[str, list[dict]] = {}
    for split, items in utterances.items():
        names = sorted(noises[split])
        records = []
        for utt_name, speech in items:
            order = list(rng.permutation(len(names)))
            for k in range(noises_per_utterance):
                noise_name = names[order[k % len(names)]]
                segment, start = _segment(noises[split][noise_name], len(speech), rng)
                snr = float(rng.uniform(*snr_db))
                x, s, n = mix_at_snr(speech, segment, snr)
                records.append({"speech": utt_name, "noise": noise_name, "noise_start": start, "snr_db": snr,
                                "x": x, "s": s, "n": n})
        out[split] = records
    return out


# ---- building the layout from folders of speech and noise -----------------------------------
def _audio_files(folder: Path, what: str) -> list[Path]:
    if not folder.is_dir():
        raise UserError(f"--{what} {folder}: no such folder; pass a folder of audio files")
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES)
    if not files:
        raise UserError(f"--{what} {folder}: no audio files ({', '.join(AUDIO_SUFFIXES)}) found")
    return files


def _load_resampled(path: Path, sr: int, what: str) -> np.ndarray:
    """A file at rate ``sr``, refused when too short for the STFT or silent (one line naming it)."""
    samples, rate, _ = read_audio(path)
    samples = resample(samples, rate, sr)
    if len(samples) < MIN_SAMPLES:
        raise UserError(f"{path}: only {len(samples)} samples at {sr} Hz; {what} needs at least {MIN_SAMPLES} for the "
                        "1024-point STFT, remove the file")
    if is_silent(samples):
        raise UserError(f"{path}: silent (peak below -80 dB of full scale); {what} cannot be mixed at "
                        "an SNR from it, remove the file")
    return samples


def make_denoise(speech_dir: Path, noise_dir: Path, out: Path, *, snr_db: tuple[float, float] = (-5.0, 5.0),
                 noises_per_utterance: int = 10, val_fraction: float = 0.1, test_fraction: float = 0.1,
                 seed: int = 0, sample_rate: int = 16000) -> dict:
    """Write the seed's layout under ``out`` from clean speech and noise recordings.

    Speech in sub-folders is split by speaker (the sub-folder), otherwise by file; each
    noise recording is cut in time into a training, a validation and a test part. So no
    utterance and no stretch of noise appears in two splits. Returns the manifest.
    """
    speech_dir, noise_dir, out = Path(speech_dir), Path(noise_dir), Path(out)
    if not all(np.isfinite(snr_db)):
        raise UserError(f"--snr-db {snr_db[0]} {snr_db[1]}: both must be finite numbers of dB")
    if not 1000 <= sample_rate <= 384_000:
        raise UserError(f"--sample-rate {sample_rate}: choose a rate between 1000 and 384000 Hz (the seed: 16000)")
    if snr_db[0] > snr_db[1]:
        raise UserError(f"--snr-db {snr_db[0]} {snr_db[1]}: LOW must not exceed HIGH")
    if not (0 <= val_fraction < 1 and 0 <= test_fraction < 1 and val_fraction + test_fraction < 1):
        raise UserError("--val-fraction and --test-fraction must be in [0, 1) and sum to less than 1")
    if noises_per_utterance < 1:
        raise UserError("--noises-per-utterance must be at least 1")
    atomic.require_new_folder(out)  # before the slow mixing
    speech_files = _audio_files(speech_dir, "speech")
    noise_files = _audio_files(noise_dir, "noise")
    rng = np.random.default_rng(seed)

    groups: dict[str, list[Path]] = {}
    for path in speech_files:
        rel = path.relative_to(speech_dir)
        groups.setdefault(rel.parts[0] if len(rel.parts) > 1 else str(rel), []).append(path)
    unit = "speakers" if any(len(v) > 1 for v in groups.values()) else "speech files"
    group_names = [sorted(groups)[i] for i in rng.permutation(len(groups))]
    n_val, n_test = _fractions(len(group_names), val_fraction, test_fraction, unit)
    assigned = {"te": group_names[:n_test], "v": group_names[n_test:n_test + n_val],
                "tr": group_names[n_test + n_val:]}

    utterances = {split: [(str(p.relative_to(speech_dir)), _load_resampled(p, sample_rate, "an utterance"))
                          for g in names for p in groups[g]] for split, names in assigned.items() if names}
    noises: dict[str, dict[str, np.ndarray]] = {split: {} for split in utterances}
    noise_parts: dict[str, dict[str, list[int]]] = {}
    for path in noise_files:
        signal = _load_resampled(path, sample_rate, "a noise recording")
        name = str(path.relative_to(noise_dir))
        cut_test = int(len(signal) * test_fraction)
        cut_val = cut_test + int(len(signal) * val_fraction)
        parts = {"te": (0, cut_test), "v": (cut_test, cut_val), "tr": (cut_val, len(signal))}
        noise_parts[name] = {}
        for split in utterances:
            lo, hi = parts[split]
            if hi - lo < MIN_SAMPLES:
                raise UserError(f"{path}: too short to give the {split} split its own stretch of noise; "
                                "use longer noise recordings or smaller fractions")
            noises[split][name] = signal[lo:hi]
            noise_parts[name][split] = [lo, hi]
    mixed = mix_splits(utterances, noises, tuple(snr_db), noises_per_utterance, rng)

    manifest: dict = {"sample_rate": sample_rate, "snr_db": list(snr_db), "noises_per_utterance": noises_per_utterance,
                      "split_by": unit, "groups": assigned, "noise_parts": noise_parts, "files": {}}
    looped = 0
    with atomic.new_folder(out) as tmp:
        for split, records in mixed.items():
            for i, rec in enumerate(records):
                number = f"{i:04d}"
                seg_lo = noise_parts[rec["noise"]][split][0] + rec["noise_start"]
                manifest["files"][f"{split}/{split}x{number}.wav"] = {
                    "speech": rec["speech"], "noise": rec["noise"], "snr_db": round(rec["snr_db"], 3),
                    "noise_segment": [seg_lo, seg_lo + len(rec["x"])]}
                part = noise_parts[rec["noise"]][split]
                looped += len(rec["x"]) > part[1] - part[0]
                write_wav(tmp / split / f"{split}x{number}.wav", rec["x"], sample_rate)
                if split == "te":
                    write_wav(tmp / "te_reference" / f"tes{number}.wav", rec["s"], sample_rate)
                else:
                    write_wav(tmp / split / f"{split}s{number}.wav", rec["s"], sample_rate)
                    write_wav(tmp / split / f"{split}n{number}.wav", rec["n"], sample_rate)
        atomic.write_json(tmp / "manifest.json", manifest)
    if looped:
        say(f"make-denoise: {looped} mixtures are longer than their split's part of a noise recording; "
            "that noise was looped")
    return manifest


# ---- made-up data -------------------------------------------------------------------------
def made_up(speakers: int, sentences: int, noises_per_utterance: int, val_speakers: int, test_speakers: int,
            snr_db: tuple[float, float], seconds: tuple[float, float], speech: str = "synthetic",
            seed: int = 0, sample_rate: int = 16000) -> DenoiseData:
    """A small data set in memory: made-up (or espeak-ng) speakers, ten made-up noise types.

    Speakers are split between training, validation and test; each split gets its own
    noise recordings (fresh draws of each type), as the seed's data keep sources apart.
    """
    from sslab.data import synthetic_speech as synth

    rng = np.random.default_rng(seed)
    total = speakers + val_speakers + test_speakers
    split_of = ["tr"] * speakers + ["v"] * val_speakers + ["te"] * test_speakers
    utterances: dict[str, list[tuple[str, np.ndarray]]] = {"tr": [], "v": [], "te": []}
    for index in range(total):
        if speech == "espeak":
            voice = synth.espeak_speaker(index)
            clips = [synth.espeak(synth.sentence(rng), voice, sample_rate) for _ in range(sentences)]
        else:
            person = synth.random_speaker(rng)
            clips = [synth.speech_like(rng, person, float(rng.uniform(*seconds)), sample_rate) for _ in range(sentences)]
        utterances[split_of[index]] += [(f"speaker{index:02d}/{k:02d}", c) for k, c in enumerate(clips)]
    longest = max(len(c) for items in utterances.values() for _, c in items) / sample_rate
    noises = {split: {kind: synth.made_up_noise(kind, rng, max(20.0, 2 * longest), sample_rate)
                      for kind in synth.NOISE_TYPES} for split in utterances}
    mixed = mix_splits(utterances, noises, snr_db, noises_per_utterance, rng)

    def split(records: list[dict], sources: bool) -> Split:
        ids = [f"{i:04d}" for i in range(len(records))]
        noisy = Ragged.from_list([r["x"] for r in records])
        if not sources:
            return Split(ids, noisy)
        return Split(ids, noisy, Ragged.from_list([r["s"] for r in records]), Ragged.from_list([r["n"] for r in records]),
                     [r["noise"] for r in records])

    source = ("espeak-ng speech" if speech == "espeak" else "made-up speech-like utterances") + \
        f" of {total} speakers mixed with 10 made-up noise types at {snr_db[0]:g} to {snr_db[1]:g} dB"
    test_ref = Ragged.from_list([r["s"] for r in mixed["te"]]) if mixed["te"] else None
    return DenoiseData(sample_rate, split(mixed["tr"], True), split(mixed["v"], True),
                       split(mixed["te"], False) if mixed["te"] else None, test_ref, source)
