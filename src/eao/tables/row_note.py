"""One line under a table per ★ row: what it reads, what differs for it (its variant's overrides,
backbones unlike the table's, settings of its own), what it evaluated or why it has no number.

What every result of the table shares (CommonParts) is said once above the row lines, so a row
line leaves it out. A line too long for NOTE_LIMIT first loses its variant's description, then
names the paper's backbones without ours, and is cut with '…' if it still does not fit.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import dataclass, field

from eao.tables.note_text import NOTE_LIMIT, clip, overrides_items, settings_items
from eao.tables.provenance import backbone_diff, backbone_mismatches, row_backbones
from eao.tables.schema import MAIN, BuiltRow, BuiltTable, Config, Evaluation, Note, Source, Table

RESULT_KINDS = ("zeroshot", "finetuned", "localization")  # Source.kind, in the notes' order


@dataclass(frozen=True)
class CommonParts:
    """What a table's ★ rows share, said once in its notes instead of in each row line."""

    kinds: tuple[str, ...] = ()  # the kinds of result its rows read (RESULT_KINDS order)
    backbones: dict[str, str] = field(default_factory=dict)  # modality -> backbone text
    gaps: frozenset[str] = frozenset()  # the paper's backbones unlike ours, in every result
    settings: tuple[str, ...] = ()  # 'key=value' in every result, in the first one's order


def common_parts(built: BuiltTable) -> CommonParts:
    """The kinds of result of the table's ★ rows and, over the rows with a result: backbones
    (those of `main`, or the most common ones), backbone gaps with the paper that every result
    has, settings every result has."""
    sources = [built_row.row.source for built_row in built.rows if built_row.row.source]
    kinds = tuple(kind for kind in RESULT_KINDS if any(s.kind == kind for s in sources))
    rows = [
        built_row
        for built_row in built.rows
        if built_row.row.source is not None
        and any(evaluation.data for evaluation in built_row.evaluations.values())
    ]
    if not rows:
        return CommonParts(kinds)
    mains = [built_row for built_row in rows if built_row.row.source.variant == MAIN]
    seen = Counter(json.dumps(row_backbones(built_row)) for built_row in mains or rows)
    gap_sets = [
        {
            gap
            for data in _loaded(built_row).values()
            for gap in backbone_mismatches(built_row.row.source, data.get("provenance"))
        }
        for built_row in rows
    ]
    setting_lists = [
        settings_items(data.get("settings"))
        for built_row in rows
        for data in _loaded(built_row).values()
    ]
    shared = set.intersection(*map(set, setting_lists))
    return CommonParts(
        kinds,
        backbones=json.loads(seen.most_common(1)[0][0]),
        gaps=frozenset(set.intersection(*gap_sets)),
        settings=tuple(item for item in setting_lists[0] if item in shared),
    )


def _loaded(built_row: BuiltRow) -> dict[str, dict]:
    """dataset -> the data of each of the row's results that has some."""
    return {
        dataset: evaluation.data
        for dataset, evaluation in built_row.evaluations.items()
        if evaluation.data
    }


# --- the parts of a row line ---------------------------------------------------------------


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
    reasons = [evaluation.reason for evaluation in evaluations]
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


@dataclass(frozen=True)
class VariantNote:
    """A ★ row's variant as its line names it: one the config describes (never `main`)."""

    name: str
    about: str  # the config's description of the variant
    changes: tuple[str, ...]  # its overrides, one 'section key=value, ...' item per section
    overridden: frozenset[str]  # the keys its overrides set: their backbones are said already

    @classmethod
    def of(cls, variant: str, config: Config) -> VariantNote | None:
        """The variant's note; None for `main` and a variant the config does not describe."""
        if variant == MAIN or variant not in config.variants:
            return None
        overrides = dict(config.variants[variant])
        about = overrides.pop("description", "")
        overridden = frozenset(
            key for values in overrides.values() if isinstance(values, dict) for key in values
        )
        return cls(variant, about, tuple(overrides_items(overrides)), overridden)

    def text(self, with_about: bool) -> str:
        text = f"variant {self.name}"
        if self.about and with_about:
            text += f" ({self.about})"
        if self.changes:
            text += " = main with " + "; ".join(self.changes)
        return text


@dataclass(frozen=True)
class RowDetails:
    """What a ★ row's line says after its variant, in this order."""

    backbones: str = ""  # 'backbones: ...' where the row's differ from the table's
    gaps: tuple[str, ...] = ()  # the paper's backbones unlike ours that not every result has
    rest: tuple[str, ...] = ()  # its own settings, what it evaluated, what has no number

    def texts(self, short_gaps: bool) -> list[str]:
        """The parts; `short_gaps`: the paper's backbones without ours ('text word2vec' for
        'text word2vec (ours: text_hf)')."""
        texts = [self.backbones] if self.backbones else []
        if self.gaps:
            if short_gaps:
                gaps = ", ".join(gap.split(" (ours:")[0] for gap in self.gaps)
            else:
                gaps = "; ".join(self.gaps)
            texts.append(f"the paper used {gaps}")
        return texts + list(self.rest)


# --- the row line --------------------------------------------------------------------------


def row_note(table: Table, built_row: BuiltRow, config: Config, common: CommonParts) -> Note | None:
    """The ★ row's one line (a warning when its backbones are unlike the paper's); None for a
    row of the paper's only."""
    row = built_row.row
    if row.cannot:
        return Note(clip(f"★ {built_row.key}: no number here: {row.cannot}"))
    if row.source is None:
        return None
    variant = VariantNote.of(row.source.variant, config)
    head = _head(built_row.key, row.source, variant is not None, common.kinds)
    overridden = variant.overridden if variant is not None else frozenset()
    details = _details(dict(table.datasets), built_row, row.source, overridden, common)
    return _fitted(head, variant, details)


def _head(key: str, source: Source, described: bool, kinds: tuple[str, ...]) -> str:
    """'★ <row> (<what it reads>): ', naming only what the rest of the line and the table's notes
    do not: the kind of result when the table has several, the variant unless described."""
    parts = [
        source.kind if len(kinds) > 1 else "",
        "" if described else source.variant,
        source.task,
        source.strategy if source.kind != "localization" and source.strategy != "at_once" else "",
    ]
    what = ", ".join(part for part in parts if part)
    return f"★ {key} ({what}): " if what else f"★ {key}: "


def _details(
    labels: dict[str, str],
    built_row: BuiltRow,
    source: Source,
    overridden: frozenset[str],
    common: CommonParts,
) -> RowDetails:
    """The row's parts after its variant; `labels`: dataset -> its column header."""
    loaded = _loaded(built_row)
    missing = _missing(labels, built_row.evaluations, bool(loaded))
    if not loaded:
        return RowDetails(rest=tuple(missing))
    gaps = {
        gap
        for data in loaded.values()
        for gap in backbone_mismatches(source, data.get("provenance"))
    }
    own_settings = [
        item
        for item in dict.fromkeys(
            item for data in loaded.values() for item in settings_items(data.get("settings"))
        )
        if item not in common.settings
    ]
    rest = [f"settings: {', '.join(own_settings)}"] if own_settings else []
    noun = "clips" if any("clips" in data for data in loaded.values()) else "videos"
    counts = [evaluated(labels[dataset], data) for dataset, data in loaded.items()]
    rest.append(f"{noun}: " + ", ".join(counts))
    backbones = _backbones_unlike_table(built_row, overridden, common)
    return RowDetails(backbones, tuple(sorted(gaps - common.gaps)), tuple(rest + missing))


def _backbones_unlike_table(
    built_row: BuiltRow, overridden: frozenset[str], common: CommonParts
) -> str:
    """'backbones: ...': the row's backbones unlike the table's, but for those its variant's
    overrides set (the variant's text names them)."""
    diff = [
        change
        for change in backbone_diff(row_backbones(built_row), common.backbones)
        if change.removeprefix("no ").split(":")[0] not in overridden
    ]
    return "backbones: " + "; ".join(diff) if diff else ""


def _missing(labels: dict[str, str], evaluations: dict[str, Evaluation], loaded: bool) -> list[str]:
    """What has no number and why: one reason for every dataset when none has a result and
    their reasons agree, a reason per dataset otherwise."""
    missing = {
        dataset: evaluation
        for dataset, evaluation in evaluations.items()
        if evaluation.data is None
    }
    reason = missing_reason(list(missing.values())) if missing and not loaded else ""
    if reason:
        return [f"n/a: {reason}"]
    return [
        f"{labels[dataset]} n/a: {evaluation.reason}" for dataset, evaluation in missing.items()
    ]


def _fitted(head: str, variant: VariantNote | None, details: RowDetails) -> Note:
    """The first line that fits NOTE_LIMIT: whole, then without the variant's description, then
    with the paper's backbones without ours; the last one cut with '…' if none fits."""
    for with_about, short_gaps in ((True, False), (False, False), (False, True)):
        parts = [variant.text(with_about)] if variant is not None else []
        text = head + "; ".join(parts + details.texts(short_gaps))
        if len(text) <= NOTE_LIMIT:
            break
    return Note(clip(text), warning=bool(details.gaps))
