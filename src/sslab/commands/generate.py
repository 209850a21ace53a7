"""``sslab sample``: WAV files of a requested genre from a trained `generate` run."""

from __future__ import annotations

import argparse
from pathlib import Path

from sslab.config import cli_number
from sslab.errors import UserError


def sampler_file(checkpoint: Path) -> Path:
    """The sampler of a run directory (its first seed; a `run all` folder's generate run), or the file itself."""
    from sslab.train.rundir import Run, recipe_run_dir

    checkpoint = Path(checkpoint)
    if checkpoint.is_file():
        return checkpoint
    if not checkpoint.is_dir():
        raise UserError(f"--checkpoint {checkpoint}: no such run directory or file; pass the folder "
                        "`sslab run generate` (or `sslab run all`) printed")
    from sslab import resume

    checkpoint = recipe_run_dir(checkpoint, "generate")
    run = Run.open(checkpoint)
    conf = resume.saved_config(run)
    if conf.get("recipe") != "generate":
        raise UserError(f"{checkpoint} is a run of {conf.get('recipe')}, not of generate; pass a run of "
                        "`sslab run generate`")
    seeds = conf.get("seeds")
    if not isinstance(seeds, list) or not seeds or not all(isinstance(s, int) for s in seeds):
        raise UserError(f"{run.root / 'config.yaml'}: `seeds: {seeds}` is not a list of seeds; restore the file")
    path = run.checkpoint_path(f"seed{seeds[0]}/sampler")
    if not path.is_file():
        raise UserError(f"{checkpoint} holds no trained sampler yet ({path.name}); finish the run with "
                        f"`sslab run --resume {checkpoint}`")
    return path


def cmd_sample(args: argparse.Namespace) -> int:
    import torch

    from sslab.audio.generative import generate_audio, load_sampler
    from sslab.audio.io import write_wav
    from sslab.train.progress import say

    path = sampler_file(args.checkpoint)
    sampler, domain, genres, meta = load_sampler(path)
    shortest = domain.n_fft / domain.sample_rate
    if args.seconds < shortest:
        raise UserError(f"--seconds {args.seconds:g}: shorter than one analysis window of this model "
                        f"({shortest:.3f} s); ask for at least that")
    by_name = {g.lower(): g for g in genres}
    genre = by_name.get(args.genre.strip().lower())
    if genre is None:
        raise UserError(f"--genre {args.genre}: this model knows {', '.join(genres)}; pick one of them")
    out = Path(args.out)
    names = [out / f"{genre}_{args.seed}_{i:03d}.wav" for i in range(args.n)]
    taken = [p for p in names if p.exists()]
    if taken and not args.force:
        raise UserError(f"--out {out}: {len(taken)} of the {args.n} files exist already (first: {taken[0].name}); "
                        "choose another --out or --seed, or pass --force to overwrite them")
    iters = args.griffin_lim_iters or int(meta.get("griffin_lim_iters", 32))
    gen = torch.Generator().manual_seed(args.seed)
    wave = generate_audio(sampler, domain, torch.full((args.n,), genres.index(genre)), args.seconds, iters, gen)
    # The model makes the training data's levels; only turn a set down if it would clip.
    wave = wave / max(1.0, float(wave.abs().max()) / 0.99)
    for name, clip in zip(names, wave):
        write_wav(name, clip.numpy(), domain.sample_rate)
    say(f"wrote {args.n} clip{'s' if args.n > 1 else ''} of {args.seconds:g} s of {genre} to {out} (model {path})")
    return 0


def register(commands, data_commands) -> None:
    p = commands.add_parser("sample", help="write WAV clips of a genre from a trained `generate` run",
                            description="Generate clips of a requested genre with the model a `sslab run generate` "
                                        "run trained (its first seed), turning spectrograms into sound by Griffin-Lim.")
    p.add_argument("--checkpoint", type=Path, required=True, metavar="RUN_DIR",
                   help="a `generate` run directory, a `run all` folder, or a checkpoints/seed<N>-sampler.safetensors")
    p.add_argument("--genre", required=True,
                   help="genre to generate, e.g. classical, any case (an unknown one lists the known)")
    p.add_argument("--n", type=cli_number(int, min=1, max=10_000), default=5, help="how many clips (default 5)")
    p.add_argument("--seconds", type=cli_number(float, above=0, max=600), default=5.0, help="length of each clip in seconds (default 5)")
    p.add_argument("--out", type=Path, default=Path("samples"), help="folder for the WAV files (default samples/)")
    p.add_argument("--force", action="store_true", help="overwrite clips of the same name in --out")
    p.add_argument("--seed", type=cli_number(int, min=0), default=0, help="random seed; the same seed gives the same clips (default 0)")
    p.add_argument("--griffin-lim-iters", type=cli_number(int, min=0, max=10_000), default=0, metavar="N",
                   help="phase reconstruction iterations (default: what the run used)")
    p.set_defaults(func=cmd_sample)
