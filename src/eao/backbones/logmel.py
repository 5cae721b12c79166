"""The AVLnet/EAO log-mel spectrogram (docs/features.md; AVLnet's and EAO's audio loaders) in torch.

The reference computed it with librosa 0.8.1; this reproduces those numbers (within 0.01 dB,
tested against librosa) without librosa: 16 kHz mono -> DC removal -> pre-emphasis 0.97 ->
25 ms symmetric-Hamming STFT every 10 ms -> power -> 40 Slaney mels (20-8000 Hz) -> dB relative
to the loudest bin of the whole file, floored 80 dB below it. Output (40, T), T = 1 + N // 160.
"""

from __future__ import annotations

import functools

import numpy as np
import torch
import torchaudio.functional as AF

from eao.backbones.spec import Audio, Backbone

# the recipe's layout (eao.timeline), also public here: the recipe in one module
from eao.timeline import FRAMES_PER_SECOND, HOP, N_FFT, N_MELS, SAMPLE_RATE  # noqa: F401

WIN = 400  # 25 ms
FMIN = 20.0
FMAX = 8000.0  # sr / 2
TOP_DB = 80.0
AMIN = 1e-10  # power floor before the log, librosa's default
PREEMPHASIS = 0.97
EMPTY_SAMPLES = 200  # the reference replaces an empty file by this many zero samples


@functools.cache
def _window() -> torch.Tensor:
    # The reference passed scipy's `hamming` as a callable; librosa calls it as hamming(400),
    # which is the SYMMETRIC window (sym=True), not the periodic one that torch/librosa use for a
    # named window. They differ by up to 2.4 % near the ends: > 0.01 dB in the output (tested).
    return torch.hamming_window(WIN, periodic=False, dtype=torch.float64)


@functools.cache
def _mel_basis() -> torch.Tensor:
    """(n_mels, n_fft // 2 + 1): librosa.filters.mel defaults, i.e. Slaney scale and area norm.

    torchaudio builds it in float32 (tiny filter tails are off by up to 0.1 % relative): that is
    < 0.001 dB in the output, far below float16 storage resolution.
    """
    fb = AF.melscale_fbanks(
        N_FFT // 2 + 1, FMIN, FMAX, N_MELS, SAMPLE_RATE, norm="slaney", mel_scale="slaney"
    )
    return fb.T.to(torch.float64).contiguous()


def frames_for_samples(n: int) -> int:
    """Frame count for n samples (an empty signal counts as the reference's 200 zeros)."""
    return 1 + (n or EMPTY_SAMPLES) // HOP


def frame_times(n_frames: int) -> np.ndarray:
    """Centre time (s, float64) of each frame: k * 10 ms, since frames are centred (center=True)."""
    return np.arange(n_frames, dtype=np.float64) * HOP / SAMPLE_RATE


def log_mel(wave: np.ndarray | torch.Tensor) -> torch.Tensor:
    """(40, T) float32 log-mel in [-80, 0] dB of 16 kHz mono samples; max is exactly 0."""
    y = torch.as_tensor(np.asarray(wave, dtype=np.float64).reshape(-1))
    if y.numel() == 0:
        y = torch.zeros(EMPTY_SAMPLES, dtype=torch.float64)
    y = y - y.mean()  # DC removal over the whole file
    y = torch.cat([y[:1], y[1:] - PREEMPHASIS * y[:-1]])  # pre-emphasis, y[0] kept
    power = _power_spectrogram(y)
    mel = _mel_basis() @ power
    return _power_to_db(mel).to(torch.float32)


def _power_spectrogram(y: torch.Tensor) -> torch.Tensor:
    """|STFT|^2, (201, 1 + N // 160). float64: cheap, and keeps our rounding out of the parity."""
    # center=True with REFLECT padding, as librosa 0.8.1 did by default (librosa >= 0.9 pads with
    # zeros). numpy's reflect also works when the signal is shorter than the 200-sample pad,
    # where torch's reflect pad raises.
    padded = torch.from_numpy(np.pad(y.numpy(), N_FFT // 2, mode="reflect"))
    spec = torch.stft(
        padded,
        N_FFT,
        hop_length=HOP,
        win_length=WIN,
        window=_window(),
        center=False,
        return_complex=True,
    )
    return spec.real.square() + spec.imag.square()


def _power_to_db(s: torch.Tensor) -> torch.Tensor:
    """librosa.power_to_db(s, ref=np.max, amin=1e-10, top_db=80).

    10*log10(max(s, amin)) - 10*log10(max(max(s), amin)) equals db - db.max() exactly (log10 is
    monotonic), so the loudest bin is exactly 0 dB; an all-zero input gives 0 dB everywhere, as
    librosa does.
    """
    db = 10.0 * torch.log10(s.clamp(min=AMIN))
    db = db - db.max()
    return db.clamp(min=-TOP_DB)


def _rows(wave: np.ndarray) -> np.ndarray:
    """A video's whole waveform -> (T, 40) float16 frames; (0, 40) without audio."""
    if len(wave) == 0:
        return np.zeros((0, N_MELS), np.float16)
    return log_mel(wave).T.contiguous().numpy().astype(np.float16)


def _build(settings: dict, device: str) -> Audio:
    meta = {
        "backbone": "logmel",
        "weights": "none",
        "sample_rate": str(SAMPLE_RATE),
        "frames_per_second": str(FRAMES_PER_SECOND),
    }
    return Audio("logmel", 1 / FRAMES_PER_SECOND, N_MELS, _rows, meta)


SPEC = Backbone(
    name="logmel",
    kind="audio",
    summary="40-band log-mel spectrogram, 100 frames/s.",
    step_s=1 / FRAMES_PER_SECOND,
    dim=N_MELS,
    build=_build,
    paper=True,
    weighted=False,
    released=("resnet", "audio"),
)
