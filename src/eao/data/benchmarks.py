"""Evaluation clips for text-to-video retrieval (docs/model.md) and the sliding
windows and step queries of zero-shot step localization (docs/benchmarks.md).

Two kinds of clip, both one caption <-> one clip:
- YouCook2-style (`segment_rows`): every caption segment of a video is a clip, window
  [start_s, end_s] of the full video's features. The reference pickles held each clip's own
  features (`2d_full`/`3d_full` cut to the segment), so the borders are exact:
  rows [floor(start*rate), ceil(end*rate)) = the feature steps overlapping the segment
  (e - s 2D rows for the integer-second annotations), rather than the training loader's
  legacy [int(start*rate), int(end*rate) + 1) that adds a row past the end. Audio: frames
  [f(start), f(end)) (eao.timeline.time_to_frame, reference mapping by default).
- MSR-VTT-style (`video_rows`): the whole video (its first n_video_tokens tokens and first
  audio_frames frames) with one caption: the lowest segment id, unless given.
Video 'clip' strategy: 2D repeated to the 3D rate, halves L2-normalised, first n tokens.
Caps of the reference (at_once configs): YouCook2 72 tokens / 4608 frames, MSR-VTT 48 / 3072.
The long-video strategies of the paper's Table 6 (uniform, max_pool, clips) are options of
`retrieval_clips`.

A row whose video has no visual features at all is left out (logged; the reference also drops
clips without features and counts them as misses via complete_size); a video without audio or
text keeps its row with an all-zero mask there (filter on the masks to reproduce the
reference's "clips with audio only" sets).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
import torch

from eao.data.corpus import FeatureTables
from eao.data.tokens import audio_window, text_tokens, video_tokens
from eao.timeline import AUDIO_FRAMES_PER_TOKEN, FRAMES_PER_SECOND, N_MELS

log = logging.getLogger(__name__)

STRATEGIES = ("at_once", "uniform", "max_pool", "clips")
# Video strategy (eao.data.tokens.video_tokens) and model-side audio-token pooling per strategy.
VIDEO_STRATEGY = {"at_once": "clip", "uniform": "nearest", "max_pool": "max_pool", "clips": "clip"}
AUDIO_POOLING = {"at_once": "none", "uniform": "nearest", "max_pool": "max_pool", "clips": "none"}
YOUCOOK2 = {"n_video_tokens": 72, "audio_frames": 4608}
MSRVTT = {"n_video_tokens": 48, "audio_frames": 3072}


@dataclass(frozen=True)
class _RowShape:
    """How every row of a retrieval batch is cut: its video tokens, audio frames and caption
    words, the video borders (eao.data.tokens.video_tokens), the audio frame mapping
    (eao.timeline) and the video strategy (`VIDEO_STRATEGY`)."""

    n_video_tokens: int
    audio_frames: int
    max_words: int
    borders: str
    frame_mapping: str
    video_strategy: str


def segment_rows(tables: FeatureTables, video_ids: Sequence[str] | None = None) -> list[dict]:
    """YouCook2-style clips: every caption segment of the videos (default: all), in video then
    segment order; id = "<video_id>:<segment>"."""
    rows = []
    for vid in tables.video_ids() if video_ids is None else video_ids:
        segs = tables.text_segments(vid) if _known(tables, vid) else []
        for s in sorted(segs, key=lambda s: s["segment"]):
            rows.append(
                dict(
                    id=f"{vid}:{s['segment']}",
                    video_id=vid,
                    segment=s["segment"],
                    start_s=s["start_s"],
                    end_s=s["end_s"],
                )
            )
    return rows


def video_rows(
    tables: FeatureTables,
    video_ids: Sequence[str] | None = None,
    segments: Sequence[int] | Mapping[str, int] | None = None,
) -> list[dict]:
    """MSR-VTT-style clips: one per video (default: all), the whole video (end_s None), with
    the caption segment given per video (aligned list or mapping), else its lowest segment id
    (deterministic); id = video_id. A video without captions gets segment None (no text)."""
    vids = tables.video_ids() if video_ids is None else list(video_ids)
    if segments is not None and not isinstance(segments, Mapping):
        if len(segments) != len(vids):
            raise ValueError(f"{len(segments)} segment ids for {len(vids)} videos")
        segments = dict(zip(vids, segments, strict=True))
    rows = []
    for vid in vids:
        if segments is not None:
            seg = int(segments[vid])
        else:
            segs = tables.text_segments(vid) if _known(tables, vid) else []
            seg = min((s["segment"] for s in segs), default=None)
        rows.append(dict(id=vid, video_id=vid, segment=seg, start_s=0.0, end_s=None))
    return rows


def _known(tables: FeatureTables, vid: str) -> bool:
    try:
        tables.index_of(vid)
    except KeyError:
        return False
    return True


def retrieval_clips(
    tables: FeatureTables,
    captions_rows: Sequence[Mapping],
    n_video_tokens: int,
    audio_frames: int,
    max_words: int = 20,
    borders: str = "exact",
    frame_mapping: str = "reference",
    strategy: str = "at_once",
    strategy_tokens: int = 12,
    clip_seconds: float = 8.0,
    max_clips: int | None = None,
    clip_frames: int | None = None,
) -> tuple[dict[str, torch.Tensor], list[str]]:
    """The batch (official keys, float32 tensors) and the clip id of every batch row, for the
    clips (video_id, segment, start_s, end_s; end_s None = whole video; optional id). The
    caption's tokens come from the text table's row with that segment.

    strategy (paper Table 6, reference configs *_at_once, *_nearest, *_max, *_clips):
    - "at_once": one row per clip, the first n_video_tokens tokens and audio_frames frames.
    - "uniform" / "max_pool": one row per clip, video resampled ('nearest') / max-pooled to
      strategy_tokens tokens; the audio stays audio_frames frames, as in the reference, whose
      model then pools its audio tokens (`AUDIO_POOLING`, eao.model.davenet.pool_audio_tokens).
    - "clips": the clip cut into `clip_layout` consecutive sub-clips of clip_seconds (8 s:
      12 tokens / 768 frames; clip_frames: the training clip's frames), one row each;
      sub-clip i > 0 is kept only when more than 70 % of its audio frames are filled
      (reference `cut_into_clips`; without audio tables, of its video tokens). The rows of a
      clip share its id: average their embeddings per id
      (eao.evaluate.retrieval.average_embeddings)."""
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}; expected one of {STRATEGIES}")
    rows = _with_visual_features(tables, captions_rows)
    shape = _RowShape(
        n_video_tokens, audio_frames, max_words, borders, frame_mapping, VIDEO_STRATEGY[strategy]
    )
    if strategy == "clips":
        batch, ids = _sub_clip_rows(tables, rows, shape, clip_seconds, max_clips, clip_frames)
    else:  # one row per clip: the first tokens (at_once) or resampled to strategy_tokens
        n_tokens = n_video_tokens if strategy == "at_once" else strategy_tokens
        batch, ids = _clip_rows(tables, rows, replace(shape, n_video_tokens=n_tokens))
    return {k: torch.from_numpy(v) for k, v in batch.items()}, ids


def _with_visual_features(tables: FeatureTables, rows: Sequence[Mapping]) -> list[Mapping]:
    """The rows whose video has visual features; the others are logged and left out."""
    kept = [r for r in rows if _known(tables, r["video_id"])]
    if len(kept) < len(rows):
        log.warning(
            "%d of %d clips left out: their video has no visual features",
            len(rows) - len(kept),
            len(rows),
        )
    return kept


def clip_layout(
    tables: FeatureTables,
    n_video_tokens: int,
    clip_seconds: float = 8.0,
    max_clips: int | None = None,
    clip_frames: int | None = None,
) -> tuple[int, int, int]:
    """(number of sub-clips, video tokens, audio frames per sub-clip) of the 'clips' strategy.
    Tokens: clip_seconds at the video token rate (3D, else 2D), rounded half up. Frames: the
    training clip's audio_frames when given, else the whole audio tokens inside clip_seconds
    (reference: 8 s -> 768 = 12 x 64). The number defaults to the at-once token cap over the
    tokens per sub-clip: the reference's 6 for YouCook2 (72 / 12) and 4 for MSR-VTT (48 / 12)."""
    tokens = math.floor(clip_seconds * _rate(tables, "3d" if tables.has("3d") else "2d") + 0.5)
    if clip_frames is None:
        per_token = AUDIO_FRAMES_PER_TOKEN
        clip_frames = int(clip_seconds * FRAMES_PER_SECOND) // per_token * per_token
    n_clips = max_clips if max_clips is not None else n_video_tokens // max(tokens, 1)
    if tokens < 1 or clip_frames < 1 or n_clips < 1:
        raise ValueError(
            f"{n_clips} clips of {clip_seconds} s ({tokens} tokens, {clip_frames} frames): "
            "nothing to evaluate"
        )
    return n_clips, tokens, clip_frames


def _sub_clip_rows(
    tables: FeatureTables,
    rows: Sequence[Mapping],
    shape: _RowShape,
    clip_seconds: float,
    max_clips: int | None,
    clip_frames: int | None,
) -> tuple[dict[str, np.ndarray], list[str]]:
    """Strategy "clips": every clip cut as a whole (its `clip_layout` sub-clips long), then
    into its sub-clips, one row each."""
    n_clips, clip_tokens, clip_frames = clip_layout(
        tables, shape.n_video_tokens, clip_seconds, max_clips, clip_frames
    )
    whole = replace(shape, n_video_tokens=n_clips * clip_tokens, audio_frames=n_clips * clip_frames)
    batch, ids = _clip_rows(tables, rows, whole)
    return _cut_into_clips(batch, ids, n_clips, clip_frames)


def _clip_rows(
    tables: FeatureTables, rows: Sequence[Mapping], shape: _RowShape
) -> tuple[dict[str, np.ndarray], list[str]]:
    """One batch row per clip (numpy arrays) and the clip ids."""
    batch = _empty_batch(
        tables, len(rows), shape.n_video_tokens, shape.audio_frames, shape.max_words
    )
    ids, texts, texts_of = [], {}, None
    for i, r in enumerate(rows):
        vid = r["video_id"]
        if texts_of != vid:  # rows come grouped by video: read its segments once
            texts = {s["segment"]: s["features"] for s in tables.text_segments(vid)}
            texts_of = vid
        start, end = float(r["start_s"]), r["end_s"]
        batch["video"][i], batch["video_mask"][i] = video_tokens(
            _visual(tables, "2d", vid),
            _visual(tables, "3d", vid),
            start,
            end,
            shape.n_video_tokens,
            _rate(tables, "2d"),
            _rate(tables, "3d"),
            shape.borders,
            shape.video_strategy,
        )
        if "audio" in batch:
            batch["audio"][i], batch["audio_mask"][i] = audio_window(
                tables.audio(vid), start, end, shape.audio_frames, shape.frame_mapping
            )
        if "text" in batch:
            seg = r.get("segment")
            feats = [texts[seg]] if seg in texts else []
            batch["text"][i], batch["text_mask"][i] = text_tokens(
                feats, shape.max_words, tables.dim("text")
            )
        ids.append(str(r.get("id") or f"{vid}:{r.get('segment')}"))
    return batch, ids


def _cut_into_clips(
    batch: dict[str, np.ndarray], ids: list[str], n_clips: int, clip_frames: int
) -> tuple[dict[str, np.ndarray], list[str]]:
    """Each row cut into n_clips consecutive sub-clips (video tokens, audio frames; the text
    repeated); sub-clip 0 always kept, i > 0 when more than 70 % filled (reference: audio
    frames left = n_frames - i * clip_frames > 0.7 * clip_frames)."""
    n = len(ids)
    if "audio_mask" in batch:
        filled, size = batch["audio_mask"].sum(1), clip_frames
    else:  # a video-only model: the same rule on the video tokens
        filled, size = batch["video_mask"].sum(1), batch["video_mask"].shape[1] // n_clips
    left = filled[:, None] - np.arange(n_clips) * size
    keep = left > 0.7 * size
    keep[:, 0] = True
    clip, part = np.nonzero(keep)  # row-major: a clip's sub-clips stay together, in order
    out = {}
    for key in ("video", "video_mask"):
        out[key] = batch[key].reshape(n, n_clips, -1, *batch[key].shape[2:])[clip, part]
    if "audio" in batch:
        audio = batch["audio"].reshape(n, N_MELS, n_clips, clip_frames)
        out["audio"] = audio[clip, :, part]  # (rows, N_MELS, clip_frames)
        out["audio_mask"] = batch["audio_mask"].reshape(n, n_clips, clip_frames)[clip, part]
    for key in ("text", "text_mask"):
        if key in batch:
            out[key] = batch[key][clip]
    return out, [ids[c] for c in clip]


# -- localization (docs/benchmarks.md) -------------------------------------------------
def video_seconds(tables: FeatureTables, video_id: str) -> int:
    """T, the number of 1-s frames of a video: ceil(rows / rate) of its 2D features (1/s: the
    row count, as MCN/EAO's label matrices), else of its 3D features (1.5/s: ceil(rows / 1.5));
    0 without visual features."""
    for kind in ("2d", "3d"):
        f = tables.visual(kind, video_id) if tables.has(kind) else None
        if f is not None and len(f):
            return math.ceil(round(len(f) / tables.rate(kind), 6))
    return 0


def window_clips(
    tables: FeatureTables,
    video_id: str,
    n_video_tokens: int,
    audio_frames: int,
    radius: float = 1.0,
    stride: float = 1.0,
    frame_mapping: str = "reference",
) -> tuple[dict[str, torch.Tensor], int]:
    """The sliding windows of a video for step localization: (batch with video/video_mask and,
    with audio tables, audio/audio_mask (no text), number of windows n = ceil(T / stride)).

    Window i covers [i*stride - radius, (i+1)*stride + radius) clipped to [0, T) (T =
    `video_seconds`); radius 1, stride 1 = the paper's 3-s windows with a 1-s step predicting
    the centre second, the first and last windows 2 s long (reference clip_radius = 1).
    Video: 'clip' strategy with exact borders, 2D rows floor(s)..ceil(e)-1 and 3D rows
    floor(1.5 s)..ceil(1.5 e)-1. Audio: frames [f(s), f(e)) zero-padded to audio_frames
    (reference `_get_audio` without audio_padding)."""
    duration = video_seconds(tables, video_id)
    n = math.ceil(round(duration / stride, 6))
    batch = _empty_batch(tables, n, n_video_tokens, audio_frames, text=False)
    f2d, f3d = _visual(tables, "2d", video_id), _visual(tables, "3d", video_id)
    frames = tables.audio(video_id) if "audio" in batch else None
    for i in range(n):
        start = max(0.0, i * stride - radius)
        end = min(float(duration), (i + 1) * stride + radius)
        batch["video"][i], batch["video_mask"][i] = video_tokens(
            f2d, f3d, start, end, n_video_tokens, _rate(tables, "2d"), _rate(tables, "3d"), "exact"
        )
        if "audio" in batch:
            batch["audio"][i], batch["audio_mask"][i] = audio_window(
                frames, start, end, audio_frames, frame_mapping
            )
    return {k: torch.from_numpy(v) for k, v in batch.items()}, n


def query_rows(
    tables: FeatureTables, video_id: str, max_words: int = 20
) -> dict[str, torch.Tensor]:
    """The text batch (text/text_mask) of a video's step queries: its caption segments in
    segment-id order (= step order), one row each, the first max_words tokens."""
    segs = sorted(tables.text_segments(video_id), key=lambda s: s["segment"])
    dim = tables.dim("text")
    text = np.zeros((len(segs), max_words, dim), np.float32)
    mask = np.zeros((len(segs), max_words), np.float32)
    for i, s in enumerate(segs):
        text[i], mask[i] = text_tokens([s["features"]], max_words, dim)
    return {"text": torch.from_numpy(text), "text_mask": torch.from_numpy(mask)}


def _visual(tables: FeatureTables, kind: str, vid: str) -> np.ndarray | None:
    if not tables.has(kind):
        return None
    f = tables.visual(kind, vid)
    return np.zeros((0, tables.dim(kind)), np.float16) if f is None else f


def _rate(tables: FeatureTables, kind: str) -> float:
    return tables.rate(kind) if tables.has(kind) else 1.0


def _empty_batch(
    tables: FeatureTables,
    n: int,
    n_video_tokens: int,
    audio_frames: int,
    max_words: int = 20,
    text: bool = True,
) -> dict[str, np.ndarray]:
    """Preallocated arrays (one copy of a benchmark in memory, not a list plus a stack)."""
    dv = sum(tables.dim(k) for k in ("2d", "3d") if tables.has(k))
    batch = {
        "video": np.zeros((n, n_video_tokens, dv), np.float32),
        "video_mask": np.zeros((n, n_video_tokens), np.float32),
    }
    if tables.has("audio"):
        batch["audio"] = np.zeros((n, N_MELS, audio_frames), np.float32)
        batch["audio_mask"] = np.zeros((n, audio_frames), np.float32)
    if text and tables.has("text"):
        batch["text"] = np.zeros((n, max_words, tables.dim("text")), np.float32)
        batch["text_mask"] = np.zeros((n, max_words), np.float32)
    return batch
