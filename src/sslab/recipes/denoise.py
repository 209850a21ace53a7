"""Recipe `denoise` (seed 000, Problem 3): speech denoising with a recurrent ideal-binary-mask estimator.

Each noisy mixture becomes a magnitude spectrogram (1024-point Hann STFT, hop 512, 513
bins at 16 kHz). The target is the ideal binary mask, 1 where |S| > |N| (equation 1).
A GRU or LSTM reads the spectra frame by frame and emits a sigmoid mask per frame
(equation 3), trained on mini-batches of whole variable-length sequences (padding
masked out of the loss) or of truncated segments. Validation runs the recurrence over
whole sequences; the estimated mask times the complex noisy STFT goes through the
inverse STFT (equation 2) and is scored by SNR and SI-SDR against the clean speech,
beside the noisy input (floor) and the oracle IBM (ceiling). A frame-wise fully
connected net, trained the same way, is the seed's baseline. Test mixtures are denoised
into ``test_denoised/`` and zipped for hand-in.
"""

from __future__ import annotations

import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from sslab.audio.io import read_audio, write_wav
from sslab.audio.masks import apply_mask, ideal_binary_mask
from sslab.audio.metrics import si_sdr_db, snr_db
from sslab.audio.models import FramewiseMasker, Masker, RecurrentMasker, architecture, build_masker
from sslab.audio.stft import HOP, N_FFT, batch_istft, batch_stft, stft
from sslab.audio.stream import denoise
from sslab.config import param
from sslab.data import denoise as denoise_data
from sslab.data.synthetic_speech import espeak_available
from sslab.errors import UserError
from sslab.recipes import Context, Recipe, RecipeConfig
from sslab.report import figures, stats
from sslab.report.document import AudioGrid, Claims, Code, Figure, Math, Section, Table, Text
from sslab.train.atomic import atomic_path
from sslab.train.checkpoint import load_model, load_state, save_model, save_state
from sslab.train.rundir import Run
from sslab.train.seeding import phase_seed

ARMS = ("rnn", "fc")
ARM_NAMES = {"rnn": "RNN", "fc": "FC baseline", "input": "noisy input", "oracle": "oracle IBM"}


@dataclass
class Config(RecipeConfig):
    cell: str = param("gru", "recurrent cell (the seed: GRU or LSTM)", choices=("gru", "lstm"))
    hidden: int = param(256, "recurrent units per layer", min=1, max=8192)
    layers: int = param(1, "recurrent layers", min=1, max=8)
    dropout: float = param(0.1, "dropout on the recurrent output and between layers (the seed: be gentle)",
                           min=0.0, max=0.9)
    proj: int = param(0, "ReLU units of the frame-wise input layer before the recurrence (0: none)",
                      min=0, max=8192)
    head: int = param(512, "ReLU units of a frame-wise output layer reading the recurrent output and the frame's "
                      "features (0: a linear read-out of the recurrent state)",
                      min=0, max=16384)
    bidirectional: bool = param(False, "also read the sequence backwards (not causal: no streaming)")
    fc_hidden: int = param(512, "units per hidden layer of the frame-wise FC baseline", min=1, max=16384)
    fc_layers: int = param(2, "hidden layers of the FC baseline", min=1, max=8)
    fc_dropout: float = param(0.1, "dropout of the FC baseline", min=0.0, max=0.9)
    epochs: int = param(12, "training epochs for each estimator", min=1, max=100_000)
    batch_size: int = param(10, "whole sequences per mini-batch (the seed: 10 spectrograms), or segments when "
                            "t_trunc > 0", min=1, max=4096)
    t_trunc: int = param(0, "train on segments of this many frames, batch_size segments per mini-batch "
                         "(0: whole sequences)", min=0, max=100_000)
    lr: float = param(3e-3, "Adam learning rate (the seed leaves it open; 3e-3 learns in the few epochs of quick)",
                      min=0.0, max=1.0)
    lr_schedule: str = param("cosine", "learning rate over the epochs: cosine decay to 5% of lr, or constant",
                             choices=("cosine", "constant"))
    remix_db: float = param(5.0, "each epoch, shift every training noise in time and scale it by up to this many dB "
                            "before mixing (0: the files' own mixtures only)", min=0.0, max=40.0)
    remix_swap: float = param(0.0, "with remix_db > 0: the share of training files that take another training "
                              "file's noise each epoch, rescaled to their own noise's energy (dynamic mixing)",
                              min=0.0, max=1.0)
    loss_weight: float = param(1.0, "weight each bin's cross-entropy by the noisy magnitude to this power, "
                               "normalised per sequence, so loud bins, which dominate SNR, count more (0: every bin "
                               "alike)", min=0.0, max=2.0)
    grad_clip: float = param(1.0, "clip the gradient norm to this (0: off); keeps early RNN steps stable",
                             min=0.0)
    made_speech: str = param("auto", "speech of the made-up data: espeak-ng if installed (auto), or made-up "
                             "speech-like utterances", choices=("auto", "espeak", "synthetic"))
    made_speakers: int = param(6, "training speakers of the made-up data", min=1, max=1000)
    made_val_speakers: int = param(2, "validation speakers of the made-up data", min=1, max=1000)
    made_test_speakers: int = param(1, "test speakers of the made-up data", min=1, max=1000)
    made_sentences: int = param(5, "sentences per made-up speaker", min=1, max=1000)
    noises_per_utterance: int = param(3, "noisy versions of each made-up utterance (the seed: 10)", min=1, max=100)
    snr_low: float = param(-5.0, "lowest mixing SNR of the made-up data (dB)", min=-60.0, max=60.0)
    snr_high: float = param(5.0, "highest mixing SNR of the made-up data (dB)", min=-60.0, max=60.0)
    made_seconds: float = param(3.0, "mean length of a made-up (synthetic) utterance in seconds", min=0.2, max=60.0)
    examples: int = param(3, "validation files shown as spectrograms and audio in the report", min=0, max=20)

    def validate(self) -> None:
        if self.snr_low > self.snr_high:
            raise UserError(f"snr_low={self.snr_low} must not exceed snr_high={self.snr_high}")
        if self.made_speech == "espeak" and not espeak_available():
            raise UserError("made_speech=espeak but espeak-ng is not installed; apt-get install espeak-ng, "
                            "or use made_speech=synthetic")


PRESETS = {
    "smoke": {"hidden": 32, "head": 32, "fc_hidden": 32, "epochs": 2, "made_speech": "synthetic", "made_speakers": 2,
              "made_val_speakers": 1, "made_test_speakers": 1, "made_sentences": 2, "noises_per_utterance": 2,
              "made_seconds": 1.0, "examples": 1},
    "quick": {},
    # The seed: 1024-point Hann STFT with hop 512 (fixed), mini-batches of 10 whole sequences, validation
    # over whole sequences, GRU/LSTM with gentle dropout, a frame-wise FC baseline; data of 12 speakers x
    # 10 sentences x 10 noises. It leaves size, epochs and learning rate open: 2x256 GRU, 100 epochs, Adam 1e-3.
    "paper": {"cell": "gru", "hidden": 256, "layers": 2, "dropout": 0.1, "epochs": 100, "batch_size": 10, "lr": 1e-3,
              "t_trunc": 0, "made_speakers": 12, "made_val_speakers": 2, "made_test_speakers": 2,
              "made_sentences": 10, "noises_per_utterance": 10, "seeds": 3},
}


# ---- data ---------------------------------------------------------------------------------
def load_data(cfg: Config, data_dir: Path | None, device: torch.device) -> denoise_data.DenoiseData:
    if data_dir is None:
        speech = cfg.made_speech if cfg.made_speech != "auto" else ("espeak" if espeak_available() else "synthetic")
        spread = 0.35 * cfg.made_seconds
        data = denoise_data.made_up(cfg.made_speakers, cfg.made_sentences, cfg.noises_per_utterance,
                                    cfg.made_val_speakers, cfg.made_test_speakers, (cfg.snr_low, cfg.snr_high),
                                    (cfg.made_seconds - spread, cfg.made_seconds + spread), speech, seed=20_221_030)
    else:
        data = denoise_data.load_layout(data_dir)
    return data.to(device)


def spectra(split: denoise_data.Split, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Magnitudes ``(B, frames, bins)``, ideal binary masks and the valid-frame mask ``(B, frames)``."""
    x, lengths = split.noisy.batch(index)
    s, _ = split.speech.batch(index)
    n, _ = split.noise.batch(index)
    spec, valid = batch_stft(torch.cat([x, s, n]), lengths.repeat(3))
    mag = spec.abs().transpose(1, 2)
    noisy, speech, noise = mag.chunk(3)
    return noisy, ideal_binary_mask(speech, noise), valid[: len(index)]


def masked_bce(logits: torch.Tensor, target: torch.Tensor, valid: torch.Tensor,
               weight: torch.Tensor | None = None) -> torch.Tensor:
    """Binary cross-entropy averaged over the valid frames only (padding never counts).

    ``weight`` (same shape as ``logits``) scales each bin's term; see :func:`bin_weights`.
    """
    per_bin = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
    if weight is not None:
        per_bin = per_bin * weight
    return (per_bin.mean(-1) * valid).sum() / valid.sum().clamp(min=1)


def bin_weights(mag: torch.Tensor, valid: torch.Tensor, power: float) -> torch.Tensor | None:
    """Per-bin loss weights ``|X|^power``, normalised to mean 1 over each sequence's valid bins.

    SNR counts the error energy of every bin, so a wrong mask on a loud bin costs far more
    than on a quiet one, while plain cross-entropy counts every bin alike. Weighting by the
    mixture's magnitude moves the training objective toward the score; the target is still
    the ideal binary mask. ``power`` 0: no weighting (None).
    """
    if power == 0:
        return None
    w = mag.clamp(min=0).pow(power) * valid.unsqueeze(-1)
    mean = w.sum((1, 2), keepdim=True) / (valid.sum(1).view(-1, 1, 1) * mag.shape[-1]).clamp(min=1)
    return w / mean.clamp(min=1e-12)


def segments(mag: torch.Tensor, target: torch.Tensor, valid: torch.Tensor, t_trunc: int):
    """Cut ``(B, T, F)`` into ``(B * ceil(T / t_trunc), t_trunc, F)`` pieces, dropping empty ones."""
    pad = (-mag.shape[1]) % t_trunc
    if pad:
        mag, target = F.pad(mag, (0, 0, 0, pad)), F.pad(target, (0, 0, 0, pad))
        valid = F.pad(valid, (0, pad))
    bins = mag.shape[-1]
    mag, target = mag.reshape(-1, t_trunc, bins), target.reshape(-1, t_trunc, bins)
    valid = valid.reshape(-1, t_trunc)
    keep = valid.any(1)
    return mag[keep], target[keep], valid[keep]


def feature_stats(split: denoise_data.Split, batch: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-bin mean and standard deviation of the log magnitude over all training frames."""
    total = torch.zeros(N_FFT // 2 + 1, dtype=torch.float64, device=split.noisy.flat.device)
    square, count = torch.zeros_like(total), 0
    for start in range(0, len(split.noisy), batch):
        index = torch.arange(start, min(start + batch, len(split.noisy)))
        x, lengths = split.noisy.batch(index)
        spec, valid = batch_stft(x, lengths)
        logmag = torch.log(spec.abs() + 1e-4).transpose(1, 2)[valid].double()
        total += logmag.sum(0)
        square += logmag.square().sum(0)
        count += logmag.shape[0]
    mean = total / count
    return mean.float(), (square / count - mean.square()).clamp(min=0).sqrt().float()


def remixed(split: denoise_data.Split, db: float, order: torch.Generator, swap: float = 0.0) -> denoise_data.Split:
    """The training split with every noise shifted in time and scaled: a new mixture each epoch.

    Each file's noise is rotated by a random offset and scaled by a random gain of up to
    ``db`` dB either way, then added to the unchanged speech. With probability ``swap`` a
    file takes the noise of another training file instead (dynamic mixing), rescaled to
    the energy of its own noise so the data set's SNR distribution is kept. The network
    then never sees the same speech/noise pairing twice, which keeps the RNN from
    memorising the few hundred training sequences; it uses only the files' own speech and
    noise, so it applies to any data set in the seed's layout.
    """
    lengths, offsets = split.noisy.lengths, split.noisy.offsets
    device, n_files = lengths.device, len(lengths)
    where = torch.rand(n_files, generator=order)
    gain = 10 ** ((2 * torch.rand(n_files, generator=order) - 1) * db / 20)
    file = torch.repeat_interleave(torch.arange(n_files, device=device), lengths)
    partner = torch.arange(n_files)
    if swap > 0 and n_files > 1:
        energy = torch.zeros(n_files, dtype=torch.float64, device=device).index_add_(
            0, file, split.noise.flat.double().square()).cpu() / lengths.cpu()
        other = (partner + 1 + torch.randint(n_files - 1, (n_files,), generator=order)) % n_files
        take = (torch.rand(n_files, generator=order) < swap) & (energy[other] > 0)
        partner = torch.where(take, other, partner)
        gain = gain * torch.where(take, (energy / energy[other].clamp(min=1e-30)).sqrt(), 1.0).float()
    partner_length = lengths.cpu()[partner]
    shift, gain, partner = ((where * partner_length).long().to(device), gain.to(device), partner.to(device))
    local = torch.arange(split.noisy.flat.numel(), device=device) - offsets[file]
    source = offsets[partner[file]] + (local + shift[file]) % lengths[partner[file]]
    noise = split.noise.flat[source] * gain[file]
    ragged = lambda flat: denoise_data.Ragged(flat, offsets, lengths)  # noqa: E731
    return denoise_data.Split(split.ids, ragged(split.speech.flat + noise), split.speech, ragged(noise))


SEGMENT_POOL = 64  # files cut into segments and shuffled together: bounds memory, mixes files within a batch


def batches(split: denoise_data.Split, cfg: Config, order: torch.Generator):
    """Shuffled training mini-batches ``(mag, target, valid)`` of one epoch.

    ``t_trunc=0``: ``batch_size`` whole sequences (the seed). Otherwise every file is cut into
    ``t_trunc``-frame segments from a random first frame (so cuts fall elsewhere each epoch),
    and ``batch_size`` segments from a pool of files form a batch: more, smaller optimiser
    steps per epoch.
    """
    perm = torch.randperm(len(split.noisy), generator=order)
    if not cfg.t_trunc:
        for start in range(0, len(perm), cfg.batch_size):
            yield spectra(split, perm[start:start + cfg.batch_size])
        return
    for start in range(0, len(perm), SEGMENT_POOL):
        mag, target, valid = spectra(split, perm[start:start + SEGMENT_POOL])
        shortest = int(valid.sum(1).min())  # every file keeps frames after the skip
        skip = int(torch.randint(min(cfg.t_trunc, shortest), (1,), generator=order))
        mag, target, valid = segments(mag[:, skip:], target[:, skip:], valid[:, skip:], cfg.t_trunc)
        shuffle = torch.randperm(len(mag), generator=order).to(mag.device)
        for first in range(0, len(mag), cfg.batch_size):
            pick = shuffle[first:first + cfg.batch_size]
            yield mag[pick], target[pick], valid[pick]


def train_epoch(model: Masker, optimizer: torch.optim.Optimizer, split: denoise_data.Split, cfg: Config,
                order: torch.Generator) -> tuple[torch.Tensor, int]:
    """One pass over the training set in shuffled mini-batches; (mean loss, frames seen)."""
    model.train()
    if cfg.remix_db > 0:
        split = remixed(split, cfg.remix_db, order, cfg.remix_swap)
    total, frames, steps = torch.zeros((), device=split.noisy.flat.device), 0, 0
    for mag, target, valid in batches(split, cfg, order):
        loss = masked_bce(model(mag), target, valid, bin_weights(mag, valid, cfg.loss_weight))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.grad_clip:
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        optimizer.step()
        total += loss.detach()
        frames += int(valid.shape[0] * valid.shape[1])
        steps += 1
    return total / steps, frames


@torch.no_grad()
def evaluate(model: Masker | None, split: denoise_data.Split, batch: int = 16, mode: str = "model",
             loss_weight: float = 0.0) -> dict:
    """Loss and per-file SNR/SI-SDR of the validation set through the inverse STFT.

    ``mode`` "model" masks with the estimate, "oracle" with the ideal binary mask, "input"
    scores the noisy mixture itself. The loss weights bins as training does (``loss_weight``).
    """
    if model is not None:
        model.eval()
    losses, snrs, sisdrs = [], [], []
    for start in range(0, len(split.noisy), batch):
        index = torch.arange(start, min(start + batch, len(split.noisy)))
        x, lengths = split.noisy.batch(index)
        s, _ = split.speech.batch(index)
        n, _ = split.noise.batch(index)
        spec, valid = batch_stft(torch.cat([x, s, n]), lengths.repeat(3))
        noisy_spec, speech_spec, noise_spec = spec.chunk(3)
        ideal = ideal_binary_mask(speech_spec.abs(), noise_spec.abs())
        valid = valid[: len(index)]
        if mode == "input":
            estimate = x
        else:
            if mode == "oracle":
                mask = ideal
            else:
                mag = noisy_spec.abs().transpose(1, 2)
                logits = model(mag)
                weight = bin_weights(mag, valid, loss_weight)
                losses.append(masked_bce(logits, ideal.transpose(1, 2), valid, weight) * valid.sum())
                mask = torch.sigmoid(logits).transpose(1, 2)
            estimate = batch_istft(apply_mask(mask, noisy_spec), lengths)
        snrs.append(snr_db(s, estimate, lengths))
        sisdrs.append(si_sdr_db(s, estimate, lengths))
    out = {"snr": torch.cat(snrs).cpu(), "si_sdr": torch.cat(sisdrs).cpu()}
    if losses:
        frames = int(n_valid_frames(split))
        out["loss"] = float(torch.stack(losses).sum()) / frames
    return out


def n_valid_frames(split: denoise_data.Split) -> int:
    return int((1 + split.noisy.lengths // HOP).sum())


def epoch_lr(cfg: Config, epoch: int) -> float:
    """Learning rate of an epoch: constant, or a cosine from ``lr`` down to 5% of it over the epochs.

    The decay lets the last epochs settle into a minimum instead of hopping around it, so
    the best-epoch choice depends less on luck (the validation SNR of a constant 3e-3
    swings by about 0.4 dB from epoch to epoch).
    """
    if cfg.lr_schedule == "constant" or cfg.epochs == 1:
        return cfg.lr
    done = epoch / (cfg.epochs - 1)
    return cfg.lr * (0.05 + 0.95 * 0.5 * (1 + np.cos(np.pi * done)))


def build(arm: str, cfg: Config) -> Masker:
    bins = N_FFT // 2 + 1
    if arm == "rnn":
        return RecurrentMasker(bins, cfg.cell, cfg.hidden, cfg.layers, cfg.dropout, cfg.bidirectional, cfg.proj,
                                cfg.head)
    return FramewiseMasker(bins, cfg.fc_hidden, cfg.fc_layers, cfg.fc_dropout)


def model_path(run: Run, seed: int, arm: str) -> Path:
    return run.checkpoint_path(f"seed{seed}/{arm}-model")


# ---- one seed -----------------------------------------------------------------------------
def run_seed(ctx: Context) -> None:
    cfg, run, seed, data = ctx.cfg, ctx.run, ctx.seed, ctx.data
    first_seed = seed == run.config()["seeds"][0]
    if run.once(f"seed{seed}/reference"):
        # The floor and the ceiling every estimator is judged between.
        for mode in ("input", "oracle"):
            scores = evaluate(None, data.val, mode=mode)
            run.log(seed=seed, phase="final", arm=mode, val_snr=float(scores["snr"].mean()),
                    val_si_sdr=float(scores["si_sdr"].mean()))
        if first_seed:
            run.log(seed=seed, phase="data", source=data.source, sample_rate=data.sample_rate, notes=data.notes,
                    train_files=len(data.train.noisy), val_files=len(data.val.noisy),
                    test_files=len(data.test.noisy) if data.test else 0,
                    train_hours=float(data.train.noisy.lengths.sum()) / data.sample_rate / 3600)
        run.mark(f"seed{seed}/reference")
    mean, std = feature_stats(data.train)
    for arm in ARMS:
        torch.manual_seed(phase_seed(seed, f"init-{arm}"))
        model = build(arm, cfg).to(ctx.device)
        model.set_feature_stats(mean, std)
        optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr)
        order = torch.Generator().manual_seed(phase_seed(seed, f"order-{arm}"))
        stage = run.stage(f"seed{seed}/{arm}", model=model, optimizer=optimizer, generator=order)
        meta = {"recipe": "denoise", "arm": arm, "architecture": architecture(model), "sample_rate": data.sample_rate,
                "n_fft": N_FFT, "hop": HOP, "seed": seed}
        for epoch in stage.epochs(cfg.epochs, desc=f"seed {seed} {arm}"):
            start = time.perf_counter()
            for group in optimizer.param_groups:  # a function of the epoch alone, so a resumed run matches
                group["lr"] = epoch_lr(cfg, epoch)
            loss, frames = train_epoch(model, optimizer, data.train, cfg, order)
            seconds = time.perf_counter() - start
            scores = evaluate(model, data.val, loss_weight=cfg.loss_weight)
            val_snr = float(scores["snr"].mean())
            best = max((r["val_snr"] for r in run.select(seed=seed, phase=arm)), default=-np.inf)
            if val_snr > best:  # keep the weights of the best validation epoch for test and `sslab denoise`
                save_model(model_path(run, seed, arm), model, {**meta, "epoch": epoch + 1, "val_snr": val_snr})
            run.log(seed=seed, phase=arm, epoch=epoch + 1, train_loss=loss.item(), val_loss=scores["loss"],
                    val_snr=val_snr, val_si_sdr=float(scores["si_sdr"].mean()), frames_per_s=frames / seconds)
            stage.show(val_snr=val_snr, loss=loss.item())
    if run.once(f"seed{seed}/final"):
        for arm in ARMS:
            model = load_best(run, seed, arm, cfg, ctx.device)
            scores = evaluate(model, data.val)
            run.log(seed=seed, phase="final", arm=arm, val_snr=float(scores["snr"].mean()),
                    val_si_sdr=float(scores["si_sdr"].mean()), per_file_snr=scores["snr"].tolist())
        run.mark(f"seed{seed}/final")
    if first_seed and run.once("test"):
        write_test(run, load_best(run, seed, "rnn", cfg, ctx.device), data)
        write_examples(run, {arm: load_best(run, seed, arm, cfg, ctx.device) for arm in ARMS}, data, cfg.examples)
        run.mark("test")


def load_best(run: Run, seed: int, arm: str, cfg: Config, device: torch.device) -> Masker:
    path = model_path(run, seed, arm)
    model = build(arm, cfg)
    load_model(path, model, made_by=f"the {arm} training of seed {seed}")
    return model.to(device).eval()


def write_test(run: Run, model: Masker, data: denoise_data.DenoiseData) -> None:
    """Denoise every test mixture into test_denoised/texNNNN.wav and zip them for hand-in."""
    if data.test is None:
        return
    folder = run.root / "test_denoised"
    names, estimates = [], []
    for start in range(0, len(data.test.noisy), 16):
        index = torch.arange(start, min(start + 16, len(data.test.noisy)))
        x, lengths = data.test.noisy.batch(index)
        out, _ = denoise(model, x, lengths)
        for row, i in enumerate(index.tolist()):
            estimate = out[row, : int(lengths[row])].cpu().numpy()
            name = f"tex{data.test.ids[i]}.wav"
            write_wav(folder / name, estimate, data.sample_rate)
            names.append(name)
            estimates.append(estimate)
    with atomic_path(run.root / "test_denoised.zip") as tmp:
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
            for name in names:
                zf.write(folder / name, name)
    record = {"seed": run.config()["seeds"][0], "phase": "test", "files": len(names)}
    if data.test_reference is not None:  # made-up data: sslab knows the clean test speech
        snrs = [float(snr_db(data.test_reference.signal(i).cpu(), torch.from_numpy(e))) for i, e in enumerate(estimates)]
        record["test_snr"] = float(np.mean(snrs))
    run.log(**record)


def write_examples(run: Run, models: dict[str, Masker], data: denoise_data.DenoiseData, count: int) -> None:
    """A few validation files as WAVs (noisy, each estimate, clean) and their masks, for the report."""
    folder = run.root / "examples"
    count = min(count, len(data.val.noisy))
    # Spread the examples over the validation set, so they meet different noises and speakers.
    picks = np.linspace(0, len(data.val.noisy) - 1, count).round().astype(int) if count else []
    for k, i in enumerate(picks):
        index = torch.tensor([int(i)])
        x, lengths = data.val.noisy.batch(index)
        s, _ = data.val.speech.batch(index)
        n, _ = data.val.noise.batch(index)
        write_wav(folder / f"ex{k}-noisy.wav", x[0].cpu().numpy(), data.sample_rate)
        write_wav(folder / f"ex{k}-clean.wav", s[0].cpu().numpy(), data.sample_rate)
        masks = {"ideal": ideal_binary_mask(stft(s[0]).abs(), stft(n[0]).abs())}
        for arm, model in models.items():
            out, mask = denoise(model, x, lengths)
            write_wav(folder / f"ex{k}-{arm}.wav", out[0].cpu().numpy(), data.sample_rate)
            masks[arm] = mask[0]
        save_state(folder / f"ex{k}-masks.safetensors", {"name": f"vx{data.val.ids[int(i)]}", **masks})


# ---- summary, figures and report ------------------------------------------------------------
def curves(run: Run, arm: str, key: str) -> tuple[list[int], list[list[float]]]:
    seeds = run.config()["seeds"]
    runs = [[r[key] for r in run.select(seed=s, phase=arm) if key in r] for s in seeds]
    runs = [r for r in runs if r]
    length = min(len(r) for r in runs)
    return list(range(1, length + 1)), [r[:length] for r in runs]


def finals(run: Run, arm: str, key: str = "val_snr") -> list[float]:
    return [r[key] for r in run.select(phase="final", arm=arm)]


def spectrogram_figure(run: Run, k: int) -> Path | None:
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
        ax.imshow(image, origin="lower", aspect="auto", cmap=cmap, extent=extent, vmin=limits[0], vmax=limits[1])
        ax.set_ylabel("kHz", fontsize=8)
        ax.set_title(label, fontsize=9, loc="left")
    axes[-1].set_xlabel("seconds")
    fig.suptitle(f"{masks['name']}.wav (validation)", fontsize=10)
    return figures.save(fig, run.figures / f"example{k}")


def summarize(run: Run) -> dict:
    fig, ax = figures.new_figure()
    for arm, color in zip(ARMS, figures.COLORS):
        epochs, values = curves(run, arm, "val_snr")
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
        epochs, train = curves(run, arm, "train_loss")
        figures.band(ax, epochs, train, f"{ARM_NAMES[arm]} training", color)
        epochs, val = curves(run, arm, "val_loss")
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
    headline = {}
    for arm in ("input", "fc", "rnn", "oracle"):
        for key in ("val_snr", "val_si_sdr"):
            m, h = stats.mean_ci(finals(run, arm, key))
            headline[f"{arm}_{key}"] = {"mean": m, "ci95": h}
    test = run.select(phase="test")
    if test and "test_snr" in test[0]:
        headline["rnn_test_snr"] = {"mean": test[0]["test_snr"]}
    speed = {arm: [r["frames_per_s"] for r in run.select(phase=arm) if "frames_per_s" in r] for arm in ARMS}
    headline["rnn_train_frames_per_s"] = float(np.median(speed["rnn"])) if speed["rnn"] else None
    n = len(rnn)
    text = (f"The RNN mask estimator reached {stats.fmt_ci(*stats.mean_ci(rnn), 2)} dB validation SNR against "
            f"{stats.fmt_ci(*stats.mean_ci(fc), 2)} dB for the FC baseline, from {np.mean(noisy):.2f} dB at the input "
            f"(oracle IBM {np.mean(oracle):.2f} dB) over {n} seed{'s' if n > 1 else ''}.")
    return {"text": text, "headline": headline, "claims": claims}


def report(run: Run) -> Section:
    s, conf = run.summary(), run.config()
    cfg, h = conf["config"], s["headline"]
    rows = []
    for arm in ("input", "fc", "rnn", "oracle"):
        rows.append([ARM_NAMES[arm], stats.fmt_ci(h[f"{arm}_val_snr"]["mean"], h[f"{arm}_val_snr"]["ci95"], 2),
                     stats.fmt_ci(h[f"{arm}_val_si_sdr"]["mean"], h[f"{arm}_val_si_sdr"]["ci95"], 2)])
    data = (run.select(phase="data") or [{}])[0]
    blocks = [
        Text(s["text"]),
        Claims(s["claims"]),
        Table(["signal", "validation SNR (dB)", "validation SI-SDR (dB)"], rows,
              f"{len(conf['seeds'])} seed(s); estimators at their best validation epoch; ± is a 95% confidence interval"),
        Figure(run.figures / "val_snr.png", "Validation SNR after every epoch; the dotted line is the noisy input "
               "(floor), the dashed line the oracle ideal binary mask (ceiling)."),
        Figure(run.figures / "loss.png", "Training (solid) and validation (dashed) loss."),
        Math(r"M_{f,t} = 1 \text{ if } |S_{f,t}| > |N_{f,t}| \text{ else } 0, \quad \hat S = \hat M \odot X, \quad "
             r"\mathrm{SNR} = 10 \log_{10} \frac{\sum_t s(t)^2}{\sum_t (s(t) - \hat s(t))^2}",
             "The ideal binary mask target (seed eq. 1), masking of the complex STFT (eq. 2), and the SNR."),
    ]
    k = 0
    grid = []
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
                f"`test_denoised.zip` for hand-in; score them with `sslab score --reference REF_DIR --estimate "
                f"{run.root / 'test_denoised'}`.")
        if "test_snr" in test[0]:
            line += f" On this made-up data sslab knows the clean test speech: test SNR {test[0]['test_snr']:.2f} dB."
        blocks.append(Text(line))
    bidir = " bidirectional" if cfg["bidirectional"] else ""
    blocks += [
        Text(f"Data: {data.get('source', conf['data'])}; {data.get('train_files', '?')} training mixtures "
             f"({data.get('train_hours', 0) * 60:.1f} min), {data.get('val_files', '?')} validation, "
             f"{data.get('test_files', 0)} test, {data.get('sample_rate', '?')} Hz."
             + (" " + " ".join(data["notes"]) if data.get("notes") else "")),
        Text(f"STFT: {N_FFT}-point Hann window, hop {HOP}, {N_FFT // 2 + 1} bins; input: log magnitude standardised per "
             f"bin with training-set statistics. RNN: "
             + (f"a frame-wise input layer of {cfg['proj']} ReLU units, then " if cfg.get("proj") else "")
             + f"{cfg['layers']}-layer{bidir} {cfg['cell'].upper()}, {cfg['hidden']} "
             f"units, dropout {cfg['dropout']}, "
             + (f"then a frame-wise layer of {cfg['head']} ReLU units reading the recurrent output and the frame's "
                "features, " if cfg.get("head") else "")
             + f"sigmoid output layer. FC baseline: {cfg['fc_layers']} hidden layers of "
             f"{cfg['fc_hidden']} ReLU units, dropout {cfg['fc_dropout']}, one frame at a time. Both: Adam "
             f"{cfg['lr']}" + (" decayed along a cosine to 5%" if cfg.get("lr_schedule") == "cosine" else "")
             + f", mini-batches of {cfg['batch_size']} "
             + (f"{cfg['t_trunc']}-frame segments (each epoch cut from a random first frame)" if cfg["t_trunc"] else "whole sequences (padding "
                "masked out of the loss)")
             + (f"; every epoch each training noise is shifted in time and scaled by up to ±{cfg['remix_db']:g} dB "
                "before mixing" if cfg.get("remix_db") else "")
             + (f", {cfg['remix_swap']:.0%} of the files taking another training file's noise (scaled to their "
                "own noise's energy)" if cfg.get("remix_db") and cfg.get("remix_swap") else "")
             + f", {cfg['epochs']} epochs, binary cross-entropy against the ideal binary mask"
             + (f", each bin's term weighted by the noisy magnitude |X|^{cfg['loss_weight']:g} (normalised to mean 1 "
                "per sequence)" if cfg.get("loss_weight") else "")
             + ". Training speed: "
             f"{h['rnn_train_frames_per_s'] or 0:,.0f} frames/s (RNN) on {conf['device']}."),
        Code(f"from sslab.runner import run_recipe\nrun = run_recipe('denoise', preset={conf['preset']!r}, "
             f"seeds={len(conf['seeds'])})\nprint(run.summary()['text'])\n"
             f"# then: sslab denoise --checkpoint {run.root} --input noisy/ --output clean/"),
    ]
    return Section("Speech denoising with an RNN (seed P3)", blocks,
                   subtitle="Ideal-binary-mask estimation with a GRU/LSTM vs a frame-wise FC net; SNR through the inverse STFT")


def locate_data(root: Path) -> Path | None:
    return denoise_data.locate(root)


RECIPE = Recipe(
    name="denoise",
    title="Speech denoising with a recurrent ideal-binary-mask estimator",
    seed_problem="000 P3",
    Config=Config,
    presets=PRESETS,
    load_data=load_data,
    run_seed=run_seed,
    summarize=summarize,
    report=report,
    locate_data=locate_data,
    description="GRU/LSTM vs frame-wise FC mask estimation, SNR through the inverse STFT, denoised test files",
)
