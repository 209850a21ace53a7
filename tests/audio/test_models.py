import numpy as np
import pytest
import torch

from sslab.audio.models import FramewiseMasker, RecurrentMasker, architecture, build_masker
from sslab.audio.stream import StreamingDenoiser, denoise_signal
from sslab.errors import UserError


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_recurrent_masker_is_causal_and_rebuilds_from_its_architecture(cell):
    torch.manual_seed(0)
    model = RecurrentMasker(513, cell, hidden=32, layers=2, dropout=0.1, proj=24, head=40).eval()
    mag = torch.rand(2, 20, 513)
    out = model(mag)
    assert out.shape == (2, 20, 513)
    changed = mag.clone()
    changed[:, 10:] += 1.0
    # frame t depends on frames 1..t only (the seed's equation 3)
    assert torch.equal(model(changed)[:, :10], out[:, :10])
    assert not torch.allclose(model(changed)[:, 10:], out[:, 10:])
    rebuilt = build_masker(architecture(model))
    rebuilt.load_state_dict(model.state_dict())
    assert torch.equal(rebuilt.eval()(mag), out)
    assert architecture(rebuilt)["proj"] == 24 and architecture(rebuilt)["head"] == 40


def test_model_files_without_an_input_layer_still_load():
    """Models saved before the input and output layers existed have no "proj"/"head" in their architecture."""
    old = RecurrentMasker(513, "gru", hidden=8)
    spec = architecture(old)
    spec.pop("proj"), spec.pop("head")
    rebuilt = build_masker(spec)
    assert isinstance(rebuilt.proj, torch.nn.Identity)
    rebuilt.load_state_dict(old.state_dict())


def test_framewise_baseline_sees_one_frame():
    torch.manual_seed(0)
    model = FramewiseMasker(513, hidden=16, layers=2).eval()
    mag = torch.rand(1, 5, 513)
    changed = mag.clone()
    changed[:, 2] *= 3
    diff = (model(changed) - model(mag)).abs().sum(-1)[0]
    assert diff[2] > 0 and diff[[0, 1, 3, 4]].sum() == 0
    assert architecture(build_masker(architecture(model))) == architecture(model)


@pytest.mark.parametrize("chunk", [1, 160, 512, 777, 4000])
def test_streaming_equals_whole_file(chunk):
    torch.manual_seed(0)
    model = RecurrentMasker(513, "gru", hidden=32, layers=2, proj=16, head=24)
    rng = np.random.default_rng(chunk)
    for length in (513, 1536, 9001 if chunk > 1 else 2000):
        x = (0.1 * rng.standard_normal(length)).astype(np.float32)
        offline = denoise_signal(model, x)
        stream = StreamingDenoiser(model)
        pieces = [stream.push(x[i:i + chunk]) for i in range(0, length, chunk)]
        pieces.append(stream.finish())
        online = np.concatenate(pieces)
        assert online.shape == offline.shape
        np.testing.assert_allclose(online, offline, atol=1e-5)


def test_streaming_refuses_a_bidirectional_model_and_a_too_short_stream():
    with pytest.raises(UserError, match="bidirectional"):
        StreamingDenoiser(RecurrentMasker(513, "gru", hidden=8, bidirectional=True))
    stream = StreamingDenoiser(RecurrentMasker(513, "gru", hidden=8))
    stream.push(np.zeros(100, dtype=np.float32))
    with pytest.raises(UserError, match="at least 513"):
        stream.finish()
