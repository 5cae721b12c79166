"""Token helpers shared by training and evaluation (spec model.md 3.2 and 6.2): time <-> frame
conversions, the 'clip' video strategy, audio windows and text tokens. Pure numpy/torch.

Time -> log-mel frame. Our log-mel table has the reference spectrogram's layout: 100 frames/s,
frame k centred at k*0.01 s (librosa center=True), 1 + N//160 frames for N samples. So the
reference loaders' formula applies to it unchanged and gives the same indices:
    reference: f(t) = floor((int(t*16000) - 200) // 160)        (librosa 0.8.1 time_to_frames)
It subtracts n_fft//2 as if frames were not centred, so f(t) is the frame centred ~12.5 ms
*before* t (negative for t < 12.5 ms; callers clamp at 0). It is the default because parity
with the reference indices matters more than 12.5 ms on 8-s windows. The alternative
    centre: f(t) = ceil(t*100), the first frame centred at or after t,
makes a window [a, b) hold exactly the frames centred inside it (800 frames for 8 s).
Frame count -> seconds: (n*160 + 200)/16000 (reference; used for a video's duration).

Video borders ('clip' strategy) of a window [start, end] at `rate` features/s:
    legacy: rows [int(start*rate), int(end*rate) + 1)   HowTo100M training (spec 3.2 item 8)
    exact:  rows [floor(start*rate), ceil(end*rate))    the features overlapping [start, end);
            benchmark segments (spec 6.4's exact borders; at least one row).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

# The log-mel recipe (mirrors eao.features.logmel, kept here so that data loading does not
# import torchaudio).
SAMPLE_RATE = 16000
HOP = 160
N_FFT = 400
N_MELS = 40
FRAMES_PER_SECOND = SAMPLE_RATE // HOP  # 100

MAPPINGS = ("reference", "centre")
BORDERS = ("legacy", "exact")


def time_to_frame(t: float, mapping: str = "reference") -> int:
    """Log-mel frame index of time t (s); may be negative with the reference mapping."""
    if mapping == "reference":
        return (int(t * SAMPLE_RATE) - N_FFT // 2) // HOP  # int // int floors, like np.floor
    if mapping == "centre":
        return math.ceil(round(t * FRAMES_PER_SECOND, 6))  # round: 0.07*100 is 7.000000000000001
    raise ValueError(f"unknown frame mapping {mapping!r}; expected one of {MAPPINGS}")


def frames_to_seconds(n: int) -> float:
    """Duration (s) the reference assigns to a spectrogram of n frames."""
    return (n * HOP + N_FFT // 2) / SAMPLE_RATE


def row_range(start: float, end: float | None, rate: float, n_rows: int,
              borders: str = "legacy") -> tuple[int, int]:
    """[a, b) rows of a feature sequence at `rate`/s for the window [start, end] (end None: to
    the last row), clipped to the n_rows that exist."""
    if borders == "legacy":
        a = int(start * rate)
        b = n_rows if end is None else int(end * rate) + 1
    elif borders == "exact":
        a = math.floor(start * rate)
        b = n_rows if end is None else max(math.ceil(end * rate), a + 1)
    else:
        raise ValueError(f"unknown borders {borders!r}; expected one of {BORDERS}")
    a = min(max(a, 0), n_rows)
    return a, min(max(b, a), n_rows)


@functools.lru_cache(maxsize=4096)
def nearest_indices(n_in: int, n_out: int) -> np.ndarray:
    """Source row of each output row when F.interpolate(mode='nearest') resizes n_in rows to
    n_out. Interpolating an arange through PyTorch itself reproduces its float32 index rounding
    exactly (floor(i * float32(n_in / n_out))), without moving the features."""
    src = torch.arange(n_in, dtype=torch.float32).view(1, 1, n_in)
    idx = F.interpolate(src, size=n_out, mode="nearest").view(n_out).long().numpy()
    idx.flags.writeable = False
    return idx


def _normalised(x: np.ndarray) -> np.ndarray:
    """Rows L2-normalised in float32 (F.normalize: divide by max(norm, 1e-12)). The copy keeps
    torch off the read-only cached rows; torch widens float16 much faster than numpy."""
    t = torch.from_numpy(np.array(x, copy=True)).float()
    return F.normalize(t, dim=-1, eps=1e-12).numpy()


def video_tokens(f2d: np.ndarray | None, f3d: np.ndarray | None, start: float,
                 end: float | None, n_tokens: int, rate2d: float = 1.0, rate3d: float = 1.5,
                 borders: str = "legacy") -> tuple[np.ndarray, np.ndarray]:
    """'clip' strategy: the window's 2D rows repeated to the 3D rate by nearest interpolation,
    each half L2-normalised, [2D || 3D], first n_tokens, zero-padded. A None input is a half
    that is not used (2D-only / 3D-only models); an empty slice of a used half gives all zeros
    with an all-zero mask (the model then uses its masking token). end None: to the end."""
    if f2d is None and f3d is None:
        raise ValueError("video_tokens needs 2D or 3D features")
    d2 = 0 if f2d is None else f2d.shape[1]
    d3 = 0 if f3d is None else f3d.shape[1]
    out = np.zeros((n_tokens, d2 + d3), np.float32)
    mask = np.zeros(n_tokens, np.float32)
    s2 = None if f2d is None else f2d[slice(*row_range(start, end, rate2d, len(f2d), borders))]
    s3 = None if f3d is None else f3d[slice(*row_range(start, end, rate3d, len(f3d), borders))]
    if (s2 is not None and len(s2) == 0) or (s3 is not None and len(s3) == 0):
        return out, mask
    if s2 is not None and s3 is not None:
        s2 = s2[nearest_indices(len(s2), len(s3))[:n_tokens]]  # only the rows that survive
    n = 0
    if s2 is not None:
        n = min(len(s2), n_tokens)
        out[:n, :d2] = _normalised(s2[:n])
    if s3 is not None:
        n = min(len(s3), n_tokens)
        out[:n, d2:] = _normalised(s3[:n])
    mask[:n] = 1.0
    return out, mask


def audio_window(logmel: np.ndarray | None, start: float, end: float | None, n_frames: int,
                 mapping: str = "reference") -> tuple[np.ndarray, np.ndarray]:
    """Frames [max(0, f(start)), f(end)) of a (T, 40) log-mel table (end None: n_frames from
    f(start)), as (40, n_frames) float32 zero-padded or cut, and the (n_frames,) frame mask.
    No table (no audio stream, failed extraction) gives zeros with an all-zero mask."""
    out = np.zeros((N_MELS, n_frames), np.float32)
    mask = np.zeros(n_frames, np.float32)
    if logmel is None or len(logmel) == 0:
        return out, mask
    a = max(0, time_to_frame(start, mapping))
    b = a + n_frames if end is None else max(time_to_frame(end, mapping), a)
    crop = logmel[a:min(b, a + n_frames)]
    out[:, : len(crop)] = crop.T
    mask[: len(crop)] = 1.0
    return out, mask


def text_tokens(segments: Sequence[np.ndarray], max_words: int,
                dim: int) -> tuple[np.ndarray, np.ndarray]:
    """Token features of the segments concatenated in the given order, the first max_words
    kept, zero-padded to (max_words, dim); no token at all gives an all-zero mask."""
    out = np.zeros((max_words, dim), np.float32)
    mask = np.zeros(max_words, np.float32)
    n = 0
    for seg in segments:
        take = min(len(seg), max_words - n)
        if take <= 0:
            break
        out[n : n + take] = seg[:take]
        n += take
    mask[:n] = 1.0
    return out, mask
