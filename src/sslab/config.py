"""Typed recipe configs: a dataclass of defaults, named presets, checked overrides.

Each recipe declares ``@dataclass class Config`` whose defaults are the ``quick`` preset
and whose fields carry their limits in ``field(metadata=...)``::

    epochs: int = param(15, "training epochs for each arm", min=1)
    optimizer: str = param("adam", "...", choices=("adam", "sgd"))

A float must be finite (``nan`` and ``inf`` pass every ``min``/``max`` comparison, so they
are refused first) unless its field says ``finite=False``.

Presets are plain dicts of field values. ``key=value`` overrides from the command line
are parsed against the field's type; an unknown key, a wrong type or a value out of
range raises :class:`UserError` naming the key and what is allowed. Nothing is
``eval``-ed.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import typing
from typing import Any, Mapping, TypeVar

from sslab.errors import UserError

C = TypeVar("C")


def param(default: Any, help: str, *, min: float | None = None, max: float | None = None,
          choices: tuple | None = None, finite: bool = True) -> Any:
    """A config field with a help text and optional bounds or choices; ``finite=False`` lets a
    float field take ``nan``/``inf``."""
    meta = {"help": help, "min": min, "max": max, "choices": choices, "finite": finite}
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
        if isinstance(v, float) and not math.isfinite(v) and meta.get("finite", True):
            raise UserError(f"{key}={v}: must be a finite number")
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
                 overrides: Mapping[str, str] | None = None, recipe: str = "",
                 extra: Mapping[str, Any] | None = None) -> C:
    """Defaults, then the preset, then ``extra`` (a recipe's values for real data), then ``key=value``
    overrides, each checked."""
    if preset not in presets:
        raise UserError(f"unknown preset {preset!r} for {recipe}; choose one of {', '.join(presets)}")
    names = {f.name for f in dataclasses.fields(cls)}
    values: dict[str, Any] = {}
    for key, value in {**presets[preset], **(extra or {})}.items():
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


def _typed(value: Any, kind: Any, key: str) -> Any:
    """``value`` read back from a file, checked against the field's type (ints widen to floats)."""
    origin = typing.get_origin(kind)
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise UserError(f"{key}={value!r}: expected a list")
        (inner, *_) = typing.get_args(kind) or (Any,)
        items = [v if inner is Any else _typed(v, inner, key) for v in value]
        return tuple(items) if origin is tuple else items
    if kind is bool:
        ok = isinstance(value, bool)
    elif kind is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif kind is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        value = float(value) if ok else value
    elif kind is str:
        ok = isinstance(value, str)
    else:
        ok = True
    if not ok:
        name = {bool: "true or false", int: "a whole number", float: "a number", str: "text"}[kind]
        raise UserError(f"{key}={value!r}: expected {name}")
    return value


def config_from_dict(cls: type[C], data: Mapping[str, Any], source: str = "config.yaml") -> C:
    """Rebuild a config saved in ``config.yaml`` (used by ``--resume``), checked like a fresh one:
    every value's type, its limits and the config's own ``validate``. A missing field takes its
    default; a problem is a UserError naming ``source``."""
    if not isinstance(data, Mapping):
        raise UserError(f"{source}: `config:` is not a mapping of options; restore the file or start a new run")
    hints = _field_types(cls)
    unknown = sorted(set(data) - {f.name for f in dataclasses.fields(cls)})
    if unknown:
        raise UserError(f"{source}: option {unknown[0]!r} is not an option of this recipe (was `recipe:` changed, or "
                        "the file copied from another run?); restore the file or start a new run")
    values = {}
    try:
        for f in dataclasses.fields(cls):
            if f.name in data:
                values[f.name] = _typed(data[f.name], hints[f.name], f.name)
                _check(cls, f.name, values[f.name])
        cfg = cls(**values)
        validate = getattr(cfg, "validate", None)
        if validate is not None:
            validate()
    except UserError as exc:
        raise UserError(f"{source}: {exc}; restore the value or start a new run") from None
    return cfg


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


def cli_number(kind: type = float, *, min: float | None = None, max: float | None = None,
               above: float | None = None) -> Any:
    """An argparse ``type=`` for a command-line number: finite, of ``kind``, within the limits
    (``above``: strictly greater). A bad value is argparse's one-line usage error, exit code 2."""
    import argparse

    def parse(text: str) -> Any:
        try:
            value = _parse_scalar(text, kind, "value")
        except UserError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {'a whole number' if kind is int else 'a number'}") from None
        if isinstance(value, float) and not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
        if above is not None and not value > above:
            raise argparse.ArgumentTypeError(f"{text} must be more than {above:g}")
        if min is not None and value < min:
            raise argparse.ArgumentTypeError(f"{text} must be at least {min:g}")
        if max is not None and value > max:
            raise argparse.ArgumentTypeError(f"{text} must be at most {max:g}")
        return value

    parse.__name__ = "whole number" if kind is int else "number"
    return parse
