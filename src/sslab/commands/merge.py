"""`sslab merge`: seeds run on several machines, combined into one run directory."""

from __future__ import annotations

import argparse
from pathlib import Path


def cmd_merge(args: argparse.Namespace) -> int:
    from sslab.merge import merge_runs

    run = merge_runs(args.run_dirs, args.out)
    print(f"merged {len(run.config()['seeds'])} seeds into {run.root}; report at {run.root / 'report.html'}")
    return 0


def register(commands, data_commands) -> None:
    p = commands.add_parser(
        "merge", help="combine runs of the same recipe and options (different seeds) into one run directory",
        description="Combine finished runs of one recipe with the same options and code, each with other seeds "
                    "(say `sslab run augment seed=K` on each machine of a SLURM array), into one run directory "
                    "with every seed: metrics in seed order, confidence intervals over all seeds, figures and "
                    "report. Runs whose options or code differ are refused, naming the keys.")
    p.add_argument("run_dirs", nargs="+", type=Path, metavar="RUN_DIR", help="finished run directories")
    p.add_argument("--out", type=Path, required=True, metavar="DIR", help="the merged run directory (must be new)")
    p.set_defaults(func=cmd_merge)
