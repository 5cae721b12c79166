"""MSR-VTT's files: MSRVTT_data.json (every caption of a clip, as captions spanning the clip),
MSRVTT_JSFUSION_test.csv (the 1k-A test sentences of JSFusion, Yu et al. 2018) and
MSRVTT_train.7k.csv (the training list of the 7k split).
"""

from __future__ import annotations

import os
import re

from eao.ingest.readers import ManifestError, beside, csv_rows, header_rows


def read_msrvtt_test_list(path: str) -> dict[str, str]:
    """MSRVTT_JSFUSION_test.csv (key,vid_key,video_id,sentence): video id -> test sentence."""
    out: dict[str, str] = {}
    for line, rec in header_rows(path, ("video_id", "sentence")):
        vid = rec["video_id"]
        if not vid:
            raise ManifestError(f"{path}, line {line}: empty video_id")
        if vid in out:
            raise ManifestError(f"{path}, line {line}: video {vid} is listed twice")
        out[vid] = rec["sentence"]
    return out


def read_msrvtt_train_list(path: str) -> list[str]:
    """MSRVTT_train.7k.csv (column video_id): the training video ids, in file order. A list
    without its header line (first cell like `video123`) is read as one id column."""
    rows = csv_rows(path)
    if rows and re.fullmatch(r"video\d+", rows[0][1][0]):
        return list(dict.fromkeys(cells[0] for _, cells in rows))
    return list(dict.fromkeys(rec["video_id"] for _, rec in header_rows(path, ("video_id",))))


def msrvtt_as_howto(
    data: dict, json_path: str, test_sentences: dict[str, str] | None = None
) -> dict:
    """MSRVTT_data.json -> {video: {start, end, text}}: every caption spans the whole clip.

    `test_sentences` (video -> JSFusion sentence): that sentence becomes the video's segment 0."""
    try:
        length = {
            v["video_id"]: float(v["end time"]) - float(v["start time"]) for v in data["videos"]
        }
        out: dict = {}
        for s in sorted(data["sentences"], key=lambda s: s["sen_id"]):
            entry = out.setdefault(s["video_id"], {"start": [], "end": [], "text": []})
            entry["start"].append(0.0)
            entry["end"].append(length.get(s["video_id"], 0.0))
            entry["text"].append(s["caption"])
    except (KeyError, TypeError, ValueError) as e:
        raise ManifestError(f"{json_path}: not an MSR-VTT data file ({e!r} missing)") from None
    for vid, sentence in (test_sentences or {}).items():
        entry = out.setdefault(vid, {"start": [], "end": [], "text": []})
        _sentence_first(entry, sentence, length.get(vid, 0.0))
    return out


def _same_sentence(a: object, b: str) -> bool:
    """Equal up to case and whitespace (`a` may be a non-string caption of a bad file)."""
    return isinstance(a, str) and " ".join(a.split()).lower() == " ".join(b.split()).lower()


def _sentence_first(entry: dict, sentence: str, length: float) -> None:
    """Move `sentence` to the front of a {start, end, text} entry, or insert it there."""
    match = next((i for i, t in enumerate(entry["text"]) if _same_sentence(t, sentence)), None)
    if match is None:
        entry["start"].insert(0, 0.0)
        entry["end"].insert(0, length)
        entry["text"].insert(0, sentence)
        return
    for key in ("start", "end", "text"):
        entry[key].insert(0, entry[key].pop(match))
    entry["text"][0] = sentence


def jsfusion_sentences(json_path: str) -> dict[str, str]:
    """video id -> JSFusion test sentence, from the csv beside MSRVTT_data.json (if there)."""
    test_csv = beside(json_path, "MSRVTT_JSFUSION_test.csv")
    return read_msrvtt_test_list(test_csv) if os.path.isfile(test_csv) else {}
