"""Recipe `denoise` (seed 000, Problem 3): speech denoising with a recurrent ideal-binary-mask estimator.

Each noisy mixture becomes a magnitude spectrogram (1024-point Hann STFT, hop 512, 513
bins at 16 kHz). The target is the ideal binary mask, 1 where |S| > |N| (equation 1).
A GRU or LSTM reads the spectra frame by frame and emits a sigmoid mask per frame
(equation 3), trained on mini-batches of whole variable-length sequences (padding
masked out of the loss) or of truncated segments. Validation runs the recurrence over
whole sequences; the estimated mask times the complex noisy STFT goes through the
inverse STFT (equation 2) and is scored by SNR and SI-SDR against the clean speech,
beside the noisy input (floor) and the oracle IBM (ceiling). A frame-wise fully
connected net, trained the same way, is the seed's baseline. Test mixtures are denoised
into ``test_denoised/`` and zipped for hand-in.

Each step of the assignment, and where it is done:
1-2. load the tr/v/te mixtures, speech and noise .......... train.load_data, sslab.data.denoise.load_layout
3. magnitude spectrograms of variable length ............. sslab.audio.stft.batch_stft, sslab.data.denoise_batches.spectra
4. the RNN reading 513-dim spectra (GRU or LSTM) .......... train.build_model, sslab.audio.models.RecurrentMasker
5. the ideal binary mask target (eq. 1) .................. sslab.audio.masks.ideal_binary_mask
6. train it, gentle dropout; the FC net to beat .......... train.train_epoch, sslab.audio.models.FramewiseMasker
7. mini-batches of 10 whole sequences, padding masked .... sslab.data.denoise_batches.batches, sslab.audio.masks.masked_bce
8. validation loss and SNR through the inverse STFT (eq. 2) train.evaluate, train.run_seed
9. denoise the test mixtures, zip them for hand-in ....... train.write_test
10. curves, table, spectrograms, audio, the claims ........ report.summarize, report.report
Beyond the assignment: every system (noisy input, spectral subtraction, Wiener filter, FC, RNN,
oracle IBM/IRM/PSM) by SNR, SI-SDR, PESQ and STOI, per noise type and input-SNR bin .. train.score_systems,
compare (sslab.audio.enhance, sslab.audio.masks, sslab.audio.metrics); `target=irm` trains on the ideal ratio mask.
Options and presets: config.Config, config.PRESETS. Apply a trained model: `sslab denoise`.
"""

from __future__ import annotations

from pathlib import Path

from sslab.data import denoise as denoise_data
from sslab.recipes import Recipe
from sslab.recipes.denoise.config import PRESETS, Config
from sslab.recipes.denoise.report import report, summarize
from sslab.recipes.denoise.train import load_data, run_seed


def locate_data(root: Path) -> Path | None:
    """A folder in the seed's tr/v/te layout under ``root``, for `sslab run all --data ROOT`."""
    return denoise_data.locate(root)


RECIPE = Recipe(
    name="denoise",
    title="Speech denoising with a recurrent ideal-binary-mask estimator",
    seed_problem="000 P3",
    Config=Config,
    presets=PRESETS,
    load_data=load_data,
    run_seed=run_seed,
    summarize=summarize,
    report=report,
    locate_data=locate_data,
    description="GRU/LSTM vs frame-wise FC mask estimation, SNR through the inverse STFT, denoised test files",
    next_steps=lambda run: f"# then: sslab denoise --checkpoint {run.root} --input noisy/ --output clean/",
)
