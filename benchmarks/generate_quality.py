"""Quality of a finished `generate` run, from its run directory alone: the goals table of issue 13.

For the test genre (classical unless the run set another) it prints, per seed and as mean ± 95% CI:
- the share of generated clips the feature-based second opinion (logistic regression on hand-made
  features, fitted on real training clips; no learned judge) calls the test genre;
- the feature Frechet distance, generated vs real, over the real-vs-real floor (same clip count);
- spectral flatness, harmonicity, onset rate and how long notes hold (chroma autocorrelation half-life),
  generated over real (medians);
- the judge's share, and what the judge and the feature classifier call degraded real clips and
  noise shaped like the test genre (their calibration), and the hand-made measures of those
  degraded clips (the bar generated clips must beat);
- the run's wall time (first to last record).

    python benchmarks/generate_quality.py RUN_DIR [RUN_DIR ...]

With several run directories (say one per seed) the seeds of all of them are pooled.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime

from sslab.errors import UserError
from sslab.report import records, stats
from sslab.train.rundir import Run

GOALS = {  # measure -> (first step, goal, direction)
    "second opinion calls it the test genre (%)": (">= 50", ">= 90"),
    "feature Frechet / real floor (x)": ("<= 10", "<= 3"),
    "spectral flatness generated / real (x)": ("<= 3", "<= 1.5"),
    "wall time (min)": ("<= 15", "<= 15"),
}


def wall_minutes(run: Run) -> float:
    times = [r["time"] for r in run.records() if "time" in r]
    if len(times) < 2:
        return float("nan")
    parse = lambda t: datetime.fromisoformat(t) if isinstance(t, str) else datetime.fromtimestamp(t)  # noqa: E731
    return (parse(times[-1]) - parse(times[0])).total_seconds() / 60


def rows_for(runs: list[Run]) -> tuple[str, list[tuple[str, list[float], float]]]:
    genre = runs[0].config()["config"]["test_genre"]
    finals, checks, walls = [], [], []
    for run in runs:
        finals += [r[-1] for r in records.by_seed(run, "final")]
        checks += [r[-1] for r in records.by_seed(run, "judge-test")]
        walls.append(wall_minutes(run))
    if not finals or "second_opinion" not in finals[0]:
        raise UserError("these runs have no final evaluation with the second opinion; finish them with "
                        "`sslab run --resume RUN_DIR` (runs before issue 13 lack it: run them again)")
    second = [f["second_opinion"] for f in finals]
    calib = [c["calibration"] for c in checks]
    g = genre
    return genre, [
        ("second opinion calls it the test genre (%)", [100 * o["acc"][g] for o in second], 0),
        ("feature Frechet / real floor (x)", [o["fd_ratio"][g] for o in second], 1),
        ("spectral flatness generated / real (x)", [o["flatness_ratio"][g] for o in second], 2),
        ("harmonicity generated / real (x)", [o["harmonicity_ratio"][g] for o in second], 2),
        ("onsets per s generated / real (x)", [o["onsets_ratio"][g] for o in second], 2),
        *([("notes hold generated / real (x)", [o["hold_ratio"][g] for o in second], 2)]
          if all("hold_ratio" in o for o in second) else []),
        ("judge calls it the test genre (%)", [100 * f["acc"][g] for f in finals], 0),
        ("judge on real held-out clips (%)", [100 * c["segment_acc"] for c in checks], 0),
        ("second opinion on real held-out clips (%)", [100 * c["real held-out"]["features"]["all"] for c in calib], 0),
        (f"judge: noise shaped like {g} called {g} (%)",
         [100 * c["noise shaped like the genre"]["judge"][g] for c in calib], 0),
        (f"judge: blurred real {g} called {g} (%)", [100 * c["blurred spectrogram"]["judge"][g] for c in calib], 0),
        (f"judge: real {g} + noise at 0 dB called {g} (%)", [100 * c["noise 0 dB"]["judge"][g] for c in calib], 0),
        (f"second opinion: noise shaped like {g} called {g} (%)",
         [100 * c["noise shaped like the genre"]["features"][g] for c in calib], 0),
        (f"second opinion: blurred real {g} called {g} (%)",
         [100 * c["blurred spectrogram"]["features"][g] for c in calib], 0),
        *[(f"{g} {name}: {label}", [c[name]["measures"][key][g] for c in calib], 2)
          for name in ("blurred spectrogram", "noise 10 dB", "noise shaped like the genre")
          for key, label in (("fd_ratio", "feature Frechet / floor (x)"), ("flatness_ratio", "flatness / real (x)"),
                             ("harmonicity_ratio", "harmonicity / real (x)"), ("hold_ratio", "notes hold / real (x)"))
          if all(key in c[name].get("measures", {}) for c in calib)],
        ("wall time (min)", walls, 1),
    ]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run_dirs", nargs="+", help="finished `sslab run generate` directories")
    args = p.parse_args(argv)
    try:
        runs = [Run.open(d) for d in args.run_dirs]
        genre, rows = rows_for(runs)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"test genre: {genre}; runs: {', '.join(args.run_dirs)}")
    print(f"| measure | per seed | mean ± 95% CI | first step | goal |\n|---|---|---|---|---|")
    for name, values, digits in rows:
        first, goal = GOALS.get(name, ("", ""))
        mean, half = stats.mean_ci(values)
        print(f"| {name} | {', '.join(f'{v:.{digits}f}' for v in values)} | {stats.fmt_ci(mean, half, digits)} "
              f"| {first} | {goal} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
