"""DistributedDataParallel under ``torchrun``, and a no-op everywhere else.

``torchrun --nproc_per_node K -m sslab run RECIPE ...`` starts K copies of the same
command with ``RANK``/``WORLD_SIZE``/``LOCAL_RANK`` in their environment. Every helper
here behaves as the identity in a plain single process, so recipe code is written once:

- :func:`init_from_env` joins the process group (NCCL on GPUs, gloo on CPUs) and leaves it
  at exit (:func:`shutdown`);
- :func:`all_reduce_sum` sums a tensor over processes *and* carries gradients back
  (the backward of a sum is a sum of the gradients), which is what a loss computed over
  the global batch needs;
- :func:`sync_batchnorm` makes every batch-norm layer use the statistics of the global
  batch (``nn.SyncBatchNorm`` on GPUs; :class:`AllReduceBatchNorm` on CPUs, where
  PyTorch's has no kernel);
- :func:`shard` gives each process its slice of a global batch;
- :class:`FollowerRun` lets processes other than rank 0 read the run directory that
  rank 0 writes, without writing to it.
"""

from __future__ import annotations

import atexit
import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from sslab.train.rundir import Run, Stage


@dataclass(frozen=True)
class World:
    rank: int
    size: int
    local_rank: int


def is_initialized() -> bool:
    return dist.is_available() and dist.is_initialized()


def rank() -> int:
    return dist.get_rank() if is_initialized() else 0


def world_size() -> int:
    return dist.get_world_size() if is_initialized() else 1


def is_main() -> bool:
    """True in a single process and on rank 0 of a group: the one process that writes."""
    return rank() == 0


def init_from_env() -> World:
    """Join the process group ``torchrun`` describes in the environment (once).

    Without ``WORLD_SIZE`` > 1 this does nothing and returns rank 0 of 1. On a GPU
    machine each process takes the GPU of its ``LOCAL_RANK``, so ``torch.device("cuda")``
    means that process's own GPU.
    """
    size = int(os.environ.get("WORLD_SIZE", "1"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if size > 1 and not is_initialized():
        if torch.cuda.is_available():
            torch.cuda.set_device(local_rank)
        dist.init_process_group(backend="nccl" if torch.cuda.is_available() else "gloo")
        atexit.register(shutdown)  # however the process ends, leave the group first
    return World(rank(), world_size(), local_rank)


def shutdown() -> None:
    """Leave the process group. Without it the process may abort at exit ("terminate called
    without an active exception") while gloo/NCCL threads are torn down; call it after the last
    collective (``barrier()`` first when other ranks may still be communicating)."""
    if is_initialized():
        dist.destroy_process_group()


class _AllReduceSum(torch.autograd.Function):
    """Sum over processes; the gradient of every input is the sum of the output gradients."""

    @staticmethod
    def forward(ctx, tensor: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        out = tensor.clone(memory_format=torch.contiguous_format)
        dist.all_reduce(out, op=dist.ReduceOp.SUM)
        return out

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        grad = grad.clone(memory_format=torch.contiguous_format)
        dist.all_reduce(grad, op=dist.ReduceOp.SUM)
        return grad


def all_reduce_sum(tensor: torch.Tensor) -> torch.Tensor:
    """Differentiable sum over all processes; ``tensor`` itself in a single process.

    Why the backward sums too: every process computes the same global loss L from
    everyone's activations; summed over processes the gradients are K * dL/dx, and DDP's
    averaging of parameter gradients divides that K out again, giving exactly the
    single-process gradient of L.
    """
    if not is_initialized() or world_size() == 1:
        return tensor
    return _AllReduceSum.apply(tensor)


def global_count(local: int) -> int:
    """Samples in the global batch: every process holds the same number (``shard`` sees to it),
    so no collective (and no device-to-host wait) is needed."""
    return local * world_size()


class AllReduceBatchNorm(_BatchNorm):
    """Batch norm whose training statistics are those of the global batch (any device).

    Mean and (biased) variance come from sums all-reduced over processes, in two passes
    for accuracy; running statistics are updated exactly as ``nn.BatchNorm`` does with the
    unbiased variance. In eval mode, or in a single process, it is plain batch norm.
    """

    def _check_input_dim(self, input: torch.Tensor) -> None:
        if input.dim() < 2:
            raise ValueError(f"expected at least 2-D input (got {input.dim()}-D)")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and is_initialized() and world_size() > 1):
            return super().forward(x)
        dims = [0] + list(range(2, x.dim()))
        shape = [1, -1] + [1] * (x.dim() - 2)
        count = global_count(x.numel() // x.shape[1])
        mean = all_reduce_sum(x.sum(dims)) / count
        var = all_reduce_sum((x - mean.view(shape)).pow(2).sum(dims)) / count
        if self.track_running_stats and self.running_mean is not None:
            with torch.no_grad():
                self.num_batches_tracked += 1
                m = self.momentum if self.momentum is not None else 1.0 / float(self.num_batches_tracked)
                self.running_mean.mul_(1 - m).add_(mean.detach(), alpha=m)
                self.running_var.mul_(1 - m).add_(var.detach() * count / max(count - 1, 1), alpha=m)
        y = (x - mean.view(shape)) * torch.rsqrt(var.view(shape) + self.eps)
        if self.affine:
            y = y * self.weight.view(shape) + self.bias.view(shape)
        return y


def _to_all_reduce_bn(module: nn.Module) -> nn.Module:
    out = module
    if isinstance(module, _BatchNorm) and not isinstance(module, AllReduceBatchNorm):
        out = AllReduceBatchNorm(module.num_features, module.eps, module.momentum, module.affine,
                                 module.track_running_stats)
        out.load_state_dict(module.state_dict())
        out.train(module.training)
    for name, child in module.named_children():
        out.add_module(name, _to_all_reduce_bn(child))
    return out


def sync_batchnorm(model: nn.Module, device: torch.device) -> nn.Module:
    """Batch norm over the global batch when there is a process group; ``model`` otherwise."""
    if not is_initialized() or world_size() == 1:
        return model
    if device.type == "cuda":
        return nn.SyncBatchNorm.convert_sync_batchnorm(model)
    return _to_all_reduce_bn(model)


def wrap(model: nn.Module, device: torch.device) -> nn.Module:
    """DDP around ``model`` in a group (parameters broadcast from rank 0); ``model`` otherwise."""
    if not is_initialized() or world_size() == 1:
        return model
    ids = [device.index if device.index is not None else torch.cuda.current_device()] if device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(model, device_ids=ids)


def shard(batch_index: torch.Tensor) -> torch.Tensor:
    """This process's contiguous slice of a global batch (equal slices; the remainder is dropped)."""
    k = world_size()
    if k == 1:
        return batch_index
    per = len(batch_index) // k
    return batch_index[rank() * per:(rank() + 1) * per]


def barrier() -> None:
    if is_initialized() and world_size() > 1:
        dist.barrier()


def broadcast_object(obj: Any, src: int = 0) -> Any:
    """``obj`` from rank ``src`` on every process (itself in a single process)."""
    if not is_initialized() or world_size() == 1:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=src)
    return box[0]


class _FollowerStage(Stage):
    def save(self, epoch: int) -> None:
        """Rank 0 writes the checkpoint; the states are identical across processes."""


class FollowerRun(Run):
    """Rank 0's run directory seen from another rank: records kept in memory, nothing written.

    It reads checkpoints (so ``--resume`` restores every process the same way) and keeps
    its own copy of the metric records (so ``once``/``mark`` and stages agree with rank 0).
    """

    def _flush(self) -> None:
        pass

    def save_config(self, config: Any) -> None:
        pass

    def write_summary(self, summary: Any) -> None:
        pass

    def _write_diverged(self, info: Any) -> None:
        pass  # rank 0 marks the run; every rank stops with the same line

    def prepare_resume(self) -> None:
        raise RuntimeError("rank 0 prepares the resume; other ranks open the directory afterwards")

    def stage(self, name: str, every: int = 1, **objects: Any) -> Stage:
        return _FollowerStage(self, name, every, objects)


def share_run(run: Run | None) -> Run:
    """Rank 0's ``run`` on every process: others open its directory as a :class:`FollowerRun`.

    Call it after rank 0 has created (or prepared to resume) the directory; it waits for
    rank 0, so followers read the metrics file as rank 0 left it.
    """
    if not is_initialized() or world_size() == 1:
        assert run is not None
        return run
    root = broadcast_object(str(run.root) if is_main() and run is not None else None)
    if is_main():
        assert run is not None
        return run
    follower = FollowerRun(root)
    follower.tracker = None
    return follower
