"""Mixed precision: bfloat16 autocast where it is fast, float32 elsewhere."""

from __future__ import annotations

from contextlib import nullcontext

import torch

from sslab.train import distributed


def fast_bfloat16(device: torch.device) -> bool:
    """Whether bfloat16 autocast speeds training up here: GPUs with bfloat16 support, and CPUs
    with AVX512-BF16 or AMX instructions (elsewhere PyTorch emulates bfloat16 on the CPU, slower
    than float32). CPU runs under torchrun stay float32: the CPU batch norm's all-reduced sums
    would be taken in bfloat16."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type != "cpu" or distributed.world_size() > 1:
        return False
    checks = [getattr(torch.cpu, name, None) for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported")]
    return any(check() for check in checks if check is not None)


def autocast(device: torch.device, enabled: bool):
    """bfloat16 autocast where it is fast (:func:`fast_bfloat16`), else float32. Matrix products
    and convolutions run in bfloat16; losses that need float32 (the Barlow Twins loss) turn it off
    themselves. Measured on this machine's CPU (AVX512-BF16): the barlow quick preset's
    pre-training step 1.3-1.5x faster, kNN accuracy during pre-training the same within noise."""
    if enabled and fast_bfloat16(device):
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    return nullcontext()
