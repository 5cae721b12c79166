"""YouCook2's files: youcookii_annotations_trainval.json (its subsets, and its step sentences as
captions) and MIL-NCE's validation_youcook.csv (the 3,350 validation clips of the zero-shot
protocol; github.com/antoine77340/MIL-NCE_HowTo100M).
"""

from __future__ import annotations

from eao.ingest.readers import ManifestError, header_rows, load_json, times


def read_youcook2_val_clips(path: str) -> list[dict]:
    """MIL-NCE validation_youcook.csv (columns end,start,task,text,video_id in any order by
    the header; task optional): one dict per clip with video_id, start, end (s), task, text."""
    clips = []
    for line, rec in header_rows(path, ("video_id", "start", "end", "text"), ("task",)):
        where = f"{path}, line {line}"
        if not rec["video_id"]:
            raise ManifestError(f"{where}: empty video_id")
        start, end = times(rec["start"], rec["end"], where)
        clips.append(
            {
                "video_id": rec["video_id"],
                "start": start,
                "end": end,
                "task": rec.get("task"),
                "text": rec["text"],
            }
        )
    return clips


def youcook2_splits(annotation_json: str) -> dict[str, str]:
    """video id -> `subset` (training / validation) of youcookii_annotations_trainval.json."""
    data = load_json(annotation_json)
    try:
        return {vid: str(entry["subset"]) for vid, entry in data["database"].items()}
    except (KeyError, TypeError, AttributeError) as e:
        raise ManifestError(
            f"{annotation_json}: not a YouCook2 annotation file ({e!r} missing)"
        ) from None


def youcook2_as_howto(data: dict, json_path: str) -> dict:
    """youcookii_annotations_trainval.json -> {video: {start, end, text}} (one per annotation)."""
    try:
        database = data["database"]
        return {
            vid: {
                "start": [a["segment"][0] for a in e["annotations"]],
                "end": [a["segment"][1] for a in e["annotations"]],
                "text": [a["sentence"] for a in e["annotations"]],
            }
            for vid, e in database.items()
        }
    except (KeyError, TypeError, IndexError) as e:
        raise ManifestError(
            f"{json_path}: not a YouCook2 annotation file ({e!r} missing)"
        ) from None
