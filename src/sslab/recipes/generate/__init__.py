"""Recipe `generate` (assignment 003, problem 2.1): a genre-conditioned generative audio model.

A conditional VAE (or GAN) on log-magnitude spectrograms makes clips of a requested
genre; Griffin-Lim turns the magnitudes into sound. The seed judges the audio itself
(noise, quality and above all the genre, "classical" for the test), so the recipe trains
its own judge, a genre classifier on real clips, checks it on held-out clips, and uses it
every few epochs and at the end to score generated clips: the share judged to be the
requested genre, a Frechet distance between the judge's embeddings of real held-out
and generated clips (FAD-style), and how noise-like the generated classical clips are
(spectral flatness, energy above 4 kHz) next to real ones.

Each step of the assignment, and where it is done:
1. load GTZAN (or made-up music), cut clips into pieces ... train.load_data, sslab.data.gtzan.load_music_folder
2. hold out a share of each genre's clips .................. sslab.data.gtzan.split_by_clip
3. train a judge (genre classifier) on real clips .......... train.train_judge, sslab.audio.judge.GenreJudge
4. check the judge on held-out clips, set the yardsticks ... train.log_judge_checks
5. train the conditional generative model .................. train.train_generator, sslab.audio.generative
6. generate clips of a requested genre, judge them ......... sslab.audio.generative.generate_audio,
                                                             sslab.audio.judge.judge_generated
7. final verdict, confusion table, clips to listen to ...... train.final_evaluation, train.write_examples
8. curves, the claims, the report .......................... report.summarize, report.report
Sound from a trained run: `sslab sample` (sslab.commands.generate). Options and presets: config.Config, config.PRESETS.
"""

from __future__ import annotations

from pathlib import Path

from sslab.data import gtzan
from sslab.recipes import Recipe
from sslab.recipes.generate.config import PRESETS, Config
from sslab.recipes.generate.report import next_steps, report, summarize
from sslab.recipes.generate.train import load_data, run_seed


def locate_data(root: Path) -> Path | None:
    """A GTZAN-style folder of music by genre under ``root``, for `sslab run all --data ROOT`."""
    return gtzan.find_genre_root(root)


RECIPE = Recipe(
    name="generate",
    title="Genre-conditioned generative audio",
    seed_problem="003 2.1",
    Config=Config,
    presets=PRESETS,
    load_data=load_data,
    run_seed=run_seed,
    summarize=summarize,
    report=report,
    locate_data=locate_data,
    description="conditional VAE/GAN on spectrograms, Griffin-Lim, judged by a genre classifier trained on real clips",
    next_steps=next_steps,
)
