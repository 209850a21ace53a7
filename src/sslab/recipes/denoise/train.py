"""`denoise`, step by step: the data, the two mask estimators, one seed, the hand-in files.

Read top to bottom: :func:`load_data` (the seed's folder layout or made-up mixtures, resident
on the device), :func:`build_model` (the GRU/LSTM or the frame-wise FC baseline),
:func:`train_epoch` (shuffled mini-batches of whole sequences, padding masked out of the
loss), :func:`evaluate` (masks through the inverse STFT, scored by SNR and SI-SDR),
:func:`run_seed` (floor and ceiling, both estimators, their best epochs), then
:func:`write_test` (the denoised test files and their zip) and :func:`write_examples`.
"""

from __future__ import annotations

import time
import zipfile
from pathlib import Path

import numpy as np
import torch

from sslab.audio.io import write_wav
from sslab.audio.masks import apply_mask, bin_weights, ideal_binary_mask, masked_bce
from sslab.audio.metrics import si_sdr_db, snr_db
from sslab.audio.models import FramewiseMasker, Masker, RecurrentMasker, architecture
from sslab.audio.stft import HOP, N_FFT, batch_istft, batch_stft, stft
from sslab.audio.stream import denoise
from sslab.data import denoise as denoise_data
from sslab.data.denoise_batches import batches, feature_stats, remixed, target_mask
from sslab.data.synthetic_speech import espeak_available
from sslab.recipes import Context
from sslab.recipes.denoise import compare
from sslab.recipes.denoise.config import ARMS, Config
from sslab.train.atomic import atomic_path
from sslab.train.checkpoint import load_model, save_model, save_state
from sslab.train.rundir import Run
from sslab.train.seeding import phase_seed


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


# ---- the estimators -------------------------------------------------------------------------
def build_model(arm: str, cfg: Config) -> Masker:
    """The RNN of the seed's equation 3 (a mask per frame from the frames so far), or the FC baseline."""
    bins = N_FFT // 2 + 1
    if arm == "rnn":
        return RecurrentMasker(bins, cfg.cell, cfg.hidden, cfg.layers, cfg.dropout, cfg.bidirectional, cfg.proj,
                                cfg.head)
    return FramewiseMasker(bins, cfg.fc_hidden, cfg.fc_layers, cfg.fc_dropout)


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


def train_epoch(model: Masker, optimizer: torch.optim.Optimizer, split: denoise_data.Split, cfg: Config,
                order: torch.Generator) -> tuple[torch.Tensor, int]:
    """One pass over the training set in shuffled mini-batches; (mean loss, frames seen)."""
    model.train()
    if cfg.remix_db > 0:
        split = remixed(split, cfg.remix_db, order, cfg.remix_swap)
    total, frames, steps = torch.zeros((), device=split.noisy.flat.device), 0, 0
    for mag, target, valid in batches(split, cfg.batch_size, cfg.t_trunc, order, cfg.target):
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
             loss_weight: float = 0.0, target: str = "ibm") -> dict:
    """Loss and per-file SNR/SI-SDR of the validation set through the inverse STFT (the seed's step 8).

    ``mode`` "model" masks with the estimate, "oracle" with the ideal binary mask, "input"
    scores the noisy mixture itself. The loss is taken against the training ``target``
    and weights bins as training does (``loss_weight``).
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
                goal = ideal if target == "ibm" else target_mask(target, speech_spec.abs(), noise_spec.abs())
                losses.append(masked_bce(logits, goal.transpose(1, 2), valid, weight) * valid.sum())
                mask = torch.sigmoid(logits).transpose(1, 2)
            estimate = batch_istft(apply_mask(mask, noisy_spec), lengths)  # masking the complex STFT (eq. 2)
        snrs.append(snr_db(s, estimate, lengths))
        sisdrs.append(si_sdr_db(s, estimate, lengths))
    out = {"snr": torch.cat(snrs).cpu(), "si_sdr": torch.cat(sisdrs).cpu()}
    if losses:
        frames = int((1 + split.noisy.lengths // HOP).sum())  # every valid frame of the split
        out["loss"] = float(torch.stack(losses).sum()) / frames
    return out


def model_path(run: Run, seed: int, arm: str) -> Path:
    return run.checkpoint_path(f"seed{seed}/{arm}-model")


def load_best(run: Run, seed: int, arm: str, cfg: Config, device: torch.device) -> Masker:
    """The weights of the best validation epoch, for the final scores, the test files and `sslab denoise`."""
    model = build_model(arm, cfg)
    load_model(model_path(run, seed, arm), model, made_by=f"the {arm} training of seed {seed}")
    return model.to(device).eval()


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
        model = build_model(arm, cfg).to(ctx.device)
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
            scores = evaluate(model, data.val, loss_weight=cfg.loss_weight, target=cfg.target)
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
    if run.once(f"seed{seed}/quality"):
        score_systems(run, seed, first_seed, cfg, data, ctx.device)
        run.mark(f"seed{seed}/quality")
    if first_seed and run.once("test"):
        write_test(run, load_best(run, seed, "rnn", cfg, ctx.device), data)
        write_examples(run, {arm: load_best(run, seed, arm, cfg, ctx.device) for arm in ARMS}, data, cfg.examples)
        run.mark("test")


def score_systems(run: Run, seed: int, first_seed: bool, cfg: Config, data: denoise_data.DenoiseData,
                  device: torch.device) -> None:
    """Every system's SNR, SI-SDR, PESQ and STOI on the validation set (see :mod:`.compare`).

    The networks at their best epoch, for every seed; the systems that need no training
    (noisy input, classical baselines, oracle masks) once, with the first seed. One record
    per system (phase ``quality``) holds the means and the per-file values the per-noise and
    per-input-SNR tables are drawn from; a ``quality_cost`` record says how long it took.
    """
    start = time.perf_counter()
    systems = [s for s in compare.SYSTEMS if s in compare.LEARNED or first_seed]
    waves = {s: compare.estimates(data.val, s, load_best(run, seed, s, cfg, device) if s in compare.LEARNED else None)
             for s in systems}
    scores = compare.score(data.val, waves, data.sample_rate, cfg.perceptual)
    for system in systems:
        extra = {"noise_names": data.val.noise_names} if system == "input" else {}
        run.log(seed=seed, phase="quality", arm=system, **scores[system], **extra)
    run.log(seed=seed, phase="quality_cost", systems=len(systems), files=len(data.val.noisy),
            perceptual=cfg.perceptual, seconds=time.perf_counter() - start)


# ---- hand-in and report material ----------------------------------------------------------------
def write_test(run: Run, model: Masker, data: denoise_data.DenoiseData) -> None:
    """Denoise every test mixture into test_denoised/texNNNN.wav and zip them for hand-in (the seed's step 9)."""
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
        for i, name in enumerate(names):  # saved, so `sslab score` can check the hand-in against it
            write_wav(run.root / "test_reference" / name, data.test_reference.signal(i).cpu().numpy(), data.sample_rate)
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
