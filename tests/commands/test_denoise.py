import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from sslab.audio.io import read_audio, write_wav
from sslab.audio.models import RecurrentMasker, architecture
from sslab.audio.stream import denoise_signal
from sslab.cli import main
from sslab.commands.denoise import pair_files, score
from sslab.errors import UserError
from sslab.train.checkpoint import save_model


def _names(paths):
    return sorted(p.name for p in paths)


def test_pairing_by_identical_name_or_trailing_number(tmp_path):
    refs = [tmp_path / n for n in ("tes0007.wav", "tes0010.wav", "tes0011.wav", "clip.wav")]
    ests = [tmp_path / n for n in ("tex0007.wav", "tex10.wav", "clip.wav", "tex0099.wav")]
    pairs, missing, extra = pair_files(refs, ests)
    assert {(r.name, e.name) for r, e in pairs} == {("tes0007.wav", "tex0007.wav"), ("tes0010.wav", "tex10.wav"),
                                                    ("clip.wav", "clip.wav")}
    assert _names(missing) == ["tes0011.wav"] and _names(extra) == ["tex0099.wav"]
    with pytest.raises(UserError, match="end in the same number"):
        pair_files([tmp_path / "tes0001.wav", tmp_path / "ten0001.wav"], [tmp_path / "tex0001.wav"])


def _score_dirs(tmp_path):
    rng = np.random.default_rng(0)
    ref, est = tmp_path / "ref", tmp_path / "est"
    for i in range(3):
        s = (0.1 * rng.standard_normal(8000)).astype(np.float32)
        write_wav(ref / f"tes{i:04d}.wav", s, 16000)
        if i < 2:
            write_wav(est / f"tex{i:04d}.wav", s + 0.01 * rng.standard_normal(8000).astype(np.float32), 16000)
    write_wav(est / "tex0005.wav", np.zeros(8000, np.float32), 16000)
    return ref, est


def test_score_lists_missing_and_extra_and_exits_nonzero(tmp_path, capsys):
    ref, est = _score_dirs(tmp_path)
    result = score(ref, est)
    assert result["scored"] == 2 and result["missing"] == ["tes0002.wav"] and result["extra"] == ["tex0005.wav"]
    assert all(abs(r["snr_db"] - 20) < 0.5 for r in result["files"])  # noise 1/10 of the amplitude
    assert main(["score", "--reference", str(ref), "--estimate", str(est), "--json"]) == 1
    out = json.loads(capsys.readouterr().out)
    assert out["missing"] == ["tes0002.wav"] and abs(out["mean"]["snr_db"] - 20) < 0.5
    (ref / "tes0002.wav").unlink()
    (est / "tex0005.wav").unlink()
    assert main(["score", "--reference", str(ref), "--estimate", str(est)]) == 0
    assert "mean over 2 files" in capsys.readouterr().out


def _speech_pair(seconds: float, rate: int, seed: int):
    from sslab.audio.io import resample
    from sslab.data import synthetic_speech as synth

    rng = np.random.default_rng(seed)
    s = resample(synth.speech_like(rng, synth.random_speaker(rng), seconds, 16000), 16000, rate)
    noise = rng.standard_normal(len(s)).astype(np.float32) * np.sqrt(np.mean(s ** 2))
    return s, (s + noise).astype(np.float32)


def test_score_pesq_and_stoi_equal_the_reference_implementations(tmp_path, capsys):
    from pesq import pesq
    from pystoi import stoi

    ref, est = tmp_path / "ref", tmp_path / "est"
    expected = {}
    for i in range(3):
        s, x = _speech_pair(1.5, 16000, seed=i)
        write_wav(ref / f"tes{i:04d}.wav", s, 16000)
        write_wav(est / f"tex{i:04d}.wav", x, 16000)
        s, x = read_audio(ref / f"tes{i:04d}.wav")[0], read_audio(est / f"tex{i:04d}.wav")[0]  # as stored (16 bit)
        expected[f"tex{i:04d}.wav"] = (pesq(16000, s, x, "wb"), stoi(s.astype(np.float64), x.astype(np.float64), 16000))
    assert main(["score", "--reference", str(ref), "--estimate", str(est), "--metrics", "snr,pesq,stoi",
                 "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["metrics"] == ["snr", "pesq", "stoi"]
    for row in out["files"]:
        assert (row["pesq"], row["stoi"]) == expected[row["estimate"]]
        assert "si_sdr_db" not in row and row["note"] == ""
    assert out["mean"]["pesq"] == pytest.approx(np.mean([p for p, _ in expected.values()]))
    assert main(["score", "--reference", str(ref), "--estimate", str(est), "--metrics", "pesq,stoi"]) == 0
    text = capsys.readouterr().out
    assert "PESQ" in text and "STOI" in text and "mean over 3 files: PESQ" in text


def test_score_pesq_on_a_22050_hz_pair_says_it_resampled(tmp_path, capsys):
    ref, est = tmp_path / "ref", tmp_path / "est"
    s, x = _speech_pair(1.5, 22050, seed=7)
    write_wav(ref / "tes0000.wav", s, 22050)
    write_wav(est / "tex0000.wav", x, 22050)
    assert main(["score", "--reference", str(ref), "--estimate", str(est), "--metrics", "pesq"]) == 0
    text = capsys.readouterr().out
    assert "resampled 22050 -> 16000 Hz for PESQ" in text
    assert "mean over 1 files: PESQ" in text


def test_score_reports_a_file_too_short_for_pesq_and_an_unknown_metric(tmp_path, capsys):
    ref, est = tmp_path / "ref", tmp_path / "est"
    s, x = _speech_pair(1.5, 16000, seed=0)
    write_wav(ref / "tes0000.wav", s, 16000)
    write_wav(est / "tex0000.wav", x, 16000)
    # 0.2 s of a voiced tone: not silent (a silent reference is left out before PESQ), too short for PESQ.
    t = np.arange(3200, dtype=np.float32) / 16000
    tone = (0.1 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    write_wav(ref / "tes0001.wav", tone, 16000)
    write_wav(est / "tex0001.wav", tone + 0.01 * np.random.default_rng(1).standard_normal(3200).astype(np.float32), 16000)
    assert main(["score", "--reference", str(ref), "--estimate", str(est), "--metrics", "snr,pesq"]) == 0
    text = capsys.readouterr().out
    assert "too short for PESQ" in text and "PESQ" in text and "(over 1)" in text
    assert main(["score", "--reference", str(ref), "--estimate", str(est), "--metrics", "snr,mos"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "unknown metric mos" in err[0] and "snr,si-sdr,pesq,stoi" in err[0]


def test_score_bad_folder_is_one_line_exit_2(tmp_path, capsys):
    assert main(["score", "--reference", str(tmp_path / "nope"), "--estimate", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("sslab: error: --reference") and err.count("\n") == 1


@pytest.fixture
def model_file(tmp_path):
    torch.manual_seed(0)
    model = RecurrentMasker(513, "gru", hidden=16)
    path = tmp_path / "model.safetensors"
    save_model(path, model, {"recipe": "denoise", "arm": "rnn", "architecture": architecture(model),
                             "sample_rate": 16000, "n_fft": 1024, "hop": 512})
    return path, model


def test_denoise_folder_skips_bad_files_resamples_and_downmixes(tmp_path, model_file, capsys):
    path, model = model_file
    rng = np.random.default_rng(1)
    src = tmp_path / "in"
    clean = (0.1 * rng.standard_normal(9000)).astype(np.float32)
    write_wav(src / "a.wav", clean, 16000)
    sf.write(str(src / "b.wav"), np.stack([clean[:8000], -clean[:8000]], 1) * 0.5, 8000)
    (src / "c.wav").write_text("this is not audio")
    code = main(["denoise", "--checkpoint", str(path), "--input", str(src), "--output", str(tmp_path / "out")])
    captured = capsys.readouterr()
    assert code == 1
    assert "skipped" in captured.err and "c.wav" in captured.err
    assert "resampled 8000 -> 16000 Hz" in captured.out and "2 channels downmixed" in captured.out
    a, sr, _ = read_audio(tmp_path / "out" / "a.wav")
    b, sr_b, _ = read_audio(tmp_path / "out" / "b.wav")
    assert sr == 16000 and sr_b == 8000 and len(b) == 8000
    expected, _, _ = read_audio(src / "a.wav")
    np.testing.assert_allclose(a, denoise_signal(model, expected), atol=1e-4)  # 16-bit output
    with pytest.raises(SystemExit):
        main(["denoise", "--checkpoint", str(path)])


def test_streaming_cli_equals_whole_file(tmp_path, model_file, capsys):
    path, _ = model_file
    rng = np.random.default_rng(2)
    write_wav(tmp_path / "in" / "x.wav", (0.1 * rng.standard_normal(20000)).astype(np.float32), 16000)
    for flag, out in (([], "whole"), (["--stream", "--chunk-ms", "10"], "stream")):
        assert main(["denoise", "--checkpoint", str(path), "--input", str(tmp_path / "in" / "x.wav"),
                     "--output", str(tmp_path / out), *flag]) == 0
    assert "latency" in capsys.readouterr().out
    whole, _, _ = read_audio(tmp_path / "whole" / "x.wav")
    stream, _, _ = read_audio(tmp_path / "stream" / "x.wav")
    np.testing.assert_allclose(stream, whole, atol=1 / 32768 + 1e-6)


def test_denoise_refuses_a_run_without_a_model_and_its_own_input_folder(tmp_path, model_file, capsys):
    path, _ = model_file
    write_wav(tmp_path / "in" / "x.wav", np.zeros(2000, np.float32), 16000)
    assert main(["denoise", "--checkpoint", str(tmp_path), "--input", str(tmp_path / "in"), "--output", "o"]) == 2
    assert "no rnn model" in capsys.readouterr().err
    assert main(["denoise", "--checkpoint", str(path), "--input", str(tmp_path / "in"),
                 "--output", str(tmp_path / "in")]) == 2
    assert "is the input folder" in capsys.readouterr().err


def test_make_denoise_command_reports_bad_options(tmp_path, capsys):
    (tmp_path / "speech").mkdir()
    assert main(["data", "make-denoise", "--speech", str(tmp_path / "speech"), "--noise", str(tmp_path / "none"),
                 "--out", str(tmp_path / "o")]) == 2
    assert "no audio files" in capsys.readouterr().err
    assert main(["data", "make-denoise", "--speech", str(tmp_path), "--noise", str(tmp_path), "--out",
                 str(tmp_path / "o"), "--snr-db", "5", "-5"]) == 2
    assert "LOW must not exceed HIGH" in capsys.readouterr().err
    (tmp_path / "a_file").write_text("")
    assert main(["data", "make-denoise", "--speech", str(tmp_path), "--noise", str(tmp_path), "--out",
                 str(tmp_path / "a_file")]) == 2
    assert "--out" in (err := capsys.readouterr().err) and "is a file" in err


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed (apt-get install espeak-ng)")
def test_make_speech_writes_a_corpus_and_refuses_a_full_folder(tmp_path, capsys):
    from sslab.data.synthetic_speech import write_espeak_corpus

    out = tmp_path / "speech"
    assert main(["data", "make-speech", "--out", str(out), "--speakers", "2", "--sentences", "2", "--seed", "3"]) == 0
    files = sorted(out.glob("speaker*/sentence*.wav"))
    assert [f.relative_to(out).as_posix() for f in files] == [
        "speaker00/sentence00.wav", "speaker00/sentence01.wav", "speaker01/sentence00.wav", "speaker01/sentence01.wav"]
    same = write_espeak_corpus(tmp_path / "again", 2, 2, seed=3)  # the command is the library function
    assert all(np.array_equal(read_audio(f)[0], read_audio(same / f.relative_to(out))[0]) for f in files)
    assert main(["data", "make-speech", "--out", str(out)]) == 2
    assert "not empty" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:  # argparse refuses it: one usage line, code 2
        main(["data", "make-speech", "--out", str(tmp_path / "x"), "--speakers", "0"])
    assert exit_.value.code == 2
    assert "at least 1" in capsys.readouterr().err
    (tmp_path / "a_file").write_text("")
    assert main(["data", "make-speech", "--out", str(tmp_path / "a_file"), "--speakers", "1", "--sentences", "1"]) == 2
    assert "is a file" in capsys.readouterr().err


def test_denoise_takes_a_run_all_folder(tmp_path, model_file, capsys):
    path, model = model_file
    study = tmp_path / "all-1"
    (study / "denoise" / "checkpoints").mkdir(parents=True)
    (study / "denoise" / "config.yaml").write_text("recipe: denoise\n")
    path.rename(study / "denoise" / "checkpoints" / "seed0-rnn-model.safetensors")
    (study / "study.json").write_text('{"recipes": ["denoise"]}')
    write_wav(tmp_path / "in" / "x.wav", (0.1 * np.random.default_rng(3).standard_normal(9000)).astype(np.float32), 16000)
    assert main(["denoise", "--checkpoint", str(study), "--input", str(tmp_path / "in"),
                 "--output", str(tmp_path / "out")]) == 0
    assert (tmp_path / "out" / "x.wav").is_file()
    (study / "denoise" / "config.yaml").unlink()
    assert main(["denoise", "--checkpoint", str(study), "--input", str(tmp_path / "in"), "--output", "o"]) == 2
    assert "no denoise run" in capsys.readouterr().err
