"""Options of `generate`. Defaults are the `quick` preset; `paper` is the seed's data with sizes meant for a GPU."""

from __future__ import annotations

from dataclasses import dataclass

from sslab.audio.generative import KINDS, POOLS
from sslab.audio.spectral import samples_for
from sslab.config import param
from sslab.data import synthetic_music
from sslab.errors import UserError
from sslab.recipes import RecipeConfig

SPLIT_SEED = 20211121  # one clip split for every seed, so seeds differ only in training


@dataclass
class Config(RecipeConfig):
    model: str = param("vae", "generative model: conditional VAE, conditional GAN or conditional flow matching (a 2-D U-Net)", choices=KINDS)
    domain: str = param("stft", "what the model makes: log-magnitude STFT, or log-mel (inverted by NNLS)",
                        choices=("stft", "mel"))
    test_genre: str = param("classical", "the genre the seed tests generation on (must be one of the genres)")
    genres: tuple[str, ...] = param((), "genres to use, e.g. classical,rock (empty: every genre folder found)")
    sample_rate: int = param(16000, "sample rate the clips are resampled to (GTZAN: 22050)", min=4000, max=48000)
    n_fft: int = param(512, "STFT window length in samples", min=64, max=8192)
    hop: int = param(128, "STFT hop in samples (at most n_fft/2; n_fft/4 suits Griffin-Lim best)", min=16, max=4096)
    n_mels: int = param(80, "mel bands when domain=mel", min=16, max=512)
    griffin_lim_iters: int = param(32, "fast Griffin-Lim iterations when turning spectrograms into sound", min=1, max=1000)
    crop_frames: int = param(64, "spectrogram frames per training crop (a multiple of 8)", min=8, max=4096)
    z_dim: int = param(32, "latent channels per 8 frames", min=1, max=1024)
    hidden: int = param(96, "channels of the decoder, encoder and discriminator (a multiple of 8)", min=8, max=2048)
    flow_steps: int = param(8, "model=flow: Heun steps from noise to spectrogram when sampling", min=1, max=1000)
    guidance: float = param(4.0, "model=flow: classifier-free guidance scale (1: none)", min=1.0, max=20.0)
    flow_levels: int = param(2, "model=flow: the U-Net's x2 downsamplings (each doubles how far in time and "
                                "frequency it sees)", min=1, max=6)
    flow_pool: str = param("both", "model=flow: what each U-Net level halves: frequency and time; time only (keeps "
                                   "pitch sharp where it sees far; about 2x the compute per step); or time at "
                                   "the first level and both below (about 1.6x)", choices=POOLS)
    flow_band_mix: bool = param(False, "model=flow: at the U-Net's deepest level every frequency band also sees "
                                       "every other (a learned band-to-band map), so harmonics and the "
                                       "spectral envelope are in reach")
    flow_band_mix_every: bool = param(False, "model=flow: a band-to-band map after every decoder level too "
                                             "(where the output's envelope takes shape)")
    flow_genre_norm: bool = param(False, "model=flow: standardise each genre's spectrograms by its own per-band mean "
                                         "and std (the U-Net draws deviations from the genre's average spectrum)")
    ema: float = param(0.1, "model=flow: sample with a running average of the weights (power-function EMA, EDM2) "
                            "as wide as this share of training (its relative std; 0: the last weights)",
                       min=0.0, max=0.25)
    batch_size: int = param(32, "crops per training step", min=2, max=4096)
    lr: float = param(0.0, "Adam learning rate (0: 1e-3 for the VAE and the flow, 2e-4 for the GAN)", min=0.0, max=1.0)
    epochs: int = param(10, "generator epochs", min=1, max=100_000)
    steps_per_epoch: int = param(30, "training steps per epoch", min=1, max=1_000_000)
    eval_every: int = param(2, "judge the generated audio every this many epochs (and at the end)", min=1)
    eval_clips: int = param(4, "generated clips per genre at each evaluation", min=2, max=10_000)
    final_clips: int = param(12, "generated clips per genre at the final evaluation", min=2, max=10_000)
    eval_seconds: float = param(2.0, "length of judged clips, real and generated", min=0.25, max=30.0)
    judge_epochs: int = param(4, "epochs of the genre classifier", min=1, max=100_000)
    judge_steps: int = param(25, "judge training steps per epoch", min=1, max=1_000_000)
    judge_lr: float = param(2e-3, "Adam learning rate of the judge", min=0.0, max=1.0)
    test_fraction: float = param(0.2, "share of clips of each genre held out for testing", min=0.05, max=0.9)
    piece_seconds: float = param(5.0, "clips are cut into pieces this long", min=0.5, max=600.0)
    max_seconds_per_file: float = param(30.0, "read at most this much of each file", min=0.5, max=36_000.0)
    synthetic_genres: int = param(5, "made-up genres when no --data is given (classical, rock, disco, jazz, hiphop)",
                                  min=2, max=len(synthetic_music.GENRES))
    synthetic_clips: int = param(16, "made-up clips per genre", min=3, max=10_000)
    report_clips: int = param(2, "generated clips per genre played in the report", min=1, max=20)
    report_seconds: float = param(5.0, "length of the clips in the report", min=0.5, max=30.0)

    def validate(self) -> None:
        if self.hop > self.n_fft // 2:
            raise UserError(f"hop={self.hop} must be at most n_fft/2 = {self.n_fft // 2} (Griffin-Lim needs overlap)")
        if self.crop_frames % 8:
            raise UserError(f"crop_frames={self.crop_frames} must be a multiple of 8 (the model upsamples by 8)")
        if self.hidden % 8:
            raise UserError(f"hidden={self.hidden} must be a multiple of 8 (group normalisation in groups of 8)")
        longest = max(self.eval_seconds, samples_for(self.crop_frames, self.hop) / self.sample_rate)
        if longest > self.piece_seconds:
            raise UserError(f"piece_seconds={self.piece_seconds} is shorter than a judged clip or a training crop "
                            f"({longest:.2f} s); raise piece_seconds or lower eval_seconds/crop_frames")
        if self.domain == "mel" and self.n_mels > self.n_fft // 2 + 1:
            raise UserError(f"n_mels={self.n_mels} exceeds the {self.n_fft // 2 + 1} STFT bins; lower it")

    @property
    def learning_rate(self) -> float:
        return self.lr or {"vae": 1e-3, "gan": 2e-4, "flow": 1e-3}[self.model]


# The flow's U-Net with --data and in paper (see DATA_PRESET below).
FLOW_UNET = {"flow_pool": "time", "flow_band_mix": True, "flow_band_mix_every": True}

PRESETS = {
    "smoke": {"epochs": 2, "steps_per_epoch": 4, "eval_every": 1, "eval_clips": 3, "final_clips": 3,
              "judge_epochs": 2, "judge_steps": 5, "synthetic_genres": 2, "synthetic_clips": 5,
              "piece_seconds": 2.0, "eval_seconds": 1.0, "hidden": 32, "z_dim": 8, "batch_size": 8,
              "griffin_lim_iters": 4, "report_clips": 1, "report_seconds": 1.0, "crop_frames": 32},
    "quick": {},
    # The seed: GTZAN, its 10 genres at 22,050 Hz, "classical" tested; it leaves model and
    # training open, so these are sizes meant for one GPU in well under an hour (not yet timed on one).
    # The flow model: on real music it made the least noise-like spectra (docs/notes/generate.md).
    "paper": {"model": "flow", "domain": "mel", "n_mels": 128, "flow_steps": 16,
              "sample_rate": 22050, "n_fft": 1024, "hop": 256, "crop_frames": 128, "z_dim": 64, "hidden": 64,
              "batch_size": 64, "epochs": 100, "steps_per_epoch": 200, "eval_every": 10, "eval_clips": 32,
              "final_clips": 100, "eval_seconds": 3.0, "judge_epochs": 30, "judge_steps": 100,
              "griffin_lim_iters": 64, "synthetic_clips": 100, "piece_seconds": 10.0, "report_clips": 1,
              "synthetic_genres": 5, "seeds": 3, **FLOW_UNET},
}

# What the default (quick) preset becomes with --data: on real recordings the flow model measured
# best (src/sslab/recipes/generate/README.md, Results), at sizes that fit 15 min on a 2-core CPU.
# The made-up music keeps the VAE, which learns it in about a minute.
# 1,800 steps: at 1,200 one seed of three stayed noise-like (flatness 3.4x real), at 1,800 none above 2x.
# The U-Net keeps every frequency band at every level (flow_pool=time) with a band-to-band map at the
# deepest level and after each decoder level: notes hold about twice as long as with levels that halve
# both axes, with the genre kept on three seeds of three (docs/notes/generate.md, "A map at every
# decoder level"); 14.2 min for one seed on one quiet core.
DATA_PRESET = {"model": "flow", "domain": "mel", "n_mels": 64, "hidden": 16, "crop_frames": 32, "batch_size": 16,
               "epochs": 60, "eval_every": 20, **FLOW_UNET}
