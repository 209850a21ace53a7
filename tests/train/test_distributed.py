"""DDP helpers: two gloo processes on the CPU compute the single-process loss and gradients."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from sslab.train import distributed
from sslab.train.rundir import Run
from sslab.vision.barlow import BarlowTwins, JointObjective
from sslab.vision.resnet import ConvNet

GLOBAL_BATCH = 8

WORKER = textwrap.dedent("""
    import sys, torch
    from safetensors.torch import save_file
    from sslab.train import distributed
    from sslab.vision.barlow import BarlowTwins, JointObjective
    from sslab.vision.resnet import ConvNet

    world = distributed.init_from_env()
    assert world.size == 2 and distributed.world_size() == 2
    out = {}
    for kind in ("twins", "joint"):
        torch.manual_seed(0 if world.rank == 0 else 99)  # DDP must broadcast rank 0's weights
        model = (BarlowTwins(ConvNet(width=4), (32, 32, 16)) if kind == "twins"
                 else JointObjective(ConvNet(width=4), (32, 16), n_classes=3, weight=3.0))
        model = distributed.sync_batchnorm(model, torch.device("cpu"))
        ddp = distributed.wrap(model, torch.device("cpu"))
        g = torch.Generator().manual_seed(1)
        va, vb = torch.randn(8, 3, 16, 16, generator=g), torch.randn(8, 3, 16, 16, generator=g) * 0.5
        x, y = torch.randn(8, 3, 16, 16, generator=g), torch.arange(8) % 3
        idx = distributed.shard(torch.arange(8))
        loss = ddp(va[idx], vb[idx]) if kind == "twins" else ddp(x[idx], y[idx], va[idx], vb[idx])[0]
        loss.backward()
        out[f"{kind}.loss"] = loss.detach().reshape(1)
        for name, p in model.named_parameters():
            out[f"{kind}.grad.{name}"] = p.grad
        for name, b in model.named_buffers():
            out[f"{kind}.buffer.{name}"] = b.float()
    save_file({k: v.contiguous() for k, v in out.items()}, sys.argv[1] + f"/rank{world.rank}.safetensors")
    distributed.barrier()
    distributed.shutdown()
    assert not distributed.is_initialized()
""")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def single_process(kind: str) -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    model = (BarlowTwins(ConvNet(width=4), (32, 32, 16)) if kind == "twins"
             else JointObjective(ConvNet(width=4), (32, 16), n_classes=3, weight=3.0))
    g = torch.Generator().manual_seed(1)
    va, vb = torch.randn(8, 3, 16, 16, generator=g), torch.randn(8, 3, 16, 16, generator=g) * 0.5
    x, y = torch.randn(8, 3, 16, 16, generator=g), torch.arange(8) % 3
    loss = model(va, vb) if kind == "twins" else model(x, y, va, vb)[0]
    loss.backward()
    out = {f"{kind}.loss": loss.detach().reshape(1)}
    out.update({f"{kind}.grad.{n}": p.grad for n, p in model.named_parameters()})
    out.update({f"{kind}.buffer.{n}": b.float() for n, b in model.named_buffers()})
    return out


@pytest.fixture(scope="module")
def two_ranks(tmp_path_factory) -> list[dict[str, torch.Tensor]]:
    if not torch.distributed.is_available():
        pytest.skip("this torch build has no torch.distributed")
    tmp = tmp_path_factory.mktemp("ddp")
    script = tmp / "worker.py"
    script.write_text(WORKER)
    port = str(free_port())
    procs = []
    for rank in range(2):
        env = {**os.environ, "RANK": str(rank), "LOCAL_RANK": str(rank), "WORLD_SIZE": "2",
               "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": port, "OMP_NUM_THREADS": "1"}
        procs.append(subprocess.Popen([sys.executable, str(script), str(tmp)], env=env,
                                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    for p in procs:
        out, _ = p.communicate(timeout=120)
        assert p.returncode == 0, out
    return [load_file(str(tmp / f"rank{r}.safetensors")) for r in range(2)]


def close(a: torch.Tensor, b: torch.Tensor, tol: float = 1e-4) -> bool:
    """Equal up to float32 summation order: relative error of the whole tensor."""
    return float((a - b).norm()) <= tol * float(b.norm()) + 1e-7


@pytest.mark.parametrize("kind", ["twins", "joint"])
def test_two_processes_give_the_single_process_loss_and_gradients(two_ranks, kind):
    ref = single_process(kind)
    if kind == "twins":  # the Barlow Twins loss is computed over the global batch on every rank
        for rank in two_ranks:
            assert rank["twins.loss"].item() == pytest.approx(ref["twins.loss"].item(), rel=1e-5)
    else:  # each rank's cross-entropy covers its half of the labelled batch; their mean is the global one
        mean = sum(r["joint.loss"].item() for r in two_ranks) / 2
        assert mean == pytest.approx(ref["joint.loss"].item(), rel=1e-5)
        assert two_ranks[0]["joint.loss"].item() != pytest.approx(two_ranks[1]["joint.loss"].item(), rel=1e-3)
    for rank in two_ranks:
        for key, value in ref.items():
            if ".grad." in key or ".buffer." in key:  # DDP-averaged gradients; synchronised BN running stats
                assert close(rank[key], value), key


def test_without_a_process_group_everything_is_the_identity(tmp_path):
    t = torch.randn(3, requires_grad=True)
    assert distributed.all_reduce_sum(t) is t and distributed.world_size() == 1 and distributed.is_main()
    assert torch.equal(distributed.shard(torch.arange(7)), torch.arange(7))
    model = BarlowTwins(ConvNet(width=4), (8, 8))
    assert distributed.sync_batchnorm(model, torch.device("cpu")) is model
    assert distributed.wrap(model, torch.device("cpu")) is model
    assert distributed.global_count(5) == 5 and distributed.broadcast_object("x") == "x"
    assert distributed.init_from_env().size == 1 if os.environ.get("WORLD_SIZE", "1") == "1" else True


def test_all_reduce_batchnorm_is_batchnorm_in_one_process():
    torch.manual_seed(0)
    bn = torch.nn.BatchNorm2d(4)
    with torch.no_grad():
        bn.weight.uniform_(0.5, 1.5)
        bn.bias.uniform_(-1, 1)
    seq = torch.nn.Sequential(bn)
    converted = distributed._to_all_reduce_bn(torch.nn.Sequential(torch.nn.BatchNorm2d(4)))
    converted.load_state_dict(seq.state_dict())
    assert isinstance(converted[0], distributed.AllReduceBatchNorm)
    x = torch.randn(6, 4, 5, 5)
    assert torch.allclose(converted(x), seq(x), atol=1e-6)
    assert torch.allclose(converted[0].running_var, bn.running_var)


def test_follower_run_reads_but_never_writes(tmp_path):
    run = Run.create(tmp_path, "x")
    run.save_config({"recipe": "barlow"})
    run.log(seed=0, phase="a", value=1)
    net = torch.nn.Linear(2, 2)
    run.stage("seed0/a", model=net).save(1)
    before = {p: p.stat().st_mtime_ns for p in run.root.rglob("*") if p.is_file()}
    follower = distributed.FollowerRun(run.root)
    assert follower.records()[0]["value"] == 1
    follower.log(seed=0, phase="a", value=2)
    follower.mark("done-thing")
    follower.write_summary({"text": "x"})
    stage = follower.stage("seed0/a", model=torch.nn.Linear(2, 2))
    assert stage.restore() == 1 and torch.equal(stage.objects["model"].weight, net.weight)
    stage.save(2)
    follower.stage("seed0/b", model=net).save(1)
    after = {p: p.stat().st_mtime_ns for p in run.root.rglob("*") if p.is_file()}
    assert after == before and not follower.once("done-thing")
    assert [r.get("value") for r in Run(run.root).records()] == [1]
