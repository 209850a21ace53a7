import numpy as np
import pytest
import torch

from sslab.audio.enhance import METHODS, enhance, noise_power
from sslab.audio.metrics import snr_db
from sslab.data import synthetic_speech as synth
from sslab.data.denoise import mix_at_snr


def _mixtures(kinds=("white", "pink", "fan"), snr=0.0):
    rng = np.random.default_rng(0)
    speaker = synth.random_speaker(rng)
    out = []
    for kind in kinds:
        s = synth.speech_like(rng, speaker, 2.5, 16000)
        n = synth.made_up_noise(kind, rng, 3.0, 16000)[: len(s)]
        out.append(mix_at_snr(s, n, snr))
    return out


@pytest.mark.parametrize("method", METHODS)
def test_classical_baselines_raise_snr_on_a_synthetic_mixture(method):
    for x, s, _ in _mixtures():
        wave = torch.from_numpy(x).unsqueeze(0)
        out = enhance(method, wave, torch.tensor([len(x)]))[0]
        before, after = float(snr_db(s, x)), float(snr_db(s, out))
        assert after > before + 1.0, (method, before, after)


def test_noise_estimate_uses_the_quietest_frames_and_never_padding():
    # one file: 10 quiet frames of power 1 and 10 loud frames of power 100 in every bin
    power = torch.cat([torch.ones(1, 4, 10), torch.full((1, 4, 10), 100.0)], -1)
    valid = torch.ones(1, 20, dtype=torch.bool)
    assert torch.allclose(noise_power(power, valid, quietest=0.2), torch.ones(1, 4, 1))
    # padding frames of power 0 must not be taken as the quietest
    padded = torch.cat([power, torch.zeros(1, 4, 5)], -1)
    valid_padded = torch.cat([valid, torch.zeros(1, 5, dtype=torch.bool)], 1)
    assert torch.allclose(noise_power(padded, valid_padded, quietest=0.2), torch.ones(1, 4, 1))


def test_a_batch_enhances_each_file_as_it_would_alone():
    pairs = _mixtures(("white", "babble"))
    lengths = torch.tensor([len(pairs[0][0]), len(pairs[1][0]) - 3000])
    waves = torch.zeros(2, int(lengths.max()))
    for row, (x, _, _) in enumerate(pairs):
        waves[row, : int(lengths[row])] = torch.from_numpy(x[: int(lengths[row])])
    for method in METHODS:
        batch = enhance(method, waves, lengths)
        for row in range(2):
            alone = enhance(method, waves[row:row + 1, : int(lengths[row])], lengths[row:row + 1])[0]
            assert torch.allclose(batch[row, : int(lengths[row])], alone, atol=1e-5)

