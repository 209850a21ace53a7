"""Genre-conditioned generative models of log-spectrograms: a VAE and a GAN, one interface.

Both share the part that makes sound, :class:`Sampler`: a decoder from a *sequence* of
latent vectors (one per 8 spectrogram frames) and a genre to standardised
log-magnitudes. It is convolutional along time with the frequency bins as channels, so
a model trained on sub-second crops can be asked for any number of seconds: longer
clips simply draw a longer latent sequence. The genre enters twice: as an embedding
concatenated to the latents and as a per-channel scale and shift (FiLM) in every
upsampling block, so it cannot be ignored deep in the network.

- :class:`ConditionalVAE`: a convolutional encoder gives a Gaussian posterior for each
  latent frame; trained on the negative ELBO with a *calibrated decoder* (sigma-VAE,
  Rybkin et al. 2021): the decoder variance is set to its maximum-likelihood value
  (the batch MSE), which weighs reconstruction against KL without a hand-tuned beta.
- :class:`ConditionalGAN`: the same decoder as generator against a spectrally
  normalised convolutional discriminator with a projection head for the genre
  (Miyato & Koyama 2018), trained with the hinge loss.

Spectrograms are standardised per frequency bin with statistics of the training set
(buffers of the sampler, so a saved sampler alone turns noise into spectrograms).
"""

from __future__ import annotations

import copy
import math
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.utils.parametrizations import spectral_norm

from sslab.audio.spectral import SpectralDomain
from sslab.errors import UserError
from sslab.train.checkpoint import load_model, read_model_meta, save_model

UPSAMPLE = 8  # spectrogram frames per latent frame (three x2 upsamplings)
KINDS = ("vae", "gan", "flow")
POOLS = ("both", "time", "time-then-both")  # what the flow's U-Net halves at each level (FlowSampler)


class FiLMUpBlock(nn.Module):
    """x2 upsampling in time, a convolution, genre FiLM, and a residual dilated convolution."""

    def __init__(self, channels: int, genre_dim: int):
        super().__init__()
        self.conv = nn.Conv1d(channels, channels, 5, padding=2)
        self.norm = nn.GroupNorm(8, channels, affine=False)
        self.film = nn.Linear(genre_dim, 2 * channels)
        self.res = nn.Sequential(nn.LeakyReLU(0.2), nn.Conv1d(channels, channels, 3, padding=3, dilation=3))

    def forward(self, x: torch.Tensor, genre: torch.Tensor) -> torch.Tensor:
        x = self.conv(F.interpolate(x, scale_factor=2, mode="nearest"))
        scale, shift = self.film(genre).unsqueeze(-1).chunk(2, dim=1)
        x = F.leaky_relu(self.norm(x) * (1 + scale) + shift, 0.2)
        return x + self.res(x)


class Sampler(nn.Module):
    """Latent sequence + genre -> log-magnitude spectrogram (batch, bins, frames)."""

    def __init__(self, bins: int, n_genres: int, z_dim: int = 32, hidden: int = 128, genre_dim: int = 16):
        super().__init__()
        self.bins, self.n_genres, self.z_dim = bins, n_genres, z_dim
        self.genre = nn.Embedding(n_genres, genre_dim)
        self.inp = nn.Conv1d(z_dim + genre_dim, hidden, 3, padding=1)
        self.blocks = nn.ModuleList(FiLMUpBlock(hidden, genre_dim) for _ in range(int(math.log2(UPSAMPLE))))
        self.out = nn.Conv1d(hidden, bins, 5, padding=2)
        # Per-bin statistics of the training log-magnitudes (set by `fit_standardizer`).
        self.register_buffer("mean", torch.zeros(bins))
        self.register_buffer("std", torch.ones(bins))

    # The statistics are per bin (mean, std: (bins,)), or per genre and bin ((n_genres, bins); the flow's
    # genre_norm), when ``genres`` (batch,) says which row standardises each spectrogram.
    def _stats(self, genres: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        if self.mean.dim() == 1:
            return self.mean[:, None], self.std[:, None]
        if genres is None:
            raise ValueError("per-genre statistics: say which genre each spectrogram is")
        return self.mean[genres][:, :, None], self.std[genres][:, :, None]

    def standardize(self, log_mag: torch.Tensor, genres: torch.Tensor | None = None) -> torch.Tensor:
        mean, std = self._stats(genres)
        return (log_mag - mean) / std

    def unstandardize(self, x: torch.Tensor, genres: torch.Tensor | None = None) -> torch.Tensor:
        mean, std = self._stats(genres)
        return x * std + mean

    def fit_standardizer(self, log_mag: torch.Tensor, genres: torch.Tensor | None = None) -> None:
        """Set the mean and std per bin (or per genre and bin) from training log-magnitudes (batch, bins, frames)
        and their genre ids (batch,); a genre absent from them gets the statistics of all."""
        rows = [log_mag] if self.mean.dim() == 1 else [
            log_mag[genres == g] if genres is not None and bool((genres == g).any()) else log_mag
            for g in range(len(self.mean))]
        self.mean.copy_(torch.stack([r.mean(dim=(0, 2)) for r in rows]).reshape(self.mean.shape))
        self.std.copy_(torch.stack([r.std(dim=(0, 2)) for r in rows]).reshape(self.std.shape).clamp_min(1e-3))

    def decode(self, z: torch.Tensor, genres: torch.Tensor) -> torch.Tensor:
        """Standardised spectrogram (batch, bins, UPSAMPLE * z frames)."""
        g = self.genre(genres)
        x = self.inp(torch.cat([z, g[:, :, None].expand(-1, -1, z.shape[-1])], dim=1))
        for block in self.blocks:
            x = block(x, g)
        return self.out(F.leaky_relu(x, 0.2))

    def latent_frames(self, frames: int) -> int:
        return -(-frames // UPSAMPLE)

    def draw_latents(self, n: int, frames: int, generator: torch.Generator | None = None) -> torch.Tensor:
        z = torch.randn(n, self.z_dim, self.latent_frames(frames), generator=generator)
        return z.to(self.mean.device)

    @torch.no_grad()
    def sample(self, genres: torch.Tensor, frames: int, generator: torch.Generator | None = None,
               z: torch.Tensor | None = None) -> torch.Tensor:
        """Log-magnitudes (n, bins, frames) for the genre ids ``genres`` (n,), latents from N(0, I)."""
        if z is None:
            z = self.draw_latents(len(genres), frames, generator)
        genres = genres.to(self.mean.device)
        return self.unstandardize(self.decode(z, genres)[..., :frames], genres)

    def settings(self) -> dict[str, int]:
        return {"bins": self.bins, "n_genres": self.n_genres, "z_dim": self.z_dim,
                "hidden": self.inp.out_channels, "genre_dim": self.genre.embedding_dim}


class ConditionalVAE(nn.Module):
    kind = "vae"

    def __init__(self, bins: int, n_genres: int, z_dim: int = 32, hidden: int = 128, genre_dim: int = 16):
        super().__init__()
        self.sampler = Sampler(bins, n_genres, z_dim, hidden, genre_dim)
        self.enc_genre = nn.Embedding(n_genres, genre_dim)
        layers: list[nn.Module] = [nn.Conv1d(bins + genre_dim, hidden, 5, padding=2), nn.LeakyReLU(0.2)]
        for _ in range(int(math.log2(UPSAMPLE))):
            layers += [nn.Conv1d(hidden, hidden, 4, stride=2, padding=1), nn.GroupNorm(8, hidden), nn.LeakyReLU(0.2)]
        layers.append(nn.Conv1d(hidden, 2 * z_dim, 3, padding=1))
        self.encoder = nn.Sequential(*layers)

    def encode(self, x: torch.Tensor, genres: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        g = self.enc_genre(genres)[:, :, None].expand(-1, -1, x.shape[-1])
        mu, logvar = self.encoder(torch.cat([x, g], dim=1)).chunk(2, dim=1)
        return mu, logvar.clamp(-12, 6)

    def losses(self, x: torch.Tensor, genres: torch.Tensor) -> dict[str, torch.Tensor]:
        """Negative ELBO per spectrogram element, with the decoder variance at its ML value."""
        mu, logvar = self.encode(x, genres)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        recon = self.sampler.decode(z, genres)
        mse = F.mse_loss(recon, x)
        kl = 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).sum(dim=(1, 2)).mean()
        elements = x[0].numel()
        # -log N(x; recon, mse) per element = 0.5 * log(2 pi e mse); the KL is shared out over elements.
        loss = 0.5 * torch.log(2 * math.pi * math.e * mse) + kl / elements
        return {"loss": loss, "mse": mse.detach(), "kl": (kl / mu[0].numel()).detach()}


class ProjectionDiscriminator(nn.Module):
    """Real/fake score per latent frame plus <genre embedding, features> (projection)."""

    def __init__(self, bins: int, n_genres: int, hidden: int = 128):
        super().__init__()
        layers: list[nn.Module] = [spectral_norm(nn.Conv1d(bins, hidden, 5, padding=2)), nn.LeakyReLU(0.2)]
        for _ in range(int(math.log2(UPSAMPLE))):
            layers += [spectral_norm(nn.Conv1d(hidden, hidden, 4, stride=2, padding=1)), nn.LeakyReLU(0.2)]
        self.features = nn.Sequential(*layers)
        self.score = spectral_norm(nn.Conv1d(hidden, 1, 3, padding=1))
        self.genre = spectral_norm(nn.Embedding(n_genres, hidden))

    def forward(self, x: torch.Tensor, genres: torch.Tensor) -> torch.Tensor:
        h = self.features(x)
        projection = (self.genre(genres)[:, :, None] * h).sum(dim=1, keepdim=True)
        return (self.score(h) + projection).mean(dim=(1, 2))


class ConditionalGAN(nn.Module):
    kind = "gan"

    def __init__(self, bins: int, n_genres: int, z_dim: int = 32, hidden: int = 128, genre_dim: int = 16):
        super().__init__()
        self.sampler = Sampler(bins, n_genres, z_dim, hidden, genre_dim)
        self.discriminator = ProjectionDiscriminator(bins, n_genres, hidden)

    def fake(self, genres: torch.Tensor, frames: int) -> torch.Tensor:
        z = torch.randn(len(genres), self.sampler.z_dim, self.sampler.latent_frames(frames), device=genres.device)
        return self.sampler.decode(z, genres)[..., :frames]

    def d_loss(self, x: torch.Tensor, genres: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            fake = self.fake(genres, x.shape[-1])
        return F.relu(1 - self.discriminator(x, genres)).mean() + F.relu(1 + self.discriminator(fake, genres)).mean()

    def g_loss(self, genres: torch.Tensor, frames: int) -> torch.Tensor:
        return -self.discriminator(self.fake(genres, frames), genres).mean()


# ---- conditional flow matching with a 2-D U-Net ---------------------------------------------
class FiLMConvBlock2d(nn.Module):
    """Two 3x3 convolutions over (frequency, time) with a residual path; the genre and the flow time
    enter as a per-channel scale and shift (FiLM) after the first."""

    def __init__(self, c_in: int, c_out: int, cond_dim: int):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.norm1 = nn.GroupNorm(min(8, c_out), c_out)
        self.film = nn.Linear(cond_dim, 2 * c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1)
        self.norm2 = nn.GroupNorm(min(8, c_out), c_out)
        self.skip = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        h = self.norm1(self.conv1(x))
        scale, shift = self.film(cond)[:, :, None, None].chunk(2, dim=1)
        h = F.silu(h * (1 + scale) + shift)
        return self.skip(x) + self.conv2(F.silu(self.norm2(h)))


class BandMix(nn.Module):
    """Every frequency band sees every other: a learned (bands x bands) map along frequency, shared by the
    channels and framed by 1x1 convolutions (as PHASEN's frequency transformation blocks). 3x3 convolutions
    see a few neighbouring bands, so a note's harmonics, 12-30 bands apart, and the genre's envelope over the
    whole spectrum are out of their reach. Residual, and the identity at initialisation."""

    def __init__(self, channels: int, bands: int):
        super().__init__()
        self.norm = nn.GroupNorm(min(8, channels), channels)
        self.inp = nn.Conv2d(channels, channels, 1)
        self.bands = nn.Parameter(torch.randn(bands, bands) / math.sqrt(bands))
        self.out = nn.Conv2d(channels, channels, 1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mixed = torch.einsum("bcft,fg->bcgt", self.inp(self.norm(x)), self.bands)
        return x + self.out(F.silu(mixed))


class FlowSampler(nn.Module):
    """Noise (batch, bins, frames) + genre -> log-magnitude spectrogram, by integrating the velocity
    field of a 2-D U-Net (frequency x time) from t=0 (noise) to t=1 (data) with Heun steps.

    The U-Net sees the spectrogram as an image, so harmonics (stacks of narrow lines) and onsets
    (vertical edges) are local 2-D patterns it can draw sharply, where a 1-D decoder with the
    frequency bins as channels makes blurred bands. It is fully convolutional: trained on short
    crops, it generates any length in one pass. Classifier-free guidance: the genre is dropped
    (replaced by an extra "any genre" id) for 10% of training crops, and sampling extrapolates
    ``guidance`` times from the unconditional towards the conditional velocity.
    """

    kind = "flow"

    def __init__(self, bins: int, n_genres: int, hidden: int = 32, steps: int = 16, guidance: float = 2.0,
                 genre_dim: int = 16, levels: int = 2, pool: str = "both", band_mix: bool = False,
                 genre_norm: bool = False, band_mix_every: bool = False):
        super().__init__()
        if pool not in POOLS:
            raise ValueError(f"pool={pool!r}: use one of {', '.join(POOLS)}")
        self.bins, self.n_genres, self.hidden, self.steps, self.guidance = bins, n_genres, hidden, steps, guidance
        self.levels = levels  # x2 downsamplings; each doubles how far in time it sees
        # "both" halves frequency and time at each level; "time" keeps every frequency band, so the deep,
        # far-seeing levels still know which pitch a line is at (about 2x the compute at two levels);
        # "time-then-both" keeps the bands at the first level only.
        self.pool = pool
        self.pool_kernels = [(2, 2) if pool == "both" or (pool == "time-then-both" and i > 0) else (1, 2)
                             for i in range(levels)]
        self.z_dim = 1
        self.genre = nn.Embedding(n_genres + 1, genre_dim)  # the last id: no genre (guidance)
        cond = 2 * genre_dim
        self.time = nn.Sequential(nn.Linear(genre_dim, genre_dim), nn.SiLU(), nn.Linear(genre_dim, genre_dim))
        widths = [hidden * 2 ** i for i in range(levels + 1)]
        # Halving time only leaves no level that sees enough bands to tell where in the spectrum it is, and a
        # genre's spectral envelope needs that: unless pool="both", the band's position is a second input channel.
        self.inp = nn.Conv2d(1 if pool == "both" else 2, widths[0], 3, padding=1)
        self.down = nn.ModuleList(FiLMConvBlock2d(widths[i], widths[i + 1], cond) for i in range(levels))
        self.mid = FiLMConvBlock2d(widths[-1], widths[-1], cond)
        # band_mix: at the deepest level, every band also sees every other (BandMix)
        self.band_mix = band_mix
        deep_bands = -(-bins // math.prod(k[0] for k in self.pool_kernels))
        self.mix = BandMix(widths[-1], deep_bands) if band_mix else None
        # band_mix_every: also after every decoder level, where the output's envelope takes shape
        self.band_mix_every = band_mix_every
        padded = deep_bands * math.prod(k[0] for k in self.pool_kernels)
        self.up_mix = nn.ModuleList(BandMix(widths[i], padded // math.prod(k[0] for k in self.pool_kernels[:i]))
                                    for i in reversed(range(levels))) if band_mix_every else None
        self.up = nn.ModuleList(FiLMConvBlock2d(2 * widths[i + 1], widths[i], cond) for i in reversed(range(levels)))
        self.top = FiLMConvBlock2d(2 * widths[0], widths[0], cond)
        self.out = nn.Conv2d(widths[0], 1, 3, padding=1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)
        # genre_norm: each genre's spectrograms are standardised by its own per-band mean and std, so the
        # U-Net draws deviations from the genre's average spectrum and sampling puts that envelope back.
        self.genre_norm = genre_norm
        stats_shape = (n_genres, bins) if genre_norm else (bins,)
        self.register_buffer("mean", torch.zeros(stats_shape))
        self.register_buffer("std", torch.ones(stats_shape))

    _stats = Sampler._stats
    standardize = Sampler.standardize
    unstandardize = Sampler.unstandardize
    fit_standardizer = Sampler.fit_standardizer

    def _time_features(self, t: torch.Tensor) -> torch.Tensor:
        half = self.genre.embedding_dim // 2
        freqs = torch.exp(-math.log(1000.0) * torch.arange(half, device=t.device) / half)
        angles = 1000.0 * t[:, None] * freqs[None]
        return self.time(torch.cat([angles.sin(), angles.cos()], dim=1))

    def velocity(self, x: torch.Tensor, t: torch.Tensor, genres: torch.Tensor) -> torch.Tensor:
        """d x / d t at ``x`` (batch, bins, frames), flow time ``t`` (batch,), genre ids (batch,)."""
        pad_f = (-x.shape[1]) % math.prod(k[0] for k in self.pool_kernels)
        pad_t = (-x.shape[2]) % 2 ** self.levels
        h = F.pad(x, (0, pad_t, 0, pad_f))[:, None]
        if self.pool != "both":
            band = torch.linspace(-1.0, 1.0, h.shape[2], device=h.device, dtype=h.dtype)
            h = torch.cat([h, band[None, None, :, None].expand_as(h)], dim=1)
        cond = torch.cat([self.genre(genres), self._time_features(t)], dim=1)
        h = self.inp(h)
        skips = [h]
        for block, kernel in zip(self.down, self.pool_kernels):  # full -> 1/2 -> 1/4 resolution
            h = block(F.avg_pool2d(h, kernel), cond)
            skips.append(h)
        h = self.mid(h, cond)
        if self.mix is not None:
            h = self.mix(h)
        for j, block in enumerate(self.up):  # merge the skip at this resolution, then up to the next
            h = block(torch.cat([h, skips.pop()], dim=1), cond)
            h = F.interpolate(h, size=skips[-1].shape[-2:], mode="nearest")
            if self.up_mix is not None:
                h = self.up_mix[j](h)
        h = self.top(torch.cat([h, skips.pop()], dim=1), cond)
        return self.out(F.silu(h))[:, 0, : x.shape[1], : x.shape[2]]

    def draw_latents(self, n: int, frames: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return torch.randn(n, self.bins, frames, generator=generator).to(self.mean.device)

    def guided(self, x: torch.Tensor, t: float, genres: torch.Tensor) -> torch.Tensor:
        tt = torch.full((len(x),), t, device=x.device)
        if self.guidance == 1.0:
            return self.velocity(x, tt, genres)
        both = self.velocity(torch.cat([x, x]), torch.cat([tt, tt]),
                             torch.cat([genres, torch.full_like(genres, self.n_genres)]))
        cond, uncond = both.chunk(2)
        return uncond + self.guidance * (cond - uncond)

    @torch.no_grad()
    def sample(self, genres: torch.Tensor, frames: int, generator: torch.Generator | None = None,
               z: torch.Tensor | None = None) -> torch.Tensor:
        """Log-magnitudes (n, bins, frames) for genre ids ``genres`` (n,), starting from noise ``z``."""
        self.eval()
        genres = genres.to(self.mean.device)
        x = self.draw_latents(len(genres), frames, generator) if z is None else z
        dt = 1.0 / self.steps
        for i in range(self.steps):  # Heun's method: two velocity evaluations per step
            t = i * dt
            v = self.guided(x, t, genres)
            x_next = x + dt * v
            if i + 1 < self.steps:
                x_next = x + 0.5 * dt * (v + self.guided(x_next, t + dt, genres))
            x = x_next
        return self.unstandardize(x, genres)

    def settings(self) -> dict[str, Any]:
        return {"kind": "flow", "bins": self.bins, "n_genres": self.n_genres, "hidden": self.hidden,
                "steps": self.steps, "guidance": self.guidance, "genre_dim": self.genre.embedding_dim,
                "levels": self.levels, "pool": self.pool, "band_mix": self.band_mix,
                "genre_norm": self.genre_norm, "band_mix_every": self.band_mix_every}


def ema_gamma(std: float) -> float:
    """The exponent gamma of a power-function EMA whose averaging profile has relative standard deviation
    ``std`` (EDM2, Karras et al. 2024, eq. 3: std^2 = (g+1) / ((g+2)^2 (g+3)), falling from 0.289 at g=0)."""
    if not 0 < std < 0.28:
        raise ValueError(f"ema={std}: the relative width must be in (0, 0.28)")
    lo, hi = 0.0, 1e8
    for _ in range(100):  # bisection
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if (mid + 1) / ((mid + 2) ** 2 * (mid + 3)) > std ** 2 else (lo, mid)
    return (lo + hi) / 2


class WeightAverage(nn.Module):
    """A running average of a sampler's weights, the one that makes sound (standard for diffusion and flow
    models: the last weights of a short, constant-learning-rate run carry the noise of the last few batches,
    and which few decides how noise-like the samples are).

    Power-function EMA (EDM2, Karras et al. 2024): after step t, ``avg = b avg + (1 - b) weights`` with
    ``b = (1 - 1/t)^(gamma + 1)``, which weighs step tau by tau^gamma. Its width is a *share of training*
    (relative std ``std``; 0.1 averages roughly the last quarter), so one setting suits a 1,000-step CPU run
    and a 20,000-step GPU run alike. Buffers (the standardiser) are copied as they are.
    """

    def __init__(self, sampler: nn.Module, std: float):
        super().__init__()
        self.average = copy.deepcopy(sampler).requires_grad_(False)
        self.std, self.gamma = std, ema_gamma(std)
        self.register_buffer("steps", torch.zeros((), dtype=torch.long))

    @torch.no_grad()
    def update(self, sampler: nn.Module) -> None:
        self.steps += 1
        # The weight stays a tensor on the model's device: reading the step count back to Python would
        # wait for the GPU every step. float64 so that 1 - 1/t is exact enough at any step count.
        keep = (1.0 - 1.0 / self.steps.double()) ** (self.gamma + 1)
        avgs = list(self.average.parameters())
        weight = (1.0 - keep).to(avgs[0].dtype) if avgs else keep
        for avg, now in zip(avgs, sampler.parameters()):
            avg.lerp_(now.detach(), weight)
        for avg, now in zip(self.average.buffers(), sampler.buffers()):
            avg.copy_(now)


class ConditionalFlow(nn.Module):
    """Conditional flow matching (Lipman et al. 2023; rectified flow): x_t = (1-t) noise + t data, and the
    U-Net regresses the straight-line velocity data - noise. With ``ema`` > 0 a running average of the
    U-Net's weights (:class:`WeightAverage`) is kept and is what :func:`sampler_of` hands out for sampling."""

    kind = "flow"
    DROP_GENRE = 0.1

    def __init__(self, bins: int, n_genres: int, hidden: int = 32, steps: int = 16, guidance: float = 2.0,
                 genre_dim: int = 16, ema: float = 0.0, levels: int = 2, pool: str = "both", band_mix: bool = False,
                 genre_norm: bool = False, band_mix_every: bool = False):
        super().__init__()
        self.sampler = FlowSampler(bins, n_genres, hidden, steps, guidance, genre_dim, levels, pool, band_mix,
                                   genre_norm, band_mix_every)
        self.ema = WeightAverage(self.sampler, ema) if ema > 0 else None

    def losses(self, x: torch.Tensor, genres: torch.Tensor) -> dict[str, torch.Tensor]:
        noise = torch.randn_like(x)
        t = torch.rand(len(x), device=x.device)
        xt = (1 - t[:, None, None]) * noise + t[:, None, None] * x
        drop = torch.rand(len(x), device=x.device) < self.DROP_GENRE
        genres = torch.where(drop, torch.full_like(genres, self.sampler.n_genres), genres)
        loss = F.mse_loss(self.sampler.velocity(xt, t, genres), x - noise)
        return {"loss": loss}


def build_model(kind: str, bins: int, n_genres: int, z_dim: int = 32, hidden: int = 128,
                genre_dim: int = 16, flow_steps: int = 16, guidance: float = 2.0, ema: float = 0.0,
                flow_levels: int = 2, flow_pool: str = "both",
                flow_band_mix: bool = False, flow_genre_norm: bool = False, flow_band_mix_every: bool = False,
                ) -> ConditionalVAE | ConditionalGAN | ConditionalFlow:
    """The flow only: ``ema``, relative width of the weight average used for sampling (0: the last weights);
    ``flow_levels``, the U-Net's downsamplings; ``flow_pool``, what they halve; ``flow_band_mix``, whether
    the deepest level mixes all bands (:class:`BandMix`); ``flow_genre_norm``, whether each genre is
    standardised by its own statistics."""
    if kind == "vae":
        return ConditionalVAE(bins, n_genres, z_dim, hidden, genre_dim)
    if kind == "gan":
        return ConditionalGAN(bins, n_genres, z_dim, hidden, genre_dim)
    if kind == "flow":
        return ConditionalFlow(bins, n_genres, hidden, flow_steps, guidance, genre_dim, ema, flow_levels, flow_pool,
                              flow_band_mix, flow_genre_norm, flow_band_mix_every)
    raise ValueError(f"unknown model kind {kind!r}; use one of {', '.join(KINDS)}")


def sampler_of(model: nn.Module) -> Sampler | FlowSampler:
    """The sampler that makes sound: the weight average once it has seen a step, else the trained weights."""
    ema = getattr(model, "ema", None)
    return ema.average if ema is not None and int(ema.steps) > 0 else model.sampler


def build_optimizers(model: nn.Module, lr: float) -> dict[str, torch.optim.Optimizer]:
    """Adam for the VAE and the flow (not for the flow's weight average); for the GAN one Adam per player
    with the usual GAN betas."""
    if isinstance(model, ConditionalGAN):
        return {"opt_g": torch.optim.Adam(model.sampler.parameters(), lr=lr, betas=(0.5, 0.9)),
                "opt_d": torch.optim.Adam(model.discriminator.parameters(), lr=lr, betas=(0.5, 0.9))}
    return {"opt": torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=lr)}


def train_step(model: nn.Module, optimizers: dict[str, torch.optim.Optimizer], x: torch.Tensor,
               genres: torch.Tensor) -> dict[str, torch.Tensor]:
    """One update on standardised spectrograms ``x`` (batch, bins, frames); detached losses back."""
    model.train()
    if isinstance(model, ConditionalGAN):
        opt_g, opt_d = optimizers["opt_g"], optimizers["opt_d"]
        d_loss = model.d_loss(x, genres)
        opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        opt_d.step()
        g_loss = model.g_loss(genres, x.shape[-1])
        opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        opt_g.step()
        return {"d_loss": d_loss.detach(), "g_loss": g_loss.detach()}
    opt = optimizers["opt"]
    out = model.losses(x, genres)
    opt.zero_grad(set_to_none=True)
    out["loss"].backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
    opt.step()
    if getattr(model, "ema", None) is not None:
        model.ema.update(model.sampler)
    return {k: v.detach() for k, v in out.items()}


# ---- from noise to sound, and the sampler on disk -----------------------------------------
@torch.no_grad()
def generate_audio(sampler: Sampler | FlowSampler, domain: SpectralDomain, genres: torch.Tensor, seconds: float,
                   griffin_lim_iters: int = 32, generator: torch.Generator | None = None,
                   batch: int = 32) -> torch.Tensor:
    """Waveforms (n, seconds * rate) for genre ids ``genres``; reproducible under ``generator``.

    One number is drawn from ``generator``; clip i then draws its latents and Griffin-Lim's initial
    phases from its own generator seeded with that number + i, so clip i is the same whatever the
    number of clips asked for or the batch they are made in (batches of ``batch`` clips, so long
    requests do not hold every spectrogram at once).
    """
    sampler.eval()
    frames = domain.frames(seconds)
    base = int(torch.randint(2 ** 62, (1,), generator=generator))
    out = []
    for start in range(0, len(genres), batch):
        chunk = genres[start: start + batch]
        gens = [torch.Generator().manual_seed(base + start + i) for i in range(len(chunk))]
        z = torch.cat([sampler.draw_latents(1, frames, g) for g in gens])
        log_mag = sampler.sample(chunk, frames, z=z)
        phase = torch.stack([torch.rand(domain.n_fft // 2 + 1, frames, generator=g) for g in gens])
        out.append(domain.decode(log_mag, iters=griffin_lim_iters, seconds=seconds, phase=phase).cpu())
    return torch.cat(out)


def save_sampler(path, sampler: Sampler | FlowSampler, domain: SpectralDomain, genres: list[str] | tuple[str, ...],
                 extra: dict[str, Any] | None = None) -> None:
    """Weights (safetensors) and everything needed to rebuild the sampler and make sound."""
    meta = {"kind": "sslab-generate-sampler", "genres": list(genres), "sampler": sampler.settings(),
            "domain": {"kind": domain.kind, "sample_rate": domain.sample_rate, "n_fft": domain.n_fft,
                       "hop": domain.hop, "n_mels": domain.n_mels}, **(extra or {})}
    save_model(path, sampler, meta)


def _flag(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{value!r} where true or false belongs")
    return value


def load_sampler(path) -> tuple[Sampler | FlowSampler, SpectralDomain, list[str], dict[str, Any]]:
    meta = read_model_meta(path)
    if meta.get("kind") != "sslab-generate-sampler":
        raise UserError(f"{path} is not a sampler written by `sslab run generate`; pass its run directory "
                        "or checkpoints/seed<N>-sampler.safetensors")
    try:
        settings = dict(meta["sampler"])
        if settings.pop("kind", "vae") == "flow":
            sampler = FlowSampler(int(settings["bins"]), int(settings["n_genres"]), int(settings["hidden"]),
                                  int(settings["steps"]), float(settings["guidance"]), int(settings["genre_dim"]),
                                  int(settings.get("levels", 2)),  # samplers from before the setting had 2
                                  str(settings.get("pool", "both")),  # and halved both axes
                                  _flag(settings.get("band_mix", False)), _flag(settings.get("genre_norm", False)),
                                  _flag(settings.get("band_mix_every", False)))
        else:
            sampler = Sampler(**{k: int(v) for k, v in settings.items()})
        domain = SpectralDomain(**meta["domain"])
        genres = [str(g) for g in meta["genres"]]
    except (KeyError, TypeError, ValueError) as exc:
        raise UserError(f"{path}: its settings are malformed ({exc}); re-run `sslab run generate` to write it again") from None
    load_model(path, sampler)
    return sampler, domain, genres, meta
