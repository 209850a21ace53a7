"""Speed of the `generate` recipe: training steps/s, and seconds of audio made per second.

Measures, at the sizes of a preset (quick by default, or paper):
- training steps per second of the conditional VAE and GAN (one step = one batch of
  spectrogram crops, STFT included), and their ratio;
- seconds of audio generated per wall-clock second, by the sampler alone and with the
  Griffin-Lim phase reconstruction that turns its spectrograms into sound; the ratio
  to 1.0 is the real-time factor;
- what the phase reconstruction costs in sound, per domain: the spectral convergence of
  made-up clips after encode -> Griffin-Lim (0 is perfect), STFT vs mel;
- training steps per second of the flow at the sizes the default preset takes with --data (or the
  paper preset's), for each U-Net option that changes its cost (``flow_pool``: what the U-Net halves
  at each level; ``flow_band_mix``), as ratios to ``flow_pool=both``.
Training steps are timed in interleaved turns, so that a change of load hits every variant alike.

    python benchmarks/generate_speed.py [--preset quick|paper] [--device cpu|cuda] [--steps N]
"""

from __future__ import annotations

import argparse
import time

import torch

from sslab.audio.generative import POOLS, build_model, build_optimizers, generate_audio, train_step
from sslab.audio.spectral import SpectralDomain, samples_for, spectral_convergence, stft
from sslab.config import build_config
from sslab.recipes.generate.config import DATA_PRESET, PRESETS, Config
from sslab.train.seeding import resolve_device


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def seconds_per_step_in_turns(steps_by_name: dict, device: torch.device, steps: int, rounds: int) -> dict[str, float]:
    """Seconds per call of each step function, timed in ``rounds`` interleaved turns of ``steps`` calls, so that
    a change of load on a shared machine hits every variant alike (one warm-up call each first)."""
    for step in steps_by_name.values():
        step()
    spent = dict.fromkeys(steps_by_name, 0.0)
    for _ in range(rounds):
        for name, step in steps_by_name.items():
            sync(device)
            start = time.perf_counter()
            for _ in range(steps):
                step()
            sync(device)
            spent[name] += time.perf_counter() - start
    return {name: total / (rounds * steps) for name, total in spent.items()}


def training_step(model, x: torch.Tensor, genres: torch.Tensor, encode=None):
    """One optimiser step of ``model`` on ``x`` (a batch of waves when ``encode`` turns them into crops)."""
    opts = build_optimizers(model, 1e-4)
    return lambda: train_step(model, opts, x if encode is None else encode(model, x), genres)


def vae_gan_seconds_per_step(cfg, domain: SpectralDomain, device: torch.device, steps: int) -> dict[str, float]:
    """The VAE and the GAN at ``cfg``'s sizes, the STFT of their crops included."""
    wave = 0.1 * torch.randn(cfg.batch_size, samples_for(cfg.crop_frames, cfg.hop), device=device)
    genres = torch.arange(cfg.batch_size, device=device) % 10
    steppers = {}
    for kind in ("vae", "gan"):
        torch.manual_seed(0)
        model = build_model(kind, domain.bins, 10, cfg.z_dim, cfg.hidden).to(device)
        steppers[kind] = training_step(model, wave, genres,
                                       lambda model, wave: model.sampler.standardize(domain.encode(wave)))
    return seconds_per_step_in_turns(steppers, device, max(1, steps // 2), rounds=2)


FLOW_VARIANTS = {  # the U-Net options that change its cost, as key=value overrides of the flow's defaults
    **{f"flow_pool={pool}": {"flow_pool": pool} for pool in POOLS},
    "flow_pool=time flow_band_mix=true": {"flow_pool": "time", "flow_band_mix": True},
    "flow_pool=time flow_band_mix=true flow_band_mix_every=true": {"flow_pool": "time", "flow_band_mix": True,
                                                                 "flow_band_mix_every": True},
}


def flow_seconds_per_step(cfg, domain: SpectralDomain, device: torch.device, steps: int) -> dict[str, float]:
    """Seconds per training step of the flow in each of ``FLOW_VARIANTS``."""
    x = torch.randn(cfg.batch_size, domain.bins, cfg.crop_frames, device=device)
    genres = torch.arange(cfg.batch_size, device=device) % 10
    steppers = {}
    for name, options in FLOW_VARIANTS.items():
        torch.manual_seed(0)
        model = build_model("flow", domain.bins, 10, hidden=cfg.hidden, flow_levels=cfg.flow_levels, ema=cfg.ema,
                            **options).to(device)
        steppers[name] = training_step(model, x, genres)
    return seconds_per_step_in_turns(steppers, device, steps, rounds=4)


def audio_seconds_per_second(cfg, domain: SpectralDomain, device: torch.device, clips: int, seconds: float,
                             iters: int) -> float:
    torch.manual_seed(0)
    sampler = build_model("vae", domain.bins, 10, cfg.z_dim, cfg.hidden).sampler.to(device)
    genres = torch.arange(clips) % 10
    generate_audio(sampler, domain, genres[:2], seconds, iters, torch.Generator().manual_seed(0))  # warm-up
    sync(device)
    start = time.perf_counter()
    generate_audio(sampler, domain, genres, seconds, iters, torch.Generator().manual_seed(0))
    sync(device)
    return clips * seconds / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="quick", choices=("quick", "paper"))
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    parser.add_argument("--steps", type=int, default=10, help="timed training steps per model")
    parser.add_argument("--clips", type=int, default=16, help="clips generated in the timed run")
    args = parser.parse_args()
    device = resolve_device(args.device)
    cfg = build_config(Config, PRESETS, args.preset, {}, "generate")
    domain = SpectralDomain(cfg.domain, cfg.sample_rate, cfg.n_fft, cfg.hop, cfg.n_mels)
    threads = torch.get_num_threads()
    print(f"generate speed, {args.preset} sizes ({cfg.sample_rate} Hz, n_fft {cfg.n_fft}, hop {cfg.hop}, hidden "
          f"{cfg.hidden}, batch {cfg.batch_size} x {cfg.crop_frames} frames) on {device}"
          f"{f' ({threads} threads)' if device.type == 'cpu' else ''}")
    per_step = vae_gan_seconds_per_step(cfg, domain, device, args.steps)
    vae, gan = 1 / per_step["vae"], 1 / per_step["gan"]
    print(f"  training: VAE {vae:.2f} steps/s, GAN {gan:.2f} steps/s (GAN/VAE {gan / vae:.2f}x: "
          "the GAN also runs its discriminator twice per step)")
    seconds = cfg.eval_seconds
    alone = audio_seconds_per_second(cfg, domain, device, args.clips, seconds, iters=0)
    full = audio_seconds_per_second(cfg, domain, device, args.clips, seconds, iters=cfg.griffin_lim_iters)
    print(f"  generation: {alone:.1f} s of audio/s from the sampler (one inverse STFT), {full:.1f} s of audio/s "
          f"with {cfg.griffin_lim_iters} Griffin-Lim iterations; {full:.1f}x real time "
          f"(Griffin-Lim takes {100 * (1 - full / alone):.0f}% of the time)")
    errors = {kind: round_trip_error(cfg, kind, args.clips) for kind in ("stft", "mel")}
    print(f"  round trip of made-up clips through {cfg.griffin_lim_iters} Griffin-Lim iterations, spectral convergence "
          f"(0 = perfect): STFT {errors['stft']:.3f}, mel {errors['mel']:.3f} (mel/STFT {errors['mel'] / errors['stft']:.2f}x)")
    flow_cfg = build_config(Config, PRESETS, args.preset, {}, "generate",
                            extra=DATA_PRESET if args.preset == "quick" else None)
    flow_domain = SpectralDomain(flow_cfg.domain, flow_cfg.sample_rate, flow_cfg.n_fft, flow_cfg.hop, flow_cfg.n_mels)
    per_step = flow_seconds_per_step(flow_cfg, flow_domain, device, max(1, args.steps // 2))
    sizes = (f"{flow_domain.bins} bands x {flow_cfg.crop_frames} frames, batch {flow_cfg.batch_size}, hidden "
             f"{flow_cfg.hidden}, {flow_cfg.flow_levels} levels")
    print(f"  flow training at the {'--data ' if args.preset == 'quick' else ''}{args.preset} sizes ({sizes}): "
          + ", ".join(f"{name} {1000 * t:.0f} ms/step ({t / per_step['flow_pool=both']:.2f}x)"
                      for name, t in per_step.items()))


def round_trip_error(cfg, kind: str, clips: int) -> float:
    from sslab.data.synthetic_music import GENRES, make_dataset

    waves, _ = make_dataset(GENRES, max(1, clips // len(GENRES)), cfg.eval_seconds, cfg.sample_rate)
    wave = torch.from_numpy(waves)
    domain = SpectralDomain(kind, cfg.sample_rate, cfg.n_fft, cfg.hop, cfg.n_mels)
    back = domain.decode(domain.encode(wave), cfg.griffin_lim_iters, cfg.eval_seconds, torch.Generator().manual_seed(0))
    return float(spectral_convergence(stft(wave, cfg.n_fft, cfg.hop).abs(), back, cfg.n_fft, cfg.hop).mean())


if __name__ == "__main__":
    main()
