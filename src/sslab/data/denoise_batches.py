"""Training batches of a speech-denoising data set: what a mask estimator reads and learns from.

A batch is ``(mag, target, valid)``: noisy magnitudes ``(B, frames, bins)``, their ideal
binary masks (the seed's equation 1; ideal ratio masks with ``target="irm"``) and which frames
are real rather than padding ``(B, frames)``. :func:`batches` yields an epoch of them, of whole sequences (the seed) or of
truncated segments; :func:`remixed` draws a fresh mixture of every training file each epoch;
:func:`feature_stats` gives the per-bin normalisation a model stores.
"""

from __future__ import annotations

from typing import Iterator

import torch
import torch.nn.functional as F

from sslab.audio.masks import ideal_binary_mask, ideal_ratio_mask
from sslab.audio.stft import N_FFT, batch_stft
from sslab.data.denoise import Ragged, Split

SEGMENT_POOL = 64  # files cut into segments and shuffled together: bounds memory, mixes files within a batch

Batch = tuple[torch.Tensor, torch.Tensor, torch.Tensor]


TARGETS = ("ibm", "irm")  # what a mask estimator learns: the ideal binary mask (the seed) or the ideal ratio mask


def target_mask(target: str, speech_mag: torch.Tensor, noise_mag: torch.Tensor) -> torch.Tensor:
    """The training target ``target`` (one of :data:`TARGETS`) from speech and noise magnitudes."""
    if target == "ibm":
        return ideal_binary_mask(speech_mag, noise_mag)
    if target == "irm":
        return ideal_ratio_mask(speech_mag, noise_mag)
    raise ValueError(f"unknown training target {target!r}; choose from {', '.join(TARGETS)}")


def spectra(split: Split, index: torch.Tensor, target: str = "ibm") -> Batch:
    """Magnitudes ``(B, frames, bins)``, their ideal masks (``target``) and the valid-frame mask ``(B, frames)``."""
    x, lengths = split.noisy.batch(index)
    s, _ = split.speech.batch(index)
    n, _ = split.noise.batch(index)
    spec, valid = batch_stft(torch.cat([x, s, n]), lengths.repeat(3))
    mag = spec.abs().transpose(1, 2)
    noisy, speech, noise = mag.chunk(3)
    return noisy, target_mask(target, speech, noise), valid[: len(index)]


def segments(mag: torch.Tensor, target: torch.Tensor, valid: torch.Tensor, t_trunc: int) -> Batch:
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


def feature_stats(split: Split, batch: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-bin mean and standard deviation of the log magnitude over all frames of ``split``."""
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


def remixed(split: Split, db: float, order: torch.Generator, swap: float = 0.0) -> Split:
    """The split with every noise shifted in time and scaled: a new mixture each epoch.

    Each file's noise is rotated by a random offset and scaled by a random gain of up to
    ``db`` dB either way, then added to the unchanged speech. With probability ``swap`` a
    file takes the noise of another file of the split instead (dynamic mixing), rescaled to
    the energy of its own noise so the data set's SNR distribution is kept. The network
    then never sees the same speech/noise pairing twice, which keeps an RNN from
    memorising a few hundred training sequences; it uses only the files' own speech and
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
    ragged = lambda flat: Ragged(flat, offsets, lengths)  # noqa: E731
    return Split(split.ids, ragged(split.speech.flat + noise), split.speech, ragged(noise))


def batches(split: Split, batch_size: int, t_trunc: int, order: torch.Generator, target: str = "ibm"
            ) -> Iterator[Batch]:
    """Shuffled training mini-batches ``(mag, target, valid)`` of one epoch (``target``: see :data:`TARGETS`).

    ``t_trunc=0``: ``batch_size`` whole sequences (the seed). Otherwise every file is cut into
    ``t_trunc``-frame segments from a random first frame (so cuts fall elsewhere each epoch),
    and ``batch_size`` segments from a pool of files form a batch: more, smaller optimiser
    steps per epoch.
    """
    perm = torch.randperm(len(split.noisy), generator=order)
    if not t_trunc:
        for start in range(0, len(perm), batch_size):
            yield spectra(split, perm[start:start + batch_size], target)
        return
    for start in range(0, len(perm), SEGMENT_POOL):
        mag, masks, valid = spectra(split, perm[start:start + SEGMENT_POOL], target)
        shortest = int(valid.sum(1).min())  # every file keeps frames after the skip
        skip = int(torch.randint(min(t_trunc, shortest), (1,), generator=order))
        mag, masks, valid = segments(mag[:, skip:], masks[:, skip:], valid[:, skip:], t_trunc)
        shuffle = torch.randperm(len(mag), generator=order).to(mag.device)
        for first in range(0, len(mag), batch_size):
            pick = shuffle[first:first + batch_size]
            yield mag[pick], masks[pick], valid[pick]
