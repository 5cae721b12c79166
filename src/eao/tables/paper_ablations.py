"""The paper's ablations, Tables 4–6 ("Everything at Once – Multi-modal Fusion Transformer for
Video Retrieval", CVPR 2022), as data: zero-shot, t→va unless the row says otherwise."""

from __future__ import annotations

from eao.tables.schema import MAIN, Row, ablation, retrieval_numbers, zeroshot

# --- Table 4: the fusion transformer and the combinatorial loss ----------------------------

TABLE4 = ablation(
    "table4_components",
    "Contribution of the fusion transformer and the combinatorial loss",
    "paper Table 4",
    (
        Row(
            "1) no transformers",
            ("t→v+a",),
            retrieval_numbers((32.7, 41.4), (24.1, 33.7)),
            source=zeroshot("no_transformer", "t2v+a"),
        ),
        Row(
            "2) single-mod. transformer per mod.",
            ("t→v+a",),
            retrieval_numbers((39.9, 50.7), (25.3, 33.9)),
            source=zeroshot("per_modality", "t2v+a"),
        ),
        Row(
            "3) fusion transformer",
            ("t→v+a",),
            retrieval_numbers((39.5, 50.2), (23.8, 32.7)),
            source=zeroshot("no_comb", "t2v+a"),
        ),
        Row(
            "4) fusion transformer",
            ("t→va",),
            retrieval_numbers((36.6, 47.0), (22.6, 32.1)),
            source=zeroshot("no_comb", "t2va"),
        ),
        Row(
            "5) fusion transf. + comb. loss",
            ("t→v+a",),
            retrieval_numbers((38.2, 49.2), (23.3, 33.2)),
            source=zeroshot(MAIN, "t2v+a"),
        ),
        Row(
            "6) fusion transf. + comb. loss (ours)",
            ("t→va",),
            retrieval_numbers((40.7, 51.3), (23.8, 31.8)),
            source=zeroshot(MAIN, "t2va"),
        ),
    ),
    fields=("Retrieval",),
)

# --- Table 5: token aggregation ------------------------------------------------------------

TABLE5 = ablation(
    "table5_token_aggregation",
    "Token aggregation ([cls] token) and final projection",
    "paper Table 5",
    (
        Row(
            "ours",
            (),
            retrieval_numbers((40.7, 51.3), (23.8, 31.8)),
            source=zeroshot(MAIN, "t2va"),
        ),
        Row(
            "ours + shared final proj.",
            (),
            retrieval_numbers((37.2, 48.7), (23.1, 29.4)),
            source=zeroshot("shared_proj", "t2va"),
        ),
        Row(
            "ours + [cls] token + shared final proj.",
            (),
            retrieval_numbers((35.9, 46.9), (21.4, 28.8)),
            source=zeroshot("cls_token", "t2va"),
        ),
    ),
)

# --- Table 6: long videos ------------------------------------------------------------------

TABLE6 = ablation(
    "table6_long_videos",
    "Strategies for long videos and positional embeddings",
    "paper Table 6",
    (
        Row(
            "positional emb. + uniform sampling",
            (),
            retrieval_numbers((32.7, 43.4), (21.8, 29.1)),
            source=zeroshot("pos_emb", "t2va", "uniform"),
        ),
        Row(
            "positional emb. + max pooling",
            (),
            retrieval_numbers((33.2, 43.9), (21.6, 30.5)),
            source=zeroshot("pos_emb", "t2va", "max_pool"),
        ),
        Row(
            "positional emb. + averaging over clips",
            (),
            retrieval_numbers((35.6, 46.9), (23.0, 29.2)),
            source=zeroshot("pos_emb", "t2va", "clips"),
        ),
        Row(
            "no positional emb. + uniform sampling",
            (),
            retrieval_numbers((34.5, 45.1), (22.1, 30.2)),
            source=zeroshot(MAIN, "t2va", "uniform"),
        ),
        Row(
            "no positional emb. + max pooling",
            (),
            retrieval_numbers((34.8, 45.2), (23.0, 31.8)),
            source=zeroshot(MAIN, "t2va", "max_pool"),
        ),
        Row(
            "no positional emb. + averaging over clips",
            (),
            retrieval_numbers((36.9, 47.9), (22.7, 31.3)),
            source=zeroshot(MAIN, "t2va", "clips"),
        ),
        Row(
            "no positional emb. + video at once",
            (),
            retrieval_numbers((40.7, 51.3), (23.8, 31.8)),
            source=zeroshot(MAIN, "t2va"),
        ),
    ),
    notes=("The paper prints 'max polling'; read as max pooling.",),
)
