"""Recipe `generate` (assignment 003, problem 2.1): a genre-conditioned generative audio model.

A conditional VAE, GAN or flow-matching model on log-magnitude spectrograms makes clips of
a requested genre; Griffin-Lim turns the magnitudes into sound. The seed judges the audio
itself (noise, quality and above all the genre, "classical" for the test), so the recipe
trains its own judge, a genre classifier on real clips, and checks it twice: on held-out
real clips, and on things that are not music of a genre (real clips with noise, blurred
spectrograms, noise shaped like a genre), because a judge that calls those "classical"
cannot certify generated audio. Beside it stands a second opinion with no learned judge
(sslab.audio.features): hand-made features (MFCC, spectral shape, chroma, contrast,
harmonicity, onsets), their Frechet distance to real clips over the real-vs-real floor, and a
simple classifier on them fitted on real clips. The seed's claim is supported only when both
opinions call the generated clips the requested genre.

Each step of the assignment, and where it is done:
1. load GTZAN (or made-up music), cut clips into pieces ... train.load_data, sslab.data.gtzan.load_music_folder
2. hold out a share of each genre's clips .................. sslab.data.gtzan.split_by_clip
3. train a judge (genre classifier) on real clips .......... train.train_judge, sslab.audio.judge.GenreJudge
4. check the judge on held-out and degraded clips ......... train.log_judge_checks, train.calibrate
   the judge-free second opinion .......................... train.SecondOpinion, sslab.audio.features
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
from sslab.recipes.generate.config import DATA_PRESET, PRESETS, Config
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
    description="conditional VAE/GAN/flow on spectrograms, Griffin-Lim, judged by a genre classifier trained on real "
                "clips and by hand-made features",
    next_steps=next_steps,
    data_preset=DATA_PRESET,
)
