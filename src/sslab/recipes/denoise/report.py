"""`denoise`'s summary, figures and report section, read from the run directory alone."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from sslab.audio.io import read_audio
from sslab.audio.stft import HOP, N_FFT, stft
from sslab.recipes.denoise import compare
from sslab.recipes.denoise.config import ARM_NAMES, ARMS
from sslab.report import figures, records, stats
from sslab.report.document import AudioGrid, Figure, Math, Section, Table, Text
from sslab.train.checkpoint import load_state
from sslab.train.rundir import Run


def finals(run: Run, arm: str, key: str = "val_snr") -> list[float]:
    """Per seed, the score of ``arm`` at its best epoch (or of the noisy input / the oracle mask)."""
    return records.finals(run, "final", key, arm=arm)


def spectrogram_figure(run: Run, k: int) -> Path | None:
    """Noisy, RNN and clean spectrograms of example ``k`` above its estimated and ideal masks (None: no such example)."""
    masks_file = run.root / "examples" / f"ex{k}-masks.safetensors"
    if not masks_file.is_file():
        return None
    masks = load_state(masks_file)
    panels = []
    for label, kind in (("noisy |X|", "noisy"), ("RNN estimate |Ŝ|", "rnn"), ("clean |S|", "clean")):
        wave, sr, _ = read_audio(run.root / "examples" / f"ex{k}-{kind}.wav")
        panels.append((label, 20 * np.log10(stft(torch.from_numpy(wave)).abs().numpy() + 1e-5), "magma"))
    panels += [("RNN mask M̂", masks["rnn"].numpy(), "gray"), ("ideal binary mask M", masks["ideal"].numpy(), "gray")]
    fig, axes = figures.plt.subplots(len(panels), 1, figsize=(7.0, 1.6 * len(panels)), dpi=110, sharex=True)
    top = panels[0][1].max()
    for ax, (label, image, cmap) in zip(axes, panels):
        extent = (0, image.shape[1] * HOP / sr, 0, sr / 2000)
        limits = (top - 80, top) if cmap == "magma" else (0, 1)
        shown = ax.imshow(image, origin="lower", aspect="auto", cmap=cmap, extent=extent, vmin=limits[0],
                          vmax=limits[1])
        bar = fig.colorbar(shown, ax=ax, pad=0.01, fraction=0.04)
        bar.set_label("dB" if cmap == "magma" else "mask", fontsize=7)
        bar.ax.tick_params(labelsize=7)
        ax.set_ylabel("kHz", fontsize=8)
        ax.set_title(label, fontsize=9, loc="left")
    axes[-1].set_xlabel("seconds")
    fig.suptitle(f"{masks['name']}.wav (validation)", fontsize=10)
    return figures.save(fig, run.figures / f"example{k}")


def summarize(run: Run) -> dict:
    fig, ax = figures.new_figure()
    for arm, color in zip(ARMS, figures.COLORS):
        epochs, values = records.seed_curves(run, arm, "val_snr")
        figures.band(ax, epochs, values, ARM_NAMES[arm], color)
    for ref, style in (("oracle", "--"), ("input", ":")):
        ax.axhline(np.mean(finals(run, ref)), color="black", ls=style, lw=1, label=ARM_NAMES[ref])
    ax.set_xlabel("epoch")
    ax.set_ylabel("validation SNR (dB)")
    ax.set_title("Validation SNR through the inverse STFT")
    ax.legend(fontsize=8)
    figures.save(fig, run.figures / "val_snr")

    fig, ax = figures.new_figure()
    for arm, color in zip(ARMS, figures.COLORS):
        epochs, train = records.seed_curves(run, arm, "train_loss")
        figures.band(ax, epochs, train, f"{ARM_NAMES[arm]} training", color)
        epochs, val = records.seed_curves(run, arm, "val_loss")
        ax.plot(epochs, np.mean(val, axis=0), color=color, ls="--", label=f"{ARM_NAMES[arm]} validation")
    ax.set_xlabel("epoch")
    weighted = run.config()["config"].get("loss_weight", 0)
    ax.set_ylabel(f"binary cross-entropy per bin{' (weighted)' if weighted else ''}")
    ax.legend(fontsize=8)
    figures.save(fig, run.figures / "loss")
    k = 0
    while spectrogram_figure(run, k) is not None:
        k += 1

    rnn, fc, noisy, oracle = (finals(run, a) for a in ("rnn", "fc", "input", "oracle"))
    gain_fc = [a - b for a, b in zip(rnn, fc)]
    gain_input = [a - b for a, b in zip(rnn, noisy)]
    claims = [
        stats.claim("The RNN beats the fully connected baseline (validation SNR, dB)", gain_fc, unit=" dB", digits=2),
        stats.claim("The RNN's validation SNR is above 10 dB (the seed's FC level)", rnn, unit=" dB", digits=2,
                    threshold=10.0),
        stats.claim("Denoising raises SNR above the noisy input (dB)", gain_input, unit=" dB", digits=2),
    ]
    headline = {f"{arm}_{key}": stats.mean_ci_entry(finals(run, arm, key))
                for arm in ("input", "fc", "rnn", "oracle") for key in ("val_snr", "val_si_sdr")}
    comparison = compare.summary(run)
    claims += comparison.pop("claims", [])
    for system, entries in comparison.get("systems", {}).items():
        for metric, entry in entries.items():
            if metric != "seeds":
                headline[f"{system}_{metric}"] = entry
    test = run.select(phase="test")
    if test and "test_snr" in test[0]:
        headline["rnn_test_snr"] = {"mean": test[0]["test_snr"]}  # one test set, scored once: no interval
    speed = [r["frames_per_s"] for r in run.select(phase="rnn") if "frames_per_s" in r]
    headline["rnn_train_frames_per_s"] = float(np.median(speed)) if speed else None
    n = len(rnn)
    text = (f"The RNN mask estimator reached {stats.fmt_entry(headline['rnn_val_snr'], 2)} dB validation SNR against "
            f"{stats.fmt_entry(headline['fc_val_snr'], 2)} dB for the FC baseline, from {np.mean(noisy):.2f} dB at the "
            f"input (oracle IBM {np.mean(oracle):.2f} dB) over {stats.seeds_phrase(n)}.")
    systems = comparison.get("systems", {})
    if "pesq" in systems.get("rnn", {}) and "pesq" in systems.get("wiener", {}):
        text += (f" Wide-band PESQ: RNN {stats.fmt_entry(systems['rnn']['pesq'], 2)}, FC "
                 f"{stats.fmt_entry(systems['fc']['pesq'], 2)}, Wiener filter {systems['wiener']['pesq']['mean']:.2f}, "
                 f"noisy input {systems['input']['pesq']['mean']:.2f}; STOI: RNN "
                 f"{stats.fmt_entry(systems['rnn']['stoi'], 3)}, FC {stats.fmt_entry(systems['fc']['stoi'], 3)}, "
                 f"input {systems['input']['stoi']['mean']:.3f}.")
    data = (run.select(phase="data") or [{}])[0]
    where = data.get("source") or (f"real: {run.config()['data']}" if run.config()["data"] else "made-up speech and noise")
    label = f"{where}: {data['train_files']:,} training / {data['val_files']:,} validation mixtures" \
        if "train_files" in data and "val_files" in data else where
    return {"text": text, "data": label, "headline": headline, "claims": claims, "comparison": comparison}


def model_text(cfg: dict, conf: dict, frames_per_s: float | None) -> str:
    """The STFT, both networks and their training, in words, from the run's saved config."""
    bidir = " bidirectional" if cfg["bidirectional"] else ""
    return (f"STFT: {N_FFT}-point Hann window, hop {HOP}, {N_FFT // 2 + 1} bins; input: log magnitude standardised "
            f"per bin with training-set statistics. RNN: "
            + (f"a frame-wise input layer of {cfg['proj']} ReLU units, then " if cfg.get("proj") else "")
            + f"{cfg['layers']}-layer{bidir} {cfg['cell'].upper()}, {cfg['hidden']} "
            f"units, dropout {cfg['dropout']}, "
            + (f"then a frame-wise layer of {cfg['head']} ReLU units reading the recurrent output and the frame's "
               "features, " if cfg.get("head") else "")
            + f"sigmoid output layer. FC baseline: {cfg['fc_layers']} hidden layers of "
            f"{cfg['fc_hidden']} ReLU units, dropout {cfg['fc_dropout']}, one frame at a time. Both: Adam "
            f"{cfg['lr']}" + (" decayed along a cosine to 5%" if cfg.get("lr_schedule") == "cosine" else "")
            + f", mini-batches of {cfg['batch_size']} "
            + (f"{cfg['t_trunc']}-frame segments (each epoch cut from a random first frame)" if cfg["t_trunc"]
               else "whole sequences (padding masked out of the loss)")
            + (f"; every epoch each training noise is shifted in time and scaled by up to ±{cfg['remix_db']:g} dB "
               "before mixing" if cfg.get("remix_db") else "")
            + (f", {cfg['remix_swap']:.0%} of the files taking another training file's noise (scaled to their "
               "own noise's energy)" if cfg.get("remix_db") and cfg.get("remix_swap") else "")
            + f", {cfg['epochs']} epochs, binary cross-entropy against the ideal "
            + ("ratio mask |S|²/(|S|²+|N|²)" if cfg.get("target") == "irm" else "binary mask")
            + (f", each bin's term weighted by the noisy magnitude |X|^{cfg['loss_weight']:g} (normalised to mean 1 "
               "per sequence)" if cfg.get("loss_weight") else "")
            + f". Training speed: {frames_per_s or 0:,.0f} frames/s (RNN) on {conf['device']}.")


def report(run: Run) -> Section:
    s, conf = run.summary(), run.config()
    cfg, h = conf["config"], s["headline"]
    rows = [[ARM_NAMES[arm], stats.fmt_entry(h[f"{arm}_val_snr"], 2), stats.fmt_entry(h[f"{arm}_val_si_sdr"], 2)]
            for arm in ("input", "fc", "rnn", "oracle")]
    data = (run.select(phase="data") or [{}])[0]
    comparison = compare.blocks(s.get("comparison", {}), len(conf["seeds"]))
    blocks = comparison or [
        Table(["signal", "validation SNR (dB)", "validation SI-SDR (dB)"], rows,
              f"{stats.seeds_phrase(len(conf['seeds']))}; estimators at their best validation epoch; ± is a 95% confidence interval"),
    ]
    blocks += [
        Figure(run.figures / "val_snr.png", "Validation SNR after every epoch; the dotted line is the noisy input "
               "(floor), the dashed line the oracle ideal binary mask (ceiling)."),
        Figure(run.figures / "loss.png", "Training (solid) and validation (dashed) loss."),
        Math(r"M_{f,t} = 1 \text{ if } |S_{f,t}| > |N_{f,t}| \text{ else } 0, \quad \hat S = \hat M \odot X, \quad "
             r"\mathrm{SNR} = 10 \log_{10} \frac{\sum_t s(t)^2}{\sum_t (s(t) - \hat s(t))^2}",
             "The ideal binary mask target (assignment eq. 1), masking of the complex STFT (eq. 2), and the SNR."),
    ]
    k, grid = 0, []
    while (run.figures / f"example{k}.png").is_file():
        name = str(load_state(run.root / "examples" / f"ex{k}-masks.safetensors")["name"])
        blocks.append(Figure(run.figures / f"example{k}.png", f"{name}: noisy, RNN estimate and clean spectrograms "
                             "(dB), then the estimated and the ideal mask."))
        grid.append((name, [run.root / "examples" / f"ex{k}-{kind}.wav" for kind in ("noisy", "fc", "rnn", "clean")]))
        k += 1
    if grid:
        blocks.append(AudioGrid(["noisy", "FC baseline", "RNN", "clean"], grid, "Listen: validation examples."))
    test = run.select(phase="test")
    if test:
        line = (f"Test: {test[0]['files']} mixtures denoised by the RNN into `test_denoised/` (same names) and "
                f"`test_denoised.zip` for hand-in.")
        if (run.root / "test_reference").is_dir():
            line += (f" On this made-up data sslab knows the clean test speech (saved in `test_reference/`): test SNR "
                     f"{test[0]['test_snr']:.2f} dB; check it with `sslab score --reference "
                     f"{run.root / 'test_reference'} --estimate {run.root / 'test_denoised'}`.")
        else:
            line += (" The data set holds no clean test speech, so this run cannot score them; whoever holds it "
                     f"scores them with `sslab score --reference CLEAN_DIR --estimate {run.root / 'test_denoised'}`.")
        blocks.append(Text(line))
    blocks += [
        Text(f"Data: {data.get('source', conf['data'])}; {data.get('train_files', '?')} training mixtures "
             f"({data.get('train_hours', 0) * 60:.1f} min), {data.get('val_files', '?')} validation, "
             f"{data.get('test_files', 0)} test, {data.get('sample_rate', '?')} Hz."
             + (" " + " ".join(data["notes"]) if data.get("notes") else "")),
        Text(model_text(cfg, conf, h["rnn_train_frames_per_s"])),
    ]
    return Section("Speech denoising with an RNN (assignment P3)", blocks,
                   subtitle="Ideal-binary-mask estimation with a GRU/LSTM vs a frame-wise FC net; SNR through the inverse STFT")
