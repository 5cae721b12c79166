"""Evaluation clips for text-to-video retrieval (spec model.md 6.1-6.2, 'at_once' strategy).

Two kinds of clip, both one caption <-> one clip:
- YouCook2-style (`segment_rows`): every caption segment of a video is a clip, window
  [start_s, end_s] of the full video's features. The reference pickles held each clip's own
  features (`2d_full`/`3d_full` cut to the segment), so the borders are exact:
  rows [floor(start*rate), ceil(end*rate)) = the feature steps overlapping the segment
  (e - s 2D rows for the integer-second annotations), rather than the training loader's
  legacy [int(start*rate), int(end*rate) + 1) that adds a row past the end. Audio: frames
  [f(start), f(end)) (eao.data.tokens.time_to_frame, reference mapping by default).
- MSR-VTT-style (`video_rows`): the whole video (its first n_video_tokens tokens and first
  audio_frames frames) with one caption: the lowest segment id, unless given.
Video 'clip' strategy: 2D repeated to the 3D rate, halves L2-normalised, first n tokens.
Caps of the reference (at_once configs): YouCook2 72 tokens / 4608 frames, MSR-VTT 48 / 3072.

A row whose video has no visual features at all is left out (logged; the reference also drops
clips without features and counts them as misses via complete_size); a video without audio or
text keeps its row with an all-zero mask there (filter on the masks to reproduce the
reference's "clips with audio only" sets).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import numpy as np
import torch

from eao.data.corpus import FeatureTables
from eao.data.tokens import N_MELS, audio_window, text_tokens, video_tokens

log = logging.getLogger(__name__)

YOUCOOK2 = {"n_video_tokens": 72, "audio_frames": 4608}
MSRVTT = {"n_video_tokens": 48, "audio_frames": 3072}


def segment_rows(tables: FeatureTables, video_ids: Sequence[str] | None = None) -> list[dict]:
    """YouCook2-style clips: every caption segment of the videos (default: all), in video then
    segment order; id = "<video_id>:<segment>"."""
    rows = []
    for vid in tables.video_ids() if video_ids is None else video_ids:
        segs = tables.text_segments(vid) if _known(tables, vid) else []
        for s in sorted(segs, key=lambda s: s["segment"]):
            rows.append(dict(id=f"{vid}:{s['segment']}", video_id=vid, segment=s["segment"],
                             start_s=s["start_s"], end_s=s["end_s"]))
    return rows


def video_rows(tables: FeatureTables, video_ids: Sequence[str] | None = None,
               segments: Sequence[int] | Mapping[str, int] | None = None) -> list[dict]:
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


def retrieval_clips(tables: FeatureTables, captions_rows: Sequence[Mapping],
                    n_video_tokens: int, audio_frames: int, max_words: int = 20,
                    borders: str = "exact", frame_mapping: str = "reference",
                    ) -> tuple[dict[str, torch.Tensor], list[str]]:
    """The batch (official keys, float32 tensors, one row per clip) and the clip ids of the
    rows (video_id, segment, start_s, end_s; end_s None = whole video; optional id). The
    caption's tokens come from the text table's row with that segment."""
    rows = [r for r in captions_rows if _known(tables, r["video_id"])]
    if len(rows) < len(captions_rows):
        log.warning("%d of %d clips left out: their video has no visual features",
                    len(captions_rows) - len(rows), len(captions_rows))
    batch = _empty_batch(tables, len(rows), n_video_tokens, audio_frames, max_words)
    ids, texts, texts_of = [], {}, None
    for i, r in enumerate(rows):
        vid = r["video_id"]
        if texts_of != vid:  # rows come grouped by video: read its segments once
            texts = {s["segment"]: s["features"] for s in tables.text_segments(vid)}
            texts_of = vid
        start, end = float(r["start_s"]), r["end_s"]
        f2d = _visual(tables, "2d", vid)
        f3d = _visual(tables, "3d", vid)
        batch["video"][i], batch["video_mask"][i] = video_tokens(
            f2d, f3d, start, end, n_video_tokens, _rate(tables, "2d"), _rate(tables, "3d"),
            borders)
        if "audio" in batch:
            batch["audio"][i], batch["audio_mask"][i] = audio_window(
                tables.logmel(vid), start, end, audio_frames, frame_mapping)
        if "text" in batch:
            seg = r.get("segment")
            feats = [texts[seg]] if seg in texts else []
            batch["text"][i], batch["text_mask"][i] = text_tokens(feats, max_words,
                                                                  tables.dim("text"))
        ids.append(str(r.get("id") or f"{vid}:{r.get('segment')}"))
    return {k: torch.from_numpy(v) for k, v in batch.items()}, ids


def _visual(tables: FeatureTables, kind: str, vid: str) -> np.ndarray | None:
    if not tables.has(kind):
        return None
    f = tables.visual(kind, vid)
    return np.zeros((0, tables.dim(kind)), np.float16) if f is None else f


def _rate(tables: FeatureTables, kind: str) -> float:
    return tables.rate(kind) if tables.has(kind) else 1.0


def _empty_batch(tables: FeatureTables, n: int, n_video_tokens: int, audio_frames: int,
                 max_words: int) -> dict[str, np.ndarray]:
    """Preallocated arrays (one copy of a benchmark in memory, not a list plus a stack)."""
    dv = sum(tables.dim(k) for k in ("2d", "3d") if tables.has(k))
    batch = {"video": np.zeros((n, n_video_tokens, dv), np.float32),
             "video_mask": np.zeros((n, n_video_tokens), np.float32)}
    if tables.has("audio"):
        batch["audio"] = np.zeros((n, N_MELS, audio_frames), np.float32)
        batch["audio_mask"] = np.zeros((n, audio_frames), np.float32)
    if tables.has("text"):
        batch["text"] = np.zeros((n, max_words, tables.dim("text")), np.float32)
        batch["text_mask"] = np.zeros((n, max_words), np.float32)
    return batch
