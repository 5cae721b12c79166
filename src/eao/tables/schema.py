"""What a paper table is (Metric, Source, Row, Table) and the pieces its tables share.

A table's numbers are typed from the paper "Everything at Once – Multi-modal Fusion Transformer
for Video Retrieval" (Shvetsova et al., CVPR 2022) and its supplementary material; R@K and
recall in percent, None = not reported ("-" in the paper). A ★ row ("Ours") either has a
`source` (which of our result files and keys fills it) or a `cannot` reason: a fixed sentence
saying why this pipeline has no such number.
"""

from __future__ import annotations

from dataclasses import dataclass, field

Numbers = tuple[float | None, ...]


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
    expect: tuple[tuple[str, str], ...] = ()


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


Expect = tuple[tuple[str, str], ...]


def zs(
    variant: str, task: str, strategy: str = "at_once", expect: Expect = R152_RX101_W2V
) -> Source:
    return Source("zeroshot", variant, task, strategy, expect)


def ft(variant: str, task: str, expect: Expect = R152_RX101_W2V) -> Source:
    return Source("finetuned", variant, task, "at_once", expect)


def ablation(name: str, title: str, source: str, rows: tuple[Row, ...], **kw) -> Table:
    """The ablation layout: YouCook2 / MSR-VTT R@5 R@10, zero-shot."""
    return Table(name, title, source, kw.pop("fields", ()), RETRIEVAL_SETS, RETRIEVAL2, rows, **kw)


def yc_msr(yc: Numbers, msr: Numbers) -> dict[str, Numbers]:
    return {"youcook2": yc, "msrvtt": msr}


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
