"""Training throughput of the augment recipe's loop vs the common DataLoader way.

Both train the seed's small CNN with Adam on the 4x augmented set (original, brighter,
darker, mirrored) for the same number of images, in the same process:
- sslab: uint8 images resident on the device, the 4x set indexed virtually, versions
  applied to whole batches as tensor ops (sslab.vision.classify.train_epoch);
- reference: a torch Dataset that returns one transformed float sample at a time,
  batched by a DataLoader with 2 worker processes, training the network written the
  textbook way (benchmarks/reference_models.py): how tutorials write it.

    python benchmarks/augment_throughput.py [--images 2000] [--device cpu|cuda] [--repeats 3]

Prints images/s for both and their ratio (goal on a 2-core CPU: at least 2x).
"""

from __future__ import annotations

import argparse
import time

import torch
from torch.utils.data import DataLoader, Dataset

from sslab.data.images import to_unit, unit_to_signed
from sslab.data.synthetic_images import make_images
from sslab.vision.classify import train_epoch
from sslab.vision.augment import apply_versions
from sslab.vision.models import SmallCNN
from reference_models import plain_small_cnn


class PerSampleAugmented(Dataset):
    """The 4N augmented set, one sample at a time, as a per-sample pipeline would do it."""

    def __init__(self, images_u8: torch.Tensor, labels: torch.Tensor):
        self.images, self.labels = images_u8, labels

    def __len__(self) -> int:
        return 4 * len(self.images)

    def __getitem__(self, i: int):
        n = len(self.images)
        x = self.images[i % n].float() / 255.0
        version = i // n
        if version == 1:
            x = torch.clamp(x * 1.1, max=1.0)
        elif version == 2:
            x = x * 0.9
        elif version == 3:
            x = x.flip(-1)
        return x * 2 - 1, self.labels[i % n]


def reference_epoch(model, optimizer, loader, device) -> float:
    model.train()
    total = 0.0
    for x, y in loader:
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        loss = torch.nn.functional.cross_entropy(model(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        total += loss.item()  # the usual per-step logging sync
    return total


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=2000, help="original images (the epoch sees 4x as many)")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    device = torch.device(args.device)
    data = make_images(args.images, seed=0)
    n_seen = 4 * args.images

    images, labels = data.images.to(device), data.labels.to(device)

    def sslab_run() -> float:
        torch.manual_seed(0)
        model = SmallCNN().to(device)
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        gen = torch.Generator().manual_seed(0)
        transform = lambda b, i: unit_to_signed(apply_versions(to_unit(b), i // args.images))  # noqa: E731
        start = time.perf_counter()
        train_epoch(model, opt, images, labels, args.batch_size, gen, virtual_size=n_seen, transform=transform)
        if device.type == "cuda":
            torch.cuda.synchronize()
        return n_seen / (time.perf_counter() - start)

    loader = DataLoader(PerSampleAugmented(data.images, data.labels), batch_size=args.batch_size, shuffle=True,
                        num_workers=2, persistent_workers=True, pin_memory=device.type == "cuda")

    def reference_run() -> float:
        torch.manual_seed(0)
        model = plain_small_cnn().to(device)
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        start = time.perf_counter()
        reference_epoch(model, opt, loader, device)
        if device.type == "cuda":
            torch.cuda.synchronize()
        return n_seen / (time.perf_counter() - start)

    sslab_run(), reference_run()  # warm-up (worker start, kernel selection)
    ours = max(sslab_run() for _ in range(args.repeats))
    ref = max(reference_run() for _ in range(args.repeats))
    print(f"device={device} threads={torch.get_num_threads()} batch={args.batch_size} images/epoch={n_seen}")
    print(f"sslab loop (resident uint8, batched augmentation): {ours:10.0f} images/s")
    print(f"reference (Dataset + DataLoader, 2 workers):       {ref:10.0f} images/s")
    print(f"ratio sslab/reference: {ours / ref:.2f}x (goal >= 2x)")
    if device.type == "cpu":
        hours = 200 * (45_000 + 180_000) / ours / 3600
        print(f"paper preset estimate at this speed: 2 x 200 epochs = {hours:.1f} h per seed")


if __name__ == "__main__":
    main()
