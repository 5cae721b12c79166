"""Token helpers shared by training and evaluation (docs/model.md): the video strategies
('clip', 'nearest', 'max_pool'), audio windows and text tokens. Pure numpy/torch. The model-side
audio-token pooling of the long-video configs is the model's (eao.model.davenet).

Time <-> log-mel frame: eao.timeline (the reference mapping by default).

Video borders ('clip' strategy) of a window [start, end] at `rate` features/s:
    legacy: rows [int(start*rate), int(end*rate) + 1)   HowTo100M training (docs/model.md)
    exact:  rows [floor(start*rate), ceil(end*rate))    the features overlapping [start, end);
            benchmark segments (exact borders; at least one row).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from eao.timeline import N_MELS, time_to_frame

BORDERS = ("legacy", "exact")
VIDEO_STRATEGIES = ("clip", "nearest", "max_pool")


def row_range(
    start: float, end: float | None, rate: float, n_rows: int, borders: str = "legacy"
) -> tuple[int, int]:
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


def video_tokens(
    f2d: np.ndarray | None,
    f3d: np.ndarray | None,
    start: float,
    end: float | None,
    n_tokens: int,
    rate2d: float = 1.0,
    rate3d: float = 1.5,
    borders: str = "legacy",
    strategy: str = "clip",
) -> tuple[np.ndarray, np.ndarray]:
    """Video tokens of the window [start, end] (end None: to the end), (n_tokens, D2 + D3)
    float32 [2D || 3D] with each half L2-normalised, zero-padded, and the (n_tokens,) mask.
    A None input is a half that is not used (2D-only / 3D-only models); an empty slice of a
    used half gives all zeros with an all-zero mask (the model then uses its masking token).

    strategy (reference `create_video_features`, docs/model.md):
    - "clip": the 2D rows repeated to the 3D rate by nearest interpolation, first n_tokens.
    - "nearest": each half resampled independently to n_tokens rows (F.interpolate nearest),
      mask all ones; a window of <= n_tokens steps falls back to "clip".
    - "max_pool": each half max-pooled over time with kernel = stride = floor(T / n_tokens)
      (T = that half's rows; floor length), then "nearest"; falls back to "clip" for <=
      n_tokens steps and straight to "nearest" when a kernel would be <= 1. (Not adaptive
      pooling: the reference pools with fixed kernels and resamples the rest.)"""
    if f2d is None and f3d is None:
        raise ValueError("video_tokens needs 2D or 3D features")
    if strategy not in VIDEO_STRATEGIES:
        raise ValueError(f"unknown video strategy {strategy!r}; expected one of {VIDEO_STRATEGIES}")
    s2 = None if f2d is None else f2d[slice(*row_range(start, end, rate2d, len(f2d), borders))]
    s3 = None if f3d is None else f3d[slice(*row_range(start, end, rate3d, len(f3d), borders))]
    if strategy == "max_pool" and _resamplable(s2, s3, n_tokens):
        kernels = [len(s) // n_tokens for s in (s2, s3) if s is not None]
        if min(kernels) > 1:
            s2, s3 = (None if s is None else _max_pool(s, len(s) // n_tokens) for s in (s2, s3))
        strategy = "nearest"
    if strategy == "nearest" and _resamplable(s2, s3, n_tokens):
        return _nearest_tokens(s2, s3, n_tokens)
    return _clip_tokens(s2, s3, n_tokens)


def _resamplable(s2: np.ndarray | None, s3: np.ndarray | None, n_tokens: int) -> bool:
    """More steps than tokens on the token axis (3D when used, else 2D) and no empty half:
    otherwise the reference's nearest/max_pool fall back to 'clip'."""
    used = [s for s in (s2, s3) if s is not None]
    return len(used[-1]) > n_tokens and all(len(s) for s in used)


def _max_pool(x: np.ndarray, kernel: int) -> np.ndarray:
    """Non-overlapping max over `kernel` consecutive rows (the last partial window dropped)."""
    t = torch.from_numpy(np.array(x, copy=True)).float().T.unsqueeze(0)  # (1, D, T)
    return F.max_pool1d(t, kernel).squeeze(0).T.numpy()


def _nearest_tokens(
    s2: np.ndarray | None, s3: np.ndarray | None, n_tokens: int
) -> tuple[np.ndarray, np.ndarray]:
    halves = [s for s in (s2, s3) if s is not None]
    parts = [_normalised(s[nearest_indices(len(s), n_tokens)]) for s in halves]
    return np.concatenate(parts, axis=1), np.ones(n_tokens, np.float32)


def _clip_tokens(
    s2: np.ndarray | None, s3: np.ndarray | None, n_tokens: int
) -> tuple[np.ndarray, np.ndarray]:
    d2 = 0 if s2 is None else s2.shape[1]
    d3 = 0 if s3 is None else s3.shape[1]
    out = np.zeros((n_tokens, d2 + d3), np.float32)
    mask = np.zeros(n_tokens, np.float32)
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


def audio_window(
    frames: np.ndarray | None,
    start: float,
    end: float | None,
    n_frames: int,
    mapping: str = "reference",
) -> tuple[np.ndarray, np.ndarray]:
    """Frames [max(0, f(start)), f(end)) of a (T, 40) log-mel table (end None: n_frames from
    f(start)), as (40, n_frames) float32 zero-padded or cut, and the (n_frames,) frame mask.
    No table (no audio stream, failed extraction) gives zeros with an all-zero mask."""
    out = np.zeros((N_MELS, n_frames), np.float32)
    mask = np.zeros(n_frames, np.float32)
    if frames is None or len(frames) == 0:
        return out, mask
    a = max(0, time_to_frame(start, mapping))
    b = a + n_frames if end is None else max(time_to_frame(end, mapping), a)
    crop = frames[a : min(b, a + n_frames)]
    out[:, : len(crop)] = crop.T
    mask[: len(crop)] = 1.0
    return out, mask


def text_tokens(
    segments: Sequence[np.ndarray], max_words: int, dim: int
) -> tuple[np.ndarray, np.ndarray]:
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
