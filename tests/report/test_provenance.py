"""The reproduce block is the exact command and call (running them gives the same summary), and
claims name the data they were tested on."""

from __future__ import annotations

import contextlib
import io
import json
import shlex

import pytest

from sslab import recipes as registry
from sslab import runner
from sslab.cli import _split_overrides
from sslab.config import build_config, config_dict
from sslab.errors import UserError
from sslab.report import provenance
from sslab.train.rundir import Run
from sslab_testing import sslab


def _conf(recipe: str, preset: str, changed: dict, data=None, seeds=(0,)) -> dict:
    r = registry.get(recipe)
    cfg = config_dict(build_config(r.Config, r.presets, preset, {}, recipe))
    cfg.update(changed)
    return {"recipe": recipe, "preset": preset, "config": cfg, "seeds": list(seeds), "data": data,
            "device": "cpu", "threads": 3}


def _another_value(value, meta):
    """An allowed value other than ``value`` (None when there is none to pick)."""
    if isinstance(value, bool):
        return not value
    if meta.get("choices"):
        return next((c for c in meta["choices"] if c != value), None)
    lo, hi = meta.get("min"), meta.get("max")
    if isinstance(value, int):
        return value + 1 if hi is None or value + 1 <= hi else value - 1
    if isinstance(value, float):
        new = value * 0.5 if value else 0.25
        return new if (lo is None or new >= lo) and (hi is None or new <= hi) else None
    if isinstance(value, str):
        return value + "x"
    return None


@pytest.mark.parametrize("recipe", registry.names())
def test_the_command_line_rebuilds_the_saved_config_for_every_recipe(recipe):
    r = registry.get(recipe)
    base = config_dict(build_config(r.Config, r.presets, "smoke", {}, recipe))
    tried = 0
    for key, value in base.items():
        new = _another_value(value, r.Config.__dataclass_fields__[key].metadata)
        if key == "seeds" or new is None:
            continue
        conf = _conf(recipe, "smoke", {key: new}, data="/data/my set", seeds=(0, 1, 2))
        try:  # a recipe's validate() may refuse a combination; the command must then say the same
            expected = config_dict(build_config(r.Config, r.presets, "smoke", {key: provenance.option_text(new)}, recipe))
        except UserError:
            continue
        args = shlex.split(provenance.command_line(conf, r.Config, r.presets))
        assert args[:4] == ["OMP_NUM_THREADS=3", "sslab", "run", recipe]
        assert args[args.index("--data") + 1] == "/data/my set" and args[args.index("--seeds") + 1] == "3"
        options = _split_overrides([a for a in args[4:] if "=" in a and not a.startswith("-")])
        assert options == {key: provenance.option_text(new)}
        rebuilt = build_config(r.Config, r.presets, args[args.index("--preset") + 1], {**options, "seeds": "3"}, recipe)
        assert config_dict(rebuilt) == {**expected, "seeds": 3} == {**conf["config"], "seeds": 3}
        tried += 1
    assert tried >= 3


def test_option_text_parses_back_to_the_same_value():
    from sslab.config import parse_value
    from dataclasses import dataclass, field

    @dataclass
    class C:
        a: float = 0.0
        b: bool = False
        c: tuple[int, ...] = field(default_factory=tuple)
        d: list[float] = field(default_factory=list)

    for key, value in (("a", 1e-6), ("a", 0.1 + 0.2), ("b", True), ("c", (3, 4)), ("d", [0.5, 2.0])):
        assert parse_value(C, key, provenance.option_text(value)) == value


def test_only_options_that_differ_from_the_preset_are_printed():
    r = registry.get("augment")
    conf = _conf("augment", "quick", {"epochs": 6, "val_size": 2000}, seeds=(0, 1))
    assert provenance.overrides(conf, r.Config, r.presets) == {"epochs": "6", "val_size": "2000"}
    source = provenance.python_call(conf, r.Config, r.presets)
    assert "run_recipe('augment', preset='quick', seeds=2, overrides={'epochs': '6', 'val_size': '2000'})" in source
    compile(source, "<reproduce>", "exec")
    assert "--data" not in provenance.command_line(conf, r.Config, r.presets)
    with_data = provenance.python_call({**conf, "data": "/d"}, r.Config, r.presets)
    assert "data=Path('/d')" in with_data and with_data.startswith("import os")


def test_claims_name_their_data():
    claim = {"claim": "x", "verdict": "supported"}
    made_up, = provenance.claims_with_provenance({"data": None}, {"claims": [claim]})
    assert made_up["made_up"] and made_up["data"].startswith("made-up")
    real, = provenance.claims_with_provenance({"data": "/d/cifar10"}, {"claims": [claim]})
    assert not real["made_up"] and "cifar10" in real["data"]
    own, = provenance.claims_with_provenance({"data": "/d"}, {"claims": [claim], "data": "CIFAR-10, 4,000 images"})
    assert own["data"] == "CIFAR-10, 4,000 images"


def test_the_printed_command_and_call_give_the_same_summary(augment_run, tmp_path, monkeypatch):
    run = Run.open(augment_run)
    block = runner.reproduce_block(run, registry.get("augment"))
    summary = run.summary()
    assert "epochs=1" in block.command and "synthetic_size=300" in block.command  # the fixture's options
    # The command line, as a user pastes it into a shell (here: `python -m sslab` for `sslab`).
    env_part, *args = shlex.split(block.command)
    assert args[:2] == ["sslab", "run"]
    key, _, value = env_part.partition("=")
    (tmp_path / "cli").mkdir()
    proc = sslab(*args[1:], cwd=tmp_path / "cli", env={key: value})
    assert proc.returncode == 0, proc.stderr[-2000:]
    (again,) = (tmp_path / "cli" / "runs").iterdir()
    redone = json.loads((again / "summary.json").read_text())
    assert redone["text"] == summary["text"] and redone["headline"]["gain_points"] == summary["headline"]["gain_points"]
    assert Run(again).config()["config"] == run.config()["config"]

    # The Python call, run as printed; it prints the block's output.
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(key, value)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(block.source, "<reproduce>", "exec"), {})
    assert printed.getvalue().endswith(block.output)
