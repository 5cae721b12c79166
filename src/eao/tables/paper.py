"""The paper's and supplement's tables as data, and where our number for each ★ row comes from.

Numbers are typed from shared/paper/ (the text of the CVPR 2022 paper and its supplement) and
checked against specs/benchmarks.md section 4; R@K and recall in percent, None = not reported
("-" in the paper). The text version carries no page numbers, so a table's `source` names the
table only. The "Trainable BB (t, v, a)" tick columns of Tables 1 and 2 are left out: their
alignment is lost in the text version (benchmarks.md 4), and EAO trains only its audio CNN.

A ★ row ("Ours") either has a `source` (which of our result files and keys fills it) or a
`cannot` reason: a fixed sentence saying why this pipeline has no such number.
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

# --- Table 1: zero-shot retrieval ----------------------------------------------------------

TABLE1 = Table(
    "table1_zeroshot_retrieval",
    "Zero-shot text-to-video retrieval on YouCook2 / MSR-VTT",
    "paper Table 1",
    ("Train mod.", "Retrieval", "Train data", "Visual BB"),
    RETRIEVAL_SETS,
    RETRIEVAL4,
    (
        Row("ActBERT", ("tv", "t→v", "HT100M", "Res3D+Faster R-CNN"),
            yc_msr((9.6, 26.7, 38.0, 19), (8.6, 23.4, 33.1, 36))),
        Row("Support Set", ("tv", "t→v", "HT100M", "R152+R(2+1)D-34"),
            yc_msr((_, _, _, _), (8.7, 23.0, 31.1, 31))),
        Row("HT100M", ("tv", "t→v", "HT100M", "R152+RX101"),
            yc_msr((6.1, 17.3, 24.8, 46), (7.5, 21.2, 29.6, 38))),
        Row("NoiseEstim.", ("tv", "t→v", "HT100M", "R152+RX101"),
            yc_msr((_, _, _, _), (8.4, 22.0, 30.4, 36))),
        Row("Ours (tv model, t→v)", ("tv", "t→v", "HT100M", "R152+RX101"),
            yc_msr((11.2, 28.5, 39.7, 19), (9.6, 26.1, 36.1, 23)), source=zs("tv", "t2v")),
        Row("Ours (tva model, t→v)", ("tva", "t→v", "HT100M", "R152+RX101"),
            yc_msr((10.7, 27.9, 38.9, 19), (10.3, 24.6, 35.3, 25)), source=zs("main", "t2v")),
        Row("MMT", ("tva", "t→va", "HT100M", "7 experts"),
            yc_msr((_, _, _, _), (_, 14.4, _, 66))),
        Row("AVLNet", ("tva", "t→v+a", "HT100M", "R152+RX101"),
            yc_msr((19.9, 36.1, 44.3, 16), (8.3, 19.2, 27.4, 47))),
        Row("MCN", ("tva", "t→v+a", "HT100M", "R152+RX101"),
            yc_msr((18.1, 35.5, 45.2, _), (10.5, 25.2, 33.8, _))),
        Row("Ours (t→va)", ("tva", "t→va", "HT100M", "R152+RX101"),
            yc_msr((20.0, 40.7, 51.3, 10), (8.9, 23.8, 31.8, 30)), source=zs("main", "t2va")),
        Row("MMV", ("tva", "t→v", "HT100M+AudioSet", "TSM-50x2"),
            yc_msr((11.7, 33.4, 45.4, 13), (9.3, 23.0, 31.1, 38)),
            section="Models with a stronger visual backbone"),
        Row("VATT", ("tva", "t→v", "AudioSet", "Transformer"),
            yc_msr((_, _, 45.5, 13), (_, _, 29.7, 49))),
        Row("MIL-NCE", ("tv", "t→v", "HT100M", "S3D"),
            yc_msr((15.1, 38.0, 51.2, 10), (9.9, 24.0, 32.4, 29.5))),
        Row("Ours (S3D, t→v)", ("tva", "t→v", "HT100M", "S3D (MIL-NCE)"),
            yc_msr((19.8, 42.9, 55.1, 8), (9.9, 24.0, 32.6, 28)),
            source=zs("s3d", "t2v", expect=S3D_W2V)),
        Row("Ours (S3D, t→va)", ("tva", "t→va", "HT100M", "S3D (MIL-NCE)"),
            yc_msr((24.6, 48.3, 60.4, 6), (9.3, 22.9, 31.2, 35)),
            source=zs("s3d", "t2va", expect=S3D_W2V)),
        Row("FrozenInTime", ("tv", "t→v", "CC+WV+COCO", "Transformer"),
            yc_msr((_, _, _, _), (24.7, 46.9, 57.2, 7))),
        Row("CLIP4Clip", ("tv", "t→v", "WiT+HT100M", "CLIP"),
            yc_msr((_, _, _, _), (32.0, 57.0, 66.9, 4))),
    ),
    notes=(
        NO_TICKS,
        "Train data as printed, except CLIP4Clip's 'Wt + HT100M' (WiT + HT100M).",
    ),
)  # fmt: skip

# --- Table 2: fine-tuned retrieval ---------------------------------------------------------

TABLE2 = Table(
    "table2_finetuned_retrieval",
    "Text-to-video retrieval on YouCook2 / MSR-VTT after fine-tuning",
    "paper Table 2",
    ("Train mod.", "Retrieval", "Visual BB"),
    RETRIEVAL_SETS,
    RETRIEVAL4,
    (
        Row("ActBERT", ("tv", "t→v", "Res3D+Faster R-CNN"),
            yc_msr((_, _, _, _), (16.3, 42.8, 56.9, 10))),
        Row("HT100M", ("tv", "t→v", "R152+RX101"),
            yc_msr((8.2, 24.5, 35.3, 24), (14.9, 40.2, 52.8, 9))),
        Row("NoiseEstim.", ("tv", "t→v", "R152+RX101"),
            yc_msr((_, _, _, _), (17.4, 41.6, 53.6, 8))),
        Row("Ours (tv model, t→v)", ("tv", "t→v", "R152+RX101"),
            yc_msr((13.7, 35.3, 48.4, 12), (21.0, 49.3, 60.1, 5)), source=ft("tv", "t2v")),
        Row("Ours (tva model, t→v)", ("tva", "t→v", "R152+RX101"),
            yc_msr((12.7, 33.9, 45.8, 13), (20.4, 47.7, 59.3, 6)), source=ft("main", "t2v")),
        Row("AVLNet", ("tva", "t→v+a", "R152+RX101"),
            yc_msr((30.2, 55.5, 66.5, 4), (22.5, 50.5, 64.1, 5))),
        Row("MCN", ("tva", "t→v+a", "R152+RX101"),
            yc_msr((28.2, 53.0, 63.7, 5), (_, _, _, _))),
        Row("Ours (t→va)", ("tva", "t→va", "R152+RX101"),
            yc_msr((32.1, 59.1, 70.9, 3), (23.7, 52.1, 63.7, 4)), source=ft("main", "t2va")),
    ),
    notes=(NO_TICKS, "Pre-training dataset: HT100M for every row."),
)  # fmt: skip

# --- Table 3: zero-shot step localization --------------------------------------------------

TABLE3 = Table(
    "table3_step_localization",
    "Zero-shot step localization (recall) on CrossTask / Mining YouTube",
    "paper Table 3",
    ("Tr. mod.", "Tr. BB v", "Visual BB"),
    LOCALIZATION_SETS,
    (Metric("recall", "Recall"), Metric("recall_per_video", "Recall (per-video mean)")),
    (
        Row("CrossTask (fully supervised)", ("tv", "", "R152+I3D"),
            {"crosstask": (31.6, _), "mining_youtube": (_, _)}),
        Row("HT100M", ("tv", "", "R152+RX101"),
            {"crosstask": (33.6, _), "mining_youtube": (15.0, _)}),
        Row("MIL-NCE (I3D)", ("tv", "✓", "I3D"),
            {"crosstask": (36.4, _), "mining_youtube": (_, _)}),
        Row("MCN", ("tva", "", "R152+RX101"),
            {"crosstask": (35.1, _), "mining_youtube": (18.1, _)}),
        Row("Ours", ("tva", "", "R152+RX101"),
            {"crosstask": (39.3, _), "mining_youtube": (19.4, _)},
            source=Source("localization", "main", expect=R152_RX101_W2V)),
        Row("MIL-NCE (S3D)", ("tv", "✓", "S3D"), {"crosstask": (40.5, _), "mining_youtube": (_, _)},
            section="Models with a stronger visual backbone"),
        Row("ActBERT", ("tv", "", "Res3D+Faster R-CNN"),
            {"crosstask": (41.4, _), "mining_youtube": (_, _)}),
        Row("UniVL", ("tv", "✓", "S3D (MIL-NCE)"),
            {"crosstask": (42.0, _), "mining_youtube": (_, _)}),
        Row("Ours (S3D)", ("tva", "", "S3D (MIL-NCE)"),
            {"crosstask": (41.1, _), "mining_youtube": (19.7, _)},
            source=Source("localization", "s3d", expect=S3D_W2V)),
    ),
    notes=(
        "The paper prints one recall per dataset without naming its aggregation; the "
        "'per-video mean' column (MCN's eval_cross.py) is ours only, for comparison.",
        "Row 'CrossTask' is printed as 'CrossTask [58]': CrossTask's fully supervised baseline "
        "(its recall 31.6 matches supplement Table 3).",
    ),
)  # fmt: skip

# --- Tables 4-6: ablations (zero-shot, t→va unless the row says otherwise) ------------------

TABLE4 = ablation(
    "table4_components",
    "Contribution of the fusion transformer and the combinatorial loss",
    "paper Table 4",
    (
        Row("1) no transformers", ("t→v+a",), yc_msr((32.7, 41.4), (24.1, 33.7)),
            source=zs("no_transformer", "t2v+a")),
        Row("2) single-mod. transformer per mod.", ("t→v+a",),
            yc_msr((39.9, 50.7), (25.3, 33.9)), source=zs("per_modality", "t2v+a")),
        Row("3) fusion transformer", ("t→v+a",), yc_msr((39.5, 50.2), (23.8, 32.7)),
            source=zs("no_comb", "t2v+a")),
        Row("4) fusion transformer", ("t→va",), yc_msr((36.6, 47.0), (22.6, 32.1)),
            source=zs("no_comb", "t2va")),
        Row("5) fusion transf. + comb. loss", ("t→v+a",), yc_msr((38.2, 49.2), (23.3, 33.2)),
            source=zs("main", "t2v+a")),
        Row("6) fusion transf. + comb. loss (ours)", ("t→va",),
            yc_msr((40.7, 51.3), (23.8, 31.8)), source=zs("main", "t2va")),
    ),
    fields=("Retrieval",),
)  # fmt: skip

TABLE5 = ablation(
    "table5_token_aggregation",
    "Token aggregation ([cls] token) and final projection",
    "paper Table 5",
    (
        Row("ours", (), yc_msr((40.7, 51.3), (23.8, 31.8)), source=zs("main", "t2va")),
        Row("ours + shared final proj.", (), yc_msr((37.2, 48.7), (23.1, 29.4)),
            source=zs("shared_proj", "t2va")),
        Row("ours + [cls] token + shared final proj.", (), yc_msr((35.9, 46.9), (21.4, 28.8)),
            source=zs("cls_token", "t2va")),
    ),
)  # fmt: skip

TABLE6 = ablation(
    "table6_long_videos",
    "Strategies for long videos and positional embeddings",
    "paper Table 6",
    (
        Row("positional emb. + uniform sampling", (), yc_msr((32.7, 43.4), (21.8, 29.1)),
            source=zs("pos_emb", "t2va", "uniform")),
        Row("positional emb. + max pooling", (), yc_msr((33.2, 43.9), (21.6, 30.5)),
            source=zs("pos_emb", "t2va", "max_pool")),
        Row("positional emb. + averaging over clips", (), yc_msr((35.6, 46.9), (23.0, 29.2)),
            source=zs("pos_emb", "t2va", "clips")),
        Row("no positional emb. + uniform sampling", (), yc_msr((34.5, 45.1), (22.1, 30.2)),
            source=zs("main", "t2va", "uniform")),
        Row("no positional emb. + max pooling", (), yc_msr((34.8, 45.2), (23.0, 31.8)),
            source=zs("main", "t2va", "max_pool")),
        Row("no positional emb. + averaging over clips", (), yc_msr((36.9, 47.9), (22.7, 31.3)),
            source=zs("main", "t2va", "clips")),
        Row("no positional emb. + video at once", (), yc_msr((40.7, 51.3), (23.8, 31.8)),
            source=zs("main", "t2va", "at_once")),
    ),
    notes=("The paper prints 'max polling'; read as max pooling.",),
)  # fmt: skip

# --- Supplement ----------------------------------------------------------------------------

SUPP1 = Table(
    "supp_table1_clip_backbones",
    "Retrieval (t→va) with CLIP backbones, zero-shot and fine-tuned",
    "supplement Table 1",
    ("Visual BB", "Text BB", "FT"),
    RETRIEVAL_SETS,
    RETRIEVAL2,
    (
        Row("Ours (R152+RX101, word2vec)", ("R152+RX101", "word2vec", ""),
            yc_msr((40.7, 51.3), (23.8, 31.8)),
            source=zs("main", "t2va")),
        Row("Ours (CLIP, word2vec)", ("CLIP", "word2vec", ""), yc_msr((42.7, 54.0), (29.0, 38.7)),
            source=zs("clip_w2v", "t2va", expect=CLIP_W2V)),
        Row("Ours (CLIP, CLIP)", ("CLIP", "CLIP", ""), yc_msr((42.6, 54.3), (32.5, 42.4)),
            source=zs("clip_clip", "t2va", expect=CLIP_CLIP)),
        Row("CLIP4Clip", ("CLIP", "CLIP", ""), yc_msr((_, _), (57.0, 66.9))),
        Row("Ours FT (R152+RX101, word2vec)", ("R152+RX101", "word2vec", "✓"),
            yc_msr((59.1, 70.9), (52.1, 63.7)),
            source=ft("main", "t2va")),
        Row("Ours FT (CLIP, word2vec)", ("CLIP", "word2vec", "✓"),
            yc_msr((62.1, 72.6), (60.7, 72.7)),
            source=ft("clip_w2v", "t2va", expect=CLIP_W2V)),
        Row("Ours FT (CLIP, CLIP)", ("CLIP", "CLIP", "✓"), yc_msr((62.1, 72.9), (62.7, 75.0)),
            source=ft("clip_clip", "t2va", expect=CLIP_CLIP)),
        Row("CLIP4Clip FT", ("CLIP", "CLIP", "✓"), yc_msr((_, _), (70.7, 80.5))),
    ),
    notes=("Paper CLIP model: ViT-B/32, one 512-d feature per second / per word.",),
)  # fmt: skip

SUPP2 = Table(
    "supp_table2_segmentation",
    "Zero-shot action segmentation: Recall / IoD / IoU (R152+RX101)",
    "supplement Table 2",
    (),
    LOCALIZATION_SETS,
    (Metric("recall", "Recall"), Metric("IoD", "IoD"), Metric("IoU", "IoU")),
    (
        Row("Mining YouTube", (), {"crosstask": (_, _, _), "mining_youtube": (_, 19.2, 9.8)}),
        Row("MCN", (), {"crosstask": (35.1, 33.6, 22.2), "mining_youtube": (18.1, 32.0, 23.1)}),
        Row("Ours", (), {"crosstask": (39.3, 32.5, 18.5), "mining_youtube": (19.4, 32.7, 23.1)},
            source=Source("localization", "main", expect=R152_RX101_W2V)),
    ),
)  # fmt: skip

# The 18 primary CrossTask tasks in the supplement's column order (task-id string order,
# benchmarks.md 2.1) with the supplement's column headers.
CROSSTASK_TASKS: tuple[tuple[str, str], ...] = (
    ("105222", "Make Kimchi Rice"),
    ("105253", "Pickle Cucumber"),
    ("109972", "Make Banana Ice Cream"),
    ("113766", "Grill Steak"),
    ("16815", "Jack Up Car"),
    ("23521", "Make Jello Shots"),
    ("40567", "Change Tire"),
    ("44047", "Make Lemonade"),
    ("44789", "Add Oil to Car"),
    ("53193", "Make Latte"),
    ("59684", "Build Shelves"),
    ("71781", "Make Taco Salad"),
    ("76400", "Make French Toast"),
    ("77721", "Make Irish Coffee"),
    ("87706", "Make Strawberry Cake"),
    ("91515", "Make Pancakes"),
    ("94276", "Make Meringue"),
    ("95603", "Make Fish Curry"),
)
AVERAGE = "average"

SUPP3 = Table(
    "supp_table3_crosstask_per_task",
    "CrossTask step localization recall per task",
    "supplement Table 3",
    (),
    (("crosstask", "CrossTask"),),
    tuple(Metric(tid, title) for tid, title in CROSSTASK_TASKS) + (Metric(AVERAGE, "Average"),),
    (
        Row("Fully-supervised baseline", (), {"crosstask": (
            19.1, 25.3, 38.0, 37.5, 25.7, 28.2, 54.3, 25.8, 18.3, 31.2, 47.7, 12.0, 39.5, 23.4,
            30.9, 41.1, 53.4, 17.3, 31.6)}),
        Row("CrossTask (weakly sup.)", (), {"crosstask": (
            13.3, 18.0, 23.4, 23.1, 16.9, 16.5, 30.7, 21.6, 4.6, 19.5, 35.3, 10.0, 32.3, 13.8,
            29.5, 37.6, 43.0, 13.3, 22.4)}),
        Row("HT100M", (), {"crosstask": (
            33.5, 27.1, 36.6, 37.9, 24.1, 35.6, 32.7, 35.1, 30.7, 28.5, 43.2, 19.8, 34.7, 33.6,
            40.4, 41.6, 41.9, 27.4, 33.6)}),
        Row("MCN", (), {"crosstask": (
            25.5, 31.1, 39.7, 32.7, 35.4, 36.8, 29.0, 40.0, 28.4, 33.8, 45.7, 27.5, 36.1, 34.9,
            39.6, 42.6, 43.0, 29.1, 35.1)}),
        Row("Ours", (), {"crosstask": (
            30.5, 41.2, 46.5, 46.6, 38.9, 32.0, 19.5, 48.9, 25.8, 33.6, 44.7, 29.1, 40.7, 36.9,
            50.7, 44.1, 63.1, 33.6, 39.2)},
            source=Source("localization", "main", expect=R152_RX101_W2V)),
    ),
    notes=(
        "Columns are the 18 primary task ids in id-string order (benchmarks.md 2.1); the "
        "paper's average 39.2 is the unweighted task mean (Table 3 prints 39.3).",
    ),
)  # fmt: skip

SUPP4 = ablation(
    "supp_table4_fusion_size",
    "Fusion transformer size: blocks, heads, hidden size, batch",
    "supplement Table 4",
    (
        Row("1 block, 64 heads", ("1", "64", "4096", "224×10"),
            yc_msr((40.7, 51.3), (23.8, 31.8)), source=zs("main", "t2va")),
        Row("2 blocks, 64 heads, 224×5", ("2", "64", "4096", "224×5"),
            yc_msr((37.3, 47.6), (23.2, 32.5)), source=zs("s4_2blocks_224x5", "t2va")),
        Row("2 blocks, 64 heads, 112×10", ("2", "64", "4096", "112×10"),
            yc_msr((38.6, 49.8), (20.8, 28.6)), source=zs("s4_2blocks_112x10", "t2va")),
        Row("2 blocks, 32 heads", ("2", "32", "2048", "224×10"),
            yc_msr((38.1, 49.1), (22.6, 30.9)), source=zs("s4_2blocks_32heads", "t2va")),
        Row("4 blocks, 16 heads", ("4", "16", "1024", "224×10"),
            yc_msr((35.4, 46.8), (23.7, 31.7)), source=zs("s4_4blocks_16heads", "t2va")),
    ),
    fields=("#blocks", "#heads", "hidden s.", "batch"),
    notes=("Batch x×y: x videos, y clips sampled per video.",),
)  # fmt: skip

SUPP5 = ablation(
    "supp_table5_text_audio",
    "Text-audio disentangling and loss weighting",
    "supplement Table 5",
    (
        Row("aligned text-audio", (), yc_msr((37.8, 47.2), (14.0, 20.0)),
            source=zs("aligned_text_audio", "t2va")),
        Row("disentangled text-audio", (), yc_msr((37.2, 45.7), (17.9, 25.0)),
            source=zs("no_loss_weighting", "t2va")),
        Row("disentangled text-audio + loss weighting", (), yc_msr((40.7, 51.3), (23.8, 31.8)),
            source=zs("main", "t2va")),
    ),
    notes=("Loss weighting: λ_tv = 1, every other pair 0.1 (the paper's main model).",),
)  # fmt: skip

SUPP6 = ablation(
    "supp_table6_rope",
    "Rotary position embedding (RoPE)",
    "supplement Table 6",
    (
        Row("RoPE", (), yc_msr((40.4, 51.2), (23.1, 31.6)), source=zs("rope", "t2va")),
        Row("no positional emb.", (), yc_msr((40.7, 51.3), (23.8, 31.8)),
            source=zs("main", "t2va")),
    ),
)  # fmt: skip

TABLES: tuple[Table, ...] = (
    TABLE1, TABLE2, TABLE3, TABLE4, TABLE5, TABLE6,
    SUPP1, SUPP2, SUPP3, SUPP4, SUPP5, SUPP6,
)  # fmt: skip


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


for _table in TABLES:
    check(_table)
