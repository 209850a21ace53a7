"""Parallel seeds and the one-thread policy on a CPU, as ratios measured in the same run.

    python benchmarks/parallel_seeds.py [--seeds 3] [--epochs 30] [--images 2000] [--repeats 3]

1. ``sslab run augment --preset quick --seeds N`` wall time, three ways, one after another:
   parallel (the default: one worker per free core, one intra-op thread each, every seed's
   two arms as jobs of their own, the augmented ones first), sequential
   with one thread per core (the old default) and sequential with one thread. Goal on 2
   cores: parallel <= 0.6x the old default.
2. The augment training loop (sslab.vision.classify.train_epoch on the 4x augmented set) in
   images/s, quiet and with one core held busy by ``python3 -c "while True: pass"`` (started
   here and killed by its PID), at 1 and at 2 intra-op threads, alternating so that the
   machine's own load falls on both alike. Goal: with one core busy, >= 70% of the quiet
   throughput.
3. What training the seeds as one batched model (grouped convolutions, ``torch.func.vmap``) could
   save at most: one thread's time for a training step of the assignment's small CNN at N x the
   seed's batch of 32 against N steps at 32. N seeds stacked into one model do the same arithmetic
   as one network at N x the batch, so this ratio bounds what they could share (the per-step
   overhead); it is why that alternative was not built.

Each figure is printed with ``uptime`` beside it: on a shared machine the "quiet" case is
only as quiet as the other users leave it.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

CHILD_LOOP = "--child-loop"


def uptime() -> str:
    try:
        text = subprocess.run(["uptime"], capture_output=True, text=True, timeout=5).stdout
    except (OSError, subprocess.SubprocessError):
        return "uptime: unknown"
    return "load average" + text.split("load average", 1)[-1].strip() if "load average" in text else text.strip()


def run_seconds(seeds: int, epochs: int, workers: int, threads: int | None) -> float:
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    if threads is not None:
        env["OMP_NUM_THREADS"] = str(threads)
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "sslab", "run", "augment", "--preset", "quick", "--seeds",
                               str(seeds), f"epochs={epochs}", "--device", "cpu", "--workers", str(workers),
                               "--out", out], capture_output=True, text=True, env=env)
        seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"sslab run failed: {proc.stderr.strip().splitlines()[-1:]}")
    return seconds


def loop_images_per_s(images: int, threads: int, repeats: int) -> float:
    """The augment loop's throughput in a fresh process with ``threads`` intra-op threads (best of repeats)."""
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    if "OMP_WAIT_POLICY" not in env:
        env.setdefault("GOMP_SPINCOUNT", "1000")  # as the `sslab` command sets it (sslab/cli.py)
    proc = subprocess.run([sys.executable, __file__, CHILD_LOOP, str(images), str(threads), str(repeats)],
                          capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise SystemExit(proc.stderr)
    return float(proc.stdout.strip().splitlines()[-1])


def child_loop(images: int, threads: int, repeats: int) -> None:
    from sslab.data.images import to_unit, unit_to_signed
    from sslab.data.synthetic_images import make_images
    from sslab.vision.augment import apply_versions
    from sslab.vision.classify import train_epoch
    from sslab.vision.models import SmallCNN

    torch.set_num_threads(threads)
    data = make_images(images, seed=0)
    n = len(data.images)
    torch.manual_seed(0)
    model = SmallCNN(len(data.classes))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    gen = torch.Generator().manual_seed(0)

    def four(batch, sample):
        return unit_to_signed(apply_versions(to_unit(batch), sample // n, 1.1, 0.9))

    best = 0.0
    for _ in range(repeats):
        start = time.perf_counter()
        train_epoch(model, optimizer, data.images, data.labels, 32, gen, virtual_size=4 * n, transform=four)
        best = max(best, 4 * n / (time.perf_counter() - start))
    print(best)


def batched_step_ratio(seeds: int, batch: int = 32, steps: int = 40, rounds: int = 3) -> tuple[float, float]:
    """Seconds of one training step of SmallCNN at ``batch`` and at ``seeds * batch``, one thread, in turns."""
    from sslab.vision.models import SmallCNN

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    spent = {}
    try:
        for _ in range(rounds):
            for size in (batch, seeds * batch):
                torch.manual_seed(0)
                model = SmallCNN()
                optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
                x, y = torch.randn(size, 3, 32, 32), torch.randint(0, 10, (size,))

                def step():
                    optimizer.zero_grad(set_to_none=True)
                    torch.nn.functional.cross_entropy(model(x), y).backward()
                    optimizer.step()

                step()  # warm-up
                start = time.perf_counter()
                for _ in range(steps):
                    step()
                spent[size] = spent.get(size, 0.0) + time.perf_counter() - start
    finally:
        torch.set_num_threads(threads)
    return spent[batch] / (rounds * steps), spent[seeds * batch] / (rounds * steps)


def timed_runs(args, cores: int) -> None:
    print(f"\n1. sslab run augment --preset quick --seeds {args.seeds} epochs={args.epochs} --device cpu")
    cases = [("parallel (default: seeds x arms as jobs, 1 thread each)", cores, None),
             (f"sequential, {cores} threads (the old default)", 1, cores),
             ("sequential, 1 thread", 1, 1)]
    times = {}
    for label, workers, threads in cases:
        times[label] = run_seconds(args.seeds, args.epochs, workers, threads)
        print(f"   {label:52} {times[label]:7.1f} s   [{uptime()}]", flush=True)
    par, old = times[cases[0][0]], times[cases[1][0]]
    print(f"   parallel / old default: {par / old:.2f}x (goal <= 0.6x); "
          f"parallel / sequential 1 thread: {par / times[cases[2][0]]:.2f}x", flush=True)


def loop_under_load(args) -> None:
    print(f"\n2. augment loop, {args.images} images x 4 versions, best of {args.repeats} epochs, images/s")
    results: dict[tuple[int, bool], list[float]] = {}
    for round_ in range(2):
        for threads in (1, 2):
            for busy in (False, True):
                hog = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if busy else None
                try:
                    time.sleep(0.5 if busy else 0)
                    ips = loop_images_per_s(args.images, threads, args.repeats)
                finally:
                    if hog is not None:
                        os.kill(hog.pid, 9)
                        hog.wait()
                results.setdefault((threads, busy), []).append(ips)
                print(f"   round {round_ + 1}, {threads} thread(s), {'one core busy' if busy else 'quiet        '}: "
                      f"{ips:9,.0f}   [{uptime()}]", flush=True)
    for threads in (1, 2):
        quiet, busy = max(results[(threads, False)]), max(results[(threads, True)])
        print(f"   {threads} thread(s): quiet {quiet:,.0f}, one core busy {busy:,.0f}: busy/quiet {busy / quiet:.2f} "
              f"(goal >= 0.70)")
    print(f"   one core busy, 1 thread vs 2 threads: {max(results[(1, True)]) / max(results[(2, True)]):.2f}x")



def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == CHILD_LOOP:
        child_loop(*map(int, sys.argv[2:5]))
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=30, help="epochs per arm of the timed runs (quick preset: 30)")
    ap.add_argument("--images", type=int, default=2000, help="original images of the timed loop epoch (4x seen)")
    ap.add_argument("--repeats", type=int, default=3, help="timed loop epochs per measurement (best counts)")
    ap.add_argument("--parts", default="1,2,3", help="which of the numbered measurements to run (comma-separated)")
    ap.add_argument("--skip-runs", action="store_true", help="leave out part 1 (the timed runs)")
    args = ap.parse_args()
    try:
        parts = {int(p) for p in args.parts.split(",")}
    except ValueError:
        parts = set()
    if not parts or not parts <= {1, 2, 3}:
        ap.error(f"--parts {args.parts}: give part numbers from 1, 2, 3, comma-separated")
    parts -= {1} if args.skip_runs else set()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"{cores} free cores; {uptime()} at the start (a shared machine: other users' jobs run too)", flush=True)
    if 1 in parts:
        timed_runs(args, cores)
    if 2 in parts:
        loop_under_load(args)
    if 3 in parts:
        one, stacked = batched_step_ratio(args.seeds)
        print(f"\n3. one thread, a SmallCNN training step: batch 32 {1000 * one:.2f} ms, batch {args.seeds} x 32 "
              f"{1000 * stacked:.2f} ms ({stacked / one:.2f}x) [{uptime()}]")
        print(f"   {args.seeds} seeds as one batched model could take at best {stacked / (args.seeds * one):.2f}x of "
              f"the time of their steps one after another")

if __name__ == "__main__":
    main()
