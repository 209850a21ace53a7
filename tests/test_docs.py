"""The commands the README, the developer docs and `sslab --help` show use options that exist."""

import dataclasses
import re

import pytest

from sslab import cli
from sslab.recipes import ORDER, get

from sslab_testing import REPO

RUN = re.compile(r"sslab run ([a-z]+)((?: +[^ #`|\n]+)*)")


def documented_runs() -> list[tuple[str, str, str]]:
    """(source, recipe, key) for every key=value option of every `sslab run RECIPE ...` shown."""
    sources = {p.name: p.read_text() for p in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]}
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
