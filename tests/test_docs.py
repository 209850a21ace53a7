"""The docs: every README and docs file is read; the commands they show use options that exist; every
relative link resolves; every recipe has a README the top README links to; the top README stays short."""

import dataclasses
import re

import pytest

from sslab import cli
from sslab.recipes import ORDER, get

from sslab_testing import REPO

RUN = re.compile(r"sslab run ([a-z]+)((?: +[^ #`|\n]+)*)")
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def doc_files() -> list:
    """The top README, everything under docs/, and every recipe's README."""
    return [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md")),
            *sorted((REPO / "src" / "sslab" / "recipes").glob("*/README.md"))]


def documented_runs() -> list[tuple[str, str, str]]:
    """(source, recipe, key) for every key=value option of every `sslab run RECIPE ...` shown."""
    sources = {str(p.relative_to(REPO)): p.read_text() for p in doc_files()}
    sources["sslab --help"] = cli.EPILOG
    found = []
    for name, text in sources.items():
        text = text.replace("\\\n", " ")  # shell continuation lines belong to the command
        for recipe, args in RUN.findall(text):
            if recipe not in ORDER:
                continue
            for token in args.split():
                if re.fullmatch(r"[a-z_]+=\S+", token):
                    found.append((name, recipe, token.split("=")[0]))
    return found


def test_the_docs_show_options():
    assert len(documented_runs()) > 20  # the pattern still finds the commands


@pytest.mark.parametrize("source,recipe,key", sorted(set(documented_runs())))
def test_every_documented_option_exists(source, recipe, key):
    fields = {f.name for f in dataclasses.fields(get(recipe).Config)} | {"logger"}
    assert key in fields, f"{source} shows `sslab run {recipe} {key}=...`, which {recipe} does not have"


def test_every_recipe_has_a_readme_the_top_readme_links_to():
    top = (REPO / "README.md").read_text()
    for name in ORDER:
        readme = REPO / "src" / "sslab" / "recipes" / name / "README.md"
        assert readme.is_file(), f"{name} has no README.md in its folder"
        assert f"src/sslab/recipes/{name}/README.md" in top, f"the top README does not link {name}'s README"


@pytest.mark.parametrize("path", doc_files(), ids=lambda p: str(p.relative_to(REPO)))
def test_relative_links_resolve(path):
    broken = [target for target in LINK.findall(path.read_text())
              if "://" not in target and not target.startswith("mailto:") and not (path.parent / target).exists()]
    assert not broken, f"{path.relative_to(REPO)} links to missing files: {broken}"


def test_the_top_readme_is_a_readme_not_a_lab_notebook():
    lines = (REPO / "README.md").read_text().splitlines()
    assert len(lines) <= 260, f"README.md has {len(lines)} lines; move measurements to docs/notes/<recipe>.md"
