import html
import importlib.util
import json
import shutil

import nbformat
import pytest

from sslab import recipes as registry
from sslab import runner
from sslab.cli import main


def _claims(run_dir):
    return json.loads((run_dir / "summary.json").read_text())["claims"]


def _data(run_dir):
    """What the study table names as a run's data: the recipe's own words, else sslab's made-up label."""
    return json.loads((run_dir / "summary.json").read_text()).get("data") or "made-up (data sslab makes itself)"


def test_study_report_opens_with_every_claim_then_the_sections(tmp_path, augment_run, denoise_run):
    assert main(["report", str(augment_run), str(denoise_run), "--format", "both", "--out", str(tmp_path / "study")]) == 0
    page = (tmp_path / "study.html").read_text()
    claims = [("augment", c, _data(augment_run)) for c in _claims(augment_run)] + \
        [("denoise", c, _data(denoise_run)) for c in _claims(denoise_run)]
    assert len(claims) >= 2 and _data(augment_run).startswith("made-up scenes: ")  # the recipe names set and sizes
    first_section = page.index("<section")
    for recipe, c, data in claims:
        row = page.index(html.escape(f"[{recipe}] {c['claim']}"))
        assert row < first_section, "the claims table comes before the sections"
        cells = page[row:first_section].split("</tr>")[0]
        assert html.escape(c["shown"]) in cells and html.escape(c["per_seed"]) in cells  # mean, interval, seeds
        assert html.escape(c["verdict"]) in cells and f'<td data-label="n">{c["n_seeds"]}</td>' in cells
        assert html.escape(data) in cells and "made-up data: a check of the pipeline" in cells
    assert page.index('id="augment"') < page.index('id="denoise"')

    nb = nbformat.read(tmp_path / "study.ipynb", as_version=4)
    nbformat.validate(nb)
    markdown = [c.source for c in nb.cells if c.cell_type == "markdown"]
    table = next(i for i, m in enumerate(markdown) if m.startswith("| Claim from the assignment"))
    sections = [i for i, m in enumerate(markdown) if m.startswith("## ")]
    assert table < sections[0] and len(sections) == 2
    for recipe, c, data in claims:
        assert (f"| [{recipe}] {c['claim']} | {data} | {c['per_seed']} | {c['shown']} | "
                f"{c['n_seeds']} | **{c['verdict']}**<br>*made-up data") in markdown[table]


def test_a_run_all_folder_gives_the_study_report_and_unfinished_runs_are_refused(tmp_path, augment_run, denoise_run,
                                                                                   capsys):
    study = tmp_path / "all-1"
    for name, run_dir in (("augment", augment_run), ("denoise", denoise_run)):
        shutil.copytree(run_dir, study / name)
    (study / runner.STUDY_FILE).write_text(json.dumps({"recipes": ["augment", "denoise"]}))
    assert main(["report", str(study)]) == 0
    page = (study / "report.html").read_text()
    assert page.index("Claim from the assignment") < page.index("<section")

    (study / "denoise" / "summary.json").unlink()
    assert main(["report", str(study), "--out", str(tmp_path / "x.html")]) == 2
    err = capsys.readouterr().err
    assert "did not finish" in err and "--resume" in err and not (tmp_path / "x.html").exists()


def test_run_all_ends_with_the_study_report_in_both_formats(tmp_path, monkeypatch, capsys):
    # The whole of `run all`, cut to one recipe to stay fast: the folder still opens with its claims.
    monkeypatch.setattr(registry, "_REGISTRY", {"augment": registry.get("augment")})
    logger = "tensorboard" if importlib.util.find_spec("tensorboard") else "none"  # an optional dependency
    page = runner.run_all(preset="smoke", overrides={"augment.epochs": "1", "augment.synthetic_size": "300"},
                          data=None, out=tmp_path, seeds=None, device="cpu", logger=logger)
    root = page.parent
    out = capsys.readouterr().out
    assert "recipe 1 of 1: augment (about " in out and " left for this and the rest, from each preset's size, one core" in out
    if logger == "tensorboard":
        assert f"tensorboard --logdir {root}`" in out  # one line for the whole study
        assert any((root / "augment" / "tensorboard").glob("events.out.tfevents.*"))
    assert page == root / "report.html" and (root / "report.ipynb").is_file()
    text = page.read_text()
    (claim,) = _claims(root / "augment")
    assert text.index(html.escape(claim["claim"])) < text.index("<section")
    nbformat.validate(nbformat.read(root / "report.ipynb", as_version=4))
    # Resuming a finished study rebuilds the report and trains nothing.
    metrics = (root / "augment" / "metrics.jsonl").read_text()
    assert runner.run_all(preset="", overrides={}, data=None, out=tmp_path, seeds=None, device="cpu", resume=root) == page
    assert f"recipe 1 of 1: augment already complete in {root / 'augment'}" in capsys.readouterr().out
    assert (root / "augment" / "metrics.jsonl").read_text() == metrics


def test_run_all_refuses_unprefixed_options_before_running_anything(tmp_path):
    with pytest.raises(runner.UserError, match="prefix options with the recipe"):
        runner.run_all(preset="smoke", overrides={"epochs": "1"}, data=None, out=tmp_path, seeds=None, device="cpu")
    assert not any(tmp_path.iterdir())
