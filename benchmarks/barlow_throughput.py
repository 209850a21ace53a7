"""Barlow Twins pre-training throughput: the recipe's own step vs what a typical user writes.

Both sides train the same network (encoder + projector, the recipe's config: by default the
quick preset's convnet width 16, projector 512-512-512, AdamW) with the same optimiser on
the same images, in the same process:

- sslab: ``sslab.vision.barlow.pretrain_step``, the function the recipe's pre-training loop
  calls: the batch stays uint8 until the device, both views of the whole batch are made
  with a few tensor ops, the encoder runs in channels-last memory order, under bfloat16
  autocast where the device has fast bfloat16 (this CPU has AVX512-BF16);
- reference: the usual pipeline, a ``DataLoader`` with 2 worker processes whose Dataset
  augments one PIL image at a time (random resized crop, flip, colour jitter in PIL's
  ImageEnhance + an HSV hue shift, grayscale, Gaussian blur, solarisation; the
  torchvision recipe, without torchvision), and a plain float32 step in PyTorch's default
  memory layout.

``--no-amp`` and ``--no-channels-last`` switch the two step optimisations off on the
sslab side, to show what each contributes. Prints images/s for each and their ratio. Usage::

    python benchmarks/barlow_throughput.py [--device cpu|cuda] [--size 32] [--steps 12]
"""

from __future__ import annotations

import argparse
import math
import random
import time

import numpy as np
import torch
from PIL import Image, ImageEnhance, ImageFilter, ImageOps

from sslab.config import build_config
from sslab.recipes.barlow.config import PRESETS, Config
from sslab.train.optim import ssl_optimizer
from sslab.train.precision import fast_bfloat16
from sslab.vision.barlow import BarlowTwins, pretrain_step
from sslab.vision.resnet import build_encoder
from sslab.vision.ssl_augment import ViewParams, barlow_views


class PerSampleViews(torch.utils.data.Dataset):
    """Two views of image i, made one PIL image at a time (what a torchvision pipeline does)."""

    def __init__(self, images_u8: torch.Tensor, views: tuple[ViewParams, ViewParams], size: int):
        self.images = images_u8.permute(0, 2, 3, 1).numpy()
        self.views = views
        self.size = size

    def __len__(self) -> int:
        return len(self.images)

    def view(self, img: Image.Image, p: ViewParams) -> torch.Tensor:
        w, h = img.size
        for _ in range(10):  # random resized crop
            area = w * h * random.uniform(*p.crop_scale)
            aspect = math.exp(random.uniform(math.log(p.crop_ratio[0]), math.log(p.crop_ratio[1])))
            cw, ch = int(round(math.sqrt(area * aspect))), int(round(math.sqrt(area / aspect)))
            if 0 < cw <= w and 0 < ch <= h:
                x0, y0 = random.randint(0, w - cw), random.randint(0, h - ch)
                break
        else:
            cw, ch, x0, y0 = w, h, 0, 0
        img = img.resize((self.size, self.size), Image.BILINEAR, box=(x0, y0, x0 + cw, y0 + ch))
        if random.random() < p.flip_p:
            img = ImageOps.mirror(img)
        if random.random() < p.jitter_p:
            img = ImageEnhance.Brightness(img).enhance(random.uniform(1 - p.brightness, 1 + p.brightness))
            img = ImageEnhance.Contrast(img).enhance(random.uniform(1 - p.contrast, 1 + p.contrast))
            img = ImageEnhance.Color(img).enhance(random.uniform(1 - p.saturation, 1 + p.saturation))
            hsv = np.array(img.convert("HSV"))
            hsv[..., 0] = (hsv[..., 0].astype(np.int16) + int(random.uniform(-p.hue, p.hue) * 255)) % 256
            img = Image.fromarray(hsv, "HSV").convert("RGB")
        if random.random() < p.gray_p:
            img = ImageOps.grayscale(img).convert("RGB")
        if random.random() < p.blur_p:
            img = img.filter(ImageFilter.GaussianBlur(random.uniform(*p.blur_sigma) * self.size / 224))
        if random.random() < p.solarize_p:
            img = ImageOps.solarize(img, 128)
        x = torch.from_numpy(np.asarray(img, dtype=np.float32) / 127.5 - 1.0)
        return x.permute(2, 0, 1)

    def __getitem__(self, i: int):
        img = Image.fromarray(self.images[i])
        return self.view(img, self.views[0]), self.view(img, self.views[1])


def recipe_config(args) -> Config:
    overrides = {"encoder": args.encoder, "width": str(args.width), "projector": ",".join([str(args.proj)] * 3),
                 "batch_size": str(args.batch), "optimizer": args.optimizer, "amp": str(not args.no_amp)}
    return build_config(Config, PRESETS, "quick", overrides, "barlow")


def make_model(cfg: Config, device: torch.device, channels_last: bool):
    torch.manual_seed(0)
    model = BarlowTwins(build_encoder(cfg.encoder, cfg.width, cfg.stem, channels_last), cfg.projector,
                        cfg.lambd).to(device)
    # The recipe's own optimiser (sslab.recipes.barlow.train.ssl_optimizer makes the same call).
    return model, ssl_optimizer(model, cfg.optimizer, cfg.batch_size, lr_weights=cfg.lr_weights,
                                lr_biases=cfg.lr_biases, weight_decay=cfg.weight_decay, adamw_lr=cfg.adamw_lr,
                                adamw_weight_decay=cfg.adamw_weight_decay)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def bench_sslab(images: torch.Tensor, views, args, device) -> float:
    data = images.to(device)
    cfg = recipe_config(args)
    model, optimizer = make_model(cfg, device, channels_last=not args.no_channels_last)
    gen = torch.Generator().manual_seed(0)
    order = torch.randperm(len(data), generator=gen).to(device)
    n_steps = args.steps + args.warmup
    for i in range(n_steps):
        if i == args.warmup:
            sync(device)
            start = time.perf_counter()
        idx = order[(i * args.batch) % len(data):][: args.batch]
        pretrain_step(model, optimizer, data[idx], views, gen, cfg.amp)
    sync(device)
    return args.steps * args.batch / (time.perf_counter() - start)


def bench_reference(images: torch.Tensor, views, args, device) -> float:
    loader = torch.utils.data.DataLoader(PerSampleViews(images, views, args.size), batch_size=args.batch,
                                         shuffle=True, num_workers=2, drop_last=True, persistent_workers=True,
                                         pin_memory=device.type == "cuda")
    model, optimizer = make_model(recipe_config(args), device, channels_last=False)

    def step(view_a: torch.Tensor, view_b: torch.Tensor) -> None:
        loss = model(view_a, view_b)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    done = 0
    while done < args.steps + args.warmup:
        for view_a, view_b in loader:
            if done == args.warmup:
                sync(device)
                start = time.perf_counter()
            step(view_a.to(device, non_blocking=True), view_b.to(device, non_blocking=True))
            done += 1
            if done == args.steps + args.warmup:
                break
    sync(device)
    return args.steps * args.batch / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--encoder", default="convnet", choices=("convnet", "resnet18"))
    parser.add_argument("--width", type=int, default=16)
    parser.add_argument("--proj", type=int, default=512, help="projector width (3 layers)")
    parser.add_argument("--size", type=int, default=16, help="image side (quick preset: 16, CIFAR-10: 32, STL-10: 96)")
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--optimizer", default="adamw", choices=("adamw", "lars"))
    parser.add_argument("--no-amp", action="store_true", help="sslab side: no bfloat16 autocast")
    parser.add_argument("--no-channels-last", action="store_true", help="sslab side: default memory layout")
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--warmup", type=int, default=2)
    args = parser.parse_args()
    device = torch.device(args.device)
    images = torch.randint(0, 256, (max(args.batch * 4, 1024), 3, args.size, args.size), dtype=torch.uint8,
                           generator=torch.Generator().manual_seed(0))
    views = barlow_views((0.2, 1.0))
    ours = bench_sslab(images, views, args, device)
    ref = bench_reference(images, views, args, device)
    cfg = recipe_config(args)
    print(f"device {device}, {args.encoder} width {args.width}, projector {args.proj}x3, {args.optimizer}, "
          f"{args.size}x{args.size} images, batch {args.batch}, torch threads {torch.get_num_threads()}; sslab step: "
          f"bfloat16 autocast {'on' if cfg.amp and fast_bfloat16(device) else 'off'}, "
          f"channels-last {'off' if args.no_channels_last else 'on'}")
    print(f"sslab batched on-device views : {ours:8.0f} images/s")
    print(f"per-sample DataLoader (2 workers): {ref:8.0f} images/s")
    print(f"ratio: {ours / ref:.2f}x")


if __name__ == "__main__":
    main()
