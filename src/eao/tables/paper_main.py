"""The paper's Tables 1–3 ("Everything at Once – Multi-modal Fusion Transformer for Video
Retrieval", CVPR 2022) as data: zero-shot and fine-tuned retrieval, step localization. Its
ablations (Tables 4–6) are in eao.tables.paper_ablations."""

from __future__ import annotations

from eao.tables.schema import (
    LOCALIZATION_SETS,
    MAIN,
    NO_TICKS,
    RETRIEVAL4,
    RETRIEVAL_SETS,
    S3D_W2V,
    Metric,
    Row,
    Table,
    _,
    finetuned,
    localization,
    localization_numbers,
    retrieval_numbers,
    zeroshot,
)

# --- Table 1: zero-shot retrieval ----------------------------------------------------------

TABLE1 = Table(
    "table1_zeroshot_retrieval",
    "Zero-shot text-to-video retrieval on YouCook2 / MSR-VTT",
    "paper Table 1",
    ("Train mod.", "Retrieval", "Train data", "Visual BB"),
    RETRIEVAL_SETS,
    RETRIEVAL4,
    (
        Row(
            "ActBERT",
            ("tv", "t→v", "HT100M", "Res3D+Faster R-CNN"),
            retrieval_numbers((9.6, 26.7, 38.0, 19), (8.6, 23.4, 33.1, 36)),
        ),
        Row(
            "Support Set",
            ("tv", "t→v", "HT100M", "R152+R(2+1)D-34"),
            retrieval_numbers((_, _, _, _), (8.7, 23.0, 31.1, 31)),
        ),
        Row(
            "HT100M",
            ("tv", "t→v", "HT100M", "R152+RX101"),
            retrieval_numbers((6.1, 17.3, 24.8, 46), (7.5, 21.2, 29.6, 38)),
        ),
        Row(
            "NoiseEstim.",
            ("tv", "t→v", "HT100M", "R152+RX101"),
            retrieval_numbers((_, _, _, _), (8.4, 22.0, 30.4, 36)),
        ),
        Row(
            "Ours (tv model, t→v)",
            ("tv", "t→v", "HT100M", "R152+RX101"),
            retrieval_numbers((11.2, 28.5, 39.7, 19), (9.6, 26.1, 36.1, 23)),
            source=zeroshot("tv", "t2v"),
        ),
        Row(
            "Ours (tva model, t→v)",
            ("tva", "t→v", "HT100M", "R152+RX101"),
            retrieval_numbers((10.7, 27.9, 38.9, 19), (10.3, 24.6, 35.3, 25)),
            source=zeroshot(MAIN, "t2v"),
        ),
        Row(
            "MMT",
            ("tva", "t→va", "HT100M", "7 experts"),
            retrieval_numbers((_, _, _, _), (_, 14.4, _, 66)),
        ),
        Row(
            "AVLNet",
            ("tva", "t→v+a", "HT100M", "R152+RX101"),
            retrieval_numbers((19.9, 36.1, 44.3, 16), (8.3, 19.2, 27.4, 47)),
        ),
        Row(
            "MCN",
            ("tva", "t→v+a", "HT100M", "R152+RX101"),
            retrieval_numbers((18.1, 35.5, 45.2, _), (10.5, 25.2, 33.8, _)),
        ),
        Row(
            "Ours (t→va)",
            ("tva", "t→va", "HT100M", "R152+RX101"),
            retrieval_numbers((20.0, 40.7, 51.3, 10), (8.9, 23.8, 31.8, 30)),
            source=zeroshot(MAIN, "t2va"),
        ),
        Row(
            "MMV",
            ("tva", "t→v", "HT100M+AudioSet", "TSM-50x2"),
            retrieval_numbers((11.7, 33.4, 45.4, 13), (9.3, 23.0, 31.1, 38)),
            section="Models with a stronger visual backbone",
        ),
        Row(
            "VATT",
            ("tva", "t→v", "AudioSet", "Transformer"),
            retrieval_numbers((_, _, 45.5, 13), (_, _, 29.7, 49)),
        ),
        Row(
            "MIL-NCE",
            ("tv", "t→v", "HT100M", "S3D"),
            retrieval_numbers((15.1, 38.0, 51.2, 10), (9.9, 24.0, 32.4, 29.5)),
        ),
        Row(
            "Ours (S3D, t→v)",
            ("tva", "t→v", "HT100M", "S3D (MIL-NCE)"),
            retrieval_numbers((19.8, 42.9, 55.1, 8), (9.9, 24.0, 32.6, 28)),
            source=zeroshot("s3d", "t2v", expect=S3D_W2V),
        ),
        Row(
            "Ours (S3D, t→va)",
            ("tva", "t→va", "HT100M", "S3D (MIL-NCE)"),
            retrieval_numbers((24.6, 48.3, 60.4, 6), (9.3, 22.9, 31.2, 35)),
            source=zeroshot("s3d", "t2va", expect=S3D_W2V),
        ),
        Row(
            "FrozenInTime",
            ("tv", "t→v", "CC+WV+COCO", "Transformer"),
            retrieval_numbers((_, _, _, _), (24.7, 46.9, 57.2, 7)),
        ),
        Row(
            "CLIP4Clip",
            ("tv", "t→v", "WiT+HT100M", "CLIP"),
            retrieval_numbers((_, _, _, _), (32.0, 57.0, 66.9, 4)),
        ),
    ),
    notes=(
        NO_TICKS,
        "Train data as printed, except CLIP4Clip's 'Wt + HT100M' (WiT + HT100M).",
    ),
)

# --- Table 2: fine-tuned retrieval ---------------------------------------------------------

TABLE2 = Table(
    "table2_finetuned_retrieval",
    "Text-to-video retrieval on YouCook2 / MSR-VTT after fine-tuning",
    "paper Table 2",
    ("Train mod.", "Retrieval", "Visual BB"),
    RETRIEVAL_SETS,
    RETRIEVAL4,
    (
        Row(
            "ActBERT",
            ("tv", "t→v", "Res3D+Faster R-CNN"),
            retrieval_numbers((_, _, _, _), (16.3, 42.8, 56.9, 10)),
        ),
        Row(
            "HT100M",
            ("tv", "t→v", "R152+RX101"),
            retrieval_numbers((8.2, 24.5, 35.3, 24), (14.9, 40.2, 52.8, 9)),
        ),
        Row(
            "NoiseEstim.",
            ("tv", "t→v", "R152+RX101"),
            retrieval_numbers((_, _, _, _), (17.4, 41.6, 53.6, 8)),
        ),
        Row(
            "Ours (tv model, t→v)",
            ("tv", "t→v", "R152+RX101"),
            retrieval_numbers((13.7, 35.3, 48.4, 12), (21.0, 49.3, 60.1, 5)),
            source=finetuned("tv", "t2v"),
        ),
        Row(
            "Ours (tva model, t→v)",
            ("tva", "t→v", "R152+RX101"),
            retrieval_numbers((12.7, 33.9, 45.8, 13), (20.4, 47.7, 59.3, 6)),
            source=finetuned(MAIN, "t2v"),
        ),
        Row(
            "AVLNet",
            ("tva", "t→v+a", "R152+RX101"),
            retrieval_numbers((30.2, 55.5, 66.5, 4), (22.5, 50.5, 64.1, 5)),
        ),
        Row(
            "MCN",
            ("tva", "t→v+a", "R152+RX101"),
            retrieval_numbers((28.2, 53.0, 63.7, 5), (_, _, _, _)),
        ),
        Row(
            "Ours (t→va)",
            ("tva", "t→va", "R152+RX101"),
            retrieval_numbers((32.1, 59.1, 70.9, 3), (23.7, 52.1, 63.7, 4)),
            source=finetuned(MAIN, "t2va"),
        ),
    ),
    notes=(NO_TICKS, "Pre-training dataset: HT100M for every row."),
)

# --- Table 3: zero-shot step localization --------------------------------------------------

TABLE3 = Table(
    "table3_step_localization",
    "Zero-shot step localization (recall) on CrossTask / Mining YouTube",
    "paper Table 3",
    ("Tr. mod.", "Tr. BB v", "Visual BB"),
    LOCALIZATION_SETS,
    (Metric("recall", "Recall"), Metric("recall_per_video", "Recall (per-video mean)")),
    (
        Row(
            "CrossTask (fully supervised)",
            ("tv", "", "R152+I3D"),
            localization_numbers((31.6, _), (_, _)),
        ),
        Row(
            "HT100M",
            ("tv", "", "R152+RX101"),
            localization_numbers((33.6, _), (15.0, _)),
        ),
        Row(
            "MIL-NCE (I3D)",
            ("tv", "✓", "I3D"),
            localization_numbers((36.4, _), (_, _)),
        ),
        Row(
            "MCN",
            ("tva", "", "R152+RX101"),
            localization_numbers((35.1, _), (18.1, _)),
        ),
        Row(
            "Ours",
            ("tva", "", "R152+RX101"),
            localization_numbers((39.3, _), (19.4, _)),
            source=localization(MAIN),
        ),
        Row(
            "MIL-NCE (S3D)",
            ("tv", "✓", "S3D"),
            localization_numbers((40.5, _), (_, _)),
            section="Models with a stronger visual backbone",
        ),
        Row(
            "ActBERT",
            ("tv", "", "Res3D+Faster R-CNN"),
            localization_numbers((41.4, _), (_, _)),
        ),
        Row(
            "UniVL",
            ("tv", "✓", "S3D (MIL-NCE)"),
            localization_numbers((42.0, _), (_, _)),
        ),
        Row(
            "Ours (S3D)",
            ("tva", "", "S3D (MIL-NCE)"),
            localization_numbers((41.1, _), (19.7, _)),
            source=localization("s3d", expect=S3D_W2V),
        ),
    ),
    notes=(
        "The paper prints one recall per dataset without naming its aggregation; the "
        "'per-video mean' column (MCN's eval_cross.py) is ours only, for comparison.",
        "Row 'CrossTask' is printed as 'CrossTask [58]': CrossTask's fully supervised baseline "
        "(its recall 31.6 matches supplement Table 3).",
    ),
)
