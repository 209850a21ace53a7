"""Running recipes: one recipe, every recipe (``all``), resuming, rebuilding reports."""

from __future__ import annotations

import platform
import time
from pathlib import Path
from typing import Any, Mapping, Sequence

import torch

import sslab
from sslab import estimate, parallel
from sslab import recipes as registry
from sslab import resume as resuming
from sslab.config import build_config, config_dict
from sslab.errors import UserError, os_error_message
from sslab.report.document import Claims, Code, Section, Text
from sslab.report.html import write_page
from sslab.report.notebook import write_notebook
from sslab.report import provenance, tracking
from sslab.train import atomic, distributed
from sslab.train.progress import say
from sslab.train.rundir import STUDY_FILE, Run, git_commit
from sslab.train.seeding import configure_threads, resolve_device

# `sslab report --format`: the HTML page, the Jupyter notebook, or both (same blocks).
FORMATS = {"html": (".html",), "ipynb": (".ipynb",), "both": (".html", ".ipynb")}

# The folder `sslab run --resume` would continue if this process stopped now (a `run all` folder
# rather than its recipe's): the CLI names it when Ctrl-C or SIGTERM stops a run.
RESUMABLE: Path | None = None


def hold(path: Path) -> Path | None:
    """Name ``path`` as the run to resume (an enclosing study keeps its own); returns what to
    :func:`release` once the run finished. A run that raises never releases, so the CLI's
    interrupt line can still name it."""
    global RESUMABLE
    before, RESUMABLE = RESUMABLE, RESUMABLE or Path(path)
    return before


def release(before: Path | None) -> None:
    global RESUMABLE
    RESUMABLE = before


def _resolved(recipe: registry.Recipe, cfg: Any, preset: str, device: torch.device, data: Path | None,
              logger: str = "none", plan: parallel.Plan | None = None) -> dict:
    return {
        "recipe": recipe.name,
        "preset": preset,
        "config": config_dict(cfg),
        "seeds": list(range(cfg.seed, cfg.seed + cfg.seeds)),
        "device": str(device),
        "data": str(data) if data else None,
        "sslab_version": sslab.__version__,
        "git_commit": git_commit(),
        "torch_version": str(torch.__version__),
        "python_version": platform.python_version(),
        # CPU results depend on the thread count (summation order); --resume reuses it.
        "threads": torch.get_num_threads(),
        **(plan.config() if plan else {}),
        "started": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "logger": logger,  # live logging (--logger); --resume keeps it
    }


def _check_data_dir(data: Path | None) -> Path | None:
    if data is None:
        return None
    data = Path(data).expanduser()
    if not data.exists():
        raise UserError(f"--data {data}: no such directory; check the path, or leave --data out to use data sslab makes itself")
    if not data.is_dir():
        raise UserError(f"--data {data}: not a directory; pass the folder that holds the data set")
    return data.resolve()


def run_recipe(name: str, *, preset: str = "quick", overrides: Mapping[str, str] | None = None,
               data: Path | None = None, out: Path = Path("runs"), seeds: int | None = None,
               device: str = "auto", resume: Path | None = None, run_root: Path | None = None,
               logger: str = "none", workers: int | None = None) -> Run:
    """Run one recipe end to end and return its finished run directory.

    On a CPU the seeds run as ``workers`` concurrent processes (see sslab.parallel).

    Under ``torchrun`` every process runs this; only rank 0 creates and writes the run
    directory, the others follow it read-only (see sslab.train.distributed).
    """
    configure_threads()
    distributed.init_from_env()
    if resume is not None:
        resuming.check_request(resume, name, overrides)
        run = Run.open(resume)
        recipe, cfg, saved = resuming.load(run)  # checked with the same typed config as a fresh run
        preset = saved.get("preset", "")
        data = Path(saved["data"]) if saved.get("data") else None
        dev = resolve_device(device if device != "auto" else saved.get("device", "auto").split(":")[0])
        logger = saved.get("logger") or "none"
        say(f"resuming {recipe.name} in {run.root}")
    else:
        recipe = registry.get(name)
        overrides = dict(overrides or {})
        if seeds is not None:
            overrides["seeds"] = str(seeds)
        cfg = build_config(recipe.Config, recipe.presets, preset, overrides, recipe.name,
                           extra=recipe.preset_extra(preset, data))
        data = _check_data_dir(data)
        dev = resolve_device(device)
        run = saved = None
    plan = parallel.plan(recipe.name, cfg, dev, workers, saved, distributed=distributed.world_size() > 1,
                         parts=len(recipe.parts(cfg)) if recipe.parts else 1)
    torch.set_num_threads(plan.threads)
    tracking.check(logger)
    # Load (and so check) the data before a run directory exists, so bad input leaves nothing behind.
    loaded = recipe.load_data(cfg, data, dev)
    if run is None and dev.type == "cpu" and distributed.is_main():
        warning = estimate.long_run_warning(recipe.name, config_dict(cfg), _quick(recipe),
                                            estimate.data_size(loaded) if data else None)
        if warning:
            say(warning)
    if not distributed.is_main():
        pass  # under torchrun only rank 0 creates (or prepares to resume) the run directory
    elif run is None:
        run = Run(run_root) if run_root is not None else Run.create(out, recipe.name)
        run.root.mkdir(parents=True, exist_ok=True)
        run.figures.mkdir(exist_ok=True)
        run.checkpoints.mkdir(exist_ok=True)
        run.save_config(_resolved(recipe, cfg, preset, dev, data, logger, plan))
        say(f"{recipe.name}: writing {run.root}")
    elif plan.seed_files:
        parallel.prepare_resume(run)
    else:
        run.prepare_resume()
    run = distributed.share_run(run)
    if distributed.is_main() and logger != "none":
        if not plan.seed_files:  # in the parallel layout each worker writes its own event file
            run.tracker = tracking.open_tracker(logger, run.root)
        say(f"{recipe.name}: live curves with `tensorboard --logdir {run.root / tracking.LOGDIR}`")
    started = time.monotonic()
    held = hold(run.root)
    try:
        if plan.seed_files:  # concurrent worker processes, one per seed (or part of one)
            parallel.run_seeds(run, recipe, cfg, dev, loaded, plan, logger)
        else:
            for seed in range(cfg.seed, cfg.seed + cfg.seeds):
                say(f"{recipe.name}: seed {seed} ({seed - cfg.seed + 1} of {cfg.seeds})")
                recipe.run_seed(registry.Context(run=run, cfg=cfg, seed=seed, device=dev, data=loaded))
        if distributed.is_main():
            finish(run, recipe, elapsed_s=time.monotonic() - started)
    except OSError as exc:  # disk full, read-only, a name too long: the run stays resumable
        raise UserError(os_error_message(exc, f"then continue with `sslab run --resume {run.root}`")) from None
    finally:
        if run.tracker is not None:
            run.tracker.close()
            run.tracker = None
        run.release()  # the run directory is free for the next writer (in this process too)
    release(held)
    distributed.barrier()
    return run


def _quick(recipe: registry.Recipe) -> dict:
    return config_dict(build_config(recipe.Config, recipe.presets, "quick", {}, recipe.name))


def finish(run: Run, recipe: registry.Recipe, elapsed_s: float | None = None) -> dict:
    """Figures, report and, last of all, summary.json (which marks the run complete)."""
    summary = recipe.summarize(run)
    summary.setdefault("recipe", recipe.name)
    summary.setdefault("title", recipe.title)
    if elapsed_s is not None:
        summary["elapsed_s"] = round(elapsed_s, 1)
    atomic.write_json(run.root / ".summary-draft.json", summary)  # report reads it before it is final
    write_report(run.root / "report", f"sslab: {recipe.title}", [section_for(run, recipe)], fmt="both")
    run.write_summary(summary)
    (run.root / ".summary-draft.json").unlink()
    say(f"{recipe.name}: {summary.get('text', 'done')}")
    say(f"{recipe.name}: report at {run.root / 'report.html'} (notebook: {run.root / 'report.ipynb'})")
    return summary


def section_for(run: Run, recipe: registry.Recipe | None = None) -> Section:
    """A recipe's report section: its result sentence and claims first, its own blocks, then the
    code that reproduces the run."""
    if recipe is None:
        recipe = registry.get(run.config()["recipe"])
    section = recipe.report(run)
    summary = run.summary()
    section.blocks = [Text(summary["text"]), Claims(provenance.claims_with_provenance(run.config(), summary)),
                      *section.blocks, reproduce_block(run, recipe)]
    section.anchor = section.anchor or recipe.name
    section.config = run.config()
    section.run_dir = run.root
    return section


def reproduce_block(run: Run, recipe: registry.Recipe) -> Code:
    """The exact command line and ``run_recipe(...)`` call that run this recipe again (both from the
    run's saved config: its data, preset, seeds and every option that differs from the preset), and
    what they print."""
    conf, text = run.config(), run.summary()["text"]
    source = provenance.python_call(conf, recipe.Config, recipe.presets)
    if recipe.next_steps is not None:
        source += "\n" + recipe.next_steps(run)
    return Code(source, output=text + "\n", command=provenance.command_line(conf, recipe.Config, recipe.presets))


def write_report(out: Path, title: str, sections: Sequence[Section], intro: Sequence = (), fmt: str = "html") -> list[Path]:
    """One report in the chosen formats, from the same sections; ``out``'s suffix is set per format."""
    if fmt not in FORMATS:
        raise UserError(f"--format {fmt}: unknown report format; choose one of {', '.join(FORMATS)}")
    out = Path(out)
    written = []
    for suffix in FORMATS[fmt]:
        path = out.with_suffix(suffix) if out.suffix in (".html", ".ipynb", "") else out.with_name(out.name + suffix)
        writer = write_page if suffix == ".html" else write_notebook
        written.append(writer(path, title, sections, intro))
    return written


# ---- all recipes ------------------------------------------------------------------------
def run_all(*, preset: str, overrides: Mapping[str, str], data: Path | None, out: Path, seeds: int | None,
            device: str, resume: Path | None = None, logger: str = "none", workers: int | None = None) -> Path:
    """Every recipe in turn into one study folder, then the combined report."""
    if resume is not None:
        root = Path(resume)
        plan = resuming.read_study(root, resuming=True)
    else:
        data = _check_data_dir(data)
        tracking.check(logger)
        per_recipe: dict[str, dict[str, str]] = {}
        for key, value in overrides.items():
            rname, _, field = key.partition(".")
            if not field:
                raise UserError(f"{key}={value}: with `run all`, prefix options with the recipe, e.g. augment.epochs=3")
            registry.get(rname)
            per_recipe.setdefault(rname, {})[field] = value
        # Check every recipe's options before running any of them.
        for rname, recipe in registry.recipes().items():
            o = dict(per_recipe.get(rname, {}))
            if seeds is not None:
                o["seeds"] = str(seeds)
            build_config(recipe.Config, recipe.presets, preset, o, rname)
        root = Path(out) / f"all-{time.strftime('%Y%m%d-%H%M%S')}"
        root.mkdir(parents=True, exist_ok=False)
        plan = {"preset": preset, "overrides": per_recipe, "data": str(data) if data else None,
                "seeds": seeds, "device": device, "recipes": list(registry.recipes()), "logger": logger}
        atomic.write_json(root / STUDY_FILE, plan)
    if plan.get("logger", "none") != "none":
        say(f"live curves of every recipe with `tensorboard --logdir {root}`")
    held = hold(root)
    clock = _StudyClock(plan)
    for k, rname in enumerate(plan["recipes"], 1):
        recipe = registry.get(rname)
        sub = root / rname
        if (sub / "summary.json").is_file():
            clock.estimates[rname] = 0.0
            say(f"recipe {k} of {clock.n}: {rname} already complete in {sub}")
            continue
        say(clock.line(k, rname))
        if (sub / "config.yaml").is_file():
            run_recipe(rname, resume=sub, device=device, workers=workers)
            continue
        data_root = Path(plan["data"]) if plan["data"] else None
        found = recipe.locate_data(data_root) if data_root else None
        if data_root and found is None:
            say(f"{rname}: no data set for it under {data_root}; using data sslab makes itself")
        started = time.monotonic()
        run_recipe(rname, preset=plan["preset"], overrides=plan["overrides"].get(rname, {}), data=found,
                   seeds=plan["seeds"], device=device, run_root=sub, logger=plan.get("logger", "none"),
                   workers=workers)
        clock.done(rname, time.monotonic() - started)
    release(held)
    page, notebook = write_study_report([root], root / "report", fmt="both")
    say(f"all recipes done; study report at {page} (notebook: {notebook})")
    return page


class _StudyClock:
    """`run all`'s "recipe k of N" line with the time left: each remaining recipe's estimate
    (sslab.estimate, from its preset's size) times how much slower or faster than estimated the
    recipes so far ran on this machine."""

    def __init__(self, plan: Mapping[str, Any]):
        self.n = len(plan["recipes"])
        self.estimates: dict[str, float | None] = {}
        for rname in plan["recipes"]:
            recipe = registry.get(rname)
            o = dict(plan["overrides"].get(rname, {}))
            if plan.get("seeds") is not None:
                o["seeds"] = str(plan["seeds"])
            cfg = config_dict(build_config(recipe.Config, recipe.presets, plan["preset"] or "quick", o, rname))
            self.estimates[rname] = estimate.seconds(rname, cfg, _quick(recipe))
        self.spent = self.expected = 0.0
        self.real_data = bool(plan.get("data"))

    def done(self, rname: str, seconds: float) -> None:
        if self.estimates.get(rname):
            self.spent += seconds
            self.expected += self.estimates[rname]
        self.estimates[rname] = 0.0

    def line(self, k: int, rname: str) -> str:
        rest = list(self.estimates.values())[k - 1:]
        if any(e is None for e in rest):
            return f"recipe {k} of {self.n}: {rname}"
        pace = self.spent / self.expected if self.expected else 1.0
        left = estimate.duration(sum(rest) * pace)
        basis = ("scaled by this machine's pace so far" if self.expected else "from each preset's size, one core")
        if self.real_data:
            basis += "; real data sets take longer"
        return f"recipe {k} of {self.n}: {rname} (about {left} left for this and the rest, {basis})"


def _runs_from(paths: Sequence[Path]) -> list[Run]:
    runs: list[Run] = []
    for path in paths:
        path = Path(path)
        if (path / STUDY_FILE).is_file():
            plan = resuming.read_study(path)
            runs.extend(Run.open(path / r) for r in plan["recipes"] if (path / r / "config.yaml").is_file())
        else:
            runs.append(Run.open(path))
    for run in runs:
        resuming.load(run)  # a damaged config.yaml is one line here, not a traceback in a report
        if not run.complete:
            raise UserError(f"{run.root} did not finish (no summary.json); finish it with `sslab run --resume {run.root}`")
    return runs


def study_sections(runs: Sequence[Run]) -> tuple[list, list[Section]]:
    """The claims table that opens a study report, and one section per run."""
    claims: list[dict] = []
    for run in runs:
        conf = run.config()
        for c in provenance.claims_with_provenance(conf, run.summary()):
            claims.append({**c, "claim": f"[{conf['recipe']}] {c['claim']}"})
    intro = [Text("Each row is a claim the assignments make, tested on these runs: **supported** when the "
                  "95% confidence interval over seeds lies on the claimed side, **contradicted** when it lies on "
                  "the other, **inconclusive** otherwise. One seed gives no interval, so a one-seed row judges "
                  "nothing; the hint under a verdict says how many seeds (`--seeds N`) would decide it. Rows tested "
                  "on made-up data check that the pipeline runs; only real data tests the claim."),
              Claims(claims)] if claims else []
    return intro, [section_for(run) for run in runs]


def write_study_report(paths: Sequence[Path], out: Path, fmt: str = "html") -> list[Path]:
    """The report of one run, or the study report of several (claims table first), as HTML and/or notebook."""
    runs = _runs_from(paths)
    study = any((Path(p) / STUDY_FILE).is_file() for p in paths)  # a `run all` folder opens with its claims
    if len(runs) == 1 and not study:
        return write_report(out, f"sslab: {registry.get(runs[0].config()['recipe']).title}", [section_for(runs[0])],
                            fmt=fmt)
    intro, sections = study_sections(runs)
    return write_report(out, "sslab study report", sections, intro, fmt=fmt)
