import numpy as np
import torch

from sslab.audio.masks import apply_mask, bin_weights, ideal_binary_mask, masked_bce
from sslab.audio.models import RecurrentMasker
from sslab.data.denoise import Ragged, Split
from sslab.data.denoise_batches import segments, spectra


def test_ibm_follows_equation_1_with_ties_going_to_noise():
    speech = torch.tensor([[3.0, 1.0, 2.0], [0.0, 5.0, 0.5]])
    noise = torch.tensor([[1.0, 1.0, 4.0], [0.0, 4.999, 0.6]])
    expected = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    assert torch.equal(ideal_binary_mask(speech, noise), expected)


def test_mask_scales_the_complex_spectrum_and_keeps_its_phase():
    spec = torch.tensor([1 + 1j, -2 + 0.5j, 3j], dtype=torch.complex64)
    mask = torch.tensor([1.0, 0.0, 0.5])
    out = apply_mask(mask, spec)
    assert torch.allclose(out, torch.tensor([1 + 1j, 0, 1.5j], dtype=torch.complex64))


def test_padding_is_masked_out_of_the_loss():
    rng = np.random.default_rng(0)
    lengths = [3000, 5200, 4100]
    parts = {k: [rng.standard_normal(n).astype(np.float32) * 0.1 for n in lengths] for k in "xsn"}
    split = Split(["0", "1", "2"], *(Ragged.from_list(parts[k]) for k in "xsn"))
    torch.manual_seed(0)
    model = RecurrentMasker(513, "gru", hidden=16).eval()
    index = torch.tensor([0, 1, 2])
    mag, target, valid = spectra(split, index)
    loss = masked_bce(model(mag), target, valid)
    # Change everything outside the valid frames: padding frames of the features and the targets.
    garbage_mag = torch.where(valid.unsqueeze(-1), mag, torch.full_like(mag, 1e3))
    garbage_target = torch.where(valid.unsqueeze(-1), target, 1 - target)
    assert torch.equal(masked_bce(model(garbage_mag), garbage_target, valid), loss)
    # ... and the loss of each sequence alone, weighted by its frames, is the batch loss.
    alone = [masked_bce(model(m[v].unsqueeze(0)), t[v].unsqueeze(0), torch.ones(1, int(v.sum())))
             for m, t, v in zip(mag, target, valid)]
    weights = valid.sum(1).float()
    assert torch.allclose(loss, (torch.stack(alone) * weights).sum() / weights.sum(), atol=1e-6)
    # Truncated segments cover the same valid frames.
    seg_mag, seg_target, seg_valid = segments(mag, target, valid, 4)
    assert seg_valid.sum() == valid.sum() and seg_mag.shape[1] == 4


def test_magnitude_weights_have_mean_one_per_sequence_and_ignore_padding():
    mag = torch.rand(2, 6, 5) + 0.1
    valid = torch.tensor([[True] * 6, [True] * 4 + [False] * 2])
    assert bin_weights(mag, valid, 0.0) is None
    weight = bin_weights(mag, valid, 1.0)
    assert torch.allclose(weight[0].mean(), torch.tensor(1.0))
    assert torch.allclose(weight[1, :4].mean(), torch.tensor(1.0)) and torch.all(weight[1, 4:] == 0)
    # Proportional to |X| within a sequence, and blind to its overall level.
    assert torch.allclose(weight[0] / weight[0, 0, 0], mag[0] / mag[0, 0, 0], rtol=1e-5)
    assert torch.allclose(bin_weights(mag * 1000, valid, 1.0), weight, rtol=1e-5)
    # A loud wrong bin costs more than a quiet wrong bin.
    target = torch.zeros(1, 1, 2)
    logits = torch.tensor([[[3.0, 0.0]]]), torch.tensor([[[0.0, 3.0]]])
    loud_first = bin_weights(torch.tensor([[[10.0, 1.0]]]), torch.ones(1, 1, dtype=torch.bool), 1.0)
    costs = [masked_bce(z, target, torch.ones(1, 1), loud_first) for z in logits]
    assert costs[0] > costs[1]


def test_ratio_and_phase_sensitive_masks_on_known_bins():
    from sslab.audio.masks import ideal_ratio_mask, phase_sensitive_mask

    speech = torch.tensor([3.0, 0.0, 1.0, 0.0])
    noise = torch.tensor([4.0, 2.0, 0.0, 0.0])
    assert torch.allclose(ideal_ratio_mask(speech, noise), torch.tensor([9 / 25, 0.0, 1.0, 0.0]))
    assert torch.allclose(ideal_ratio_mask(speech, noise, beta=0.5), torch.tensor([0.6, 0.0, 1.0, 0.0]))
    s = torch.tensor([1 + 0j, 1j, 2 + 0j, 0j])
    x = torch.tensor([2 + 0j, 1 + 0j, 1 + 0j, 0j])
    # |S|/|X| cos(dphase): 0.5; 1 * cos(90 deg) = 0; 2 clipped to 1; an empty bin 0
    assert torch.allclose(phase_sensitive_mask(s, x), torch.tensor([0.5, 0.0, 1.0, 0.0]), atol=1e-6)


def test_ratio_masks_beat_the_binary_mask_on_snr_for_the_same_files():
    import numpy as np

    from sslab.audio.masks import MASKS, oracle_mask
    from sslab.audio.metrics import snr_db
    from sslab.audio.stft import batch_istft, batch_stft
    from sslab.data import synthetic_speech as synth
    from sslab.data.denoise import mix_at_snr

    rng = np.random.default_rng(0)
    speaker = synth.random_speaker(rng)
    scores = {kind: [] for kind in MASKS}
    for noise in ("white", "babble", "fan", "rain"):
        s = synth.speech_like(rng, speaker, 2.0, 16000)
        x, s, n = mix_at_snr(s, synth.made_up_noise(noise, rng, 2.5, 16000)[: len(s)], 0.0)
        lengths = torch.tensor([len(x)] * 3)
        spec, _ = batch_stft(torch.from_numpy(np.stack([x, s, n])), lengths)
        for kind in MASKS:
            mask = oracle_mask(kind, spec[1:2], spec[2:3], spec[0:1])
            scores[kind].append(float(snr_db(s, batch_istft(apply_mask(mask, spec[0:1]), lengths[:1])[0])))
    ibm, irm, psm = (np.mean(scores[k]) for k in MASKS)
    assert irm >= ibm, scores
    assert psm >= irm, scores
