import pytest
import torch

from sslab.errors import UserError
from sslab.train.checkpoint import load_model, load_state, rng_state, save_model, save_state, set_rng_state
from sslab.vision.models import SmallCNN


def test_state_round_trip_keeps_nested_values(tmp_path):
    model = SmallCNN()
    opt = torch.optim.Adam(model.parameters(), lr=3e-4)
    model(torch.randn(4, 3, 32, 32)).sum().backward()
    opt.step()
    state = {"epoch": 7, "model": model.state_dict(), "optim": opt.state_dict(), "pair": (1, "a"), "none": None}
    save_state(tmp_path / "s.safetensors", state)
    back = load_state(tmp_path / "s.safetensors")
    assert back["epoch"] == 7 and back["pair"] == (1, "a") and back["none"] is None
    assert set(back["optim"]["state"]) == set(opt.state_dict()["state"])  # int keys survive
    assert back["optim"]["param_groups"][0]["lr"] == 3e-4
    for k, v in model.state_dict().items():
        assert torch.equal(back["model"][k], v)


def test_model_round_trip_gives_equal_outputs(tmp_path):
    torch.manual_seed(0)
    a, b = SmallCNN(), SmallCNN()
    save_model(tmp_path / "m.safetensors", a, {"arm": "x"})
    meta = load_model(tmp_path / "m.safetensors", b)
    x = torch.randn(8, 3, 32, 32)
    assert meta == {"arm": "x"}
    assert torch.equal(a(x), b(x))


def test_shape_mismatch_names_both_shapes(tmp_path):
    save_model(tmp_path / "m.safetensors", SmallCNN(n_classes=3))
    with pytest.raises(UserError, match=r"fc2.weight has shape \(3, 20\) in the file but \(10, 20\)"):
        load_model(tmp_path / "m.safetensors", SmallCNN(n_classes=10))
    # skipping the last layer makes it fit (transfer learning)
    load_model(tmp_path / "m.safetensors", SmallCNN(n_classes=10), skip=("fc2.",))


def test_missing_and_corrupt_files_are_user_errors(tmp_path):
    with pytest.raises(UserError, match="made by the pretext step"):
        load_model(tmp_path / "nope.safetensors", SmallCNN(), made_by="the pretext step")
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x00garbage")
    with pytest.raises(UserError, match="unreadable"):
        load_state(bad)


def test_rng_state_restores_all_generators():
    import random

    import numpy as np

    state = rng_state()
    first = (torch.rand(3), np.random.rand(3), random.random())
    set_rng_state(state)
    second = (torch.rand(3), np.random.rand(3), random.random())
    assert torch.equal(first[0], second[0]) and (first[1] == second[1]).all() and first[2] == second[2]
