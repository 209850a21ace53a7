"""Checkpoints in safetensors: model weights, and full training state for ``--resume``.

Nothing here unpickles: tensors go into a safetensors file and everything else
(epoch counters, optimizer hyper-parameters, RNG states) into its JSON metadata, so a
checkpoint someone downloaded can be loaded without running code from it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Mapping

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, safe_open, save_file

from sslab.errors import UserError
from sslab.train.atomic import atomic_path

_TENSOR = "__tensor__"


def _flatten(obj: Any, prefix: str, tensors: dict[str, torch.Tensor]) -> Any:
    """Replace every tensor in a nested dict/list by a reference and collect it."""
    if isinstance(obj, torch.Tensor):
        key = prefix or "value"
        tensors[key] = obj.detach().to("cpu").contiguous()
        return {_TENSOR: key}
    if isinstance(obj, Mapping):
        # JSON keys are strings; remember int keys (optimizer state uses them).
        return {
            "__dict__": [
                [k, _flatten(v, f"{prefix}.{k}" if prefix else str(k), tensors)] for k, v in obj.items()
            ]
        }
    if isinstance(obj, (list, tuple)):
        items = [_flatten(v, f"{prefix}.{i}" if prefix else str(i), tensors) for i, v in enumerate(obj)]
        return {"__tuple__": items} if isinstance(obj, tuple) else items
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(f"cannot store {type(obj).__name__} at {prefix!r} in a checkpoint")


def _unflatten(obj: Any, tensors: Mapping[str, torch.Tensor]) -> Any:
    if isinstance(obj, dict):
        if _TENSOR in obj:
            return tensors[obj[_TENSOR]]
        if "__dict__" in obj:
            return {k: _unflatten(v, tensors) for k, v in obj["__dict__"]}
        if "__tuple__" in obj:
            return tuple(_unflatten(v, tensors) for v in obj["__tuple__"])
        raise ValueError("malformed checkpoint metadata")
    if isinstance(obj, list):
        return [_unflatten(v, tensors) for v in obj]
    return obj


def save_state(path: str | os.PathLike, state: Mapping[str, Any]) -> None:
    """Atomically save a nested structure of tensors and plain values."""
    tensors: dict[str, torch.Tensor] = {}
    tree = _flatten(dict(state), "", tensors)
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata={"sslab_state": json.dumps(tree)})


def load_state(path: str | os.PathLike, device: str | torch.device = "cpu") -> dict[str, Any]:
    """Load what :func:`save_state` wrote. Raises UserError for a missing or corrupt file."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"checkpoint not found: {path}")
    try:
        tensors = load_file(str(path), device=str(device))
        with safe_open(str(path), framework="pt") as fh:
            meta = fh.metadata() or {}
    except (SafetensorError, OSError, ValueError) as exc:
        raise UserError(f"checkpoint {path} is unreadable ({exc}); delete it or re-run the step that writes it") from None
    if "sslab_state" not in meta:
        # A plain weights file (save_model without extras): tensors only.
        return dict(tensors)
    try:
        return _unflatten(json.loads(meta["sslab_state"]), tensors)
    except (ValueError, KeyError, TypeError) as exc:
        raise UserError(f"checkpoint {path} has damaged metadata ({type(exc).__name__}); delete it and resume, "
                        "the step that writes it runs again") from None


def save_model(path: str | os.PathLike, model: torch.nn.Module, meta: Mapping[str, Any] | None = None) -> None:
    """Save a model's weights (safetensors) with JSON-able metadata such as its config."""
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata={"sslab_meta": json.dumps(dict(meta or {}))})


def read_model_meta(path: str | os.PathLike) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise UserError(f"model file not found: {path}")
    try:
        with safe_open(str(path), framework="pt") as fh:
            meta = fh.metadata() or {}
    except (SafetensorError, OSError, ValueError) as exc:
        raise UserError(f"model file {path} is unreadable ({exc})") from None
    try:
        found = json.loads(meta.get("sslab_meta", "{}"))
    except ValueError:
        found = None
    if not isinstance(found, dict):
        raise UserError(f"model file {path} has damaged metadata (not a JSON object); write it again by re-running "
                        "the training that made it")
    return found


def load_model(
    path: str | os.PathLike,
    model: torch.nn.Module,
    *,
    skip: tuple[str, ...] = (),
    made_by: str = "",
) -> dict[str, Any]:
    """Load weights into ``model`` with shape checks; return the file's metadata.

    ``skip`` lists parameter-name prefixes not to load (for example the last layer when
    transferring to another task). A shape mismatch names both shapes; a missing file
    says which step makes it (``made_by``).
    """
    path = Path(path)
    if not path.is_file():
        hint = f"; it is made by {made_by}" if made_by else ""
        raise UserError(f"model file not found: {path}{hint}")
    try:
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise UserError(f"model file {path} is unreadable ({exc})") from None
    own = model.state_dict()
    wanted = {k: v for k, v in own.items() if not k.startswith(skip)}
    broken = [k for k in wanted if k in tensors and tensors[k].is_floating_point()
              and not bool(torch.isfinite(tensors[k]).all())]
    if broken:
        raise UserError(f"{path} holds NaN or infinite weights ({broken[0]}): the training that wrote it diverged; "
                        "train again with a smaller learning rate")
    missing = sorted(set(wanted) - set(tensors))
    if missing:
        raise UserError(
            f"{path} does not fit this model: it lacks {', '.join(missing[:4])}"
            f"{' ...' if len(missing) > 4 else ''}; was it written by another architecture?"
        )
    for key, target in wanted.items():
        if tuple(tensors[key].shape) != tuple(target.shape):
            raise UserError(
                f"{path} does not fit this model: {key} has shape {tuple(tensors[key].shape)} in the file "
                f"but {tuple(target.shape)} in the model (another architecture or class count?)"
            )
    with torch.no_grad():
        for key, target in wanted.items():
            target.copy_(tensors[key].to(target.dtype))
    return read_model_meta(path)


def rng_state() -> dict[str, Any]:
    """The global RNG states a training step may touch (torch CPU/CUDA, numpy, random)."""
    import random

    import numpy as np

    np_state = np.random.get_state()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": [np_state[0], torch.from_numpy(np_state[1].astype("int64")), int(np_state[2]), int(np_state[3]), float(np_state[4])],
        "python": json.dumps(random.getstate()),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: Mapping[str, Any]) -> None:
    import random

    import numpy as np

    torch.set_rng_state(state["torch"].to(torch.uint8))
    name, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((name, keys.numpy().astype("uint32"), pos, has_gauss, cached))
    py = json.loads(state["python"])
    random.setstate((py[0], tuple(py[1]), py[2]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.to(torch.uint8) for s in state["cuda"]])
