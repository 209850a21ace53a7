"""The package's layers: no import runs back up, and nothing outside a recipe imports a recipe's helpers."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from sslab_testing import REPO

SRC = REPO / "src" / "sslab"
# Lower layers first; a module may import its own layer and any layer before it.
LAYERS = [("errors", "config", "__init__"), ("train",), ("audio",), ("data",), ("vision",), ("report",),
          ("recipes",), ("runner", "resume", "estimate", "parallel", "merge", "commands", "cli", "__main__")]
RANK = {name: i for i, names in enumerate(LAYERS) for name in names}


def layer_of(module: str) -> str:
    """The top-level part of ``sslab.<part>...`` (``sslab`` alone is the package's ``__init__``)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def sslab_imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every ``sslab`` import in a file, at any depth (imports inside functions count)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "sslab":
                found += [(node.lineno, f"sslab.{a.name}") for a in node.names]
            elif node.module.startswith("sslab."):
                found.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.startswith("sslab.")]
    return found


def test_the_layer_table_covers_every_top_level_part():
    parts = {p.stem if p.is_file() else p.name for p in SRC.iterdir() if not p.name.startswith(".")
             and p.name != "__pycache__" and (p.is_dir() or p.suffix == ".py")}
    assert parts <= set(RANK), f"add {sorted(parts - set(RANK))} to LAYERS"


@pytest.mark.parametrize("path", sorted(SRC.rglob("*.py")), ids=lambda p: str(p.relative_to(SRC)))
def test_no_import_runs_back_up(path):
    here = path.relative_to(SRC).parts[0].removesuffix(".py")
    wrong = [f"line {line}: {module}" for line, module in sslab_imports(path)
             if RANK.get(layer_of(module), 0) > RANK[here]]
    assert not wrong, f"{path.relative_to(REPO)} ({here}) imports from a higher layer: {wrong}"


def test_tests_and_benchmarks_import_no_recipe_helpers():
    """A recipe's own test may import its Config, presets and steps; elsewhere only a recipe's
    config (its options and presets) may be imported: benchmarks time library code, and other
    tests test the library."""
    recipes = {p.name for p in (SRC / "recipes").iterdir() if (p / "__init__.py").is_file()}
    wrong = []
    for path in [*sorted((REPO / "benchmarks").glob("*.py")), *sorted((REPO / "tests").rglob("*.py"))]:
        rel = path.relative_to(REPO)
        own = path.stem.removeprefix("test_") if rel.parts[:2] == ("tests", "recipes") else None
        for line, module in sslab_imports(path):
            parts = module.split(".")
            if (parts[:2] == ["sslab", "recipes"] and len(parts) > 2 and parts[2] in recipes and parts[2] != own
                    and parts[3:] != ["config"]):
                wrong.append(f"{rel}:{line} imports {module}")
    assert not wrong, "\n".join(wrong)
