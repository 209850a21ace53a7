"""The GTZAN reader on small trees in both official layouts, written by the test."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from sslab.data import gtzan
from sslab.errors import UserError

SR = 22050


def tone(freq: float, seconds: float, sr: int = SR) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def write_tree(base, layout: str, genres=("classical", "jazz"), clips: int = 2, seconds: float = 3.0):
    """GTZAN-style files: genres/<g>/<g>.000NN.au (original) or Data/genres_original/<g>/<g>.000NN.wav (Kaggle)."""
    root = base / ("genres" if layout == "original" else "Data/genres_original")
    for gi, genre in enumerate(genres):
        folder = root / genre
        folder.mkdir(parents=True)
        for i in range(clips):
            wave = tone(220.0 * (gi + 1) + 10 * i, seconds)
            if layout == "original":
                sf.write(folder / f"{genre}.{i:05d}.au", wave, SR, format="AU", subtype="PCM_16")
            else:
                sf.write(folder / f"{genre}.{i:05d}.wav", wave, SR, subtype="PCM_16")
    return root


@pytest.mark.parametrize("layout", ["original", "kaggle"])
def test_reads_both_layouts_into_pieces_by_clip(tmp_path, layout):
    write_tree(tmp_path, layout)
    music = gtzan.load_music_folder(tmp_path, SR, piece_seconds=1.0)
    assert music.genres == ("classical", "jazz")
    assert music.pieces.dtype == np.int16 and music.pieces.shape == (4 * 3, SR)
    assert music.labels.tolist() == [0] * 6 + [1] * 6
    assert music.clips.tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3]
    assert music.clip_names[0] == "classical/classical.00000." + ("au" if layout == "original" else "wav")
    # The audio itself survives: the first jazz piece is the 440 Hz tone.
    spectrum = np.abs(np.fft.rfft(music.as_float(6)))  # 1 s piece: 1 Hz per bin
    assert abs(np.argmax(spectrum) - 440) <= 1
    assert gtzan.find_genre_root(tmp_path).name in ("genres", "genres_original")


def test_corrupt_and_short_files_are_skipped_with_a_warning(tmp_path, capsys):
    root = write_tree(tmp_path, "kaggle")
    (root / "jazz" / "jazz.00054.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEfmt garbage")  # as in the Kaggle copy
    sf.write(root / "jazz" / "jazz.00055.wav", tone(300, 0.4), SR)
    music = gtzan.load_music_folder(tmp_path, SR, piece_seconds=1.0)
    out = capsys.readouterr().out
    assert "jazz.00054.wav" in out and "jazz.00055.wav" in out and "warning" in out
    assert len(music.skipped) == 2 and len(music.clip_names) == 4


def test_resamples_and_caps_seconds_per_file(tmp_path):
    write_tree(tmp_path, "original", clips=1, seconds=4.0)
    music = gtzan.load_music_folder(tmp_path, 16000, piece_seconds=1.5, max_seconds_per_file=3.0)
    assert music.sample_rate == 16000 and music.pieces.shape == (4, 24000)
    spectrum = np.abs(np.fft.rfft(music.as_float(0)))
    assert abs(np.argmax(spectrum) * 16000 / 24000 - 220) <= 1


def test_any_music_folder_of_genres_works(tmp_path):
    for genre, suffix in (("ambient", "flac"), ("techno", "wav")):
        (tmp_path / genre).mkdir()
        sf.write(tmp_path / genre / f"a.{suffix}", tone(330, 2.0), SR)
        sf.write(tmp_path / genre / f"b.{suffix}", tone(331, 2.0), SR)
    (tmp_path / "techno" / "notes.txt").write_text("not audio")
    music = gtzan.load_music_folder(tmp_path, SR, piece_seconds=1.0)
    assert music.genres == ("ambient", "techno") and len(music.pieces) == 8
    only = gtzan.load_music_folder(tmp_path, SR, piece_seconds=1.0, genres=("techno",))
    assert only.genres == ("techno",) and len(only.pieces) == 4


def test_missing_data_set_says_where_to_get_it(tmp_path):
    with pytest.raises(UserError, match="kaggle.com.*genres_original"):
        gtzan.load_music_folder(tmp_path, SR, 1.0)
    assert gtzan.find_genre_root(tmp_path) is None


def test_missing_genre_and_all_broken_genre_are_errors(tmp_path):
    root = write_tree(tmp_path, "kaggle")
    with pytest.raises(UserError, match="no folder for genre.*metal"):
        gtzan.load_music_folder(tmp_path, SR, 1.0, genres=("classical", "metal"))
    for f in (root / "jazz").iterdir():
        f.write_bytes(b"broken")
    with pytest.raises(UserError, match="no readable clip for genre.*jazz"):
        gtzan.load_music_folder(tmp_path, SR, 1.0)


def test_held_out_clips_never_train():
    labels = np.repeat(np.arange(3), 20)
    clips = np.repeat(np.arange(30), 2)
    held = gtzan.split_by_clip(labels, clips, 0.2, seed=1)
    assert held.sum() == 12  # 2 of the 10 clips of each genre, both pieces of each
    assert not set(clips[held]) & set(clips[~held])
    assert np.array_equal(held, gtzan.split_by_clip(labels, clips, 0.2, seed=1))


def test_a_genre_of_one_clip_cannot_be_split():
    with pytest.raises(UserError, match="only 1 clip"):
        gtzan.split_by_clip(np.zeros(3, dtype=int), np.zeros(3, dtype=int), 0.2, seed=1)


def test_every_16_bit_sample_survives_the_read_and_to_int16(tmp_path):
    from sslab.audio.io import read_audio

    every = np.arange(-32768, 32768, dtype=np.int16)
    sf.write(tmp_path / "all.wav", every, 22050, subtype="PCM_16")
    samples, _, _ = read_audio(tmp_path / "all.wav")
    assert np.array_equal(gtzan.to_int16(samples), every)
    assert gtzan.to_int16(np.array([1.0, -1.0, 2.0], np.float32)).tolist() == [32767, -32768, 32767]
