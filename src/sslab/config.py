"""Typed recipe configs: a dataclass of defaults, named presets, checked overrides.

Each recipe declares ``@dataclass class Config`` whose defaults are the ``quick`` preset
and whose fields carry their limits in ``field(metadata=...)``::

    epochs: int = param(15, "training epochs for each arm", min=1)
    optimizer: str = param("adam", "...", choices=("adam", "sgd"))

Presets are plain dicts of field values. ``key=value`` overrides from the command line
are parsed against the field's type; an unknown key, a wrong type or a value out of
range raises :class:`UserError` naming the key and what is allowed. Nothing is
``eval``-ed.
"""

from __future__ import annotations

import dataclasses
import difflib
import typing
from typing import Any, Mapping, TypeVar

from sslab.errors import UserError

C = TypeVar("C")


def param(default: Any, help: str, *, min: float | None = None, max: float | None = None,
          choices: tuple | None = None) -> Any:
    """A config field with a help text and optional bounds or choices."""
    meta = {"help": help, "min": min, "max": max, "choices": choices}
    if isinstance(default, (list, dict)):
        return dataclasses.field(default_factory=lambda: type(default)(default), metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def _field_types(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _parse_scalar(text: str, kind: type, key: str) -> Any:
    text = text.strip()
    if kind is bool:
        low = text.lower()
        if low in ("1", "true", "yes", "on"):
            return True
        if low in ("0", "false", "no", "off"):
            return False
        raise UserError(f"{key}={text!r}: expected true or false")
    if kind is int:
        try:
            return int(text)
        except ValueError:
            try:
                as_float = float(text)
            except ValueError:
                as_float = None
            if as_float is not None and as_float.is_integer():
                return int(as_float)
            raise UserError(f"{key}={text!r}: expected a whole number") from None
    if kind is float:
        try:
            return float(text)
        except ValueError:
            raise UserError(f"{key}={text!r}: expected a number") from None
    if kind is str:
        return text
    raise UserError(f"{key}: cannot be set from the command line")


def parse_value(cls: type, key: str, text: str) -> Any:
    """Parse ``text`` as the value of field ``key`` of config class ``cls``."""
    hints = _field_types(cls)
    kind = hints[key]
    origin = typing.get_origin(kind)
    if origin in (list, tuple):
        (inner, *_) = typing.get_args(kind) or (str,)
        parts = [p for p in text.strip("[]() ").split(",") if p.strip()]
        items = [_parse_scalar(p, inner, key) for p in parts]
        return tuple(items) if origin is tuple else items
    return _parse_scalar(text, kind, key)


def _check(cls: type, key: str, value: Any) -> None:
    f = {f.name: f for f in dataclasses.fields(cls)}[key]
    meta = f.metadata
    values = value if isinstance(value, (list, tuple)) else [value]
    for v in values:
        if meta.get("choices") is not None and v not in meta["choices"]:
            allowed = ", ".join(str(c) for c in meta["choices"])
            raise UserError(f"{key}={v}: not one of {allowed}")
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            lo, hi = meta.get("min"), meta.get("max")
            if lo is not None and v < lo:
                raise UserError(f"{key}={v}: must be at least {lo}")
            if hi is not None and v > hi:
                raise UserError(f"{key}={v}: must be at most {hi}")


def _unknown_key(cls: type, key: str, recipe: str) -> UserError:
    names = [f.name for f in dataclasses.fields(cls)]
    close = difflib.get_close_matches(key, names, n=1)
    hint = f" (did you mean {close[0]}?)" if close else ""
    return UserError(f"unknown option {key!r} for recipe {recipe}{hint}; see `sslab run {recipe} --help-config`")


def build_config(cls: type[C], presets: Mapping[str, Mapping[str, Any]], preset: str,
                 overrides: Mapping[str, str] | None = None, recipe: str = "") -> C:
    """Defaults, then the preset, then ``key=value`` overrides, each checked."""
    if preset not in presets:
        raise UserError(f"unknown preset {preset!r} for {recipe}; choose one of {', '.join(presets)}")
    names = {f.name for f in dataclasses.fields(cls)}
    values: dict[str, Any] = {}
    for key, value in presets[preset].items():
        if key not in names:  # a bug in the recipe, not user input
            raise KeyError(f"preset {preset} of {recipe} sets unknown field {key}")
        values[key] = value
    for key, text in (overrides or {}).items():
        if key not in names:
            raise _unknown_key(cls, key, recipe)
        values[key] = parse_value(cls, key, text)
    for key, value in values.items():
        _check(cls, key, value)
    cfg = cls(**values)
    validate = getattr(cfg, "validate", None)
    if validate is not None:
        validate()
    return cfg


def config_dict(cfg: Any) -> dict[str, Any]:
    out = dataclasses.asdict(cfg)
    return {k: list(v) if isinstance(v, tuple) else v for k, v in out.items()}


def config_from_dict(cls: type[C], data: Mapping[str, Any]) -> C:
    """Rebuild a config saved in ``config.yaml`` (used by ``--resume``)."""
    hints = _field_types(cls)
    values = {}
    for f in dataclasses.fields(cls):
        if f.name in data:
            v = data[f.name]
            if typing.get_origin(hints[f.name]) is tuple and isinstance(v, list):
                v = tuple(v)
            values[f.name] = v
    return cls(**values)


def describe(cls: type, presets: Mapping[str, Mapping[str, Any]]) -> str:
    """A help table: each option, its type, limits, and its value in every preset."""
    hints = _field_types(cls)
    lines = []
    for f in dataclasses.fields(cls):
        kind = hints[f.name]
        tname = getattr(kind, "__name__", str(kind)).replace("typing.", "")
        meta = f.metadata
        limits = []
        if meta.get("choices"):
            limits.append("one of " + "|".join(map(str, meta["choices"])))
        if meta.get("min") is not None:
            limits.append(f">= {meta['min']}")
        if meta.get("max") is not None:
            limits.append(f"<= {meta['max']}")
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]
        per_preset = "  ".join(
            f"{name}={presets[name].get(f.name, default)}" for name in presets
        )
        lines.append(f"  {f.name} ({tname}{'; ' + ', '.join(limits) if limits else ''})")
        lines.append(f"      {meta.get('help', '')}")
        lines.append(f"      {per_preset}")
    return "\n".join(lines)
