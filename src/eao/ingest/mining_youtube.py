"""Mining YouTube's release files: annotations/<id>.srt (raw `verb_object` labels),
videos_test.txt, videos_val.txt; the per-video step list (`mining_steps`) and the steps as caption
rows (`mining_youtube_captions`). Source: the Mining YouTube dataset of Kuehne et al. (MCN's
evaluation, github.com/brian7685/Multimodal-Clustering-Network).

srt times written with '.' instead of ',' are accepted; a block with several label lines (usually
a missing blank line) is refused with the file and line (`ManifestError`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence

from eao.ingest.readers import Interval, ManifestError, blocks, lines

_SRT_TIME = r"(\d+):([0-5]?\d):([0-5]?\d)(?:[,.](\d+))?"
_SRT_LINE = re.compile(rf"^{_SRT_TIME}\s*-->\s*{_SRT_TIME}$")


def _srt_seconds(h: str, m: str, s: str, frac: str | None) -> float:
    return int(h) * 3600 + int(m) * 60 + int(s) + (float(f"0.{frac}") if frac else 0.0)


def read_srt(path: str) -> list[tuple[str, float, float]]:
    """(label, start s, end s) of each block of an .srt file, in file order.

    Blocks: an optional number, `HH:MM:SS,mmm --> HH:MM:SS,mmm`, exactly one label line. More
    label lines usually mean a missing blank line between two blocks, so they are refused."""
    out = []
    for first, block in blocks(lines(path)):
        i = 0 if "-->" in block[0] else 1
        if i and not block[0].isdigit():
            raise ManifestError(
                f"{path}, line {first}: expected a block number or a time line, got {block[0]!r}"
            )
        if len(block) <= i:
            raise ManifestError(f"{path}, line {first}: truncated block {block[0]} (no time line)")
        where = f"{path}, line {first + i}"
        match = _SRT_LINE.match(block[i])
        if not match:
            raise ManifestError(f"{where}: bad time line {block[i]!r} (HH:MM:SS,mmm --> ...)")
        start, end = _srt_seconds(*match.groups()[:4]), _srt_seconds(*match.groups()[4:])
        if end < start:
            raise ManifestError(f"{where}: bad times, end {end} is before start {start}")
        labels = block[i + 1 :]
        if len(labels) != 1:
            if not labels:
                raise ManifestError(f"{where}: truncated block (no label line)")
            raise ManifestError(
                f"{where}: {len(labels)} label lines, expected 1 (missing blank line between "
                "blocks?)"
            )
        out.append((labels[0], start, end))
    return out


def step_text(label: str) -> str:
    """A MYT label as a text query: `pour_egg_whites` -> `pour egg whites`."""
    return label.replace("_", " ")


def mining_steps(
    segments: Sequence[tuple[str, float, float]], mode: str = "occurrences"
) -> tuple[list[str], list[list[Interval]]]:
    """The step list of one video (docs/benchmarks.md, open choice): step texts and, per step, its
    intervals. "occurrences" (default): one step per srt block in order, a repeated label is a
    new step; "unique": one step per distinct label in first-occurrence order, with all of its
    intervals. No background step either way."""
    if mode == "occurrences":
        return [step_text(lab) for lab, _, _ in segments], [[(s, e)] for _, s, e in segments]
    if mode != "unique":
        raise ValueError(f"mining_steps mode must be 'occurrences' or 'unique', got {mode!r}")
    per_label: dict[str, list[Interval]] = {}
    for label, start, end in segments:
        per_label.setdefault(label, []).append((start, end))
    return [step_text(lab) for lab in per_label], list(per_label.values())


def read_mining_videos(path: str) -> list[str]:
    """videos_test.txt / videos_val.txt: one YouTube id per line (repeats kept once)."""
    ids: dict[str, None] = {}
    for number, line in enumerate(lines(path), start=1):
        vid = line.strip()
        if not vid:
            continue
        if len(vid.split()) != 1:
            raise ManifestError(f"{path}, line {number}: expected one video id, got {vid!r}")
        ids[vid] = None
    return list(ids)


def mining_srt_path(folder: str, video_id: str) -> str:
    return os.path.join(folder, "annotations", f"{video_id}.srt")


def mining_annotations(
    folder: str, videos: Sequence[str] | None = None
) -> dict[str, list[tuple[str, float, float]]]:
    """video id -> srt segments for `videos` (default: videos_test.txt of `folder`); a video
    without annotations/<id>.srt is left out (the evaluation reports it)."""
    if videos is None:
        videos = read_mining_videos(os.path.join(folder, "videos_test.txt"))
    out = {}
    for vid in videos:
        path = mining_srt_path(folder, vid)
        if os.path.isfile(path):
            out[vid] = read_srt(path)
    return out


def mining_youtube_captions(dict_path: str, rows: list[dict]) -> list[dict]:
    """One row per srt block of each video (segment = occurrence index, label '_' -> ' ')."""
    folder = os.path.dirname(os.path.abspath(dict_path))
    captions = []
    for row in rows:
        srt = mining_srt_path(folder, row["video_id"])
        if not os.path.isfile(srt):
            continue
        for k, (label, start, end) in enumerate(read_srt(srt)):
            text = step_text(label)
            captions.append(
                dict(video_id=row["video_id"], segment=k, start_s=start, end_s=end, text=text)
            )
    return captions
