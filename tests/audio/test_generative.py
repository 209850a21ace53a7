"""Conditional VAE, GAN and flow: sampling shapes, determinism, genre conditioning, learning, files."""

from __future__ import annotations

import pytest
import torch

from sslab.audio.generative import (UPSAMPLE, build_model, build_optimizers, generate_audio, load_sampler,
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
    model = build_model(kind, BINS, GENRES, z_dim=4, hidden=8 if kind == "flow" else 16, genre_dim=4, flow_steps=3)
    if kind == "flow":  # its output layer starts at zero (a plain flow): give it something to say
        torch.nn.init.normal_(model.sampler.out.weight, std=0.1)
    return model


@pytest.mark.parametrize("kind", ["vae", "gan", "flow"])
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


@pytest.mark.parametrize("kind", ["vae", "gan", "flow"])
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


@pytest.mark.parametrize("kind", ["vae", "gan", "flow"])
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


@pytest.mark.parametrize("kind", ["vae", "gan", "flow"])
def test_each_model_round_trips_through_save_and_load_with_equal_samples(tmp_path, kind):
    domain = SpectralDomain("stft", 8000, 64, 16)
    torch.manual_seed(0)
    sampler = build_model(kind, domain.bins, 2, z_dim=4, hidden=8, genre_dim=4, flow_steps=2).sampler
    genres = torch.tensor([0, 1, 1])
    wave = generate_audio(sampler, domain, genres, 0.3, 4, torch.Generator().manual_seed(3), batch=2)
    assert wave.shape == (3, 2400) and torch.isfinite(wave).all()
    save_sampler(tmp_path / "s.safetensors", sampler, domain, ["classical", "rock"], {"griffin_lim_iters": 4})
    loaded, dom2, names, meta = load_sampler(tmp_path / "s.safetensors")
    assert type(loaded) is type(sampler) and dom2 == domain and names == ["classical", "rock"]
    assert meta["griffin_lim_iters"] == 4
    again = generate_audio(loaded, dom2, genres, 0.3, 4, torch.Generator().manual_seed(3), batch=2)
    assert torch.equal(wave, again)


@pytest.mark.parametrize("kind", ["vae", "flow"])
def test_the_same_seed_gives_the_same_clips_whatever_the_number_asked(kind):
    domain = SpectralDomain("mel", 8000, 64, 16, n_mels=12)
    torch.manual_seed(0)
    sampler = build_model(kind, domain.bins, 2, z_dim=4, hidden=8, genre_dim=4, flow_steps=2).sampler
    few = generate_audio(sampler, domain, torch.zeros(2, dtype=torch.long), 0.2, 2, torch.Generator().manual_seed(5))
    many = generate_audio(sampler, domain, torch.zeros(5, dtype=torch.long), 0.2, 2, torch.Generator().manual_seed(5),
                          batch=3)
    assert torch.equal(few, many[:2]) and not torch.equal(many[0], many[1])


def test_a_long_clip_has_the_requested_length():
    domain = SpectralDomain("stft", 4000, 64, 32)
    torch.manual_seed(0)
    sampler = build_model("flow", domain.bins, 2, hidden=8, genre_dim=4, flow_steps=1).sampler
    wave = generate_audio(sampler, domain, torch.tensor([1]), 30.0, 1, torch.Generator().manual_seed(0))
    assert wave.shape == (1, 30 * 4000) and torch.isfinite(wave).all()


@pytest.mark.parametrize("levels, pool, band_mix, genre_norm, every", [
    (3, "both", False, False, False), (2, "time", False, False, False), (3, "time-then-both", False, False, False),
    (2, "time", True, False, False), (2, "both", True, True, False), (3, "time-then-both", True, False, True)])
def test_the_unet_shape_options_round_trip_and_set_what_the_deep_levels_see(tmp_path, levels, pool, band_mix,
                                                                            genre_norm, every):
    domain = SpectralDomain("stft", 8000, 64, 16)  # 33 bins: not a multiple of any power of 2
    torch.manual_seed(0)
    sampler = build_model("flow", domain.bins, 2, hidden=8, genre_dim=4, flow_steps=2, flow_levels=levels,
                          flow_pool=pool, flow_band_mix=band_mix, flow_genre_norm=genre_norm,
                          flow_band_mix_every=every).sampler
    torch.nn.init.normal_(sampler.out.weight, std=0.1)
    mixes = ([sampler.mix] if band_mix else []) + (list(sampler.up_mix) if every else [])
    for mix in mixes:  # each starts as the identity; give it something to do, so the round trip below tests it
        torch.nn.init.normal_(mix.out.weight, std=0.1)
    if every:  # one map per decoder level, as wide as that level's bands
        halved = [0] + [1] * (levels - 1)  # time-then-both: the bands halve below the first level
        bands = [-(-domain.bins // 2 ** (levels - 1)) * 2 ** (levels - 1) // 2 ** sum(halved[:i])
                 for i in reversed(range(levels))]
        assert [m.bands.shape[0] for m in sampler.up_mix] == bands
    seen = []
    sampler.mid.register_forward_hook(lambda module, args, out: seen.append(out.shape[-2:]))
    genres = torch.tensor([0, 1])
    wave = generate_audio(sampler, domain, genres, 0.25, 2, torch.Generator().manual_seed(1))
    frames = domain.frames(0.25)
    padded_t = -(-frames // 2 ** levels) * 2 ** levels
    # "time" halves time only: the deepest level still has every frequency bin; "time-then-both" halves
    # frequency below the first level only
    halvings = {"both": levels, "time": 0, "time-then-both": levels - 1}[pool]
    want_f = -(-domain.bins // 2 ** halvings)
    assert seen[0] == (want_f, padded_t // 2 ** levels)
    save_sampler(tmp_path / "s.safetensors", sampler, domain, ["a", "b"])
    loaded, *_ = load_sampler(tmp_path / "s.safetensors")
    assert (loaded.levels, loaded.pool, loaded.band_mix, loaded.genre_norm, loaded.band_mix_every) == (
        levels, pool, band_mix, genre_norm, every)
    assert torch.equal(wave, generate_audio(loaded, domain, genres, 0.25, 2, torch.Generator().manual_seed(1)))


def test_a_sampler_from_before_the_unet_options_loads_with_two_levels_halving_both_axes(tmp_path):
    from sslab.train.checkpoint import read_model_meta, save_model

    domain = SpectralDomain("stft", 8000, 64, 16)
    sampler = build_model("flow", domain.bins, 2, hidden=8, genre_dim=4, flow_steps=2).sampler
    save_sampler(tmp_path / "new.safetensors", sampler, domain, ["a", "b"])
    meta = read_model_meta(tmp_path / "new.safetensors")
    for key in ("levels", "pool", "band_mix", "genre_norm"):
        del meta["sampler"][key]
    save_model(tmp_path / "old.safetensors", sampler, meta)
    loaded, *_ = load_sampler(tmp_path / "old.safetensors")
    assert (loaded.levels, loaded.pool, loaded.band_mix, loaded.genre_norm) == (2, "both", False, False)
    for key, bad in (("pool", "frequency"), ("band_mix", "yes"), ("genre_norm", 1)):
        save_model(tmp_path / "bad.safetensors", sampler, {**meta, "sampler": {**meta["sampler"], key: bad}})
        with pytest.raises(UserError, match="malformed"):
            load_sampler(tmp_path / "bad.safetensors")


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


# ---- the flow's running average of its weights (the weights that make sound) ----------------
def test_ema_width_matches_edm2s_table():
    from sslab.audio.generative import ema_gamma

    # Karras et al. 2024 (EDM2): relative std 0.05 <-> gamma 16.97, 0.10 <-> gamma 6.94.
    assert ema_gamma(0.05) == pytest.approx(16.97, abs=0.01) and ema_gamma(0.10) == pytest.approx(6.94, abs=0.01)
    with pytest.raises(ValueError, match="relative width"):
        ema_gamma(0.3)


def test_weight_average_weighs_step_t_by_t_to_the_gamma():
    from sslab.audio.generative import WeightAverage

    net = torch.nn.Linear(1, 1, bias=False)
    avg = WeightAverage(net, 0.1)
    values = torch.linspace(-1, 3, 400) ** 2  # weights that wander
    for v in values:
        net.weight.data.fill_(float(v))
        avg.update(net)
    t = torch.arange(1, 401, dtype=torch.float64)
    expected = float((t ** avg.gamma * values.double()).sum() / (t ** avg.gamma).sum())
    assert float(avg.average.weight) == pytest.approx(expected, rel=0.02)
    assert float(avg.average.weight) != pytest.approx(float(values[-1]), rel=0.05)  # not the last weights


def test_weight_average_update_never_reads_a_tensor_back_to_python(monkeypatch):
    # On a GPU, a step count read back to Python (float(), int(), .item()) waits for the device every step.
    from sslab.audio.generative import WeightAverage

    net = torch.nn.Linear(3, 3)
    avg = WeightAverage(net, 0.1)

    def refuse(*_args, **_kwargs):
        raise AssertionError("host read in WeightAverage.update")

    for name in ("__float__", "__int__", "__bool__", "__index__", "item", "tolist"):
        monkeypatch.setattr(torch.Tensor, name, refuse)
    for _ in range(3):
        avg.update(net)
    monkeypatch.undo()
    assert int(avg.steps) == 3


def test_the_flow_samples_with_its_weight_average_and_trains_the_raw_weights_only():
    from sslab.audio.generative import sampler_of

    torch.manual_seed(0)
    model = build_model("flow", BINS, GENRES, hidden=8, genre_dim=4, flow_steps=2, ema=0.1)
    model.sampler.fit_standardizer(torch.randn(4, BINS, 16) * 2 + 1)
    assert sampler_of(model) is model.sampler  # no step yet: nothing averaged
    opts = build_optimizers(model, 2e-3)
    trained = {id(p) for group in opts["opt"].param_groups for p in group["params"]}
    assert trained == {id(p) for p in model.sampler.parameters()}  # the average is not trained by Adam
    x, g = _toy_batch()
    for _ in range(5):
        train_step(model, opts, x, g)
    avg = sampler_of(model)
    assert avg is model.ema.average and int(model.ema.steps) == 5
    assert torch.equal(avg.mean, model.sampler.mean) and torch.equal(avg.std, model.sampler.std)
    assert any(not torch.equal(a, b) for a, b in zip(avg.parameters(), model.sampler.parameters()))
    # The average is part of the model's state, so a resumed run goes on averaging where it stopped.
    state = model.state_dict()
    assert "ema.steps" in state and any(k.startswith("ema.average.") for k in state)
    torch.manual_seed(1)
    again = build_model("flow", BINS, GENRES, hidden=8, genre_dim=4, flow_steps=2, ema=0.1)
    again.load_state_dict(state)
    z = avg.draw_latents(2, 24, torch.Generator().manual_seed(0))
    assert torch.equal(sampler_of(again).sample(torch.tensor([0, 1]), 24, z=z), avg.sample(torch.tensor([0, 1]), 24, z=z))
    # Without ema (and for the VAE and GAN) the last weights make sound, as before.
    assert sampler_of(build_model("flow", BINS, GENRES, hidden=8, genre_dim=4)).__class__.__name__ == "FlowSampler"
    plain = build_model("vae", BINS, GENRES, z_dim=4, hidden=16, genre_dim=4, ema=0.1)
    assert sampler_of(plain) is plain.sampler and getattr(plain, "ema", None) is None


def test_the_weight_average_round_trips_through_save_and_load_with_equal_samples(tmp_path):
    from sslab.audio.generative import sampler_of

    domain = SpectralDomain("mel", 8000, 64, 16, n_mels=12)
    torch.manual_seed(0)
    model = build_model("flow", domain.bins, 2, hidden=8, genre_dim=4, flow_steps=2, ema=0.1)
    opts = build_optimizers(model, 5e-3)
    for _ in range(3):
        train_step(model, opts, torch.randn(4, domain.bins, 16), torch.tensor([0, 1, 0, 1]))
    genres = torch.tensor([0, 1])
    wave = generate_audio(sampler_of(model), domain, genres, 0.2, 2, torch.Generator().manual_seed(3))
    raw = generate_audio(model.sampler, domain, genres, 0.2, 2, torch.Generator().manual_seed(3))
    assert not torch.equal(wave, raw)
    save_sampler(tmp_path / "s.safetensors", sampler_of(model), domain, ["classical", "rock"])
    loaded, dom2, _, _ = load_sampler(tmp_path / "s.safetensors")
    assert torch.equal(generate_audio(loaded, dom2, genres, 0.2, 2, torch.Generator().manual_seed(3)), wave)


def test_band_mix_starts_as_the_identity_and_links_every_pair_of_deep_bands():
    from sslab.audio.generative import BandMix

    mix = BandMix(8, 5)
    x = torch.randn(2, 8, 5, 7)
    assert torch.equal(mix(x), x)
    torch.manual_seed(0)
    sampler = build_model("flow", 33, 2, hidden=8, genre_dim=4, flow_levels=2, flow_pool="time",
                          flow_band_mix=True).sampler
    assert sampler.mix.bands.shape == (33, 33)  # "time" keeps every band down to the deepest level
    torch.nn.init.normal_(sampler.out.weight, std=0.1)
    torch.nn.init.normal_(sampler.mix.out.weight, std=0.1)
    x = torch.randn(2, 33, 16)
    sampler.velocity(x, torch.tensor([0.3, 0.7]), torch.tensor([0, 1])).square().sum().backward()
    # each deep band's output draws on every band (3x3 convolutions alone reach about 13 bands of 33)
    assert (sampler.mix.bands.grad != 0).all()


def test_genre_norm_standardises_each_genre_by_its_own_statistics_and_sampling_puts_them_back():
    torch.manual_seed(0)
    bright = torch.randn(6, 5, 20) + torch.linspace(0, 4, 5)[None, :, None]  # genre 0: rising with the band
    dark = 0.5 * torch.randn(4, 5, 20) - 3.0  # genre 1: low and quieter
    log_mag, genres = torch.cat([bright, dark]), torch.tensor([0] * 6 + [1] * 4)
    sampler = build_model("flow", 5, 3, hidden=8, genre_dim=4, flow_steps=1, flow_genre_norm=True).sampler
    sampler.fit_standardizer(log_mag, genres)
    assert torch.allclose(sampler.mean[1], dark.mean(dim=(0, 2))) and torch.allclose(sampler.std[0], bright.std(dim=(0, 2)))
    assert torch.equal(sampler.mean[2], log_mag.mean(dim=(0, 2)))  # a genre with no crops: the statistics of all
    x = sampler.standardize(log_mag, genres)
    for g, part in ((0, x[:6]), (1, x[6:])):
        assert part.mean(dim=(0, 2)).abs().max() < 1e-5 and (part.std(dim=(0, 2)) - 1).abs().max() < 1e-5
    assert torch.allclose(sampler.unstandardize(x, genres), log_mag, atol=1e-5)
    # an untrained U-Net outputs zero velocity (its last layer starts at zero): the sample is the noise, put back
    # on the requested genre's statistics
    z = torch.randn(2, 5, 8)
    out = sampler.sample(torch.tensor([1, 1]), 8, z=z.clone())
    assert torch.allclose(out, z * sampler.std[1][:, None] + sampler.mean[1][:, None])
    with pytest.raises(ValueError, match="genre"):
        sampler.standardize(log_mag)
