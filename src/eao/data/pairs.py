"""Fine-tuning items from a retrieval benchmark's training split (docs/benchmarks.md).

One item = one (clip, caption) pair, with a leading clip axis of 1 so that the pretraining
collate (`collate_clips`) and Trainer take it unchanged:
- `segments` (YouCook2): every caption segment of the training videos is a clip, window
  [start_s, end_s] with exact borders (as evaluated), its own sentence as the text;
- `videos` (MSR-VTT): every training video is a clip (its first n_video_tokens tokens and
  audio_frames frames), with one of its captions drawn uniformly at random each time the item is
  loaded (the reference's `caption` list), seeded by (seed, epoch, index).
`require_audio` keeps only clips with audio, as the paper's fine-tuning sets did (YouCook2 9,586
clips, MSR-VTT 6,783 videos "with audio"); the kept and dropped counts are logged.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
from torch.utils.data import Dataset

from eao.data.corpus import FeatureTables
from eao.data.tokens import audio_window, text_tokens, video_tokens
from eao.timeline import N_MELS

log = logging.getLogger(__name__)

CLIP_KINDS = ("segments", "videos")


class FinetuneDataset(Dataset):
    """Keys are (epoch, index) like ClipDataset's; len() = number of clips."""

    def __init__(
        self,
        tables: FeatureTables,
        clips: str,
        video_ids: Sequence[str] | None,
        n_video_tokens: int,
        audio_frames: int,
        max_words: int = 20,
        seed: int = 0,
        require_audio: bool = True,
    ):
        if clips not in CLIP_KINDS:
            raise ValueError(f"unknown clips {clips!r}; expected one of {CLIP_KINDS}")
        if not tables.has("text"):
            raise ValueError("fine-tuning needs the text features of the captions")
        if not (tables.has("2d") or tables.has("3d")):
            raise ValueError("fine-tuning needs 2D or 3D video features")
        self.tables, self.clips, self.seed = tables, clips, seed
        self.n_video_tokens, self.audio_frames, self.max_words = (
            n_video_tokens,
            audio_frames,
            max_words,
        )
        self.rows = self._rows(video_ids, require_audio and tables.has("audio"))
        if not self.rows:
            raise ValueError("no fine-tuning clip: no training video has features and captions")

    def _rows(self, video_ids: Sequence[str] | None, require_audio: bool) -> list[dict]:
        known = set(self.tables.video_ids())
        vids = [
            v for v in (self.tables.video_ids() if video_ids is None else video_ids) if v in known
        ]
        rows, no_audio = [], 0
        for vid in vids:
            if require_audio and not _has_audio(self.tables, vid):
                no_audio += 1
                continue
            segs = sorted(self.tables.text_segments(vid), key=lambda s: s["segment"])
            if not segs:
                continue
            if self.clips == "videos":
                rows.append({"video_id": vid, "segments": segs, "start": 0.0, "end": None})
            else:
                rows += [
                    {
                        "video_id": vid,
                        "segments": [s],
                        "start": float(s["start_s"]),
                        "end": float(s["end_s"]),
                    }
                    for s in segs
                ]
        log.info(
            "fine-tuning on %d clips from %d of %d training videos (%d left out: no audio, "
            "%d: no features)",
            len(rows),
            len({r["video_id"] for r in rows}),
            len(video_ids) if video_ids is not None else len(vids),
            no_audio,
            (len(video_ids) - len(vids)) if video_ids is not None else 0,
        )
        return rows

    def __len__(self) -> int:
        return len(self.rows)

    def item_name(self, index: int) -> str:
        """The video id (and segment) of item `index` (error messages)."""
        row = self.rows[index]
        if row["end"] is None:
            return row["video_id"]
        return f"{row['video_id']} segment {row['segments'][0]['segment']}"

    def dims(self) -> dict[str, int]:
        dims = {
            "video": sum(self.tables.dim(k) for k in ("2d", "3d") if self.tables.has(k)),
            "text": self.tables.dim("text"),
        }
        if self.tables.has("audio"):
            dims["audio"] = N_MELS
        return dims

    def __getitem__(self, key: tuple[int, int] | int) -> dict[str, np.ndarray]:
        epoch, index = key if isinstance(key, tuple) else (0, key)
        row = self.rows[index]
        vid, tables = row["video_id"], self.tables
        f2d = _visual(tables, "2d", vid)
        f3d = _visual(tables, "3d", vid)
        rate2d = tables.rate("2d") if f2d is not None else 1.0
        rate3d = tables.rate("3d") if f3d is not None else 1.5
        item = {}
        item["video"], item["video_mask"] = video_tokens(
            f2d, f3d, row["start"], row["end"], self.n_video_tokens, rate2d, rate3d, "exact"
        )
        if tables.has("audio"):
            item["audio"], item["audio_mask"] = audio_window(
                tables.audio(vid), row["start"], row["end"], self.audio_frames
            )
        segs = row["segments"]
        if len(segs) > 1:  # a random caption of the video, fixed by (seed, epoch, index)
            segs = [segs[np.random.default_rng([self.seed, epoch, index]).integers(len(segs))]]
        item["text"], item["text_mask"] = text_tokens(
            [s["features"] for s in segs], self.max_words, tables.dim("text")
        )
        return {k: v[None] for k, v in item.items()}  # the clip axis (one clip per item)


def _visual(tables: FeatureTables, kind: str, vid: str) -> np.ndarray | None:
    if not tables.has(kind):
        return None
    f = tables.visual(kind, vid)
    return np.zeros((0, tables.dim(kind)), np.float16) if f is None else f


def _has_audio(tables: FeatureTables, vid: str) -> bool:
    frames = tables.audio(vid)
    return frames is not None and len(frames) > 0
