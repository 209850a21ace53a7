"""benchmarks/gpu_check.py: the one-shot GPU check keeps working, run on the CPU at tiny sizes (as CI does)."""

import importlib.util
import json
import subprocess
import sys

from sslab import recipes as registry

from sslab_testing import REPO

SCRIPT = REPO / "benchmarks" / "gpu_check.py"
# Not speed checks of a device: the check itself, a helper module, CPU worker scheduling, and quality
# measurements (PESQ/STOI cost on the CPU; a run directory's generate measures, and how long its notes hold).
CPU_ONLY = {"gpu_check.py", "reference_models.py", "parallel_seeds.py", "denoise_quality.py", "generate_quality.py",
            "note_hold.py"}


def _module():
    spec = importlib.util.spec_from_file_location("gpu_check", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_benchmark_and_recipe_is_in_the_check():
    check = _module()
    scripts = {p.name for p in (REPO / "benchmarks").glob("*.py")} - CPU_ONLY
    assert set(check.BENCHMARKS) == scripts
    assert set(check.BOXES) == set(registry.names())


def test_projection_from_record_time_stamps_leaves_out_the_first_epoch():
    check = _module()
    records = [{"phase": "baseline", "epoch": 1, "time": 100.0}, {"phase": "baseline", "epoch": 2, "time": 110.0},
               {"phase": "baseline", "epoch": 3, "time": 112.0}, {"phase": "x", "epoch": 1, "time": 1.0}]
    assert check.phase_rates(records) == {"baseline": 6.0}


def test_tiny_cpu_check_writes_the_table(tmp_path):
    proc = subprocess.run([sys.executable, str(SCRIPT), "--device", "cpu", "--tiny", "--out", str(tmp_path),
                           "--only", "augment_throughput,augment"], capture_output=True, text=True, timeout=600,
                          cwd=REPO)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads((tmp_path / "gpu_check.json").read_text())
    bench, recipe = report["benchmarks"]["augment_throughput.py"], report["recipes"]["augment"]
    assert bench["status"] == "ok" and any("ratio" in line for line in bench["result"])
    assert recipe["status"] == "ok" and recipe["projected_paper_s"] > 0
    assert set(recipe["seconds_per_epoch"]) == {"baseline", "augmented"}
    text = (tmp_path / "gpu_check.txt").read_text()
    assert "augment_throughput.py" in text and "augment " in text and "tiny" in text


def test_cuda_without_a_gpu_is_one_line(tmp_path):
    import pytest
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is visible: the check would run")
    proc = subprocess.run([sys.executable, str(SCRIPT), "--device", "cuda", "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=120, cwd=REPO)
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1 and "no CUDA GPU" in proc.stderr
