"""Speed of the pretext recipe's two loops vs a plain PyTorch reference, in one process.

Both references use the seed's network written the textbook way (``plain_small_cnn``:
conv -> ReLU -> max-pool in the default memory layout); sslab's SmallCNN computes the same
function with channels-last activations and the pool before the ReLU.

1. Labeled phase (the seed's 10,000 full-batch epochs on 500 images, test accuracy every
   100th): sslab keeps the uint8 images resident, converts per batch, reads the loss once
   per evaluation and evaluates the test set in batches of 4,096 (sslab.vision.classify);
   the reference iterates a DataLoader over float tensors, calls ``loss.item()`` every
   step and evaluates in DataLoader batches of 256 with a ``.item()`` per batch.
2. Pretext phase: sslab draws the virtual 3N set per batch (sslab.vision.pretext.pretext_epoch);
   the reference is a Dataset returning one transformed float sample at a time through a
   DataLoader (how tutorials write it), with ``loss.item()`` per step.

    python benchmarks/pretext_throughput.py [--epochs 300] [--eval-every 100] [--test 10000] [--device cpu|cuda]

Prints steps/s (labeled) and images/s (pretext) for both and their ratios, and what the
whole `paper` preset (100 pretext epochs of 148,500 + 2 x 10,000 labeled epochs) takes per
seed at sslab's rates: from wall-clock time, and from the process's CPU time (which a
machine shared with other jobs inflates less) divided by the threads in use.
"""

from __future__ import annotations

import argparse
import time

import torch
from torch.utils.data import DataLoader, Dataset, TensorDataset

from sslab.data.images import to_signed
from sslab.data.synthetic_images import make_images
from sslab.vision.classify import evaluate, train_epoch
from sslab.vision.models import SmallCNN
from reference_models import plain_small_cnn
from sslab.vision.pretext import pretext_epoch, rotate_ccw, upside_down


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def labeled_sslab(images, labels, test_x, test_y, epochs: int, eval_every: int) -> None:
    torch.manual_seed(0)
    model = SmallCNN().to(images.device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    gen = torch.Generator().manual_seed(0)
    for epoch in range(epochs):
        loss, _ = train_epoch(model, opt, images, labels, len(images), gen)
        if (epoch + 1) % eval_every == 0:
            loss.item()
            evaluate(model, test_x, test_y)


def labeled_reference(images, labels, test_x, test_y, epochs: int, eval_every: int) -> None:
    torch.manual_seed(0)
    device = images.device
    model = plain_small_cnn().to(device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    train = DataLoader(TensorDataset(to_signed(images).cpu(), labels.cpu()), batch_size=len(images), shuffle=True)
    test = DataLoader(TensorDataset(to_signed(test_x).cpu(), test_y.cpu()), batch_size=256)
    for epoch in range(epochs):
        model.train()
        for x, y in train:
            x, y = x.to(device), y.to(device)
            loss = torch.nn.functional.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            loss.item()  # the usual per-step logging
        if (epoch + 1) % eval_every == 0:
            model.eval()
            correct = 0
            with torch.no_grad():
                for x, y in test:
                    correct += (model(x.to(device)).argmax(1) == y.to(device)).sum().item()


class PerSamplePretext(Dataset):
    """The 3N pretext set one float sample at a time (original, upside down, 90° ccw)."""

    def __init__(self, images_u8: torch.Tensor):
        self.images = images_u8

    def __len__(self) -> int:
        return 3 * len(self.images)

    def __getitem__(self, i: int):
        n = len(self.images)
        x = self.images[i % n].float() / 255.0 * 2 - 1
        version = i // n
        if version == 1:
            x = upside_down(x[None])[0]
        elif version == 2:
            x = rotate_ccw(x[None])[0]
        return x, version


def pretext_reference(images, batch_size: int) -> None:
    torch.manual_seed(0)
    device = images.device
    model = plain_small_cnn(3).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    for x, y in DataLoader(PerSamplePretext(images.cpu()), batch_size=batch_size, shuffle=True, num_workers=2):
        loss = torch.nn.functional.cross_entropy(model(x.to(device)), y.to(device))
        opt.zero_grad()
        loss.backward()
        opt.step()
        loss.item()


def pretext_sslab(images, batch_size: int) -> None:
    torch.manual_seed(0)
    model = SmallCNN(3).to(images.device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    pretext_epoch(model, opt, images, "flip-rotate", batch_size, torch.Generator().manual_seed(0))[0].item()


def timed(fn, device, *args) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process) of fn(*args)."""
    sync(device)
    start, cpu = time.perf_counter(), time.process_time()
    fn(*args)
    sync(device)
    return time.perf_counter() - start, time.process_time() - cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--labeled", type=int, default=500)
    ap.add_argument("--epochs", type=int, default=300, help="full-batch epochs timed (the seed runs 10,000)")
    ap.add_argument("--eval-every", type=int, default=100)
    ap.add_argument("--test", type=int, default=10_000)
    ap.add_argument("--unlabeled", type=int, default=2000, help="unlabeled images of the timed pretext epoch")
    ap.add_argument("--batch-size", type=int, default=128, help="pretext mini-batch (the paper preset's)")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = ap.parse_args()
    device = torch.device(args.device)
    data = make_images(args.labeled + args.unlabeled + args.test, seed=0).to(device)
    images, labels = data.images[:args.labeled], data.labels[:args.labeled]
    unlabeled = data.images[args.labeled:args.labeled + args.unlabeled]
    test_x, test_y = data.images[-args.test:], data.labels[-args.test:]

    threads = torch.get_num_threads()
    ref, _ = timed(labeled_reference, device, images, labels, test_x, test_y, args.epochs, args.eval_every)
    own, own_cpu = timed(labeled_sslab, device, images, labels, test_x, test_y, args.epochs, args.eval_every)
    labeled_min = 10_000 * own / args.epochs / 60
    labeled_cpu_min = 10_000 * own_cpu / threads / args.epochs / 60
    print(f"labeled phase ({args.labeled} images full batch, test {args.test} every {args.eval_every} epochs, "
          f"{device}, {threads} threads): sslab {args.epochs / own:.1f} steps/s, reference {args.epochs / ref:.1f} "
          f"steps/s, ratio {ref / own:.2f}x; 10,000 epochs would take {labeled_min:.1f} min")
    n_seen = 3 * args.unlabeled
    ref, _ = timed(pretext_reference, device, unlabeled, args.batch_size)
    own, own_cpu = timed(pretext_sslab, device, unlabeled, args.batch_size)
    pretext_min = 100 * 148_500 * own / n_seen / 60
    pretext_cpu_min = 100 * 148_500 * own_cpu / threads / n_seen / 60
    print(f"pretext phase ({n_seen} examples, batch {args.batch_size}): sslab {n_seen / own:,.0f} images/s, "
          f"reference {n_seen / ref:,.0f} images/s, ratio {ref / own:.2f}x; 100 epochs of 148,500 would take "
          f"{pretext_min:.1f} min")
    print(f"paper preset per seed (pretext + 2 x 10,000 labeled epochs) at sslab's rates: "
          f"{pretext_min + 2 * labeled_min:.0f} min by the wall clock, "
          f"{pretext_cpu_min + 2 * labeled_cpu_min:.0f} min by CPU time / {threads} threads")


if __name__ == "__main__":
    main()
