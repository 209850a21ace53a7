import json
from pathlib import Path

import pytest
import torch

from sslab.config import build_config
from sslab.errors import UserError
from sslab.runner import run_recipe
from sslab.recipes.pretext.config import LAST_LAYER, PRESETS, Config
from sslab.recipes.pretext.train import split, transfer_optimizer, transferred_model
from sslab.train.checkpoint import load_model, save_model
from sslab.vision.models import SmallCNN

from sslab_testing import kill_midway, sslab


def _cfg(preset="quick", **overrides):
    return build_config(Config, PRESETS, preset, {k: str(v) for k, v in overrides.items()}, "pretext")


def test_paper_split_is_the_last_500_and_the_other_49500():
    labels = torch.arange(50_000) % 10
    cfg = _cfg("paper")
    labeled, unlabeled = split(labels, 10, cfg)
    assert labeled.tolist() == list(range(49_500, 50_000))
    assert unlabeled.tolist() == list(range(49_500))
    assert cfg.labeled_size == 500 and cfg.labeled_selection == "auto" and cfg.pretext_task == "flip-rotate"
    assert cfg.epochs == 10_000 and cfg.eval_every == 100 and cfg.pretext_epochs == 100 and cfg.transfer_lr == 1e-5


def test_paper_on_a_class_grouped_folder_labels_the_last_50_of_each_class():
    # The official batches mix the classes (last 500 = about 50 each); an image folder is grouped by class,
    # where the seed's "last 500" would all be trucks: `auto` (the paper preset) takes 50 of each instead.
    grouped = torch.arange(10).repeat_interleave(5000)
    labeled, unlabeled = split(grouped, 10, _cfg("paper"))
    assert torch.bincount(grouped[labeled], minlength=10).tolist() == [50] * 10
    assert labeled.tolist()[:2] == [4950, 4951] and len(unlabeled) == 49_500
    with pytest.raises(UserError, match="labels only one class"):
        split(grouped, 10, _cfg("paper", labeled_selection="last"))


def test_last_on_class_grouped_order_is_lopsided_and_stratified_is_balanced():
    labels = torch.arange(10).repeat_interleave(300)  # an image folder: grouped by class
    last, _ = split(labels, 10, _cfg(labeled_size=500, labeled_selection="last"))
    assert torch.bincount(labels[last], minlength=10).tolist() == [0] * 8 + [200, 300]
    strat, unlabeled = split(labels, 10, _cfg(labeled_size=500, labeled_selection="stratified", unlabeled_size=1000))
    assert torch.bincount(labels[strat], minlength=10).tolist() == [50] * 10
    assert len(unlabeled) == 1000 and not set(strat.tolist()) & set(unlabeled.tolist())
    assert torch.bincount(labels[unlabeled], minlength=10).min() >= 95  # evenly spread, not the first classes
    with pytest.raises(UserError, match="divisible"):
        split(labels, 10, _cfg(labeled_size=55, labeled_selection="stratified"))
    with pytest.raises(UserError, match="must be smaller"):
        split(labels, 10, _cfg(labeled_size=3000))


def test_transfer_copies_every_layer_but_the_last_and_reinitialises_it(tmp_path):
    torch.manual_seed(0)
    pretext = SmallCNN(3)
    path = tmp_path / "pretext.safetensors"
    save_model(path, pretext)
    torch.manual_seed(1)
    model = transferred_model(path, 10, 32, seed=0)
    source = pretext.state_dict()
    for name, tensor in model.state_dict().items():
        if name.startswith(LAST_LAYER):
            assert tensor.shape[0] == 10
            continue
        assert torch.equal(tensor, source[name]), name
    # The new layer is He-initialised: exactly what a fresh network drawn from the same seed has,
    # zero bias and weights of standard deviation sqrt(2 / fan_in) = sqrt(2 / 20).
    torch.manual_seed(1)
    fresh = SmallCNN(10)
    assert torch.equal(model.fc2.weight, fresh.fc2.weight) and torch.count_nonzero(model.fc2.bias) == 0
    assert 0.7 < model.fc2.weight.std().item() / (2 / 20) ** 0.5 < 1.3


def test_pretext_model_of_another_architecture_names_both_shapes(tmp_path):
    path = tmp_path / "other.safetensors"
    save_model(path, SmallCNN(3, image_size=28))
    with pytest.raises(UserError, match=r"fc1.weight has shape \(20, 160\) in the file but \(20, 250\) in the model"):
        transferred_model(path, 10, 32, seed=0)
    with pytest.raises(UserError, match="made by the pretext step of `sslab run pretext`"):
        transferred_model(tmp_path / "missing.safetensors", 10, 32, seed=0)


def test_optimizer_has_the_two_rates_on_the_right_parameters():
    model = SmallCNN(10)
    opt = transfer_optimizer(model, _cfg(transfer_lr=1e-6, lr=1e-3))
    by_id = {id(p): name for name, p in model.named_parameters()}
    groups = {g["lr"]: sorted(by_id[id(p)] for p in g["params"]) for g in opt.param_groups}
    assert groups == {1e-6: ["conv1.bias", "conv1.weight", "conv2.bias", "conv2.weight", "fc1.bias", "fc1.weight"],
                      1e-3: ["fc2.bias", "fc2.weight"]}
    one = transfer_optimizer(SmallCNN(10), _cfg(finetune="one-rate", finetune_lr=1e-4))
    assert [g["lr"] for g in one.param_groups] == [1e-4] and len(one.param_groups[0]["params"]) == 8
    frozen_model = SmallCNN(10)
    frozen = transfer_optimizer(frozen_model, _cfg(finetune="freeze"))
    assert [len(g["params"]) for g in frozen.param_groups] == [2]
    assert [n for n, p in frozen_model.named_parameters() if p.requires_grad] == ["fc2.weight", "fc2.bias"]


def test_smoke_run_end_to_end(tmp_path):
    proc = sslab("run", "pretext", "--preset", "smoke", "--out", str(tmp_path), "--seeds", "2", "--device", "cpu")
    assert proc.returncode == 0, proc.stderr
    (run,) = tmp_path.iterdir()
    for name in ("summary.json", "report.html", "figures/test_accuracy.png", "figures/pretext_accuracy.svg",
                 "figures/pretext_examples.png", "splits/labeled.json", "checkpoints/seed1-pretext-model.safetensors",
                 "checkpoints/seed0-transfer-model.safetensors"):
        assert (run / name).is_file(), name
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    epochs = [r["epoch"] for r in records if r.get("phase") == "baseline" and r["seed"] == 0]
    assert epochs == [0, 10, 20, 30, 40]
    pretext = [r for r in records if r.get("phase") == "pretext"]
    assert len(pretext) == 4 and pretext[0]["train_images"] == 3 * 300
    summary = json.loads((run / "summary.json").read_text())
    assert summary["claims"][0]["n_seeds"] == 2
    assert sum(json.loads((run / "splits/labeled.json").read_text())["labeled_class_counts"]) == 100
    html = (run / "report.html").read_text()
    assert "from scratch" in html and "overfit" in html and "https://" not in html

    # A later run can reuse this pretext model; one of another class count is refused before it starts.
    with pytest.raises(UserError, match=r"fc2.weight has shape \(3, 20\) in the file but \(4, 20\) in the model"):
        run_recipe("pretext", preset="smoke", out=tmp_path / "reuse", device="cpu", overrides={
            "pretext_model": str(run / "checkpoints/seed0-pretext-model.safetensors"), "pretext_task": "rotnet"})
    assert not (tmp_path / "reuse").exists()


def _final_metrics(run: Path) -> list[tuple]:
    keep = ("seed", "phase", "epoch", "train_loss", "train_acc", "test_acc", "test_loss")
    return [tuple(r.get(k) for k in keep) for r in map(json.loads, (run / "metrics.jsonl").read_text().splitlines())
            if "test_acc" in r]


def test_killed_in_every_phase_resumes_to_the_same_numbers(tmp_path):
    args = ["run", "pretext", "--preset", "smoke", "synthetic_size=300", "synthetic_test_size=100", "pretext_epochs=3",
            "epochs=30", "--device", "cpu"]
    overrides = dict(a.split("=") for a in args if "=" in a)
    ref_run = run_recipe("pretext", preset="smoke", overrides=overrides, out=tmp_path / "ref", device="cpu").root
    phases = [json.loads(line).get("phase") for line in (ref_run / "metrics.jsonl").read_text().splitlines()]
    # Kill once inside each phase: after the first pretext epoch, mid-baseline, mid-transfer.
    kill_points = [phases.index("pretext") + 1, phases.index("baseline") + 2, phases.index("transfer") + 2]

    run = kill_midway(args, tmp_path / "killed", lambda lines: len(lines) >= kill_points[0])
    for point in kill_points[1:]:
        kill_midway(["run", "--resume", str(run)], run, lambda lines, point=point: len(lines) >= point)
    resumed = sslab("run", "--resume", str(run))
    assert resumed.returncode == 0, resumed.stderr
    assert _final_metrics(run) == _final_metrics(ref_run)
    assert [r for r in _final_metrics(run) if r[1] == "transfer"], "the resumed run skipped the transfer"


@pytest.mark.parametrize("overrides,message", [
    ({"labeled_selection": "first"}, "labeled_selection"),
    ({"pretext_task": "jigsaw"}, "pretext_task"),
    ({"finetune": "all"}, "finetune"),
    ({"transfer_lr": "-1"}, "transfer_lr=-1"),
    ({"pretext_model": "/no/such/file.safetensors"}, "no such file"),
])
def test_bad_options_are_user_errors(overrides, message):
    with pytest.raises(UserError, match=message):
        build_config(Config, PRESETS, "quick", overrides, "pretext")


def test_bad_input_on_the_cli_is_one_line_exit_2_and_leaves_nothing(tmp_path):
    proc = sslab("run", "pretext", "--preset", "smoke", "labeled_size=500", "--out", str(tmp_path / "runs"))
    assert proc.returncode == 2, proc.stderr
    assert "labeled_size=500 must be smaller than the 400 training images" in proc.stderr
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "runs").exists()


def test_real_cifar10_slice(cifar_jpeg_slice, tmp_path):
    """Real CIFAR-10 JPEGs: the pretext task is learnable, scratch beats chance, transfer keeps its layers."""
    proc = sslab("run", "pretext", "--data", str(cifar_jpeg_slice), "--out", str(tmp_path), "--device", "cpu",
                 "labeled_size=500", "unlabeled_size=1000", "pretext_epochs=2", "pretext_batch_size=32", "epochs=60",
                 "eval_every=30")
    assert proc.returncode == 0, proc.stderr
    (run,) = tmp_path.iterdir()
    summary = json.loads((run / "summary.json").read_text())
    h = summary["headline"]
    assert h["pretext_test_acc"]["mean"] > 0.4  # 3 versions: chance is 1/3
    assert h["baseline_best_test_acc"]["mean"] > 0.15
    # Transferred layers stay within 60 Adam steps of 1e-5 of the pretext weights (an Adam step is at most
    # about 3x its rate; at 1e-3 they would move ~100 times as far); the new layer, at 1e-3, moved.
    pretext, transfer = SmallCNN(3), SmallCNN(10)
    load_model(run / "checkpoints/seed0-pretext-model.safetensors", pretext)
    load_model(run / "checkpoints/seed0-transfer-model.safetensors", transfer)
    for name, tensor in transfer.state_dict().items():
        if not name.startswith(LAST_LAYER):
            assert (tensor - pretext.state_dict()[name]).abs().max() <= 3 * 60 * 1e-5, name
    assert transfer.fc2.bias.abs().max() > 1e-3  # He init sets it to zero; 60 steps at 1e-3 move it
    counts = json.loads((run / "splits/labeled.json").read_text())["labeled_class_counts"]
    assert counts == [50] * 10
