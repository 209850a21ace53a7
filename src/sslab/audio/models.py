"""Mask estimators: a recurrent net (GRU or LSTM) and the frame-wise fully connected baseline.

Both read magnitude spectra ``(batch, frames, bins)`` and return mask *logits* of the
same shape (the sigmoid is applied by :meth:`mask` or inside the loss, which is more
stable). The input is the log magnitude, standardised per bin with statistics of the
training set kept as buffers, so a saved model carries its own normalisation and works
on recordings of any level the training set covered.
"""

from __future__ import annotations

from typing import Any, Mapping

import torch
from torch import nn

from sslab.errors import UserError

LOG_FLOOR = 1e-4  # below 16-bit quantisation noise of a 1024-point frame; keeps log finite in silence


class Masker(nn.Module):
    """Shared input normalisation of both estimators."""

    def __init__(self, n_bins: int):
        super().__init__()
        self.n_bins = n_bins
        self.register_buffer("feature_mean", torch.zeros(n_bins))
        self.register_buffer("feature_std", torch.ones(n_bins))

    def set_feature_stats(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        with torch.no_grad():
            self.feature_mean.copy_(mean)
            self.feature_std.copy_(std.clamp(min=1e-3))

    def features(self, mag: torch.Tensor) -> torch.Tensor:
        return (torch.log(mag + LOG_FLOOR) - self.feature_mean) / self.feature_std

    def mask(self, mag: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self(mag))


class RecurrentMasker(Masker):
    """``M_t = sigmoid(f(h_t, x_t))``, ``h_t = RNN(P(x)_{1:t})``, ``x = features(|X|)``: the seed's equation (3).

    ``P`` is an optional frame-wise input layer (``proj`` ReLU units, 0: none). It maps the
    513 log-spectral features to a smaller learned basis before the recurrence, so the
    recurrent weights act on a compact representation instead of raw bins (fewer weights to
    fit per time step, less over-fitting on small speech sets). It sees one frame at a time,
    so the model stays causal and streamable.

    ``head`` (ReLU units, 0: none) replaces the linear output layer by a frame-wise hidden
    layer that reads the recurrent output *and* the frame's own features: the per-frame
    non-linear mapping the FC baseline has, plus the context the recurrence carries (a
    linear read-out of a bounded GRU state alone is a weak per-bin classifier).
    """

    def __init__(self, n_bins: int = 513, cell: str = "gru", hidden: int = 256, layers: int = 1,
                 dropout: float = 0.0, bidirectional: bool = False, proj: int = 0, head: int = 0):
        super().__init__(n_bins)
        rnn = {"gru": nn.GRU, "lstm": nn.LSTM}[cell]
        self.cell = cell
        self.bidirectional = bidirectional
        self.proj_units = proj
        self.proj = (nn.Sequential(nn.Linear(n_bins, proj), nn.ReLU(), nn.Dropout(dropout)) if proj
                     else nn.Identity())
        self.rnn = rnn(proj or n_bins, hidden, layers, batch_first=True, dropout=dropout if layers > 1 else 0.0,
                       bidirectional=bidirectional)
        self.drop = nn.Dropout(dropout)
        width = hidden * (2 if bidirectional else 1)
        self.head_units = head
        self.out = (nn.Sequential(nn.Linear(width + n_bins, head), nn.ReLU(), nn.Dropout(dropout), nn.Linear(head, n_bins))
                    if head else nn.Linear(width, n_bins))

    def forward(self, mag: torch.Tensor) -> torch.Tensor:
        return self.step(mag)[0]

    def step(self, mag: torch.Tensor, state: Any = None) -> tuple[torch.Tensor, Any]:
        """Logits for ``mag`` continuing from the recurrent ``state`` of earlier frames."""
        features = self.features(mag)
        hidden, state = self.rnn(self.proj(features), state)
        hidden = self.drop(hidden)
        if self.head_units:
            hidden = torch.cat([hidden, features], -1)
        return self.out(hidden), state


class FramewiseMasker(Masker):
    """The seed's fully connected baseline: each frame's mask from that frame alone."""

    def __init__(self, n_bins: int = 513, hidden: int = 512, layers: int = 2, dropout: float = 0.0):
        super().__init__(n_bins)
        blocks: list[nn.Module] = []
        width = n_bins
        for _ in range(layers):
            blocks += [nn.Linear(width, hidden), nn.ReLU(), nn.Dropout(dropout)]
            width = hidden
        blocks.append(nn.Linear(width, n_bins))
        self.net = nn.Sequential(*blocks)

    def forward(self, mag: torch.Tensor) -> torch.Tensor:
        return self.net(self.features(mag))

    def step(self, mag: torch.Tensor, state: Any = None) -> tuple[torch.Tensor, Any]:
        return self(mag), None


def build_masker(spec: Mapping[str, Any]) -> Masker:
    """A model from the ``architecture`` dict saved with it (see :func:`architecture`)."""
    kind = spec.get("kind")
    if kind == "rnn":
        return RecurrentMasker(spec["n_bins"], spec["cell"], spec["hidden"], spec["layers"], spec.get("dropout", 0.0),
                               spec.get("bidirectional", False), spec.get("proj", 0),
                               spec.get("head", 0))
    if kind == "fc":
        return FramewiseMasker(spec["n_bins"], spec["hidden"], spec["layers"], spec.get("dropout", 0.0))
    raise UserError(f"unknown mask estimator kind {kind!r} in the model file; was it written by `sslab run denoise`?")


def architecture(model: Masker) -> dict[str, Any]:
    """What :func:`build_masker` needs to rebuild ``model`` (stored in the checkpoint)."""
    if isinstance(model, RecurrentMasker):
        return {"kind": "rnn", "n_bins": model.n_bins, "cell": model.cell, "hidden": model.rnn.hidden_size,
                "layers": model.rnn.num_layers, "dropout": model.drop.p, "bidirectional": model.bidirectional,
                "proj": model.proj_units, "head": model.head_units}
    if isinstance(model, FramewiseMasker):
        linears = [m for m in model.net if isinstance(m, nn.Linear)]
        drops = [m for m in model.net if isinstance(m, nn.Dropout)]
        return {"kind": "fc", "n_bins": model.n_bins, "hidden": linears[0].out_features, "layers": len(linears) - 1,
                "dropout": drops[0].p if drops else 0.0}
    raise TypeError(type(model).__name__)
