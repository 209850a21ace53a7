"""`generate`, step by step: the music, the judge, the generative model, the final verdict.

Read top to bottom: :func:`load_data` (made-up music or a GTZAN-style folder, split by clip,
resident as int16 on the device), then :func:`run_seed`, which calls the steps in order:
:func:`train_judge` and :func:`log_judge_checks` (the judge and how good it is on held-out
clips), :func:`train_generator` (the VAE or GAN on spectrogram crops, its clips judged every
few epochs), :func:`final_evaluation` and :func:`write_examples` (the verdict, and the clips
and spectrograms the report shows).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from sslab.audio import features as handmade
from sslab.audio.generative import (build_model, build_optimizers, generate_audio, sampler_of, save_sampler,
                                    train_step)
from sslab.audio.io import write_wav
from sslab.audio.judge import (GenreJudge, Reference, frechet_distance, judge_generated, judge_train_step,
                               noise_measures)
from sslab.audio.spectral import SpectralDomain, samples_for
from sslab.data import gtzan, synthetic_music
from sslab.errors import UserError
from sslab.recipes import Context
from sslab.recipes.generate.config import SPLIT_SEED, Config
from sslab.report import figures
from sslab.train import atomic
from sslab.train.checkpoint import save_model
from sslab.train.progress import say
from sslab.train.rundir import Run
from sslab.train.seeding import phase_seed


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


def load_data(cfg: Config, data_dir: Path | None, device: torch.device) -> GenreData:
    """Made-up music (no ``data_dir``) or a folder of music by genre, cut into pieces and split by clip."""
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
    if len(music.genres) < 2:
        raise UserError(f"only one genre ({music.genres[0]}) to learn from; a genre-conditioned model and its "
                        "judge need at least two (genres=a,b, or add another genre folder)")
    if cfg.test_genre not in music.genres:
        raise UserError(f"test_genre={cfg.test_genre} is not among the genres ({', '.join(music.genres)}); "
                        "choose one of them")
    held = gtzan.split_by_clip(music.labels, music.clips, cfg.test_fraction, SPLIT_SEED, music.genres)
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
    return pieces[idx[:, None], cols].float() / gtzan.INT16_SCALE, labels[idx]


def held_out_segments(data: GenreData, seconds: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Every non-overlapping ``seconds``-long segment of the held-out pieces: (waves, labels, clip ids)."""
    length = int(round(seconds * data.sample_rate))
    per_piece = data.test.shape[1] // length
    segs = data.test[:, : per_piece * length].reshape(-1, length).float() / gtzan.INT16_SCALE
    return segs, data.test_labels.repeat_interleave(per_piece), data.test_clips.repeat_interleave(per_piece)


def genre_batch(n_genres: int, per_genre: int) -> torch.Tensor:
    return torch.arange(n_genres).repeat_interleave(per_genre)


# ---- one seed -------------------------------------------------------------------------
def run_seed(ctx: Context) -> None:
    cfg, run, seed, data = ctx.cfg, ctx.run, ctx.seed, ctx.data
    domain = SpectralDomain(cfg.domain, data.sample_rate, cfg.n_fft, cfg.hop, cfg.n_mels)

    say(f"generate: {estimate_minutes(cfg, data, domain):.0f} min or so per seed on {ctx.device} "
        f"(timed on a few training steps; {cfg.seeds} seed(s))")
    judge = train_judge(run, seed, cfg, data)
    real, real_labels, real_clips = held_out_segments(data, cfg.eval_seconds)
    logits, emb = judge.judge(real)
    flat, hf = noise_measures(real.to(ctx.device), data.sample_rate)
    ref = Reference(emb, real_labels.cpu(), flat, hf)
    second = SecondOpinion.fit(cfg, data, real, real_labels)
    if run.once(f"seed{seed}/judge-eval"):
        log_judge_checks(run, seed, cfg, judge, data, domain, ref, logits, real, real_clips, second)
        save_model(run.checkpoint_path(f"seed{seed}/judge"), judge,
                   {"recipe": "generate", "genres": list(data.genres), "sample_rate": data.sample_rate})
        run.mark(f"seed{seed}/judge-eval")

    model = train_generator(run, seed, cfg, data, domain, judge, ref)
    if run.once(f"seed{seed}/final"):
        final_evaluation(run, seed, cfg, model, judge, domain, ref, data, second)
        run.mark(f"seed{seed}/final")


def estimate_minutes(cfg: Config, data: GenreData, domain: SpectralDomain) -> float:
    """Rough minutes one seed takes: a few judge and generator steps timed on throwaway models
    (the global random state is restored, so the run's numbers do not depend on it)."""
    dev = data.train.device
    crop_len = samples_for(cfg.crop_frames, cfg.hop)
    judged_len = int(round(cfg.eval_seconds * data.sample_rate))
    gen = torch.Generator().manual_seed(0)
    with torch.random.fork_rng(devices=[]):
        judge = GenreJudge(data.sample_rate, len(data.genres)).to(dev)
        judge_opt = torch.optim.Adam(judge.parameters(), lr=cfg.judge_lr)
        model = generator_model(cfg, domain, len(data.genres)).to(dev)
        optimizers = build_optimizers(model, cfg.learning_rate)

        def timed(step, n=3):
            step()  # warm-up
            start = time.perf_counter()
            for _ in range(n):
                step()
            return (time.perf_counter() - start) / n

        t_judge = timed(lambda: judge_train_step(judge, judge_opt, *random_crops(
            data.train, data.train_labels, cfg.batch_size, judged_len, gen)))

        def gen_step():
            wave, labels = random_crops(data.train, data.train_labels, cfg.batch_size, crop_len, gen)
            train_step(model, optimizers, model.sampler.standardize(domain.encode(wave), labels), labels)
        t_gen = timed(gen_step)
        start = time.perf_counter()
        generate_audio(model.sampler, domain, genre_batch(len(data.genres), 2), cfg.eval_seconds,
                       cfg.griffin_lim_iters, gen)
        t_clip = (time.perf_counter() - start) / (2 * len(data.genres))
    n_evals = cfg.epochs // cfg.eval_every + 1
    clips = len(data.genres) * (cfg.eval_clips * n_evals + cfg.final_clips + cfg.report_clips)
    seconds = (cfg.judge_epochs * cfg.judge_steps * t_judge + cfg.epochs * cfg.steps_per_epoch * t_gen
               + clips * t_clip * max(1.0, cfg.report_seconds / cfg.eval_seconds) + 30)
    return seconds / 60


def pick_per_genre(labels: np.ndarray, n_genres: int, most: int) -> np.ndarray:
    """Indices of at most ``most`` items of each genre, a fixed random choice, in order."""
    rng = np.random.default_rng(SPLIT_SEED)
    return np.sort(np.concatenate([rng.permutation(np.flatnonzero(labels == g))[:most] for g in range(n_genres)]))


@dataclass
class SecondOpinion:
    """The judge-free view: hand-made features of real clips (train split: the reference and the
    classifier's training set; held-out: the real-vs-real floor) and a classifier fitted on them."""

    sample_rate: int
    train_features: np.ndarray
    train_labels: np.ndarray
    test: handmade.ClipMeasures
    test_labels: np.ndarray
    classifier: handmade.FeatureClassifier
    test_index: np.ndarray   # which held-out segments `test` holds
    TRAIN_PER_GENRE = 150
    TEST_PER_GENRE = 48

    @classmethod
    def fit(cls, cfg: Config, data: GenreData, real_test: torch.Tensor, test_labels: torch.Tensor) -> "SecondOpinion":
        # Up to TRAIN_PER_GENRE segments per genre from the training pieces and TEST_PER_GENRE held-out
        # ones, the same for every seed (enough for the statistics, and cheap on a CPU).
        length = int(round(cfg.eval_seconds * data.sample_rate))
        per_piece = data.train.shape[1] // length
        segs = data.train[:, : per_piece * length].reshape(-1, length)
        labels = data.train_labels.repeat_interleave(per_piece).cpu().numpy()
        keep = pick_per_genre(labels, len(data.genres), cls.TRAIN_PER_GENRE)
        train = handmade.clip_features(segs[torch.from_numpy(keep).to(segs.device)].cpu().numpy() / 32767.0,
                                       data.sample_rate)
        clf = handmade.FeatureClassifier().fit(train.features, labels[keep], len(data.genres))
        test_keep = pick_per_genre(test_labels.cpu().numpy(), len(data.genres), cls.TEST_PER_GENRE)
        return cls(data.sample_rate, train.features, labels[keep],
                   handmade.clip_features(real_test[test_keep].cpu().numpy(), data.sample_rate),
                   test_labels.cpu().numpy()[test_keep], clf, test_keep)

    def measures(self, wave: np.ndarray, genres_of: np.ndarray, names: tuple[str, ...]) -> dict:
        """Per genre: share the feature classifier assigns to the requested genre, feature Frechet distance
        to real training clips beside the real-vs-real floor (held-out clips, same count), and flatness,
        harmonicity, onset rate and chroma hold time of generated clips over those of real held-out clips;
        and ``apart``: per feature, [how much it pulls generated clips away from their genre in the
        classifier's eyes, relative to real held-out clips (negative: away); the shift of its mean from real,
        in standard deviations of real training clips]."""
        got = handmade.clip_features(wave, self.sample_rate)
        clf = self.classifier
        pred = clf.predict(got.features)
        out: dict = {k: {} for k in ("acc", "fd", "fd_floor", "fd_ratio", "flatness", "flatness_ratio",
                                     "harmonicity", "harmonicity_ratio", "onsets_per_s", "onsets_ratio",
                                     "hold_s", "hold_ratio", "apart")}
        for g, name in enumerate(names):
            mine, real = genres_of == g, self.test_labels == g
            n = min(int(mine.sum()), int(real.sum()))
            out["acc"][name] = float((pred[mine] == g).mean())
            pull = handmade.sets_apart(clf, got.features[mine], self.test.features[real], g)
            shift = (got.features[mine].mean(axis=0) - self.test.features[real].mean(axis=0)) / clf.scale
            out["apart"][name] = {f: [round(float(a), 4), round(float(b), 4)]
                                  for f, a, b in zip(handmade.FEATURE_NAMES, pull, shift)}
            if n >= 2:
                fr = handmade.frechet_ratio(got.features[mine][:n], self.train_features[self.train_labels == g],
                                            self.test.features[real][:n])
            else:
                fr = {"fd": float("nan"), "floor": float("nan"), "ratio": float("nan")}
            out["fd"][name], out["fd_floor"][name], out["fd_ratio"][name] = fr["fd"], fr["floor"], fr["ratio"]
            for key, values, reals in (("flatness", got.flatness, self.test.flatness),
                                       ("harmonicity", got.harmonicity, self.test.harmonicity),
                                       ("onsets_per_s", got.onsets_per_s, self.test.onsets_per_s),
                                       ("hold_s", got.hold_s, self.test.hold_s)):
                out[key][name] = float(np.median(values[mine]))
                ratio_key = {"onsets_per_s": "onsets_ratio", "hold_s": "hold_ratio"}.get(key, f"{key}_ratio")
                out[ratio_key][name] = float(np.median(values[mine]) / max(np.median(reals[real]), 1e-12))
        return out


def train_judge(run: Run, seed: int, cfg: Config, data: GenreData) -> GenreJudge:
    """Step 1: the judge, a genre classifier on random crops of real training clips."""
    dev = data.train.device
    judged_len = int(round(cfg.eval_seconds * data.sample_rate))
    torch.manual_seed(phase_seed(seed, "init-judge"))
    judge = GenreJudge(data.sample_rate, len(data.genres)).to(dev)
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
    return judge


def generator_model(cfg: Config, domain: SpectralDomain, n_genres: int):
    """The generative model ``cfg`` asks for (the training step and the run-time estimate build the same one)."""
    return build_model(cfg.model, domain.bins, n_genres, cfg.z_dim, cfg.hidden, flow_steps=cfg.flow_steps,
                       guidance=cfg.guidance, ema=cfg.ema, flow_levels=cfg.flow_levels, flow_pool=cfg.flow_pool,
                       flow_band_mix=cfg.flow_band_mix, flow_genre_norm=cfg.flow_genre_norm,
                       flow_band_mix_every=cfg.flow_band_mix_every)


def train_generator(run: Run, seed: int, cfg: Config, data: GenreData, domain: SpectralDomain,
                    judge: GenreJudge, ref: Reference):
    """Step 2: the conditional VAE, GAN or flow on spectrogram crops, its clips judged every ``eval_every`` epochs."""
    names = data.genres
    torch.manual_seed(phase_seed(seed, f"init-{cfg.model}"))
    model = generator_model(cfg, domain, len(names)).to(data.train.device)
    crop_len = samples_for(cfg.crop_frames, cfg.hop)
    stats_gen = torch.Generator().manual_seed(phase_seed(seed, "standardizer"))
    sample, sample_labels = random_crops(data.train, data.train_labels, min(512, 16 * len(data.train)), crop_len,
                                         stats_gen)
    model.sampler.fit_standardizer(domain.encode(sample), sample_labels)
    optimizers = build_optimizers(model, cfg.learning_rate)
    order = torch.Generator().manual_seed(phase_seed(seed, f"order-{cfg.model}"))
    stage = run.stage(f"seed{seed}/{cfg.model}", model=model, generator=order, **optimizers)
    for epoch in stage.epochs(cfg.epochs, desc=f"seed {seed} {cfg.model}"):
        start = time.perf_counter()
        totals: dict[str, torch.Tensor] = {}
        for _ in range(cfg.steps_per_epoch):
            wave, labels = random_crops(data.train, data.train_labels, cfg.batch_size, crop_len, order)
            x = model.sampler.standardize(domain.encode(wave), labels)
            for key, value in train_step(model, optimizers, x, labels).items():
                totals[key] = totals.get(key, 0) + value
        steps_per_s = cfg.steps_per_epoch / (time.perf_counter() - start)
        losses = {k: (v / cfg.steps_per_epoch).item() for k, v in totals.items()}
        run.log(seed=seed, phase=cfg.model, epoch=epoch + 1, steps_per_s=steps_per_s, **losses)
        stage.show(**losses)
        if (epoch + 1) % cfg.eval_every == 0 or epoch + 1 == cfg.epochs:
            gen = torch.Generator().manual_seed(phase_seed(seed, f"eval-{epoch + 1}"))
            genres_of = genre_batch(len(names), cfg.eval_clips)
            wave = generate_audio(sampler_of(model), domain, genres_of, cfg.eval_seconds, cfg.griffin_lim_iters, gen)
            scores = judge_generated(judge, wave, genres_of, ref, names, data.sample_rate)
            run.log(seed=seed, phase="eval", epoch=epoch + 1, **scores)
            stage.show(acc=scores["mean_acc"], fd=scores["mean_fd"])
    return model


def calibrate(judge: GenreJudge, second: SecondOpinion, real: torch.Tensor, names: tuple[str, ...],
              seed: int, per_genre: int) -> dict:
    """What the judge and the feature classifier call real held-out clips (the second opinion's sample
    of them), those clips degraded (white noise at 10 and 0 dB SNR, blurred spectrograms) and plain
    noise shaped like each genre: per set, the share called the genre it came from (or imitates),
    overall and per genre. A judge that calls noise "classical" cannot certify generated classical clips.
    Each set also gets the hand-made measures of generated clips (``per_genre`` clips of each genre, as
    many as the final evaluation generates, so the Frechet ratios compare): the bar a generator must
    clear to be closer to real music than degraded real music is."""
    wave = real[second.test_index].cpu().numpy().astype(np.float64)
    lab = second.test_labels
    sets = {"real held-out": (wave, lab), **handmade.degraded_sets(wave, lab, second.sample_rate,
                                                                     phase_seed(seed, "calibration"))}
    out = {}
    for name, (clips, imitated) in sets.items():
        clips_t = torch.from_numpy(clips.astype(np.float32))
        by_judge = judge.judge(clips_t)[0].argmax(dim=1).numpy()
        by_features = second.classifier.predict(handmade.clip_features(clips, second.sample_rate).features)
        out[name] = {who: {"all": float((pred == imitated).mean()),
                           **{n: float((pred[imitated == g] == g).mean()) for g, n in enumerate(names)}}
                     for who, pred in (("judge", by_judge), ("features", by_features))}
        if name != "real held-out":
            some = pick_per_genre(imitated, len(names), per_genre)
            got = second.measures(clips[some], imitated[some], names)
            out[name]["measures"] = {k: got[k] for k in ("fd_ratio", "flatness_ratio", "harmonicity_ratio",
                                                          "hold_ratio")}
    return out


def log_judge_checks(run: Run, seed: int, cfg: Config, judge: GenreJudge, data: GenreData, domain: SpectralDomain,
                     ref: Reference, logits: torch.Tensor, real: torch.Tensor, real_clips: torch.Tensor,
                     second: SecondOpinion) -> None:
    """Step 1b: how good the judge is on held-out clips, and the scores real clips get: the yardsticks
    for generated ones."""
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
            n_test_segments=len(real), n_test_clips=len(clip_ids), n_train_pieces=len(data.train),
            calibration=calibrate(judge, second, real, names, seed, cfg.final_clips),
            real_features={k: {n: float(np.median(v[second.test_labels == g])) for g, n in enumerate(names)}
                           for k, v in (("flatness", second.test.flatness), ("harmonicity", second.test.harmonicity),
                                        ("onsets_per_s", second.test.onsets_per_s))})


def final_evaluation(run: Run, seed: int, cfg: Config, model, judge: GenreJudge, domain: SpectralDomain,
                     ref: Reference, data: GenreData, second: SecondOpinion) -> None:
    """Step 3: the verdict on ``final_clips`` clips per genre, the confusion table, and the sampler saved."""
    names, sr = data.genres, data.sample_rate
    start = time.perf_counter()
    wave, genres_of = final_clips(cfg, seed, sampler_of(model), domain, len(names))
    audio_per_s = len(wave) * cfg.eval_seconds / (time.perf_counter() - start)
    scores = judge_generated(judge, wave, genres_of, ref, names, sr)
    logits, _ = judge.judge(wave)
    confusion = torch.zeros(len(names), len(names)).index_put_(
        (genres_of, logits.argmax(dim=1)), torch.ones(len(wave)), accumulate=True)
    run.log(seed=seed, phase="final", epoch=cfg.epochs, audio_seconds_per_s=audio_per_s,
            confusion=confusion.tolist(), second_opinion=second.measures(wave.numpy().astype(np.float64),
                                                                        genres_of.numpy(), names), **scores)
    # The weights that made the clips above: the flow's running average (cfg.ema), else the last ones.
    weights = f"average (ema={cfg.ema:g})" if getattr(model, "ema", None) is not None else "last"
    save_sampler(run.checkpoint_path(f"seed{seed}/sampler"), sampler_of(model), domain, names,
                 {"recipe": "generate", "model": cfg.model, "griffin_lim_iters": cfg.griffin_lim_iters, "seed": seed,
                  "weights": weights})
    if seed == run.config()["seeds"][0]:
        write_examples(run, seed, cfg, model, domain, data)


def final_clips(cfg: Config, seed: int, sampler, domain: SpectralDomain,
                n_genres: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The final evaluation's clips: ``final_clips`` per genre from the seed's own generator (so a saved
    sampler makes them again); (waves, genre ids)."""
    genres_of = genre_batch(n_genres, cfg.final_clips)
    gen = torch.Generator().manual_seed(phase_seed(seed, "final"))
    return generate_audio(sampler, domain, genres_of, cfg.eval_seconds, cfg.griffin_lim_iters, gen), genres_of


def write_examples(run: Run, seed: int, cfg: Config, model, domain: SpectralDomain, data: GenreData) -> None:
    """Clips for the report's players (real beside generated) and their spectrograms."""
    names, sr = data.genres, data.sample_rate
    folder = run.root / "audio"
    gen = torch.Generator().manual_seed(phase_seed(seed, "examples"))
    genres_of = genre_batch(len(names), cfg.report_clips)
    wave = generate_audio(sampler_of(model), domain, genres_of, cfg.report_seconds, cfg.griffin_lim_iters, gen)
    length = min(int(round(cfg.report_seconds * sr)), data.test.shape[1])
    real_example = torch.stack([data.test[data.test_labels == g][0, :length].float().cpu() / gtzan.INT16_SCALE
                                for g in range(len(names))])
    listing = {}
    order = sorted(range(len(names)), key=lambda g: names[g] != cfg.test_genre)  # the test genre first
    for g in order:
        name = names[g]
        real_path = write_wav(folder / f"real_{name}.wav", real_example[g].numpy(), sr)
        made = [write_wav(folder / f"generated_{name}_{i}.wav", w.numpy(), sr)
                for i, w in enumerate(wave[genres_of == g])]
        listing[name] = {"real": real_path.name, "generated": [p.name for p in made]}
    atomic.write_json(folder / "index.json", listing)
    first = wave[:: cfg.report_clips]
    draw_spectrograms(run.figures / "spectrograms", [names[g] for g in order], real_example[order], first[order],
                      domain)


def draw_spectrograms(stem: Path, names, real: torch.Tensor, generated: torch.Tensor, domain: SpectralDomain) -> None:
    """Real beside generated, one row per genre, in dB on one 80 dB colour scale for every panel (its top
    the loudest bin of any of them), as the model sees them."""
    def db(wave: torch.Tensor) -> np.ndarray:
        return 20 / np.log(10) * domain.encode(wave[None]).squeeze(0).numpy()

    rows = len(names)
    top_of_axis = domain.sample_rate / 2000 if domain.kind == "stft" else domain.n_mels  # kHz or mel bands
    fig, axes = figures.plt.subplots(rows, 2, figsize=(8, 1.5 * rows + 0.6), dpi=110, squeeze=False)
    top = max(max(float(db(real[g]).max()), float(db(generated[g]).max())) for g in range(rows))
    for g, name in enumerate(names):
        for col, (label, w) in enumerate((("real", real[g]), ("generated", generated[g]))):
            ax = axes[g][col]
            shown = ax.imshow(db(w), origin="lower", aspect="auto", cmap="magma", vmin=top - 80, vmax=top,
                              extent=(0, w.shape[-1] / domain.sample_rate, 0, top_of_axis))
            ax.set_title(f"{name}: {label}", fontsize=8)
            ax.tick_params(labelsize=7)
        axes[g][0].set_ylabel("kHz" if domain.kind == "stft" else "mel band", fontsize=7)
        bar = fig.colorbar(shown, ax=axes[g][1], pad=0.01, fraction=0.05)  # one scale for every panel
        bar.set_label("dB", fontsize=7)
        bar.ax.tick_params(labelsize=7)
    axes[-1][0].set_xlabel("seconds", fontsize=7)
    axes[-1][1].set_xlabel("seconds", fontsize=7)
    figures.save(fig, stem)
