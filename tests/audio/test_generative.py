"""Conditional VAE and GAN: sampling shapes, determinism, genre conditioning, learning."""

from __future__ import annotations

import pytest
import torch

from sslab.audio.generative import (UPSAMPLE, Sampler, build_model, build_optimizers, generate_audio, load_sampler,
                                    save_sampler, train_step)
from sslab.audio.spectral import SpectralDomain
from sslab.errors import UserError

BINS, GENRES = 33, 3


@pytest.fixture(autouse=True)
def one_thread():
    """One intra-op thread: on a busy 2-core machine, threads waiting for each other made these tests 10x slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def small(kind: str, seed: int = 0):
    torch.manual_seed(seed)
    return build_model(kind, BINS, GENRES, z_dim=4, hidden=16, genre_dim=4)


@pytest.mark.parametrize("kind", ["vae", "gan"])
def test_sampling_shape_any_length_and_determinism(kind):
    sampler = small(kind).sampler
    genres = torch.tensor([0, 1, 2, 2])
    for frames in (UPSAMPLE, 37, 200):  # not only multiples of the upsampling factor
        out = sampler.sample(genres, frames, torch.Generator().manual_seed(1))
        assert out.shape == (4, BINS, frames) and torch.isfinite(out).all()
    a = sampler.sample(genres, 40, torch.Generator().manual_seed(7))
    b = sampler.sample(genres, 40, torch.Generator().manual_seed(7))
    c = sampler.sample(genres, 40, torch.Generator().manual_seed(8))
    assert torch.equal(a, b) and not torch.allclose(a, c)


@pytest.mark.parametrize("kind", ["vae", "gan"])
def test_changing_the_genre_changes_the_output(kind):
    sampler = small(kind).sampler
    z = sampler.draw_latents(1, 32, torch.Generator().manual_seed(0))
    outs = [sampler.sample(torch.tensor([g]), 32, z=z) for g in range(GENRES)]
    for g in range(1, GENRES):
        assert (outs[g] - outs[0]).abs().mean() > 1e-3


def test_standardizer_maps_training_statistics_to_zero_mean_unit_std():
    sampler = small("vae").sampler
    data = torch.randn(8, BINS, 40) * torch.linspace(0.5, 3, BINS)[:, None] + torch.linspace(-5, 2, BINS)[:, None]
    sampler.fit_standardizer(data)
    x = sampler.standardize(data)
    assert x.mean(dim=(0, 2)).abs().max() < 1e-4 and (x.std(dim=(0, 2)) - 1).abs().max() < 1e-3
    assert torch.allclose(sampler.unstandardize(x), data, atol=1e-4)


def _toy_batch(n: int = 12):
    """Genre g is a horizontal band at bin 8g+4 (a 'timbre' per genre) plus a little noise."""
    g = torch.arange(n) % GENRES
    x = torch.full((n, BINS, 32), -1.0)
    for i in range(n):
        x[i, 8 * int(g[i]) + 4] = 3.0
    return x + 0.05 * torch.randn_like(x), g


@pytest.mark.parametrize("kind", ["vae", "gan"])
def test_training_steps_update_the_model(kind):
    model = small(kind)
    opts = build_optimizers(model, 2e-3)
    x, g = _toy_batch()
    before = [p.detach().clone() for p in model.sampler.parameters()]
    losses = [train_step(model, opts, x, g) for _ in range(3)]
    assert all(torch.isfinite(v).all() for d in losses for v in d.values())
    assert any(not torch.equal(a, b) for a, b in zip(before, model.sampler.parameters()))


def test_vae_learns_a_genre_conditional_band():
    torch.manual_seed(0)
    model = small("vae")
    opts = build_optimizers(model, 3e-3)
    first = None
    for _ in range(150):
        x, g = _toy_batch()
        out = train_step(model, opts, x, g)
        first = out["mse"] if first is None else first
    assert out["mse"] < 0.3 * first
    # Samples from the prior put their loudest bin where the requested genre's band is.
    samples = model.sampler.sample(torch.arange(GENRES).repeat_interleave(4), 32, torch.Generator().manual_seed(0))
    loudest = samples.mean(dim=2).argmax(dim=1)
    assert loudest.tolist() == [4] * 4 + [12] * 4 + [20] * 4


def test_generated_audio_and_the_sampler_file_round_trip(tmp_path):
    domain = SpectralDomain("stft", 8000, 64, 16)
    torch.manual_seed(0)
    sampler = Sampler(domain.bins, 2, z_dim=4, hidden=16, genre_dim=4)
    genres = torch.tensor([0, 1, 1])
    wave = generate_audio(sampler, domain, genres, 0.3, 4, torch.Generator().manual_seed(3), batch=2)
    assert wave.shape == (3, 2400) and torch.isfinite(wave).all()
    save_sampler(tmp_path / "s.safetensors", sampler, domain, ["classical", "rock"], {"griffin_lim_iters": 4})
    loaded, dom2, names, meta = load_sampler(tmp_path / "s.safetensors")
    assert dom2 == domain and names == ["classical", "rock"] and meta["griffin_lim_iters"] == 4
    again = generate_audio(loaded, dom2, genres, 0.3, 4, torch.Generator().manual_seed(3), batch=2)
    assert torch.equal(wave, again)


def test_load_sampler_refuses_other_files(tmp_path):
    from sslab.train.checkpoint import save_model

    save_model(tmp_path / "judge.safetensors", torch.nn.Linear(2, 2), {"recipe": "generate"})
    with pytest.raises(UserError, match="not a sampler"):
        load_sampler(tmp_path / "judge.safetensors")
    with pytest.raises(UserError, match="not found"):
        load_sampler(tmp_path / "missing.safetensors")


def test_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="unknown model kind"):
        build_model("diffusion", BINS, GENRES)
