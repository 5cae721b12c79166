"""The notes under each table: what its ★ numbers are and where they come from.

Said once per table: where the paper's numbers are printed, how to read a cell, the backbones
and weights of our results (a warning when any are RANDOM), a backbone the paper did not use,
where our result files are, the evaluation protocol, the settings that change results
(pretraining, localization; never runtime-only ones such as threads or memory) and the table's
own remarks. Then one line per ★ row (eao.tables.row_note): what differs for it (its variant's
overrides, backbones unlike the table's, the clips or videos evaluated) or why it has no number.

Every note's text stays within NOTE_LIMIT characters (eao.tables.note_text): a long list is
wrapped into continuation lines, a too-long row line is cut with '…' (the CSV keeps each cell's
provenance and reason).
"""

from __future__ import annotations

import os

from eao.tables.note_text import clip, settings_items, wrapped
from eao.tables.provenance import imported_sources, random_modalities
from eao.tables.row_note import CommonParts, common_parts, row_note
from eao.tables.schema import MAIN, BuiltRow, BuiltTable, Config, Note, Table

MODALITIES = ("video_2d", "video_3d", "audio", "text")  # pretrain keys naming a backbone
PAPER = (
    "'Everything at Once – Multi-modal Fusion Transformer for Video Retrieval' "
    "(Shvetsova et al., CVPR 2022)"
)
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


def table_notes(table: Table, built: BuiltTable, config: Config) -> list[Note]:
    """The notes in order: how to read the table, what all its results share, one line per ★
    row, the evaluation protocol, our pretraining, the table's own remarks."""
    common = common_parts(built)
    notes = _reading_notes(table, built) + _common_notes(common)
    for built_row in built.rows:
        note = row_note(table, built_row, config, common)
        if note is not None:
            notes.append(note)
    notes += [Note(text) for kind in common.kinds for text in PROTOCOL[kind]]
    notes += _pretraining_notes(config, built, common)
    return notes + [Note(clip(text)) for text in table.notes]


def _reading_notes(table: Table, built: BuiltTable) -> list[Note]:
    """Where the paper's numbers are, how to read a ★ cell, and a warning for random weights."""
    notes = [
        Note(f"Paper numbers: {table.source} of {PAPER}; '-' = not reported."),
        Note(
            "★ rows: paper / ours / chance of our evaluation; '> chance' counts our cells "
            "that beat chance (MedR: below it); n/a = no number of ours, reason below."
        ),
    ]
    loaded = [
        evaluation.data
        for built_row in built.rows
        for evaluation in built_row.evaluations.values()
        if evaluation.data
    ]
    random = sorted({m for data in loaded for m in random_modalities(data.get("provenance"))})
    if random:
        warning = (
            f"WARNING: our numbers come from RANDOM backbone weights ({', '.join(random)}): "
            "they test the pipeline end to end, not the paper's model."
        )
        notes.append(Note(warning, warning=True))
    return notes


def _common_notes(common: CommonParts) -> list[Note]:
    """What every result of the table shares (the row lines leave it out)."""
    backbones = [f"{modality}: {text}" for modality, text in common.backbones.items()]
    notes = wrapped("Our backbones (rows say where theirs differ)", backbones, sep="; ")
    gaps = [f"the paper used {gap}" for gap in sorted(common.gaps)]
    first = "Backbones unlike the paper's (all our numbers here)"
    notes += wrapped("Backbones unlike the paper's", gaps, True, "; ", first)
    result_files = [RESULT_FILES[kind] for kind in common.kinds]
    notes += wrapped("Our result files", result_files, sep="; ")
    return notes + wrapped("Evaluation settings of all our numbers here", list(common.settings))


def _pretraining_notes(config: Config, built: BuiltTable, common: CommonParts) -> list[Note]:
    """What produced `main`'s weights: the pretraining settings that change results (its
    backbones only when the results recorded none: else they are said once above, as the
    results record them), or, for an imported released checkpoint, its file and sha256 (the
    settings then only the other variants', when the table has results of them)."""
    said = set(MODALITIES) if common.backbones else set()
    pretrain = {key: value for key, value in config.pretrain.items() if key not in said}
    imported = _imported_notes(config, built)
    if not imported:
        first = "Our pretraining of main (each variant's row says what it changes)"
        return wrapped("Our pretraining", settings_items(pretrain), first=first)
    if not any(_has_result(r) and r.row.source.variant != MAIN for r in built.rows):
        return imported
    pretrain.pop("checkpoint", None)
    first = "Our pretraining of the other variants (each row says what it changes)"
    return imported + wrapped("Our pretraining", settings_items(pretrain), first=first)


def _has_result(built_row: BuiltRow) -> bool:
    """Whether a ★ row has a number of ours (a result with data)."""
    evaluations = built_row.evaluations.values()
    return built_row.row.source is not None and any(e.data for e in evaluations)


def _imported_notes(config: Config, built: BuiltTable) -> list[Note]:
    """'main: ... the released checkpoint FILE (sha256 HEX) ...' when main's results record an
    imported checkpoint (eao.checkpoints.model_record) or the config imports one (then its
    file, the sha256 unknown until the evaluations record it); none otherwise."""
    sources = imported_sources(built)
    checkpoint = config.pretrain.get("checkpoint")
    if not sources and not checkpoint:
        return []
    if not sources:
        sources = [{"file": os.path.basename(str(checkpoint))}]
    files = [f"{s.get('file', '?')} (sha256 {s.get('sha256') or 'not recorded'})" for s in sources]
    head = "Imported main"
    first = "main is not pretrained here: EAO's released checkpoint, via eao import-checkpoint"
    return wrapped(head, files, sep="; ", first=first)
