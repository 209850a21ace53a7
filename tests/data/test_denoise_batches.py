import numpy as np
import torch

from sslab.data.denoise import Ragged, Split
from sslab.data.denoise_batches import batches, remixed, spectra


def _ragged_split(lengths, seed=0):
    rng = np.random.default_rng(seed)
    speech = [rng.standard_normal(n).astype(np.float32) * 0.1 for n in lengths]
    noise = [rng.standard_normal(n).astype(np.float32) * 0.1 for n in lengths]
    return Split([str(i) for i in range(len(lengths))], Ragged.from_list([s + n for s, n in zip(speech, noise)]),
                 Ragged.from_list(speech), Ragged.from_list(noise))


def test_remixing_rotates_and_scales_each_files_own_noise():
    split = _ragged_split([3000, 5200, 4100])
    out = remixed(split, 5.0, torch.Generator().manual_seed(0))
    assert torch.equal(out.speech.flat, split.speech.flat)
    torch.testing.assert_close(out.noisy.flat, out.speech.flat + out.noise.flat)
    for i in range(3):
        old, new = split.noise.signal(i), out.noise.signal(i)
        # new = gain * old rotated by some offset; the gain is within ±5 dB
        gain = float(new.norm() / old.norm())
        assert 10 ** (-5 / 20) - 1e-6 <= gain <= 10 ** (5 / 20) + 1e-6
        shifts = [k for k in range(len(old)) if torch.allclose(torch.roll(old, -k) * gain, new, atol=1e-6)]
        assert len(shifts) == 1
    again = remixed(split, 5.0, torch.Generator().manual_seed(0))
    assert torch.equal(again.noisy.flat, out.noisy.flat)  # the draws come from the generator (resume)
    other = remixed(split, 5.0, torch.Generator().manual_seed(1))
    assert not torch.equal(other.noisy.flat, out.noisy.flat)


def test_swapped_remixing_takes_another_files_noise_at_its_own_level():
    split = _ragged_split([300, 520, 410, 350])
    split.noise.flat[split.noise.offsets[2]:split.noise.offsets[3]] *= 4  # a louder noise file
    out = remixed(split, 5.0, torch.Generator().manual_seed(0), swap=1.0)
    torch.testing.assert_close(out.noisy.flat, out.speech.flat + out.noise.flat)
    for i in range(4):
        own, new = split.noise.signal(i), out.noise.signal(i)
        # its level stays within ±5 dB of its own noise's (RMS), whoever's noise it took
        ratio_db = 20 * float(torch.log10(new.square().mean().sqrt() / own.square().mean().sqrt()))
        matches = []
        for j in range(4):
            other = split.noise.signal(j)
            for k in range(len(other)):
                candidate = other[(torch.arange(len(own)) + k) % len(other)]
                gain = float(candidate @ new / (candidate @ candidate))
                if torch.allclose(candidate * gain, new, atol=1e-5):
                    matches.append(j)
        assert matches and i not in matches, (i, matches)  # every file took another file's noise
        # wrapping a shorter partner repeats it, so the RMS check is loose by the wrap's share
        assert -5.5 <= ratio_db <= 5.5, (i, ratio_db)
    kept = remixed(split, 5.0, torch.Generator().manual_seed(0), swap=0.0)
    plain = remixed(split, 5.0, torch.Generator().manual_seed(0))
    assert torch.equal(kept.noisy.flat, plain.noisy.flat)


def test_segment_batches_cover_the_training_frames_once():
    split = _ragged_split([3000, 5200, 4100, 9000, 2600])
    _, _, valid = spectra(split, torch.arange(5))
    got = list(batches(split, 3, 4, torch.Generator().manual_seed(0)))  # batches of 3 segments of 4 frames
    assert all(m.shape[0] <= 3 and m.shape[1] == 4 for m, _, _ in got)
    seen = sum(int(v.sum()) for _, _, v in got)
    # every valid frame once, minus the random first frames skipped (fewer than t_trunc per file)
    assert int(valid.sum()) - 5 * 3 <= seen <= int(valid.sum())
    whole = list(batches(split, 2, 0, torch.Generator().manual_seed(0)))  # pairs of whole sequences
    assert len(whole) == 3 and sum(int(v.sum()) for _, _, v in whole) == int(valid.sum())


def test_ratio_mask_target_in_whole_and_segment_batches():
    from sslab.audio.masks import ideal_ratio_mask
    from sslab.audio.stft import batch_stft

    split = _ragged_split([1200 + 7 * i for i in range(70)])  # more files than one segment pool
    index = torch.arange(3)
    mag, target, valid = spectra(split, index, "irm")
    s, lengths = split.speech.batch(index)
    n, _ = split.noise.batch(index)
    spec, _ = batch_stft(torch.cat([s, n]), lengths.repeat(2))
    speech, noise = spec.abs().transpose(1, 2).chunk(2)
    assert torch.allclose(target, ideal_ratio_mask(speech, noise))
    assert set(spectra(split, index)[1].unique().tolist()) <= {0.0, 1.0}  # the default stays the binary mask
    for t_trunc in (0, 2):
        soft = [((t > 0.01) & (t < 0.99))[v].float().mean() for _, t, v in
                batches(split, 8, t_trunc, torch.Generator().manual_seed(0), "irm")]
        assert len(soft) > 1 and min(soft) > 0.2
