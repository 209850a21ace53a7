"""Speed of the pretext recipe's two loops vs a plain PyTorch reference, in one process.

1. Labeled phase (the seed's 10,000 full-batch epochs on 500 images, test accuracy every
   100th): sslab keeps the uint8 images resident, converts per batch, reads the loss once
   per evaluation and evaluates the test set in batches of 4,096 (sslab.train.classify);
   the reference iterates a DataLoader over float tensors, calls ``loss.item()`` every
   step and evaluates in DataLoader batches of 256 with a ``.item()`` per batch.
2. Pretext phase: sslab draws the virtual 3N set per batch (sslab.recipes.pretext.pretext_epoch);
   the reference is a Dataset returning one transformed float sample at a time through a
   DataLoader (how tutorials write it), with ``loss.item()`` per step.

    python benchmarks/pretext_throughput.py [--epochs 300] [--eval-every 100] [--test 10000] [--device cpu|cuda]

Prints steps/s (labeled) and images/s (pretext) for both and their ratios.
"""

from __future__ import annotations

import argparse
import time

import torch
from torch.utils.data import DataLoader, Dataset, TensorDataset

from sslab.data.images import to_signed
from sslab.data.synthetic_images import make_images
from sslab.recipes.pretext import pretext_epoch
from sslab.train.classify import evaluate, train_epoch
from sslab.vision.models import SmallCNN
from sslab.vision.pretext import rotate_ccw, upside_down


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
    model = SmallCNN().to(device)
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
    model = SmallCNN(3).to(device)
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


def timed(fn, device, *args) -> float:
    sync(device)
    start = time.perf_counter()
    fn(*args)
    sync(device)
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--labeled", type=int, default=500)
    ap.add_argument("--epochs", type=int, default=300, help="full-batch epochs timed (the seed runs 10,000)")
    ap.add_argument("--eval-every", type=int, default=100)
    ap.add_argument("--test", type=int, default=10_000)
    ap.add_argument("--unlabeled", type=int, default=2000, help="unlabeled images of the timed pretext epoch")
    ap.add_argument("--batch-size", type=int, default=32, help="pretext mini-batch")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = ap.parse_args()
    device = torch.device(args.device)
    data = make_images(args.labeled + args.unlabeled + args.test, seed=0).to(device)
    images, labels = data.images[:args.labeled], data.labels[:args.labeled]
    unlabeled = data.images[args.labeled:args.labeled + args.unlabeled]
    test_x, test_y = data.images[-args.test:], data.labels[-args.test:]

    ref = timed(labeled_reference, device, images, labels, test_x, test_y, args.epochs, args.eval_every)
    own = timed(labeled_sslab, device, images, labels, test_x, test_y, args.epochs, args.eval_every)
    print(f"labeled phase ({args.labeled} images full batch, test {args.test} every {args.eval_every} epochs, "
          f"{device}): sslab {args.epochs / own:.1f} steps/s, reference {args.epochs / ref:.1f} steps/s, "
          f"ratio {ref / own:.2f}x; 10,000 epochs would take {10_000 * own / args.epochs / 60:.1f} min")
    n_seen = 3 * args.unlabeled
    ref = timed(pretext_reference, device, unlabeled, args.batch_size)
    own = timed(pretext_sslab, device, unlabeled, args.batch_size)
    print(f"pretext phase ({n_seen} examples, batch {args.batch_size}): sslab {n_seen / own:,.0f} images/s, "
          f"reference {n_seen / ref:,.0f} images/s, ratio {ref / own:.2f}x; 100 epochs of 148,500 would take "
          f"{100 * 148_500 / (n_seen / own) / 60:.1f} min")


if __name__ == "__main__":
    main()
