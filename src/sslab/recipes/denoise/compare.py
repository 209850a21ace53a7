"""Every system `denoise` judges on the validation set, scored alike, and the tables that compare them.

The systems: the noisy input (the floor); spectral subtraction and a Wiener filter, which
need no training and estimate the noise from the mixture alone (:mod:`sslab.audio.enhance`);
the FC baseline and the RNN at their best validation epoch; and three oracle masks that
read the clean speech (:mod:`sslab.audio.masks`): the ideal binary mask the seed trains
on, the ideal ratio mask and the phase-sensitive mask (ceilings). Every estimate goes
through the same inverse STFT and is scored by SNR and SI-SDR (``sslab.audio.metrics``)
and, at the end of training, wide-band PESQ and STOI in a process pool.

The systems that need no training give the same numbers for every seed, so they are
scored once per run; the two networks once per seed.
"""

from __future__ import annotations

import numpy as np
import torch

from sslab.audio import enhance
from sslab.audio.masks import apply_mask, oracle_mask
from sslab.audio.metrics import perceptual_many, si_sdr_db, snr_db
from sslab.audio.models import Masker
from sslab.audio.stft import batch_istft, batch_stft
from sslab.data.denoise import Split
from sslab.report import stats
from sslab.report.document import Table, Text
from sslab.train.rundir import Run

SYSTEMS = ("input", "subtraction", "wiener", "fc", "rnn", "ibm", "irm", "psm")
FIXED = ("input", "subtraction", "wiener", "ibm", "irm", "psm")  # no training: the same for every seed
LEARNED = ("fc", "rnn")
SYSTEM_NAMES = {"input": "noisy input", "subtraction": "spectral subtraction", "wiener": "Wiener filter",
                "fc": "FC baseline", "rnn": "RNN", "ibm": "oracle IBM", "irm": "oracle IRM", "psm": "oracle PSM"}
# (key, column title, digits): SNR and SI-SDR in dB, PESQ as MOS-LQO (1.04-4.64), STOI from 0 to 1
METRICS = (("snr", "SNR (dB)", 2), ("si_sdr", "SI-SDR (dB)", 2), ("pesq", "PESQ", 2), ("stoi", "STOI", 3))


@torch.no_grad()
def estimates(split: Split, system: str, model: Masker | None = None, batch: int = 16) -> list[np.ndarray]:
    """The validation files as ``system`` leaves them: one waveform per file, at its own length."""
    if model is not None:
        model.eval()
    out: list[np.ndarray] = []
    for start in range(0, len(split.noisy), batch):
        index = torch.arange(start, min(start + batch, len(split.noisy)))
        x, lengths = split.noisy.batch(index)
        if system == "input":
            waves = x
        else:
            s, _ = split.speech.batch(index)
            n, _ = split.noise.batch(index)
            spec, valid = batch_stft(torch.cat([x, s, n]), lengths.repeat(3))
            noisy_spec, speech_spec, noise_spec = spec.chunk(3)
            valid = valid[: len(index)]
            if system in LEARNED:
                mask = model.mask(noisy_spec.abs().transpose(1, 2)).transpose(1, 2)
            elif system in enhance.METHODS:
                mask = enhance.gain(system, noisy_spec, valid)
            else:
                mask = oracle_mask(system, speech_spec, noise_spec, noisy_spec)
            waves = batch_istft(apply_mask(mask, noisy_spec), lengths)
        out += [waves[row, : int(lengths[row])].cpu().numpy() for row in range(len(index))]
    return out


def score(split: Split, waves: dict[str, list[np.ndarray]], rate: int, perceptual: bool = True,
          workers: int | None = None) -> dict[str, dict]:
    """Per-file SNR, SI-SDR (and PESQ, STOI) of each system's ``waves`` against the clean speech, and the means.

    Returns ``{system: {"val_<metric>": mean, "per_file_<metric>": [...]}}``. PESQ and STOI
    of every system run in one process pool. A file they cannot score (too short, no
    speech) is None in its list and left out of the mean, and the system's ``notes`` say why.
    """
    clean = [split.speech.signal(i).cpu().numpy() for i in range(len(split.noisy))]
    out: dict[str, dict] = {}
    quality = []
    if perceptual:
        pairs = [(s, w) for system_waves in waves.values() for s, w in zip(clean, system_waves)]
        quality = perceptual_many(pairs, rate, workers=workers)
    for k, (system, system_waves) in enumerate(waves.items()):
        per_file = {"snr": [float(snr_db(s, w)) for s, w in zip(clean, system_waves)],
                    "si_sdr": [float(si_sdr_db(s, w)) for s, w in zip(clean, system_waves)]}
        scores = quality[k * len(clean):(k + 1) * len(clean)]
        for metric in ("pesq", "stoi") if perceptual else ():
            per_file[metric] = [q[metric] for q in scores]
        out[system] = {}
        for metric, values in per_file.items():
            kept = [v for v in values if v is not None]
            out[system][f"val_{metric}"] = float(np.mean(kept)) if kept else None
            out[system][f"per_file_{metric}"] = values
        notes = sorted({f"v{split.ids[i]} ({SYSTEM_NAMES[system]}): {note}" for i, q in enumerate(scores)
                        for note in q["notes"]})
        if notes:
            out[system]["notes"] = notes
    return out


def input_bins(input_snr: list[float]) -> tuple[list[float], list[int]]:
    """Edges of input-SNR bins (2.5, 5, 10 or 20 dB wide: the narrowest giving at most 6) and each file's bin."""
    low, high = min(input_snr), max(input_snr)
    for width in (2.5, 5.0, 10.0, 20.0):
        first, last = np.floor(low / width) * width, np.floor(high / width) * width + width
        if (last - first) / width <= 6:
            break
    edges = list(np.arange(first, last + width / 2, width))
    which = [min(int((v - first) // width), len(edges) - 2) for v in input_snr]
    return [float(e) for e in edges], which


def grouped(per_system: dict[str, dict[str, list]], groups: list, order: list) -> list[dict]:
    """Mean of every system's per-file metrics over the files of each group, in ``order``.

    ``per_system[system][metric]`` is a per-file list (already averaged over seeds for the
    networks); None entries (files PESQ could not score) are left out of the means.
    """
    rows = []
    for group in order:
        files = [i for i, g in enumerate(groups) if g == group]
        if not files:
            continue
        row = {"group": group, "files": len(files), "systems": {}}
        for system, metrics in per_system.items():
            row["systems"][system] = {}
            for metric, values in metrics.items():
                kept = [values[i] for i in files if values[i] is not None]
                row["systems"][system][metric] = float(np.mean(kept)) if kept else None
        rows.append(row)
    return rows


# ---- reading the scores back (the report side) ---------------------------------------------------
def seed_means(records: list[dict]) -> dict[str, list[float]]:
    """``{metric: [mean of each seed]}`` from a system's quality records (metrics never scored are left out)."""
    out = {}
    for metric, _, _ in METRICS:
        values = [r[f"val_{metric}"] for r in records if r.get(f"val_{metric}") is not None]
        if values:
            out[metric] = values
    return out


def file_means(records: list[dict]) -> dict[str, list]:
    """``{metric: [each file's value averaged over the seeds]}`` (None where a seed could not score the file)."""
    out = {}
    for metric, _, _ in METRICS:
        lists = [r.get(f"per_file_{metric}") for r in records]
        if not lists or any(values is None for values in lists):
            continue
        out[metric] = [None if any(v is None for v in column) else float(np.mean(column)) for column in zip(*lists)]
    return out


def _name(title: str) -> str:
    """A metric's name in a sentence: ``SNR (dB)`` -> ``SNR``."""
    return title.split(" (")[0]


def summary(run: Run) -> dict:
    """The comparison for summary.json: every system's mean ± CI per metric, per-noise and per-input-SNR rows,
    and the claims about the RNN's margins (empty when the run logged no quality records)."""
    records = {system: run.select(phase="quality", arm=system) for system in SYSTEMS}
    records = {system: recs for system, recs in records.items() if recs}
    if "input" not in records:
        return {}
    means = {system: seed_means(recs) for system, recs in records.items()}
    systems = {system: {metric: stats.mean_ci_entry(values) for metric, values in m.items()}
               for system, m in means.items()}
    for system in systems:
        systems[system]["seeds"] = len(records[system])
    per_file = {system: file_means(recs) for system, recs in records.items()}
    input_snr = per_file["input"]["snr"]
    edges, bins = input_bins(input_snr)
    by_snr = grouped(per_file, bins, list(range(len(edges) - 1)))
    for row in by_snr:
        row["group"] = f"{edges[row['group']]:g} to {edges[row['group'] + 1]:g} dB"
    names = records["input"][0].get("noise_names")
    by_noise = grouped(per_file, names, sorted(set(names))) if names else []
    claims = []
    if "rnn" in means and "fc" in means:
        for metric, title, digits in METRICS:
            if metric in ("pesq", "stoi") and metric in means["rnn"] and metric in means["fc"]:
                gain = [a - b for a, b in zip(means["rnn"][metric], means["fc"][metric])]
                claims.append(stats.claim(f"The RNN beats the FC baseline on {_name(title)}", gain, digits=digits))
    if "rnn" in means:
        for metric, title, digits in METRICS:
            classical = [np.mean(means[s][metric]) for s in ("wiener", "subtraction") if metric in means.get(s, {})]
            if classical and metric in means["rnn"]:
                gain = [a - max(classical) for a in means["rnn"][metric]]
                claims.append(stats.claim(f"The RNN beats both classical baselines (Wiener filter, spectral "
                                          f"subtraction) on {_name(title)}", gain, digits=digits,
                                          unit=" dB" if "dB" in title else ""))
    notes = sorted({note for recs in records.values() for r in recs for note in r.get("notes", [])})
    return {"systems": systems, "by_noise": by_noise, "by_input_snr": by_snr, "claims": claims, "notes": notes}


def _cell(entry: dict | None, digits: int) -> str:
    return "–" if entry is None or entry.get("mean") is None else stats.fmt_entry(entry, digits)


def blocks(comparison: dict, seeds: int) -> list:
    """The report's comparison: one table of systems x metrics, then per noise type and per input-SNR bin."""
    if not comparison:
        return []
    systems = comparison["systems"]
    metrics = [(m, title, digits) for m, title, digits in METRICS if any(m in v for v in systems.values())]
    rows = [[SYSTEM_NAMES[s]] + [_cell(systems[s].get(m), digits) for m, _, digits in metrics]
            for s in SYSTEMS if s in systems]
    out = [Table(["system"] + [title for _, title, _ in metrics], rows,
                 f"Validation set, every system through the same inverse STFT. FC and RNN at their best validation "
                 f"epoch, mean ± 95% confidence interval over {seeds} seed(s); the others need no training and "
                 "give one value. PESQ is wide-band (ITU-T P.862.2, 1.04-4.64), STOI from 0 to 1; spectral "
                 "subtraction and the Wiener filter estimate the noise from each mixture's quietest frames; the "
                 "oracles (ideal binary, ratio and phase-sensitive masks) read the clean speech.")]
    shown = [s for s in SYSTEMS if s in systems]
    keys = [m for m, _, _ in metrics if m in ("snr", "pesq", "stoi")]
    legend = " / ".join({"snr": "SNR dB", "pesq": "PESQ", "stoi": "STOI"}[m] for m in keys)

    def grouped_table(rows: list[dict], label: str, caption: str) -> Table:
        body = []
        for row in rows:
            cells = []
            for s in shown:
                values = row["systems"][s]
                cells.append(" / ".join("–" if values.get(m) is None else f"{values[m]:.{3 if m == 'stoi' else 2}f}"
                                        for m in keys))
            body.append([row["group"], str(row["files"])] + cells)
        return Table([label, "files"] + [SYSTEM_NAMES[s] for s in shown], body, caption)

    if comparison["by_noise"]:
        out.append(grouped_table(comparison["by_noise"], "noise", f"By noise recording: {legend} of each system "
                                 "(networks averaged over the seeds)."))
    out.append(grouped_table(comparison["by_input_snr"], "input SNR", f"By the input's own SNR: {legend} of each "
                             "system (networks averaged over the seeds)."))
    if comparison["notes"]:
        out.append(Text("Not scored: " + "; ".join(comparison["notes"][:10])
                        + (f" (and {len(comparison['notes']) - 10} more)" if len(comparison["notes"]) > 10 else "")))
    return out
