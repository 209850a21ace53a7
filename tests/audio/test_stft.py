import pytest
import torch

from sslab.audio.stft import HOP, N_FFT, batch_istft, batch_stft, istft, n_frames, stft


def test_seed_geometry_513_bins_and_centred_frames():
    wave = torch.randn(16000)
    spec = stft(wave)
    assert spec.shape == (513, n_frames(16000)) == (513, 1 + 16000 // 512)
    assert (N_FFT, HOP) == (1024, 512)


@pytest.mark.parametrize("length", [513, 4096, 16000, 16001])
def test_random_signal_reconstructs_to_1e_5(length):
    gen = torch.Generator().manual_seed(length)
    wave = torch.randn(length, generator=gen)
    assert torch.allclose(istft(stft(wave), length), wave, atol=1e-5)


def test_too_short_signal_is_refused():
    with pytest.raises(ValueError, match="too short"):
        stft(torch.randn(512))


def test_ragged_batch_equals_each_signal_alone_and_ignores_padding():
    gen = torch.Generator().manual_seed(1)
    lengths = torch.tensor([9000, 16000, 700, 12800])
    waves = torch.randn(4, 16000, generator=gen, dtype=torch.float64)
    spec, valid = batch_stft(waves, lengths)
    garbage = waves.clone()
    for b, n in enumerate(lengths):
        garbage[b, n:] = 1e6
    spec_garbage, _ = batch_stft(garbage, lengths)
    mask = torch.rand(spec.shape, generator=gen, dtype=torch.float64)
    out = batch_istft(spec * mask, lengths)
    for b, n in enumerate(lengths.tolist()):
        alone = stft(waves[b, :n])
        frames = alone.shape[-1]
        assert int(valid[b].sum()) == frames
        assert torch.allclose(spec[b, :, :frames], alone, atol=1e-9)
        assert torch.equal(spec_garbage[b, :, :frames], spec[b, :, :frames])
        assert torch.allclose(out[b, :n], istft(alone * mask[b, :, :frames], n), atol=1e-9)
        assert torch.all(out[b, n:] == 0)
    # An unmasked spectrogram comes back as the signal itself.
    assert torch.allclose(batch_istft(spec, lengths)[1], waves[1], atol=1e-9)
