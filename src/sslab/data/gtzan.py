"""GTZAN (and any folder of music sorted by genre), read into fixed-length pieces.

Layouts found under the folder given with ``--data``:

- the original archive (``genres.tar.gz``): ``genres/<genre>/<genre>.000NN.au``
- the Kaggle copy: ``Data/genres_original/<genre>/<genre>.000NN.wav``
- any music folder: ``<root>/<genre>/*.{wav,au,flac,mp3,ogg,aiff}``

GTZAN has 10 genres of 100 clips, 30 s each at 22,050 Hz. Neither source can be
downloaded without a browser (Kaggle needs a login), so sslab does not download it.
Unreadable files (the Kaggle copy ships a broken ``jazz.00054.wav``) are skipped with a
warning naming them. Each clip is cut into non-overlapping pieces of ``piece_seconds``
that remember their clip, so train/test splits can be made by clip (:func:`split_by_clip`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from sslab.audio.io import AUDIO_SUFFIXES, read_audio, resample
from sslab.errors import UserError
from sslab.train.progress import progress, say

GTZAN_GENRES = ("blues", "classical", "country", "disco", "hiphop", "jazz", "metal", "pop", "reggae", "rock")
KAGGLE_URL = "https://www.kaggle.com/datasets/andradaolteanu/gtzan-dataset-music-genre-classification"
ORIGINAL_URL = "http://marsyas.info/downloads/datasets.html"
WHERE_TO_GET = (f"get GTZAN from {KAGGLE_URL} (Kaggle login) or {ORIGINAL_URL} (genres.tar.gz), unpack it and pass "
                "the folder that holds genres/ or Data/genres_original/ (or any folder of <genre>/<clip>.wav) with --data")
# Where the genre folders sit below the folder the user passes, most specific first.
_LAYOUTS = ("genres", "Data/genres_original", "genres_original", "gtzan/genres", "gtzan/Data/genres_original",
            "GTZAN/genres", "GTZAN/Data/genres_original", ".")


@dataclass
class MusicSet:
    """Pieces of music as int16 (n, samples), with genre labels and the clip each came from."""

    pieces: np.ndarray
    labels: np.ndarray
    clips: np.ndarray               # index into `clip_names` for each piece
    genres: tuple[str, ...]
    clip_names: list[str]
    sample_rate: int
    skipped: list[str] = field(default_factory=list)

    def as_float(self, index: np.ndarray | slice = slice(None)) -> np.ndarray:
        return self.pieces[index].astype(np.float32) / INT16_SCALE


def _audio_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES
                  and not p.name.startswith("."))


def _genre_folders(root: Path) -> list[Path]:
    if not root.is_dir():
        return []
    return sorted(d for d in root.iterdir() if d.is_dir() and not d.name.startswith(".") and _audio_files(d))


def find_genre_root(root: str | Path) -> Path | None:
    """The folder under ``root`` whose sub-folders are genres holding audio (at least two), or None."""
    root = Path(root)
    for rel in _LAYOUTS:
        candidate = root / rel
        if len(_genre_folders(candidate)) >= 2:
            return candidate.resolve()
    return None


# 16-bit PCM as soundfile/libsndfile read and write it: sample k <-> float k / 32768, so a file's
# samples survive read -> to_int16 exactly (-32768 included; +1.0 clips to 32767).
INT16_SCALE = 32768.0


def to_int16(wave: np.ndarray) -> np.ndarray:
    """Float samples in [-1, 1) to int16, losslessly for floats that came from 16-bit files."""
    scaled = np.round(np.asarray(wave, dtype=np.float64) * INT16_SCALE)
    return np.clip(scaled, -32768, 32767).astype(np.int16)


def load_music_folder(root: str | Path, sample_rate: int, piece_seconds: float, *,
                      max_seconds_per_file: float = 30.0, genres: tuple[str, ...] | None = None) -> MusicSet:
    """Read every clip under ``root`` (any layout above) into pieces at ``sample_rate``.

    ``genres`` keeps only those genre folders (all of them when None); an asked-for
    genre that is missing is an error. Files that cannot be read, or are shorter than
    one piece, are skipped with a warning that names them.
    """
    root = Path(root)
    base = find_genre_root(root)
    if base is None:
        single = next((root / rel for rel in _LAYOUTS if len(_genre_folders(root / rel)) == 1), None)
        if single is not None:
            only = _genre_folders(single)[0].name
            raise UserError(f"{single} holds one genre ({only}); genre-conditioned models and a genre judge need "
                            "at least two: add a folder of clips of another genre next to it")
        raise UserError(f"no music sorted by genre under {root} (expected <genre>/<clip>.wav or .au folders); {WHERE_TO_GET}")
    folders = _genre_folders(base)
    if genres is not None:
        known = {d.name: d for d in folders}
        missing = [g for g in genres if g not in known]
        if missing:
            raise UserError(f"{base} has no folder for genre(s) {', '.join(missing)} (found {', '.join(known)}); "
                            "choose genres that exist or add their folders")
        folders = [known[g] for g in genres]
    piece_len = int(round(piece_seconds * sample_rate))
    if piece_len <= 0:
        raise UserError(f"piece length {piece_seconds} s is too short; use a positive length")
    max_pieces = max(1, int(max_seconds_per_file // piece_seconds))
    pieces: list[np.ndarray] = []
    labels: list[int] = []
    clips: list[int] = []
    names: list[str] = []
    skipped: list[str] = []
    files = [(g, f) for g, d in enumerate(folders) for f in _audio_files(d)]
    for g, path in progress(files, f"reading {base.name}"):
        try:
            wave, sr, _ = read_audio(path)
        except UserError as exc:
            say(f"warning: skipping {path}: {exc}")
            skipped.append(str(path))
            continue
        wave = resample(wave, sr, sample_rate)
        n = min(len(wave) // piece_len, max_pieces)
        if n == 0:
            say(f"warning: skipping {path}: {len(wave) / sample_rate:.2f} s is shorter than one {piece_seconds} s piece")
            skipped.append(str(path))
            continue
        clip = len(names)
        names.append(f"{folders[g].name}/{path.name}")
        pieces.append(to_int16(wave[: n * piece_len].reshape(n, piece_len)))
        labels += [g] * n
        clips += [clip] * n
    found = set(labels)
    empty = [d.name for g, d in enumerate(folders) if g not in found]
    if empty:
        raise UserError(f"no readable clip for genre(s) {', '.join(empty)} under {base}; "
                        "replace the broken files or leave those genre folders out")
    return MusicSet(np.concatenate(pieces), np.asarray(labels, dtype=np.int64), np.asarray(clips, dtype=np.int64),
                    tuple(d.name for d in folders), names, sample_rate, skipped)


def split_by_clip(labels: np.ndarray, clips: np.ndarray, test_fraction: float, seed: int,
                  names: tuple[str, ...] | None = None) -> np.ndarray:
    """A boolean mask of held-out pieces: a seeded share of each genre's clips, all pieces of a clip together.

    Pieces of one clip sound alike, so splitting by piece would let the test set leak into
    training; ``seed`` fixes the split (the same for every training seed of a run).
    """
    rng = np.random.default_rng(seed)
    held = np.zeros(len(labels), dtype=bool)
    for g in np.unique(labels):
        ids = np.unique(clips[labels == g])
        n_test = max(1, int(round(test_fraction * len(ids))))
        if n_test >= len(ids):
            name = names[g] if names is not None else g
            raise UserError(f"genre {name} has only {len(ids)} clip(s); a train/test split with "
                            f"test_fraction={test_fraction:g} needs at least {n_test + 1} (add clips or lower "
                            "test_fraction)")
        held |= np.isin(clips, rng.permutation(ids)[:n_test])
    return held
