"""Speed of the denoising recipe: training frames/s and the inference real-time factor.

Each is measured twice in this process: the way sslab runs it (whole padded sequences
through cuDNN/oneDNN GRU kernels, batched STFTs) and a reference that runs the same
model one frame at a time from Python. Prints both and their ratio. Target: a minute of
16 kHz audio denoised in under half a second on 2 CPU cores.

    python benchmarks/denoise_speed.py [--device cpu|cuda] [--hidden H] [--layers L] [--proj P] [--head U]

The model size defaults to the recipe's default (quick) configuration.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from sslab.audio.masks import apply_mask, bin_weights, masked_bce
from sslab.audio.models import RecurrentMasker
from sslab.audio.stft import HOP, istft, stft
from sslab.audio.stream import denoise_signal
from sslab.recipes import get as get_recipe


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def timed(fn, device: torch.device, repeat: int = 3) -> float:
    fn()  # warm-up
    best = float("inf")
    for _ in range(repeat):
        sync(device)
        start = time.perf_counter()
        fn()
        sync(device)
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    defaults = get_recipe("denoise").Config()  # the recipe's default (quick) model and loss
    parser.add_argument("--hidden", type=int, default=defaults.hidden)
    parser.add_argument("--layers", type=int, default=defaults.layers)
    parser.add_argument("--proj", type=int, default=defaults.proj, help="input layer units (0: none)")
    parser.add_argument("--head", type=int, default=defaults.head, help="output layer units (0: linear read-out)")
    parser.add_argument("--seconds", type=float, default=60.0, help="audio length for the inference test")
    args = parser.parse_args()
    device = torch.device(args.device)
    torch.manual_seed(0)
    model = RecurrentMasker(513, "gru", args.hidden, args.layers, proj=args.proj, head=args.head).to(device)
    optimizer = torch.optim.Adam(model.parameters(), 1e-3)
    print(f"device {device}, torch threads {torch.get_num_threads()}, input layer {args.proj}, "
          f"GRU {args.layers}x{args.hidden}, output layer {args.head}")

    # Training: a mini-batch of 10 sequences of 100 frames (about 3.2 s each), the seed's batch.
    mag = torch.rand(10, 100, 513, device=device) * 10
    target = (torch.rand(10, 100, 513, device=device) > 0.5).float()
    valid = torch.ones(10, 100, device=device)
    weight = bin_weights(mag, valid, defaults.loss_weight)  # the recipe's default loss

    def train_sslab():
        loss = masked_bce(model(mag), target, valid, weight)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    def train_reference():
        state, outs = None, []
        for t in range(mag.shape[1]):
            logits, state = model.step(mag[:, t:t + 1], state)
            outs.append(logits)
        loss = masked_bce(torch.cat(outs, 1), target, valid, weight)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    frames = mag.shape[0] * mag.shape[1]
    fast, slow = timed(train_sslab, device), timed(train_reference, device, repeat=1)
    print(f"training: {frames / fast:,.0f} frames/s (sslab) vs {frames / slow:,.0f} frames/s (frame-by-frame "
          f"reference); {slow / fast:.1f}x")

    # Inference: one long file, whole-file batched path vs the frame-by-frame Python loop.
    rate = 16000
    audio = (0.1 * np.random.default_rng(0).standard_normal(int(args.seconds * rate))).astype(np.float32)
    model.eval()

    def infer_sslab():
        denoise_signal(model, audio, device)

    @torch.no_grad()
    def infer_reference():
        wave = torch.from_numpy(audio).to(device)
        spec = stft(wave)
        state, masks = None, []
        for t in range(spec.shape[-1]):
            logits, state = model.step(spec[:, t].abs().reshape(1, 1, -1), state)
            masks.append(torch.sigmoid(logits)[0, 0])
        istft(apply_mask(torch.stack(masks, 1), spec), len(audio)).cpu()

    fast, slow = timed(infer_sslab, device), timed(infer_reference, device, repeat=1)
    print(f"inference of {args.seconds:g} s of audio ({len(audio) // HOP + 1} frames): {fast:.3f} s (sslab, real-time "
          f"factor {fast / args.seconds:.4f}) vs {slow:.3f} s (frame-by-frame reference); {slow / fast:.1f}x; "
          f"target under 0.5 s: {'met' if fast < 0.5 else 'NOT met'}")


if __name__ == "__main__":
    main()
