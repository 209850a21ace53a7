"""`generate`'s summary, figures and report section, read from the run directory alone."""

from __future__ import annotations

import json

import numpy as np

from sslab.audio import features as handmade
from sslab.report import figures, records, stats
from sslab.report.document import AudioGrid, Figure, Section, Table, Text
from sslab.train.rundir import Run


def summarize(run: Run) -> dict:
    cfg = run.config()["config"]
    test_genre, kind = cfg["test_genre"], cfg["model"]
    finals = [r[-1] for r in records.by_seed(run, "final")]
    checks = [r[-1] for r in records.by_seed(run, "judge-test")]
    names = list(finals[0]["acc"])
    chance = 1.0 / len(names)
    draw_curves(run, test_genre, kind, checks, chance)

    acc_test = [f["acc"][test_genre] for f in finals]
    acc_mean = [f["mean_acc"] for f in finals]
    second = [f["second_opinion"] for f in finals]
    feat_test = [o["acc"][test_genre] for o in second]
    feat_mean = [float(np.mean(list(o["acc"].values()))) for o in second]
    # The seed's claim needs both opinions: per seed, the lower of the judge's and the feature
    # classifier's share, so a judge fooled by noise-like audio cannot carry it alone.
    c1 = stats.claim(f"Generated {test_genre} clips are {test_genre}: both the judge and the feature-based second "
                     f"opinion call them {test_genre} more often than chance (lower of the two, points above "
                     f"{chance * 100:.0f}%), and they are not noise-like (spectral flatness at most {MAX_FLATNESS_RATIO:g}x real, "
                     f"feature Frechet distance at most {MAX_FD_RATIO:g}x the real floor)",
                     [min(a, b) - chance for a, b in zip(acc_test, feat_test)], scale=100)
    c2 = stats.claim("Generated clips carry their requested genre for both opinions (mean per-genre accuracy, lower "
                     "of the two, points above chance)", [min(a, b) - chance for a, b in zip(acc_mean, feat_mean)],
                     scale=100)
    entry = stats.mean_ci_entry
    calib = [c["calibration"] for c in checks]
    h = {
        "judge_test_acc": entry([c["segment_acc"] for c in checks]),
        "judge_test_clip_acc": entry([c["clip_acc"] for c in checks]),
        f"{test_genre}_acc": entry(acc_test),
        "mean_genre_acc": entry(acc_mean),
        f"{test_genre}_fd": entry([f["fd"][test_genre] for f in finals]),
        f"{test_genre}_fd_real_halves": entry([c["fd_real_halves"][test_genre] for c in checks]),
        "mean_fd": entry([f["mean_fd"] for f in finals]),
        f"{test_genre}_flatness_generated": entry([f["flatness"][test_genre] for f in finals]),
        f"{test_genre}_flatness_real": entry([c["real_flatness"][test_genre] for c in checks]),
        f"{test_genre}_hf_ratio_generated": entry([f["hf_ratio"][test_genre] for f in finals]),
        f"{test_genre}_hf_ratio_real": entry([c["real_hf_ratio"][test_genre] for c in checks]),
        "round_trip_mean_acc": entry([c["round_trip"]["mean_acc"] for c in checks]),
        "train_steps_per_s": float(np.median([r["steps_per_s"] for r in run.select(phase=kind)])),
        "audio_seconds_per_s": float(np.median([f["audio_seconds_per_s"] for f in finals])),
        "chance": chance,
        # The judge-free second opinion (sslab.audio.features) and the judge's calibration.
        f"{test_genre}_feature_acc": entry(feat_test),
        "mean_feature_acc": entry(feat_mean),
        f"{test_genre}_feature_fd_ratio": entry([o["fd_ratio"][test_genre] for o in second]),
        f"{test_genre}_flatness_ratio": entry([o["flatness_ratio"][test_genre] for o in second]),
        f"{test_genre}_harmonicity_ratio": entry([o["harmonicity_ratio"][test_genre] for o in second]),
        f"{test_genre}_onsets_ratio": entry([o["onsets_ratio"][test_genre] for o in second]),
        **({f"{test_genre}_hold_ratio": entry([o["hold_ratio"][test_genre] for o in second])}
           if all("hold_ratio" in o for o in second) else {}),  # runs from before the measure lack it
        "feature_classifier_test_acc": entry([c["real held-out"]["features"]["all"] for c in calib]),
        f"judge_calls_{test_genre}_shaped_noise_{test_genre}": entry(
            [c["noise shaped like the genre"]["judge"][test_genre] for c in calib]),
        f"judge_calls_blurred_{test_genre}_{test_genre}": entry(
            [c["blurred spectrogram"]["judge"][test_genre] for c in calib]),
    }
    def calls_it(values: list[float]) -> bool:
        """An opinion calls the clips the test genre: above chance by its interval, or (one seed, no
        interval) by its value."""
        c = stats.claim("", [a - chance for a in values])
        return c["verdict"] == "supported" or (c["n_seeds"] == 1 and c["mean"] > 0)

    judge_ok, feat_ok = calls_it(acc_test), calls_it(feat_test)
    # Both opinions call noise shaped like a genre that genre (see the calibration table), so their
    # verdicts alone cannot certify noise-like audio: the claim also needs generated clips whose
    # hand-made features are near real ones (the first-step bounds).
    flat_x, fd_x = h[f"{test_genre}_flatness_ratio"]["mean"], h[f"{test_genre}_feature_fd_ratio"]["mean"]
    harm_x = h[f"{test_genre}_harmonicity_ratio"]["mean"]
    # ... and closer to real music than real music degraded (blurred, or 10 dB of noise) is.
    bar = degraded_bar(calib, test_genre)
    misses, unlike_real = hand_made_misses(flat_x, fd_x, harm_x, bar, test_genre)
    if misses and c1["verdict"] == "supported":
        c1["verdict"] = "contradicted"
    if misses:
        c1["shown"] += f" but {unlike_real}: " + "; ".join(misses)
    fooled = h[f"judge_calls_{test_genre}_shaped_noise_{test_genre}"]["mean"]
    text = (f"The {kind.upper()} made {test_genre} clips that its judge called {test_genre} "
            f"{stats.fmt_entry(h[f'{test_genre}_acc'], 0, 100)}% of the time "
            f"(chance {chance * 100:.0f}%, mean over {len(names)} genres "
            f"{stats.fmt_entry(h['mean_genre_acc'], 0, 100)}%); the judge gets "
            f"{stats.fmt_entry(h['judge_test_acc'], 0, 100)}% of real held-out clips "
            f"right; Frechet distance of {test_genre} {h[f'{test_genre}_fd']['mean']:.3g} (two real halves: "
            f"{h[f'{test_genre}_fd_real_halves']['mean']:.3g}); spectral flatness "
            f"{h[f'{test_genre}_flatness_generated']['mean']:.3f} generated vs "
            f"{h[f'{test_genre}_flatness_real']['mean']:.3f} real.")
    pct = lambda key: stats.fmt_entry(h[key], 0, 100)  # noqa: E731
    text += (f" Second opinion, with no learned judge: a classifier on hand-made features (right on "
             f"{pct('feature_classifier_test_acc')}% of real held-out clips) calls {pct(f'{test_genre}_feature_acc')}% "
             f"of them {test_genre}; their feature Frechet distance is "
             f"{h[f'{test_genre}_feature_fd_ratio']['mean']:.1f}x the real-vs-real floor, spectral flatness "
             f"{h[f'{test_genre}_flatness_ratio']['mean']:.1f}x and harmonicity "
             f"{h[f'{test_genre}_harmonicity_ratio']['mean']:.2f}x that of real {test_genre}.")
    apart = what_sets_apart(second, test_genre)
    if float(np.mean(feat_test)) < 1 and apart:
        text += f" What most sets them apart from real {test_genre} for the feature classifier: {apart}."
    if judge_ok != feat_ok:
        text += (f" The two opinions DISAGREE: the {'judge' if judge_ok else 'feature classifier'} calls the "
                 f"generated clips {test_genre}, the {'feature classifier' if judge_ok else 'judge'} does not, so "
                 f"the claim is not supported.")
    if misses:
        text += (f" The generated {test_genre} clips are {unlike_real} by the hand-made measures ("
                 + "; ".join(misses) + f"), so the claim that they are {test_genre} is not supported whatever the "
                 "classifiers say.")
    if fooled > 0.5:
        text += (f" The judge calls plain noise shaped like {test_genre} {test_genre} {fooled * 100:.0f}% of the "
                 "time: on its own it cannot certify generated audio.")
    return {"text": text, "headline": h, "claims": [c1, c2], "genres": names}


def hand_made_misses(flat_x: float, fd_x: float, harm_x: float, bar: dict[str, float],
                     genre: str) -> tuple[list[str], str]:
    """The hand-made bounds generated clips miss, each in words, and what that makes them: "noise-like" when
    flatness or harmonicity fails (a flat, unpitched spectrum), else "unlike real GENRE" (too tonal, say, with
    the wrong envelope)."""
    misses = []
    if flat_x > MAX_FLATNESS_RATIO:
        misses.append(f"spectral flatness {flat_x:.1f}x real, above the bound of {MAX_FLATNESS_RATIO:g}x")
    if not (fd_x <= MAX_FD_RATIO and fd_x < bar["fd_ratio"]):
        misses.append(f"feature distance {fd_x:.1f}x the real floor, which must be under {MAX_FD_RATIO:g}x and under "
                      f"real {genre} blurred or at 10 dB SNR ({bar['fd_ratio']:.1f}x)")
    if not harm_x > bar["harmonicity_ratio"]:
        misses.append(f"harmonicity {harm_x:.2f}x real, which must beat theirs ({bar['harmonicity_ratio']:.2f}x)")
    noise_like = flat_x > MAX_FLATNESS_RATIO or not harm_x > bar["harmonicity_ratio"]
    return misses, "noise-like" if noise_like else f"unlike real {genre}"


DEGRADED_BARS = ("blurred spectrogram", "noise 10 dB")  # real clips a generator must beat


def degraded_bar(calib: list[dict], genre: str) -> dict[str, float]:
    """The best feature Frechet ratio (lowest) and harmonicity ratio (highest) among real ``genre`` clips
    blurred or with 10 dB of noise, averaged over seeds: generated clips must do better than both."""
    if not all("measures" in c[k] for c in calib for k in DEGRADED_BARS):  # runs from before these were logged
        return {"fd_ratio": float("inf"), "harmonicity_ratio": float("-inf")}
    fd = min(float(np.mean([c[k]["measures"]["fd_ratio"][genre] for c in calib])) for k in DEGRADED_BARS)
    harm = max(float(np.mean([c[k]["measures"]["harmonicity_ratio"][genre] for c in calib])) for k in DEGRADED_BARS)
    return {"fd_ratio": fd, "harmonicity_ratio": harm}


MAX_FLATNESS_RATIO = 3.0   # generated / real median spectral flatness
MAX_FD_RATIO = 10.0        # feature Frechet distance / real-vs-real floor


def draw_curves(run: Run, test_genre: str, kind: str, checks: list[dict], chance: float) -> None:
    """Losses, and genre accuracy, Frechet distance and noise of generated clips over training,
    each beside the yardsticks real held-out clips set (the judge's checks)."""
    loss_keys = [k for k in run.select(phase=kind)[0] if k.endswith("loss") or k in ("mse", "kl")]
    fig, axes = figures.plt.subplots(1, len(loss_keys), figsize=(3.2 * len(loss_keys), 3.0), dpi=110, squeeze=False)
    for ax, key in zip(axes[0], loss_keys):
        epochs, runs = records.seed_curves(run, kind, key)
        figures.band(ax, epochs, runs, key)
        ax.set_xlabel("epoch")
        ax.set_title(key, fontsize=9)
        ax.grid(alpha=0.3)
    figures.save(fig, run.figures / "losses")

    def real_line(ax, values, style, label, scale=1):
        ax.axhline(np.mean(values) * scale, color="k", ls=style, lw=1, label=label)

    def generated(ax, key, label, color):
        figures.band(ax, *records.seed_curves(run, "eval", key), label, color)

    fig, ax = figures.new_figure()
    generated(ax, lambda r: r["acc"][test_genre] * 100, f"generated {test_genre}", figures.COLORS[0])
    generated(ax, lambda r: r["mean_acc"] * 100, "generated, mean over genres", figures.COLORS[1])
    real_line(ax, [c["segment_acc"] for c in checks], "--", "judge on real held-out clips", 100)
    real_line(ax, [c["round_trip"]["mean_acc"] for c in checks], "-.", "judge on real clips after Griffin-Lim", 100)
    ax.axhline(chance * 100, color="gray", ls=":", lw=1, label="chance")
    ax.set_xlabel("epoch")
    ax.set_ylabel("judged as the requested genre (%)")
    ax.set_ylim(0, 105)
    ax.legend(fontsize=8)
    figures.save(fig, run.figures / "genre_accuracy")

    fig, ax = figures.new_figure()
    generated(ax, lambda r: r["fd"][test_genre], f"generated {test_genre}", figures.COLORS[0])
    generated(ax, "mean_fd", "mean over genres", figures.COLORS[1])
    floor = [c["fd_real_halves"][test_genre] for c in checks]
    if np.isfinite(floor).any():  # too few held-out clips (the smoke preset) leave no halves to compare
        ax.axhline(np.nanmean(floor), color="k", ls="--", lw=1, label=f"two halves of real {test_genre} clips")
    real_line(ax, [c["round_trip"]["fd"][test_genre] for c in checks], "-.", f"real {test_genre} after Griffin-Lim")
    ax.set_xlabel("epoch")
    ax.set_ylabel("Frechet distance (judge embeddings)")
    ax.set_yscale("log")
    ax.legend(fontsize=8)
    figures.save(fig, run.figures / "frechet_distance")

    fig, ax = figures.new_figure()
    generated(ax, lambda r: r["flatness"][test_genre], f"generated {test_genre}", figures.COLORS[0])
    real_line(ax, [c["real_flatness"][test_genre] for c in checks], "--", f"real {test_genre}")
    real_line(ax, [c["round_trip"]["flatness"][test_genre] for c in checks], "-.",
              f"real {test_genre} after Griffin-Lim")
    ax.set_xlabel("epoch")
    ax.set_ylabel("spectral flatness (1 = white noise)")
    ax.legend(fontsize=8)
    figures.save(fig, run.figures / "noise")


# The per-genre table: (column, phase, the per-genre values of a record, digits, scale).
GENRE_COLUMNS = (
    ("judge on real (%)", "judge-test", lambda c: c["per_genre_acc"], 0, 100),
    ("generated judged as asked (%)", "final", lambda f: f["acc"], 0, 100),
    ("real after Griffin-Lim (%)", "judge-test", lambda c: c["round_trip"]["acc"], 0, 100),
    ("Frechet dist. generated", "final", lambda f: f["fd"], 2, 1),
    ("Frechet dist. real halves", "judge-test", lambda c: c["fd_real_halves"], 2, 1),
    ("flatness generated", "final", lambda f: f["flatness"], 3, 1),
    ("flatness real", "judge-test", lambda c: c["real_flatness"], 3, 1),
    ("energy > 4 kHz generated (%)", "final", lambda f: f["hf_ratio"], 1, 100),
    ("energy > 4 kHz real (%)", "judge-test", lambda c: c["real_hf_ratio"], 1, 100),
)


# The second opinion's table: (column, key of the final record's "second_opinion", digits, scale).
SECOND_COLUMNS = (
    ("features: called as asked (%)", "acc", 0, 100),
    ("feature Frechet / floor (x)", "fd_ratio", 1, 1),
    ("flatness gen / real (x)", "flatness_ratio", 2, 1),
    ("harmonicity gen / real (x)", "harmonicity_ratio", 2, 1),
    ("onsets per s gen / real (x)", "onsets_ratio", 2, 1),
    ("notes hold gen / real (x)", "hold_ratio", 2, 1),
)


def what_sets_apart(second: list[dict], genre: str, most: int = 3) -> str:
    """The hand-made features that most pull generated clips of ``genre`` away from it in the feature
    classifier's eyes, relative to real clips (mean over seeds), in words; "" when none does or the run
    is from before the measure."""
    if not second or not all("apart" in o and genre in o["apart"] for o in second):
        return ""
    names = list(second[0]["apart"][genre])
    pull = np.mean([[o["apart"][genre][f][0] for f in names] for o in second], axis=0)
    shift = np.mean([[o["apart"][genre][f][1] for f in names] for o in second], axis=0)
    # 0.05 of a logit: less than that changes no verdict worth naming.
    worst = [i for i in np.argsort(pull)[:most] if pull[i] < -0.05]
    return "; ".join(f"{handmade.describe_feature(names[i])} ({'higher' if shift[i] > 0 else 'lower'} than real, "
                     f"{shift[i]:+.1f} sd)" for i in worst)


def report(run: Run) -> Section:
    s = run.summary()
    conf = run.config()
    cfg = conf["config"]
    h = s["headline"]
    names = s["genres"]
    test_genre, kind = cfg["test_genre"], cfg["model"]
    last = {phase: [r[-1] for r in records.by_seed(run, phase)] for phase in ("final", "judge-test")}
    rows = [[name] + [stats.fmt_entry(stats.mean_ci_entry([get(r)[name] for r in last[phase]]), digits, scale)
                      for _, phase, get, digits, scale in GENRE_COLUMNS] for name in names]
    listing = json.loads((run.root / "audio" / "index.json").read_text())
    n_gen = max(len(v["generated"]) for v in listing.values())
    grid_rows = [(name, [run.root / "audio" / listing[name]["real"]]
                  + [run.root / "audio" / p for p in listing[name]["generated"]]) for name in listing]
    confusion = np.sum([np.asarray(f["confusion"]) for f in last["final"]], axis=0)
    conf_rows = [[f"asked {name}"] + [int(v) for v in confusion[g]] for g, name in enumerate(names)]
    model = {"vae": "VAE (calibrated decoder, sigma-VAE)", "gan": "GAN (hinge loss, projection discriminator)",
             "flow": "flow-matching model (2-D U-Net over frequency x time, classifier-free guidance "
                     f"{cfg.get('guidance', 2.0):g}, {cfg.get('flow_steps', 8)} Heun steps)"}[kind]
    latent = ("noise of the spectrogram's own shape" if kind == "flow"
              else f"latent sequence of {cfg['z_dim']} channels per 8 frames")
    arch = (f"conditional {model} "
            f"on {'log-magnitude STFT' if cfg['domain'] == 'stft' else 'log-mel'} spectrograms "
            f"(n_fft {cfg['n_fft']}, hop {cfg['hop']} at {cfg['sample_rate']} Hz), {latent}, "
            f"{cfg['hidden']} hidden channels; sound by fast Griffin-Lim ({cfg['griffin_lim_iters']} iterations)")
    order = sorted(names, key=lambda n: n != test_genre)
    rows = sorted(rows, key=lambda r: r[0] != test_genre)
    second_columns = [c for c in SECOND_COLUMNS if all(c[1] in f["second_opinion"] for f in last["final"])]
    second_rows = [[name] + [stats.fmt_entry(stats.mean_ci_entry([f["second_opinion"][key][name]
                                                                  for f in last["final"]]), digits, scale)
                             for _, key, digits, scale in second_columns]
                   + [what_sets_apart([f["second_opinion"] for f in last["final"]], name) or "nothing much"]
                   for name in order]
    calib = [c["calibration"] for c in last["judge-test"]]
    def measure(set_name, key):
        if "measures" not in calib[0][set_name]:
            return "1x (the reference)" if key != "fd_ratio" else "floor"
        if any(key not in c[set_name]["measures"] for c in calib):
            return "not measured (run from before the measure)"
        return stats.fmt_entry(stats.mean_ci_entry([c[set_name]["measures"][key][test_genre] for c in calib]), 2)

    calib_rows = [[set_name] + [stats.fmt_entry(stats.mean_ci_entry([c[set_name][who][col] for c in calib]), 0, 100)
                                for who in ("judge", "features") for col in ("all", test_genre)]
                  + [measure(set_name, k) for k in ("fd_ratio", "flatness_ratio", "harmonicity_ratio", "hold_ratio")]
                  for set_name in calib[0]]
    blocks = [
        Table(["genre"] + [c[0] for c in second_columns] + ["what sets generated apart (features)"],
              second_rows,
              "Second opinion with no learned judge (sslab.audio.features): a logistic regression on hand-made "
              "features (MFCC mean/std, spectral shape, chroma, spectral contrast, harmonicity, onsets) fitted on "
              "real training clips; the Frechet distance of those features (standardised) from generated clips to "
              "real training clips, over the distance of as many real held-out clips (the floor, so 1x is as "
              "close as real music gets); medians of generated clips over those of real held-out clips. \"Notes hold\": "
              "how long the pitch content (chroma) persists, the lag at which its autocorrelation falls to 1/2: "
              "below 1x the generated notes are shorter than real ones, noise scores about 0.1x. The last column "
              "names the features that most pull generated clips away from their genre in the classifier's eyes, relative to "
              "real clips of it, and how far their mean is from real (in standard deviations of real clips)."),
        Table(["clips", "judge: called their genre (%)", f"judge: {test_genre} ones called {test_genre} (%)",
               "features: called their genre (%)", f"features: {test_genre} ones called {test_genre} (%)",
               f"{test_genre}: feature Frechet / floor (x)", f"{test_genre}: flatness / real (x)",
               f"{test_genre}: harmonicity / real (x)", f"{test_genre}: notes hold / real (x)"],
              calib_rows,
              "Calibration of both opinions on things that are not music of a genre: real held-out clips with white "
              "noise added (10 and 0 dB SNR), with their log spectrogram blurred (Gaussian, 6 bins x 6 frames, "
              "then Griffin-Lim), and plain noise with each genre's average spectrum. An opinion that calls these "
              "their genre as often as real clips cannot tell a good generator from a noise-like one. The last "
              "columns are the hand-made measures of these clips, computed like those of generated clips: the "
              "seed's claim needs generated clips closer to real than blurred or noisy real ones."),
        Table(["genre"] + [c[0] for c in GENRE_COLUMNS], rows,
              f"Final evaluation: {cfg['final_clips']} generated clips of {cfg['eval_seconds']:g} s per genre, against "
              f"held-out real clips; {stats.seeds_phrase(len(conf['seeds']))}"
              + (", ± is a 95% confidence interval." if len(conf["seeds"]) > 1 else ".")),
        AudioGrid(["real (held out)"] + [f"generated {i + 1}" for i in range(n_gen)], grid_rows,
                  f"Seed {conf['seeds'][0]}: generated clips of {cfg['report_seconds']:g} s for each requested genre, "
                  "beside a real held-out clip."),
        Figure(run.figures / "spectrograms.png", "Spectrograms (dB, one colour scale for all panels) of the real clip "
                                                 "and the first generated clip of each genre, the test genre first."),
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
    ]
    return Section("Genre-conditioned generative audio (assignment 2.1)", blocks,
                   subtitle=f"A conditional {kind.upper()} makes clips of a requested genre; a genre classifier "
                            f"trained on real clips judges them")


def next_steps(run: Run) -> str:
    """The reproduce block's last line: making sound with the trained model."""
    genre = run.config()["config"]["test_genre"]
    return f"# then: sslab sample --checkpoint {{run.root}} --genre {genre} --n 5 --seconds 5 --out samples/"
