"""Run-time estimates: scaled from the quick preset's measured time, a warning before long CPU runs."""

import pytest

from sslab import estimate, runner
from sslab import recipes as registry
from sslab.config import build_config, config_dict


def _cfg(name, preset="quick", **over):
    r = registry.get(name)
    return config_dict(build_config(r.Config, r.presets, preset, {k: str(v) for k, v in over.items()}, name))


@pytest.mark.parametrize("name", registry.names())
def test_quick_is_its_measured_time_and_doubling_the_epochs_doubles_it(name):
    quick = _cfg(name)
    assert estimate.seconds(name, quick, quick) == pytest.approx(estimate.QUICK_S[name])
    field = estimate.SCALE[name][1]
    assert estimate.seconds(name, _cfg(name, **{field: 2 * quick[field]}), quick) == pytest.approx(
        2 * estimate.QUICK_S[name])
    assert estimate.long_run_warning(name, quick, quick, None) is None  # the demo warns about nothing


def test_augment_on_real_cifar10_with_the_default_preset_warns_with_the_fix():
    quick = _cfg("augment")
    line = estimate.long_run_warning("augment", quick, quick, 50_000)
    est = estimate.seconds("augment", quick, quick, 50_000)
    assert est > estimate.LONG_S and line.startswith(f"augment: this run will take about {estimate.duration(est)} on one CPU core")
    fewer = int(30 * estimate.LONG_S / est)
    assert f"pass epochs={fewer}" in line and "CPU s x seeds x epochs x training items" in line
    shorter = _cfg("augment", epochs=fewer)
    assert estimate.seconds("augment", shorter, quick, 50_000) <= estimate.LONG_S
    assert estimate.long_run_warning("augment", _cfg("augment", train_size=1000), quick, 50_000) is None


def test_the_paper_presets_on_the_assignments_data_warn():
    real = {"augment": 50_000, "pretext": 49_500, "barlow": 100_000}  # CIFAR-10 train, its unlabeled part, STL-10
    for name in registry.names():
        assert estimate.long_run_warning(name, _cfg(name, "paper"), _cfg(name), real.get(name)), name


def test_a_long_run_is_announced_before_it_starts(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(estimate, "LONG_S", 0.001)
    runner.run_recipe("augment", preset="smoke", overrides={"epochs": "1", "synthetic_size": "300"}, out=tmp_path,
                      device="cpu")
    out = capsys.readouterr().out
    assert out.index("augment: this run will take about") < out.index("augment: writing")
