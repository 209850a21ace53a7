import pytest

from sslab.config import build_config, config_dict, config_from_dict
from sslab.errors import UserError
from sslab.recipes.augment.config import PRESETS, Config


def build(**overrides):
    return build_config(Config, PRESETS, "quick", {k: str(v) for k, v in overrides.items()}, "augment")


def test_presets_and_overrides_are_typed():
    cfg = build(epochs=3, lr="2e-4", seeds=2)
    assert (cfg.epochs, cfg.lr, cfg.seeds) == (3, 2e-4, 2)
    paper = build_config(Config, PRESETS, "paper", {}, "augment")
    assert (paper.epochs, paper.val_size, paper.lr) == (200, 5000, 1e-3)


def test_extra_values_sit_between_the_preset_and_the_overrides():
    """A recipe's values for real data (``extra``) replace the preset's; ``key=value`` still wins."""
    cfg = build_config(Config, PRESETS, "quick", {"lr": "2e-4"}, "augment", extra={"epochs": 7, "lr": 0.5})
    assert (cfg.epochs, cfg.lr) == (7, 2e-4)
    with pytest.raises(UserError, match="must be at least 1"):
        build_config(Config, PRESETS, "quick", {}, "augment", extra={"epochs": 0})


@pytest.mark.parametrize("key,value,message", [
    ("epoch", "3", "unknown option 'epoch' for recipe augment \\(did you mean epochs\\?\\)"),
    ("epochs", "three", "epochs='three': expected a whole number"),
    ("epochs", "0", "epochs=0: must be at least 1"),
    ("darken", "1.5", "darken=1.5: must be at most 1.0"),
    ("lr", "fast", "expected a number"),
])
def test_bad_overrides_name_the_problem(key, value, message):
    with pytest.raises(UserError, match=message):
        build_config(Config, PRESETS, "quick", {key: value}, "augment")


def test_unknown_preset():
    with pytest.raises(UserError, match="unknown preset 'huge'"):
        build_config(Config, PRESETS, "huge", {}, "augment")


def test_round_trip_through_saved_dict():
    cfg = build(epochs=4)
    assert config_from_dict(Config, config_dict(cfg)) == cfg


@pytest.mark.parametrize("key,value", [("lr", "nan"), ("lr", "inf"), ("brighten", "-inf"), ("darken", "NaN")])
def test_non_finite_floats_are_refused_before_the_limits(key, value):
    with pytest.raises(UserError, match=f"{key}=.*: must be a finite number"):
        build_config(Config, PRESETS, "quick", {key: value}, "augment")


@pytest.mark.parametrize("saved,message", [
    ({"epochs": "abc"}, "epochs='abc': expected a whole number"),
    ({"epochs": 0}, "epochs=0: must be at least 1"),
    ({"epochs": True}, "epochs=True: expected a whole number"),
    ({"lr": float("nan")}, "lr=nan: must be a finite number"),
    ({"snr_low": -5.0}, "option 'snr_low' is not an option of this recipe"),
])
def test_a_saved_config_is_checked_like_a_fresh_one(saved, message):
    data = {**config_dict(build()), **saved}
    with pytest.raises(UserError, match=f"RUN/config.yaml: {message}"):
        config_from_dict(Config, data, source="RUN/config.yaml")


def test_a_saved_int_widens_to_a_float_field():
    assert config_from_dict(Config, {**config_dict(build()), "lr": 1})
