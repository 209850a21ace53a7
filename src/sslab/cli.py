"""The ``sslab`` command line."""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import signal
import sys
from pathlib import Path

# OpenMP threads spin for a long while (libgomp: 300,000 rounds) before they sleep. When
# another job holds one of the cores, the spinning threads wait on each other. A short spin
# keeps the quiet-machine speed and the busy-machine speed of passive waiting (measured in
# README "Threads"). Set before torch loads; the user's own settings win.
if "OMP_WAIT_POLICY" not in os.environ:
    os.environ.setdefault("GOMP_SPINCOUNT", "1000")

from sslab.errors import Terminated, UserError, os_error_message

EPILOG = """examples:
  sslab run augment                     # quick preset on data sslab makes itself
  sslab run augment --preset paper --data ~/data/cifar10 --seeds 3
  sslab run pretext epochs=2000 transfer_lr=1e-6
  sslab run all --preset quick          # every recipe, one study report
  sslab run --resume runs/augment-20261121-120000
  sslab run denoise --logger tensorboard  # live curves, images and clips in TensorBoard
  sslab report runs/augment-* --out study.html
  sslab report runs/all-20261121-120000 --format both   # report.html and report.ipynb to hand in
"""


class Parser(argparse.ArgumentParser):
    """argparse that reports a usage problem in one line and exits with code 2."""

    def error(self, message: str):  # noqa: D401
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _split_overrides(items: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        key, eq, value = item.partition("=")
        if not eq or not key:
            raise UserError(f"{item!r}: options after the recipe are key=value, e.g. epochs=5")
        out[key.strip()] = value
    return out


def cmd_run(args: argparse.Namespace) -> int:
    from sslab import recipes as registry
    from sslab import runner
    from sslab.config import describe

    target = args.recipe
    if args.help_config:
        names = list(registry.recipes()) if target in (None, "all") else [target]
        for name in names:
            recipe = registry.get(name)
            print(f"{name}: {recipe.title} (assignment {recipe.seed_problem})\n{describe(recipe.Config, recipe.presets)}\n")
        return 0
    overrides = _split_overrides(args.overrides)
    # The spelling `logger=tensorboard` works as well as --logger (it is no recipe option).
    logger = overrides.pop("logger", None) or args.logger
    if args.resume is not None:
        from sslab.resume import check_request

        if args.logger != "none":
            raise UserError("--resume keeps the run's saved --logger; drop --logger")
        path = Path(args.resume)
        if not path.is_dir():
            raise UserError(f"--resume {path}: no such run directory; pass the folder `sslab run` printed")
        check_request(path, target, overrides)
        if (path / runner.STUDY_FILE).is_file():
            runner.run_all(preset="", overrides={}, data=None, out=path.parent, seeds=None, device=args.device, resume=path,
                           workers=args.workers)
        else:
            runner.run_recipe(target or "", resume=path, device=args.device, workers=args.workers)
        return 0
    if target is None:
        raise UserError("name a recipe (" + ", ".join(registry.recipes()) + ") or all; or pass --resume RUN_DIR")
    if target == "all":
        runner.run_all(preset=args.preset, overrides=overrides, data=args.data, out=args.out, seeds=args.seeds,
                       device=args.device, logger=logger, workers=args.workers)
    else:
        runner.run_recipe(target, preset=args.preset, overrides=overrides, data=args.data, out=args.out,
                          seeds=args.seeds, device=args.device, logger=logger, workers=args.workers)
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from sslab import runner

    for path in args.run_dirs:
        if not Path(path).is_dir():
            raise UserError(f"{path}: no such run directory")
    out = args.out
    if out is None:
        out = Path(args.run_dirs[0]) / "report" if len(args.run_dirs) == 1 else Path("report")
    for page in runner.write_study_report([Path(p) for p in args.run_dirs], Path(out), fmt=args.format):
        print(f"report written to {page}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    import sslab
    from sslab.config import cli_number

    parser = Parser(prog="sslab", description="Label-efficient vision and neural-audio experiments, end to end.",
                    epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"sslab {sslab.__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)

    run = sub.add_parser("run", help="run a recipe (or all of them) and write a run directory with a report",
                         description="Run a recipe end to end: train, evaluate, write figures, summary and report. "
                         "Options after the recipe are key=value config overrides; list them with --help-config.",
                         epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    run.add_argument("recipe", nargs="?", help="augment, pretext, barlow, denoise, generate, or all")
    run.add_argument("overrides", nargs="*", metavar="key=value", help="config overrides, checked against the recipe")
    run.add_argument("--preset", default="quick", choices=("smoke", "quick", "paper"),
                     help="smoke: seconds, for tests; quick (default): minutes on a laptop; paper: the assignment's settings")
    run.add_argument("--data", type=Path, default=None,
                     help="folder with the real data set; without it sslab makes its own data")
    run.add_argument("--out", type=Path, default=Path("runs"), help="where run directories go (default: runs/)")
    run.add_argument("--seeds", type=cli_number(int, min=1, max=100), default=None, help="run N seeds (the preset's number by default)")
    run.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"), help="where to train (default: auto)")
    run.add_argument("--workers", type=int, default=None, metavar="K",
                     help="CPU: run up to K seeds at once, each in its own process (default: one per free core for "
                          "small networks, each with one intra-op thread; see docs/parallel.md)")
    run.add_argument("--resume", type=Path, default=None, metavar="RUN_DIR",
                     help="continue an interrupted run; ends with the same numbers as an uninterrupted one")
    run.add_argument("--logger", default="none", choices=("none", "tensorboard"),
                     help="live logging besides metrics.jsonl: tensorboard writes scalars, images and clips to "
                          "RUN_DIR/tensorboard (needs `pip install 'sslab[tensorboard]'`); also logger=tensorboard")
    run.add_argument("--help-config", action="store_true", help="list the recipe's options and their preset values")
    run.set_defaults(func=cmd_run)

    report = sub.add_parser("report", help="rebuild the report (HTML page and/or Jupyter notebook) from run directories",
                            description="Rebuild the report from run directories alone. Several runs (or a `run all` "
                            "folder) give one study report that opens with the table of the seeds' claims.")
    report.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help="run directories (or a `run all` folder)")
    report.add_argument("--format", default="html", choices=("html", "ipynb", "both"),
                        help="html: one self-contained page; ipynb: a Jupyter notebook with every output embedded; "
                             "both (default: html)")
    report.add_argument("--out", type=Path, default=None,
                        help="output file; its suffix is set per format (default: RUN_DIR/report.html, or "
                             "./report.html for several runs)")
    report.set_defaults(func=cmd_report)

    data = sub.add_parser("data", help="download, check or make data sets")
    data_sub = data.add_subparsers(dest="data_command", metavar="DATA_COMMAND", parser_class=Parser)
    data.set_defaults(func=lambda a: (data.print_help(), 2)[1])

    import sslab.commands as commands

    for info in pkgutil.iter_modules(commands.__path__):
        module = importlib.import_module(f"sslab.commands.{info.name}")
        module.register(sub, data_sub)
    return parser


def _terminate(signum, frame):  # noqa: ARG001
    raise Terminated()


def interrupted_line(exc: KeyboardInterrupt) -> str:
    """The one line a stopped command prints: the exact `sslab run --resume PATH` when a run was going."""
    runner = sys.modules.get("sslab.runner")
    where = getattr(runner, "RESUMABLE", None)
    how = "stopped by SIGTERM" if isinstance(exc, Terminated) else "interrupted"
    if where is None:
        return f"sslab: {how}"
    return f"sslab: {how}; continue with `sslab run --resume {where}` (same numbers as an uninterrupted run)"


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    # key=value overrides may stand anywhere after the recipe, between options too.
    args, extra = parser.parse_known_args(argv)
    if extra:
        if getattr(args, "command", None) == "run" and all("=" in e and not e.startswith("-") for e in extra):
            args.overrides = list(args.overrides) + extra
        else:
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 2
    # SIGTERM (a scheduler, `kill`, a closing terminal) stops a run as Ctrl-C does: one line, exit 143.
    try:
        before = signal.signal(signal.SIGTERM, _terminate)
    except ValueError:  # not the main thread (sslab's main() called from a thread): leave signals alone
        before = None
    try:
        code = args.func(args)
    except UserError as exc:
        print(f"sslab: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except OSError as exc:  # disk full, read-only --out, a name too long: never a traceback
        print(f"sslab: error: {os_error_message(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        print(interrupted_line(exc), file=sys.stderr)
        return getattr(exc, "exit_code", 130)
    finally:
        if before is not None:
            signal.signal(signal.SIGTERM, before)
        runner = sys.modules.get("sslab.runner")
        if runner is not None:  # main() called again in this process (a notebook, a test) starts with no run
            runner.RESUMABLE = None
    return int(code or 0)


if __name__ == "__main__":
    raise SystemExit(main())
