"""What a paper table is (Metric, Source, Row, Table), the pieces its tables share, and what a
built table is (Config, Cell, Evaluation, BuiltRow, BuiltTable, Note).

The types live here, apart from the modules that fill them (eao.tables.build) and write their
notes (eao.tables.notes), so that those modules import the types and never each other.

A table's numbers are typed from the paper "Everything at Once – Multi-modal Fusion Transformer
for Video Retrieval" (Shvetsova et al., CVPR 2022) and its supplementary material; R@K and
recall in percent, None = not reported ("-" in the paper). A ★ row ("Ours") either has a
`source` (which of our result files and keys fills it) or a `cannot` reason: a fixed sentence
saying why this pipeline has no such number.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

Numbers = tuple[float | None, ...]
Expect = tuple[tuple[str, str], ...]  # (modality prefix, backbone substring) pairs
MAIN = "main"  # the paper's model: the variant every ablation changes


@dataclass(frozen=True)
class Metric:
    key: str  # CSV name: R1, R5, R10, MedR, recall, recall_per_video, IoD, IoU, a task id
    label: str  # column header
    lower_better: bool = False  # MedR: better below chance


@dataclass(frozen=True)
class Source:
    """Which result file and key gives our number for a ★ row.

    kind: "zeroshot" | "finetuned" (retrieval) or "localization". `task` is the retrieval task
    key of the JSON's `metrics` (t2v, t2va, t2v+a); `strategy` the long-video strategy of the
    retrieval file. `expect` lists (modality prefix, backbone substring) pairs the paper's row
    used, so a footnote can say when our provenance differs (e.g. text_hf instead of word2vec).
    """

    kind: str
    variant: str
    task: str = ""
    strategy: str = "at_once"
    expect: Expect = ()


@dataclass(frozen=True)
class Row:
    label: str
    fields: tuple[str, ...] = ()  # descriptive columns, as Table.fields
    paper: dict[str, Numbers] = field(default_factory=dict)  # dataset -> one per metric
    source: Source | None = None
    cannot: str = ""  # a ★ row this pipeline cannot reproduce, and why
    section: str = ""  # a heading the paper prints above this row

    @property
    def star(self) -> bool:
        return self.source is not None or bool(self.cannot)


@dataclass(frozen=True)
class Table:
    name: str  # file stem under results/tables
    title: str
    source: str  # where the paper numbers are printed
    fields: tuple[str, ...]  # descriptive column headers after "Method"
    datasets: tuple[tuple[str, str], ...]  # (config name, header)
    metrics: tuple[Metric, ...]
    rows: tuple[Row, ...]
    notes: tuple[str, ...] = ()


# --- a built table: the paper's numbers and ours -------------------------------------------


@dataclass(frozen=True)
class Config:
    """The part of the workflow config the tables need (see eao.tables.__main__).

    `datasets` None: every benchmark counts as configured; `finetune_variants` None: any
    variant may have fine-tuned results (only the file decides)."""

    datasets: frozenset[str] | None = None
    ablations_run: frozenset[str] = frozenset()
    variants: dict = field(default_factory=dict)
    pretrain: dict = field(default_factory=dict)
    finetune_variants: frozenset[str] | None = None

    @classmethod
    def from_dict(cls, values: dict) -> Config:
        """The config from --config-json's object; ValueError naming a key it does not know."""
        unknown = set(values) - {known.name for known in dataclasses.fields(cls)}
        if unknown:
            raise ValueError(f"unknown config-json keys: {', '.join(sorted(unknown))}")

        def names(key: str) -> frozenset[str] | None:
            return None if values.get(key) is None else frozenset(values[key])

        return cls(
            datasets=names("datasets"),
            ablations_run=frozenset(values.get("ablations_run") or ()),
            variants=dict(values.get("variants") or {}),
            pretrain=dict(values.get("pretrain") or {}),
            finetune_variants=names("finetune_variants"),
        )


@dataclass
class Cell:
    table: str
    row: str
    dataset: str
    metric: str
    paper: float | None
    ours: float | None = None
    chance: float | None = None
    reason: str = ""
    variant: str = ""
    provenance: str = ""
    lower_better: bool = False

    @property
    def above_chance(self) -> bool | None:
        """Whether ours beats chance (below it for MedR); None without both numbers."""
        if self.ours is None or self.chance is None:
            return None
        return self.ours < self.chance if self.lower_better else self.ours > self.chance


@dataclass
class Evaluation:
    """One result file of a ★ row: its data, or why there is none."""

    path: Path
    data: dict | None = None
    reason: str = ""


@dataclass
class BuiltRow:
    row: Row
    key: str  # unique within the table (the CSV's `row`)
    cells: list[Cell]
    evaluations: dict[str, Evaluation] = field(default_factory=dict)

    @property
    def chance_summary(self) -> str:
        """'n/m' cells above chance, '' when no cell has both numbers."""
        flags = [cell.above_chance for cell in self.cells if cell.above_chance is not None]
        return f"{sum(flags)}/{len(flags)}" if flags else ""


@dataclass
class Note:
    text: str
    warning: bool = False  # printed in bold: random weights, a backbone unlike the paper's


@dataclass
class BuiltTable:
    table: Table
    rows: list[BuiltRow]
    notes: list[Note]
    extra: list[Cell] = field(default_factory=list)  # our CrossTask tasks outside the paper's
    task_titles: dict[str, str] = field(default_factory=dict)

    def cells(self) -> list[Cell]:
        return [cell for built_row in self.rows for cell in built_row.cells] + self.extra


# --- shared pieces -------------------------------------------------------------------------

RETRIEVAL4 = (
    Metric("R1", "R@1"),
    Metric("R5", "R@5"),
    Metric("R10", "R@10"),
    Metric("MedR", "MedR", lower_better=True),
)
RETRIEVAL2 = (Metric("R5", "R@5"), Metric("R10", "R@10"))
RETRIEVAL_SETS = (("youcook2", "YouCook2"), ("msrvtt", "MSR-VTT"))
LOCALIZATION_SETS = (("crosstask", "CrossTask"), ("mining_youtube", "MYT"))

# Backbones of the paper's own rows, checked against our provenance.
R152_RX101_W2V = (("video", "resnet152"), ("video", "resnext101"), ("text", "word2vec"))
CLIP_W2V = (("video", "clip"), ("text", "word2vec"))
CLIP_CLIP = (("video", "clip"), ("text", "clip"))
S3D_W2V = (("video", "s3d"), ("text", "word2vec"))
NO_TICKS = (
    "The paper's 'Trainable BB (t, v, a)' tick columns are left out: their alignment is lost "
    "in the text version; EAO trains only its audio CNN (visual and text backbones frozen)."
)


def zeroshot(
    variant: str, task: str, strategy: str = "at_once", expect: Expect = R152_RX101_W2V
) -> Source:
    """A ★ row's zero-shot retrieval result."""
    return Source("zeroshot", variant, task, strategy, expect)


def finetuned(variant: str, task: str, expect: Expect = R152_RX101_W2V) -> Source:
    """A ★ row's retrieval result after fine-tuning (the whole clip at once)."""
    return Source("finetuned", variant, task, "at_once", expect)


def localization(variant: str, expect: Expect = R152_RX101_W2V) -> Source:
    """A ★ row's step localization result."""
    return Source("localization", variant, expect=expect)


def ablation(
    name: str,
    title: str,
    source: str,
    rows: tuple[Row, ...],
    fields: tuple[str, ...] = (),
    notes: tuple[str, ...] = (),
) -> Table:
    """The ablation layout: YouCook2 / MSR-VTT R@5 R@10, zero-shot."""
    return Table(name, title, source, fields, RETRIEVAL_SETS, RETRIEVAL2, rows, notes)


def retrieval_numbers(youcook2: Numbers, msrvtt: Numbers) -> dict[str, Numbers]:
    """A row's paper numbers on the retrieval benchmarks (RETRIEVAL_SETS)."""
    return {"youcook2": youcook2, "msrvtt": msrvtt}


def localization_numbers(crosstask: Numbers, mining_youtube: Numbers) -> dict[str, Numbers]:
    """A row's paper numbers on the localization benchmarks (LOCALIZATION_SETS)."""
    return {"crosstask": crosstask, "mining_youtube": mining_youtube}


_ = None  # "-" in the paper


def check(table: Table) -> None:
    """Unique row labels; one number per metric for each dataset a row lists (typos)."""
    known = {name for name, _ in table.datasets}
    labels = [row.label for row in table.rows]
    if len(set(labels)) != len(labels):
        raise ValueError(f"{table.name}: row labels must be unique (they key the CSV)")
    for row in table.rows:
        if len(row.fields) != len(table.fields):
            raise ValueError(f"{table.name}: row {row.label!r} has {len(row.fields)} fields")
        for dataset, values in row.paper.items():
            if dataset not in known or len(values) != len(table.metrics):
                raise ValueError(f"{table.name}: row {row.label!r} {dataset}: bad numbers")
