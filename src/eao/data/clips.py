"""HowTo100M-style training clips from feature shards (docs/model.md).

One item = one video -> n_clips clips drawn independently (duplicates possible). Per clip:
start ~ U[0, max(0, D - min_time)), D = the video's duration in whole seconds; the ASR caption
covering start (else the one covering start + min_time) is the seed; the clip grows by whole
neighbouring captions while it spans less than min_time, and its words are the seed's followed
by each added caption's in the order they were added. The clip's video window is [start of its
first caption, end of its last]; its audio window is shifted by half a clip ("code": always
+min_time/2 with a fixed min_time length, as the released code; "paper": +/- at random; "none":
aligned with the clip). A clip without narration keeps [start, start + min_time], audio from
start, and no words (empty text -> the model's masking token).

An item's randomness comes only from np.random.default_rng([seed, epoch, index]), so every
worker, rank and resumed run sees the same clips for the same (epoch, index) key.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import Dataset, get_worker_info

from eao.data.corpus import FeatureTables
from eao.data.tokens import audio_window, text_tokens, video_tokens
from eao.timeline import N_MELS, frames_to_seconds

AUDIO_SHIFTS = ("code", "paper", "none")
BATCH_KEYS = ("text", "text_mask", "video", "video_mask", "audio", "audio_mask")


@dataclass(frozen=True)
class ClipPlan:
    """Where one clip's modalities come from."""

    start: float  # video/text window (s)
    end: float
    segments: tuple[int, ...]  # caption indices in word order (seed first); () = no narration
    audio_start: float
    audio_end: float | None  # None: audio_frames from audio_start


def seed_caption(start: float, end: float, starts: np.ndarray, ends: np.ndarray) -> int | None:
    """The caption covering `start`, else the one covering `end`, else None (docs/model.md):
    for each time the candidate is the last caption starting strictly before it."""
    if len(starts) == 0:
        return None
    for t in (start, end):
        i = max(0, int(np.searchsorted(starts, t, side="left")) - 1)
        if starts[i] <= t <= ends[i]:
            return i
    return None


def grow(seed: int, starts: np.ndarray, ends: np.ndarray, min_time: float) -> list[int]:
    """Caption indices of the clip in word order: the seed, then each neighbour added while the
    span end[e] - start[s] < min_time, the one giving the shorter span first (previous on a tie)."""
    s = e = seed
    order = [seed]
    while ends[e] - starts[s] < min_time:
        prev_ok, next_ok = s > 0, e < len(starts) - 1
        if prev_ok and next_ok:
            take_prev = ends[e] - starts[s - 1] <= ends[e + 1] - starts[s]
        elif prev_ok or next_ok:
            take_prev = prev_ok
        else:
            break
        if take_prev:
            s -= 1
            order.append(s)
        else:
            e += 1
            order.append(e)
    return order


def plan_clip(
    start: float,
    starts: np.ndarray,
    ends: np.ndarray,
    min_time: float,
    audio_shift: str,
    rng: np.random.Generator,
) -> ClipPlan:
    """The windows and captions of a clip drawn at `start` (rng only for audio_shift="paper")."""
    seed = seed_caption(start, start + min_time, starts, ends)
    if seed is None:
        return ClipPlan(start, start + min_time, (), start, None)
    order = grow(seed, starts, ends, min_time)
    clip_start, clip_end = float(starts[min(order)]), float(ends[max(order)])
    half = min_time / 2
    if audio_shift == "code":
        a0, a1 = clip_start + half, clip_start + half + min_time
    elif audio_shift == "paper":
        a0 = clip_start + (half if rng.random() < 0.5 else -half)
        a1 = a0 + min_time
    elif audio_shift == "none":
        a0, a1 = clip_start, clip_end
    else:
        raise ValueError(f"unknown audio_shift {audio_shift!r}; expected one of {AUDIO_SHIFTS}")
    return ClipPlan(clip_start, clip_end, tuple(order), a0, a1)


class ClipDataset(Dataset):
    """Items are dicts of float32 numpy arrays with a leading n_clips axis: video (n_clips,
    n_video_tokens, Dv) + video_mask, audio (n_clips, 40, audio_frames) + audio_mask, text
    (n_clips, max_words, Dt) + text_mask; a modality the tables lack is left out. Keys are
    (epoch, index) (a bare index means epoch 0). len() = number of videos."""

    def __init__(
        self,
        tables: FeatureTables,
        n_clips: int = 10,
        min_time: float = 8.0,
        max_words: int = 20,
        n_video_tokens: int = 12,
        audio_frames: int = 768,
        audio_shift: str = "code",
        seed: int = 0,
        use_2d: bool = True,
        use_3d: bool = True,
        frame_mapping: str = "reference",
    ):
        if audio_shift not in AUDIO_SHIFTS:
            raise ValueError(f"unknown audio_shift {audio_shift!r}; expected one of {AUDIO_SHIFTS}")
        self.tables = tables
        self.n_clips, self.min_time, self.max_words = n_clips, min_time, max_words
        self.n_video_tokens, self.audio_frames = n_video_tokens, audio_frames
        self.audio_shift, self.seed, self.frame_mapping = audio_shift, seed, frame_mapping
        self.use_2d, self.use_3d = use_2d and tables.has("2d"), use_3d and tables.has("3d")
        if not (self.use_2d or self.use_3d):
            raise ValueError("ClipDataset needs 2D or 3D video features (use_2d / use_3d)")
        self.use_audio, self.use_text = tables.has("audio"), tables.has("text")
        self.groups = tables.row_groups()  # per video: its row group (locality_order)

    def __len__(self) -> int:
        return len(self.tables)

    def item_name(self, index: int) -> str:
        """The video id of item `index` (error messages)."""
        return self.tables.video_id(index)

    def dims(self) -> dict[str, int]:
        """Feature widths of the item's modalities: video (2D + 3D), text, audio (mel bands)."""
        # only the kinds in use: a 2D-only corpus has no 3D tables to ask
        used = [k for k, use in (("2d", self.use_2d), ("3d", self.use_3d)) if use]
        dims = {"video": sum(self.tables.dim(k) for k in used)}
        if self.use_text:
            dims["text"] = self.tables.dim("text")
        if self.use_audio:
            dims["audio"] = N_MELS
        return dims

    def __getitem__(self, key: tuple[int, int] | int) -> dict[str, np.ndarray]:
        epoch, index = key if isinstance(key, tuple) else (0, key)
        return self.sample(epoch, index)[0]

    def __getitems__(self, keys: Sequence[tuple[int, int] | int]) -> list[dict[str, np.ndarray]]:
        """A batch of items (DataLoader calls this with a batch sampler), read in row-group
        order so that the videos of one row group share a single decode of it."""
        index = [k[1] if isinstance(k, tuple) else k for k in keys]
        out: list = [None] * len(keys)
        for j in sorted(range(len(keys)), key=lambda j: (self.groups[index[j]], index[j])):
            out[j] = self[keys[j]]
        return out

    def _visual(self, kind: str, index: int) -> np.ndarray:
        f = self.tables.visual(kind, index)
        # Missing from this kind's shards: an empty sequence, so that the clip's video is
        # empty (zero mask) but keeps the configured width.
        return np.zeros((0, self.tables.dim(kind)), np.float16) if f is None else f

    def duration(
        self, f2d: np.ndarray | None, f3d: np.ndarray | None, frames: np.ndarray | None
    ) -> int:
        """Whole seconds the clip start is drawn from: from the spectrogram length as the
        reference (int(frame count -> seconds)); without audio, from the visual rows."""
        if frames is not None and len(frames):
            return int(frames_to_seconds(len(frames)))
        if f2d is not None and len(f2d):
            return int(len(f2d) / self.tables.rate("2d"))
        return int(len(f3d) / self.tables.rate("3d")) if f3d is not None else 0

    def sample(self, epoch: int, index: int) -> tuple[dict[str, np.ndarray], list[ClipPlan]]:
        """The item of (epoch, index) and the plan of each of its clips."""
        rng = np.random.default_rng([self.seed, epoch, index])
        f2d = self._visual("2d", index) if self.use_2d else None
        f3d = self._visual("3d", index) if self.use_3d else None
        frames = self.tables.audio(index) if self.use_audio else None
        narrated = self.use_text or self.tables.has("captions")
        segs = self.tables.text_segments(index) if narrated else []
        starts = np.array([s["start_s"] for s in segs], np.float64)
        ends = np.array([s["end_s"] for s in segs], np.float64)
        top = max(0.0, self.duration(f2d, f3d, frames) - self.min_time)
        plans = []
        for _ in range(self.n_clips):
            start = float(rng.uniform(0.0, top))
            plans.append(plan_clip(start, starts, ends, self.min_time, self.audio_shift, rng))
        return self._tensors(plans, f2d, f3d, frames, segs), plans

    def _tensors(
        self,
        plans: Sequence[ClipPlan],
        f2d: np.ndarray | None,
        f3d: np.ndarray | None,
        frames: np.ndarray | None,
        segs: list[dict],
    ) -> dict[str, np.ndarray]:
        r2 = self.tables.rate("2d") if self.use_2d else 1.0
        r3 = self.tables.rate("3d") if self.use_3d else 1.5
        parts: dict[str, list[np.ndarray]] = {k: [] for k in BATCH_KEYS}
        for p in plans:
            v, vm = video_tokens(f2d, f3d, p.start, p.end, self.n_video_tokens, r2, r3)
            parts["video"].append(v)
            parts["video_mask"].append(vm)
            if self.use_audio:
                a, am = audio_window(
                    frames, p.audio_start, p.audio_end, self.audio_frames, self.frame_mapping
                )
                parts["audio"].append(a)
                parts["audio_mask"].append(am)
            if self.use_text:
                t, tm = text_tokens(
                    [segs[i]["features"] for i in p.segments],
                    self.max_words,
                    self.tables.dim("text"),
                )
                parts["text"].append(t)
                parts["text_mask"].append(tm)
        return {k: np.stack(v) for k, v in parts.items() if v}


def locality_order(groups: np.ndarray, seed: int, epoch: int, window: int = 8) -> np.ndarray:
    """A permutation of the videos for corpora whose row groups are far larger than one video
    (HowTo100M): row groups are shuffled and cut into windows of `window` groups, and the
    videos of each window shuffled together. A batch then spans a few groups, each decoded
    once per batch (see ClipDataset.__getitems__) instead of once per video. The price: the
    in-batch negatives come from fewer shards (less diverse when shards follow the manifest's
    order, e.g. HowTo100M's category-sorted list)."""
    rng = np.random.default_rng([seed, epoch, 2])
    names, inverse = np.unique(groups, return_inverse=True)
    rank = np.empty(len(names), np.int64)
    rank[rng.permutation(len(names))] = np.arange(len(names))
    return np.lexsort((rng.random(len(groups)), rank[inverse] // window))


def collate_clips(items: Sequence[dict[str, np.ndarray]]) -> dict[str, torch.Tensor]:
    """Batch of items with the clip axis flattened video-major (v0c0, v0c1, ..., v1c0, ...):
    (n_videos * n_clips, ...) float32 tensors, the official batch keys only."""
    keys = [k for k in BATCH_KEYS if all(k in item for item in items)]
    batch = {}
    for k in keys:
        shape = (sum(len(item[k]) for item in items), *items[0][k].shape[1:])
        batch[k] = _empty(shape)
        np.concatenate([item[k] for item in items], out=batch[k].numpy())
    return batch


def _empty(shape: tuple[int, ...]) -> torch.Tensor:
    """A float32 tensor; in a DataLoader worker, allocated in shared memory (as default_collate
    does) so that sending the batch to the main process does not copy it once more."""
    if get_worker_info() is None:
        return torch.empty(shape)
    numel = int(np.prod(shape))
    storage = torch.empty(0)._typed_storage()._new_shared(numel, device="cpu")
    return torch.empty(0).new(storage).view(shape)
