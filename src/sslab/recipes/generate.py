"""Recipe `generate` (seed 003, problem 2.1): a genre-conditioned generative audio model.

A conditional VAE (or GAN) on log-magnitude spectrograms makes clips of a requested
genre; Griffin-Lim turns the magnitudes into sound. The seed judges the audio itself
(noise, quality and above all the genre, "classical" for the test), so the recipe trains
its own judge, a genre classifier on real clips, checks it on held-out clips, and uses it
every few epochs and at the end to score generated clips: the share judged to be the
requested genre, a Frechet distance between the judge's embeddings of real held-out
and generated clips (FAD-style), and how noise-like the generated classical clips are
(spectral flatness, energy above 4 kHz) next to real ones.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from sslab.audio.generative import KINDS, build_model, build_optimizers, generate_audio, save_sampler, train_step
from sslab.audio.io import write_wav
from sslab.audio.judge import GenreJudge, frechet_distance, high_frequency_ratio, judge_train_step, spectral_flatness
from sslab.audio.spectral import SpectralDomain, samples_for
from sslab.config import param
from sslab.data import gtzan, synthetic_music
from sslab.errors import UserError
from sslab.recipes import Context, Recipe, RecipeConfig
from sslab.report import figures, stats
from sslab.report.document import AudioGrid, Claims, Code, Figure, Section, Table, Text
from sslab.train import atomic
from sslab.train.checkpoint import save_model
from sslab.train.rundir import Run
from sslab.train.seeding import phase_seed

SPLIT_SEED = 20211121  # one clip split for every seed, so seeds differ only in training


@dataclass
class Config(RecipeConfig):
    model: str = param("vae", "generative model: conditional VAE or conditional GAN", choices=KINDS)
    domain: str = param("stft", "what the model makes: log-magnitude STFT, or log-mel (inverted by NNLS)",
                        choices=("stft", "mel"))
    test_genre: str = param("classical", "the genre the seed tests generation on (must be one of the genres)")
    genres: tuple[str, ...] = param((), "genres to use, e.g. classical,rock (empty: every genre folder found)")
    sample_rate: int = param(16000, "sample rate the clips are resampled to (GTZAN: 22050)", min=4000, max=48000)
    n_fft: int = param(512, "STFT window length in samples", min=64, max=8192)
    hop: int = param(128, "STFT hop in samples (at most n_fft/2; n_fft/4 suits Griffin-Lim best)", min=16, max=4096)
    n_mels: int = param(80, "mel bands when domain=mel", min=16, max=512)
    griffin_lim_iters: int = param(32, "fast Griffin-Lim iterations when turning spectrograms into sound", min=1, max=1000)
    crop_frames: int = param(64, "spectrogram frames per training crop (a multiple of 8)", min=8, max=4096)
    z_dim: int = param(32, "latent channels per 8 frames", min=1, max=1024)
    hidden: int = param(96, "channels of the decoder, encoder and discriminator (a multiple of 8)", min=8, max=2048)
    batch_size: int = param(32, "crops per training step", min=2, max=4096)
    lr: float = param(0.0, "Adam learning rate (0: 1e-3 for the VAE, 2e-4 for the GAN)", min=0.0, max=1.0)
    epochs: int = param(10, "generator epochs", min=1, max=100_000)
    steps_per_epoch: int = param(30, "training steps per epoch", min=1, max=1_000_000)
    eval_every: int = param(2, "judge the generated audio every this many epochs (and at the end)", min=1)
    eval_clips: int = param(4, "generated clips per genre at each evaluation", min=2, max=10_000)
    final_clips: int = param(12, "generated clips per genre at the final evaluation", min=2, max=10_000)
    eval_seconds: float = param(2.0, "length of judged clips, real and generated", min=0.25, max=30.0)
    judge_epochs: int = param(4, "epochs of the genre classifier", min=1, max=100_000)
    judge_steps: int = param(25, "judge training steps per epoch", min=1, max=1_000_000)
    judge_lr: float = param(2e-3, "Adam learning rate of the judge", min=0.0, max=1.0)
    test_fraction: float = param(0.2, "share of clips of each genre held out for testing", min=0.05, max=0.9)
    piece_seconds: float = param(5.0, "clips are cut into pieces this long", min=0.5, max=600.0)
    max_seconds_per_file: float = param(30.0, "read at most this much of each file", min=0.5, max=36_000.0)
    synthetic_genres: int = param(5, "made-up genres when no --data is given (classical, rock, disco, jazz, hiphop)",
                                  min=2, max=len(synthetic_music.GENRES))
    synthetic_clips: int = param(16, "made-up clips per genre", min=3, max=10_000)
    report_clips: int = param(2, "generated clips per genre played in the report", min=1, max=20)
    report_seconds: float = param(3.0, "length of the clips in the report", min=0.5, max=30.0)

    def validate(self) -> None:
        if self.hop > self.n_fft // 2:
            raise UserError(f"hop={self.hop} must be at most n_fft/2 = {self.n_fft // 2} (Griffin-Lim needs overlap)")
        if self.crop_frames % 8:
            raise UserError(f"crop_frames={self.crop_frames} must be a multiple of 8 (the model upsamples by 8)")
        if self.hidden % 8:
            raise UserError(f"hidden={self.hidden} must be a multiple of 8 (group normalisation in groups of 8)")
        longest = max(self.eval_seconds, samples_for(self.crop_frames, self.hop) / self.sample_rate)
        if longest > self.piece_seconds:
            raise UserError(f"piece_seconds={self.piece_seconds} is shorter than a judged clip or a training crop "
                            f"({longest:.2f} s); raise piece_seconds or lower eval_seconds/crop_frames")
        if self.domain == "mel" and self.n_mels > self.n_fft // 2 + 1:
            raise UserError(f"n_mels={self.n_mels} exceeds the {self.n_fft // 2 + 1} STFT bins; lower it")

    @property
    def learning_rate(self) -> float:
        return self.lr or (1e-3 if self.model == "vae" else 2e-4)


PRESETS = {
    "smoke": {"epochs": 2, "steps_per_epoch": 4, "eval_every": 1, "eval_clips": 3, "final_clips": 3,
              "judge_epochs": 2, "judge_steps": 5, "synthetic_genres": 2, "synthetic_clips": 5,
              "piece_seconds": 2.0, "eval_seconds": 1.0, "hidden": 32, "z_dim": 8, "batch_size": 8,
              "griffin_lim_iters": 4, "report_clips": 1, "report_seconds": 1.0, "crop_frames": 32},
    "quick": {},
    # The seed: GTZAN, its 10 genres at 22,050 Hz, "classical" tested; it leaves model and
    # training open, so these are sizes a GPU trains in about an hour.
    "paper": {"sample_rate": 22050, "n_fft": 1024, "hop": 256, "crop_frames": 128, "z_dim": 64, "hidden": 256,
              "batch_size": 64, "epochs": 100, "steps_per_epoch": 200, "eval_every": 10, "eval_clips": 32,
              "final_clips": 100, "eval_seconds": 3.0, "judge_epochs": 30, "judge_steps": 100,
              "griffin_lim_iters": 64, "synthetic_clips": 100, "piece_seconds": 10.0, "report_clips": 1,
              "synthetic_genres": 5, "seeds": 3},
}


# ---- data ---------------------------------------------------------------------------
@dataclass
class GenreData:
    """Train and held-out pieces (int16, resident on the device) of every genre."""

    genres: tuple[str, ...]
    sample_rate: int
    train: torch.Tensor
    train_labels: torch.Tensor
    test: torch.Tensor
    test_labels: torch.Tensor
    test_clips: torch.Tensor
    source: str
    skipped: list[str]


def split_by_clip(labels: np.ndarray, clips: np.ndarray, test_fraction: float) -> np.ndarray:
    """A boolean mask of held-out pieces: a seeded share of each genre's clips, all pieces of a clip together."""
    rng = np.random.default_rng(SPLIT_SEED)
    held = np.zeros(len(labels), dtype=bool)
    for g in np.unique(labels):
        ids = np.unique(clips[labels == g])
        n_test = max(1, int(round(test_fraction * len(ids))))
        if n_test >= len(ids):
            raise UserError(f"genre {g} has only {len(ids)} clip(s); a train/test split needs at least 2 "
                            "(add clips or lower test_fraction)")
        held |= np.isin(clips, rng.permutation(ids)[:n_test])
    return held


def load_data(cfg: Config, data_dir: Path | None, device: torch.device) -> GenreData:
    if data_dir is None:
        names = synthetic_music.GENRES[: cfg.synthetic_genres]
        if cfg.genres:
            unknown = [g for g in cfg.genres if g not in synthetic_music.GENRES]
            if unknown:
                raise UserError(f"genres={','.join(cfg.genres)}: sslab's made-up music has no {', '.join(unknown)}; "
                                f"choose from {', '.join(synthetic_music.GENRES)}")
            names = tuple(cfg.genres)
        waves, labels = synthetic_music.make_dataset(names, cfg.synthetic_clips, cfg.piece_seconds, cfg.sample_rate)
        music = gtzan.MusicSet(gtzan.to_int16(waves), labels, np.arange(len(labels)), tuple(names),
                               [f"{names[g]}/{i}" for i, g in enumerate(labels)], cfg.sample_rate)
        source = f"made-up music ({len(names)} genres x {cfg.synthetic_clips} clips of {cfg.piece_seconds:g} s)"
    else:
        music = gtzan.load_music_folder(data_dir, cfg.sample_rate, cfg.piece_seconds,
                                        max_seconds_per_file=cfg.max_seconds_per_file,
                                        genres=tuple(cfg.genres) or None)
        source = f"{data_dir} ({len(music.genres)} genres, {len(music.clip_names)} clips)"
    if cfg.test_genre not in music.genres:
        raise UserError(f"test_genre={cfg.test_genre} is not among the genres ({', '.join(music.genres)}); "
                        "choose one of them")
    held = split_by_clip(music.labels, music.clips, cfg.test_fraction)
    pieces = torch.from_numpy(music.pieces)
    labels = torch.from_numpy(music.labels)
    return GenreData(music.genres, music.sample_rate, pieces[~held].to(device), labels[~held].to(device),
                     pieces[held].to(device), labels[held].to(device), torch.from_numpy(music.clips[held]),
                     source, music.skipped)


def random_crops(pieces: torch.Tensor, labels: torch.Tensor, n: int, length: int,
                 generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` random crops of ``length`` samples (float in [-1, 1]) from random pieces, in one gather."""
    idx = torch.randint(len(pieces), (n,), generator=generator)
    start = torch.randint(pieces.shape[1] - length + 1, (n,), generator=generator)
    idx, start = idx.to(pieces.device), start.to(pieces.device)
    cols = start[:, None] + torch.arange(length, device=pieces.device)
    return pieces[idx[:, None], cols].float() / 32767.0, labels[idx]


def held_out_segments(data: GenreData, seconds: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Every non-overlapping ``seconds``-long segment of the held-out pieces: (waves, labels, clip ids)."""
    length = int(round(seconds * data.sample_rate))
    per_piece = data.test.shape[1] // length
    segs = data.test[:, : per_piece * length].reshape(-1, length).float() / 32767.0
    return segs, data.test_labels.repeat_interleave(per_piece), data.test_clips.repeat_interleave(per_piece)


# ---- judging ------------------------------------------------------------------------
@dataclass
class Reference:
    """The judge's view of real held-out clips, what generated clips are compared with."""

    embeddings: torch.Tensor
    labels: torch.Tensor
    flatness: torch.Tensor
    hf_ratio: torch.Tensor


def noise_measures(wave: torch.Tensor, sample_rate: int) -> tuple[torch.Tensor, torch.Tensor]:
    cutoff = min(4000.0, 0.4 * sample_rate)  # 4 kHz, or below Nyquist for low sample rates
    return spectral_flatness(wave).cpu(), high_frequency_ratio(wave, sample_rate, cutoff).cpu()


def judge_generated(judge: GenreJudge, wave: torch.Tensor, genres_of: torch.Tensor, ref: Reference,
                    names: tuple[str, ...], sample_rate: int) -> dict:
    """Genre accuracy, Frechet distance to real held-out clips and noise measures, per genre."""
    logits, emb = judge.judge(wave)
    hit = (logits.argmax(dim=1) == genres_of).float()
    flat, hf = noise_measures(wave.to(judge.fb.device), sample_rate)
    out: dict = {"acc": {}, "fd": {}, "flatness": {}, "hf_ratio": {}}
    for g, name in enumerate(names):
        mine = genres_of == g
        out["acc"][name] = float(hit[mine].mean())
        out["fd"][name] = frechet_distance(emb[mine], ref.embeddings[ref.labels == g])
        out["flatness"][name] = float(flat[mine].mean())
        out["hf_ratio"][name] = float(hf[mine].mean())
    out["mean_acc"] = float(np.mean(list(out["acc"].values())))
    out["mean_fd"] = float(np.mean(list(out["fd"].values())))
    return out


def genre_batch(n_genres: int, per_genre: int) -> torch.Tensor:
    return torch.arange(n_genres).repeat_interleave(per_genre)


# ---- one seed -------------------------------------------------------------------------
def run_seed(ctx: Context) -> None:
    cfg, run, seed, data = ctx.cfg, ctx.run, ctx.seed, ctx.data
    dev, names, sr = ctx.device, data.genres, data.sample_rate
    domain = SpectralDomain(cfg.domain, sr, cfg.n_fft, cfg.hop, cfg.n_mels)
    judged_len = int(round(cfg.eval_seconds * sr))

    # 1. The judge: a genre classifier on real training clips.
    torch.manual_seed(phase_seed(seed, "init-judge"))
    judge = GenreJudge(sr, len(names)).to(dev)
    judge_opt = torch.optim.Adam(judge.parameters(), lr=cfg.judge_lr)
    order = torch.Generator().manual_seed(phase_seed(seed, "order-judge"))
    stage = run.stage(f"seed{seed}/judge", model=judge, optimizer=judge_opt, generator=order)
    for epoch in stage.epochs(cfg.judge_epochs, desc=f"seed {seed} judge"):
        total = torch.zeros((), device=dev)
        for _ in range(cfg.judge_steps):
            wave, labels = random_crops(data.train, data.train_labels, cfg.batch_size, judged_len, order)
            total += judge_train_step(judge, judge_opt, wave, labels)
        run.log(seed=seed, phase="judge", epoch=epoch + 1, loss=(total / cfg.judge_steps).item())
        stage.show(loss=(total / cfg.judge_steps).item())

    real, real_labels, real_clips = held_out_segments(data, cfg.eval_seconds)
    logits, emb = judge.judge(real)
    flat, hf = noise_measures(real.to(dev), sr)
    ref = Reference(emb, real_labels.cpu(), flat, hf)
    if run.once(f"seed{seed}/judge-eval"):
        log_judge_checks(run, seed, cfg, judge, data, domain, ref, logits, real, real_clips)
        save_model(run.checkpoint_path(f"seed{seed}/judge"), judge,
                   {"recipe": "generate", "genres": list(names), "sample_rate": sr})
        run.mark(f"seed{seed}/judge-eval")

    # 2. The generative model.
    torch.manual_seed(phase_seed(seed, f"init-{cfg.model}"))
    model = build_model(cfg.model, domain.bins, len(names), cfg.z_dim, cfg.hidden).to(dev)
    crop_len = samples_for(cfg.crop_frames, cfg.hop)
    stats_gen = torch.Generator().manual_seed(phase_seed(seed, "standardizer"))
    sample, _ = random_crops(data.train, data.train_labels, min(512, 16 * len(data.train)), crop_len, stats_gen)
    model.sampler.fit_standardizer(domain.encode(sample))
    optimizers = build_optimizers(model, cfg.learning_rate)
    order = torch.Generator().manual_seed(phase_seed(seed, f"order-{cfg.model}"))
    stage = run.stage(f"seed{seed}/{cfg.model}", model=model, generator=order, **optimizers)
    for epoch in stage.epochs(cfg.epochs, desc=f"seed {seed} {cfg.model}"):
        start = time.perf_counter()
        totals: dict[str, torch.Tensor] = {}
        for _ in range(cfg.steps_per_epoch):
            wave, labels = random_crops(data.train, data.train_labels, cfg.batch_size, crop_len, order)
            x = model.sampler.standardize(domain.encode(wave))
            for key, value in train_step(model, optimizers, x, labels).items():
                totals[key] = totals.get(key, 0) + value
        steps_per_s = cfg.steps_per_epoch / (time.perf_counter() - start)
        losses = {k: (v / cfg.steps_per_epoch).item() for k, v in totals.items()}
        run.log(seed=seed, phase=cfg.model, epoch=epoch + 1, steps_per_s=steps_per_s, **losses)
        stage.show(**losses)
        if (epoch + 1) % cfg.eval_every == 0 or epoch + 1 == cfg.epochs:
            gen = torch.Generator().manual_seed(phase_seed(seed, f"eval-{epoch + 1}"))
            genres_of = genre_batch(len(names), cfg.eval_clips)
            wave = generate_audio(model.sampler, domain, genres_of, cfg.eval_seconds, cfg.griffin_lim_iters, gen)
            scores = judge_generated(judge, wave, genres_of, ref, names, sr)
            run.log(seed=seed, phase="eval", epoch=epoch + 1, **scores)
            stage.show(acc=scores["mean_acc"], fd=scores["mean_fd"])

    if run.once(f"seed{seed}/final"):
        final_evaluation(run, seed, cfg, model, judge, domain, ref, data, real, real_labels)
        run.mark(f"seed{seed}/final")


def log_judge_checks(run: Run, seed: int, cfg: Config, judge: GenreJudge, data: GenreData, domain: SpectralDomain,
                     ref: Reference, logits: torch.Tensor, real: torch.Tensor, real_clips: torch.Tensor) -> None:
    """How good the judge is, and the scores real clips get: the yardsticks for generated ones."""
    names, sr = data.genres, data.sample_rate
    pred = logits.argmax(dim=1)
    seg_acc = float((pred == ref.labels).float().mean())
    # Clip level: average the logits of a clip's segments (how GTZAN classifiers are usually scored).
    clip_ids, inverse = torch.unique(real_clips, return_inverse=True)
    clip_logits = torch.zeros(len(clip_ids), logits.shape[1]).index_add_(0, inverse, logits.softmax(dim=1))
    clip_labels = torch.zeros(len(clip_ids), dtype=torch.long).scatter_(0, inverse, ref.labels)
    clip_acc = float((clip_logits.argmax(dim=1) == clip_labels).float().mean())
    # Real clips through the spectral round trip (magnitude only, phase by Griffin-Lim): the
    # best a perfect generator of magnitudes could score, so the cost of the phase reconstruction.
    gen = torch.Generator().manual_seed(phase_seed(seed, "round-trip"))
    rebuilt = torch.cat([domain.decode(domain.encode(chunk.to(judge.fb.device)), cfg.griffin_lim_iters,
                                       cfg.eval_seconds, gen).cpu() for chunk in real.split(32)])
    round_trip = judge_generated(judge, rebuilt, ref.labels, ref, names, sr)
    # Two halves of the real held-out clips: the distance two real sets of this size still have.
    floor = {}
    for g, name in enumerate(names):
        emb = ref.embeddings[ref.labels == g]
        floor[name] = frechet_distance(emb[0::2], emb[1::2]) if len(emb) >= 4 else float("nan")
    run.log(seed=seed, phase="judge-test", segment_acc=seg_acc, clip_acc=clip_acc,
            per_genre_acc={n: float((pred[ref.labels == g] == g).float().mean()) for g, n in enumerate(names)},
            round_trip=round_trip, fd_real_halves=floor,
            real_flatness={n: float(ref.flatness[ref.labels == g].mean()) for g, n in enumerate(names)},
            real_hf_ratio={n: float(ref.hf_ratio[ref.labels == g].mean()) for g, n in enumerate(names)},
            n_test_segments=len(real), n_test_clips=len(clip_ids), n_train_pieces=len(data.train))


def final_evaluation(run: Run, seed: int, cfg: Config, model, judge: GenreJudge, domain: SpectralDomain,
                     ref: Reference, data: GenreData, real: torch.Tensor, real_labels: torch.Tensor) -> None:
    names, sr = data.genres, data.sample_rate
    gen = torch.Generator().manual_seed(phase_seed(seed, "final"))
    genres_of = genre_batch(len(names), cfg.final_clips)
    start = time.perf_counter()
    wave = generate_audio(model.sampler, domain, genres_of, cfg.eval_seconds, cfg.griffin_lim_iters, gen)
    audio_per_s = len(wave) * cfg.eval_seconds / (time.perf_counter() - start)
    scores = judge_generated(judge, wave, genres_of, ref, names, sr)
    logits, _ = judge.judge(wave)
    confusion = torch.zeros(len(names), len(names)).index_put_(
        (genres_of, logits.argmax(dim=1)), torch.ones(len(wave)), accumulate=True)
    run.log(seed=seed, phase="final", epoch=cfg.epochs, audio_seconds_per_s=audio_per_s,
            confusion=confusion.tolist(), **scores)
    save_sampler(run.checkpoint_path(f"seed{seed}/sampler"), model.sampler, domain, names,
                 {"recipe": "generate", "model": cfg.model, "griffin_lim_iters": cfg.griffin_lim_iters, "seed": seed})
    if seed == run.config()["seeds"][0]:
        write_examples(run, cfg, model, domain, data, real, real_labels, seed)


def write_examples(run: Run, cfg: Config, model, domain: SpectralDomain, data: GenreData, real: torch.Tensor,
                   real_labels: torch.Tensor, seed: int) -> None:
    """Clips for the report's players (real beside generated) and their spectrograms."""
    names, sr = data.genres, data.sample_rate
    folder = run.root / "audio"
    gen = torch.Generator().manual_seed(phase_seed(seed, "examples"))
    genres_of = genre_batch(len(names), cfg.report_clips)
    wave = generate_audio(model.sampler, domain, genres_of, cfg.report_seconds, cfg.griffin_lim_iters, gen)
    length = min(int(round(cfg.report_seconds * sr)), data.test.shape[1])
    real_example = torch.stack([data.test[data.test_labels == g][0, :length].float().cpu() / 32767.0
                                for g in range(len(names))])
    listing = {}
    for g, name in enumerate(names):
        real_path = write_wav(folder / f"real_{name}.wav", real_example[g].numpy(), sr)
        made = [write_wav(folder / f"generated_{name}_{i}.wav", w.numpy(), sr)
                for i, w in enumerate(wave[genres_of == g])]
        listing[name] = {"real": real_path.name, "generated": [p.name for p in made]}
    atomic.write_json(folder / "index.json", listing)
    draw_spectrograms(run.figures / "spectrograms", names, real_example, wave[:: cfg.report_clips], domain)


def draw_spectrograms(stem: Path, names, real: torch.Tensor, generated: torch.Tensor, domain: SpectralDomain) -> None:
    def db(wave: torch.Tensor) -> np.ndarray:
        return 20 / np.log(10) * domain.encode(wave[None]).squeeze(0).numpy()

    rows = len(names)
    fig, axes = figures.plt.subplots(rows, 2, figsize=(8, 1.5 * rows + 0.6), dpi=110, squeeze=False)
    top = max(float(db(real[g]).max()) for g in range(rows))
    for g, name in enumerate(names):
        for col, (label, w) in enumerate((("real", real[g]), ("generated", generated[g]))):
            ax = axes[g][col]
            ax.imshow(db(w), origin="lower", aspect="auto", cmap="magma", vmin=top - 80, vmax=top,
                      extent=(0, w.shape[-1] / domain.sample_rate, 0, domain.sample_rate / 2000 if domain.kind == "stft" else domain.n_mels))
            ax.set_title(f"{name}: {label}", fontsize=8)
            ax.tick_params(labelsize=7)
        axes[g][0].set_ylabel("kHz" if domain.kind == "stft" else "mel band", fontsize=7)
    axes[-1][0].set_xlabel("seconds", fontsize=7)
    axes[-1][1].set_xlabel("seconds", fontsize=7)
    figures.save(fig, stem)


# ---- summary, figures and report -------------------------------------------------------
def _by_seed(run: Run, phase: str) -> list[list[dict]]:
    return [run.select(seed=s, phase=phase) for s in run.config()["seeds"]]


def _curves(run: Run, phase: str, get) -> tuple[list[int], list[list[float]]]:
    per_seed = [r for r in _by_seed(run, phase) if r]
    length = min(len(r) for r in per_seed)
    return [r["epoch"] for r in per_seed[0][:length]], [[get(x) for x in r[:length]] for r in per_seed]


def summarize(run: Run) -> dict:
    conf = run.config()
    cfg = conf["config"]
    test_genre = cfg["test_genre"]
    finals = [r[-1] for r in _by_seed(run, "final")]
    checks = [r[-1] for r in _by_seed(run, "judge-test")]
    names = list(finals[0]["acc"])
    chance = 1.0 / len(names)
    kind = cfg["model"]

    # Training losses.
    loss_keys = [k for k in run.select(phase=kind)[0] if k.endswith("loss") or k in ("mse", "kl")]
    fig, axes = figures.plt.subplots(1, len(loss_keys), figsize=(3.2 * len(loss_keys), 3.0), dpi=110, squeeze=False)
    for ax, key in zip(axes[0], loss_keys):
        epochs, runs = _curves(run, kind, lambda r, k=key: r[k])
        figures.band(ax, epochs, runs, key)
        ax.set_xlabel("epoch")
        ax.set_title(key, fontsize=9)
        ax.grid(alpha=0.3)
    figures.save(fig, run.figures / "losses")

    # Genre accuracy of generated clips over training.
    fig, ax = figures.new_figure()
    epochs, runs = _curves(run, "eval", lambda r: r["acc"][test_genre] * 100)
    figures.band(ax, epochs, runs, f"generated {test_genre}", figures.COLORS[0])
    epochs, runs = _curves(run, "eval", lambda r: r["mean_acc"] * 100)
    figures.band(ax, epochs, runs, "generated, mean over genres", figures.COLORS[1])
    ax.axhline(np.mean([c["segment_acc"] for c in checks]) * 100, color="k", ls="--", lw=1,
               label="judge on real held-out clips")
    ax.axhline(np.mean([c["round_trip"]["mean_acc"] for c in checks]) * 100, color="k", ls="-.", lw=1,
               label="judge on real clips after Griffin-Lim")
    ax.axhline(chance * 100, color="gray", ls=":", lw=1, label="chance")
    ax.set_xlabel("epoch")
    ax.set_ylabel("judged as the requested genre (%)")
    ax.set_ylim(0, 105)
    ax.legend(fontsize=8)
    figures.save(fig, run.figures / "genre_accuracy")

    # Frechet distance over training.
    fig, ax = figures.new_figure()
    epochs, runs = _curves(run, "eval", lambda r: r["fd"][test_genre])
    figures.band(ax, epochs, runs, f"generated {test_genre}", figures.COLORS[0])
    epochs, runs = _curves(run, "eval", lambda r: r["mean_fd"])
    figures.band(ax, epochs, runs, "mean over genres", figures.COLORS[1])
    floor = [c["fd_real_halves"][test_genre] for c in checks]
    if np.isfinite(floor).any():  # too few held-out clips (the smoke preset) leave no halves to compare
        ax.axhline(np.nanmean(floor), color="k", ls="--", lw=1, label=f"two halves of real {test_genre} clips")
    ax.axhline(np.mean([c["round_trip"]["fd"][test_genre] for c in checks]), color="k", ls="-.", lw=1,
               label=f"real {test_genre} after Griffin-Lim")
    ax.set_xlabel("epoch")
    ax.set_ylabel("Frechet distance (judge embeddings)")
    ax.set_yscale("log")
    ax.legend(fontsize=8)
    figures.save(fig, run.figures / "frechet_distance")

    # Noise of generated vs real classical over training.
    fig, ax = figures.new_figure()
    epochs, runs = _curves(run, "eval", lambda r: r["flatness"][test_genre])
    figures.band(ax, epochs, runs, f"generated {test_genre}", figures.COLORS[0])
    ax.axhline(np.mean([c["real_flatness"][test_genre] for c in checks]), color="k", ls="--", lw=1,
               label=f"real {test_genre}")
    ax.axhline(np.mean([c["round_trip"]["flatness"][test_genre] for c in checks]), color="k", ls="-.", lw=1,
               label=f"real {test_genre} after Griffin-Lim")
    ax.set_xlabel("epoch")
    ax.set_ylabel("spectral flatness (1 = white noise)")
    ax.legend(fontsize=8)
    figures.save(fig, run.figures / "noise")

    acc_test = [f["acc"][test_genre] for f in finals]
    acc_mean = [f["mean_acc"] for f in finals]
    judge_acc = [c["segment_acc"] for c in checks]
    c1 = stats.claim(f"Generated {test_genre} clips are judged {test_genre} more often than chance (points above "
                     f"{chance * 100:.0f}%)", [a - chance for a in acc_test], scale=100)
    c2 = stats.claim("Generated clips carry their requested genre (mean per-genre accuracy, points above chance)",
                     [a - chance for a in acc_mean], scale=100)

    def mc(values):
        m, h = stats.mean_ci(values)
        return {"mean": m, "ci95": h}

    headline = {
        "judge_test_acc": mc(judge_acc),
        "judge_test_clip_acc": mc([c["clip_acc"] for c in checks]),
        f"{test_genre}_acc": mc(acc_test),
        "mean_genre_acc": mc(acc_mean),
        f"{test_genre}_fd": mc([f["fd"][test_genre] for f in finals]),
        f"{test_genre}_fd_real_halves": mc([c["fd_real_halves"][test_genre] for c in checks]),
        "mean_fd": mc([f["mean_fd"] for f in finals]),
        f"{test_genre}_flatness_generated": mc([f["flatness"][test_genre] for f in finals]),
        f"{test_genre}_flatness_real": mc([c["real_flatness"][test_genre] for c in checks]),
        f"{test_genre}_hf_ratio_generated": mc([f["hf_ratio"][test_genre] for f in finals]),
        f"{test_genre}_hf_ratio_real": mc([c["real_hf_ratio"][test_genre] for c in checks]),
        "round_trip_mean_acc": mc([c["round_trip"]["mean_acc"] for c in checks]),
        "train_steps_per_s": float(np.median([r["steps_per_s"] for r in run.select(phase=kind)])),
        "audio_seconds_per_s": float(np.median([f["audio_seconds_per_s"] for f in finals])),
        "chance": chance,
    }
    h = headline
    text = (f"The {kind.upper()} made {test_genre} clips that its judge called {test_genre} "
            f"{stats.fmt_ci(h[f'{test_genre}_acc']['mean'], h[f'{test_genre}_acc']['ci95'], 0, 100)}% of the time "
            f"(chance {chance * 100:.0f}%, mean over {len(names)} genres "
            f"{stats.fmt_ci(h['mean_genre_acc']['mean'], h['mean_genre_acc']['ci95'], 0, 100)}%); the judge gets "
            f"{stats.fmt_ci(h['judge_test_acc']['mean'], h['judge_test_acc']['ci95'], 0, 100)}% of real held-out clips "
            f"right; Frechet distance of {test_genre} {h[f'{test_genre}_fd']['mean']:.3g} (two real halves: "
            f"{h[f'{test_genre}_fd_real_halves']['mean']:.3g}); spectral flatness "
            f"{h[f'{test_genre}_flatness_generated']['mean']:.3f} generated vs "
            f"{h[f'{test_genre}_flatness_real']['mean']:.3f} real.")
    return {"text": text, "headline": headline, "claims": [c1, c2], "genres": names}


def report(run: Run) -> Section:
    s = run.summary()
    conf = run.config()
    cfg = conf["config"]
    h = s["headline"]
    names = s["genres"]
    test_genre = cfg["test_genre"]
    finals = [r[-1] for r in _by_seed(run, "final")]
    checks = [r[-1] for r in _by_seed(run, "judge-test")]

    def cell(values, digits=1, scale=1.0):
        m, ci = stats.mean_ci(values)
        return stats.fmt_ci(m, ci, digits, scale)

    rows = []
    for name in names:
        rows.append([name,
                     cell([c["per_genre_acc"][name] for c in checks], 0, 100),
                     cell([f["acc"][name] for f in finals], 0, 100),
                     cell([c["round_trip"]["acc"][name] for c in checks], 0, 100),
                     cell([f["fd"][name] for f in finals], 2),
                     cell([c["fd_real_halves"][name] for c in checks], 2),
                     cell([f["flatness"][name] for f in finals], 3),
                     cell([c["real_flatness"][name] for c in checks], 3),
                     cell([f["hf_ratio"][name] * 100 for f in finals], 1),
                     cell([c["real_hf_ratio"][name] * 100 for c in checks], 1)])
    listing = json.loads((run.root / "audio" / "index.json").read_text())
    n_gen = max(len(v["generated"]) for v in listing.values())
    grid_rows = [(name, [run.root / "audio" / listing[name]["real"]]
                  + [run.root / "audio" / p for p in listing[name]["generated"]]) for name in names]
    confusion = np.sum([np.asarray(f["confusion"]) for f in finals], axis=0)
    conf_rows = [[f"asked {name}"] + [int(v) for v in confusion[g]] for g, name in enumerate(names)]
    kind = cfg["model"]
    arch = (f"conditional {'VAE (calibrated decoder, sigma-VAE)' if kind == 'vae' else 'GAN (hinge loss, projection discriminator)'} "
            f"on {'log-magnitude STFT' if cfg['domain'] == 'stft' else 'log-mel'} spectrograms "
            f"(n_fft {cfg['n_fft']}, hop {cfg['hop']} at {cfg['sample_rate']} Hz), latent sequence of {cfg['z_dim']} "
            f"channels per 8 frames, {cfg['hidden']} hidden channels; sound by fast Griffin-Lim "
            f"({cfg['griffin_lim_iters']} iterations)")
    blocks = [
        Text(s["text"]),
        Claims(s["claims"]),
        Table(["genre", "judge on real (%)", "generated judged as asked (%)", "real after Griffin-Lim (%)",
               "Frechet dist. generated", "Frechet dist. real halves", "flatness generated", "flatness real",
               "energy > 4 kHz generated (%)", "energy > 4 kHz real (%)"], rows,
              f"Final evaluation: {cfg['final_clips']} generated clips of {cfg['eval_seconds']:g} s per genre, against "
              f"held-out real clips; {len(conf['seeds'])} seed(s), ± is a 95% confidence interval."),
        AudioGrid(["real (held out)"] + [f"generated {i + 1}" for i in range(n_gen)], grid_rows,
                  f"Seed {conf['seeds'][0]}: generated clips of {cfg['report_seconds']:g} s for each requested genre, "
                  "beside a real held-out clip."),
        Figure(run.figures / "spectrograms.png", "Spectrograms (dB) of the real clip and the first generated clip of "
                                                 "each genre, as the model sees them."),
        Figure(run.figures / "genre_accuracy.png", "Share of generated clips the judge assigns to the requested genre, "
                                                   "during training; dashed: the judge on real held-out clips."),
        Figure(run.figures / "frechet_distance.png", "Frechet distance between the judge's embeddings of generated and "
                                                     "real held-out clips (lower is closer); dashed: two halves of the "
                                                     "real clips, the floor at this sample size."),
        Figure(run.figures / "noise.png", f"Spectral flatness of generated {test_genre} clips (noise-likeness) next "
                                          f"to real ones."),
        Figure(run.figures / "losses.png", "Training losses per epoch."),
        Table([""] + [f"judged {n}" for n in names], conf_rows, "Judge's verdicts on the final generated clips "
                                                                 "(all seeds)."),
        Text(f"Model: {arch}. Judge: log-mel CNN trained on real training clips for {cfg['judge_epochs']} x "
             f"{cfg['judge_steps']} steps; held-out accuracy {h['judge_test_acc']['mean'] * 100:.0f}% per "
             f"{cfg['eval_seconds']:g} s segment, {h['judge_test_clip_acc']['mean'] * 100:.0f}% per clip. Data: "
             f"{conf['data'] or 'made-up music'}. Speed on {conf['device']}: {h['train_steps_per_s']:.2f} training "
             f"steps/s, {h['audio_seconds_per_s']:.1f} s of audio generated per second (with Griffin-Lim)."),
        Code(f"from sslab.runner import run_recipe\nrun = run_recipe('generate', preset={conf['preset']!r})\n"
             f"print(run.summary()['text'])\n# then: sslab sample --checkpoint {{run.root}} --genre {test_genre} "
             f"--n 5 --seconds 5 --out samples/", output=s["text"] + "\n"),
    ]
    return Section("Genre-conditioned generative audio (seed 2.1)", blocks,
                   subtitle=f"A conditional {kind.upper()} makes clips of a requested genre; a genre classifier "
                            f"trained on real clips judges them")


def locate_data(root: Path) -> Path | None:
    return gtzan.find_genre_root(root)


RECIPE = Recipe(
    name="generate",
    title="Genre-conditioned generative audio",
    seed_problem="003 2.1",
    Config=Config,
    presets=PRESETS,
    load_data=load_data,
    run_seed=run_seed,
    summarize=summarize,
    report=report,
    locate_data=locate_data,
    description="conditional VAE/GAN on spectrograms, Griffin-Lim, judged by a genre classifier trained on real clips",
)
