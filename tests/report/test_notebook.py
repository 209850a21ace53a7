import base64
import io
import json
import re
import shutil
import subprocess
from pathlib import Path

import nbformat
import numpy as np
import pytest
from PIL import Image

from sslab.audio.io import write_wav
from sslab.cli import main
from sslab.report import equations
from sslab.report.document import Audio, AudioGrid, Claims, Code, Figure, Math, Section, Slider, Table, Text
from sslab.report.html import embedded_bytes, render_page
from sslab.report.notebook import build_notebook, markdown_table, write_notebook
from sslab.report.stats import claim


def _png(path: Path, value: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((8, 12, 3), value, dtype=np.uint8)).save(path)
    return path


def _wav(path: Path, freq: float) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(1600) / 16000
    return write_wav(path, (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32), 16000)


@pytest.fixture()
def section(tmp_path) -> Section:
    run = tmp_path / "run"
    blocks = [
        Text("The RNN reached **7.1 dB**, see `metrics.jsonl`."),
        Claims([claim("The RNN beats the FC net (dB)", [0.5, 0.7, 0.6], unit=" dB")]),
        Math(r"M_{f,t} = 1 \text{ if } |S_{f,t}| > |N_{f,t}| \text{ else } 0", "The ideal binary mask."),
        Table(["arm", "SNR | dB"], [["rnn", 7.123456], ["fc", "5.0 ± 0.2"]], "Validation SNR."),
        Figure(_png(run / "figures" / "curve.png", 40), "A curve."),
        Slider([_png(run / "figures" / f"frame{i}.png", 100 + i) for i in range(3)], ["epoch 0", "epoch 5", "epoch 10"],
               "Drag."),
        Audio(_wav(run / "examples" / "a.wav", 440), "A tone."),
        AudioGrid(["noisy", "clean"], [("ex0", [_wav(run / "examples" / "n.wav", 300), None])], "Listen."),
        Code("print(1 + 1)", output="2\n"),
    ]
    return Section("Denoising", blocks, subtitle="GRU vs FC", anchor="denoise",
                   config={"recipe": "denoise", "config": {"epochs": 3}})


def _pixels(png) -> list:
    with Image.open(io.BytesIO(png) if isinstance(png, bytes) else png) as im:
        return np.asarray(im.convert("RGB")).tolist()


def _outputs(nb, output_type=None):
    return [o for c in nb.cells if c.cell_type == "code" for o in c.outputs
            if output_type is None or o.output_type == output_type]


def test_notebook_is_valid_and_embeds_every_output(tmp_path, section):
    path = write_notebook(tmp_path / "out" / "report.ipynb", "sslab: test", [section])
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)  # raises on anything the v4 schema refuses
    assert nb.nbformat == 4 and nb.metadata.kernelspec.name == "python3"
    markdown = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    assert "## Denoising" in markdown and "*GRU vs FC*" in markdown
    assert "$$\nM_{f,t} = 1 \\text{ if } |S_{f,t}| > |N_{f,t}| \\text{ else } 0\n$$" in markdown
    assert "| rnn | 7.123 |" in markdown and "SNR \\| dB" in markdown  # a pipe in a cell is escaped
    assert "| The RNN beats the FC net (dB) | not recorded | +0.5, +0.7, +0.6 | 0.6 dB ± 0.2 | 3 | **supported** |" in markdown
    assert "```yaml\nrecipe: denoise\nconfig:\n  epochs: 3\n```" in markdown

    images = [o for o in _outputs(nb, "display_data") if "image/png" in o.data]
    assert len(images) == 1 + 1 + 3  # the equation drawn offline, the figure and every slider frame
    equation = images.pop(0)
    assert base64.b64decode(equation.data["image/png"]) == equations.png(
        r"M_{f,t} = 1 \text{ if } |S_{f,t}| > |N_{f,t}| \text{ else } 0")
    (eq_cell,) = [c for c in nb.cells if c.cell_type == "code" and "equations import png" in c.source]
    assert eq_cell.outputs[0] is equation or eq_cell.outputs[0] == equation
    assert _pixels(base64.b64decode(images[0].data["image/png"])) == _pixels(tmp_path / "run/figures/curve.png")
    frames = [_pixels(base64.b64decode(o.data["image/png"])) for o in images[1:]]
    assert frames == [_pixels(tmp_path / f"run/figures/frame{i}.png") for i in range(3)]
    labels = [o.text for o in _outputs(nb, "stream")]
    assert labels[:3] == ["epoch 0\n", "epoch 5\n", "epoch 10\n"] and "2\n" in labels

    audio = [o for o in _outputs(nb, "display_data") if "<audio" in o.data.get("text/html", "")]
    assert len(audio) == 2
    clips = [base64.b64decode(m) for o in audio for m in re.findall(r'src="data:audio/wav;base64,([^"]+)"',
                                                                    o.data["text/html"])]
    assert clips == [(tmp_path / "run/examples/a.wav").read_bytes(), (tmp_path / "run/examples/n.wav").read_bytes()]
    assert audio[0].data["text/plain"] == "<IPython.lib.display.Audio object>"


def test_code_cells_name_files_relative_to_the_notebook(tmp_path, section):
    path = write_notebook(tmp_path / "out" / "report.ipynb", "t", [section])
    nb = nbformat.read(path, as_version=4)
    sources = [c.source for c in nb.cells if c.cell_type == "code"]
    (figure_cell,) = [s for s in sources if s.startswith("Image(filename=")]
    relative = re.search(r"filename='([^']+)'", figure_cell).group(1)
    assert not Path(relative).is_absolute()
    assert (path.parent / relative).resolve() == (tmp_path / "run/figures/curve.png").resolve()
    assert "print(1 + 1)" in sources
    for source in sources:
        compile(source, "<cell>", "exec")  # every code cell is valid Python


def test_notebook_and_html_say_the_same_things(tmp_path, section):
    page = render_page("t", [section])
    nb = build_notebook("t", [section])
    text = json.dumps(nb.cells)
    for needle in ("The RNN reached", "The ideal binary mask.", "Validation SNR.", "A curve.", "Drag.", "A tone.",
                   "The RNN beats the FC net (dB)", "supported", "print(1 + 1)"):
        assert needle in page and needle in text, needle
    # The same media, byte for byte: every data URI of the page is in the notebook.
    for uri in re.findall(r'data:(?:image|audio)/[a-z]+;base64,([A-Za-z0-9+/=]+)', page):
        assert uri in text


def test_plots_are_embedded_as_smaller_palette_pngs_that_look_the_same(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4), dpi=110)
    x = np.linspace(0, 10, 400)
    for k in range(4):
        ax.plot(x, np.sin(x + k), label=f"seed {k}")
    ax.imshow(np.random.default_rng(0).random((40, 60)), extent=(0, 10, -1, 1), aspect="auto", alpha=0.5)
    ax.legend()
    fig.savefig(tmp_path / "plot.png")
    plt.close(fig)
    mime, data = embedded_bytes(tmp_path / "plot.png")
    original = np.asarray(Image.open(tmp_path / "plot.png").convert("RGB"), dtype=float)
    embedded = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), dtype=float)
    assert mime == "image/png" and len(data) < 0.8 * (tmp_path / "plot.png").stat().st_size
    assert embedded.shape == original.shape and np.abs(embedded - original).mean() < 2.0
    # A PNG with real transparency is embedded as it is.
    rgba = np.zeros((20, 20, 4), np.uint8)
    rgba[..., 3] = 128
    Image.fromarray(rgba).save(tmp_path / "glass.png")
    assert embedded_bytes(tmp_path / "glass.png")[1] == (tmp_path / "glass.png").read_bytes()


def test_markdown_table_shapes():
    table = markdown_table(["a", "b"], [[1, 0.123456], ["x|y", "line\nbreak"]])
    assert table.splitlines() == ["| a | b |", "|---|---|", "| 1 | 0.1235 |", "| x\\|y | line break |"]


def test_unknown_block_is_refused():
    with pytest.raises(TypeError, match="unknown report block"):
        build_notebook("t", [Section("s", [object()])])


def test_cli_report_writes_html_and_notebook(tmp_path, denoise_run, capsys):
    run_dir = denoise_run
    out = tmp_path / "handin" / "denoise"
    assert main(["report", str(run_dir), "--format", "both", "--out", str(out.with_suffix(".html"))]) == 0
    assert f"report written to {out.with_suffix('.ipynb')}" in capsys.readouterr().out
    nb = nbformat.read(out.with_suffix(".ipynb"), as_version=4)
    nbformat.validate(nb)
    # The run itself wrote both formats too.
    assert (run_dir / "report.html").is_file() and (run_dir / "report.ipynb").is_file()
    audio = [o for o in _outputs(nb, "display_data") if "<audio" in o.data.get("text/html", "")]
    assert audio, "the denoise notebook has its clips"
    assert any("$$" in c.source for c in nb.cells if c.cell_type == "markdown"), "the IBM equation is LaTeX"
    assert main(["report", str(run_dir), "--format", "ipynb", "--out", str(tmp_path / "only.ipynb")]) == 0
    assert (tmp_path / "only.ipynb").is_file() and not (tmp_path / "only.html").exists()


def test_cli_report_refuses_an_unknown_format(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["report", str(tmp_path), "--format", "pdf"])
    assert exit_.value.code == 2 and "invalid choice" in capsys.readouterr().err


@pytest.mark.skipif(shutil.which("jupyter") is None, reason="jupyter nbconvert is not installed (not an sslab dependency)")
def test_nbconvert_shows_every_figure_and_clip_without_a_kernel(tmp_path, section):
    path = write_notebook(tmp_path / "report.ipynb", "t", [section])
    proc = subprocess.run(["jupyter", "nbconvert", "--to", "html", str(path)], capture_output=True, text=True,
                          timeout=120)
    if proc.returncode != 0 and "No module named" in proc.stderr:
        pytest.skip("jupyter is installed without nbconvert")
    assert proc.returncode == 0, proc.stderr
    html = (tmp_path / "report.html").read_text()
    assert html.count("data:image/png;base64,") >= 4 and html.count("data:audio/wav;base64,") >= 2
