"""Options of `denoise`. Defaults are the `quick` preset; `paper` is the assignment's P3 as written."""

from __future__ import annotations

from dataclasses import dataclass

from sslab.config import param
from sslab.data.synthetic_speech import espeak_available
from sslab.errors import UserError
from sslab.recipes import RecipeConfig

ARMS = ("rnn", "fc")
# How the report names the two estimators and the references they are judged between (floor and ceiling).
ARM_NAMES = {"rnn": "RNN", "fc": "FC baseline", "input": "noisy input", "oracle": "oracle IBM"}


@dataclass
class Config(RecipeConfig):
    cell: str = param("gru", "recurrent cell (the seed: GRU or LSTM)", choices=("gru", "lstm"))
    hidden: int = param(256, "recurrent units per layer", min=1, max=8192)
    layers: int = param(1, "recurrent layers", min=1, max=8)
    dropout: float = param(0.1, "dropout on the recurrent output and between layers (the seed: be gentle)",
                           min=0.0, max=0.9)
    proj: int = param(0, "ReLU units of the frame-wise input layer before the recurrence (0: none)",
                      min=0, max=8192)
    head: int = param(512, "ReLU units of a frame-wise output layer reading the recurrent output and the frame's "
                      "features (0: a linear read-out of the recurrent state)",
                      min=0, max=16384)
    bidirectional: bool = param(False, "also read the sequence backwards (not causal: no streaming)")
    fc_hidden: int = param(512, "units per hidden layer of the frame-wise FC baseline", min=1, max=16384)
    fc_layers: int = param(2, "hidden layers of the FC baseline", min=1, max=8)
    fc_dropout: float = param(0.1, "dropout of the FC baseline", min=0.0, max=0.9)
    target: str = param("ibm", "training target: the ideal binary mask (the seed's equation 1) or the ideal ratio "
                        "mask |S|^2 / (|S|^2 + |N|^2) (soft; cross-entropy accepts it alike)", choices=("ibm", "irm"))
    perceptual: bool = param(True, "at the end, score every system (noisy input, spectral subtraction, Wiener filter, "
                             "FC, RNN, oracle masks) by wide-band PESQ and STOI as well as SNR and SI-SDR, in a "
                             "process pool (about 0.15 s of CPU per 3 s file and system)")
    epochs: int = param(12, "training epochs for each estimator", min=1, max=100_000)
    batch_size: int = param(10, "whole sequences per mini-batch (the seed: 10 spectrograms), or segments when "
                            "t_trunc > 0", min=1, max=4096)
    t_trunc: int = param(0, "train on segments of this many frames, batch_size segments per mini-batch "
                         "(0: whole sequences)", min=0, max=100_000)
    lr: float = param(3e-3, "Adam learning rate (the seed leaves it open; 3e-3 learns in the few epochs of quick)",
                      min=0.0, max=1.0)
    lr_schedule: str = param("cosine", "learning rate over the epochs: cosine decay to 5% of lr, or constant",
                             choices=("cosine", "constant"))
    remix_db: float = param(5.0, "each epoch, shift every training noise in time and scale it by up to this many dB "
                            "before mixing (0: the files' own mixtures only)", min=0.0, max=40.0)
    remix_swap: float = param(0.0, "with remix_db > 0: the share of training files that take another training "
                              "file's noise each epoch, rescaled to their own noise's energy (dynamic mixing)",
                              min=0.0, max=1.0)
    loss_weight: float = param(1.0, "weight each bin's cross-entropy by the noisy magnitude to this power, "
                               "normalised per sequence, so loud bins, which dominate SNR, count more (0: every bin "
                               "alike)", min=0.0, max=2.0)
    grad_clip: float = param(1.0, "clip the gradient norm to this (0: off); keeps early RNN steps stable",
                             min=0.0)
    made_speech: str = param("auto", "speech of the made-up data: espeak-ng if installed (auto), or made-up "
                             "speech-like utterances", choices=("auto", "espeak", "synthetic"))
    made_speakers: int = param(6, "training speakers of the made-up data", min=1, max=1000)
    made_val_speakers: int = param(2, "validation speakers of the made-up data", min=1, max=1000)
    made_test_speakers: int = param(1, "test speakers of the made-up data", min=1, max=1000)
    made_sentences: int = param(5, "sentences per made-up speaker", min=1, max=1000)
    noises_per_utterance: int = param(3, "noisy versions of each made-up utterance (the seed: 10)", min=1, max=100)
    snr_low: float = param(-5.0, "lowest mixing SNR of the made-up data (dB)", min=-60.0, max=60.0)
    snr_high: float = param(5.0, "highest mixing SNR of the made-up data (dB)", min=-60.0, max=60.0)
    made_seconds: float = param(3.0, "mean length of a made-up (synthetic) utterance in seconds", min=0.2, max=60.0)
    examples: int = param(3, "validation files shown as spectrograms and audio in the report", min=0, max=20)

    def validate(self) -> None:
        if self.snr_low > self.snr_high:
            raise UserError(f"snr_low={self.snr_low} must not exceed snr_high={self.snr_high}")
        if self.made_speech == "espeak" and not espeak_available():
            raise UserError("made_speech=espeak but espeak-ng is not installed; apt-get install espeak-ng, "
                            "or use made_speech=synthetic")


PRESETS = {
    "smoke": {"hidden": 32, "head": 32, "fc_hidden": 32, "epochs": 2, "made_speech": "synthetic", "made_speakers": 2,
              "made_val_speakers": 1, "made_test_speakers": 1, "made_sentences": 2, "noises_per_utterance": 2,
              "made_seconds": 1.0, "examples": 1},
    "quick": {},
    # The seed: 1024-point Hann STFT with hop 512 (fixed), mini-batches of 10 whole sequences, validation
    # over whole sequences, GRU/LSTM with gentle dropout, a frame-wise FC baseline; data of 12 speakers x
    # 10 sentences x 10 noises. It leaves size, epochs and learning rate open: 2x256 GRU, 100 epochs, Adam 1e-3.
    "paper": {"target": "ibm", "cell": "gru", "hidden": 256, "layers": 2, "dropout": 0.1, "epochs": 100, "batch_size": 10, "lr": 1e-3,
              "t_trunc": 0, "made_speakers": 12, "made_val_speakers": 2, "made_test_speakers": 2,
              "made_sentences": 10, "noises_per_utterance": 10, "seeds": 3},
}
