"""One-shot GPU check: every benchmark and a time-boxed paper-scale run of each recipe, one table.

    make gpu-check                                   # on a GPU machine: set-up, then this with --device cuda
    python benchmarks/gpu_check.py --device cuda [--out DIR] [--budget-s 510]
    python benchmarks/gpu_check.py --device cpu --tiny --out /tmp/check   # CI: the same path, in seconds

Each item runs in its own process with a time limit (so one that hangs or runs out of
memory cannot stop the rest) and reports its wall time and peak GPU memory
(``torch.cuda.max_memory_allocated``):
- the benchmarks in ``BENCHMARKS`` with ``--device``; their last printed lines (throughput and
  the ratio to the reference) go into the table;
- each recipe's ``paper`` preset, one seed, cut to a few epochs (``BOXES``), on data sslab
  makes itself at the paper's size (a bare GPU machine has no data sets). From the time
  stamps of its metric records the check takes the measured seconds per epoch of each
  training phase (the first epoch, which includes warm-up and compilation, left out) and
  projects the whole paper preset: seconds per epoch x the preset's epochs x its seeds.
  For barlow the projection covers the pre-training (paper images x epochs x seeds /
  measured images per second).

Writes ``gpu_check.txt`` and ``gpu_check.json`` to ``--out`` (default ``$OUT``, else
``gpu-check/``). The whole check keeps within ``--budget-s`` (default 510 s, under the 9
minutes asked for): items that would start after the budget is spent are listed as skipped.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import runpy
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
MARK = "GPU_CHECK_RESULT "

# benchmark script: (arguments on a GPU, arguments with --tiny); --device is added.
BENCHMARKS = {
    "augment_throughput.py": ([], ["--images", "64", "--repeats", "1"]),
    "pretext_throughput.py": ([], ["--labeled", "40", "--epochs", "4", "--eval-every", "2", "--test", "40",
                                   "--unlabeled", "40", "--batch-size", "16"]),
    "barlow_throughput.py": (["--encoder", "resnet18", "--size", "96", "--width", "64", "--batch", "256",
                              "--proj", "8192"],
                             ["--width", "4", "--proj", "16", "--size", "8", "--batch", "8", "--steps", "2",
                              "--warmup", "1"]),
    "denoise_speed.py": ([], ["--hidden", "16", "--layers", "1", "--seconds", "1"]),
    "generate_speed.py": (["--preset", "paper"], ["--steps", "1", "--clips", "1"]),
}

# recipe: (overrides of the paper preset on a GPU, overrides of the smoke preset with --tiny, time limit in s).
# Every training phase logs at least three epochs, so a rate can be measured without the first.
BOXES = {
    "augment": (["epochs=3"], ["epochs=3"], 90),
    "pretext": (["pretext_epochs=3", "epochs=300"], ["pretext_epochs=3", "epochs=30"], 90),
    "barlow": (["pretrain_epochs=3", "warmup_epochs=0", "snapshots=2", "supervised_epochs=1", "finetune_epochs=1",
                "joint_epochs=1", "fractions=0.1,1.0", "tsne_points=200"], ["pretrain_epochs=3"], 150),
    "denoise": (["epochs=3"], ["epochs=3"], 75),
    "generate": (["epochs=3", "judge_epochs=3", "eval_every=3", "final_clips=8"], ["epochs=3", "judge_epochs=3"], 75),
}
# recipe -> {training phase (a metric record's "phase"): the config key that counts its epochs}.
PHASE_EPOCHS = {
    "augment": {"baseline": "epochs", "augmented": "epochs"},
    "pretext": {"pretext": "pretext_epochs", "baseline": "epochs", "transfer": "epochs"},
    "denoise": {"rnn": "epochs", "fc": "epochs"},
    "generate": {"judge": "judge_epochs", "vae": "epochs", "gan": "epochs", "flow": "epochs"},
}
# barlow: the pre-training's paper workload in images (STL-10's 100,000 unlabelled images x epochs).
BARLOW_PAPER_IMAGES = 100_000


# ---- children (one process per item) -----------------------------------------------------------
def _peak_memory(device: str) -> int | None:
    import torch

    return int(torch.cuda.max_memory_allocated()) if device == "cuda" and torch.cuda.is_available() else None


def child_benchmark(script: str, device: str, args: list[str]) -> None:
    sys.path.insert(0, str(HERE))
    sys.argv = [str(HERE / script), "--device", device, *args]
    start = time.perf_counter()
    runpy.run_path(str(HERE / script), run_name="__main__")
    print(MARK + json.dumps({"wall_s": time.perf_counter() - start, "peak_bytes": _peak_memory(device)}), flush=True)


def child_recipe(name: str, device: str, tiny: bool, out: str) -> None:
    from sslab.runner import run_recipe

    paper, small, _limit = BOXES[name]
    overrides = dict(item.split("=", 1) for item in (small if tiny else paper))
    start = time.perf_counter()
    run = run_recipe(name, preset="smoke" if tiny else "paper", overrides=overrides, seeds=1, device=device,
                     out=Path(out), workers=1)
    print(MARK + json.dumps({"wall_s": time.perf_counter() - start, "peak_bytes": _peak_memory(device),
                             "run": str(run.root)}), flush=True)


# ---- the parent ------------------------------------------------------------------------------
def _run_child(args: list[str], limit: float) -> dict:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    start = time.perf_counter()
    try:
        proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), *args], capture_output=True, text=True,
                              timeout=limit, env=env)
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        return {"status": f"timed out after {limit:.0f} s", "wall_s": time.perf_counter() - start, "output": out}
    result = {"status": "ok" if proc.returncode == 0 else f"failed (exit code {proc.returncode})",
              "wall_s": time.perf_counter() - start, "output": proc.stdout}
    for line in proc.stdout.splitlines():
        if line.startswith(MARK):
            result.update(json.loads(line[len(MARK):]))
    if proc.returncode != 0:
        result["error"] = (proc.stderr.strip().splitlines() or ["(no message)"])[-1]
    return result


def _result_lines(output: str, keep: int = 3) -> list[str]:
    lines = [l.strip() for l in output.splitlines() if l.strip() and not l.startswith(MARK)]
    return lines[-keep:]


def phase_rates(records: list[dict]) -> dict[str, float]:
    """Seconds per epoch of each phase, from its records' time stamps, the first epoch left out."""
    rates: dict[str, float] = {}
    by_phase: dict[str, list[dict]] = {}
    for r in records:
        if "epoch" in r and "time" in r and "phase" in r:
            by_phase.setdefault(r["phase"], []).append(r)
    for phase, rows in by_phase.items():
        rows = sorted(rows, key=lambda r: r["epoch"])
        if len(rows) >= 2 and rows[-1]["epoch"] > rows[0]["epoch"]:
            rates[phase] = (rows[-1]["time"] - rows[0]["time"]) / (rows[-1]["epoch"] - rows[0]["epoch"])
    return rates


def project(name: str, run_dir: Path) -> dict:
    """Measured rates of a time-boxed run and the projected wall time of the whole paper preset."""
    import yaml

    from sslab import recipes as registry

    records = [json.loads(l) for l in (run_dir / "metrics.jsonl").read_text().splitlines() if l.strip()]
    paper = dict(registry.get(name).presets["paper"])
    conf = yaml.safe_load((run_dir / "config.yaml").read_text())["config"]
    seeds = int(paper.get("seeds", conf.get("seeds", 1)))
    rates = phase_rates(records)
    out: dict = {"seconds_per_epoch": {p: round(s, 4) for p, s in rates.items()}, "paper_seeds": seeds}
    if name == "barlow":
        speed = [r["images_per_s"] for r in records if r.get("phase") == "pretrain" and "images_per_s" in r]
        if speed:
            ips = sorted(speed)[len(speed) // 2]
            epochs = int(paper.get("pretrain_epochs", conf["pretrain_epochs"]))
            out["images_per_s"] = round(ips, 1)
            out["projected_paper_s"] = BARLOW_PAPER_IMAGES * epochs * seeds / ips
            out["projection"] = f"pre-training only: {BARLOW_PAPER_IMAGES:,} images x {epochs} epochs x {seeds} seeds"
        return out
    phases = PHASE_EPOCHS.get(name, {})
    known = {p: s for p, s in rates.items() if p in phases}
    if known:
        total = sum(s * int(paper.get(phases[p], conf[phases[p]])) for p, s in known.items()) * seeds
        out["projected_paper_s"] = total
        out["projection"] = " + ".join(f"{p} {int(paper.get(phases[p], conf[phases[p]]))} epochs" for p in known) + \
            f", x {seeds} seeds"
    return out


def _fmt_s(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return f"{seconds / 3600:.2f} h" if seconds >= 3600 else f"{seconds / 60:.1f} min" if seconds >= 60 else f"{seconds:.1f} s"


def _fmt_mem(nbytes: int | None) -> str:
    return "-" if nbytes is None else f"{nbytes / 2**30:.2f} GiB"


def environment(device: str) -> dict:
    import torch

    env = {"python": platform.python_version(), "torch": torch.__version__, "device": device,
           "cpu_cores": os.cpu_count(), "host": platform.node()}
    if device == "cuda" and torch.cuda.is_available():
        env["gpu"] = torch.cuda.get_device_name(0)
        env["gpu_memory_gib"] = round(torch.cuda.get_device_properties(0).total_memory / 2**30, 1)
        env["cuda"] = torch.version.cuda
    try:
        env["uptime"] = subprocess.run(["uptime"], capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    return env


def table(report: dict) -> str:
    env = report["environment"]
    lines = [f"sslab GPU check, {report['finished']}: device {env['device']}"
             + (f" ({env['gpu']}, {env['gpu_memory_gib']} GiB)" if "gpu" in env else "")
             + f", torch {env['torch']}, {'tiny sizes (CI)' if report['tiny'] else 'paper sizes'}, "
             f"{report['total_s']:.0f} s in all", env.get("uptime", ""), "",
             "benchmarks (their own ratio lines; reference and sslab measured in the same process)",
             f"{'benchmark':24} {'status':12} {'wall':>9} {'peak mem':>10}  result"]
    for name, r in report["benchmarks"].items():
        result = " | ".join(r.get("result", [])) or r.get("error", "")
        lines.append(f"{name:24} {r['status'][:12]:12} {_fmt_s(r.get('wall_s')):>9} {_fmt_mem(r.get('peak_bytes')):>10}  "
                     f"{result}")
    lines += ["", ("recipes: smoke preset, one seed, a few epochs (tiny: the projection uses the paper's epochs and "
               "seeds at smoke sizes, a check of the code path, not an estimate)" if report["tiny"] else
               "recipes: paper preset, one seed, a few epochs, on data sslab makes at the paper's size; "
               "the whole preset projected from the measured seconds per epoch"),
              f"{'recipe':10} {'status':12} {'wall':>9} {'peak mem':>10} {'paper preset':>13}  measured s/epoch; projection"]
    for name, r in report["recipes"].items():
        rates = ", ".join(f"{p} {s:.3g}" for p, s in r.get("seconds_per_epoch", {}).items())
        lines.append(f"{name:10} {r['status'][:12]:12} {_fmt_s(r.get('wall_s')):>9} {_fmt_mem(r.get('peak_bytes')):>10} "
                     f"{_fmt_s(r.get('projected_paper_s')):>13}  {rates}; {r.get('projection', r.get('error', ''))}")
    return "\n".join(lines) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda", choices=("cuda", "cpu"))
    ap.add_argument("--tiny", action="store_true", help="tiny sizes and the smoke preset (CI, CPU): the same code path")
    ap.add_argument("--out", type=Path, default=None, help="folder for gpu_check.txt/.json (default: $OUT, else gpu-check/)")
    ap.add_argument("--budget-s", type=float, default=510.0, help="stop starting items after this many seconds")
    ap.add_argument("--only", default="", help="comma-separated item names to run (default: all)")
    ap.add_argument("--child-benchmark", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--child-recipe", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--child-out", default=None, help=argparse.SUPPRESS)
    args, rest = ap.parse_known_args()
    if args.child_benchmark:
        child_benchmark(args.child_benchmark, args.device, rest)
        return 0
    if args.child_recipe:
        child_recipe(args.child_recipe, args.device, args.tiny, args.child_out)
        return 0
    if rest:
        ap.error(f"unrecognized arguments: {' '.join(rest)}")
    import torch

    if args.device == "cuda" and not torch.cuda.is_available():
        print("gpu_check: error: --device cuda but no CUDA GPU is visible; run it on a GPU machine or use --device cpu --tiny",
              file=sys.stderr)
        return 2
    out = args.out or Path(os.environ.get("OUT") or "gpu-check")
    out.mkdir(parents=True, exist_ok=True)
    only = {s for s in args.only.split(",") if s}
    start = time.perf_counter()
    deadline = start + args.budget_s
    report: dict = {"tiny": args.tiny, "environment": environment(args.device), "benchmarks": {}, "recipes": {}}
    tiny = args.tiny

    def left() -> float:
        return deadline - time.perf_counter()

    for script, (gpu_args, tiny_args) in BENCHMARKS.items():
        if only and script.removesuffix(".py") not in only:
            continue
        if left() < 20:
            report["benchmarks"][script] = {"status": "skipped", "error": "time budget spent"}
            continue
        r = _run_child(["--child-benchmark", script, "--device", args.device, *(tiny_args if tiny else gpu_args)],
                       min(left(), 60 if not tiny else 120))
        r["result"] = _result_lines(r.pop("output", ""))
        report["benchmarks"][script] = r
        print(f"{script}: {r['status']}, {r['wall_s']:.0f} s", flush=True)
    runs = out / "runs"
    for name, (_paper, _small, limit) in BOXES.items():
        if only and name not in only:
            continue
        if left() < 30:
            report["recipes"][name] = {"status": "skipped", "error": "time budget spent"}
            continue
        r = _run_child(["--child-recipe", name, "--child-out", str(runs), "--device", args.device,
                        *(["--tiny"] if tiny else [])], min(left(), limit if not tiny else 180))
        r.pop("output", None)
        if r.get("run"):
            r.update(project(name, Path(r["run"])))
        report["recipes"][name] = r
        print(f"{name}: {r['status']}, {r['wall_s']:.0f} s, paper preset {_fmt_s(r.get('projected_paper_s'))}",
              flush=True)
    report["total_s"] = time.perf_counter() - start
    report["finished"] = time.strftime("%Y-%m-%d %H:%M:%S")
    text = table(report)
    (out / "gpu_check.json").write_text(json.dumps(report, indent=2) + "\n")
    (out / "gpu_check.txt").write_text(text)
    print(text, end="")
    print(f"written: {out / 'gpu_check.txt'}, {out / 'gpu_check.json'}")
    failed = [n for part in ("benchmarks", "recipes") for n, r in report[part].items() if r["status"] != "ok"]
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
